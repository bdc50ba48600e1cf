"""How a day becomes published, whole or not at all, and how only one run works on a day.

The day commit protocol (README: Guarantees):

1. every table of the run is copied from staging to an immutable, run-versioned file
   ``_versions/<table>/date=D/<run_id>.parquet`` (checksummed);
2. the day's **commit record** ``_runs/date=D.json`` is written in one atomic step: run id,
   model version and precision, and each table's file, rows, size and sha256. This is the
   single point at which the day counts as published; ``callscore query`` reads exactly
   the files the records name, so it never sees two runs in one day;
3. the reader copies ``<table>/date=D/part-0.parquet`` (what a plain Parquet reader globs)
   are refreshed from the versions, one atomic object each, skipped when already equal;
4. the quarantine is replaced, the record is marked complete, older versions are dropped
   (the previous run's are kept for readers still holding the old record).

Every step checks what is already done, so a retry after a crash at any point finishes
the publish; a crash before step 2 leaves the old day fully in place.

One active run per day: a **lease** ``_leases/date=D.json`` created exclusively (``O_EXCL``
locally, a conditional PUT on S3) by plan, renewed by build, validate and publish, released at
the end.
A lease survives a crashed worker until it expires; a run in one process
(``callscore run``) also records its process, so a killed run on the same host is taken
over at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import socket
import time
from datetime import UTC, datetime
from typing import Any

from pipeline import DayBusyError
from pipeline.schemas import TABLES
from pipeline.warehouse import layout, storage

log = logging.getLogger(__name__)

LEASE_TTL_S = 2 * 3600  # longer than any single task of a day; a crashed run's lease frees itself after this


def record_url(warehouse: str, day: str) -> str:
    return storage.join(warehouse, "_runs", f"date={day}.json")


def version_url(warehouse: str, table: str, day: str, run_id: str) -> str:
    return storage.join(warehouse, "_versions", table, f"date={day}", f"{run_id}.parquet")


def lease_url(warehouse: str, day: str) -> str:
    return storage.join(warehouse, "_leases", f"date={day}.json")


def read_record(warehouse: str, day: str, storage_options: Any = None) -> dict | None:
    """The day's commit record, or None when the day was never published."""
    url = record_url(warehouse, day)
    try:
        return storage.retrying(url, lambda: storage.read_json(url, storage_options))
    except FileNotFoundError:
        return None


def committed_records(warehouse: str, storage_options: Any = None) -> list[dict]:
    """Every published day's commit record, sorted by day."""
    base = storage.join(warehouse, "_runs")
    return [storage.read_json(url, storage_options) for url, rel in storage.iter_files(base, storage_options)
            if rel.startswith("date=") and rel.endswith(".json")]


def committed_files(record: dict, table: str) -> str | None:
    """The file of ``table`` a commit record publishes (records written before versions: the partition)."""
    tables = record.get("tables")
    if isinstance(tables, dict):
        entry = tables.get(table)
        return entry["file"] if entry else None
    for url in tables or []:  # an older record: a list of partition URLs
        if f"/{table}/date=" in url:
            return url
    return None


def published_calls(record: dict | None) -> int:
    """How many calls a commit record published (0 for none)."""
    if not record:
        return 0
    tables = record.get("tables")
    if isinstance(tables, dict) and "calls" in tables:
        return int(tables["calls"].get("rows", 0))
    return int((record.get("ingest") or {}).get("calls_parsed", 0))


def write_versions(warehouse: str, run_id: str, day: str, version: str, storage_options: Any = None
                   ) -> dict[str, dict]:
    """Step 1: copy each table staged by ``run_id`` to its versioned file; return file, rows, bytes, sha256."""
    import pyarrow.parquet as pq

    out = {}
    for table in TABLES:
        staged = layout.staged_partition_url(warehouse, run_id, table, day)
        target = version_url(warehouse, table, day, version)
        storage.copy_object(staged, target, storage_options)
        digest, size = storage.checksum(target, storage_options)
        fs, path = storage.filesystem(target, storage_options)
        with fs.open(path, "rb") as fh:
            rows = pq.ParquetFile(fh).metadata.num_rows
        out[table] = {"file": target, "rows": rows, "bytes": size, "sha256": digest}
    return out


def commit_day(warehouse: str, run_id: str, day: str, details: dict | None = None, storage_options: Any = None,
               version: str | None = None) -> dict:
    """Steps 1-3 for a run whose tables are staged: versions, the commit record, reader copies.

    ``version`` names this publication (the run id plus the plan attempt: a DAG run that is
    cleared and re-run keeps its run id but must publish anew). Resumes where a crashed
    attempt stopped: a record already naming ``version`` is not rewritten, only the reader
    copies are checked again. ``details`` (model, counts) go into a new record.
    """
    version = version or run_id
    record = read_record(warehouse, day, storage_options)
    if record is None or record.get("version", record.get("run_id")) != version:
        previous = record.get("version", record.get("run_id")) if record else None
        tables = write_versions(warehouse, run_id, day, version, storage_options)
        record = {"day": day, "run_id": run_id, "version": version,
                  "committed_at": datetime.now(UTC).isoformat(timespec="seconds"), **(details or {}),
                  "tables": tables, "previous_version": previous, "complete": False}
        write_record(warehouse, day, record, storage_options)  # the day is published from here on
        log.info("committed %s: run %s (%s)", day, version, {t: v["rows"] for t, v in tables.items()})
    window = refresh_reader_copies(warehouse, day, record, storage_options)
    return {**record, "reader_copy_window_s": round(window, 4)}


def write_record(warehouse: str, day: str, record: dict, storage_options: Any = None) -> None:
    """Step 2 (and 4): the single atomic write that publishes the day."""
    storage.write_json(record_url(warehouse, day), record, storage_options)


def refresh_reader_copies(warehouse: str, day: str, record: dict, storage_options: Any = None) -> float:
    """Step 3: make each ``<table>/date=D/part-0.parquet`` equal to the committed version.

    Returns the seconds between the first and the last replacement: the only window in
    which a plain Parquet reader globbing the table folders could see two runs in one day.
    """
    first = last = None
    for table in TABLES:
        entry = record["tables"].get(table)
        if entry is None:  # a day published before the table existed
            continue
        final = layout.partition_url(warehouse, table, day)
        if storage.exists(final, storage_options) and \
                storage.checksum(final, storage_options)[0] == entry["sha256"]:
            continue
        storage.copy_object(entry["file"], final, storage_options)
        last = time.perf_counter()
        first = first or last
        log.info("reader copy %s refreshed from %s", final, record.get("version", record["run_id"]))
    _drop_strays(warehouse, day, storage_options)
    return (last - first) if first is not None else 0.0


def _drop_strays(warehouse: str, day: str, storage_options: Any) -> None:
    """Anything but ``part-0.parquet`` in a partition folder (an older layout, a crashed copy's temp file)."""
    for table in TABLES:
        folder = posixpath.dirname(layout.partition_url(warehouse, table, day))
        for url, rel in storage.iter_files(folder, storage_options):
            if rel != storage.PART_FILE:
                fs, path = storage.filesystem(url, storage_options)
                fs.rm(path)


def drop_old_versions(warehouse: str, day: str, keep: set[str], storage_options: Any = None) -> int:
    """Delete the day's versions of runs not in ``keep`` (the committed run and the one before it)."""
    dropped = 0
    for table in TABLES:
        folder = posixpath.dirname(version_url(warehouse, table, day, "x"))
        for url, rel in list(storage.iter_files(folder, storage_options)):
            if rel.removesuffix(".parquet") not in keep:
                fs, path = storage.filesystem(url, storage_options)
                fs.rm(path)
                dropped += 1
    return dropped


# ------------------------------------------------------------------------------------------ leases


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(lease: dict, now: float) -> str | None:
    """Why a lease no longer protects anything (None when it still does)."""
    if float(lease.get("expires_at", 0)) < now:
        return "expired"
    host, _, pid = str(lease.get("process") or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return f"its process {pid} on this host is gone"
    return None


def acquire_lease(warehouse: str, day: str, run_id: str, storage_options: Any = None, ttl_s: float = LEASE_TTL_S,
                  single_process: bool = False) -> dict:
    """Hold the day for ``run_id`` (or renew its hold); refuse while another live run holds it.

    Args:
        single_process: the whole run lives in this process (``callscore run``): record it, so
            a run killed on this host frees the day at once instead of after ``ttl_s``.

    Raises:
        DayBusyError: another run holds an unexpired lease on the day.
    """
    url = lease_url(warehouse, day)
    for _ in range(5):
        now = time.time()
        lease = {"day": day, "run_id": run_id, "holder": storage.holder(), "acquired_at": now,
                 "expires_at": now + ttl_s, "process": storage.holder() if single_process else None}
        if storage.create_exclusive(url, json.dumps(lease).encode(), storage_options):
            return lease
        try:
            current = storage.read_json(url, storage_options)
        except FileNotFoundError:
            continue  # released between our two calls
        if current.get("run_id") == run_id:  # renewal: keep when it started and which process runs it
            lease["acquired_at"] = current.get("acquired_at", now)
            lease["process"] = lease["process"] or current.get("process")
            storage.write_json(url, lease, storage_options)
            return lease
        why = _stale(current, now)
        if why is None:
            until = datetime.fromtimestamp(float(current["expires_at"]), UTC).isoformat(timespec="seconds")
            raise DayBusyError(f"day {day} is being processed by run {current.get('run_id')} (on "
                          f"{current.get('holder')}); this run {run_id} stops rather than mix two runs. The lease "
                          f"expires at {until}; `callscore unlock {day}` frees it if that run is known to be dead")
        log.warning("taking over the lease on %s from run %s: %s", day, current.get("run_id"), why)
        fs, path = storage.filesystem(url, storage_options)
        with contextlib.suppress(FileNotFoundError):
            fs.rm(path)
    raise DayBusyError(f"could not take the lease on {day}: other runs keep taking it")


def release_lease(warehouse: str, day: str, run_id: str | None = None, storage_options: Any = None) -> bool:
    """Free the day; with ``run_id``, only if that run holds it. True when a lease was removed."""
    url = lease_url(warehouse, day)
    fs, path = storage.filesystem(url, storage_options)
    try:
        current = storage.read_json(url, storage_options)
    except FileNotFoundError:
        return False
    if run_id is not None and current.get("run_id") != run_id:
        return False
    try:
        fs.rm(path)
    except FileNotFoundError:
        return False
    return True
