"""Small helpers the DAGs use to turn Airflow's run context into pipeline arguments.

Kept apart from the DAG files so they are plain, testable functions and the DAG
files stay thin and import nothing heavy.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pipeline import ConfigError
from pipeline.settings import Settings, parse_day

STORAGE_PARAMS = ("landing", "warehouse", "model", "roster")
"""Params that name a storage location: checked against the deployment, never trusted (SECURITY.md)."""
KNOB_PARAMS = ("shard_size",)
PARAM_KEYS = (*STORAGE_PARAMS, *KNOB_PARAMS)

MODEL_POOL = "callscore_model"
MODEL_POOL_SLOTS = 2


def sources_to_pull(params: dict[str, Any]) -> list[str]:
    """The sources a run pulls: the deployment's (setting ``sources``), none when the ``pull`` param is off.

    Which sources exist and where they live is the deployment's; a run can only skip pulling.
    """
    if params.get("pull") is False:
        return []
    return Settings.load().source_list


def connection_id(source: str) -> str:
    """The Airflow connection holding a source's credentials: ``callscore_gong``, ``callscore_zoom``."""
    from pipeline.sources.config import CONNECTION_IDS

    if source not in CONNECTION_IDS:
        raise ConfigError(f"unknown source {source!r}")
    return CONNECTION_IDS[source]


def source_config(source: str, connection: Any) -> Any:
    """A source's config from an Airflow ``Connection`` (host, login, password, extra)."""
    from pipeline.sources.config import from_connection

    return from_connection(source, connection.host, connection.login, connection.password,
                           connection.extra_dejson or {}, where=f"connection {connection_id(source)}")


def default_params() -> dict[str, Any]:
    """DAG param defaults, from the environment's settings (``CALLSCORE_*``)."""
    s = Settings.load()
    return {"day": "", "landing": s.landing, "warehouse": s.warehouse, "model": s.model, "roster": s.roster,
            "shard_size": s.shard_size, "allow_empty": False}


def settings_from_params(params: dict[str, Any]) -> Settings:
    """Deployment settings (``CALLSCORE_*``) with the run's tuning knobs and, where allowed, locations.

    Anyone who may trigger a run writes its conf, so a storage param is accepted only when it
    repeats the deployment's own value or names a folder under ``CALLSCORE_ALLOWED_PREFIXES``
    (a setting only the environment sets; empty by default, so params cannot move storage at all).

    Raises:
        ConfigError: a storage param outside the allow-list, or a bad knob.
    """
    try:
        base = Settings.load()
        knobs = {k: params.get(k) or None for k in KNOB_PARAMS}
        places = {k: allowed_location(k, str(params[k]), base) for k in STORAGE_PARAMS if params.get(k)}
        return base.with_(**knobs, **places)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _split_url(url: str) -> tuple[str, str]:
    """``(scheme, path)``; local paths (plain or ``file://``) have scheme ``file``."""
    scheme, sep, rest = url.partition("://")
    return (scheme.lower(), rest) if sep else ("file", url)


def allowed_location(key: str, value: str, base: Settings) -> str:
    """``value`` if a run may point ``key`` there.

    Raises:
        ConfigError: not the deployment's value and not below an allowed prefix. ``..`` segments,
            control characters, backslashes and relative local paths are refused outright, never
            normalised, so no spelling reaches outside a prefix.
    """
    if value == getattr(base, key):
        return value
    prefixes = [p.strip() for p in base.allowed_prefixes.split(",") if p.strip()]
    if not prefixes:
        raise ConfigError(f"the {key!r} param may not choose a storage location; it comes from the deployment "
                          f"(CALLSCORE_{key.upper()}); set CALLSCORE_ALLOWED_PREFIXES on the workers to let runs "
                          "choose among locations")
    scheme, path = _split_url(value)
    parts = path.split("/")
    bad = (any(ord(c) < 32 or ord(c) == 127 for c in value) or "\\" in value or ".." in parts or "." in parts
           or (scheme == "file" and not path.startswith("/")))
    if not bad:
        for prefix in prefixes:
            p_scheme, p_path = _split_url(prefix)
            p_path = p_path.rstrip("/")
            if p_scheme == scheme and (path.rstrip("/") == p_path or path.startswith(p_path + "/")):
                return value
    raise ConfigError(f"the {key!r} param {value!r} is not under an allowed prefix (CALLSCORE_ALLOWED_PREFIXES)")


def partition_day(params: dict[str, Any], data_interval_start: datetime | None, run_after: datetime | None) -> str:
    """The call day a run processes.

    An explicit ``day`` param wins; a scheduled or backfill run processes its data
    interval's start day (the run at D+1 02:00 UTC covers day D); a manual or API run
    without an interval processes the UTC day before it was triggered.
    """
    if params.get("day"):
        return parse_day(params["day"])
    if data_interval_start is not None:
        return data_interval_start.date().isoformat()
    if run_after is None:
        raise ValueError("cannot derive the partition day: no 'day' param, data interval or run_after")
    return (run_after - timedelta(days=1)).date().isoformat()


def staging_run_id(day: str, airflow_run_id: str) -> str:
    """A path-safe run id that is stable across task retries of one DAG run."""
    return f"{day}_{re.sub(r'[^A-Za-z0-9_.-]+', '-', airflow_run_id)}"


def plan_inputs(params: dict[str, Any], data_interval_start: datetime | None, run_after: datetime | None,
                airflow_run_id: str) -> tuple[Settings, str, str]:
    """Settings, partition day and staging run id of a DAG run.

    Raises:
        ConfigError: a bad ``day`` param or setting, with the message naming it (``run.plan_day``
            checks the rest of the settings before it reads anything, with the same error).
    """
    day = partition_day(params, data_interval_start, run_after)
    try:
        settings = settings_from_params(params)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return settings, day, staging_run_id(day, airflow_run_id)
