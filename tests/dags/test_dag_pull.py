"""The nightly DAG pulls its calls: ``dag.test()`` against the fake Gong and Zoom servers.

Night 1 pulls day D1 (one Gong transcript not ready yet) and publishes it; night 2 pulls D2,
re-checks D1, finds the late call and re-scores D1 through the normal commit path. Credentials
reach the tasks only as Airflow connections (``AIRFLOW_CONN_CALLSCORE_*``) and appear in no log.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.devtools import sample
from pipeline.devtools.fake_sources import FakeSources
from tests.dags.conftest import REPO

D1, D2 = "2026-11-22", "2026-11-23"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_pull_comes_first_and_plan_runs_without_sources(dagbag):
    dag = dagbag.dags["callscore_nightly"]
    assert {"sources", "pull", "rescore_late"} <= set(dag.task_ids)
    assert dag.get_task("plan").upstream_task_ids == {"pull"}
    assert dag.get_task("plan").trigger_rule == "none_failed"  # a skipped (empty) pull lets plan run
    assert dag.get_task("rescore_late").upstream_task_ids == {"publish"}
    assert dag.get_task("rescore_late").pool == "callscore_model"
    assert dag.params["pull"] is True


def _logical(day: str):
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), UTC).replace(hour=2)


@pytest.mark.slow
def test_nightly_pulls_scores_and_rescores_a_late_call(dagbag, airflow_db, model_dir, tmp_path, monkeypatch,
                                                       caplog, capfd):
    from airflow.utils.state import DagRunState

    from pipeline.settings import Settings
    from pipeline.warehouse.query import query

    model = shutil.copytree(model_dir, tmp_path / "model")
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    landing.mkdir()
    dag = dagbag.dags["callscore_nightly"]
    for task in dag.tasks:
        task.retries = 0
    with FakeSources([D1, D2], calls_per_day=6) as fk:
        late = sorted(i for i in fk.gong.calls if i.startswith("7261122"))[0]
        fk.gong.hidden.add(late)
        for source in ("gong", "zoom"):
            monkeypatch.setenv(f"AIRFLOW_CONN_CALLSCORE_{source.upper()}", json.dumps(fk.connection(source)))
        monkeypatch.setenv("CALLSCORE_SOURCES", "gong,zoom")
        monkeypatch.setenv("CALLSCORE_LATE_DAYS", "1")
        monkeypatch.setenv("CALLSCORE_DATA_DOCS", str(tmp_path / "docs"))
        # the deployment's roster, not the one `make` points at in the checkout (absent in a fresh clone)
        sample.write_roster(str(landing / "roster.csv"))
        monkeypatch.setenv("CALLSCORE_ROSTER", str(landing / "roster.csv"))
        conf = {"landing": str(landing), "warehouse": str(warehouse), "model": str(model)}

        with caplog.at_level(logging.INFO):
            dr = dag.test(logical_date=_logical(D1), run_conf=conf)
            assert dr.state == DagRunState.SUCCESS, [(t.task_id, t.map_index, t.state) for t in dr.get_task_instances()]
            assert sorted(t.map_index for t in dr.get_task_instances() if t.task_id == "pull") == [0, 1]
            first = query(str(warehouse), f"SELECT call_id FROM calls WHERE date = '{D1}'")["call_id"].tolist()
            assert late not in first and len(first) == len(fk.by_day[D1]) - 1

            fk.gong.hidden.clear()
            dr = dag.test(logical_date=_logical(D2), run_conf=conf)
            assert dr.state == DagRunState.SUCCESS, [(t.task_id, t.map_index, t.state) for t in dr.get_task_instances()]
        rescored = next(t for t in dr.get_task_instances() if t.task_id == "rescore_late").xcom_pull(
            task_ids="rescore_late")
        assert [(r["day"], r["added_calls"]) for r in rescored] == [(D1, [late])]
        s = Settings(warehouse=str(warehouse))
        assert late in query(s.warehouse, f"SELECT call_id FROM calls WHERE date = '{D1}'")["call_id"].tolist()
        assert len(query(s.warehouse, f"SELECT call_id FROM calls WHERE date = '{D2}'")) == len(fk.by_day[D2])
        logs = caplog.text + "".join(capfd.readouterr())
        assert f"calls added late: {late}" in logs
        for secret in fk.secrets():
            assert secret not in logs


@pytest.mark.slow
def test_a_missing_connection_fails_the_pull_at_once(dagbag, airflow_db, tmp_path, monkeypatch):
    from airflow.utils.state import DagRunState, TaskInstanceState

    monkeypatch.setenv("CALLSCORE_SOURCES", "gong")
    monkeypatch.delenv("AIRFLOW_CONN_CALLSCORE_GONG", raising=False)
    (tmp_path / "landing" / D1).mkdir(parents=True)
    dag = dagbag.dags["callscore_nightly"]
    dr = dag.test(logical_date=_logical(D1), run_conf={"landing": str(tmp_path / "landing"),
                                                       "warehouse": str(tmp_path / "warehouse")})
    assert dr.state == DagRunState.FAILED
    pull = next(t for t in dr.get_task_instances() if t.task_id == "pull")
    assert (pull.state, pull.try_number) == (TaskInstanceState.FAILED, 1)
    plan = next(t for t in dr.get_task_instances() if t.task_id == "plan")
    assert plan.state != TaskInstanceState.SUCCESS
