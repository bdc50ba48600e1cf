"""From labelled turns to the three tables: pure functions on frames.

``turns_frame`` flattens canonical calls; ``calls_table`` computes one row per
call; ``scorecards_table`` aggregates a rep's calls of one day. Every day-level
metric is rebuilt from additive per-call parts (turn counts, talk seconds,
switches, answers) so a scorecard is exact whatever the sharding was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from pipeline import LABELS
from pipeline.schemas import CALLS, COUNT_COLUMNS, PROB_COLUMNS, SHARE_COLUMNS
from pipeline.transcripts.model import Call
from pipeline.transcripts.redact import OUTSIDE_ROLES, pack_names

_QUESTION_START = re.compile(
    r"^(?:(?:so|and|but|okay|ok|um+|uh+|well|now|right|yeah|oh|hey|great)[\s,]+)*"
    r"(?:what|how|why|when|where|who|whom|which|whose|is|are|was|were|do|does|did|can|could|would|will|"
    r"should|have|has|had|may|might|shall|tell me|walk me|help me understand)\b", re.IGNORECASE)

CALL_COLUMNS = ["call_id", "started_at", "duration_s", "title", "rep_id", "rep_name", "team", "manager",
                "source_file", "source_format", "warnings"]


def is_question(text: str) -> bool:
    """A question mark, or (for unpunctuated speech-recognition text) an interrogative opening."""
    return "?" in text or bool(_QUESTION_START.match(text.strip()))


def turns_frame(calls: Iterable[Call]) -> pd.DataFrame:
    """One row per utterance with its call's metadata, in call then utterance order."""
    rows = []
    for call in calls:
        meta = {"call_id": call.call_id, "started_at": call.started_at, "duration_s": call.duration_s,
                "title": call.title, "rep_id": call.rep.id, "rep_name": call.rep.name, "team": call.rep.team,
                "manager": call.rep.manager, "source_file": call.source_file, "source_format": call.source_format,
                "warnings": "; ".join(call.warnings) or None,
                # the call's deny-list for redaction (transcripts.redact); staged only, never published
                "redact_names": pack_names([p.name for p in call.participants if p.role == "customer"]
                                           + [u.speaker for u in call.utterances if u.role in OUTSIDE_ROLES])}
        for i, u in enumerate(call.utterances):
            rows.append({**meta, "utterance_index": i, "speaker": u.speaker, "speaker_role": u.role,
                         "start_s": u.start_s, "end_s": u.end_s, "spoken_s": u.spoken, "text": u.text})
    frame = pd.DataFrame(rows, columns=[*CALL_COLUMNS, "redact_names", "utterance_index", "speaker", "speaker_role",
                                        "start_s", "end_s", "spoken_s", "text"])
    frame["word_count"] = frame["text"].map(lambda t: len(t.split())).astype("int32")
    frame["is_question"] = frame["text"].map(is_question).astype(bool)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    return frame


def previous_customer_turn(turns: pd.DataFrame) -> pd.Series:
    """For each turn, the text of the last customer turn before it in the same call ('' if none)."""
    cust = turns["text"].where(turns["speaker_role"] == "customer")
    return cust.groupby(turns["call_id"], sort=False).transform(lambda s: s.shift(1).ffill()).fillna("")


def attach_labels(turns: pd.DataFrame, labels: Sequence[str], probs: np.ndarray, model_version: str,
                  precision: str = "fp32", run_id: str = "") -> pd.DataFrame:
    """Put predictions on the rep turns; other turns get null label and probabilities.

    Every row also records what made it: the model version, the precision it ran at (int8
    and fp32 labels differ on a few percent of turns) and the run, so a partition that
    mixed two of them is visible (and refused by the quality gate).
    """
    rep = (turns["speaker_role"] == "rep").to_numpy()
    if int(rep.sum()) != len(labels) or probs.shape != (len(labels), len(LABELS)):
        raise ValueError(f"{int(rep.sum())} rep turns but {len(labels)} labels / probs {probs.shape}")
    out = turns.copy()
    out["label"] = pd.Series([None] * len(out), dtype=object)
    out.loc[rep, "label"] = list(labels)
    for j, col in enumerate(PROB_COLUMNS):
        values = np.full(len(out), np.nan, dtype=np.float32)
        values[rep] = probs[:, j]
        out[col] = values
    out["model_version"] = model_version
    out["precision"] = precision
    out["run_id"] = run_id
    return out


def _call_row(call: pd.DataFrame) -> dict:
    """One call's row. Talk is time actually spoken (``spoken_s``), never a turn's span, so a pause
    inside a merged turn is not talk; ``unknown`` speakers count for neither side and are
    reported on their own."""
    first = call.iloc[0]
    role = call["speaker_role"].to_numpy()
    start = call["start_s"].to_numpy(dtype=float)
    end = call["end_s"].to_numpy(dtype=float)
    talk = call["spoken_s"].to_numpy(dtype=float)
    rep = role == "rep"
    cust = role == "customer"
    unknown = role == "unknown"
    labels = call.loc[rep, "label"]
    n_rep = int(rep.sum())
    counts = {f"{label}_turns": int((labels == label).sum()) for label in LABELS}
    speakers = call["speaker"].to_numpy()
    switches = int((speakers[1:] != speakers[:-1]).sum()) if len(call) > 1 else 0
    answers = np.flatnonzero(rep[1:] & cust[:-1]) + 1  # rep turns right after a customer turn
    pauses = np.maximum(start[answers] - end[answers - 1], 0.0)
    probes = start[rep][labels.to_numpy() == "knowledge_probing"]
    duration = float(first["duration_s"]) if first["duration_s"] > 0 else float(end.max())
    total_talk = float(talk[~unknown].sum())
    return {
        "call_id": first["call_id"], "rep_id": first["rep_id"], "started_at": first["started_at"],
        "duration_s": duration, "title": first["title"], "rep_utterances": n_rep,
        "customer_utterances": int(cust.sum()),
        "rep_talk_ratio": float(talk[rep].sum() / total_talk) if total_talk > 0 else 0.0,
        "rep_questions": int(call.loc[rep, "is_question"].sum()),
        **{f"{label}_share": counts[f"{label}_turns"] / n_rep if n_rep else 0.0 for label in LABELS},
        "longest_rep_monologue_s": float(talk[rep].max()) if n_rep else 0.0,
        "longest_customer_story_s": float(talk[cust].max()) if cust.any() else 0.0,
        "interactivity": switches / (duration / 60) if duration > 0 else 0.0,
        "patience_s": float(pauses.mean()) if len(pauses) else None,
        "first_probe_s": float(probes.min()) if len(probes) else None,
        "model_version": first["model_version"], "precision": first["precision"], "run_id": first["run_id"],
        "source_file": first["source_file"],
        "rep_name": first["rep_name"], "team": first["team"], "source_format": first["source_format"],
        **counts, "rep_talk_s": float(talk[rep].sum()), "talk_s": total_talk, "speaker_switches": switches,
        "rep_answers": len(pauses), "manager": first["manager"],
        "unknown_speaker_turns": int(unknown.sum()), "unknown_speaker_s": float(talk[unknown].sum()),
        "warnings": first["warnings"] if isinstance(first["warnings"], str) else None,
    }


def calls_table(labelled: pd.DataFrame) -> pd.DataFrame:
    """One row per call from its labelled turns (call order preserved)."""
    rows = [_call_row(group) for _, group in labelled.groupby("call_id", sort=False)]
    return pd.DataFrame(rows, columns=CALLS.names)


@dataclass(frozen=True)
class ScoringConfig:
    """How the advisor score and tiers are computed; a sales leader can change every number.

    advisor_score (0-100) = 100 * sum(weight * attainment): attainment of probing,
    commitment and rapport is ``min(share / target, 1)``; listening is 1 at or below
    ``listen_ok_talk_ratio`` falling linearly to 0 at ``listen_zero_talk_ratio``.
    Tiers are checked in order; the first that matches wins.
    """

    weights: dict[str, float] = field(default_factory=lambda: {
        "knowledge_probing": 0.40, "trust_commitment": 0.35, "rapport": 0.05, "listening": 0.20})
    targets: dict[str, float] = field(default_factory=lambda: {
        "knowledge_probing": 0.30, "trust_commitment": 0.20, "rapport": 0.10})
    listen_ok_talk_ratio: float = 0.50
    listen_zero_talk_ratio: float = 0.80
    probing_min: float = 0.20
    commitment_min: float = 0.12
    rapport_min: float = 0.25
    tiers: tuple[str, ...] = ("trusted_advisor", "knows_customer", "closer", "relationship_only", "pitcher")

    def __post_init__(self) -> None:
        total = sum(self.weights.values())
        if abs(total - 1) > 1e-9:
            raise ValueError(f"score weights must sum to 1, got {total}")
        if any(v <= 0 for v in self.targets.values()):
            raise ValueError("targets must be positive")
        if not self.listen_ok_talk_ratio < self.listen_zero_talk_ratio:
            raise ValueError("listen_ok_talk_ratio must be below listen_zero_talk_ratio")

    @classmethod
    def from_dict(cls, data: object) -> ScoringConfig:
        """Build from a parsed JSON object; unknown keys and bad values are ValueErrors that say which."""
        if not isinstance(data, dict):
            raise ValueError(f"must be a JSON object of ScoringConfig fields, got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown fields {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        data = {**data, "tiers": tuple(data["tiers"])} if "tiers" in data else data
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def advisor_score(shares: dict[str, float], talk_ratio: float, cfg: ScoringConfig) -> float:
    parts = {k: min(shares[k] / cfg.targets[k], 1.0) for k in cfg.targets}
    span = cfg.listen_zero_talk_ratio - cfg.listen_ok_talk_ratio
    parts["listening"] = float(np.clip((cfg.listen_zero_talk_ratio - talk_ratio) / span, 0.0, 1.0))
    return round(100 * sum(cfg.weights[k] * parts[k] for k in cfg.weights), 2)


def tier(shares: dict[str, float], cfg: ScoringConfig) -> str:
    probes = shares["knowledge_probing"] >= cfg.probing_min
    commits = shares["trust_commitment"] >= cfg.commitment_min
    if probes and commits:
        return "trusted_advisor"
    if probes:
        return "knows_customer"
    if commits:
        return "closer"
    if shares["rapport"] >= cfg.rapport_min:
        return "relationship_only"
    return "pitcher"


def scorecards_table(calls: pd.DataFrame, day: str, run_id: str, generated_at: datetime,
                     cfg: ScoringConfig | None = None) -> pd.DataFrame:
    """One row per rep for the day, from that day's calls rows."""
    cfg = cfg or ScoringConfig()
    rows = []
    for rep_id, c in calls.groupby("rep_id", sort=True):
        n_rep = int(c["rep_utterances"].sum())
        counts = {label: int(c[f"{label}_turns"].sum()) for label in LABELS}
        shares = {label: counts[label] / n_rep for label in LABELS}
        # make the four shares sum to exactly 1 despite float rounding
        shares["other"] = 1.0 - sum(shares[k] for k in LABELS if k != "other")
        talk = float(c["talk_s"].sum())
        talk_ratio = float(c["rep_talk_s"].sum()) / talk if talk > 0 else 0.0
        answers = int(c["rep_answers"].sum())
        patience = (float((c["patience_s"].fillna(0) * c["rep_answers"]).sum()) / answers) if answers else None
        minutes = float(c["duration_s"].sum()) / 60
        n_calls = len(c)
        rows.append({
            "date": day, "rep_id": rep_id, "rep_name": c["rep_name"].iloc[0], "team": c["team"].iloc[0],
            "calls": n_calls, "rep_utterances": n_rep, **{f"{k}_share": v for k, v in shares.items()},
            "probing_per_call": counts["knowledge_probing"] / n_calls,
            "commitments_per_call": counts["trust_commitment"] / n_calls, "rep_talk_ratio": talk_ratio,
            "questions_per_call": float(c["rep_questions"].sum()) / n_calls,
            "longest_monologue_s": float(c["longest_rep_monologue_s"].max()),
            "interactivity": float(c["speaker_switches"].sum()) / minutes if minutes > 0 else 0.0,
            "patience_s": patience, "advisor_score": advisor_score(shares, talk_ratio, cfg),
            "tier": tier(shares, cfg), "model_version": ",".join(sorted(c["model_version"].unique())),
            "precision": ",".join(sorted(c["precision"].unique())), "run_id": run_id, "generated_at": generated_at,
            "manager": c["manager"].iloc[0],
        })
    columns = ["date", "rep_id", "rep_name", "team", "calls", "rep_utterances", *SHARE_COLUMNS,
               "probing_per_call", "commitments_per_call", "rep_talk_ratio", "questions_per_call",
               "longest_monologue_s", "interactivity", "patience_s", "advisor_score", "tier", "model_version",
               "precision", "run_id", "generated_at", "manager"]
    return pd.DataFrame(rows, columns=columns)


__all__ = ["COUNT_COLUMNS", "ScoringConfig", "calls_table", "scorecards_table", "turns_frame"]
