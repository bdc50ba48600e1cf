"""The nightly review queue: which rep turns a person should label next (pure functions on frames).

Active learning: the turns the model is least sure about (smallest margin between its top two
calibrated probabilities) teach it the most once a person labels them. Low-margin turns alone
would give a biased picture of the model's accuracy, so a small control sample drawn at random
from all rep turns rides along (``ReviewConfig.control_share``).

Two steps, because a day is classified in shards:

1. :func:`review_candidates` runs once per shard and keeps a bounded set: per predicted label the
   lowest-margin turns, and the turns with the smallest control keys;
2. :func:`select_queue` runs once per day over every shard's candidates: de-duplicates, draws the
   control rows, fills the rest stratified by predicted label and ranks them.

The control key is a hash of ``(day, call_id, utterance_index)``: the day's control sample is the
turns with the smallest keys, so it is uniform over the day's turns, independent of sharding, and a
re-run of the day gives the same queue.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

from pipeline import LABELS
from pipeline.schemas import PROB_COLUMNS, REVIEW_QUEUE
from pipeline.scoring.metrics import ReviewConfig, previous_customer_turn

CANDIDATE_COLUMNS = [*REVIEW_QUEUE.names, "_key"]
"""What :func:`review_candidates` returns: the queue's columns (``rank`` still 0) and the control key."""

_NON_WORD = re.compile(r"[\W_]+")


def control_key(day: str, call_id: str, utterance_index: int) -> float:
    """A reproducible uniform number in [0, 1) for a turn: the control sample takes the smallest."""
    digest = hashlib.sha256(f"{day}|{call_id}|{int(utterance_index)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def normalised_text(text: str) -> str:
    """Lower case, punctuation and whitespace runs collapsed: "Got it." and "got it" are one text."""
    return _NON_WORD.sub(" ", str(text).lower()).strip()


def control_rows(cfg: ReviewConfig) -> int:
    """How many control rows a day's queue holds: ``round(max_per_day * control_share)``, at least 1."""
    if cfg.max_per_day <= 0:
        return 0
    return min(cfg.max_per_day, max(1, round(cfg.max_per_day * cfg.control_share)))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CANDIDATE_COLUMNS})


def review_candidates(turns: pd.DataFrame, cfg: ReviewConfig, day: str) -> pd.DataFrame:
    """One shard's candidates for the day's review queue.

    Args:
        turns: labelled turns of whole calls (the utterances table's columns); whole calls, so the
            previous customer turn of every rep turn is there.
        cfg: the queue's size, control share and minimum words.
        day: the partition day, part of the control key (a turn's key differs from day to day).

    Returns:
        At most ``max_per_day`` low-margin rows per predicted label (stratum ``low_margin``) and at most
        ``max_per_day`` control rows (stratum ``control``; a turn may appear in both), with the queue's
        columns (``rank`` 0) and ``_key``. Bounded whatever the shard's size, so the day-level step stays small.
    """
    if turns.empty or cfg.max_per_day <= 0:
        return _empty()
    context = previous_customer_turn(turns)
    rep = ((turns["speaker_role"] == "rep") & turns["label"].notna() & turns[PROB_COLUMNS].notna().all(axis=1)
           & (turns["word_count"] >= cfg.min_words))
    frame = turns.loc[rep].copy()
    if frame.empty:
        return _empty()
    frame["previous_customer_text"] = context.loc[rep].astype(object)
    probs = np.sort(frame[PROB_COLUMNS].to_numpy(dtype=np.float64), axis=1)
    frame["margin"] = probs[:, -1] - probs[:, -2]
    frame["_key"] = [control_key(day, c, i) for c, i in zip(frame["call_id"], frame["utterance_index"], strict=True)]
    frame["rank"] = 0
    order = ["margin", "call_id", "utterance_index"]
    low = (frame.sort_values(order, kind="stable").groupby("label", sort=False).head(cfg.max_per_day)
           .assign(stratum="low_margin"))
    control = frame.nsmallest(cfg.max_per_day, "_key").assign(stratum="control")
    return pd.concat([low, control], ignore_index=True)[CANDIDATE_COLUMNS]


def _round_robin(low: pd.DataFrame, slots: int) -> pd.DataFrame:
    """Take ``slots`` rows, one per predicted label in turn (each label's lowest margin first).

    A label with too few candidates stops contributing and its slots go to the others, so the queue
    is as even across labels as the candidates allow.
    """
    queues = {label: group for label, group in low.groupby("label", sort=False)}
    ordered = [label for label in LABELS if label in queues] + sorted(set(queues) - set(LABELS))
    taken: list[pd.DataFrame] = []
    depth, total = 0, 0
    while total < slots:
        row_added = False
        for label in ordered:
            if total >= slots:
                break
            if depth < len(queues[label]):
                taken.append(queues[label].iloc[[depth]])
                total += 1
                row_added = True
        if not row_added:
            break
        depth += 1
    return pd.concat(taken) if taken else low.iloc[0:0]


def select_queue(candidates: pd.DataFrame, cfg: ReviewConfig) -> pd.DataFrame:
    """The day's review queue from every shard's candidates.

    Texts are de-duplicated (normalised), so a phrase every rep says ("sounds good, talk soon") is
    reviewed once. Control rows are drawn first, by smallest key, so the control sample is uniform over
    the day's turns; low-margin rows fill the rest, spread evenly over predicted labels. Ranks are
    1..n: low-margin rows by margin (smallest first), then the control rows.

    Returns:
        Exactly the ``review_queue`` columns, in order, typed for ``layout.to_arrow(frame, "review_queue")``.
    """
    if candidates.empty or cfg.max_per_day <= 0:
        return _typed(candidates.iloc[0:0] if len(candidates.columns) else _empty())
    frame = candidates.assign(_norm=candidates["text"].map(normalised_text))
    frame = frame.drop_duplicates(["stratum", "call_id", "utterance_index"])
    control = (frame[frame["stratum"] == "control"].sort_values(["_key", "call_id", "utterance_index"],
                                                                 kind="stable")
               .drop_duplicates("_norm").head(control_rows(cfg)))
    taken = set(zip(control["call_id"], control["utterance_index"], strict=True))
    low = frame[(frame["stratum"] == "low_margin") & ~frame["_norm"].isin(set(control["_norm"]))]
    low = low[np.array([key not in taken for key in zip(low["call_id"], low["utterance_index"], strict=True)],
                       dtype=bool)]
    low = low.sort_values(["margin", "call_id", "utterance_index"], kind="stable").drop_duplicates("_norm")
    low = _round_robin(low, cfg.max_per_day - len(control))
    low = low.sort_values(["margin", "call_id", "utterance_index"], kind="stable")
    queue = pd.concat([low, control], ignore_index=True)
    queue["rank"] = np.arange(1, len(queue) + 1, dtype=np.int32)
    return _typed(queue)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The queue's columns in order with the schema's numeric types (strings stay Python objects)."""
    out = pd.DataFrame({c: frame[c] if c in frame.columns else pd.Series(dtype=object) for c in REVIEW_QUEUE.names})
    out["utterance_index"] = out["utterance_index"].astype(np.int32)
    out["rank"] = out["rank"].astype(np.int32)
    out["margin"] = out["margin"].astype(np.float64)
    for col in PROB_COLUMNS:
        out[col] = out[col].astype(np.float32)
    for col in ("call_id", "rep_id", "text", "previous_customer_text", "label", "stratum", "model_version",
                "run_id"):
        out[col] = out[col].astype(object)
    return out.reset_index(drop=True)


__all__ = ["CANDIDATE_COLUMNS", "control_key", "control_rows", "normalised_text", "review_candidates",
           "select_queue"]
