"""Coaching-moment rules checked on small hand-written calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline import LABELS
from pipeline.schemas import COACHING_MOMENTS, PROB_COLUMNS
from pipeline.scoring.coaching import coaching_candidates, has_proof, hype_terms, select_moments
from pipeline.scoring.metrics import CoachingConfig
from pipeline.warehouse.layout import to_arrow

CFG = CoachingConfig()
KP, RA, TC, OT = LABELS

Turn = tuple[str, str, float, float, str | None, float | None]  # role, text, start, end, label, p


def _call(turns: list[Turn], call_id: str = "c1", rep_id: str = "rep_01", spoken: bool = True) -> pd.DataFrame:
    """A labelled turns frame as ``attach_labels`` makes it; ``p`` goes to the label, the rest spread evenly."""
    rows = []
    for i, (role, text, start, end, label, p) in enumerate(turns):
        probs = dict.fromkeys(PROB_COLUMNS, np.nan)
        if role == "rep":
            probs = dict.fromkeys(PROB_COLUMNS, (1 - p) / 3)
            probs[f"p_{label}"] = p
        rows.append({"call_id": call_id, "utterance_index": i, "speaker": "Dana" if role == "rep" else "Sam",
                     "speaker_role": role, "rep_id": rep_id, "start_s": float(start), "end_s": float(end),
                     "spoken_s": float(end - start) if spoken else np.nan, "text": text,
                     "word_count": len(text.split()), "is_question": "?" in text,
                     "label": label if role == "rep" else None, **probs, "model_version": "m1", "run_id": "r1"})
    frame = pd.DataFrame(rows)
    frame["word_count"] = frame["word_count"].astype("int32")
    for col in PROB_COLUMNS:
        frame[col] = frame[col].astype("float32")
    return frame


def _kind(candidates: pd.DataFrame, kind: str) -> pd.DataFrame:
    return candidates[candidates["kind"] == kind].reset_index(drop=True)


STORY = ("honestly the renewals are a mess we track everything in a spreadsheet and it costs us about "
         "$4,000 a month in overtime for the ops team plus we lost three accounts last quarter because "
         "nobody saw the dates coming")


# --- best_probe / best_commitment --------------------------------------------------------------------------

def test_best_probe_needs_substance_and_probability():
    frame = _call([
        ("rep", "mm-hmm", 0, 1, KP, 0.99),  # confident but says nothing
        ("rep", "how are renewals handled today and who owns the hand-off to finance?", 2, 8, KP, 0.90),
        ("rep", "so what happens after a ticket is escalated to your second line team?", 9, 15, KP, 0.55),
        ("rep", "walk me through what the close looks like for your team each month today", 16, 22, KP, 0.70),
    ])
    best = _kind(coaching_candidates(frame, CFG), "best_probe")
    assert sorted(best["utterance_index"]) == [1, 3]  # not the backchannel, not the p=0.55 turn
    row = best.set_index("utterance_index").loc[1]
    assert row["probability"] == pytest.approx(0.90, abs=1e-6)
    words = 12
    assert row["score"] == pytest.approx(0.90 * (0.5 + 0.5 * words / 24), abs=1e-6)
    assert "p=0.90" in row["reason"] and "12-word" in row["reason"]


def test_best_commitment_only_from_commitments():
    frame = _call([
        ("rep", "I'll send the security answers and the ROI model to you by Friday morning", 0, 5, TC, 0.92),
        ("rep", "how are renewals handled today and who owns the hand-off to finance?", 6, 9, KP, 0.95),
    ])
    cands = coaching_candidates(frame, CFG)
    assert list(_kind(cands, "best_commitment")["utterance_index"]) == [0]
    assert list(_kind(cands, "best_probe")["utterance_index"]) == [1]


# --- missed_probe -------------------------------------------------------------------------------------------

def test_missed_probe_after_customer_story():
    frame = _call([
        ("rep", "so tell me how renewals work on your side today?", 0, 5, KP, 0.9),
        ("customer", STORY, 6, 30, None, None),
        ("rep", "great so let me show you our dashboard it has twelve widgets", 31, 40, OT, 0.81),
    ])
    missed = _kind(coaching_candidates(frame, CFG), "missed_probe")
    assert len(missed) == 1
    row = missed.iloc[0]
    assert row["utterance_index"] == 2 and row["start_s"] == 31.0 and row["label"] == OT
    assert row["text"].startswith("great so let me show you")
    assert "customer spoke 39 words" in row["reason"]
    assert "a cost ('$4,000 a month')" in row["reason"] and "a tool ('spreadsheet')" in row["reason"]
    assert "a metric ('three accounts')" in row["reason"]
    assert "labelled other (p=0.81)" in row["reason"]


def test_no_missed_probe_when_rep_probes_or_commits():
    for label in (KP, TC):
        frame = _call([
            ("customer", STORY, 0, 20, None, None),
            ("rep", "so if I heard you right the spreadsheet is the bottleneck is that fair", 21, 26, label, 0.8),
        ])
        assert _kind(coaching_candidates(frame, CFG), "missed_probe").empty, label


def test_short_customer_turn_with_a_cost_qualifies_but_small_talk_does_not():
    cost = _call([
        ("customer", "we pay 20% more than last year", 0, 3, None, None),
        ("rep", "ha, that's the same everywhere these days isn't it", 4, 6, RA, 0.7),
    ])
    missed = _kind(coaching_candidates(cost, CFG), "missed_probe")
    assert len(missed) == 1 and "a metric ('20%')" in missed.iloc[0]["reason"]
    small_talk = _call([
        ("customer", "the weekend was lovely thanks, we went hiking", 0, 3, None, None),
        ("rep", "oh nice, where did you go hiking?", 4, 6, RA, 0.7),
    ])
    assert _kind(coaching_candidates(small_talk, CFG), "missed_probe").empty


def test_customer_words_are_not_quoted_when_withheld():
    frame = _call([
        ("customer", STORY, 0, 20, None, None),
        ("rep", "great so let me show you our dashboard it has twelve widgets", 21, 30, OT, 0.81),
    ])
    reason = _kind(coaching_candidates(frame, CFG, quote_customer=False), "missed_probe").iloc[0]["reason"]
    assert "naming a cost and a metric and a tool;" in reason
    assert "$4,000" not in reason and "spreadsheet" not in reason
    phone = _call([("customer", "call 555 123 4567 users when it breaks", 0, 3, None, None),
                   ("rep", "sure, that works fine for us then", 4, 6, OT, 0.8)])
    reason = _kind(coaching_candidates(phone, CFG), "missed_probe").iloc[0]["reason"]
    assert "4567" not in reason and "a metric;" in reason


def test_backchannel_is_skipped_when_finding_the_reps_next_turn():
    frame = _call([
        ("customer", "we track it all in a spreadsheet", 0, 3, None, None),
        ("rep", "mm-hmm", 3, 4, OT, 0.95),
        ("customer", "and it breaks every month", 4, 6, None, None),
        ("rep", "how many hours does the team lose to that each month?", 7, 10, KP, 0.9),
    ])
    assert _kind(coaching_candidates(frame, CFG), "missed_probe").empty


# --- pitch_before_discovery ---------------------------------------------------------------------------------

PITCH = [("rep", f"and here is feature number {i} of the platform on screen", 10 * i, 10 * i + 8, OT, 0.8)
         for i in range(6)]
PROBE = ("rep", "what does your team do today when a renewal is missed?", 100, 104, KP, 0.9)


def test_pitch_before_discovery_points_at_the_crossing_turn():
    frame = _call([*PITCH, PROBE])
    pitch = _kind(coaching_candidates(frame, CFG), "pitch_before_discovery")
    assert len(pitch) == 1  # one row per call
    row = pitch.iloc[0]
    assert row["utterance_index"] == 4  # the fifth `other` turn is more than pitch_turns=4
    assert "6 rep turns labelled other (48 s of product talk)" in row["reason"]
    assert "first probe at 100 s" in row["reason"]
    assert row["score"] == pytest.approx(6 / 4)


def test_probing_first_is_not_a_pitch():
    frame = _call([PROBE, *PITCH])
    assert _kind(coaching_candidates(frame, CFG), "pitch_before_discovery").empty


def test_pitch_by_seconds_in_a_call_that_never_probes():
    frame = _call([("rep", "let me tell you about us", 0, 70, OT, 0.8),
                   ("rep", "and about our company history and the team", 71, 141, OT, 0.6)])
    row = _kind(coaching_candidates(frame, CFG), "pitch_before_discovery").iloc[0]
    assert row["utterance_index"] == 1  # 140 s > 120 s at the second turn
    assert "never probed" in row["reason"]


def test_small_talk_before_discovery_is_no_pitch():
    frame = _call([("rep", "how was the conference, I heard the keynote was great", 0, 70, RA, 0.8),
                   ("rep", "and congratulations on the new office, it looks fantastic", 71, 141, RA, 0.7)])
    assert _kind(coaching_candidates(frame, CFG), "pitch_before_discovery").empty  # 140 s, but no product talk


# --- long_monologue -----------------------------------------------------------------------------------------

def test_long_monologue_160s_but_not_100s():
    frame = _call([("rep", "so the platform does a great many things " * 10, 0, 160, OT, 0.7),
                   ("customer", "ok", 161, 162, None, None),
                   ("rep", "and another long explanation of reporting " * 8, 163, 263, OT, 0.7)])
    mono = _kind(coaching_candidates(frame, CFG), "long_monologue")
    assert list(mono["utterance_index"]) == [0]
    assert "160 s" in mono.iloc[0]["reason"]
    assert mono.iloc[0]["score"] == pytest.approx(160 / 150)


def test_long_monologue_uses_spoken_time_and_span_when_unknown():
    frame = _call([("rep", "a turn with a long pause inside it " * 5, 0, 200, OT, 0.7)])
    frame["spoken_s"] = 90.0  # merged turn: 200 s span, 90 s of speech
    assert _kind(coaching_candidates(frame, CFG), "long_monologue").empty
    frame["spoken_s"] = np.nan
    mono = _kind(coaching_candidates(frame, CFG), "long_monologue")
    assert len(mono) == 1 and "(turn span)" in mono.iloc[0]["reason"]


# --- vague_claim --------------------------------------------------------------------------------------------

def test_vague_claim_without_proof():
    frame = _call([
        ("rep", "honestly we're the best-in-class platform and onboarding is seamless", 0, 5, OT, 0.74),
        ("rep", "we are the #1 tool and a customer like you cut close time from 9 days to 3", 6, 10, TC, 0.9),
        ("rep", "we're the leading vendor, just ask Northwind Health", 11, 15, TC, 0.8),
        ("rep", "what is the best way to reach your finance lead?", 16, 19, KP, 0.9),
        ("rep", "all the best with the move, talk soon", 20, 22, RA, 0.9),
    ])
    vague = _kind(coaching_candidates(frame, CFG), "vague_claim")
    assert list(vague["utterance_index"]) == [0]
    row = vague.iloc[0]
    assert "'best-in-class', 'seamless'" in row["reason"] and "p=0.74" in row["reason"]
    assert row["score"] == pytest.approx(0.74 * 1.5, abs=1e-6)


@pytest.mark.parametrize(("text", "terms", "proof"), [
    ("Lots of companies like yours love us.", ["love us"], False),
    ("we are the number one platform", ["number one"], False),
    ("our uptime is guaranteed at 99.9%", ["guaranteed"], True),
    ("a world-class team, just ask Acme", ["world-class"], True),
    ("there is a case study on our site showing a revolutionary result", ["revolutionary"], True),
    ("best regards, and do our best on Friday", [], False),
])
def test_hype_and_proof_phrases(text, terms, proof):
    assert hype_terms(text) == terms
    assert has_proof(text) is proof


# --- select_moments ------------------------------------------------------------------------------------------

def _probe_call(call_id: str, ps: list[float], rep_id: str = "rep_01") -> pd.DataFrame:
    return _call([("rep", f"how does your team handle escalations and renewals today number {i}?", 10 * i,
                   10 * i + 5, KP, p) for i, p in enumerate(ps)], call_id=call_id, rep_id=rep_id)


def test_select_moments_ranks_and_caps_across_two_shards():
    shard_a = coaching_candidates(_probe_call("call_a", [0.95, 0.70]), CFG)
    shard_b = coaching_candidates(pd.concat([_probe_call("call_b", [0.95, 0.85, 0.65]),
                                             _probe_call("call_c", [0.99], rep_id="rep_02")]), CFG)
    moments = select_moments(pd.concat([shard_a, shard_b], ignore_index=True), CFG)
    rep1 = moments[(moments["rep_id"] == "rep_01") & (moments["kind"] == "best_probe")]
    assert len(rep1) == CFG.top_n  # five candidates, three kept
    # two 0.95 probes tie on score: call_a sorts before call_b
    assert list(zip(rep1["rank"], rep1["call_id"], rep1["utterance_index"], strict=True)) == [
        (1, "call_a", 0), (2, "call_b", 0), (3, "call_b", 1)]
    rep2 = moments[moments["rep_id"] == "rep_02"]
    assert list(rep2["rank"]) == [1]
    assert list(moments.columns) == COACHING_MOMENTS.names
    assert "score" not in moments


def test_select_moments_caps_rule_kinds_and_is_order_independent():
    calls = [_call([("rep", "let me explain the whole product " * 20, 0, 150 + k, OT, 0.7)], call_id=f"m{k}")
             for k in range(8)]
    cands = pd.concat([coaching_candidates(c, CFG) for c in calls], ignore_index=True)
    moments = select_moments(cands, CFG)
    mono = moments[moments["kind"] == "long_monologue"]
    assert list(mono["rank"]) == [1, 2, 3, 4, 5]  # max_per_kind
    assert list(mono["call_id"]) == ["m7", "m6", "m5", "m4", "m3"]  # longest first
    shuffled = select_moments(cands.sample(frac=1, random_state=3), CFG)
    pd.testing.assert_frame_equal(moments, shuffled)


def test_select_moments_output_conforms_to_the_schema():
    frame = pd.concat([_call([*PITCH, PROBE], call_id="c1"),
                       _call([("customer", STORY, 0, 20, None, None),
                              ("rep", "we are the best-in-class platform, truly seamless", 21, 25, OT, 0.8)],
                             call_id="c2")], ignore_index=True)
    moments = select_moments(coaching_candidates(frame, CFG), CFG)
    assert set(moments["kind"]) == {"best_probe", "pitch_before_discovery", "missed_probe", "vague_claim"}
    table = to_arrow(moments, "coaching_moments")
    assert table.schema == COACHING_MOMENTS
    assert table.schema.field("rank").type == pa.int32()
    assert moments["probability"].dtype == np.float64


def test_empty_inputs_give_empty_schema_frames():
    empty = coaching_candidates(_call([("rep", "x", 0, 1, OT, 0.5)]).iloc[0:0], CFG)
    assert empty.empty and "score" in empty.columns
    moments = select_moments(empty, CFG)
    assert list(moments.columns) == COACHING_MOMENTS.names
    assert to_arrow(moments, "coaching_moments").num_rows == 0


# --- failure paths ------------------------------------------------------------------------------------------

def test_missing_columns_raise_value_error_naming_them():
    frame = _call([("rep", "hello there", 0, 1, OT, 0.5)]).drop(columns=["label", "p_rapport"])
    with pytest.raises(ValueError, match=r"missing columns \['label', 'p_rapport'\]"):
        coaching_candidates(frame, CFG)
    cands = coaching_candidates(_probe_call("c", [0.9]), CFG).drop(columns=["score"])
    with pytest.raises(ValueError, match="score"):
        select_moments(cands, CFG)


def test_unknown_kind_is_refused():
    cands = coaching_candidates(_probe_call("c", [0.9]), CFG).assign(kind="best_joke")
    with pytest.raises(ValueError, match="best_joke"):
        select_moments(cands, CFG)
