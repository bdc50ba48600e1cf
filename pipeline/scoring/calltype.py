"""What a call was for: discovery, demo, negotiation, follow_up or other (``pipeline.schemas.CALL_TYPES``).

A rep's label mix means little without the call's purpose: a demo is mostly product talk (``other``) and a
negotiation mostly pricing and commitments, so benchmarks compare reps with peers on the same type of call.

The calendar title decides first, because the person who booked the call said what it was for. Keywords
match whole words in any case (``TITLE_KEYWORDS``); a title naming several types takes the first in this
precedence: ``negotiation`` > ``follow_up`` > ``demo`` > ``discovery``. Money on the table changes a call
the most ("Pricing follow-up" is a negotiation); a call titled as the follow-up of a demo or a discovery
call is not that call again ("Demo follow-up" is a follow-up); a demo dominates a first call's behaviour
("Intro + demo" is a demo).

With no title, or no keyword in it, the rep's label mix decides (``MIX_RULES``, checked in order):
probing share >= 0.35 is discovery (the rep mostly asks), commitment share >= 0.30 is negotiation
(promises, terms and next steps), ``other`` share >= 0.60 is a demo (product talk), else ``other``. A call
with fewer than ``MIN_REP_TURNS`` rep turns and no title keyword is ``other``: a share of 5 turns is noise.
The mix never infers ``follow_up``: that takes the account's call history, which one call's turns lack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline import LABELS

TITLE_KEYWORDS: dict[str, str] = {  # in precedence order: the first type whose pattern matches wins
    "negotiation": r"pric(?:e|es|ing)|contracts?|negotiations?|negotiating|proposals?|renewals?|procurement|legal|"
                   r"terms|quotes?|redlines?|commercials?",
    "follow_up": r"follow[- ]?ups?|check[- ]?ins?|qbr|(?:quarterly )?business reviews?|next steps|syncs?|"
                 r"touch[- ]?base|recap",
    "demo": r"demos?|demonstrations?|walk[- ]?throughs?|deep[- ]?dives?|technical|pocs?|proof of concept|pilots?",
    "discovery": r"discovery|intro|introductions?|introductory|first call|kick[- ]?offs?",
}
_TITLE_PATTERNS = {kind: re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE) for kind, pattern in TITLE_KEYWORDS.items()}
MIX_RULES: tuple[tuple[str, str, float], ...] = (
    ("discovery", "knowledge_probing", 0.35),
    ("negotiation", "trust_commitment", 0.30),
    ("demo", "other", 0.60),
)
"""(call type, label, minimum share of rep turns), checked in order when the title says nothing."""
MIN_REP_TURNS = 5
COUNT_COLUMNS = [f"{label}_turns" for label in LABELS]
REQUIRED_CALL_COLUMNS = ["title", *COUNT_COLUMNS, "rep_utterances"]


def title_type(title: str | None) -> str | None:
    """The call type a title names (by ``TITLE_KEYWORDS`` precedence), or None when it names none."""
    if not isinstance(title, str) or not title.strip():
        return None
    for kind, pattern in _TITLE_PATTERNS.items():
        if pattern.search(title):
            return kind
    return None


def _count(counts: Mapping[str, int], label: str) -> int:
    value = counts.get(f"{label}_turns", counts.get(label, 0))
    return 0 if value is None or pd.isna(value) else int(value)


def infer_call_type(title: str | None, counts: Mapping[str, int]) -> str:
    """One call's type from its title, else from its rep label counts.

    Args:
        title: the calendar title (None or empty when unknown).
        counts: rep turns per label, keyed ``<label>_turns`` (as in the calls table) or by the bare label;
            ``rep_utterances`` when present is the denominator of the shares, else the counts' sum.

    Returns:
        One of ``CALL_TYPES``.
    """
    kind = title_type(title)
    if kind is not None:
        return kind
    per_label = {label: _count(counts, label) for label in LABELS}
    total = counts.get("rep_utterances")
    total = sum(per_label.values()) if total is None or pd.isna(total) or int(total) <= 0 else int(total)
    if total < MIN_REP_TURNS:
        return "other"
    for kind, label, minimum in MIX_RULES:
        if per_label[label] / total >= minimum:
            return kind
    return "other"


def call_types(calls: pd.DataFrame) -> pd.Series:
    """``infer_call_type`` over a calls frame, vectorised; the Series shares the frame's index.

    Raises:
        ValueError: a required column is missing (named in the message).
    """
    missing = [c for c in REQUIRED_CALL_COLUMNS if c not in calls.columns]
    if missing:
        raise ValueError(f"call_types: missing columns {missing}")
    titles = calls["title"].astype(object).where(calls["title"].notna(), "").astype(str)
    matched = [titles.str.contains(p, regex=True).to_numpy(bool) for p in _TITLE_PATTERNS.values()]
    counts = {label: calls[f"{label}_turns"].fillna(0).to_numpy("float64") for label in LABELS}
    summed = sum(counts.values())
    given = calls["rep_utterances"].fillna(0).to_numpy("float64")
    total = np.where(given > 0, given, summed)
    with np.errstate(divide="ignore", invalid="ignore"):
        mix = [(total >= MIN_REP_TURNS) & (counts[label] / total >= minimum) for _, label, minimum in MIX_RULES]
    choices = [*TITLE_KEYWORDS, *(kind for kind, _, _ in MIX_RULES)]
    out = np.select([*matched, *mix], choices, default="other")
    return pd.Series(out, index=calls.index, name="call_type", dtype=object)


__all__ = ["call_types", "infer_call_type", "title_type"]
