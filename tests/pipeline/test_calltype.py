"""Call types from titles first, then from the rep's label mix."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.schemas import CALL_TYPES
from pipeline.scoring.calltype import TITLE_KEYWORDS, call_types, infer_call_type

BALANCED = {"knowledge_probing_turns": 2, "rapport_turns": 3, "trust_commitment_turns": 2, "other_turns": 3,
            "rep_utterances": 10}  # no share reaches a mix threshold


@pytest.mark.parametrize(("title", "expected"), [
    ("Elm Street Residential / Seller.io: discovery", "discovery"),
    ("Pricing review: Cedar Valley Clinics", "negotiation"),
    ("Pulse Streaming | Demo", "demo"),
    ("QBR with Cloudnest", "follow_up"),
    ("Intro call with Ledgerly", "discovery"),
    ("Technical deep dive, Clearwater Pharma", "demo"),
    ("Oakline Assurance follow-up", "follow_up"),
    ("Coastline Hotels x Seller.io", "other"),
    ("KICKOFF: Acme", "discovery"),
    ("Acme POC", "demo"),
    ("Contract renewal - Acme", "negotiation"),
    ("Weekly sync", "follow_up"),
    ("Pricing follow-up", "negotiation"),  # precedence: negotiation before follow_up
    ("Demo follow-up with Acme", "follow_up"),  # follow_up before demo
    ("Intro + demo", "demo"),  # demo before discovery
    ("Introspect Labs x Seller.io", "other"),  # 'intro' only as a whole word
    ("Democratic Party fundraising tools", "other"),  # 'demo' only as a whole word
    (None, "other"),
    ("", "other"),
])
def test_title_decides(title, expected):
    assert infer_call_type(title, BALANCED) == expected


@pytest.mark.parametrize(("counts", "expected"), [
    ({"knowledge_probing": 4, "rapport": 2, "trust_commitment": 1, "other": 3}, "discovery"),  # 0.40 probing
    ({"knowledge_probing": 3, "rapport": 1, "trust_commitment": 3, "other": 3}, "negotiation"),  # 0.30 commits
    ({"knowledge_probing": 1, "rapport": 1, "trust_commitment": 1, "other": 7}, "demo"),  # 0.70 other
    ({"knowledge_probing": 3, "rapport": 3, "trust_commitment": 2, "other": 2}, "other"),  # nothing reaches a bar
    ({"knowledge_probing": 4, "rapport": 0, "trust_commitment": 0, "other": 0}, "other"),  # 4 rep turns: too few
])
def test_label_mix_decides_without_a_title_match(counts, expected):
    assert infer_call_type("Coastline Hotels x Seller.io", counts) == expected


def test_counts_accept_calls_table_keys_and_rep_utterances_denominator():
    counts = {"knowledge_probing_turns": 4, "rapport_turns": 0, "trust_commitment_turns": 0, "other_turns": 0,
              "rep_utterances": 20}
    assert infer_call_type(None, counts) == "other"  # 4 / 20 = 0.20 probing
    assert infer_call_type(None, {**counts, "rep_utterances": 10}) == "discovery"  # 0.40


def test_vectorised_matches_scalar_and_keeps_the_index():
    titles = ["Pulse Streaming | Demo", None, None, "Coastline Hotels x Seller.io", "Pricing follow-up", None]
    mixes = [(1, 1, 1, 7), (4, 2, 1, 3), (1, 1, 3, 5), (1, 1, 1, 7), (0, 0, 0, 1), (2, 0, 0, 1)]
    calls = pd.DataFrame({
        "title": titles,
        "knowledge_probing_turns": [m[0] for m in mixes], "rapport_turns": [m[1] for m in mixes],
        "trust_commitment_turns": [m[2] for m in mixes], "other_turns": [m[3] for m in mixes],
        "rep_utterances": [sum(m) for m in mixes],
    }, index=[10, 11, 12, 13, 14, 15])
    got = call_types(calls)
    assert list(got.index) == [10, 11, 12, 13, 14, 15]
    assert list(got) == ["demo", "discovery", "negotiation", "demo", "negotiation", "other"]
    assert list(got) == [infer_call_type(t, row) for t, row in
                         zip(titles, calls.drop(columns="title").to_dict("records"), strict=True)]
    assert set(got) <= set(CALL_TYPES)


def test_every_title_type_is_a_call_type():
    assert set(TITLE_KEYWORDS) | {"other"} == set(CALL_TYPES)


def test_missing_columns_raise_value_error():
    with pytest.raises(ValueError, match=r"missing columns \['rep_utterances'\]"):
        call_types(pd.DataFrame({"title": ["Demo"], "knowledge_probing_turns": [1], "rapport_turns": [0],
                                 "trust_commitment_turns": [0], "other_turns": [0]}))


def test_empty_calls_frame():
    empty = pd.DataFrame(columns=["title", "knowledge_probing_turns", "rapport_turns", "trust_commitment_turns",
                                  "other_turns", "rep_utterances"])
    assert call_types(empty).empty
