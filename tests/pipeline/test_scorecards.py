"""Metric definitions checked on tiny calls computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.scoring.metrics import (
    ScoringConfig,
    advisor_score,
    attach_labels,
    calls_table,
    is_question,
    previous_customer_turn,
    scorecards_table,
    tier,
    turns_frame,
)
from pipeline.transcripts.model import Call, Participant, Rep, Utterance

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
DANA = Rep("rep_01", "Dana Whitfield", "dana@seller.io", "Enterprise", "Mo")


def _call(call_id: str, turns: list[tuple[str, str, float, float, str]], rep: Rep = DANA,
          duration: float = 120.0) -> Call:
    return Call(call_id=call_id, started_at=T0, duration_s=duration, title="t", rep=rep,
                participants=(Participant(rep.name, rep.email, "rep"), Participant("Sam", "sam@b.com", "customer")),
                utterances=tuple(Utterance(s, a, b, text, role) for s, role, a, b, text in
                                 [(t[0], t[1], t[2], t[3], t[4]) for t in turns]))


# speaker, role, start, end, text
CALL_A = [
    ("Dana", "rep", 0, 10, "Hi Sam, great to see you again!"),             # rapport
    ("Sam", "customer", 12, 42, "Thanks, things are hectic here."),
    ("Dana", "rep", 44, 54, "How do you handle renewals today?"),          # knowledge_probing
    ("Sam", "customer", 55, 75, "Mostly spreadsheets."),
    ("Dana", "rep", 78, 98, "I'll send the ROI model by Friday."),         # trust_commitment
    ("Sam", "customer", 98, 100, "Great."),
]
LABELS_A = ["rapport", "knowledge_probing", "trust_commitment"]


def _labelled(calls: list[Call], labels: list[str]) -> pd.DataFrame:
    turns = turns_frame(calls)
    probs = np.eye(len(LABELS), dtype=np.float32)[[LABELS.index(x) for x in labels]]
    return attach_labels(turns, labels, probs, "m-test")


def test_call_metrics_by_hand():
    row = calls_table(_labelled([_call("a", CALL_A)], LABELS_A)).iloc[0]
    assert row.rep_utterances == 3 and row.customer_utterances == 3
    # rep talks 10 + 10 + 20 = 40 s of 40 + 30 + 20 + 2 = 92 s
    assert row.rep_talk_ratio == pytest.approx(40 / 92)
    assert row.rep_questions == 1
    assert row.knowledge_probing_share == pytest.approx(1 / 3)
    assert row.other_share == 0
    assert row.longest_rep_monologue_s == 20 and row.longest_customer_story_s == 30
    # 5 speaker switches in a 120 s call
    assert row.interactivity == pytest.approx(5 / 2)
    # rep answers after customer turns: 44-42 = 2, 78-75 = 3
    assert row.patience_s == pytest.approx(2.5) and row.rep_answers == 2
    assert row.first_probe_s == 44
    assert row.model_version == "m-test"


def test_patience_never_negative_and_first_probe_null_without_probing():
    turns = [("Sam", "customer", 0, 10, "hello"), ("Dana", "rep", 9, 12, "mm-hmm")]  # overlap
    row = calls_table(_labelled([_call("b", turns)], ["other"])).iloc[0]
    assert row.patience_s == 0 and pd.isna(row.first_probe_s)


def test_scorecard_aggregates_exactly_over_calls():
    other_rep = Rep("rep_02", "Lee Park", "lee@seller.io", "SMB")
    call_b = [("Dana", "rep", 0, 30, "Our platform has twelve dashboards."),
              ("Sam", "customer", 31, 33, "ok"), ("Dana", "rep", 34, 40, "Does that make sense?")]
    call_c = [("Lee", "rep", 0, 5, "Congrats on the launch!"), ("Sam", "customer", 6, 16, "Thanks!")]
    labelled = _labelled([_call("a", CALL_A), _call("b", call_b, duration=60), _call("c", call_c, other_rep, 30)],
                         [*LABELS_A, "other", "other", "rapport"])
    calls = calls_table(labelled)
    cards = scorecards_table(calls, "2026-11-24", "run-1", T0).set_index("rep_id")
    dana = cards.loc["rep_01"]
    assert dana.calls == 2 and dana.rep_utterances == 5
    assert dana.knowledge_probing_share == pytest.approx(1 / 5)
    assert dana.other_share == pytest.approx(2 / 5)
    assert sum(dana[f"{x}_share"] for x in LABELS) == pytest.approx(1, abs=1e-12)
    assert dana.probing_per_call == 0.5 and dana.commitments_per_call == 0.5
    assert dana.questions_per_call == 1.0
    # talk: call a 40/92, call b 36/38 -> (40 + 36) / (92 + 38)
    assert dana.rep_talk_ratio == pytest.approx(76 / 130)
    assert dana.longest_monologue_s == 30
    # switches 5 + 2 over 3 minutes
    assert dana.interactivity == pytest.approx(7 / 3)
    # answers: 2 s, 3 s (call a) and 1 s (call b)
    assert dana.patience_s == pytest.approx(2.0)
    assert cards.loc["rep_02"].tier == "relationship_only" and cards.loc["rep_02"].team == "SMB"
    assert dana.manager == "Mo"


def test_tiers_and_score_follow_the_config():
    cfg = ScoringConfig()
    advisor = {"knowledge_probing": 0.3, "trust_commitment": 0.2, "rapport": 0.1, "other": 0.4}
    pitcher = {"knowledge_probing": 0.02, "trust_commitment": 0.03, "rapport": 0.05, "other": 0.9}
    assert tier(advisor, cfg) == "trusted_advisor" and tier(pitcher, cfg) == "pitcher"
    assert advisor_score(advisor, 0.45, cfg) == 100.0
    assert advisor_score(pitcher, 0.8, cfg) < 15
    strict = ScoringConfig(probing_min=0.5)
    assert tier(advisor, strict) == "closer"
    # rapport barely moves the score
    more_rapport = {**pitcher, "rapport": 0.5}
    assert advisor_score(more_rapport, 0.8, cfg) - advisor_score(pitcher, 0.8, cfg) <= 5


def test_scoring_config_refuses_bad_weights(tmp_path):
    with pytest.raises(ValueError, match="sum to 1"):
        ScoringConfig(weights={"knowledge_probing": 0.9, "trust_commitment": 0.9, "rapport": 0, "listening": 0})
    assert ScoringConfig.from_dict({"probing_min": 0.3}).probing_min == 0.3
    with pytest.raises(ValueError, match="unknown fields"):
        ScoringConfig.from_dict({"probing_minimum": 0.3})


def test_attach_labels_refuses_mismatched_predictions():
    turns = turns_frame([_call("a", CALL_A)])
    with pytest.raises(ValueError, match="rep turns"):
        attach_labels(turns, ["other"], np.ones((1, 4), dtype=np.float32) / 4, "m")


def test_previous_customer_turn_stays_inside_a_call():
    turns = turns_frame([_call("a", CALL_A), _call("z", [("Dana", "rep", 0, 1, "Hi")])])
    ctx = previous_customer_turn(turns)
    assert ctx.tolist()[:5] == ["", "", "Thanks, things are hectic here.", "Thanks, things are hectic here.",
                                "Mostly spreadsheets."]
    assert ctx.iloc[-1] == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("How do you handle renewals?", True), ("so how do you handle renewals today", True),
    ("um what does your team use", True), ("walk me through the hand-off", True),
    ("I'll send it Friday.", False), ("mm-hmm", False), ("the dashboard has twelve widgets", False),
])
def test_is_question(text, expected):
    assert is_question(text) is expected
