"""Forget a person or a call on request: erase, suppress, audit.

``callscore erase --email X`` (or ``--call-id Y``):

1. puts the subject's salted hash on the **suppression list** first, so a run that starts now
   (or any later re-run of an old day) quarantines the person's calls as ``erased`` instead of
   publishing them again, without copying their file;
2. finds every affected day from the **participant index** (``_index/date=D.jsonl``: each
   published call's id and the salted hashes of its participants' emails, written by publish);
3. rewrites each affected day through the commit protocol (``warehouse.commit``): the tables
   without those calls, scorecards recomputed from the calls that remain, validated by the
   same GX gate, committed as a new version; every older version of the day is then deleted,
   so no file of the warehouse holds the rows any more;
4. deletes quarantine copies that hold the subject (their bytes name the email or call id),
   failed-validation snapshots that hold the calls, and staging left by dead runs of the day;
5. appends an **audit record** ``_audit/erasure/<time>-<id>.json``: who, when, what kind of
   subject, its salted hash, the days rewritten and counts; no personal data.

Where each piece lives: ``pipeline.warehouse.privacy``; the hashing: ``pipeline.transcripts.subjects``.
The salt is made once per warehouse and never leaves it, so a hash in an audit record cannot be
reversed by trying emails without warehouse access.
"""

from __future__ import annotations

import getpass
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pipeline import ConfigError, review, run
from pipeline.schemas import TABLES
from pipeline.scoring.benchmarks import benchmarks_table
from pipeline.scoring.metrics import scorecards_table
from pipeline.settings import Settings
from pipeline.transcripts.subjects import normalise, subject_hash
from pipeline.warehouse import commit, layout, privacy, storage
from pipeline.warehouse.privacy import index_url

log = logging.getLogger(__name__)


def _affected(warehouse: str, digest: str, kind: str, value: str, storage_options: Any
              ) -> tuple[dict[str, set[str]], list[str]]:
    """Days -> call ids naming the subject, from the index; and committed days that have no index."""
    days: dict[str, set[str]] = {}
    unindexed = []
    for record in commit.committed_records(warehouse, storage_options):
        day = record["day"]
        url = index_url(warehouse, day)
        if storage.exists(url, storage_options):
            ids = {row["call_id"] for row in storage.read_jsonl(url, storage_options) if digest in row["subjects"]}
        else:
            unindexed.append(day)
            ids = set()
            calls_url = commit.committed_files(record, "calls")
            if kind == "call_id" and calls_url and storage.exists(calls_url, storage_options):
                found = layout.read_parquet(calls_url, storage_options, columns=["call_id"])["call_id"]
                ids = {value} & set(found)
        if ids:
            days[day] = ids
    return days, unindexed


def _scrub_quarantine(warehouse: str, day: str, needles: list[bytes], call_ids: set[str], storage_options: Any
                      ) -> tuple[int, int]:
    """Delete quarantine copies and validation snapshots of ``day`` that hold the subject; mark their records.

    Returns (copies removed, snapshot files removed).
    """
    base = layout.quarantine_url(warehouse, day)
    records_url = storage.join(base, "records.jsonl")
    records = storage.read_jsonl(records_url, storage_options) if storage.exists(records_url, storage_options) else []
    removed = 0
    changed = False
    for rec in records:
        copy = rec.get("copy")
        hit = rec.get("call_id") in call_ids
        if isinstance(copy, str) and copy.startswith("files/"):
            url = storage.child(base, copy)
            if storage.exists(url, storage_options):
                fs, path = storage.filesystem(url, storage_options)
                lowered = storage.read_bytes(fs, path).lower()
                hit = hit or any(n in lowered for n in needles)
                if hit:
                    fs.rm(path)
                    removed += 1
        if hit:
            rec.update({"copy": "removed by an erasure request", "message": "removed by an erasure request"})
            changed = True
    if changed:
        storage.write_jsonl(records_url, records, storage_options)
    snapshots = 0
    for url, rel in storage.iter_files(storage.join(base, "validation"), storage_options):
        if not rel.endswith(".parquet"):
            continue
        ids = set(layout.read_parquet(url, storage_options, columns=["call_id"])["call_id"])
        if ids & call_ids:
            fs, path = storage.filesystem(url, storage_options)
            fs.rm(path)
            snapshots += 1
    return removed, snapshots


def _rewrite_day(settings: Settings, day: str, call_ids: set[str], run_id: str) -> dict[str, int]:
    """Publish ``day`` again without ``call_ids``, through staging, the GX gate and the commit protocol."""
    opts = settings.storage_options
    wh = settings.warehouse
    record = commit.read_record(wh, day, opts)
    if record is None:
        return {"calls_removed": 0}
    frames = {t: layout.read_parquet(commit.committed_files(record, t), opts) for t in TABLES
              if commit.committed_files(record, t)}
    calls = frames["calls"][~frames["calls"]["call_id"].isin(call_ids)].reset_index(drop=True)
    utter = frames["utterances"][~frames["utterances"]["call_id"].isin(call_ids)].reset_index(drop=True)
    cards = frames["scorecards"]
    day_run = str(cards["run_id"].iloc[0]) if len(cards) else record["run_id"]
    if len(calls):
        cards = scorecards_table(calls, day, day_run, datetime.now(UTC), run.load_scoring(settings.scoring))
    else:
        cards = cards.iloc[0:0]
    out = {"utterances": utter, "calls": calls, "scorecards": cards}
    # the derived tables: turns of erased calls go; benchmarks are recomputed from the calls that stay;
    # drift holds only label counts per team, no one's words, and stays as the night measured it
    for table in ("coaching_moments", "review_queue"):
        if table in frames:
            out[table] = frames[table][~frames[table]["call_id"].isin(call_ids)].reset_index(drop=True)
    if "benchmarks" in frames:
        out["benchmarks"] = benchmarks_table(calls, day_run) if len(calls) else frames["benchmarks"].iloc[0:0]
    if "drift" in frames:
        out["drift"] = frames["drift"]
    for table in TABLES:  # a day published before a table existed gets it empty: every table is staged
        out.setdefault(table, layout.empty_frame(table))
    for table, frame in out.items():
        layout.write_frame(frame, table, layout.staged_partition_url(wh, run_id, table, day), opts)
    if len(calls):
        run.validate_day(settings, day, run_id)
    details = {k: record.get(k) for k in ("model_version", "precision", "ingest")}
    new = commit.commit_day(wh, run_id, day, {**details, "quarantined": record.get("quarantined"),
                                              "erasure": run_id}, opts, version=run_id)
    commit.write_record(wh, day, {**new, "complete": True}, opts)
    commit.drop_old_versions(wh, day, {run_id}, opts)  # the versions before it still hold the rows
    idx = index_url(wh, day)
    if storage.exists(idx, opts):
        storage.write_jsonl(idx, [r for r in storage.read_jsonl(idx, opts) if r["call_id"] not in call_ids], opts)
    return {"calls_removed": len(frames["calls"]) - len(calls)}


def erase(settings: Settings, *, email: str | None = None, call_id: str | None = None,
          actor: str | None = None) -> dict[str, Any]:
    """Erase one subject everywhere in the warehouse; returns the audit record.

    Raises:
        ConfigError: neither or both of ``email`` and ``call_id``, or a malformed one.
        DayBusyError: a run holds an affected day; the subject is already suppressed, so
            re-running the erasure after that run finishes completes it.
    """
    if (email is None) == (call_id is None):
        raise ConfigError("erase needs exactly one of --email or --call-id")
    kind, value = ("email", email) if email is not None else ("call_id", call_id)
    value = normalise(kind, value)
    opts = settings.storage_options
    wh = settings.warehouse
    layout.check_warehouse(wh, opts)
    digest = subject_hash(privacy.salt(wh, opts), kind, value)
    privacy.suppress(wh, digest, kind, opts)  # first: a run starting now already honours it
    run_id = f"erase-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    days, unindexed = _affected(wh, digest, kind, value, opts)
    rewritten: dict[str, int] = {}
    for day in sorted(days):
        commit.acquire_lease(wh, day, run_id, opts)
        try:
            rewritten[day] = _rewrite_day(settings, day, days[day], run_id)["calls_removed"]
            run.drop_stale_staging(settings, day, run_id)
        finally:
            run.reset_staging(settings, run_id)
            commit.release_lease(wh, day, run_id, opts)
    needles = [value.lower().encode()]
    all_ids = set().union(*days.values()) if days else set()
    if kind == "call_id":
        all_ids.add(value)
    copies = snapshots = 0
    for day in layout.quarantine_days(wh, opts):
        c, s = _scrub_quarantine(wh, day, needles, all_ids, opts)
        copies, snapshots = copies + c, snapshots + s
    reviewed = review.forget_calls(wh, all_ids, opts) if all_ids else 0  # the review loop's labelled turns
    audit = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "by": actor or getpass.getuser(),
             "subject_kind": kind, "subject_hash": digest, "erasure_id": run_id,
             "partitions": sorted(days), "calls_removed": sum(rewritten.values()),
             "quarantine_copies_removed": copies, "validation_snapshots_removed": snapshots,
             "reviewed_turns_removed": reviewed,
             "days_without_index": sorted(unindexed)}
    storage.write_json(privacy.audit_url(wh, run_id), audit, opts)
    log.info("erasure %s: %d calls removed from %d days, %d quarantine copies, %d snapshots", run_id,
             audit["calls_removed"], len(days), copies, snapshots)
    if unindexed and kind == "email":
        log.warning("erasure %s: %d days were published before the participant index existed; re-run them so "
                    "the suppression list applies", run_id, len(unindexed))
    return audit

