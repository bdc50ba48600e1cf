"""One day, end to end, as five steps that the CLI runs in a row and the DAG runs as tasks.

plan (ingest + shard) -> classify each shard -> build tables -> validate (GX) -> publish.

Steps talk only through the warehouse's staging area (``_staging/<run_id>/``) and
return small JSON-able dicts, so Airflow passes paths, not data, between tasks.
Nothing is visible to readers until ``publish_day`` writes the day's commit record
(``pipeline.warehouse.commit``); a failure anywhere before it leaves the published day
as it was, and every step can be retried. The plan pins the model (folder, version,
precision) for every later step and takes the day's lease, so one run at a time works
on a day.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import ConfigError, DayBusyError
from pipeline.model import META_FILE
from pipeline.schemas import INSIGHT_TABLES, TABLES
from pipeline.scoring.metrics import (
    ScoringConfig,
    attach_labels,
    calls_table,
    previous_customer_turn,
    scorecards_table,
    turns_frame,
)
from pipeline.settings import Settings, parse_day
from pipeline.transcripts import redact
from pipeline.transcripts.ingest import IngestStats, Roster, iter_day, parse_roster
from pipeline.transcripts.subjects import Suppression, index_rows
from pipeline.warehouse import commit, landing, layout, privacy, storage

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def new_run_id(day: str) -> str:
    return f"{day}_{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def reset_staging(settings: Settings, run_id: str) -> None:
    """Drop the run's staging area: before planning, and after a successful publish.

    A DAG run keeps its staging id across retries, clears and reprocessing, so
    without the reset at plan time a re-run after a failed try would also build
    from the old try's shards and quarantine copies.
    """
    storage.remove_tree(layout.staging_url(settings.warehouse, run_id), settings.storage_options)


def plan_day(settings: Settings, day: str, run_id: str, allow_empty: bool = False,
             single_process: bool = False) -> dict[str, Any]:
    """Ingest the day's landing folder into shards of canonical turns; stage the quarantine.

    Calls stream into shards of ``shard_size`` calls (more on a day large enough to need over ``max_shards``
    of them: the shard count, i.e. the mapped classify tasks, is bounded), so memory holds one shard at a time;
    quarantine copies stream to staging file by file, up to ``max_quarantine_bytes`` a day.

    Raises:
        ConfigError: a wrong setting, a missing landing root or day folder, or a day that
            would replace published calls with none (unless ``allow_empty``).
        DayBusyError: another run holds the day.
    """
    day = parse_day(day)
    opts = settings.storage_options
    roster = preflight(settings)
    try:
        source = storage.landing_day(settings.landing, day, opts)
    except storage.MissingLandingError as exc:
        raise ConfigError(str(exc)) from exc
    check_pulled(settings, day)
    commit.acquire_lease(settings.warehouse, day, run_id, opts, single_process=single_process)
    try:
        return _plan_held(settings, day, run_id, source, roster, allow_empty)
    except ConfigError:  # a retry of this run cannot fix it: free the day for a corrected run at once
        commit.release_lease(settings.warehouse, day, run_id, opts)
        raise


def _plan_held(settings: Settings, day: str, run_id: str, source: storage.LandingDay, roster: Roster | None,
               allow_empty: bool) -> dict[str, Any]:
    from pipeline.model.classify import resolve_model

    opts = settings.storage_options
    try:
        model = resolve_model(settings.model, settings.precision)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"model {settings.model} cannot be pinned for this run: {exc}") from exc
    reset_staging(settings, run_id)
    drop_stale_staging(settings, day, run_id)
    stats = IngestStats()
    shards: list[str] = []
    shard_size = day_shard_size(settings.shard_size, len(source.files), settings.max_shards)
    buffer = []
    records: list[dict] = []
    copied_bytes = 0

    def flush() -> None:
        if buffer:
            url = layout.staging_url(settings.warehouse, run_id, "shards", f"shard-{len(shards):05d}.parquet")
            layout.write_parquet(turns_frame(buffer), url, opts)
            shards.append(url)
            buffer.clear()

    published = layout.published_call_ids(settings.warehouse, exclude_day=day, storage_options=opts)
    suppression = Suppression(privacy.salt(settings.warehouse, opts), privacy.suppressed(settings.warehouse, opts))
    index: list[dict] = []
    for item in iter_day(source, max_file_bytes=settings.max_file_bytes, max_turn_words=settings.max_turn_words,
                         roster=roster, stats=stats, merge_gap_s=settings.merge_gap_s,
                         max_unknown_share=settings.max_unknown_share, published=published,
                         suppress=suppression.covers):
        if item.call is not None:
            buffer.append(item.call)
            index.extend(index_rows([item.call], suppression.salt))
            if len(buffer) >= shard_size and len(shards) < settings.max_shards - 1:
                flush()  # the last shard allowed takes the rest: a day never maps more than max_shards tasks
            continue
        record = {**item.quarantined.to_dict(), "date": day, "run_id": run_id}
        copies = ((item.quarantined.file, item.raw), *item.companions) if item.raw is not None else ()
        size = sum(len(data) for _, data in copies)
        if copies and copied_bytes + size > settings.max_quarantine_bytes:
            record["copy"] = (f"skipped: the day's quarantine copies reached max_quarantine_bytes "
                              f"({settings.max_quarantine_bytes} bytes, CALLSCORE_MAX_QUARANTINE_BYTES)")
            copies = ()
        q_files = layout.staging_url(settings.warehouse, run_id, "quarantine", "files")
        for rel, data in copies:
            storage.write_bytes_atomic(storage.child(q_files, layout.quarantine_copy_name(rel)), data, opts)
            copied_bytes += len(data)
        if copies:
            record["copy"] = "files/" + layout.quarantine_copy_name(item.quarantined.file)
        records.append(record)
    flush()
    storage.write_jsonl(layout.staging_url(settings.warehouse, run_id, "quarantine", "records.jsonl"), records, opts)
    storage.write_jsonl(layout.staging_url(settings.warehouse, run_id, "index.jsonl"), index, opts)
    if not stats.balanced():
        raise RuntimeError(f"ingestion lost files: {stats}")
    before = commit.published_calls(commit.read_record(settings.warehouse, day, opts))
    if stats.calls_parsed == 0 and before and not allow_empty:
        raise ConfigError(f"{day} has {before} published calls and this run found none in {settings.landing}/{day}/ "
                          f"({stats.files_seen} files, {len(records)} quarantined); replacing a published day with "
                          "an empty one needs --allow-empty (DAG param allow_empty)")
    log.info("planned %s: %d files, %d calls in %d shards of %d, %d quarantined (%s); model %s at %s", day,
             stats.files_seen, stats.calls_parsed, len(shards), shard_size, len(records), stats.by_kind,
             model["version"], model["precision"])
    if len(shards) == settings.max_shards and stats.calls_parsed > shard_size * settings.max_shards:
        log.warning("%s: the last shard holds %d calls: the day has more calls than its %d files suggested "
                    "(multi-call exports); raise shard_size or max_shards", day,
                    stats.calls_parsed - shard_size * (settings.max_shards - 1), len(source.files))
    attempt = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"  # a cleared, re-run DAG run publishes anew
    return {"day": day, "run_id": run_id, "shards": shards, "shard_size": shard_size, "stats": asdict(stats),
            "quarantined": len(records),
            "model": model, "allow_empty": allow_empty, "attempt": attempt}


def day_shard_size(shard_size: int, files: int, max_shards: int) -> int:
    """Calls per shard for a day of ``files`` landing files: ``shard_size``, or more when the day would map
    more than ``max_shards`` classify tasks (a file holds at most one call in every format but Gong's)."""
    return max(shard_size, -(-files // max_shards))


def drop_stale_staging(settings: Settings, day: str, run_id: str) -> list[str]:
    """Remove what failed or skipped runs left in ``_staging/``: other runs of this day, and any run older
    than a lease lasts (no live run can still be using it). Runs under the day's lease, so nothing removed
    here belongs to a run in progress."""
    fs, root = storage.filesystem(storage.join(settings.warehouse, "_staging"), settings.storage_options)
    if not fs.exists(root):
        return []
    dropped = []
    cutoff = time.time() - commit.LEASE_TTL_S
    for entry in fs.ls(root, detail=True):
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if name == run_id:
            continue
        mtime = storage.modified(entry)
        old = mtime is not None and mtime < cutoff
        if name.startswith(f"{day}_") or old:
            fs.rm(entry["name"], recursive=True)
            dropped.append(name)
    if dropped:
        log.info("removed staging of runs that did not finish: %s", ", ".join(sorted(dropped)))
    return dropped


def load_roster(url: str, storage_options: str | dict | None = None) -> Roster | None:
    """The roster CSV at ``url`` (none when the setting is empty); errors name the roster and its URL."""
    if not url:
        return None
    try:
        return parse_roster(storage.read_text(url, storage_options))
    except FileNotFoundError as exc:
        raise ConfigError(f"roster {url} does not exist (setting roster, CALLSCORE_ROSTER or --roster)") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"roster {url}: {exc}") from exc


def load_scoring(path: str) -> ScoringConfig:
    """The scoring config file (``CALLSCORE_SCORING``), or the defaults; errors name the file."""
    if not path:
        return ScoringConfig()
    where = f"scoring config {path} (setting scoring, CALLSCORE_SCORING)"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{where} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not JSON: {exc}") from exc
    try:
        return ScoringConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def check_pulled(settings: Settings, day: str) -> None:
    """A day is planned only when every configured source's pull of it completed (its manifest says so).

    Raises:
        ConfigError: a source never pulled the day, or its pull did not finish; the message names
            each and the command that pulls it.
    """
    missing = landing.incomplete_sources(settings.landing, day, settings.source_list, settings.storage_options)
    if missing:
        raise ConfigError(f"{day} is not completely pulled: " + "; ".join(
            f"{s}: {why} (callscore pull --source {s} --date {day})" for s, why in missing.items()))


def preflight(settings: Settings) -> Roster | None:
    """Check every setting that can be checked cheaply, before a run reads a single transcript.

    A wrong setting found after ingesting and classifying a whole day wastes the night;
    each check here names the setting and the value at fault.

    Returns:
        The parsed roster (None without one).

    Raises:
        ConfigError: the first wrong setting.
    """
    load_scoring(settings.scoring)
    try:
        layout.check_warehouse(settings.warehouse, settings.storage_options)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if not Path(settings.model, META_FILE).is_file():
        raise ConfigError(f"model {settings.model} is not a callscore model folder (no {META_FILE}; setting "
                          "model, CALLSCORE_MODEL or --model); train one with `make model`")
    return load_roster(settings.roster, settings.storage_options)


@functools.lru_cache(maxsize=2)
def _classifier(model: str, batch_size: int, threads: int, precision: str, meta_sha256: str | None = None):
    from pipeline.model.classify import Classifier

    return Classifier(model, batch_size=batch_size, threads=threads, precision=precision, meta_sha256=meta_sha256)


def classify_shard(settings: Settings, run_id: str, shard_url: str, model: dict | None = None) -> dict[str, Any]:
    """Label a shard's rep turns and compute its calls rows; stage both.

    Args:
        model: what the plan pinned (``path``, ``version``, ``precision``); the shard is labelled
            with exactly that, whatever ``current`` points at by now. None resolves it here
            (a single shard run outside a planned day).

    Raises:
        RuntimeError: the pinned folder no longer holds the pinned version.
    """
    from pipeline.model.classify import resolve_model

    started = time.perf_counter()
    opts = settings.storage_options
    model = model or resolve_model(settings.model, settings.precision)
    turns = layout.read_parquet(shard_url, opts)
    clf = _classifier(model["path"], settings.batch_size, settings.threads, model["precision"],
                      model.get("meta_sha256"))
    if clf.version != model["version"] or clf.precision != model["precision"]:
        raise RuntimeError(f"run {run_id} planned model {model['version']} at {model['precision']}, but "
                           f"{model['path']} loads {clf.version} at {clf.precision}")
    rep = turns["speaker_role"] == "rep"
    context = previous_customer_turn(turns)
    preds = clf.predict(turns.loc[rep, "text"].tolist(), context[rep].tolist())
    labelled = attach_labels(turns, preds.labels, preds.probs, clf.version, clf.precision, run_id)
    from pipeline.scoring.coaching import coaching_candidates
    from pipeline.scoring.review import review_candidates

    scoring = load_scoring(settings.scoring)
    # metrics and coaching rules read the words as said; only the published text is redacted
    calls = calls_table(labelled, scoring.evidence.low_confidence)
    coaching = coaching_candidates(labelled, scoring.coaching, quote_customer=settings.customer_text != "drop")
    calls["title"] = redact.redact_titles(calls["call_id"], calls["title"], labelled, settings.customer_text)
    labelled = redact.redact_frame(labelled, settings.customer_text)
    coaching = _published_text(coaching, labelled)
    # the control sample's key needs no day: a call id belongs to one day, and a re-run of the day under
    # another run id must queue the same turns
    review = review_candidates(labelled, scoring.review, day="")
    name = shard_url.rsplit("/", 1)[-1].removesuffix(".parquet")
    out = layout.staging_url(settings.warehouse, run_id, "classified", name)
    layout.write_parquet(labelled, storage.join(out, "utterances.parquet"), opts)
    layout.write_parquet(calls, storage.join(out, "calls.parquet"), opts)
    layout.write_parquet(coaching, storage.join(out, "coaching.parquet"), opts)
    layout.write_parquet(review, storage.join(out, "review.parquet"), opts)
    n_calls, n_turns, n_rep = len(calls), len(turns), int(rep.sum())
    model_s, forward_s = preds.seconds, preds.forward_seconds
    del turns, labelled, calls, coaching, review, preds, context, rep
    _return_freed_memory()
    seconds = time.perf_counter() - started
    log.info("shard %s: %d calls, %d turns (%d rep) in %.1fs: %.0f rep turns/s, %.0f%% in the model", name,
             n_calls, n_turns, n_rep, seconds, n_rep / max(seconds, 1e-9), 100 * model_s / seconds)
    return {"shard": name, "calls": n_calls, "turns": n_turns, "rep_turns": n_rep,
            "seconds": round(seconds, 2), "model_seconds": round(model_s, 2),
            "forward_seconds": round(forward_s, 3), "model_version": clf.version,
            "precision": clf.precision, "precision_reason": model.get("precision_reason", clf.precision_reason)}


def _return_freed_memory() -> None:
    """Hand the heap a shard freed back to the OS.

    glibc keeps freed arenas for reuse, so without this one process that labels shard after shard
    (``callscore run``) holds the peak of its largest shard for the rest of the day, and the merge
    and the gate then come on top of it.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _published_text(moments: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The moments' ``text`` as the utterances table publishes it (redacted per ``customer_text``)."""
    if not len(moments):
        return moments
    keys = ["call_id", "utterance_index"]
    texts = published[[*keys, "text"]].rename(columns={"text": "_published"})
    merged = moments.merge(texts, on=keys, how="left")
    merged["text"] = merged.pop("_published")
    return merged


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def baseline_calls(settings: Settings, day: str, days: int) -> pd.DataFrame:
    """The published calls rows of the ``days`` days before ``day`` (the drift alarm's baseline).

    Only the columns the drift alarm reads are kept, so 28 days of calls rows stay small; a day
    published before a column existed simply lacks it (the alarm skips that metric's rows).
    """
    from datetime import timedelta

    from pipeline.scoring.drift import INPUT_COLUMNS, REQUIRED_COLUMNS

    opts = settings.storage_options
    start = (date.fromisoformat(day) - timedelta(days=days)).isoformat()
    wanted = [*REQUIRED_COLUMNS, *INPUT_COLUMNS]
    frames = []
    for record in commit.committed_records(settings.warehouse, opts):
        url = commit.committed_files(record, "calls")
        if url is None or not start <= str(record.get("day")) < day:
            continue
        frame = layout.read_parquet(url, opts)
        frames.append(frame[[c for c in wanted if c in frame.columns]].assign(date=record["day"]))
    return _concat(frames)


def build_tables(settings: Settings, day: str, run_id: str, expected_calls: int | None = None) -> dict[str, Any]:
    """Merge the classified shards into the day's tables, staged for validation.

    Calls rows are small (one per call) and are held together; utterances stream
    from the shards into one sorted file a batch of reps at a time, so memory does
    not grow with the day. The derived tables (coaching moments, benchmarks, drift,
    review queue) come from the calls rows and the shards' bounded candidate sets.
    """
    from pipeline.scoring.benchmarks import benchmarks_table
    from pipeline.scoring.coaching import select_moments
    from pipeline.scoring.drift import drift_table
    from pipeline.scoring.review import select_queue

    opts = settings.storage_options
    commit.acquire_lease(settings.warehouse, day, run_id, opts)  # renew: this run still holds the day
    base = layout.staging_url(settings.warehouse, run_id, "classified")
    urls = [url for url, _ in storage.iter_files(base, opts)]
    utterance_parts = [u for u in urls if u.endswith("/utterances.parquet")]
    calls_parts = [layout.read_parquet(u, opts) for u in urls if u.endswith("/calls.parquet")]
    calls = pd.concat(calls_parts, ignore_index=True) if calls_parts else layout.empty_frame("calls")
    if expected_calls is not None and len(calls) != expected_calls:
        raise RuntimeError(f"{expected_calls} calls were ingested but {len(calls)} were classified")
    scoring = load_scoring(settings.scoring)
    empty = layout.empty_frame
    scorecards = scorecards_table(calls, day, run_id, datetime.now(UTC), scoring) if len(calls) else empty(
        "scorecards")
    coaching = _concat([layout.read_parquet(u, opts) for u in urls if u.endswith("/coaching.parquet")])
    review = _concat([layout.read_parquet(u, opts) for u in urls if u.endswith("/review.parquet")])
    model_version = ",".join(sorted(calls["model_version"].unique())) if len(calls) else ""
    insights = {
        "coaching_moments": select_moments(coaching, scoring.coaching) if len(coaching) else empty(
            "coaching_moments"),
        "benchmarks": benchmarks_table(calls, run_id) if len(calls) else empty("benchmarks"),
        "drift": drift_table(calls, baseline_calls(settings, day, scoring.drift.baseline_days), scoring.drift,
                             model_version, run_id) if len(calls) else empty("drift"),
        "review_queue": select_queue(review, scoring.review) if len(review) else empty("review_queue"),
    }
    staged = {t: layout.staged_partition_url(settings.warehouse, run_id, t, day) for t in TABLES}
    counts = {"utterances": layout.merge_sorted("utterances", utterance_parts, staged["utterances"], opts)
              if utterance_parts else layout.write_frame(layout.empty_frame("utterances"), "utterances",
                                                            staged["utterances"], opts)}
    counts["calls"] = layout.write_frame(calls, "calls", staged["calls"], opts)
    counts["scorecards"] = layout.write_frame(scorecards, "scorecards", staged["scorecards"], opts)
    for table, frame in insights.items():
        counts[table] = layout.write_frame(frame, table, staged[table], opts)
    alarms = int((insights["drift"]["status"] == "alarm").sum())  # drift_table logs each one as a warning
    log.info("built %s: %s, %d drift alarm(s)", day, counts, alarms)
    return {"day": day, "run_id": run_id, "rows": counts, "drift_alarms": alarms}


def validate_day(settings: Settings, day: str, run_id: str) -> dict[str, Any]:
    """Run the GX gate on the staged tables; on failure quarantine them and raise.

    Utterances are validated a batch of reps at a time, each batch with its reps'
    calls and scorecards, so every cross-table check stays exact and memory stays
    bounded. The derived tables go whole with the last batch; a drift alarm is a
    warning (returned and logged), never a failure.
    """
    from pipeline.warehouse import quality

    opts = settings.storage_options
    commit.acquire_lease(settings.warehouse, day, run_id, opts)  # renew: this run still holds the day
    staged = {t: layout.staged_partition_url(settings.warehouse, run_id, t, day) for t in TABLES}
    calls = _with_date(layout.read_parquet(staged["calls"], opts), day)
    insights = {t: _with_date(layout.read_parquet(staged[t], opts), day) for t in INSIGHT_TABLES}
    cards = _with_date(layout.read_parquet(staged["scorecards"], opts), day)
    batches = layout.rep_batches([staged["utterances"]], opts) or [[]]
    gate = quality.Gate(settings.data_docs_dir())  # one context for every batch; the site is built once
    reports = []
    for n, reps in enumerate(batches, start=1):
        utter = layout.read_reps([staged["utterances"]], reps, opts) if reps else layout.read_parquet(
            staged["utterances"], opts)
        frames = {"utterances": _with_date(utter, day),
                  "calls": calls[calls.rep_id.isin(reps)].reset_index(drop=True) if reps else calls,
                  "scorecards": cards[cards.rep_id.isin(reps)].reset_index(drop=True) if reps else cards,
                  # the small derived tables, whole, with the last batch (one Data Docs index shows all)
                  **(insights if n == len(batches) else {})}
        report = gate.validate(frames, label=f"reps-{n}-of-{len(batches)}" if len(batches) > 1 else None)
        reports.append(report)
        if not report.success:
            report = replace(report, data_docs_index=gate.build_docs())
            where = layout.quarantine_failed_validation(settings.warehouse, run_id, day, report.to_json(), opts)
            raise quality.ValidationError(f"validation failed for {day}; staged data kept at {where}:\n"
                                          f"{report.summary()}", report)
    # a rep with calls but no utterances (or a scorecard without calls) would escape the per-batch checks
    unmatched = set(calls.rep_id) ^ set(cards.rep_id)
    if unmatched:
        raise quality.ValidationError(f"validation failed for {day}: reps {sorted(unmatched)} are not in both "
                                      "calls and scorecards", reports[-1])
    warnings = [w.describe() for r in reports for w in r.warnings]
    docs = gate.build_docs()
    log.info("validated %s in %d batch(es): %s (Data Docs: %s)", day, len(batches),
             {t: s["rows"] for r in reports for t, s in r.statistics.items()}, docs)
    return {"day": day, "run_id": run_id, "success": True, "data_docs": docs, "warnings": warnings}


def _with_date(frame: pd.DataFrame, day: str) -> pd.DataFrame:
    if "date" not in frame.columns:
        frame.insert(0, "date", day)
    return frame


def publish_day(settings: Settings, day: str, run_id: str, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """Publish the run's staged day with the commit protocol (``pipeline.warehouse.commit``).

    Idempotent: a retry after a crash at any point finishes the publish, and a run whose
    record is already complete returns it unchanged.
    """
    opts = settings.storage_options
    wh = settings.warehouse
    commit.acquire_lease(wh, day, run_id, opts)
    version = f"{run_id}.{plan['attempt']}" if plan and plan.get("attempt") else run_id
    record = commit.read_record(wh, day, opts)
    if record is None or record.get("version") != version or not record.get("complete"):
        model = (plan or {}).get("model") or {}
        q_records = storage.read_jsonl(layout.staging_url(wh, run_id, "quarantine", "records.jsonl"), opts)
        record = commit.commit_day(wh, run_id, day, {"model_version": model.get("version"),
                                                     "precision": model.get("precision"),
                                                     "quarantined": len(q_records),
                                                     "ingest": (plan or {}).get("stats")}, opts, version=version)
        layout.publish_quarantine(wh, day, layout.staging_url(wh, run_id, "quarantine"), opts)
        staged_index = layout.staging_url(wh, run_id, "index.jsonl")  # who took part, hashed: for erasure
        if storage.exists(staged_index, opts):
            storage.copy_object(staged_index, privacy.index_url(wh, day), opts)
        record = {**record, "complete": True}
        commit.write_record(wh, day, record, opts)
    # the tail is idempotent too: a retry after a crash here finishes it
    commit.drop_old_versions(wh, day, {version, record.get("previous_version") or version}, opts)
    reset_staging(settings, run_id)
    commit.release_lease(wh, day, run_id, opts)
    log.info("published %s (run %s): %d quarantined", day, run_id, record["quarantined"])
    return record


def collect_garbage(settings: Settings, older_than: int | None = None, today: date | None = None) -> dict[str, Any]:
    """Retention over the warehouse and its Data Docs (``pipeline.warehouse.retention``).

    Args:
        older_than: days, overriding both retention settings for this run (``callscore gc --older-than``).
        today: the day ages count from (tests); the current UTC day by default.
    """
    from pipeline.warehouse import retention

    if older_than is not None and older_than < 0:
        raise ConfigError(f"--older-than must be 0 or more days, got {older_than}")
    out = retention.collect(
        settings.warehouse, today=today or datetime.now(UTC).date(),
        quarantine_days=settings.quarantine_retention_days if older_than is None else older_than,
        docs_days=settings.docs_retention_days if older_than is None else older_than,
        staging_idle_s=commit.LEASE_TTL_S, docs_dir=settings.data_docs_dir(), storage_options=settings.storage_options)
    return out.to_dict()


def run_day(settings: Settings, day: str | date, run_id: str | None = None, allow_empty: bool = False
            ) -> dict[str, Any]:
    """Plan, classify every shard, build, validate and publish one day in this process.

    The day's lease is released when the run fails here (no retry will come to finish it);
    a killed process leaves it, and the next run on this host takes it over at once.
    """
    started = time.perf_counter()
    day = parse_day(day)
    run_id = run_id or new_run_id(day)
    steps: dict[str, float] = {}  # seconds per step: where a day's time goes, for the e2e benchmark
    try:
        with _timed(steps, "plan"):
            plan = plan_day(settings, day, run_id, allow_empty=allow_empty, single_process=True)
        with _timed(steps, "classify"):
            shard_results = [classify_shard(settings, run_id, url, plan["model"]) for url in plan["shards"]]
        with _timed(steps, "build"):
            built = build_tables(settings, day, run_id, expected_calls=plan["stats"]["calls_parsed"])
        with _timed(steps, "validate"):
            validate_day(settings, day, run_id)
        with _timed(steps, "publish"):
            summary = publish_day(settings, day, run_id, plan)
    except DayBusyError:
        raise  # another run holds the day: not ours to free
    except BaseException:
        try:  # best effort: the run's own error is what the caller must see
            commit.release_lease(settings.warehouse, day, run_id, settings.storage_options)
        except OSError as exc:
            log.warning("could not free the lease on %s: %s", day, exc)
        raise
    seconds = time.perf_counter() - started
    rep_turns = sum(s["rep_turns"] for s in shard_results)
    model_s = sum(s["model_seconds"] for s in shard_results)
    forward_s = sum(s["forward_seconds"] for s in shard_results)
    summary = {**summary, "rows": built["rows"], "seconds": round(seconds, 2), "rep_turns": rep_turns,
               "rep_turns_per_s": round(rep_turns / max(seconds, 1e-9), 1),
               "model_seconds": round(model_s, 2), "forward_seconds": round(forward_s, 2),
               "outside_forward_share": round(1 - forward_s / max(seconds, 1e-9), 3),
               "step_seconds": steps, "peak_rss_mb": peak_rss_mb()}
    log.info("day %s done in %.1fs: %s", day, seconds, built["rows"])
    return summary


@contextlib.contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = round(time.perf_counter() - started, 2)


def summarize(settings: Settings) -> str:
    """The text ``make run`` prints: published days from their run records, totals, a per-rep table."""
    from pipeline.scoring.summary import PER_REP_SQL, TOTALS_SQL, summary_text
    from pipeline.warehouse.query import query

    opts = settings.storage_options
    runs = [storage.read_json(url, opts) for url, _ in storage.iter_files(storage.join(settings.warehouse, "_runs"),
                                                                            opts)]
    if not runs:
        return summary_text([], None, None, settings.warehouse, settings.data_docs_dir())
    index = Path(settings.report_dir(), "index.html")
    return summary_text(runs, query(settings.warehouse, TOTALS_SQL, opts), query(settings.warehouse, PER_REP_SQL, opts),
                        settings.warehouse, settings.data_docs_dir(), str(index) if index.is_file() else None)
