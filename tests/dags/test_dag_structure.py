"""DAG files import fast and cleanly, and have the structure the runbook promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.dags.conftest import REPO

DAG_IDS = ["callscore_maintenance", "callscore_nightly", "callscore_train"]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("dag_file", ["callscore_nightly.py", "callscore_train.py", "callscore_maintenance.py"])
def test_dag_file_imports_fast_without_heavy_modules(dag_file):
    """What keeps a DAG file cheap to parse is importing no heavy module; the time bound is only a gross guard
    (a tenth of Airflow's 30 s parse timeout): exact speed belongs in benchmarks, and a loaded machine (the
    quick tier runs on every core) takes over 2 s to import Airflow itself."""
    heavy_modules = ("torch", "transformers", "pandas", "great_expectations", "pyarrow")
    code = (f"import json, runpy, sys, time; t = time.perf_counter(); "
            f"runpy.run_path({str(REPO / 'dags' / dag_file)!r}); "
            f"print(json.dumps([time.perf_counter() - t, [m for m in {heavy_modules!r} if m in sys.modules]]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert heavy == [], f"{dag_file} imports {heavy} at module level"
    assert seconds < 3.0, f"{dag_file} took {seconds:.2f}s to import"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_common_settings(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "callscore" in dag.tags
    assert dag.doc_md and "callscore" in dag.doc_md
    assert not dag.catchup
    for t in dag.tasks:
        assert t.retries >= 1, f"{dag_id}.{t.task_id} has no retries"
        assert t.owner == "callscore"


def test_nightly_shape(dagbag):
    dag = dagbag.dags["callscore_nightly"]
    assert set(dag.task_ids) == {"sources", "pull", "plan", "shards", "classify", "build", "validate", "publish",
                                 "rescore_late", "report"}
    assert dag.get_task("report").upstream_task_ids == {"publish", "rescore_late"}
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) in ("UTC", "Timezone('UTC')")
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    classify = dag.get_task("classify")
    assert classify.pool == "callscore_model"
    assert classify.retry_exponential_backoff
    assert dag.get_task("build").upstream_task_ids == {"plan", "classify"}
    assert dag.get_task("publish").upstream_task_ids == {"plan", "validate"}
    assert [a.name for a in dag.get_task("publish").outlets] == ["callscore_scorecards"]
    assert set(dag.params.keys()) >= {"day", "landing", "warehouse", "model", "roster", "shard_size"}


def test_maintenance_shape_and_run(dagbag, airflow_db, tmp_path, monkeypatch):
    """Weekly, no params (what to delete is the deployment's call), and a real run removes a dead run's staging."""
    import os

    from airflow.utils.state import DagRunState

    dag = dagbag.dags["callscore_maintenance"]
    assert dag.timetable.expression == "0 4 * * 0"
    assert not dict(dag.params)
    assert set(dag.task_ids) == {"retention"}
    dead = tmp_path / "wh" / "_staging" / "2026-11-20_dead" / "x.parquet"
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b"x")
    os.utime(dead, (0, 0))
    monkeypatch.setenv("CALLSCORE_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("CALLSCORE_DATA_DOCS", str(tmp_path / "docs"))
    dr = dag.test()
    assert dr.state == DagRunState.SUCCESS
    assert not dead.parent.exists()


def test_train_shape(dagbag):
    dag = dagbag.dags["callscore_train"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert set(dag.task_ids) == {"train", "promote_if_better"}
    assert dag.get_task("train").pool == "callscore_model"


@pytest.mark.parametrize("day", ["yesterday", "2026/11/24", "24-11-2026"])
def test_the_day_param_refuses_a_malformed_day_at_trigger_time(dagbag, day):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dagbag.dags["callscore_nightly"].params.get_param("day").resolve(day)
    assert dagbag.dags["callscore_nightly"].params.get_param("day").resolve("2026-11-24") == "2026-11-24"
