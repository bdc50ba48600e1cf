"""A rep against peers on the same kind of call: the ``benchmarks`` table.

A discovery call should be mostly probing and a negotiation mostly commitments, so a rep
who ran three demos and a rep who ran three discovery calls are not comparable on raw
shares. Each row puts one rep's calls of one ``call_type`` (``pipeline.scoring.calltype``)
beside the pooled calls of every *other* rep of that type on the same day.

Peer figures are pooled over turns (and talk seconds), not averaged over reps: a peer with
one short call moves them little. They are null when no other rep had a call of the type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.schemas import BENCHMARKS

_LABELS = ("knowledge_probing", "trust_commitment", "rapport")
_NEEDED = ("rep_id", "call_type", "rep_utterances", "rep_talk_s", "talk_s", *(f"{k}_turns" for k in _LABELS))


def _figures(rows: pd.DataFrame) -> dict[str, float | None]:
    turns = float(rows["rep_utterances"].sum())
    talk = float(rows["talk_s"].sum())
    out: dict[str, float | None] = {f"{k}_share": float(rows[f"{k}_turns"].sum()) / turns if turns else None
                                    for k in _LABELS}
    out["rep_talk_ratio"] = float(rows["rep_talk_s"].sum()) / talk if talk > 0 else None
    return out


def benchmarks_table(calls: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """One row per (rep, call type) of the day's calls rows, with the same figures for the other reps.

    Raises:
        ValueError: ``calls`` lacks a column the figures need (the message names them).
    """
    missing = [c for c in _NEEDED if c not in calls.columns]
    if missing:
        raise ValueError(f"benchmarks need the calls columns {missing}")
    rows = []
    for (rep_id, call_type), mine in calls.groupby(["rep_id", "call_type"], sort=True):
        peers = calls[(calls["call_type"] == call_type) & (calls["rep_id"] != rep_id)]
        theirs = _figures(peers) if len(peers) else dict.fromkeys(_figures(mine))
        rows.append({"rep_id": rep_id, "call_type": call_type, "calls": len(mine),
                     "rep_utterances": int(mine["rep_utterances"].sum()), **_figures(mine),
                     "peer_reps": int(peers["rep_id"].nunique()), "peer_calls": len(peers),
                     **{f"peer_{k}": v for k, v in theirs.items()}, "run_id": run_id})
    frame = pd.DataFrame(rows, columns=BENCHMARKS.names)
    for column in BENCHMARKS.names:
        if column.endswith(("_share", "_ratio")):
            frame[column] = frame[column].astype("float64").replace({None: np.nan})
    return frame
