"""The warehouse layout: table URLs, staging, the sorted merge, atomic publish and quarantine.

```
<warehouse>/<table>/date=D/part-0.parquet       published, what analysts read
<warehouse>/quarantine/date=D/records.jsonl     refused inputs with their reasons
<warehouse>/quarantine/date=D/files/<hash>/<name>  copies of refused files (hash of the landing folder)
<warehouse>/quarantine/date=D/validation/<run>/ staged tables + GX result of a failed gate
<warehouse>/_staging/<run_id>/...               a run's work in progress (never read by readers)
<warehouse>/_versions/<table>/date=D/<run>.parquet  immutable per-run tables (pipeline.warehouse.commit)
<warehouse>/_runs/date=D.json                   the day's commit record: the published run and its files
<warehouse>/_leases/date=D.json                 the run working on the day, while it works
```
Folders starting with ``_`` are skipped by Parquet dataset discovery, so staging is
invisible to readers of the tables.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schemas import SCHEMAS, SORT_KEYS, TABLES
from pipeline.warehouse import storage

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 128_000
MERGE_BATCH_ROWS = 25_000  # rows per validation batch: bounds memory whatever the day's size
# DuckDB's budget for the merge's sort: one thread within 128 MB, spilling to a temporary folder beyond it.
# Measured on 10,000 calls (1.03 M utterance rows, issue 16): at 1 GB and two threads the merge's peak RSS grew
# with the day (+1,000 MB at 10,000 calls); two threads at 128 MB ran out of memory pinning blocks; one thread
# at 128 MB adds about 270 MB whatever the day's size and takes 2.9 s instead of 1.6 s.
MERGE_MEMORY = "128MB"
MERGE_THREADS = 1


def check_warehouse(warehouse: str, storage_options: Any = None) -> None:
    """Refuse a warehouse URL that cannot hold tables, before a run does any work."""
    fs, root = storage.filesystem(warehouse, storage_options)
    if fs.isfile(root):
        raise ValueError(f"warehouse {warehouse} is a file, not a folder (setting warehouse, CALLSCORE_WAREHOUSE "
                         "or --warehouse)")


def partition_url(warehouse: str, table: str, day: str) -> str:
    return storage.join(warehouse, table, f"date={day}", storage.PART_FILE)


def staging_url(warehouse: str, run_id: str, *parts: str) -> str:
    return storage.join(warehouse, "_staging", run_id, *parts)


def staged_partition_url(warehouse: str, run_id: str, table: str, day: str) -> str:
    """Where a run stages a table's partition before validation and publish."""
    return staging_url(warehouse, run_id, table, f"date={day}", storage.PART_FILE)


def quarantine_url(warehouse: str, day: str, *parts: str) -> str:
    return storage.join(warehouse, "quarantine", f"date={day}", *parts)


def quarantine_days(warehouse: str, storage_options: Any = None) -> list[str]:
    """The days that have a quarantine folder, sorted (one listing of ``quarantine/``, not of its files)."""
    fs, root = storage.filesystem(storage.join(warehouse, "quarantine"), storage_options)
    if not fs.exists(root):
        return []
    out = []
    for entry in fs.ls(root, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("date="):
            try:
                out.append(date.fromisoformat(name.removeprefix("date=")).isoformat())
            except ValueError:
                continue
    return sorted(out)


def quarantine_copy_name(rel: str) -> str:
    """Where a refused landing file's copy goes below ``files/``: a folder named by a hash of the
    file's landing folder, then its base name. Never the landing key itself (it is input), yet a
    VTT and its sidecar still land side by side, so the pair can be fixed and landed again."""
    folder, name = posixpath.split(rel)
    if name in ("", ".", "..") or "\\" in name or any(ord(c) < 32 for c in name):
        raise ValueError(f"unsafe file name {rel!r}")
    return f"{hashlib.sha256(folder.encode()).hexdigest()[:12]}/{name}"


def to_arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    """Conform a frame to the table's schema (column order and types), sorted by its keys."""
    schema = SCHEMAS[table]
    missing = [c for c in schema.names if c not in frame.columns]
    if missing:
        raise ValueError(f"{table}: missing columns {missing}")
    ordered = frame.sort_values(SORT_KEYS[table], kind="stable") if len(frame) else frame
    return pa.Table.from_pandas(ordered[schema.names], schema=schema, preserve_index=False)


def empty_frame(table: str) -> pd.DataFrame:
    """A frame with the table's columns and types and no rows (an empty day, a table an old day lacks)."""
    return SCHEMAS[table].empty_table().to_pandas()


def parquet_bytes(table: pa.Table) -> bytes:
    """zstd, dictionary-encoded strings, bounded row groups."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=True, row_group_size=ROW_GROUP_ROWS,
                   write_statistics=True)
    return buf.getvalue()


def write_frame(frame: pd.DataFrame, table: str, url: str, storage_options: Any = None) -> int:
    data = to_arrow(frame, table)
    storage.write_bytes_atomic(url, parquet_bytes(data), storage_options)
    return data.num_rows


def write_parquet(frame: pd.DataFrame, url: str, storage_options: Any = None) -> None:
    """An intermediate frame (shards), without a fixed schema."""
    data = pa.Table.from_pandas(frame, preserve_index=False)
    storage.write_bytes_atomic(url, parquet_bytes(data), storage_options)


def read_parquet(url: str, storage_options: Any = None, columns: list[str] | None = None) -> pd.DataFrame:
    fs, path = storage.filesystem(url, storage_options)
    with fs.open(path, "rb") as fh:
        return pq.read_table(fh, columns=columns).to_pandas()


def read_partition(warehouse: str, table: str, day: str, storage_options: Any = None) -> pd.DataFrame:
    return read_parquet(partition_url(warehouse, table, day), storage_options)


def rep_batches(sources: list[str], storage_options: Any = None, max_rows: int | None = None) -> list[list[str]]:
    """Group the reps found in ``sources`` (sorted) into batches of at most ``max_rows`` rows.

    Only the ``rep_id`` column is read, so planning costs little memory. A rep is
    never split across batches: per-rep checks and sorts stay exact batch by batch.
    """
    max_rows = max_rows or MERGE_BATCH_ROWS
    counts: dict[str, int] = {}
    for src in sources:
        fs, path = storage.filesystem(src, storage_options)
        for item in pq.read_table(path, columns=["rep_id"], filesystem=fs).column("rep_id").value_counts().tolist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    batches: list[list[str]] = []
    size = 0
    for rep in sorted(counts):
        if not batches or size + counts[rep] > max_rows:
            batches.append([])
            size = 0
        batches[-1].append(rep)
        size += counts[rep]
    return batches


def read_reps(sources: list[str], reps: list[str], storage_options: Any = None) -> pd.DataFrame:
    """The rows of ``reps`` from every source file (row-group statistics skip the rest)."""
    parts = []
    for src in sources:
        fs, path = storage.filesystem(src, storage_options)
        parts.append(pq.read_table(path, filesystem=fs, filters=[("rep_id", "in", reps)]).to_pandas())
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def merge_sorted(table: str, sources: list[str], url: str, storage_options: Any = None) -> int:
    """Merge many shard files into one table file sorted by its keys, in one linear pass.

    DuckDB reads each shard once and sorts within a bounded memory budget (``MERGE_MEMORY``),
    spilling to a temporary folder beyond it; the sorted rows stream out in Arrow batches into
    a Parquet writer with the table's exact schema. Cost grows linearly with the day and memory
    stays flat: the earlier merge re-read every shard for every batch of reps, which grew
    quadratically (issue 16). The file is written locally first and then put in place whole,
    so a reader never sees a torn file.
    """
    import tempfile

    import duckdb

    schema = SCHEMAS[table]
    fs, _ = storage.filesystem(url, storage_options)
    local = storage.is_local(fs)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="callscore-merge-") as tmp:
        con = duckdb.connect(config={"memory_limit": MERGE_MEMORY, "threads": MERGE_THREADS, "temp_directory": tmp})
        try:
            if not local:
                con.register_filesystem(fs)
            paths = [storage.filesystem(s, storage_options)[1] if local else s for s in sources]
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            columns = ", ".join(f'"{name}"' for name in schema.names)
            order = ", ".join(f'"{k}"' for k in SORT_KEYS[table])
            reader = con.sql(f"SELECT {columns} FROM read_parquet([{listed}], union_by_name = true) "
                             f"ORDER BY {order}").to_arrow_reader(MERGE_BATCH_ROWS)
            out = posixpath.join(tmp, "merged.parquet")
            with pq.ParquetWriter(out, schema, compression="zstd", use_dictionary=True,
                                  write_statistics=True) as writer:
                for batch in reader:  # one row group per batch: validation reads a batch of reps at a time
                    part = pa.Table.from_batches([batch]).cast(schema)
                    writer.write_table(part)
                    rows += part.num_rows
        finally:
            con.close()
        storage.put_file_atomic(out, url, storage_options)
    return rows


def publish_quarantine(warehouse: str, day: str, staged: str, storage_options: Any = None) -> None:
    """Replace the day's quarantine with a run's staged one: copies streamed file by file, then the records.

    Memory holds no file: each staged copy is copied object to object, so a day of many
    large bad files publishes like any other (their total is capped at plan time).
    """
    base = quarantine_url(warehouse, day)
    fs, root = storage.filesystem(storage.join(base, "files"), storage_options)
    keep = set()
    for url, rel in storage.iter_files(storage.join(staged, "files"), storage_options):
        target = storage.child(storage.join(base, "files"), rel)
        storage.copy_object(url, target, storage_options)
        keep.add(storage.filesystem(target, storage_options)[1])
    if fs.exists(root):
        for stale in fs.find(root):
            if stale not in keep:
                fs.rm(stale)
    records = storage.read_jsonl(storage.join(staged, "records.jsonl"), storage_options)
    storage.write_jsonl(storage.join(base, "records.jsonl"), records, storage_options)


def published_call_ids(warehouse: str, exclude_day: str, storage_options: Any = None) -> dict[str, str]:
    """Call id -> day of every call published on a day other than ``exclude_day`` (only ``call_id`` is read)."""
    from pipeline.warehouse import commit

    ids: dict[str, str] = {}
    for record in commit.committed_records(warehouse, storage_options):
        url = commit.committed_files(record, "calls")
        if record.get("day") == exclude_day or url is None or not storage.exists(url, storage_options):
            continue
        for call_id in read_parquet(url, storage_options, columns=["call_id"])["call_id"]:
            ids.setdefault(call_id, record["day"])
    return ids


def quarantine_failed_validation(warehouse: str, run_id: str, day: str, result: dict,
                                 storage_options: Any = None) -> str:
    """Move a run's staged tables beside their GX result under quarantine; return that folder."""
    target = quarantine_url(warehouse, day, "validation", run_id)
    fs, _ = storage.filesystem(warehouse, storage_options)
    for table in TABLES:
        staged = staged_partition_url(warehouse, run_id, table, day)
        _, src = storage.filesystem(staged, storage_options)
        if fs.exists(src):
            _, dst = storage.filesystem(storage.join(target, f"{table}.parquet"), storage_options)
            fs.makedirs(dst.rsplit("/", 1)[0], exist_ok=True)
            fs.copy(src, dst)
    storage.write_json(storage.join(target, "gx_result.json"), result, storage_options)
    return target
