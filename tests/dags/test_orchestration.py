"""Which day a run processes, and how params become settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.orchestration import partition_day, settings_from_params, staging_run_id


def test_scheduled_run_processes_its_interval_start():
    start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert partition_day({}, start, datetime(2026, 11, 25, 2, 0, tzinfo=UTC)) == "2026-11-24"


def test_manual_run_without_interval_processes_the_day_before():
    assert partition_day({"day": ""}, None, datetime(2026, 11, 25, 9, 30, tzinfo=UTC)) == "2026-11-24"


def test_explicit_day_param_wins():
    start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert partition_day({"day": "2026-10-01"}, start, start) == "2026-10-01"


def test_bad_day_param_is_refused():
    with pytest.raises(ValueError):
        partition_day({"day": "yesterday"}, None, None)
    with pytest.raises(ValueError, match="cannot derive"):
        partition_day({}, None, None)


def test_params_override_settings_and_blank_falls_through(monkeypatch):
    monkeypatch.setenv("CALLSCORE_WAREHOUSE", "s3://bucket/wh")
    monkeypatch.setenv("CALLSCORE_ALLOWED_PREFIXES", "file:///data")
    s = settings_from_params({"landing": "file:///data/landing", "warehouse": "", "shard_size": 0})
    assert s.landing == "file:///data/landing" and s.warehouse == "s3://bucket/wh" and s.shard_size == 200


def test_staging_run_id_is_path_safe():
    assert staging_run_id("2026-11-24", "scheduled__2026-11-25T02:00:00+00:00") == \
        "2026-11-24_scheduled__2026-11-25T02-00-00-00-00"
