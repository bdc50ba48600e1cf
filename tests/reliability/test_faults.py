"""Issue #12: a day commits whole or not at all, transient errors never drop calls, one model per run.

Real files, the real model, real DuckDB queries, a real moto S3 server and real subprocesses.
Faults are injected at the storage boundary (our write calls, or fsspec's ``_open``); nothing
of the pipeline's own logic is replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline import ConfigError, DayBusyError, run
from pipeline.model.classify import resolve_model
from pipeline.model.train import promote
from pipeline.warehouse import commit, layout, storage
from pipeline.warehouse.query import query
from tests.conftest import DAY, REPO
from tests.pipeline.test_s3 import s3_endpoint  # noqa: F401 - the moto S3 server fixture

TABLES = layout.TABLES
CLI = str(Path(sys.executable).parent / "callscore")


class CrashError(RuntimeError):
    """The injected fault: the worker dies here."""


def stage(settings, day: str, run_id: str) -> dict:
    """Every step but publish, as the DAG's tasks run them."""
    plan = run.plan_day(settings, day, run_id)
    for url in plan["shards"]:
        run.classify_shard(settings, run_id, url, plan["model"])
    run.build_tables(settings, day, run_id, plan["stats"]["calls_parsed"])
    run.validate_day(settings, day, run_id)
    return plan


def runs_seen(warehouse: str, day: str = DAY) -> set[str]:
    """The run ids ``callscore query`` returns for ``day`` across the three tables."""
    try:
        frame = query(warehouse, f"SELECT run_id FROM utterances WHERE date = DATE '{day}' UNION "
                                 f"SELECT run_id FROM calls WHERE date = DATE '{day}' UNION "
                                 f"SELECT run_id FROM scorecards WHERE date = DATE '{day}'")
    except ValueError:  # nothing published yet
        return set()
    return set(frame.run_id)


def reader_copies(warehouse: str, day: str = DAY) -> dict[str, bytes]:
    return {t: Path(layout.partition_url(warehouse, t, day)).read_bytes() for t in TABLES}


def quarantine_records(warehouse: str, day: str = DAY) -> list[dict]:
    return storage.read_jsonl(layout.quarantine_url(warehouse, day, "records.jsonl"))


def copy_warehouse(src: Path, dst: Path) -> str:
    shutil.copytree(src, dst, symlinks=True)
    return str(dst)


class Faults:
    """Counts every write the publish makes (object writes, copies, staging removal) and can crash before the k-th."""

    def __init__(self, monkeypatch, crash_at: int | None = None, observe=None):
        self.calls: list[str] = []
        self.crash_at = crash_at
        self.observe = observe
        for name in ("write_bytes_atomic", "copy_object", "remove_tree"):
            real = getattr(storage, name)
            monkeypatch.setattr(storage, name, self._wrap(name, real))

    def _wrap(self, name, real):
        def wrapped(*args, **kwargs):
            if self.observe is not None:
                self.observe()
            if self.crash_at is not None and len(self.calls) == self.crash_at:
                raise CrashError(f"worker died before {name}({args[0]!r})")
            self.calls.append(f"{name} {args[0]}")
            return real(*args, **kwargs)

        return wrapped


# ------------------------------------------------------------------ crash at every step of publish, then retry


def test_a_crash_anywhere_in_publish_then_a_retry_equals_a_clean_publish(settings, tmp_path, monkeypatch):
    run.run_day(settings, DAY, run_id="run-A")  # the day as readers know it
    plan = stage(settings, DAY, "run-B")  # the new run, staged and validated
    template = Path(settings.warehouse)

    # the clean publish, with callscore query watched before every single write
    ref_wh = copy_warehouse(template, tmp_path / "ref")
    seen: list[set[str]] = []
    with monkeypatch.context() as m:
        faults = Faults(m, observe=lambda: seen.append(runs_seen(ref_wh)))
        run.publish_day(settings.with_(warehouse=ref_wh), DAY, "run-B", plan)
    steps = faults.calls
    assert len(steps) >= 10, steps  # versions, record, reader copies, quarantine, record, staging
    assert all(s in ({"run-A"}, {"run-B"}) for s in seen), seen  # never a mix, never empty
    assert seen[0] == {"run-A"} and runs_seen(ref_wh) == {"run-B"}
    clean = reader_copies(ref_wh)

    for k in range(len(steps)):
        wh = copy_warehouse(template, tmp_path / f"crash-{k}")
        with monkeypatch.context() as m:
            Faults(m, crash_at=k)
            with pytest.raises(CrashError):
                run.publish_day(settings.with_(warehouse=wh), DAY, "run-B", plan)
        assert runs_seen(wh) in ({"run-A"}, {"run-B"}), (k, steps[k])
        run.publish_day(settings.with_(warehouse=wh), DAY, "run-B", plan)  # Airflow's retry of the task
        assert runs_seen(wh) == {"run-B"}, (k, steps[k])
        assert reader_copies(wh) == clean, (k, steps[k])  # byte for byte
        assert quarantine_records(wh) == quarantine_records(ref_wh), (k, steps[k])
        assert sorted(p.name for p in Path(wh, "quarantine", f"date={DAY}", "files").rglob("*")) == \
            sorted(p.name for p in Path(ref_wh, "quarantine", f"date={DAY}", "files").rglob("*"))
        assert not Path(wh, "_staging", "run-B").exists() and not Path(wh, "_leases", f"date={DAY}.json").exists()


def test_a_failure_in_any_step_before_publish_is_retried_to_the_same_tables(settings, tmp_path, monkeypatch):
    clean_wh = str(tmp_path / "clean")
    run.run_day(settings.with_(warehouse=clean_wh), DAY, run_id="run-C")
    clean = {t: layout.read_partition(clean_wh, t, DAY).drop(columns=["run_id", "generated_at"], errors="ignore")
             for t in TABLES}

    real_write = layout.write_parquet
    failed: list[str] = []

    def fail_once(frame, url, *args, **kwargs):
        step = "shards" if "/shards/" in url else "classified"
        if step not in failed:
            failed.append(step)
            raise OSError(f"connection reset writing {url}")
        return real_write(frame, url, *args, **kwargs)

    monkeypatch.setattr(layout, "write_parquet", fail_once)
    with pytest.raises(OSError):
        run.plan_day(settings, DAY, "run-D")
    plan = run.plan_day(settings, DAY, "run-D")  # the plan task's retry
    for url in plan["shards"]:
        try:
            run.classify_shard(settings, "run-D", url, plan["model"])
        except OSError:
            run.classify_shard(settings, "run-D", url, plan["model"])  # the mapped task's retry
    real_merge = layout.merge_sorted
    monkeypatch.setattr(layout, "merge_sorted", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        run.build_tables(settings, DAY, "run-D", plan["stats"]["calls_parsed"])
    monkeypatch.setattr(layout, "merge_sorted", real_merge)
    run.build_tables(settings, DAY, "run-D", plan["stats"]["calls_parsed"])
    run.validate_day(settings, DAY, "run-D")
    run.publish_day(settings, DAY, "run-D", plan)
    assert failed == ["shards", "classified"]
    for table in TABLES:
        got = layout.read_partition(settings.warehouse, table, DAY).drop(columns=["run_id", "generated_at"],
                                                                          errors="ignore")
        pd.testing.assert_frame_equal(got, clean[table], obj=table)


# ------------------------------------------------------------------ transient and permanent read errors


def _flaky_open(monkeypatch, fs_class, fail_times: int | None):
    """Make ``fs_class._open`` fail for landing files: ``fail_times`` times per file, or always (None)."""
    real = fs_class._open
    failures: dict[str, int] = {}

    def _open(self, path, mode="rb", *args, **kwargs):
        if "landing" in str(path) and DAY in str(path) and "r" in mode:
            n = failures.get(str(path), 0)
            if fail_times is None or n < fail_times:
                failures[str(path)] = n + 1
                raise ConnectionResetError(f"connection reset by peer reading {path}")
        return real(self, path, mode, *args, **kwargs)

    monkeypatch.setattr(fs_class, "_open", _open)
    monkeypatch.setattr(storage, "RETRY_DELAY_S", 0.01)
    return failures


def test_reads_that_fail_once_are_retried_and_lose_nothing(settings, tmp_path, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    clean = run.run_day(settings.with_(warehouse=str(tmp_path / "clean")), DAY)
    failures = _flaky_open(monkeypatch, LocalFileSystem, fail_times=1)
    flaky = run.run_day(settings, DAY)
    assert failures and all(n == 1 for n in failures.values())
    assert flaky["ingest"] == clean["ingest"] and flaky["quarantined"] == clean["quarantined"]


def test_reads_that_always_fail_fail_the_run_and_quarantine_nothing(settings, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    _flaky_open(monkeypatch, LocalFileSystem, fail_times=None)
    with pytest.raises(storage.StorageError, match=r"failed 3 times.*connection reset"):
        run.run_day(settings, DAY)
    assert not Path(layout.quarantine_url(settings.warehouse, DAY)).exists()
    assert commit.read_record(settings.warehouse, DAY) is None
    assert not Path(commit.lease_url(settings.warehouse, DAY)).exists()  # freed for the next try


def test_transient_s3_reads_are_retried_and_permanent_ones_fail(s3_endpoint, settings, sample_landing,  # noqa: F811
                                                                monkeypatch):
    import s3fs

    opts = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    fs, _ = storage.filesystem("s3://callscore-test", opts)
    fs.put(str(sample_landing / DAY), f"callscore-test/flaky/landing/{DAY}", recursive=True)
    s3 = settings.with_(landing="s3://callscore-test/flaky/landing", warehouse="s3://callscore-test/flaky/wh",
                        roster=str(sample_landing / "roster.csv"), storage_options=opts)
    clean = run.run_day(s3, DAY)
    with monkeypatch.context() as m:
        failures = _flaky_open(m, s3fs.S3FileSystem, fail_times=2)
        flaky = run.run_day(s3, DAY)
    assert failures and flaky["ingest"] == clean["ingest"] and flaky["quarantined"] == clean["quarantined"]
    before = commit.read_record(s3.warehouse, DAY, opts)
    with monkeypatch.context() as m:
        _flaky_open(m, s3fs.S3FileSystem, fail_times=None)
        with pytest.raises(storage.StorageError):
            run.run_day(s3, DAY)
    assert commit.read_record(s3.warehouse, DAY, opts) == before  # nothing quarantined, nothing published


def test_s3_leases_are_exclusive(s3_endpoint):  # noqa: F811
    opts = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    wh = "s3://callscore-test/lease-wh"
    commit.acquire_lease(wh, DAY, "run-1", opts)
    with pytest.raises(DayBusyError, match="run-1"):
        commit.acquire_lease(wh, DAY, "run-2", opts)
    assert commit.release_lease(wh, DAY, "run-1", opts)
    commit.acquire_lease(wh, DAY, "run-2", opts)


# ------------------------------------------------------------------ one model per run


def test_a_promotion_between_plan_and_classify_does_not_change_the_runs_model(settings, model_dir, tmp_path):
    link = tmp_path / "artifacts" / "current"
    link.parent.mkdir()
    promote(model_dir, link)
    pinned = settings.with_(model=str(link))
    plan = run.plan_day(pinned, DAY, "run-P")
    other = Path(shutil.copytree(model_dir, tmp_path / "artifacts" / "minilm-other"))
    meta = json.loads((other / "callscore.json").read_text())
    (other / "callscore.json").write_text(json.dumps({**meta, "version": "minilm-other"}))
    promote(other, link)  # the training DAG promotes a new model mid-run
    assert resolve_model(link)["version"] == "minilm-other"
    for url in plan["shards"]:
        run.classify_shard(pinned, "run-P", url, plan["model"])
    run.build_tables(pinned, DAY, "run-P", plan["stats"]["calls_parsed"])
    run.validate_day(pinned, DAY, "run-P")
    record = run.publish_day(pinned, DAY, "run-P", plan)
    assert record["model_version"] == plan["model"]["version"] == meta["version"]
    for table in TABLES:
        frame = layout.read_partition(settings.warehouse, table, DAY)
        if "model_version" in frame.columns and len(frame):
            assert set(frame.model_version) == {meta["version"]}, table
        if "precision" in frame.columns:
            assert set(frame.precision) == {plan["model"]["precision"]}, table
    assert all(len(layout.read_partition(settings.warehouse, t, DAY)) for t in ("utterances", "calls", "drift"))


def test_a_pinned_folder_that_changed_version_stops_classify(settings, model_dir, tmp_path):
    plan = run.plan_day(settings, DAY, "run-Q")
    with pytest.raises(RuntimeError, match="planned model"):
        run.classify_shard(settings, "run-Q", plan["shards"][0], {**plan["model"], "version": "minilm-gone"})


def test_the_gate_refuses_a_partition_with_two_models(settings):
    from pipeline.warehouse import quality

    run.run_day(settings, DAY)
    frames = {t: layout.read_partition(settings.warehouse, t, DAY).assign(date=DAY) for t in TABLES}
    frames["utterances"].loc[0, "model_version"] = "minilm-other"
    report = quality.validate_tables(frames)
    assert not report.success and "model_version" in report.summary()


# ------------------------------------------------------------------ one run per day


def _env(settings) -> dict:
    return {**os.environ, "CALLSCORE_LANDING": settings.landing, "CALLSCORE_WAREHOUSE": settings.warehouse,
            "CALLSCORE_MODEL": settings.model, "CALLSCORE_ROSTER": settings.roster,
            "CALLSCORE_DATA_DOCS": settings.data_docs, "CALLSCORE_SHARD_SIZE": str(settings.shard_size)}


SLOW_PUBLISH = (  # the first run's publish takes 15 s, so the second surely starts while it holds the day
    "import sys, time\n"
    "from pipeline import cli\n"
    "from pipeline.warehouse import storage\n"
    "real = storage.copy_object\n"
    "def copy(*a, **k):\n"
    "    time.sleep(15 if '/_versions/' in a[1] and '/utterances/' in a[1] else 0)\n"
    "    return real(*a, **k)\n"
    "storage.copy_object = copy\n"
    f"sys.exit(cli.main(['run', '--date', '{DAY}']))\n")


def test_two_runs_of_one_day_at_once_publish_exactly_one(settings):
    first = subprocess.Popen([sys.executable, "-c", SLOW_PUBLISH], env=_env(settings), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=REPO)
    lease = Path(commit.lease_url(settings.warehouse, DAY))
    deadline = time.time() + 120
    while not lease.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert lease.exists(), first.communicate()
    second = subprocess.run([CLI, "run", "--date", DAY], env=_env(settings), capture_output=True, text=True,
                            timeout=300)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 3 and "is being processed by run" in second.stderr, second.stderr[-2000:]
    record = commit.read_record(settings.warehouse, DAY)
    assert runs_seen(settings.warehouse) == {record["run_id"]} and record["complete"]
    assert not lease.exists()


@pytest.mark.parametrize("kill_at", [2, 5])  # while writing versions; between two reader copies
def test_kill_9_during_publish_then_a_rerun_recovers(settings, kill_at):
    script = (
        "import os, signal, sys\n"
        "from pipeline import cli\n"
        "from pipeline.warehouse import storage\n"
        "real, n = storage.copy_object, [0]\n"
        "def copy(*a, **k):\n"
        "    n[0] += 1\n"
        f"    if n[0] == {kill_at}:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(*a, **k)\n"
        "storage.copy_object = copy\n"
        f"sys.exit(cli.main(['run', '--date', '{DAY}']))\n")
    killed = subprocess.run([sys.executable, "-c", script], env=_env(settings), capture_output=True, text=True,
                            timeout=300, cwd=REPO)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert Path(commit.lease_url(settings.warehouse, DAY)).exists()  # the dead run still holds the day
    assert len(runs_seen(settings.warehouse)) <= 1
    rerun = subprocess.run([CLI, "run", "--date", DAY], env=_env(settings), capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "taking over the lease" in rerun.stderr
    record = commit.read_record(settings.warehouse, DAY)
    assert runs_seen(settings.warehouse) == {record["run_id"]}
    for table in TABLES:  # the reader copies are the committed run's too (a derived table may be empty)
        assert set(layout.read_partition(settings.warehouse, table, DAY).run_id) <= {record["run_id"]}, table
    assert set(layout.read_partition(settings.warehouse, "utterances", DAY).run_id) == {record["run_id"]}
    assert [p.name for p in Path(settings.warehouse, "_staging").iterdir()] == []  # the dead run's staging is gone


def test_lease_rules(tmp_path):
    wh = str(tmp_path / "wh")
    commit.acquire_lease(wh, DAY, "run-1")
    commit.acquire_lease(wh, DAY, "run-1")  # a retry of the same run renews it
    with pytest.raises(DayBusyError, match=r"run-1.*expires at"):
        commit.acquire_lease(wh, DAY, "run-2")
    assert not commit.release_lease(wh, DAY, "run-2")  # only the holder releases
    lease = json.loads(Path(commit.lease_url(wh, DAY)).read_text())
    Path(commit.lease_url(wh, DAY)).write_text(json.dumps({**lease, "expires_at": time.time() - 1}))
    assert commit.acquire_lease(wh, DAY, "run-2")["run_id"] == "run-2"  # an expired lease is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease = json.loads(Path(commit.lease_url(wh, DAY)).read_text())
    host = storage.holder().rsplit(":", 1)[0]
    Path(commit.lease_url(wh, DAY)).write_text(json.dumps({**lease, "process": f"{host}:{dead.stdout.strip()}"}))
    assert commit.acquire_lease(wh, DAY, "run-3")["run_id"] == "run-3"  # its process is gone


# ------------------------------------------------------------------ empty days, quarantine, duplicates, staging


def test_a_mistyped_landing_fails_and_an_empty_day_needs_allow_empty(settings, tmp_path):
    run.run_day(settings, DAY)
    before = reader_copies(settings.warehouse)
    wrong = subprocess.run([CLI, "run", "--date", DAY], env={**_env(settings), "CALLSCORE_LANDING": "/nope/landing"},
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 2 and "landing root /nope/landing does not exist" in wrong.stderr
    empty = tmp_path / "empty-landing"
    (empty / DAY).mkdir(parents=True)
    with pytest.raises(ConfigError, match="--allow-empty"):
        run.run_day(settings.with_(landing=str(empty)), DAY)
    with pytest.raises(ConfigError, match="has no folder for"):
        run.run_day(settings.with_(landing=str(empty)), "2026-11-23")
    assert reader_copies(settings.warehouse) == before and quarantine_records(settings.warehouse)
    assert not Path(commit.lease_url(settings.warehouse, DAY)).exists()  # a config error frees the day
    summary = run.run_day(settings.with_(landing=str(empty)), DAY, allow_empty=True)
    assert summary["rows"] == dict.fromkeys(TABLES, 0) and quarantine_records(settings.warehouse) == []


def test_quarantine_copies_stop_at_the_day_cap_and_records_say_so(settings):
    run.run_day(settings.with_(max_quarantine_bytes=1), DAY)
    records = quarantine_records(settings.warehouse)
    assert records and all(r["copy"].startswith("skipped") and "max_quarantine_bytes" in r["copy"] for r in records)
    assert not Path(layout.quarantine_url(settings.warehouse, DAY, "files")).exists()
    run.run_day(settings, DAY)
    assert all(r["copy"].startswith("files/") for r in quarantine_records(settings.warehouse))


def test_a_call_published_on_an_earlier_day_is_quarantined_as_a_late_copy(settings, sample_landing, tmp_path):
    run.run_day(settings, "2026-11-23")
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing / DAY, landing / DAY)
    first = next(p for p in sorted((sample_landing / "2026-11-23").rglob("c-*.json")))
    shutil.copy(first, landing / DAY / "late-copy.json")
    run.run_day(settings.with_(landing=str(landing)), DAY)
    late = [r for r in quarantine_records(settings.warehouse) if r["kind"] == "duplicate_call_id_previous_day"]
    assert [r["file"] for r in late] == ["late-copy.json"] and "2026-11-23" in late[0]["message"]


def test_staging_left_by_failed_runs_is_removed(settings):
    stale = Path(settings.warehouse, "_staging", f"{DAY}_crashed", "shards")
    stale.mkdir(parents=True)
    (stale / "shard-00000.parquet").write_bytes(b"x")
    old = Path(settings.warehouse, "_staging", "2026-01-01_forgotten")
    old.mkdir(parents=True)
    os.utime(old, (time.time() - 3 * commit.LEASE_TTL_S,) * 2)
    kept = Path(settings.warehouse, "_staging", "2026-11-30_recent")
    kept.mkdir(parents=True)
    run.run_day(settings, DAY)
    assert sorted(p.name for p in Path(settings.warehouse, "_staging").iterdir()) == ["2026-11-30_recent"]
