"""Wilson intervals: the Python function, and the DuckDB macros analysts call through ``query``."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.schemas import SCHEMAS, TABLES
from pipeline.scoring.metrics import attach_labels, calls_table, scorecards_table, turns_frame
from pipeline.scoring.uncertainty import wilson_interval
from pipeline.transcripts.model import Call, Participant, Rep, Utterance
from pipeline.warehouse import commit, layout
from pipeline.warehouse.query import _register_macros, query

K = np.array([0, 1, 3, 9, 10, 0, 250])
N = np.array([0, 1, 10, 30, 10, 5, 1000])


def test_wilson_matches_known_values_and_edges():
    lo, hi = wilson_interval(3, 10)
    assert (float(lo), float(hi)) == pytest.approx((0.10779, 0.60322), abs=1e-5)  # the textbook example
    lo, hi = wilson_interval(K, N)
    assert lo.shape == hi.shape == K.shape
    assert (lo[0], hi[0]) == (0.0, 1.0)  # no turns: no information
    assert lo[5] == 0.0 and 0 < hi[5] < 1  # 0 of 5 is not "exactly 0": the upper bound stays open
    assert hi[4] == 1.0 and 0 < lo[4] < 1
    assert np.all((lo >= 0) & (hi <= 1) & (lo <= hi))
    share = np.divide(K, N, out=np.zeros(len(K)), where=N > 0)
    assert np.all((lo <= share) & (share <= hi))
    narrow_lo, narrow_hi = wilson_interval(250, 1000)
    assert float(narrow_hi - narrow_lo) < 0.06  # more turns, tighter bars


def test_sql_macros_match_the_python_function():
    con = duckdb.connect()
    _register_macros(con)
    rows = con.execute("SELECT wilson_lo(k, n), wilson_hi(k, n) FROM (SELECT unnest($1) AS k, unnest($2) AS n)",
                       [K.tolist(), N.tolist()]).fetchall()
    lo, hi = wilson_interval(K, N)
    assert np.array(rows) == pytest.approx(np.column_stack([lo, hi]), abs=1e-12)
    assert con.execute("SELECT wilson_lo(NULL, 3), wilson_hi(1, NULL)").fetchone() == (None, None)


def _publish(warehouse: str, day: str) -> None:
    rep = Rep("rep_01", "Dana Whitfield", "dana@seller.io", "Enterprise", "Mo")
    start = datetime.fromisoformat(day).replace(hour=15, tzinfo=UTC)
    turns = [("rep", 0, 10, "How do you handle renewals?"), ("customer", 11, 30, "Manually."),
             ("rep", 31, 40, "I'll send the ROI model by Friday."), ("rep", 41, 45, "Our tool has dashboards.")]
    calls = [Call(call_id=f"{day}-{i}", started_at=start, duration_s=60.0, title="t", rep=rep,
                  participants=(Participant(rep.name, rep.email, "rep"),),
                  utterances=tuple(Utterance(rep.name if role == "rep" else "Sam", a, b, text, role)
                                   for role, a, b, text in turns), source_file="x.json", source_format="json")
             for i in range(2)]
    labels = ["knowledge_probing", "trust_commitment", "other"] * len(calls)
    probs = np.eye(len(LABELS), dtype=np.float32)[[LABELS.index(x) for x in labels]]
    utterances = attach_labels(turns_frame(calls), labels, probs, "m-test")
    call_rows = calls_table(utterances)
    frames = {"utterances": utterances, "calls": call_rows, "scorecards": scorecards_table(call_rows, day, "r", start)}
    frames |= {t: pd.DataFrame(columns=SCHEMAS[t].names) for t in TABLES if t not in frames}  # staged, empty
    for table, frame in frames.items():
        layout.write_frame(frame, table, layout.staged_partition_url(warehouse, "r", table, day))
    commit.commit_day(warehouse, "r", day)


def test_macros_work_through_query_over_a_window(tmp_path):
    warehouse = str(tmp_path / "warehouse")
    for day in ("2026-11-23", "2026-11-24"):
        _publish(warehouse, day)
    out = query(warehouse, "SELECT rep_id, sum(knowledge_probing_turns) AS k, sum(rep_utterances) AS n, "
                           "wilson_lo(sum(knowledge_probing_turns), sum(rep_utterances)) AS lo, "
                           "wilson_hi(sum(knowledge_probing_turns), sum(rep_utterances)) AS hi FROM calls "
                           "WHERE date BETWEEN DATE '2026-11-23' AND DATE '2026-11-24' GROUP BY rep_id")
    assert out.loc[0, "k"] == 4 and out.loc[0, "n"] == 12  # one probe in each of 2 calls on each of 2 days
    lo, hi = wilson_interval(4, 12)
    assert (out.loc[0, "lo"], out.loc[0, "hi"]) == pytest.approx((float(lo), float(hi)), abs=1e-12)
