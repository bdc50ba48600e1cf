"""A whole day end to end on the real model: publishing, idempotence and failure paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline import run
from pipeline.schemas import TABLES
from pipeline.warehouse import commit, layout, storage
from pipeline.warehouse.query import query
from tests.conftest import DAY, REPO

VOLATILE = ["run_id", "generated_at"]


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _table(settings, table):
    return layout.read_partition(settings.warehouse, table, DAY)


def test_day_publishes_three_tables_and_quarantine(settings, tmp_path):
    summary = run.run_day(settings, DAY)
    wh = tmp_path / "warehouse"
    files = _files(wh)
    for table in layout.TABLES:
        assert f"{table}/date={DAY}/part-0.parquet" in files
    assert not (wh / "_staging").exists() or not any((wh / "_staging").rglob("*.parquet"))
    stats = summary["ingest"]
    assert stats["files_seen"] == stats["files_parsed"] + stats["files_quarantined"]
    steps = summary["step_seconds"]  # where the day's time went (callscore bench e2e prints it)
    assert list(steps) == ["plan", "classify", "build", "validate", "publish"]
    assert sum(steps.values()) <= summary["seconds"] + 0.05
    records = storage.read_jsonl(str(wh / "quarantine" / f"date={DAY}" / "records.jsonl"))
    assert len(records) == summary["quarantined"] >= 2
    assert all({"file", "kind", "message"} <= set(r) for r in records)
    calls = _table(settings, "calls")
    assert len(calls) == stats["calls_parsed"]
    utter = _table(settings, "utterances")
    assert set(utter.call_id) == set(calls.call_id)
    assert utter.loc[utter.speaker_role == "rep", "label"].notna().all()
    assert utter.loc[utter.speaker_role != "rep", "label"].isna().all()
    cards = _table(settings, "scorecards")
    assert cards.rep_id.is_monotonic_increasing and (cards.calls >= 1).all()
    assert cards.set_index("rep_id").calls.to_dict() == calls.groupby("rep_id").size().to_dict()
    assert utter.model_version.nunique() == 1


def test_rerun_replaces_the_day_exactly(settings, tmp_path):
    run.run_day(settings, DAY)
    first = {t: _table(settings, t) for t in layout.TABLES}
    files = _files(tmp_path / "warehouse" / "utterances")
    run.run_day(settings, DAY)
    assert _files(tmp_path / "warehouse" / "utterances") == files
    for table, before in first.items():
        after = _table(settings, table)
        pd.testing.assert_frame_equal(before.drop(columns=VOLATILE, errors="ignore"),
                                      after.drop(columns=VOLATILE, errors="ignore"))


def test_crash_between_stage_and_publish_keeps_the_published_day(settings, monkeypatch):
    run.run_day(settings, DAY)
    before = _table(settings, "scorecards")

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(commit, "write_versions", crash)
    with pytest.raises(RuntimeError, match="worker died"):
        run.run_day(settings, DAY)
    pd.testing.assert_frame_equal(before, _table(settings, "scorecards"))


def test_gx_failure_stops_publish_and_quarantines_staged_data(settings, tmp_path, monkeypatch):
    from pipeline.warehouse import quality

    run.run_day(settings, DAY)
    before = _table(settings, "calls")
    real = run.calls_table

    def corrupted(labelled, *args):
        frame = real(labelled, *args)
        frame.loc[frame.index[0], "rep_talk_ratio"] = 1.7
        return frame

    monkeypatch.setattr(run, "calls_table", corrupted)
    with pytest.raises(quality.ValidationError, match="rep_talk_ratio"):
        run.run_day(settings, DAY)
    pd.testing.assert_frame_equal(before, _table(settings, "calls"))
    results = list((tmp_path / "warehouse" / "quarantine" / f"date={DAY}" / "validation").rglob("gx_result.json"))
    assert len(results) == 1
    assert (results[0].parent / "calls.parquet").is_file()
    stored = json.loads(results[0].read_text())
    assert "rep_talk_ratio" in json.dumps(stored)
    assert stored["data_docs_index"] and Path(stored["data_docs_index"]).is_file()  # the site shows the failure


def test_empty_day_publishes_empty_partitions(settings, tmp_path):
    empty = tmp_path / "landing" / "2026-11-25"
    empty.mkdir(parents=True)  # an existing, empty day folder: a quiet day, not a mistake
    summary = run.run_day(settings.with_(landing=str(tmp_path / "landing")), "2026-11-25")
    assert summary["rows"] == dict.fromkeys(TABLES, 0)


def test_bad_day_string_is_refused(settings):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        run.run_day(settings, "24/11/2026")


def test_query_and_contract(settings):
    run.run_day(settings, DAY)
    frame = query(settings.warehouse, "SELECT rep_id, calls, tier FROM scorecards ORDER BY rep_id")
    assert len(frame) >= 2 and frame.calls.min() >= 1
    contract = REPO.parent / "shared" / "checks" / "contract.py"
    if not contract.is_file():
        pytest.skip("shared/checks/contract.py is not beside the checkout")
    out = subprocess.run([sys.executable, str(contract), settings.warehouse], capture_output=True, text=True,
                         env={**__import__("os").environ, "CALLSCORE_MODEL": settings.model,
                              "PATH": f"{REPO / '.venv' / 'bin'}:{__import__('os').environ['PATH']}"})
    assert out.returncode == 0, out.stdout + out.stderr


def test_streaming_merge_in_small_batches_gives_the_same_tables(settings, monkeypatch):
    run.run_day(settings, DAY)
    whole = {t: _table(settings, t) for t in layout.TABLES}
    monkeypatch.setattr(layout, "MERGE_BATCH_ROWS", 25)  # many rep batches for merge and validation
    assert len(layout.rep_batches([layout.partition_url(settings.warehouse, "utterances", DAY)])) > 2
    run.run_day(settings, DAY)
    pages = {p.parent.parent.name for p in Path(settings.data_docs_dir()).rglob("*.html")
             if "validations" in p.parts}  # one context for the batches: each is a run in the same site
    assert {f"reps-{n}-of-" in " ".join(pages) for n in (1, 2)} == {True}, pages
    for table, before in whole.items():
        after = _table(settings, table)
        pd.testing.assert_frame_equal(before.drop(columns=VOLATILE, errors="ignore"),
                                      after.drop(columns=VOLATILE, errors="ignore"))
    utter = _table(settings, "utterances")
    assert utter.equals(utter.sort_values(["rep_id", "call_id", "utterance_index"]).reset_index(drop=True))


@pytest.mark.parametrize(("shard_size", "files", "max_shards", "expected"), [
    (200, 1_000, 500, 200),  # a normal day: the setting
    (200, 1_000_000, 500, 2_000),  # a platform's day: 500 shards of 2,000 calls, under max_map_length
    (1, 15, 3, 5),
])
def test_shard_size_grows_with_the_day_so_the_shard_count_stays_bounded(shard_size, files, max_shards, expected):
    assert run.day_shard_size(shard_size, files, max_shards) == expected


def test_a_day_never_maps_more_than_max_shards_and_keeps_every_call(settings):
    plan = run.plan_day(settings.with_(shard_size=1, max_shards=3), DAY, "run-S")
    files = len(storage.landing_day(settings.landing, DAY).files)  # calls, sidecars and broken files
    assert 2 <= len(plan["shards"]) <= 3 and plan["shard_size"] == -(-files // 3) > 1
    ids = [i for url in plan["shards"] for i in layout.read_parquet(url)["call_id"].unique()]
    assert len(ids) == len(set(ids)) == plan["stats"]["calls_parsed"]


def test_a_day_with_more_calls_than_files_suggest_puts_the_rest_in_its_last_shard(settings, monkeypatch, caplog):
    monkeypatch.setattr(run, "day_shard_size", lambda *_: 1)  # as if every file held many calls
    plan = run.plan_day(settings.with_(max_shards=3), DAY, "run-M")
    sizes = [layout.read_parquet(url)["call_id"].nunique() for url in plan["shards"]]
    assert sizes[:2] == [1, 1] and len(sizes) == 3 and sum(sizes) == plan["stats"]["calls_parsed"]
    assert "the last shard holds" in caplog.text
    with pytest.raises(ValueError, match="max_shards"):
        settings.with_(max_shards=5000)
