"""Analysts read the warehouse with their own tools: pandas, pyarrow, polars and DuckDB.

Two days of real Parquet partitions, written by the warehouse code, are read table by table
in each tool; within a tool, ``date`` has one type in every table, and utterances join to
scorecards on (date, rep_id) with the same row count everywhere. The README's SQL and its
pandas and polars snippets run as written against the same warehouse.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest

from pipeline import LABELS
from pipeline.schemas import TABLES
from pipeline.scoring.benchmarks import benchmarks_table
from pipeline.scoring.coaching import coaching_candidates, select_moments
from pipeline.scoring.drift import drift_table
from pipeline.scoring.metrics import (
    EvidenceConfig,
    ScoringConfig,
    attach_labels,
    calls_table,
    scorecards_table,
    turns_frame,
)
from pipeline.scoring.review import review_candidates, select_queue
from pipeline.transcripts.model import Call, Participant, Rep, Utterance
from pipeline.warehouse import commit, layout
from pipeline.warehouse.query import query

REPO = Path(__file__).resolve().parents[2]
DAYS = ("2026-11-23", "2026-11-24")
DANA = Rep("rep_01", "Dana Whitfield", "dana@seller.io", "Enterprise", "Mo")
LEE = Rep("rep_02", "Lee Park", "lee@seller.io", "SMB")
TURNS = [("rep", 0, 10, "How do you handle renewals today across all of your regional teams?"),
         ("customer", 11, 30, "Manually, in a spreadsheet."),
         ("rep", 31, 40, "I'll send the ROI model by Friday."), ("customer", 41, 45, "Great.")]
LABELLED = ["knowledge_probing", "trust_commitment"]


def _write_day(warehouse: str, day: str, labelled: list[str] = LABELLED) -> None:
    start = datetime.fromisoformat(day).replace(hour=15, tzinfo=UTC)
    calls = [Call(call_id=f"{day}-{rep.id}-{i}", started_at=start, duration_s=60.0, title="t", rep=rep,
                  participants=(Participant(rep.name, rep.email, "rep"),),
                  utterances=tuple(Utterance(rep.name if role == "rep" else "Sam", a, b, text, role)
                                   for role, a, b, text in TURNS),
                  source_file="x.json", source_format="json")
             for rep in (DANA, LEE) for i in range(2)]
    labels = list(labelled) * len(calls)
    probs = np.full((len(labels), len(LABELS)), 0.1, dtype=np.float32)
    probs[np.arange(len(labels)), [LABELS.index(x) for x in labels]] = 0.7
    utterances = attach_labels(turns_frame(calls), labels, probs, "m-test")
    call_rows = calls_table(utterances)
    cfg = ScoringConfig(evidence=EvidenceConfig(min_rep_turns=1, min_calls=1))  # tiers, not insufficient_data
    frames = {"utterances": utterances, "calls": call_rows,
              "scorecards": scorecards_table(call_rows, day, "run-1", start, cfg),
              # the derived tables, by the functions the nightly build calls
              "coaching_moments": select_moments(coaching_candidates(utterances, cfg.coaching), cfg.coaching),
              "benchmarks": benchmarks_table(call_rows, "run-1"),
              "drift": drift_table(call_rows, None, cfg.drift, "m-test", "run-1"),
              "review_queue": select_queue(review_candidates(utterances, cfg.review, day), cfg.review)}
    for table, frame in frames.items():
        layout.write_frame(frame, table, layout.staged_partition_url(warehouse, "run-1", table, day))
    commit.commit_day(warehouse, "run-1", day)  # published as a run publishes: versions, record, reader copies


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("analyst") / "warehouse")
    for day in DAYS:
        _write_day(root, day)
    return root


EXPECTED_JOIN_ROWS = len(DAYS) * 4 * len(TURNS)  # every utterance meets its rep's scorecard of its day


def test_pandas_reads_every_table_with_one_date_type_and_joins(warehouse):
    frames = {t: pd.read_parquet(f"{warehouse}/{t}") for t in TABLES}
    assert len({str(f["date"].dtype) for f in frames.values()}) == 1
    for frame in frames.values():
        frame["date"] = frame["date"].astype(str)
    joined = frames["utterances"].merge(frames["scorecards"], on=["date", "rep_id"])
    assert len(joined) == EXPECTED_JOIN_ROWS


def test_pyarrow_dataset_reads_every_table_with_one_date_type_and_joins(warehouse):
    tables = {t: ds.dataset(f"{warehouse}/{t}", format="parquet", partitioning="hive").to_table() for t in TABLES}
    assert len({str(t.schema.field("date").type) for t in tables.values()}) == 1
    cards = tables["scorecards"].select(["date", "rep_id", "advisor_score"])
    assert tables["utterances"].join(cards, ["date", "rep_id"]).num_rows == EXPECTED_JOIN_ROWS


def test_polars_reads_every_table_with_one_date_type_and_joins(warehouse):
    frames = {t: pl.read_parquet(f"{warehouse}/{t}/**/*.parquet", hive_partitioning=True) for t in TABLES}
    assert {str(f.schema["date"]) for f in frames.values()} == {"Date"}
    assert len(frames["utterances"].join(frames["scorecards"], on=["date", "rep_id"])) == EXPECTED_JOIN_ROWS


def test_duckdb_reads_date_as_date_in_every_table_and_joins(warehouse):
    for table in TABLES:
        assert query(warehouse, f"SELECT DISTINCT typeof(date) AS t FROM {table}")["t"].tolist() == ["DATE"]
    n = query(warehouse, "SELECT count(*) AS n FROM utterances u JOIN scorecards s USING (date, rep_id)")
    assert int(n["n"][0]) == EXPECTED_JOIN_ROWS


def test_plain_duckdb_on_the_files_agrees(warehouse):
    con = duckdb.connect()
    types = {con.execute(f"SELECT DISTINCT typeof(date) FROM read_parquet('{warehouse}/{t}/*/*.parquet', "
                         "hive_partitioning = true)").fetchone()[0] for t in TABLES}
    assert types == {"DATE"}


def _readme_blocks(lang: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_readme_sql_runs_as_written(warehouse):
    statements = [s for block in _readme_blocks("sql") for s in block.split(";") if
                  re.sub(r"--[^\n]*", "", s).strip()]
    assert len(statements) >= 5
    for sql in statements:
        query(warehouse, sql)  # raises QueryError naming the problem


def test_readme_python_snippets_run_as_written(warehouse, model_dir, tmp_path, monkeypatch):
    blocks = _readme_blocks("python")
    assert any("pandas" in b for b in blocks) and any("polars" in b for b in blocks)
    (tmp_path / "var").mkdir()
    os.symlink(warehouse, tmp_path / "var" / "warehouse")
    (tmp_path / "models" / "artifacts").mkdir(parents=True)
    os.symlink(model_dir, tmp_path / "models" / "artifacts" / "current")  # the tests' model (the quick tier's stand-in)
    monkeypatch.chdir(tmp_path)  # the snippets read var/warehouse and models/, as after `make run`
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_summary_counts_are_integers_and_tier_ties_break_the_same_way_every_time(tmp_path):
    """One rep, two days, two tiers (1-1): the summary shows the most recent day's, every time."""
    from pipeline.scoring.summary import PER_REP_SQL, TOTALS_SQL, summary_text

    warehouse = str(tmp_path / "warehouse")
    _write_day(warehouse, DAYS[0], ["knowledge_probing", "knowledge_probing"])  # knows_customer
    _write_day(warehouse, DAYS[1], ["trust_commitment", "trust_commitment"])  # closer
    tiers = query(warehouse, "SELECT date, tier FROM scorecards WHERE rep_id = 'rep_01' ORDER BY date")
    assert tiers["tier"].tolist() == ["knows_customer", "closer"]
    per_rep = [query(warehouse, PER_REP_SQL) for _ in range(5)]
    assert all(p.equals(per_rep[0]) for p in per_rep)
    assert per_rep[0].set_index("rep_id").loc["rep_01", "tier"] == "closer"
    assert str(per_rep[0]["calls"].dtype).startswith("int") and per_rep[0]["calls"].tolist() == [4, 4]
    text = summary_text([{"day": DAYS[1], "quarantined": 0, "run_id": "r", "ingest": {}}],
                        query(warehouse, TOTALS_SQL), per_rep[0], warehouse, "docs")
    assert "Totals: 8 calls, 2 reps" in text and " 4.0 " not in text
