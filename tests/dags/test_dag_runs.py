"""callscore_nightly for real: ``dag.test()`` in-process, and backfills run by a live scheduler.

Both tests run the whole DAG (plan -> mapped classify -> build -> validate -> publish) on a
tiny synthetic landing zone and check what analysts would see: exactly the intended call days,
one part file per table partition, and re-runs that replace a day instead of adding to it.

Which call days a backfill covers (checked here, with ``CronDataIntervalTimetable("0 2 * * *")``
and ``partition_day`` = the data interval's start date): ``--from-date A --to-date B`` creates
the runs whose logical date (= data interval start, 02:00 UTC) lies in ``[A 00:00, B 00:00]``,
so it processes call days ``A .. B-1``. Call days 2026-11-20..22 need
``--from-date 2026-11-20 --to-date 2026-11-23``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipeline.orchestration import staging_run_id
from pipeline.run import reset_staging
from pipeline.schemas import TABLES
from tests.dags.conftest import AIRFLOW_ENV, REPO, airflow

DAG_ID = "callscore_nightly"
VOLATILE = ("run_id", "generated_at")  # differ between runs of the same day by design
CALLS_PER_DAY = 3
SHARD_SIZE = 2  # 3 calls -> 2 shards, so classify really fans out into 2 mapped tasks
SHARDS_PER_DAY = -(-CALLS_PER_DAY // SHARD_SIZE)

# Backfill: the intended call days, and the CLI range that covers exactly them (see the docstring).
BACKFILL_DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"]
BACKFILL_FROM, BACKFILL_TO = "2026-11-20", "2026-11-23"
BACKFILL_TIMEOUT_S = 8 * 60
BAD_TI_STATES = {"failed", "upstream_failed", "up_for_retry"}


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def _day(iso: str, offset: int = 0) -> date:
    return date.fromisoformat(iso) + timedelta(days=offset)


def _write_landing(root: Path, days: list[date], seed: int) -> Path:
    from pipeline.devtools import sample

    sample.write_sample(str(root), days, calls_per_day=CALLS_PER_DAY, seed=seed)
    sample.write_roster(str(root / "roster.csv"))
    return root


def _conf(landing: Path, warehouse: Path, model: Path) -> dict:
    return {"landing": str(landing), "warehouse": str(warehouse), "model": str(model),
            "roster": str(landing / "roster.csv"), "shard_size": SHARD_SIZE}


def _files(warehouse: Path) -> list[str]:
    """Every file but the run-versioned copies (``_versions/``), which keep the previous run too."""
    return sorted(str(p.relative_to(warehouse)) for p in warehouse.rglob("*")
                  if p.is_file() and p.relative_to(warehouse).parts[0] != "_versions")


def _versions(warehouse: Path, day: str) -> dict[str, int]:
    """How many run versions each table keeps for ``day`` (the committed one and at most one before it)."""
    return {t: len(list((warehouse / "_versions" / t / f"date={day}").glob("*.parquet"))) for t in TABLES}


def _committed(warehouse: Path, day: str) -> str:
    return json.loads((warehouse / "_runs" / f"date={day}.json").read_text())["version"]


def _staging_leftovers(warehouse: Path) -> list[str]:
    staging = warehouse / "_staging"
    return sorted(str(p.relative_to(warehouse)) for p in staging.rglob("*")) if staging.exists() else []


def _read_tables(warehouse: Path) -> dict[tuple[str, str], pd.DataFrame]:
    """Every published partition, as ``{(table, day): frame}``."""
    import pyarrow.parquet as pq

    frames = {}
    for table in TABLES:
        for part in sorted((warehouse / table).glob("date=*/*.parquet")):
            frames[table, part.parent.name.removeprefix("date=")] = pq.read_table(part).to_pandas()
    return frames


def _check_published(warehouse: Path, days: list[str]) -> dict[tuple[str, str], pd.DataFrame]:
    """Exactly ``days`` are published, one part file per table partition, each day's rows its own."""
    for table in TABLES:
        partitions = sorted(p.name for p in (warehouse / table).iterdir())
        assert partitions == [f"date={d}" for d in days], f"{table}: {partitions}"
        for d in days:
            files = sorted(p.name for p in (warehouse / table / f"date={d}").iterdir())
            assert files == ["part-0.parquet"], f"{table}/date={d}: {files}"
    assert _staging_leftovers(warehouse) == []
    frames = _read_tables(warehouse)
    for d in days:
        calls, utter, cards = frames["calls", d], frames["utterances", d], frames["scorecards", d]
        assert len(calls) == CALLS_PER_DAY and calls["call_id"].is_unique
        assert {ts.date().isoformat() for ts in calls["started_at"]} == {d}, "calls from another day"
        assert set(utter["call_id"]) == set(calls["call_id"])
        rep = utter["speaker_role"] == "rep"
        assert rep.any() and utter.loc[rep, "label"].notna().all()
        assert len(cards) >= 1 and "date" not in cards.columns  # the day is the partition path, in every table
        assert cards["calls"].sum() == CALLS_PER_DAY
    return frames


# drift compares a day with the days published before it *when it ran*: days of a backfill run side by side
# (max_active_runs=2), so the first pass may score a day before its predecessor is published. Its own side is
# identical on a re-run; the baseline side is whatever was published then (docs/data-dictionary.md, drift).
DRIFT_BASELINE = ("test", "statistic", "p_value", "threshold", "baseline_value", "baseline_turns", "baseline_days",
                  "status", "reason")


def _assert_same_tables(before: dict, after: dict) -> None:
    assert sorted(before) == sorted(after)
    for key, old in before.items():
        new = after[key]
        assert len(new) == len(old), key
        drop = [c for c in (*VOLATILE, *(DRIFT_BASELINE if key[0] == "drift" else ())) if c in old.columns]
        pd.testing.assert_frame_equal(old.drop(columns=drop), new.drop(columns=drop), obj=f"{key}")


@pytest.fixture(scope="module")
def frozen_model(model_dir, tmp_path_factory) -> Path:
    """A private copy of the promoted model, so a promotion during the run cannot change labels mid-test."""
    return Path(shutil.copytree(model_dir, tmp_path_factory.mktemp("model") / "model"))


def test_reset_staging_drops_only_this_runs_leftovers(tmp_path):
    from pipeline.settings import Settings

    warehouse = tmp_path / "warehouse"
    mine, other = staging_run_id("2026-11-21", "backfill__x"), staging_run_id("2026-11-22", "backfill__x")
    for run_id in (mine, other):
        (warehouse / "_staging" / run_id / "classified" / "shard-00001").mkdir(parents=True)
        (warehouse / "_staging" / run_id / "classified" / "shard-00001" / "calls.parquet").write_bytes(b"x")
    reset_staging(Settings(warehouse=str(warehouse)), mine)
    assert _files(warehouse) == [f"_staging/{other}/classified/shard-00001/calls.parquet"]
    reset_staging(Settings(warehouse=str(warehouse)), mine)  # nothing there: no error


# ------------------------------------------------------------------------------------------------
# which call days a backfill range covers (cheap: a dry run against the serialized DAG)
# ------------------------------------------------------------------------------------------------

def _dry_run_logical_dates(from_date: str, to_date: str) -> list[str]:
    out = airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", from_date, "--to-date", to_date,
                  "--dry-run")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return [line.split("|")[1].strip() for line in out.stdout.splitlines()
            if line.startswith("|") and line.split("|")[1].strip()[:4].isdigit()]


def test_backfill_range_selects_logical_dates_from_inclusive_to_exclusive(airflow_db):
    out = airflow("dags", "reserialize")
    assert out.returncode == 0, out.stderr[-2000:]
    assert _dry_run_logical_dates(BACKFILL_FROM, BACKFILL_TO) == [f"{d} 02:00:00+00:00" for d in BACKFILL_DAYS]
    # The range the README gives for call days 11-20..22 misses the first day: it covers 11-21 and 11-22 only.
    assert _dry_run_logical_dates("2026-11-21", "2026-11-23") == ["2026-11-21 02:00:00+00:00",
                                                                  "2026-11-22 02:00:00+00:00"]


# ------------------------------------------------------------------------------------------------
# dag.test(): in-process, end to end, twice
# ------------------------------------------------------------------------------------------------

def test_dag_test_end_to_end_and_rerun_is_identical(airflow_db, frozen_model, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    from tests.conftest import DAY

    monkeypatch.setenv("CALLSCORE_DATA_DOCS", str(tmp_path / "docs"))  # not the repo's var/
    # Neighbouring days sit in the landing zone too, so processing the wrong day cannot go unnoticed.
    landing = _write_landing(tmp_path / "landing", [_day(DAY, -1), _day(DAY), _day(DAY, 1)], seed=11)
    warehouse = tmp_path / "warehouse"
    conf = _conf(landing, warehouse, frozen_model)

    dag = DagBag(dag_folder=str(REPO / "dags")).dags[DAG_ID]
    for task in dag.tasks:  # fail at once instead of waiting out retry delays
        task.retries = 0
    # The run at DAY+1 02:00 UTC covers [DAY 02:00, DAY+1 02:00) and so processes DAY.
    logical_date = datetime.combine(_day(DAY, 1), datetime.min.time(), UTC).replace(hour=2)

    def run_once():
        started = time.perf_counter()
        dr = dag.test(logical_date=logical_date, run_conf=conf)
        assert dr.state == DagRunState.SUCCESS, [(ti.task_id, ti.map_index, ti.state)
                                                  for ti in dr.get_task_instances()]
        assert dr.data_interval_start.date().isoformat() == DAY
        mapped = sorted(ti.map_index for ti in dr.get_task_instances() if ti.task_id == "classify")
        assert mapped == list(range(SHARDS_PER_DAY))
        print(f"dag.test run {dr.run_id}: {time.perf_counter() - started:.1f}s")
        return _check_published(warehouse, [DAY])

    first, files = run_once(), _files(warehouse)
    assert files == sorted([*(f"{t}/date={DAY}/part-0.parquet" for t in TABLES), f"_runs/date={DAY}.json",
                            f"quarantine/date={DAY}/records.jsonl",
                            f"_index/date={DAY}.jsonl", "_private/salt"])  # for erasure (SECURITY.md)
    assert _versions(warehouse, DAY) == dict.fromkeys(TABLES, 1)
    second = run_once()
    assert _files(warehouse) == files
    assert _versions(warehouse, DAY) == dict.fromkeys(TABLES, 2)  # the previous run's kept for running readers
    _assert_same_tables(first, second)
    assert first["scorecards", DAY]["run_id"].iloc[0] != second["scorecards", DAY]["run_id"].iloc[0], \
        "the second dag.test() did not publish anything"


# ------------------------------------------------------------------------------------------------
# the real thing: scheduler + dag-processor + api-server, backfill, then reprocess
# ------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Airflow:
    """Running Airflow components and a tiny REST client for them."""

    home: Path
    url: str
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str = ""
    children: dict = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        exe = Path(sys.executable).parent / "airflow"
        out = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen([str(exe), *args], stdout=out, stderr=subprocess.STDOUT,
                                            env=self.env, cwd=str(REPO), start_new_session=True)
        out.close()

    def check_alive(self) -> None:
        self.track_children()
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            pytest.fail(f"airflow components exited: {dead}\n{self.diagnostics()}")

    def get(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(self.url + "/auth/token", timeout=5) as resp:
                    self.token = json.loads(resp.read())["access_token"]
                self.get(f"/api/v2/dags/{DAG_ID}")
                return
            except (urllib.error.URLError, ConnectionError, OSError, KeyError):
                if time.monotonic() > deadline:
                    pytest.fail(f"api-server up and {DAG_ID} parsed: not within {timeout}s\n{self.diagnostics()}")
                time.sleep(2)

    def runs(self) -> list[dict]:
        return self.get(f"/api/v2/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"]

    def task_instances(self, run_type: str = "backfill") -> list[dict]:
        """Task instances of this DAG's runs of ``run_type`` (other tests leave manual runs in the DB)."""
        tis = self.get(f"/api/v2/dags/{DAG_ID}/dagRuns/~/taskInstances?limit=1000")["task_instances"]
        return [t for t in tis if t["dag_run_id"].startswith(f"{run_type}__")]

    def backfills(self) -> list[dict]:
        return self.get(f"/api/v2/backfills?dag_id={DAG_ID}&limit=100")["backfills"]

    def wait_until(self, done, what: str, timeout: float = BACKFILL_TIMEOUT_S) -> None:
        """Poll ``done()``, failing at once (with logs) on a failed or retried task, or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            bad = [ti for ti in self.task_instances() if ti["state"] in BAD_TI_STATES]
            if bad:
                pytest.fail(f"{what}: task instances\n{self._ti_table(bad)}\n{self.diagnostics(bad)}")
            if done():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout:.0f}s; runs: "
                            f"{[(r['dag_run_id'], r['state']) for r in self.runs()]}\n{self.diagnostics()}")
            time.sleep(3)

    def wait_backfills_done(self, ids: list[int]) -> None:
        self.wait_until(lambda: all(b["completed_at"] for b in self.backfills() if b["id"] in ids),
                        f"backfill {ids} completed")

    def settle_partial_backfills(self, ids: list[int]) -> None:
        """Let the runs of backfills that were only partly created finish, then close those backfills."""
        self.wait_until(lambda: not [r for r in self.runs() if r["run_type"] == "backfill"
                                     and r["state"] in ("queued", "running")], f"partial backfill {ids} settled")
        for b in self.backfills():
            if b["id"] in ids and not b["completed_at"]:
                try:
                    self.get(f"/api/v2/backfills/{b['id']}/cancel", method="PUT")
                except urllib.error.HTTPError as exc:
                    if exc.code != 409:  # 409: the scheduler completed it meanwhile
                        raise

    def task_seconds(self) -> str:
        """Mean seconds per task id over the backfill task instances, for the timing report."""
        per_task: dict[str, list[float]] = {}
        for ti in self.task_instances():
            per_task.setdefault(ti["task_id"], []).append(ti["duration"] or 0.0)
        return "task seconds (mean): " + ", ".join(f"{k} {sum(v) / len(v):.1f}" for k, v in per_task.items())

    @staticmethod
    def _ti_table(tis: list[dict]) -> str:
        return "\n".join(f"  {t['dag_run_id']} {t['task_id']}[{t['map_index']}] try {t['try_number']}: {t['state']}"
                         for t in tis)

    def diagnostics(self, bad: list[dict] | None = None) -> str:
        """Task logs (of the bad task instances, else the newest ones) and the components' log tails."""
        parts = []
        try:
            parts.append("task instances:\n" + self._ti_table(self.task_instances()))
        except Exception as exc:  # the api-server may be the thing that broke
            parts.append(f"(task instances unavailable: {exc})")
        root = self.home / "logs" / f"dag_id={DAG_ID}"
        logs = sorted(root.rglob("*.log"), key=lambda p: p.stat().st_mtime)[-4:]
        if bad:  # logs/dag_id=D/run_id=R/task_id=T[/map_index=M]/attempt=N.log
            folders = [root / f"run_id={t['dag_run_id']}" / f"task_id={t['task_id']}"
                       / (f"map_index={t['map_index']}" if t["map_index"] >= 0 else "") for t in bad[:4]]
            logs = [max(f.glob("attempt=*.log"), key=lambda p: p.stat().st_mtime) for f in folders
                    if any(f.glob("attempt=*.log"))] or logs
        for path in logs:
            parts.append(f"--- {path.relative_to(self.home)} ---\n{path.read_text(errors='replace')[-3000:]}")
        for name in self.procs:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} (last lines) ---\n{text[-2500:]}")
        return "\n".join(parts)

    def track_children(self) -> None:
        """Remember every process the components started, so ``stop`` finds orphans too."""
        import psutil

        for proc in self.procs.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                self.children.update({c.pid: c for c in psutil.Process(proc.pid).children(recursive=True)})

    def stop(self) -> None:
        """Stop every component and anything it started (task processes run in their own groups)."""
        import psutil

        self.track_children()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for child in self.children.values():  # psutil refuses to signal a pid that was reused
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


@pytest.fixture
def live_airflow(airflow_db, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, **AIRFLOW_ENV,
        # SQLite allows one writer: wait for the lock up to 60 s instead of the driver's 5 s
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_ENV['AIRFLOW_HOME']}/airflow.db?timeout=60",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # the same for every component
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # a token without a password, loopback only
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # no scheduled run of "yesterday" next to the backfill
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # task logs worth reading on failure
        "CALLSCORE_DATA_DOCS": str(tmp_path / "docs"),
        "CALLSCORE_THREADS": "1",  # 2 cores, several tasks at once
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    log_dir = tmp_path / "component-logs"
    log_dir.mkdir()
    af = Airflow(home=Path(AIRFLOW_ENV["AIRFLOW_HOME"]), url=url, env=env, log_dir=log_dir)
    try:
        af.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
        af.start("dag-processor", "dag-processor")
        af.start("scheduler", "scheduler", "--skip-serve-logs")  # no log server on every interface
        started = time.perf_counter()
        af.wait_ready()
        print(f"airflow components ready in {time.perf_counter() - started:.0f}s")
        af.get(f"/api/v2/dags/{DAG_ID}", method="PATCH", body={"is_paused": False})
        yield af
    finally:
        af.stop()


def _backfill(af: Airflow, conf: dict, *extra: str, attempts: int = 3) -> list[int]:
    """Create the backfill with the CLI and wait until it is done; return the ids of the backfills made.

    On SQLite, ``backfill create`` reads and then writes inside a savepoint per run; when another component
    commits in between, SQLite refuses the write at once ("database is locked", SQLITE_BUSY_SNAPSHOT: no busy
    timeout helps). Airflow then deletes the half-made backfill and its runs (best effort), so create it again;
    a half-made backfill that survived is first let finish and closed.
    """
    made: list[int] = []
    for attempt in range(1, attempts + 1):
        before = {b["id"] for b in af.backfills()}
        out = airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", BACKFILL_FROM, "--to-date",
                      BACKFILL_TO, "--max-active-runs", "3", "--dag-run-conf", json.dumps(conf), *extra, env=af.env)
        new = sorted(b["id"] for b in af.backfills() if b["id"] not in before)
        made += new
        if out.returncode == 0:
            assert len(new) == 1, new
            af.wait_backfills_done(new)
            print(af.task_seconds())
            return made
        output = out.stdout[-3000:] + out.stderr[-3000:]
        assert "database is locked" in out.stdout + out.stderr and attempt < attempts, output
        print(f"backfill create lost a SQLite write race (attempt {attempt}); settling {new} and retrying")
        af.settle_partial_backfills(new)
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_backfill_three_days_then_reprocess_without_duplicates(live_airflow, frozen_model, tmp_path):
    af = live_airflow
    # One extra day on each side: a range off by one publishes a partition we would see.
    days = [_day(BACKFILL_DAYS[0], i) for i in range(-1, len(BACKFILL_DAYS) + 1)]
    landing = _write_landing(tmp_path / "landing", days, seed=17)
    warehouse = tmp_path / "warehouse"
    conf = _conf(landing, warehouse, frozen_model)

    started = time.perf_counter()
    print(f"backfill {_backfill(af, conf)}: {time.perf_counter() - started:.0f}s")

    runs = sorted((r for r in af.runs() if r["run_type"] == "backfill"), key=lambda r: r["data_interval_start"])
    assert [r["state"] for r in runs] == ["success"] * len(BACKFILL_DAYS)
    assert [r["data_interval_start"][:10] for r in runs] == BACKFILL_DAYS
    for r in runs:
        assert r["logical_date"] == r["data_interval_start"]
        assert r["data_interval_start"][10:].startswith("T02:00:00")
        assert r["data_interval_end"][:10] == _day(r["data_interval_start"][:10], 1).isoformat()
        assert r["conf"]["warehouse"] == str(warehouse)
    run_ids = [r["dag_run_id"] for r in runs]
    mapped = sorted((t["dag_run_id"], t["map_index"]) for t in af.task_instances()
                    if t["task_id"] == "classify" and t["dag_run_id"] in run_ids)
    assert mapped == [(rid, i) for rid in sorted(run_ids) for i in range(SHARDS_PER_DAY)]

    first = _check_published(warehouse, BACKFILL_DAYS)
    files = _files(warehouse)
    committed = {day: _committed(warehouse, day) for day in BACKFILL_DAYS}

    # An earlier, failed try of a DAG run leaves its staging behind, under the same staging id as the
    # reprocessed run: here, one extra classified shard. Reprocessing must not build on it.
    stale = warehouse / "_staging" / staging_run_id(BACKFILL_DAYS[1], run_ids[1]) / "classified" / "shard-00099"
    stale.mkdir(parents=True)
    for table in ("calls", "utterances"):
        shutil.copy(warehouse / table / f"date={BACKFILL_DAYS[1]}" / "part-0.parquet", stale / f"{table}.parquet")

    started = time.perf_counter()
    ids = _backfill(af, conf, "--reprocess-behavior", "completed")
    print(f"backfill {ids} (reprocess completed): {time.perf_counter() - started:.0f}s")

    rerun = sorted((r for r in af.runs() if r["run_type"] == "backfill"), key=lambda r: r["data_interval_start"])
    assert [r["dag_run_id"] for r in rerun] == run_ids, "reprocessing must re-run the same runs, not add runs"
    assert [r["state"] for r in rerun] == ["success"] * len(BACKFILL_DAYS)
    second = _check_published(warehouse, BACKFILL_DAYS)
    assert _files(warehouse) == files
    _assert_same_tables(first, second)
    republished = [day for day in BACKFILL_DAYS if _committed(warehouse, day) != committed[day]]
    assert republished == list(BACKFILL_DAYS), "reprocess did not publish every day anew"


def test_a_day_that_is_no_calendar_date_fails_the_run_at_once_without_retries(airflow_db, frozen_model, tmp_path):
    """A bad param cannot succeed on retry: plan fails on its first try, naming the day, and nothing runs after."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState, TaskInstanceState

    from tests.conftest import DAY

    landing = _write_landing(tmp_path / "landing", [_day(DAY)], seed=11)
    dag = DagBag(dag_folder=str(REPO / "dags")).dags[DAG_ID]
    assert dag.get_task("plan").retries == 2  # the default that must not apply here
    started = time.perf_counter()
    dr = dag.test(run_conf={**_conf(landing, tmp_path / "warehouse", frozen_model), "day": "2026-02-30"})
    plan = next(ti for ti in dr.get_task_instances() if ti.task_id == "plan")
    assert dr.state == DagRunState.FAILED
    assert (plan.state, plan.try_number) == (TaskInstanceState.FAILED, 1)
    assert time.perf_counter() - started < 30, "plan waited for a retry"
    assert not (tmp_path / "warehouse").exists()
