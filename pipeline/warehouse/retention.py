"""Retention: what the warehouse keeps only for a while, removed when its time is up.

Kept for a while, because a person may need it, then removed:

- **quarantine copies** (``quarantine/date=D/files/``): raw landing files kept so a fixed reader can
  re-process them; the day's ``records.jsonl`` (kind, reason, call id) is kept for good, each
  record then saying its copy expired;
- **failed-validation snapshots** (``quarantine/date=D/validation/<run>/``): the staged tables
  and GX result of a run the gate stopped;
- **staging of dead runs** (``_staging/<run>/``): nothing written for longer than a lease lasts and
  no lease naming it;
- **old Data Docs pages** (``<data docs>/validations/``, local disk), by file age.

Ages of quarantine copies and snapshots count from their partition day, so a backfill of an old
day does not keep its raw files longer than a nightly run would.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.warehouse import layout, storage

log = logging.getLogger(__name__)

EXPIRED = "expired: removed by retention (callscore gc)"


@dataclass
class Collected:
    """What one collection removed (counts and the days touched; no file names, which may hold names)."""

    quarantine_copies: int = 0
    validation_snapshots: int = 0
    staging_runs: int = 0
    data_docs_files: int = 0
    days: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _expire_quarantine(warehouse: str, day: str, storage_options: Any, out: Collected) -> None:
    base = layout.quarantine_url(warehouse, day)
    fs, files_root = storage.filesystem(storage.join(base, "files"), storage_options)
    if fs.exists(files_root):
        found = fs.find(files_root)
        if found:
            fs.rm(found)
            out.quarantine_copies += len(found)
        records_url = storage.join(base, "records.jsonl")
        if storage.exists(records_url, storage_options):
            records = storage.read_jsonl(records_url, storage_options)
            for rec in records:
                if isinstance(rec.get("copy"), str) and rec["copy"].startswith("files/"):
                    rec["copy"] = EXPIRED
            storage.write_jsonl(records_url, records, storage_options)
    vfs, validation_root = storage.filesystem(storage.join(base, "validation"), storage_options)
    if vfs.exists(validation_root):
        runs = vfs.ls(validation_root, detail=False)
        for run in runs:
            vfs.rm(run, recursive=True)
        out.validation_snapshots += len(runs)


def _dead_staging(warehouse: str, storage_options: Any, now: float, idle_s: float, out: Collected) -> None:
    fs, root = storage.filesystem(storage.join(warehouse, "_staging"), storage_options)
    if not fs.exists(root):
        return
    leased = set()
    for url, _ in storage.iter_files(storage.join(warehouse, "_leases"), storage_options):
        try:
            leased.add(str(storage.read_json(url, storage_options)["run_id"]))
        except (KeyError, ValueError, TypeError):
            continue  # a lease being written or removed right now: its run is alive or gone either way
    for run in fs.ls(root, detail=False):
        name = run.rstrip("/").rsplit("/", 1)[-1]
        if name in leased:
            continue
        stamps = [storage.modified(e) for e in fs.find(run, detail=True).values()]
        newest = max((s for s in stamps if s is not None), default=None)
        if newest is None or now - newest > idle_s:
            fs.rm(run, recursive=True)
            out.staging_runs += 1


def _old_docs(docs_dir: str, now: float, max_age_s: float, out: Collected) -> None:
    root = Path(docs_dir) / "validations"
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*"), reverse=True):  # files first, then their emptied folders
        if path.is_file() and now - path.stat().st_mtime > max_age_s:
            path.unlink()
            out.data_docs_files += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def collect(warehouse: str, *, today: date, quarantine_days: int, docs_days: int, staging_idle_s: float,
            docs_dir: str | None = None, storage_options: Any = None, now: float | None = None) -> Collected:
    """Remove everything past its retention; returns what was removed.

    Raises:
        ValueError: a negative retention (0 is allowed: keep nothing past today).
    """
    if quarantine_days < 0 or docs_days < 0 or staging_idle_s < 0:
        raise ValueError("retention periods must not be negative")
    now = time.time() if now is None else now
    out = Collected()
    for day in layout.quarantine_days(warehouse, storage_options):
        if (today - date.fromisoformat(day)).days > quarantine_days:
            before = (out.quarantine_copies, out.validation_snapshots)
            _expire_quarantine(warehouse, day, storage_options, out)
            if (out.quarantine_copies, out.validation_snapshots) != before:
                out.days.append(day)
    _dead_staging(warehouse, storage_options, now, staging_idle_s, out)
    if docs_dir:
        _old_docs(docs_dir, now, docs_days * 86400, out)
    log.info("retention: removed %d quarantine copies, %d validation snapshots, %d dead staging runs, "
             "%d Data Docs files (%d days touched)", out.quarantine_copies, out.validation_snapshots,
             out.staging_runs, out.data_docs_files, len(out.days))
    return out
