"""A rep against peers on the same call type (pipeline.scoring.benchmarks)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.scoring.benchmarks import benchmarks_table
from pipeline.warehouse import layout


def _call(rep: str, call_type: str, probing: int, commit: int, rapport: int, other: int, rep_talk: float,
          talk: float) -> dict:
    return {"rep_id": rep, "call_type": call_type, "rep_utterances": probing + commit + rapport + other,
            "knowledge_probing_turns": probing, "trust_commitment_turns": commit, "rapport_turns": rapport,
            "other_turns": other, "rep_talk_s": rep_talk, "talk_s": talk}


CALLS = pd.DataFrame([
    _call("ana", "discovery", 6, 1, 1, 2, 300, 1000),
    _call("ana", "demo", 1, 1, 0, 8, 700, 1000),
    _call("bo", "discovery", 1, 0, 1, 8, 800, 1000),
    _call("bo", "discovery", 3, 1, 0, 6, 400, 1000),
    _call("cy", "negotiation", 0, 5, 0, 5, 500, 1000),
])


def test_each_rep_is_compared_with_the_pooled_other_reps_of_the_same_call_type():
    table = benchmarks_table(CALLS, "run-1").set_index(["rep_id", "call_type"])
    assert list(table.index) == [("ana", "demo"), ("ana", "discovery"), ("bo", "discovery"), ("cy", "negotiation")]
    ana = table.loc[("ana", "discovery")]
    assert (ana["calls"], ana["rep_utterances"], ana["peer_reps"], ana["peer_calls"]) == (1, 10, 1, 2)
    assert ana["knowledge_probing_share"] == pytest.approx(0.6)
    assert ana["peer_knowledge_probing_share"] == pytest.approx(4 / 20)  # bo's two calls pooled over turns
    assert ana["peer_rep_talk_ratio"] == pytest.approx(1200 / 2000)
    bo = table.loc[("bo", "discovery")]
    assert bo["peer_knowledge_probing_share"] == pytest.approx(0.6) and bo["peer_reps"] == 1
    assert bo["rep_talk_ratio"] == pytest.approx(0.6)


def test_a_call_type_nobody_else_had_has_no_peer_figures():
    cy = benchmarks_table(CALLS, "run-1").set_index(["rep_id", "call_type"]).loc[("cy", "negotiation")]
    assert cy["peer_reps"] == 0 and cy["peer_calls"] == 0
    assert pd.isna(cy["peer_trust_commitment_share"]) and pd.isna(cy["peer_rep_talk_ratio"])
    assert cy["trust_commitment_share"] == pytest.approx(0.5)


def test_the_table_fits_its_schema():
    assert layout.to_arrow(benchmarks_table(CALLS, "run-1"), "benchmarks").num_rows == 4


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="call_type"):
        benchmarks_table(CALLS.drop(columns="call_type"), "run-1")
