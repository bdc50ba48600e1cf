"""All reading and writing of storage: landing zone, warehouse, staging, quarantine.

Every path is a URL handled by fsspec, so a plain path, ``file://`` and ``s3://``
behave the same. Every object is replaced whole: ``os.replace`` of a temporary file
on a local disk, a single object PUT (or server-side copy) on S3, where no rename
exists. How a day is published from such objects is ``commit``'s business.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import posixpath
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipeline import relpath_problem

log = logging.getLogger(__name__)

PART_FILE = "part-0.parquet"
READ_ATTEMPTS = 3  # a transient storage error (timeout, connection reset) is retried this many times in all
RETRY_DELAY_S = 0.5  # doubled after each failed attempt
T = TypeVar("T")


class StorageError(OSError):
    """The storage system failed (not the input): the task must fail so it is retried, never quarantine."""


class MissingLandingError(FileNotFoundError):
    """The landing root or the day's folder does not exist: a wrong setting, not an empty day."""


def retrying(what: str, fn: Callable[[], T], attempts: int | None = None) -> T:
    """Run one storage read, retrying transient failures with backoff.

    A missing file is not transient and is raised at once; any other ``OSError`` (timeouts,
    connection resets, throttling as s3fs reports them) is retried, and after the last attempt
    raised as :class:`StorageError` naming what was read.
    """
    attempts = attempts or READ_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise
        except (OSError, TimeoutError, ConnectionError) as exc:
            if attempt == attempts:
                raise StorageError(f"reading {what} failed {attempts} times; last error: "
                                   f"{type(exc).__name__}: {exc}") from exc
            log.warning("reading %s failed (attempt %d of %d): %s; retrying", what, attempt, attempts, exc)
            time.sleep(RETRY_DELAY_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _options(storage_options: str | dict | None) -> dict[str, Any]:
    if not storage_options:
        return {}
    if isinstance(storage_options, dict):
        return storage_options
    try:
        return json.loads(storage_options)
    except json.JSONDecodeError as exc:
        raise ValueError(f"storage_options is not valid JSON: {exc}") from exc


def filesystem(url: str, storage_options: str | dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return the filesystem for ``url`` and the path inside it."""
    fs, path = fsspec.core.url_to_fs(url, **_options(storage_options))
    return fs, path.rstrip("/")


def join(url: str, *parts: str) -> str:
    return posixpath.join(url.rstrip("/"), *parts)


def child(base: str, rel: str) -> str:
    """``base`` joined with a relative path that must stay below it (no absolute path, no ``..``).

    Raises:
        ValueError: ``rel`` would leave ``base``; every path built from input goes through here.
    """
    if relpath_problem(rel) is not None:
        raise ValueError(f"refusing a path that would leave {base}: {rel!r}")
    joined = posixpath.normpath(join(base, rel)) if "://" not in base else join(base, rel)
    if "://" not in base and not joined.startswith(posixpath.normpath(base.rstrip("/")) + "/"):
        raise ValueError(f"refusing a path that would leave {base}: {rel!r}")
    return joined


def modified(entry: dict) -> float | None:
    """A listing entry's modification time in epoch seconds: local disks say ``mtime``, S3 ``LastModified``."""
    value = entry.get("mtime") or entry.get("LastModified") or entry.get("last_modified")
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


@dataclass(frozen=True)
class LandedFile:
    """A file in a day's landing folder; ``rel`` is its path below the day folder."""

    path: str
    rel: str
    size: int


def list_day(landing: str, day: str, storage_options: str | dict | None = None) -> list[LandedFile]:
    """List every file below ``<landing>/<day>/`` in a stable (sorted) order.

    Only the day's own folder is listed, so the cost of a run does not grow with
    history. A ``day`` that is not a ``YYYY-MM-DD`` date is refused (an empty or
    relative one would list other days too).

    Raises:
        MissingLandingError: the landing root or the day folder does not exist. A mistyped
            landing path must not look like a quiet day (it would replace a published day
            with nothing); an existing but empty day folder is an empty day.
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day or ""):
        raise ValueError(f"day must be a YYYY-MM-DD date, got {day!r}")
    date.fromisoformat(day)  # a real calendar date
    fs, root = filesystem(landing, storage_options)
    day_dir = f"{root}/{day}"
    if not retrying(f"landing {landing}", lambda: fs.exists(day_dir)):
        if not retrying(f"landing {landing}", lambda: fs.exists(root)):
            raise MissingLandingError(f"landing root {landing} does not exist (setting landing, "
                                      "CALLSCORE_LANDING or --landing)")
        raise MissingLandingError(f"landing {landing} has no folder for {day} (expected {day_dir}/); an empty "
                                  "day needs an empty folder")
    found = retrying(f"landing folder {day_dir}", lambda: fs.find(day_dir, detail=True))
    files = [
        LandedFile(path=p, rel=p[len(day_dir) + 1 :], size=int(info.get("size") or 0))
        for p, info in found.items()
        if info.get("type", "file") == "file"
    ]
    return sorted(files, key=lambda f: f.rel)


@dataclass(frozen=True)
class LandingDay:
    """One day's landing folder as ingestion sees it: its files and how to read them.

    Ingestion (``pipeline.transcripts``) never opens storage itself; it is handed one of
    these, so the parsing code stays pure and every byte read goes through this module.
    """

    files: list[LandedFile]
    fs: fsspec.AbstractFileSystem

    def read(self, f: LandedFile) -> bytes:
        """The file's bytes; transient failures retried, then :class:`StorageError` (never bad input)."""
        return retrying(f"landing file {f.path}", lambda: read_bytes(self.fs, f.path))

    def head(self, f: LandedFile, n: int) -> bytes:
        def first() -> bytes:
            with self.fs.open(f.path, "rb") as fh:
                return fh.read(n)

        return retrying(f"landing file {f.path}", first)


def landing_day(landing: str, day: str, storage_options: str | dict | None = None) -> LandingDay:
    """The day's landing folder, listed once (see :func:`list_day`)."""
    files = list_day(landing, day, storage_options)
    fs, _ = filesystem(landing, storage_options)
    return LandingDay(files=files, fs=fs)


def read_bytes(fs: fsspec.AbstractFileSystem, path: str) -> bytes:
    with fs.open(path, "rb") as fh:
        return fh.read()


def exists(url: str, storage_options: str | dict | None = None) -> bool:
    fs, path = filesystem(url, storage_options)
    return fs.exists(path)


def write_bytes_atomic(url: str, data: bytes, storage_options: str | dict | None = None) -> None:
    """Write one object so readers see the old content or the new, never a torn file."""
    fs, path = filesystem(url, storage_options)
    parent = posixpath.dirname(path)
    if is_local(fs):
        os.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{posixpath.basename(path)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    else:
        fs.pipe_file(path, data)  # a single PUT is atomic on S3


def create_exclusive(url: str, data: bytes, storage_options: str | dict | None = None) -> bool:
    """Create ``url`` only if it does not exist yet; False when it already does.

    Local: ``O_CREAT | O_EXCL``. S3: a conditional PUT (``If-None-Match: *``). Used for
    leases, where two writers must never both believe they created the object.
    """
    fs, path = filesystem(url, storage_options)
    if is_local(fs):
        os.makedirs(posixpath.dirname(path), exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return True
    try:
        fs.pipe_file(path, data, mode="create")
    except FileExistsError:
        return False
    except OSError as exc:  # s3fs reports a failed precondition (412) as a generic error
        if any(sign in str(exc) for sign in ("PreconditionFailed", "412", "At least one of the pre-conditions")):
            return False
        raise
    finally:
        fs.invalidate_cache(posixpath.dirname(path))
    return True


def _replace_local(path: str, fill: Callable[[str], object]) -> None:
    """Write a local file whole: ``fill`` writes a temp file beside ``path``, then ``os.replace`` swaps it in."""
    parent = posixpath.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{posixpath.basename(path)}.tmp-{os.getpid()}"
    fill(tmp)
    os.replace(tmp, path)


def put_file_atomic(local_path: str, url: str, storage_options: str | dict | None = None) -> None:
    """Upload a local file so readers of ``url`` see the old object or the new one, never a torn one.

    Local: a temp file beside the target, then ``os.replace``. S3: one upload, which becomes
    visible only when complete (multipart uploads too).
    """
    fs, path = filesystem(url, storage_options)
    if is_local(fs):
        _replace_local(path, lambda tmp: shutil.copyfile(local_path, tmp))
    else:
        fs.put_file(local_path, path)
        fs.invalidate_cache(posixpath.dirname(path))


def copy_object(src_url: str, dst_url: str, storage_options: str | dict | None = None) -> None:
    """Copy one object so the destination is replaced whole (local: temp file + ``os.replace``)."""
    fs, src = filesystem(src_url, storage_options)
    _, dst = filesystem(dst_url, storage_options)
    if is_local(fs):
        _replace_local(dst, lambda tmp: fs.copy(src, tmp))
    else:
        fs.copy(src, dst)  # one server-side copy: a single atomic PUT
        fs.invalidate_cache(posixpath.dirname(dst))


def checksum(url: str, storage_options: str | dict | None = None) -> tuple[str, int]:
    """``(sha256 hex, size)`` of one object, streamed."""
    fs, path = filesystem(url, storage_options)
    digest, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def holder() -> str:
    """Who holds a lease: host and process, so a dead holder on this host is recognised at once."""
    return f"{socket.gethostname()}:{os.getpid()}"


def write_json(url: str, obj: Any, storage_options: str | dict | None = None) -> None:
    write_bytes_atomic(url, json.dumps(obj, indent=2, default=str).encode(), storage_options)


def read_text(url: str, storage_options: str | dict | None = None, encoding: str = "utf-8-sig") -> str:
    fs, path = filesystem(url, storage_options)
    return read_bytes(fs, path).decode(encoding)


def read_json(url: str, storage_options: str | dict | None = None) -> Any:
    fs, path = filesystem(url, storage_options)
    return json.loads(read_bytes(fs, path))


def write_jsonl(url: str, rows: Iterable[dict], storage_options: str | dict | None = None) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write(json.dumps(row, default=str) + "\n")
    write_bytes_atomic(url, buf.getvalue().encode(), storage_options)


def read_jsonl(url: str, storage_options: str | dict | None = None) -> list[dict]:
    fs, path = filesystem(url, storage_options)
    if not fs.exists(path):
        return []
    return [json.loads(line) for line in read_bytes(fs, path).decode().splitlines() if line.strip()]


def iter_files(url: str, storage_options: str | dict | None = None) -> Iterator[tuple[str, str]]:
    """Every file below ``url`` in sorted order, as (full URL, path relative to ``url``)."""
    fs, path = filesystem(url, storage_options)
    if fs.exists(path):
        for found in sorted(fs.find(path)):
            yield fs.unstrip_protocol(found), found[len(path) + 1:]


def remove_tree(url: str, storage_options: str | dict | None = None) -> None:
    fs, path = filesystem(url, storage_options)
    if fs.exists(path):
        fs.rm(path, recursive=True)
