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
from pipeline.schemas import CALLS, COUNT_COLUMNS, PROB_COLUMNS, SCORECARDS
from pipeline.scoring.uncertainty import wilson_interval
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


def _call_row(call: pd.DataFrame, low_confidence: float = 0.5) -> dict:
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
    top = call.loc[rep, PROB_COLUMNS].to_numpy(dtype=float).max(axis=1) if n_rep else np.zeros(0)
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
        "low_confidence_turns": int((top < low_confidence).sum()),
        "rep_words": int(call.loc[rep, "word_count"].sum()),
    }


def calls_table(labelled: pd.DataFrame, low_confidence: float = 0.5) -> pd.DataFrame:
    """One row per call from its labelled turns (call order preserved).

    Args:
        low_confidence: a rep turn whose top calibrated probability is below this counts in
            ``low_confidence_turns`` (``EvidenceConfig.low_confidence``; an input to the drift alarm).
    """
    from pipeline.scoring.calltype import call_types

    rows = [_call_row(group, low_confidence) for _, group in labelled.groupby("call_id", sort=False)]
    calls = pd.DataFrame(rows, columns=[c for c in CALLS.names if c != "call_type"])
    calls["call_type"] = call_types(calls) if len(calls) else pd.Series(dtype=object)
    return calls[CALLS.names]


@dataclass(frozen=True)
class EvidenceConfig:
    """How much evidence a number needs before it is shown as a verdict.

    Attributes:
        min_rep_turns: a rep-day with fewer labelled rep turns gets ``tier = 'insufficient_data'``: at 30 turns
            a share of 0.30 has a Wilson 95% interval about 0.33 wide, already as wide as a tier threshold.
        min_calls: a rep-day from fewer calls gets ``insufficient_data`` too: one call says more about the
            customer than about the rep.
        low_confidence: a rep turn whose top calibrated probability is below this counts as low-confidence
            (drift input, ``calls.low_confidence_turns``); 0.5 means the model prefers no label to the rest combined.
    """

    min_rep_turns: int = 30
    min_calls: int = 2
    low_confidence: float = 0.5


@dataclass(frozen=True)
class CoachingConfig:
    """Thresholds of the coaching-moment rules (``pipeline.scoring.coaching``); each says why it is set so.

    Attributes:
        top_n: best turns kept per rep-day and kind: a manager reads a handful, not a list.
        min_substance_words: a best turn has at least this many words, so "mm-hmm, sure" never wins on confidence.
        min_probability: a best turn's calibrated probability is at least this.
        customer_story_words: a customer turn this long describes a situation worth probing.
        pitch_turns: more rep turns than this of product talk (``other``) before the first probe is a pitch
            before discovery (SPIN and Gong both put discovery first in a first call).
        pitch_seconds: or more than this many seconds of product talk (``other`` turns) before the first probe.
        long_monologue_s: a rep turn spoken past this is a monologue (Gong's research: 150 s; buyers disengage).
        max_per_kind: at most this many rows per rep-day and kind for the rule-based kinds.
        backchannel_words: rep turns shorter than this ("mm-hmm", "right") are skipped when looking for the
            rep's answer to a customer's story: the answer is the next substantive turn.
    """

    top_n: int = 3
    min_substance_words: int = 8
    min_probability: float = 0.6
    customer_story_words: int = 40
    pitch_turns: int = 4
    pitch_seconds: float = 120.0
    long_monologue_s: float = 150.0
    max_per_kind: int = 5
    backchannel_words: int = 3


@dataclass(frozen=True)
class DriftConfig:
    """The nightly drift alarm (``pipeline.scoring.drift``).

    Attributes:
        baseline_days: the trailing window compared against (days before the run's day).
        min_turns: fewer rep turns than this on the day, or in the baseline, gives ``insufficient_data``, not an
            alarm: a small day's label mix swings by chance.
        chi_square_below: with fewer day turns than this the label mix is tested by chi-square (p < ``p_value``);
            at or above, by Jensen-Shannon distance (Evidently's default split: counts small vs large).
        p_value: the chi-square significance level.
        js_distance: the Jensen-Shannon distance (base 2) that raises an alarm (Evidently's default, 0.1).
        low_confidence_delta: an alarm when the share of low-confidence turns moves this much (absolute).
        words_ratio: an alarm when the mean rep-turn word count moves by this factor either way.
    """

    baseline_days: int = 28
    min_turns: int = 200
    chi_square_below: int = 1000
    p_value: float = 0.001
    js_distance: float = 0.1
    low_confidence_delta: float = 0.10
    words_ratio: float = 1.5


@dataclass(frozen=True)
class ReviewConfig:
    """The nightly review queue (``pipeline.scoring.review``).

    Attributes:
        max_per_day: rows a day adds to the queue, control sample included (a reviewer's hour or so).
        control_share: the share of the queue drawn at random from all rep turns (5-10%): it measures the
            model's accuracy on unselected turns, which the low-margin sample cannot.
        min_words: turns shorter than this are not queued (backchannels teach the model little).
    """

    max_per_day: int = 100
    control_share: float = 0.08
    min_words: int = 3


_NESTED = {"evidence": EvidenceConfig, "coaching": CoachingConfig, "drift": DriftConfig, "review": ReviewConfig}


def _check_fields(cls: type, data: object, name: str | None = None) -> None:
    """``data`` is a JSON object holding only ``cls``'s fields; the error names the section (``name``)."""
    where = f"{name}: " if name else ""
    if not isinstance(data, dict):
        raise ValueError(f"{where}must be a JSON object of {cls.__name__} fields, got {type(data).__name__}")
    unknown = sorted(set(data) - set(cls.__dataclass_fields__))
    if unknown:
        raise ValueError(f"{where}unknown fields {unknown}; known: {sorted(cls.__dataclass_fields__)}")


def _nested(cls: type, data: object, name: str):
    if isinstance(data, cls):
        return data
    _check_fields(cls, data, name)
    for key, value in data.items():
        default = cls.__dataclass_fields__[key].default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name}.{key} must be a number >= 0, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise ValueError(f"{name}.{key} must be a whole number, got {value!r}")
    return cls(**data)


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
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    coaching: CoachingConfig = field(default_factory=CoachingConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)

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
        _check_fields(cls, data)
        data = {**data, "tiers": tuple(data["tiers"])} if "tiers" in data else data
        data = {**data, **{k: _nested(c, data[k], k) for k, c in _NESTED.items() if k in data}}
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def advisor_score(shares: dict[str, float], talk_ratio: float, cfg: ScoringConfig) -> float:
    parts = {k: min(shares[k] / cfg.targets[k], 1.0) for k in cfg.targets}
    span = cfg.listen_zero_talk_ratio - cfg.listen_ok_talk_ratio
    parts["listening"] = float(np.clip((cfg.listen_zero_talk_ratio - talk_ratio) / span, 0.0, 1.0))
    return round(100 * sum(cfg.weights[k] * parts[k] for k in cfg.weights), 2)


INSUFFICIENT_DATA = "insufficient_data"
"""The tier of a rep-day with too few turns or calls for a verdict (``EvidenceConfig``)."""


def _num(value: float, other: float) -> tuple[str, str]:
    """Two numbers for a reason sentence: 2 decimals, more when 2 would make unequal numbers look equal."""
    for digits in (2, 4, 6, 8):
        a, b = f"{value:.{digits}f}", f"{other:.{digits}f}"
        if a != b or value == other:
            return a, b
    return repr(value), repr(other)


def _check(label: str, share: float, setting: str, threshold: float) -> tuple[bool, str]:
    passed = share >= threshold
    shown, bound = _num(share, threshold)
    return passed, f"{label}_share {shown} {'>=' if passed else '<'} {setting} {bound}"


def tier_with_reason(shares: dict[str, float], cfg: ScoringConfig, rep_turns: int | None = None,
                     calls: int | None = None) -> tuple[str, str]:
    """The tier and a sentence naming the columns and thresholds that decided it.

    A manager who disagrees with a tier should see why at a glance, without the config in hand,
    so the reason quotes each share it compared and the setting it compared against. With too
    little evidence (``cfg.evidence``) the verdict is ``insufficient_data``: a tier from 14 turns
    or one call would be mostly noise (see ``pipeline.scoring.uncertainty``).

    Args:
        shares: the four label shares of the rep-day.
        cfg: thresholds (``probing_min``, ``commitment_min``, ``rapport_min``, ``evidence``).
        rep_turns: the rep-day's labelled rep turns; None skips the evidence check on turns.
        calls: the rep-day's calls; None skips the evidence check on calls.

    Returns:
        ``(tier, reason)``.
    """
    short = []
    if rep_turns is not None and rep_turns < cfg.evidence.min_rep_turns:
        short.append(f"{rep_turns} rep turns < evidence.min_rep_turns {cfg.evidence.min_rep_turns}")
    if calls is not None and calls < cfg.evidence.min_calls:
        short.append(f"{calls} call{'' if calls == 1 else 's'} < evidence.min_calls {cfg.evidence.min_calls}")
    if short:
        return INSUFFICIENT_DATA, f"{INSUFFICIENT_DATA}: {' and '.join(short)}"
    probes, probe_why = _check("knowledge_probing", shares["knowledge_probing"], "probing_min", cfg.probing_min)
    commits, commit_why = _check("trust_commitment", shares["trust_commitment"], "commitment_min",
                                 cfg.commitment_min)
    if probes or commits:
        name = "trusted_advisor" if probes and commits else "knows_customer" if probes else "closer"
        return name, f"{probe_why} and {commit_why}"
    rapport, rapport_why = _check("rapport", shares["rapport"], "rapport_min", cfg.rapport_min)
    return ("relationship_only" if rapport else "pitcher"), f"{probe_why}, {commit_why} and {rapport_why}"


def tier(shares: dict[str, float], cfg: ScoringConfig) -> str:
    """The tier from the shares alone (no evidence check); see ``tier_with_reason`` for the sentence why."""
    return tier_with_reason(shares, cfg)[0]


def scorecards_table(calls: pd.DataFrame, day: str, run_id: str, generated_at: datetime,
                     cfg: ScoringConfig | None = None) -> pd.DataFrame:
    """One row per rep for the day, from that day's calls rows.

    Each share comes with its Wilson 95% interval from the rep-day's turn counts, and the tier
    with the sentence that decided it; a rep-day short of ``cfg.evidence`` turns or calls gets
    ``insufficient_data`` rather than a verdict its sample cannot carry.
    """
    cfg = cfg or ScoringConfig()
    rows = []
    for rep_id, c in calls.groupby("rep_id", sort=True):
        n_rep = int(c["rep_utterances"].sum())
        counts = {label: int(c[f"{label}_turns"].sum()) for label in LABELS}
        shares = {label: counts[label] / n_rep for label in LABELS}
        # make the four shares sum to exactly 1 despite float rounding
        shares["other"] = 1.0 - sum(shares[k] for k in LABELS if k != "other")
        lo, hi = wilson_interval([counts[label] for label in LABELS], n_rep)
        # the interval contains its share by construction; min/max only absorb the last bit of float rounding
        # (other_share is 1 minus the rest, not other_turns / n)
        intervals = {}
        for i, label in enumerate(LABELS):
            intervals[f"{label}_share_lo"] = min(float(lo[i]), shares[label])
            intervals[f"{label}_share_hi"] = max(float(hi[i]), shares[label])
        talk = float(c["talk_s"].sum())
        talk_ratio = float(c["rep_talk_s"].sum()) / talk if talk > 0 else 0.0
        answers = int(c["rep_answers"].sum())
        patience = (float((c["patience_s"].fillna(0) * c["rep_answers"]).sum()) / answers) if answers else None
        minutes = float(c["duration_s"].sum()) / 60
        n_calls = len(c)
        name, reason = tier_with_reason(shares, cfg, rep_turns=n_rep, calls=n_calls)
        rows.append({
            "date": day, "rep_id": rep_id, "rep_name": c["rep_name"].iloc[0], "team": c["team"].iloc[0],
            "calls": n_calls, "rep_utterances": n_rep, **{f"{k}_share": v for k, v in shares.items()},
            "probing_per_call": counts["knowledge_probing"] / n_calls,
            "commitments_per_call": counts["trust_commitment"] / n_calls, "rep_talk_ratio": talk_ratio,
            "questions_per_call": float(c["rep_questions"].sum()) / n_calls,
            "longest_monologue_s": float(c["longest_rep_monologue_s"].max()),
            "interactivity": float(c["speaker_switches"].sum()) / minutes if minutes > 0 else 0.0,
            "patience_s": patience, "advisor_score": advisor_score(shares, talk_ratio, cfg),
            "tier": name, "model_version": ",".join(sorted(c["model_version"].unique())),
            "precision": ",".join(sorted(c["precision"].unique())), "run_id": run_id, "generated_at": generated_at,
            "manager": c["manager"].iloc[0], **intervals, "tier_reason": reason,
        })
    return pd.DataFrame(rows, columns=["date", *SCORECARDS.names])


__all__ = ["COUNT_COLUMNS", "INSUFFICIENT_DATA", "ScoringConfig", "calls_table", "scorecards_table", "tier",
           "tier_with_reason", "turns_frame"]
