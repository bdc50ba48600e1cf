"""Model folders are checked before anything loads them.

A model folder is code-adjacent input: a pickled ``pytorch_model.bin`` runs code when loaded,
and a swapped or truncated ``model.safetensors`` silently changes every label. So training
*seals* a folder (the sha256 of every file, recorded in ``callscore.json`` under ``files``),
and every consumer *verifies* it: the nightly plan, each classify task, promotion and
``docker/fetch_model.py``. Only safetensors weights are loaded (``use_safetensors=True``).

What this guarantees (SECURITY.md): a folder whose files changed after training (a corrupt
copy, a half-synced bucket, an extra pickle dropped beside the weights) is refused with the
file named. It does not authenticate the folder's author: someone who can rewrite the whole
folder, ``callscore.json`` included, can reseal it. The nightly plan therefore pins the sha256
of ``callscore.json`` itself, so every classify task of a run loads exactly the folder the plan
checked.

Pure of torch: this module reads bytes only, so the plan can check a folder cheaply.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pipeline import relpath_problem
from pipeline.model import META_FILE

DIGEST_KEY = "files"
"""Key of ``callscore.json`` holding ``{relative path: sha256}`` of every other file of the folder."""

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""A model version doubles as a folder name (``models/artifacts/<version>``, fetch targets)."""

_CHUNK = 1 << 20


class ModelIntegrityError(ValueError):
    """A model folder does not match what training recorded, or names something unsafe."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_relpath(rel: str) -> str:
    """``rel`` if it is a plain relative path inside a folder.

    Raises:
        ModelIntegrityError: absolute, empty, backslashes, control characters or ``.``/``..`` segments
            (a file list from a bucket or a forged record must not write or read outside the folder).
    """
    if relpath_problem(rel) is not None:
        raise ModelIntegrityError(f"unsafe file name in a model folder: {rel!r}")
    return rel


def check_version(version: Any) -> str:
    """The model version, checked to be a plain folder name.

    Raises:
        ModelIntegrityError: not a string of letters, digits, ``.``, ``_`` and ``-`` (e.g. ``../x``).
    """
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version) or version in (".", ".."):
        raise ModelIntegrityError(f"model version {version!r} is not a plain folder name")
    return version


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != META_FILE)


def seal(folder: str | Path) -> dict[str, str]:
    """Record the sha256 of every file of a finished model folder in its ``callscore.json``.

    Called last by training (after metrics and the model card are written), so the record
    covers everything a consumer reads.
    """
    folder = Path(folder)
    meta_path = folder / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    check_version(meta.get("version"))
    meta[DIGEST_KEY] = {rel: sha256_file(folder / rel) for rel in _files(folder)}
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta[DIGEST_KEY]


def verify_files(meta: dict, read_digest: Any, present: list[str], where: str) -> None:
    """Check a listing and digests against ``meta``; shared by local folders and remote copies.

    Args:
        meta: the folder's parsed ``callscore.json``.
        read_digest: ``rel -> sha256`` of the file as it is now.
        present: every file now in the folder but ``callscore.json``.
        where: the folder, for messages.

    Raises:
        ModelIntegrityError: no record (a folder from before sealing: retrain it), a recorded file
            missing or changed, an unrecorded file present, or a non-safetensors weights file.
    """
    check_version(meta.get("version"))
    recorded = meta.get(DIGEST_KEY)
    if not isinstance(recorded, dict) or not recorded:
        raise ModelIntegrityError(
            f"{where} records no file checksums (trained before checksums were recorded, or not by "
            "`callscore train`): retrain it with `make model` / `callscore train --promote`")
    for rel in recorded:
        safe_relpath(rel)
    if not any(rel.endswith(".safetensors") for rel in recorded):
        raise ModelIntegrityError(f"{where} has no safetensors weights; only safetensors are loaded")
    extra = sorted(set(present) - set(recorded))
    if extra:
        raise ModelIntegrityError(f"{where} holds files training did not write: {', '.join(extra[:5])}")
    for rel, want in sorted(recorded.items()):
        if rel not in present:
            raise ModelIntegrityError(f"{where} is missing {rel}")
        if read_digest(rel) != want:
            raise ModelIntegrityError(f"{where}: {rel} does not match the checksum recorded at training time")


def verify(folder: str | Path, meta_sha256: str | None = None) -> dict:
    """Check a local model folder against its record; returns the parsed ``callscore.json``.

    Args:
        meta_sha256: when given (the nightly plan's pin), ``callscore.json`` itself must have this
            sha256, so a folder resealed after the plan is refused too.

    Raises:
        ModelIntegrityError: see :func:`verify_files`, or ``callscore.json`` differs from the pin.
        FileNotFoundError: not a model folder.
    """
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder} is not a callscore model folder (no {META_FILE}); "
                                "train one with `callscore train` or `make model`")
    raw = meta_path.read_bytes()
    if meta_sha256 is not None and sha256_bytes(raw) != meta_sha256:
        raise ModelIntegrityError(f"{folder}/{META_FILE} changed since the run pinned it")
    meta = json.loads(raw)
    verify_files(meta, lambda rel: sha256_file(folder / rel), _files(folder), str(folder))
    return meta


def meta_digest(folder: str | Path) -> str:
    return sha256_bytes((Path(folder) / META_FILE).read_bytes())
