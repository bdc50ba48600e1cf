"""Issue #15, item 7: retention removes what is past its time, and nothing else.

A published warehouse (the sample's two days, with their quarantined files), plus an old failed
validation snapshot, a dead run's staging, a live run's staging and Data Docs pages of two ages.
"""

from __future__ import annotations

import os
import time
from datetime import date

import pytest

from pipeline.run import collect_garbage, run_day
from pipeline.warehouse import commit, layout, storage
from pipeline.warehouse.retention import EXPIRED, collect
from tests.conftest import DAY

OLD_DAY = "2026-11-23"


def _age(path, days: float) -> None:
    stamp = time.time() - days * 86400
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (stamp, stamp))


@pytest.fixture
def aged_warehouse(settings, tmp_path):
    for day in (OLD_DAY, DAY):
        run_day(settings, day)
    wh = tmp_path / "warehouse"
    snapshot = wh / "quarantine" / f"date={OLD_DAY}" / "validation" / "run-x" / "calls.parquet"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"staged tables of a run the gate stopped")
    dead = wh / "_staging" / "2026-11-20_dead-run" / "shards" / "shard-00000.parquet"
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b"x")
    _age(wh / "_staging" / "2026-11-20_dead-run", 1)
    live = wh / "_staging" / "2026-11-25_live-run" / "shards" / "shard-00000.parquet"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"x")
    _age(wh / "_staging" / "2026-11-25_live-run", 1)  # idle, but its lease says it is alive
    commit.acquire_lease(str(wh), "2026-11-25", "2026-11-25_live-run")
    docs = tmp_path / "docs" / "validations"
    (docs / "old").mkdir(parents=True)
    (docs / "old" / "result.html").write_text("old")
    _age(docs / "old", 120)
    (docs / "new").mkdir(parents=True)
    (docs / "new" / "result.html").write_text("new")
    return settings


def _copies(wh, day: str) -> list:
    return sorted(p for p in (wh / "quarantine" / f"date={day}" / "files").rglob("*") if p.is_file())


def test_gc_removes_what_is_past_retention_and_keeps_the_rest(aged_warehouse, tmp_path):
    wh = tmp_path / "warehouse"
    assert _copies(wh, OLD_DAY) and _copies(wh, DAY)
    tables_before = {t: layout.read_partition(str(wh), t, OLD_DAY) for t in ("calls", "scorecards")}
    n_old = len(_copies(wh, OLD_DAY))
    today = date.fromisoformat(DAY).toordinal() + 1  # DAY is 1 day old, OLD_DAY 2 days
    out = collect(str(wh), today=date.fromordinal(today), quarantine_days=1, docs_days=90,
                  staging_idle_s=3600, docs_dir=str(tmp_path / "docs"))
    assert out.days == [OLD_DAY] and out.quarantine_copies == n_old
    assert _copies(wh, OLD_DAY) == [] and _copies(wh, DAY)  # only the day past its retention
    records = storage.read_jsonl(str(wh / "quarantine" / f"date={OLD_DAY}" / "records.jsonl"))
    assert not any(str(r.get("copy", "")).startswith("files/") for r in records)
    assert any(r.get("copy") == EXPIRED for r in records)  # the records stay, saying the copy expired
    assert not list((wh / "quarantine" / f"date={OLD_DAY}").rglob("*.parquet"))
    assert out.validation_snapshots == 1 and out.staging_runs == 1
    assert not (wh / "_staging" / "2026-11-20_dead-run").exists()
    assert (wh / "_staging" / "2026-11-25_live-run").exists()  # its lease is held
    assert out.data_docs_files == 1 and (tmp_path / "docs" / "validations" / "new" / "result.html").exists()
    assert not (tmp_path / "docs" / "validations" / "old").exists()
    for table, before in tables_before.items():  # published tables are never retention's business
        assert layout.read_partition(str(wh), table, OLD_DAY).equals(before)
    again = collect(str(wh), today=date.fromordinal(today), quarantine_days=1, docs_days=90,
                    staging_idle_s=3600, docs_dir=str(tmp_path / "docs"))
    assert (again.quarantine_copies, again.validation_snapshots, again.staging_runs, again.data_docs_files) == (
        0, 0, 0, 0)  # idempotent


def test_collect_garbage_uses_the_settings_and_the_older_than_override(aged_warehouse, tmp_path):
    wh = tmp_path / "warehouse"
    kept = collect_garbage(aged_warehouse)  # defaults: 30 days of quarantine; these days are recent
    assert kept["quarantine_copies"] == 0 and _copies(wh, OLD_DAY)
    assert kept["staging_runs"] == 1  # a dead run's staging goes whatever the retention days
    out = collect_garbage(aged_warehouse, older_than=0, today=date(2026, 12, 1))
    assert out["quarantine_copies"] > 0 and _copies(wh, OLD_DAY) == [] and _copies(wh, DAY) == []


def test_negative_retention_is_refused(tmp_path):
    with pytest.raises(ValueError, match="must not be negative"):
        collect(str(tmp_path), today=date(2026, 12, 1), quarantine_days=-1, docs_days=1, staging_idle_s=0)
