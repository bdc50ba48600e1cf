"""Metric definitions checked on tiny calls computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.schemas import INTERVAL_COLUMNS, SCORECARDS
from pipeline.scoring.metrics import (
    INSUFFICIENT_DATA,
    EvidenceConfig,
    ScoringConfig,
    advisor_score,
    attach_labels,
    calls_table,
    is_question,
    previous_customer_turn,
    scorecards_table,
    tier,
    tier_with_reason,
    turns_frame,
)
from pipeline.scoring.uncertainty import wilson_interval
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
    lenient = ScoringConfig(evidence=EvidenceConfig(min_rep_turns=1, min_calls=1))  # tiers from tiny samples
    cards = scorecards_table(calls, "2026-11-24", "run-1", T0, lenient).set_index("rep_id")
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
    # with the default evidence rule, 5 turns and 1 turn are too few for any verdict
    strict = scorecards_table(calls, "2026-11-24", "run-1", T0).set_index("rep_id")
    assert set(strict["tier"]) == {INSUFFICIENT_DATA}
    assert strict.loc["rep_02"].tier_reason == ("insufficient_data: 1 rep turns < evidence.min_rep_turns 30 "
                                               "and 1 call < evidence.min_calls 2")


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


def _calls_rows(rep_id: str, per_call: list[tuple[int, int, int, int]]) -> pd.DataFrame:
    """Calls-table rows built by hand (only what scorecards read): one per (probing, rapport, commitment, other)."""
    return pd.DataFrame([{
        "call_id": f"{rep_id}-{i}", "rep_id": rep_id, "rep_name": rep_id, "team": "T", "manager": "M",
        "rep_utterances": sum(counts), **{f"{label}_turns": n for label, n in zip(LABELS, counts, strict=True)},
        "talk_s": 100.0, "rep_talk_s": 40.0, "rep_answers": 2, "patience_s": 1.0, "duration_s": 120.0,
        "rep_questions": 1, "longest_rep_monologue_s": 10.0, "speaker_switches": 4, "model_version": "m",
        "precision": "fp32"} for i, counts in enumerate(per_call)])


def test_scorecards_carry_wilson_intervals_and_follow_the_schema():
    calls = _calls_rows("rep_01", [(6, 2, 4, 8), (3, 1, 2, 4)])  # 30 turns over 2 calls: just enough evidence
    card = scorecards_table(calls, "2026-11-24", "run-1", T0).iloc[0]
    assert list(scorecards_table(calls, "2026-11-24", "run-1", T0).columns) == ["date", *SCORECARDS.names]
    for label, k in zip(LABELS, (9, 3, 6, 12), strict=True):
        lo, hi = wilson_interval(k, 30)
        assert card[f"{label}_share_lo"] == pytest.approx(float(lo))
        assert card[f"{label}_share_hi"] == pytest.approx(float(hi))
        assert card[f"{label}_share_lo"] <= card[f"{label}_share"] <= card[f"{label}_share_hi"]
    assert all(0 <= card[c] <= 1 for c in INTERVAL_COLUMNS)
    assert card.tier == "trusted_advisor"
    assert card.tier_reason == ("knowledge_probing_share 0.30 >= probing_min 0.20 and "
                                "trust_commitment_share 0.20 >= commitment_min 0.12")


def test_insufficient_evidence_gives_no_verdict():
    few_turns = _calls_rows("rep_01", [(6, 1, 4, 3), (3, 0, 2, 1)])  # 20 turns, 2 calls, an advisor's mix
    one_call = _calls_rows("rep_02", [(12, 4, 8, 16)])  # 40 turns from one call
    cards = scorecards_table(pd.concat([few_turns, one_call]), "2026-11-24", "run-1", T0).set_index("rep_id")
    assert cards.loc["rep_01"].tier == INSUFFICIENT_DATA
    assert cards.loc["rep_01"].tier_reason == "insufficient_data: 20 rep turns < evidence.min_rep_turns 30"
    assert cards.loc["rep_02"].tier_reason == "insufficient_data: 1 call < evidence.min_calls 2"
    # shares and intervals are still published: the interval shows why there is no verdict
    assert cards.loc["rep_01"].knowledge_probing_share == pytest.approx(0.45)
    assert cards.loc["rep_01"].knowledge_probing_share_hi - cards.loc["rep_01"].knowledge_probing_share_lo > 0.3
    relaxed = ScoringConfig(evidence=EvidenceConfig(min_rep_turns=20, min_calls=1))
    assert set(scorecards_table(pd.concat([few_turns, one_call]), "d", "r", T0, relaxed)["tier"]) == {
        "trusted_advisor"}


@pytest.mark.parametrize(("shares", "expected", "reason"), [
    ((0.31, 0.15), "trusted_advisor",
     "knowledge_probing_share 0.31 >= probing_min 0.20 and trust_commitment_share 0.15 >= commitment_min 0.12"),
    ((0.31, 0.05), "knows_customer",
     "knowledge_probing_share 0.31 >= probing_min 0.20 and trust_commitment_share 0.05 < commitment_min 0.12"),
    ((0.10, 0.15), "closer",
     "knowledge_probing_share 0.10 < probing_min 0.20 and trust_commitment_share 0.15 >= commitment_min 0.12"),
    ((0.10, 0.05, 0.30), "relationship_only",
     "knowledge_probing_share 0.10 < probing_min 0.20, trust_commitment_share 0.05 < commitment_min 0.12 and "
     "rapport_share 0.30 >= rapport_min 0.25"),
    ((0.10, 0.05, 0.05), "pitcher",
     "knowledge_probing_share 0.10 < probing_min 0.20, trust_commitment_share 0.05 < commitment_min 0.12 and "
     "rapport_share 0.05 < rapport_min 0.25"),
    ((0.19999, 0.15), "closer",  # never "0.20 < probing_min 0.20": more digits when two would mislead
     "knowledge_probing_share 0.199990 < probing_min 0.200000 and trust_commitment_share 0.15 >= commitment_min 0.12"),
], ids=["trusted_advisor", "knows_customer", "closer", "relationship_only", "pitcher", "near_threshold"])
def test_tier_reason_names_columns_and_thresholds(shares, expected, reason):
    probing, commitment, *rapport = shares
    full = {"knowledge_probing": probing, "trust_commitment": commitment, "rapport": rapport[0] if rapport else 0.1}
    full["other"] = 1 - sum(full.values())
    assert tier_with_reason(full, ScoringConfig()) == (expected, reason)
    assert tier(full, ScoringConfig()) == expected  # the str-returning form callers already use
