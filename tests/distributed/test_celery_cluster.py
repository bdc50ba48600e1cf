"""The nightly DAG on a real CeleryExecutor cluster: PostgreSQL, Redis, S3 (moto), two workers.

One cluster serves the module (scripts/distributed/celery_cluster.py); every DAG run writes its
own warehouse prefix on S3 and is compared, row for row, with a single-process run of the same
day on local disk. Order matters: one worker, then two (timed), then a worker killed mid-run.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from celery_cluster import Cluster, upload_landing, write_landing

from pipeline.warehouse import layout, storage

pytestmark = pytest.mark.distributed

DAY = "2026-11-24"
CALLS = 12
SHARD_SIZE = 3  # 12 calls -> 4 mapped classify tasks
RUN_TIMEOUT_S = 300
REPORT: dict[str, dict] = {}


@pytest.fixture(scope="module")
def cluster(request):
    try:
        import airflow.providers.celery  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"{exc}: install the extra: .venv/bin/pip install -c constraints.txt -e '.[distributed]'")
    c = Cluster(log=print, keep=os.environ.get("CALLSCORE_DISTRIBUTED_KEEP") == "1")
    request.addfinalizer(c.close)
    started = time.monotonic()
    c.start_infra()
    c.start_airflow()
    c.start_worker("a")
    REPORT["startup"] = {"seconds": round(time.monotonic() - started, 1)}
    return c


@pytest.fixture(scope="module")
def landing(tmp_path_factory, cluster) -> dict[str, str]:
    local = write_landing(tmp_path_factory.mktemp("dist-landing"), DAY, CALLS)
    return {**upload_landing(cluster, local, DAY), "local": str(local)}


@pytest.fixture(scope="module")
def local_warehouse(tmp_path_factory, landing, model_dir) -> str:
    """The same day through ``pipeline.run.run_day`` in one process, on local disk."""
    out = tmp_path_factory.mktemp("dist-local")
    script = ("import json, sys; from pipeline.run import run_day; from pipeline.settings import Settings; "
              "a = json.loads(sys.argv[1]); print(json.dumps(run_day(Settings(**a['settings']), a['day'])['rows']))")
    settings = {"landing": landing["local"], "warehouse": str(out / "warehouse"), "model": str(model_dir),
                "roster": str(Path(landing["local"]) / "roster.csv"), "shard_size": SHARD_SIZE, "threads": 1,
                "data_docs": str(out / "docs")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLSCORE_")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script, json.dumps({"settings": settings, "day": DAY})],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    REPORT["local"] = {"seconds": round(time.monotonic() - started, 1),
                       "rows": json.loads(done.stdout.strip().splitlines()[-1])}
    return settings["warehouse"]


def _conf(cluster: Cluster, landing: dict, model_dir: Path, prefix: str) -> dict:
    return {"day": DAY, "landing": landing["landing"], "warehouse": cluster.s3(prefix), "model": str(model_dir),
            "roster": landing["roster"], "shard_size": SHARD_SIZE}


def _run(cluster: Cluster, run_id: str, conf: dict, poll=None, timeout: float = RUN_TIMEOUT_S) -> dict:
    started = time.monotonic()
    cluster.trigger(run_id, conf)
    run = cluster.wait(run_id, timeout, poll)
    wall = round(time.monotonic() - started, 1)
    assert run["state"] == "success", cluster.describe(run_id)
    return {"wall_s": wall, "dag_run_s": round((run["end_date"] - run["start_date"]).total_seconds(), 1),
            "task_s": _task_seconds(cluster.task_instances(run_id))}


def _task_seconds(tis: list[dict]) -> dict[str, list[float]]:
    """Seconds each task instance ran (start to end of its last try), by task."""
    out: dict[str, list[float]] = {}
    for t in tis:
        if t["start_date"] and t["end_date"]:
            out.setdefault(t["task_id"], []).append(round((t["end_date"] - t["start_date"]).total_seconds(), 1))
    return out


def _assert_published_like_local(cluster: Cluster, prefix: str, local_wh: str) -> dict[str, int]:
    """Each table: exactly one object for the day, equal row for row to the local run's (but run_id and
    generated_at); no staging left behind."""
    opts = cluster.storage_options
    fs, _ = storage.filesystem(cluster.s3(), opts)
    rows = {}
    for table in layout.TABLES:
        assert fs.find(f"{cluster.bucket}/{prefix}/{table}") == [
            f"{cluster.bucket}/{prefix}/{table}/date={DAY}/part-0.parquet"], table
        remote = layout.read_partition(cluster.s3(prefix), table, DAY, opts)
        local = layout.read_partition(local_wh, table, DAY)
        cols = [c for c in local.columns if c not in ("run_id", "generated_at")]
        assert list(remote.columns) == list(local.columns), table
        assert len(remote) == len(local) > 0, table
        assert remote[cols].equals(local[cols]), table
        rows[table] = len(remote)
    assert not fs.find(f"{cluster.bucket}/{prefix}/_staging")
    remote_q = storage.read_jsonl(storage.join(cluster.s3(prefix), "quarantine", f"date={DAY}", "records.jsonl"),
                                  opts)
    local_q = storage.read_jsonl(storage.join(local_wh, "quarantine", f"date={DAY}", "records.jsonl"))
    assert sorted(r["file"] for r in remote_q) == sorted(r["file"] for r in local_q)
    return rows


def _classify(tis: list[dict]) -> list[dict]:
    return [t for t in tis if t["task_id"] == "classify"]


def test_one_worker_runs_the_day_like_a_single_process(cluster, landing, local_warehouse, model_dir):
    timing = _run(cluster, "dist-1-worker", _conf(cluster, landing, model_dir, "wh-1-worker"))
    every = cluster.task_instances("dist-1-worker")
    assert {t["task_id"] for t in every if t["state"] == "skipped"} == {"pull"}  # no source: nothing to pull
    tis = [t for t in every if t["state"] != "skipped"]
    shards = _classify(tis)
    assert len(shards) == CALLS // SHARD_SIZE
    assert {t["hostname"] for t in tis} == {cluster.worker_hostname("a")}
    assert {t["queue"] for t in shards} == {"gpu"}  # docker/config/airflow_local_settings.py routed them
    assert {t["queue"] for t in tis if t["task_id"] not in ("classify", "rescore_late")} == {"default"}
    rows = _assert_published_like_local(cluster, "wh-1-worker", local_warehouse)
    REPORT["one_worker"] = {**timing, "rows": rows}


def test_two_workers_share_the_shards(cluster, landing, local_warehouse, model_dir):
    cluster.ensure_worker("a")
    cluster.ensure_worker("b")
    timing = _run(cluster, "dist-2-workers", _conf(cluster, landing, model_dir, "wh-2-workers"))
    shards = _classify(cluster.task_instances("dist-2-workers"))
    hosts = {t["hostname"] for t in shards}
    assert hosts == {cluster.worker_hostname("a"), cluster.worker_hostname("b")}, shards
    assert all(t["state"] == "success" and t["try_number"] == 1 for t in shards)
    rows = _assert_published_like_local(cluster, "wh-2-workers", local_warehouse)
    REPORT["two_workers"] = {**timing, "rows": rows,
                             "shards_per_worker": {h: sum(t["hostname"] == h for t in shards) for h in sorted(hosts)}}
    one, two = REPORT.get("one_worker", {}), REPORT["two_workers"]
    print(f"\nnightly DAG, {CALLS} calls in {len(shards)} shards: one worker {one.get('wall_s')} s, "
          f"two workers {two['wall_s']} s (trigger to success; DAG run {one.get('dag_run_s')} s / "
          f"{two['dag_run_s']} s)")


def test_everything_listens_on_loopback_only(cluster):
    sockets = cluster.listening()
    assert {name for name, _, _ in sockets} >= {"postgres", "redis", "s3", "api-server"}
    assert all(ipaddress.ip_address(ip).is_loopback for _, ip, _ in sockets), sockets


def test_killing_a_worker_mid_run_still_publishes_the_whole_day(cluster, landing, local_warehouse, model_dir):
    run_id = "dist-kill-worker"
    cluster.ensure_worker("a")
    cluster.ensure_worker("b")
    victim: dict = {}

    def kill_first_running_shard() -> None:
        if victim:
            return
        running = [t for t in _classify(cluster.task_instances(run_id)) if t["state"] == "running"]
        if running:
            victim.update(running[0], killed_at=time.monotonic(), killed_at_utc=datetime.now(UTC))
            name = running[0]["hostname"].removeprefix("callscore-worker-")
            cluster.services[f"worker-{name}"].kill()
            # like a machine that died: nothing of that worker lives on, its task process included
            assert not cluster.processes(CALLSCORE_WORKER_HOSTNAME=running[0]["hostname"])

    started = time.monotonic()
    cluster.trigger(run_id, _conf(cluster, landing, model_dir, "wh-kill-worker"))
    while not victim and time.monotonic() - started < RUN_TIMEOUT_S:
        kill_first_running_shard()
        time.sleep(0.2)
    assert victim, "no classify task ever ran"
    run = cluster.wait(run_id, RUN_TIMEOUT_S + 120)
    wall = round(time.monotonic() - started, 1)
    assert run["state"] == "success", cluster.describe(run_id)

    survivor = ({cluster.worker_hostname("a"), cluster.worker_hostname("b")} - {victim["hostname"]}).pop()
    final = next(t for t in _classify(cluster.task_instances(run_id)) if t["map_index"] == victim["map_index"])
    earlier = [h for h in cluster.task_history(run_id)
               if h["task_id"] == "classify" and h["map_index"] == victim["map_index"]]
    # the killed try failed (heartbeat timeout) and the retry ran, once, on the surviving worker
    assert [(h["try_number"], h["hostname"]) for h in earlier] == [(1, victim["hostname"])], earlier
    assert earlier[0]["state"] in ("failed", "up_for_retry"), earlier
    assert (final["try_number"], final["state"], final["hostname"]) == (2, "success", survivor), final
    # everything after the kill ran on the survivor; no other task needed a retry
    later = [t for t in cluster.task_instances(run_id) if t["task_id"] in ("build", "validate", "publish")]
    assert {t["hostname"] for t in later} == {survivor}
    assert all(t["try_number"] == 1 for t in cluster.task_instances(run_id)
               if (t["task_id"], t["map_index"]) != ("classify", victim["map_index"]) and t["state"] != "skipped")
    rows = _assert_published_like_local(cluster, "wh-kill-worker", local_warehouse)
    failed_after = (earlier[0]["end_date"] - victim["killed_at_utc"]).total_seconds()
    retry_after = (final["start_date"] - victim["killed_at_utc"]).total_seconds()
    REPORT["killed_worker"] = {
        "wall_s": wall, "rows": rows, "victim": victim["hostname"], "shard": victim["map_index"],
        "killed_after_s": round(victim["killed_at"] - started, 1),
        "killed_try_failed_after_kill_s": round(failed_after, 1), "retry_started_after_kill_s": round(retry_after, 1),
        "retry_ran_s": round((final["end_date"] - final["start_date"]).total_seconds(), 1)}
    print(f"\nkilled {victim['hostname']} running shard {victim['map_index']} "
          f"{REPORT['killed_worker']['killed_after_s']} s after trigger; try 1 failed {failed_after:.0f} s later "
          f"(heartbeat timeout {cluster.heartbeat_timeout_s} s), try 2 started {retry_after:.0f} s after the kill "
          f"on {survivor}; run succeeded after {wall} s")


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """Timings and checks, shown in pytest's terminal summary (conftest.py) and written to
    ``$CALLSCORE_DISTRIBUTED_REPORT`` when set."""
    request.config.callscore_distributed_report = REPORT
    yield
    if REPORT and os.environ.get("CALLSCORE_DISTRIBUTED_REPORT"):
        Path(os.environ["CALLSCORE_DISTRIBUTED_REPORT"]).write_text(json.dumps(REPORT, indent=2, default=str) + "\n")


def test_the_database_and_the_broker_refuse_clients_without_their_password(cluster):
    """Issue #15 item 9: even on 127.0.0.1, PostgreSQL (scram-sha-256) and Redis (requirepass) ask."""
    import socket

    import psycopg2

    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host="127.0.0.1", port=cluster.ports["postgres"], user="airflow", dbname="airflow",
                         connect_timeout=5)
    with socket.create_connection(("127.0.0.1", cluster.ports["redis"]), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(128).startswith(b"-NOAUTH")
    assert cluster.sql("SELECT 1 AS one") == [{"one": 1}]  # with it, the cluster's own client gets in
