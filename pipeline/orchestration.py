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

PARAM_KEYS = ("landing", "warehouse", "model", "roster", "shard_size")

MODEL_POOL = "callscore_model"
MODEL_POOL_SLOTS = 2


def default_params() -> dict[str, Any]:
    """DAG param defaults, from the environment's settings (``CALLSCORE_*``)."""
    s = Settings.load()
    return {"day": "", "landing": s.landing, "warehouse": s.warehouse, "model": s.model, "roster": s.roster,
            "shard_size": s.shard_size, "allow_empty": False}


def settings_from_params(params: dict[str, Any]) -> Settings:
    return Settings.load(**{k: params.get(k) or None for k in PARAM_KEYS})


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
