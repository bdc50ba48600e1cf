"""All reading and writing of storage: landing zone, warehouse, staging, quarantine.

Every path is a URL handled by fsspec, so a plain path, ``file://`` and ``s3://``
behave the same. Publishing is atomic per table partition: each partition is one
Parquet object, replaced with ``os.replace`` on a local disk and with a single
object PUT (server-side copy) on S3, where no rename exists. Readers therefore see
either the previous partition or the new one, never a mix.
"""

from __future__ import annotations

import io
import json
import logging
import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

log = logging.getLogger(__name__)

PART_FILE = "part-0.parquet"


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
    history. A missing folder is an empty day, not an error; a ``day`` that is not a
    ``YYYY-MM-DD`` date is (an empty or relative one would list other days too).
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day or ""):
        raise ValueError(f"day must be a YYYY-MM-DD date, got {day!r}")
    date.fromisoformat(day)  # a real calendar date
    fs, root = filesystem(landing, storage_options)
    day_dir = f"{root}/{day}"
    if not fs.exists(day_dir):
        log.warning("landing folder %s does not exist: empty day", day_dir)
        return []
    found = fs.find(day_dir, detail=True)
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
        return read_bytes(self.fs, f.path)

    def head(self, f: LandedFile, n: int) -> bytes:
        with self.fs.open(f.path, "rb") as fh:
            return fh.read(n)


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


def publish_object(staged_url: str, final_url: str, storage_options: str | dict | None = None) -> None:
    """Atomically make ``staged_url`` the content of ``final_url``, then clear siblings.

    Local: ``os.replace`` (staging sits inside the warehouse, so on the same
    filesystem). S3: one server-side copy, which is a single atomic PUT. Any other
    object left in the partition folder (an older layout, a crashed writer's
    temporary file) is removed afterwards so re-running a day leaves exactly one file.
    """
    fs, staged = filesystem(staged_url, storage_options)
    _, final = filesystem(final_url, storage_options)
    parent = posixpath.dirname(final)
    if is_local(fs):
        os.makedirs(parent, exist_ok=True)
        os.replace(staged, final)
    else:
        fs.copy(staged, final)
        fs.rm(staged)
    fs.invalidate_cache(parent)
    for other in fs.find(parent):
        if other.rstrip("/") != final:
            fs.rm(other)
