"""Errors name their cause in one line, and wrong settings are refused before any expensive work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline import ConfigError, run
from pipeline.orchestration import plan_inputs
from pipeline.settings import Settings, parse_day
from pipeline.warehouse import storage
from pipeline.warehouse.query import QueryError, query

DAY = "2026-11-24"


@pytest.fixture
def model_folder(tmp_path):
    """Enough of a model folder for the preflight check (it only looks for callscore.json)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "callscore.json").write_text("{}")
    return folder


@pytest.fixture
def cheap(tmp_path, model_folder) -> Settings:
    (tmp_path / "landing" / DAY).mkdir(parents=True)
    return Settings(landing=str(tmp_path / "landing"), warehouse=str(tmp_path / "warehouse"),
                    model=str(model_folder), data_docs=str(tmp_path / "docs"))


@pytest.fixture
def no_ingestion(monkeypatch):
    """Fail loudly if a run gets as far as listing the landing zone."""
    def refuse(*_a, **_k):
        raise AssertionError("the landing zone was read before the settings were checked")
    monkeypatch.setattr(storage, "landing_day", refuse)


def test_a_day_out_of_the_calendar_is_told_apart_from_a_malformed_one():
    with pytest.raises(ValueError, match=r"2026-13-45 is YYYY-MM-DD but not a calendar date"):
        parse_day("2026-13-45")
    with pytest.raises(ValueError, match=r"day must be YYYY-MM-DD, got 'yesterday'"):
        parse_day("yesterday")
    assert parse_day(" 2026-11-24 ") == "2026-11-24"


def test_cli_bad_date_is_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--date", "2026-13-45",
                          "--warehouse", str(tmp_path / "wh")], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a calendar date" in lines[0] and "Traceback" not in out.stderr


def test_a_warehouse_that_is_a_file_is_refused_first(cheap, tmp_path, no_ingestion):
    (tmp_path / "wh-file").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"warehouse .*wh-file is a file, not a folder"):
        run.run_day(cheap.with_(warehouse=str(tmp_path / "wh-file")), DAY)


def test_a_missing_roster_names_the_roster_and_its_path(cheap, tmp_path, no_ingestion):
    with pytest.raises(ConfigError, match=r"roster .*nope\.csv does not exist .*CALLSCORE_ROSTER"):
        run.run_day(cheap.with_(roster=str(tmp_path / "nope.csv")), DAY)


def test_a_roster_missing_a_column_names_the_roster_and_the_column(cheap, tmp_path, no_ingestion):
    roster = tmp_path / "roster.csv"
    roster.write_text("rep_id,name\nrep_01,Dana\n")
    with pytest.raises(ConfigError, match=r"roster .*roster\.csv: roster is missing columns \['email'\]"):
        run.run_day(cheap.with_(roster=str(roster)), DAY)


@pytest.mark.parametrize(("content", "problem"), [
    ("{weights: 1}", "is not JSON"),
    (json.dumps({"weights": {"knowledge_probing": 0.5, "trust_commitment": 0.4, "rapport": 0.2,
                             "listening": 0.2}}), "weights must sum to 1"),
    (json.dumps({"probing_minimum": 0.2}), "unknown fields"),
    (json.dumps([1, 2]), "must be a JSON object"),
])
def test_a_bad_scoring_file_is_refused_before_ingestion_naming_the_file(cheap, tmp_path, no_ingestion, content,
                                                                          problem):
    path = tmp_path / "scoring.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=rf"scoring config .*scoring\.json \(setting scoring, CALLSCORE_SCORING\).*"
                                         rf"{problem}"):
        run.run_day(cheap.with_(scoring=str(path)), DAY)


def test_a_missing_model_is_refused_before_ingestion(cheap, tmp_path, no_ingestion):
    with pytest.raises(ConfigError, match=r"model .*no-model is not a callscore model folder"):
        run.run_day(cheap.with_(model=str(tmp_path / "no-model")), DAY)


def test_dag_inputs_turn_bad_params_and_settings_into_a_config_error(cheap, monkeypatch, tmp_path):
    monkeypatch.setenv("CALLSCORE_MODEL", cheap.model)
    monkeypatch.setenv("CALLSCORE_WAREHOUSE", cheap.warehouse)
    settings, day, run_id = plan_inputs({"day": DAY}, None, None, "manual__1")
    assert (day, settings.warehouse) == (DAY, cheap.warehouse) and run_id.startswith(DAY)
    with pytest.raises(ConfigError, match="not a calendar date"):
        plan_inputs({"day": "2026-02-30"}, None, None, "manual__1")
    with pytest.raises(ConfigError, match="shard_size must be >= 1"):
        plan_inputs({"day": DAY, "shard_size": -3}, None, None, "manual__1")
    monkeypatch.setenv("CALLSCORE_SCORING", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match=r"missing\.json .*does not exist"):
        run.plan_day(plan_inputs({"day": DAY}, None, None, "manual__1")[0], DAY, "r1")


def test_query_on_a_warehouse_without_tables_says_which_warehouse_and_tables(tmp_path):
    with pytest.raises(QueryError) as info:
        query(str(tmp_path / "empty"), "SELECT * FROM scorecards")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "empty") in message and "tables: none" in message and "scorecards" in message


def test_query_typo_is_one_line_naming_the_tables(tmp_path):
    from tests.pipeline.test_analyst_tools import _write_day

    warehouse = str(tmp_path / "wh")
    _write_day(warehouse, DAY)
    with pytest.raises(QueryError) as info:
        query(warehouse, "SELEC count(*) FROM calls")
    assert "\n" not in str(info.value)
    assert "tables: utterances, calls, scorecards" in str(info.value) and "syntax error" in str(info.value).lower()


def test_cli_query_error_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "query", "SELECT * FROM scorecards",
                          "--warehouse", str(tmp_path / "nothing")], capture_output=True, text=True)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
