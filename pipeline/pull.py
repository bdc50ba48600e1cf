"""The first stage of a night: pull the day's calls from each configured source into the landing zone.

``pull_recent`` pulls day D and re-checks the ``late_days`` days before it, because
transcripts often appear hours after a call ends (Gong lists a call before its transcript is
ready; a Zoom recording is still processing). A re-checked day whose files changed is
flagged in its manifest (``needs_rescore``) and ``rescore_late`` re-scores it through the
normal commit path (``run.run_day``), then clears the flag, so a retry after a failure
re-scores exactly the days still flagged.

Every file write and the manifest go through ``pipeline.warehouse.landing``; the API calls
through ``pipeline.sources``.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline import SOURCES, ConfigError
from pipeline.settings import Settings, parse_day
from pipeline.sources import api, config
from pipeline.sources.http import DailyBudget, RateLimiter
from pipeline.warehouse import landing

log = logging.getLogger(__name__)


def pull_day(settings: Settings, source: str, day: str, source_config: Any, *, recheck: bool = False,
             limiter: RateLimiter | None = None, transport: Any = None,
             backoff_s: float = 1.0) -> dict[str, Any]:
    """Pull one day of one source into ``<landing>/<day>/<source>/`` and write its manifest.

    Args:
        recheck: this is a late-arrival re-check of an earlier day: a change flags it for re-scoring.
        transport: tests only (an httpx transport instead of the network).

    Returns:
        The manifest written (JSON-able): call ids, counts, window, cursors, which calls were added.

    Raises:
        SourceConfigError: missing or refused credentials (no retry helps).
        SourceError / QuotaError: the API failed or the daily budget is spent (the task retries later).
    """
    day = parse_day(day)
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    opts = settings.storage_options
    previous = landing.read_manifest(settings.landing, day, source, opts)
    known = set((previous or {}).get("calls") or [])
    pulled_before = previous is not None and bool(previous.get("finished_at"))  # a pull of this day completed once
    started = datetime.now(UTC).isoformat(timespec="seconds")
    # Readers of the day (plan) see "incomplete" until every file is written; what was known carries over.
    landing.write_manifest(settings.landing, day, source, {
        **(previous or {}), "source": source, "day": day, "complete": False, "started_at": started}, opts)
    utc_day = datetime.now(UTC).date().isoformat()
    budget = DailyBudget(limit=source_config.daily_limit, reserve=source_config.daily_reserve,
                         used=landing.requests_used(settings.warehouse, source, utc_day, opts), utc_day=utc_day)
    try:
        result = api.pull(source_config, day, budget, limiter=limiter, transport=transport, backoff_s=backoff_s)
    finally:  # requests made count against the day's budget even when the pull failed
        landing.record_requests(settings.warehouse, source, budget.utc_day, budget.used, opts)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    changed_calls: set[str] = set()
    for f in result.files:
        outcome = landing.write_call_file(settings.landing, day, source, f.rel, f.data, opts)
        counts[outcome] += 1
        if outcome != "unchanged":
            changed_calls.add(f.call_id)
    calls = result.call_ids
    added = sorted(set(calls) - known) if pulled_before else calls
    updated = sorted(changed_calls - set(added))
    changed = bool(set(added) | set(updated))
    flag = bool((previous or {}).get("needs_rescore")) or (recheck and pulled_before and changed)
    manifest = {
        "source": source, "day": day, "complete": True, "started_at": started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "window": result.window, "cursors_exhausted": result.cursors,
        "calls": calls, "pending": sorted(result.pending),
        "missing_at_source": sorted(known - set(calls)),  # kept in the landing zone; the source no longer lists them
        "added_calls": added, "updated_calls": updated,
        "counts": {"calls": len(calls), "files": len(result.files), "pending": len(result.pending), **counts},
        "requests": result.requests, "warnings": result.warnings,
        "needs_rescore": flag, "rescore_reason": _reason(previous, added, updated) if flag else "",
    }
    landing.write_manifest(settings.landing, day, source, manifest, opts)
    log.info("pulled %s %s: %d call(s) (%d added, %d updated), %d pending, %d request(s)%s", source, day, len(calls),
             len(added), len(updated), len(result.pending), result.requests,
             "; flagged for re-scoring" if flag and not (previous or {}).get("needs_rescore") else "")
    if added and pulled_before:
        log.info("%s %s: calls added late: %s", source, day, ", ".join(added))
    return manifest


def _reason(previous: dict | None, added: list[str], updated: list[str]) -> str:
    if previous and previous.get("needs_rescore"):
        return previous.get("rescore_reason") or "flagged earlier"
    return f"{len(added)} call(s) added, {len(updated)} updated after the day was pulled"


def recheck_days(day: str, late_days: int) -> list[str]:
    """The earlier days a night re-checks for late calls, newest first."""
    d = date.fromisoformat(parse_day(day))
    return [(d - timedelta(days=i)).isoformat() for i in range(1, late_days + 1)]


def pull_recent(settings: Settings, source: str, day: str, source_config: Any | None = None, *,
                transport: Any = None, backoff_s: float = 1.0) -> dict[str, Any]:
    """Pull ``day`` and re-check the ``late_days`` before it; what the nightly pull task runs.

    ``source_config`` comes from the caller (the DAG reads an Airflow connection); without it the
    ``CALLSCORE_<SOURCE>_*`` environment variables are read.
    """
    day = parse_day(day)
    source_config = source_config or config.from_env(source)
    limiter = RateLimiter(source_config.rate_per_s)  # one for the night's pulls of this source
    manifests = {day: pull_day(settings, source, day, source_config, limiter=limiter, transport=transport,
                               backoff_s=backoff_s)}
    for earlier in recheck_days(day, settings.late_days):
        manifests[earlier] = pull_day(settings, source, earlier, source_config, recheck=True, limiter=limiter,
                                      transport=transport, backoff_s=backoff_s)
    return {"source": source, "day": day,
            "days": {d: {k: m[k] for k in ("counts", "added_calls", "pending", "needs_rescore")}
                     for d, m in manifests.items()},
            "rescore": sorted(d for d, m in manifests.items() if d != day and m["needs_rescore"])}


def rescore_late(settings: Settings, day: str) -> list[dict[str, Any]]:
    """Re-score every re-checked day a pull flagged, through the normal commit path, then clear the flags.

    Returns one summary per re-scored day (the day, the calls added late, the published counts).
    """
    from pipeline import run

    sources = settings.source_list
    out = []
    for earlier in sorted(recheck_days(day, settings.late_days)):
        flagged = {s: m for s in sources
                   if (m := landing.read_manifest(settings.landing, earlier, s, settings.storage_options))
                   and m.get("needs_rescore")}
        if not flagged:
            continue
        added = sorted(c for m in flagged.values() for c in m.get("added_calls") or [])
        log.info("re-scoring %s: %s", earlier, "; ".join(f"{s}: {m.get('rescore_reason')}" for s, m in flagged.items()))
        summary = run.run_day(settings, earlier)
        for s, m in flagged.items():
            landing.write_manifest(settings.landing, earlier, s, {
                **m, "needs_rescore": False, "rescored_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "rescored_run_id": summary.get("run_id")}, settings.storage_options)
        log.info("re-scored %s: %d call(s) added late (%s)", earlier, len(added), ", ".join(added) or "updates only")
        out.append({"day": earlier, "added_calls": added, "run_id": summary.get("run_id"),
                    "calls": summary.get("rows", {}).get("calls")})
    return out
