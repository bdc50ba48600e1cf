"""Issue #15, item 2: DAG run conf cannot point storage anywhere.

Before the fix any user allowed to trigger a run could set ``warehouse`` to another bucket
(copying transcripts out with the workers' credentials) or ``model`` to an internal URL.
Storage locations now come from the deployment (``CALLSCORE_*``); a param may only repeat
them or name a location under ``CALLSCORE_ALLOWED_PREFIXES``, which only the deployment sets.
"""

from __future__ import annotations

import pytest

from pipeline import ConfigError
from pipeline.orchestration import settings_from_params

DEPLOYED = {"CALLSCORE_LANDING": "s3://acme-calls/landing", "CALLSCORE_WAREHOUSE": "s3://acme-calls/warehouse"}


@pytest.fixture
def deployment(monkeypatch):
    for key in ("CALLSCORE_ALLOWED_PREFIXES", "CALLSCORE_MODEL", "CALLSCORE_ROSTER"):
        monkeypatch.delenv(key, raising=False)
    for key, value in DEPLOYED.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


@pytest.mark.parametrize(("key", "value"), [
    ("warehouse", "s3://attacker-bucket/loot"),
    ("landing", "/etc"),
    ("model", "http://169.254.169.254/latest/meta-data"),
    ("roster", "file:///home/airflow/.aws/credentials"),
])
def test_without_an_allow_list_params_cannot_choose_storage(deployment, key, value):
    with pytest.raises(ConfigError, match=f"'{key}' param may not choose a storage location"):
        settings_from_params({key: value})


def test_params_may_repeat_the_deployment_and_tune_knobs(deployment):
    s = settings_from_params({"warehouse": DEPLOYED["CALLSCORE_WAREHOUSE"], "landing": "", "shard_size": 7})
    assert (s.warehouse, s.landing, s.shard_size) == (DEPLOYED["CALLSCORE_WAREHOUSE"],
                                                       DEPLOYED["CALLSCORE_LANDING"], 7)


@pytest.mark.parametrize("value", [
    "s3://acme-calls/sandbox/../warehouse-prod",  # '..' is refused outright, never normalised
    "s3://acme-calls/sandboxed-but-not-under",  # a string prefix, not a folder prefix
    "s3://other/sandbox/x",
    "/srv/callscore/tenants/../../../etc",
    "srv/callscore/tenants/a",  # relative: would resolve against the worker's working directory
    "gs://acme-calls/sandbox/x",
    "s3://acme-calls/sandbox/\nx",
])
def test_the_allow_list_admits_only_folders_below_its_prefixes(deployment, value):
    deployment.setenv("CALLSCORE_ALLOWED_PREFIXES", "s3://acme-calls/sandbox, /srv/callscore/tenants/")
    with pytest.raises(ConfigError, match="'warehouse' param"):
        settings_from_params({"warehouse": value})


def test_the_allow_list_admits_its_folders(deployment):
    deployment.setenv("CALLSCORE_ALLOWED_PREFIXES", "s3://acme-calls/sandbox, /srv/callscore/tenants/")
    s = settings_from_params({"warehouse": "s3://acme-calls/sandbox/wh-1", "landing": "file:///srv/callscore/tenants/a",
                              "model": "/srv/callscore/tenants"})
    assert (s.warehouse, s.landing, s.model) == ("s3://acme-calls/sandbox/wh-1", "file:///srv/callscore/tenants/a",
                                                 "/srv/callscore/tenants")


def test_a_run_whose_conf_points_elsewhere_fails_at_plan_and_writes_nothing(airflow_db, tmp_path, monkeypatch):
    """End to end through Airflow: the conf names a warehouse outside the allow-list."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState, TaskInstanceState

    from tests.dags.conftest import REPO

    outside = tmp_path / "not-allowed"
    monkeypatch.setenv("CALLSCORE_ALLOWED_PREFIXES", str(tmp_path / "allowed"))
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["callscore_nightly"]
    dr = dag.test(run_conf={"day": "2026-11-24", "warehouse": str(outside)})
    plan = next(ti for ti in dr.get_task_instances() if ti.task_id == "plan")
    assert dr.state == DagRunState.FAILED
    assert (plan.state, plan.try_number) == (TaskInstanceState.FAILED, 1)
    assert not outside.exists()
