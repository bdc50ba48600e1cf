"""Issue #15, items 1 and 3: landing names never choose a path, and analyst SQL reads only the warehouse.

Each test is an attack that worked before the fix (a key ``<day>//<absolute path>`` wrote a file
there; ``callscore query`` read ``/etc/passwd`` and wrote with ``COPY ... TO``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest

from pipeline import run
from pipeline.transcripts.ingest import unsafe_name
from pipeline.warehouse import layout, storage
from pipeline.warehouse.query import QueryError, query
from tests.conftest import DAY
from tests.pipeline.test_s3 import s3_endpoint  # noqa: F401 - the moto S3 server fixture


@pytest.mark.parametrize(("rel", "why"), [
    ("/etc/passwd", "absolute"), ("", "absolute"), ("a//b.json", "empty"), ("a/../../b.json", "'..'"),
    ("./a.json", "'.'"), ("a\\b.json", "backslash"), ("a\x00b.json", "control"), ("a\nb.json", "control"),
    ("x" * 1025, "1024"),
])
def test_unsafe_names_are_named(rel, why):
    assert why in unsafe_name(rel)


@pytest.mark.parametrize("rel", ["a.json", "zoom/dana/call 1.vtt", "gong/export-2026-11-24.json", "é/ü.vtt"])
def test_ordinary_names_pass(rel):
    assert unsafe_name(rel) is None


def test_joined_paths_never_leave_their_base(tmp_path):
    base = str(tmp_path / "q")
    assert storage.child(base, "ab12/call.vtt") == f"{base}/ab12/call.vtt"
    for rel in ("/etc/passwd", "../x", "a/../../x", "a//b", "", "a\\..\\b"):
        with pytest.raises(ValueError, match="would leave"):
            storage.child(base, rel)
    name = layout.quarantine_copy_name("zoom/dana/call.vtt")
    assert name.endswith("/call.vtt") and "dana" not in name
    assert layout.quarantine_copy_name("zoom/dana/call.meta.json").split("/")[0] == name.split("/")[0]  # pair


def test_hostile_s3_keys_are_quarantined_and_never_written(s3_endpoint, settings, sample_landing,  # noqa: F811
                                                           tmp_path):
    target = tmp_path / "pwned" / "owned.json"  # where the attack tried to write on the worker
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    prefix = f"hostile/landing/{DAY}"
    good = next((sample_landing / DAY).rglob("c-*.json"))
    keys = {f"{prefix}/{good.name}": good.read_bytes(),
            f"{prefix}/{target}": b"{not json",  # '<day>//<absolute path>'
            f"{prefix}/a/../../../../{target.name}": b"{not json",
            f"{prefix}/dir\\evil.json": b"{}"}
    for key, body in keys.items():
        s3.put_object(Bucket="callscore-test", Key=key, Body=body)
    opts = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    hostile = settings.with_(landing="s3://callscore-test/hostile/landing", storage_options=opts,
                             roster=str(sample_landing / "roster.csv"))
    plan = run.plan_day(hostile, DAY, "run-hostile")
    assert not target.exists() and not (tmp_path / target.name).exists()
    records = storage.read_jsonl(layout.staging_url(settings.warehouse, "run-hostile", "quarantine", "records.jsonl"))
    assert sorted(r["kind"] for r in records) == ["unsafe_name"] * 3
    assert all("never read, never copied" in r["message"] and "copy" not in r for r in records)
    assert plan["stats"]["calls_parsed"] == 1 and plan["stats"]["files_seen"] == 4
    written = [p for p in Path(settings.warehouse).rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(Path(settings.warehouse).resolve()) for p in written)


@pytest.fixture(scope="module")
def published(tmp_path_factory, sample_landing, model_dir) -> str:
    """One published day shared by the SQL tests, which only read it (one run instead of one per query)."""
    from pipeline.settings import Settings

    tmp = tmp_path_factory.mktemp("published")
    settings = Settings(landing=str(sample_landing), warehouse=str(tmp / "warehouse"), model=str(model_dir),
                        roster=str(sample_landing / "roster.csv"), shard_size=3, data_docs=str(tmp / "docs"))
    run.run_day(settings, DAY)
    return settings.warehouse


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/hostname')",
    f"SELECT * FROM read_parquet('{Path(sys.executable).resolve()}')",
    "COPY (SELECT 1) TO '/tmp/callscore-pwned.csv'",
    "SELECT 1; COPY (SELECT 1) TO 'pwned.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "ATTACH '/tmp/callscore-pwned.db' AS x",
])
def test_analyst_sql_can_read_only_the_committed_tables(published, sql):
    with pytest.raises(QueryError):
        query(published, sql)
    assert not Path("/tmp/callscore-pwned.csv").exists() and not Path("pwned.csv").exists()


def test_analyst_sql_still_answers_questions(published):
    frame = query(published, "WITH c AS (SELECT rep_id, count(*) AS n FROM calls GROUP BY rep_id) "
                             "SELECT s.rep_id, c.n FROM scorecards s JOIN c USING (rep_id) ORDER BY s.rep_id")
    assert len(frame) >= 2 and frame.n.min() >= 1
    own = layout.partition_url(published, "calls", DAY)  # a reader copy is not a committed version file
    with pytest.raises(QueryError, match="disabled by configuration"):
        query(published, f"SELECT count(*) FROM read_parquet('{own}')")
