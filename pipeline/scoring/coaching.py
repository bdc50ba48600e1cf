"""Coaching moments: the few rep turns of a day a manager should listen to, and why.

Pure functions on labelled turns frames (``metrics.attach_labels``); nothing here reads or writes storage.
``coaching_candidates`` runs once per shard of complete calls and proposes every turn that a rule picks,
each with a ``score``; ``select_moments`` runs once per day over all shards' candidates and keeps the best
few per rep and kind, so a rep whose calls were split across shards is ranked as one.

The kinds, and why each rule is what it is (thresholds live in ``metrics.CoachingConfig``):

- ``best_probe`` / ``best_commitment``: turns to copy. The labelling guide holds that knowing the customer
  and earning trust are what set a trusted advisor apart, so the clearest examples of each are shown. A
  turn needs a calibrated probability of at least ``min_probability`` *and* ``min_substance_words``
  words: a backchannel ("mm-hmm, sure") can be confidently labelled and still teach nothing.
  ``score = p * (0.5 + 0.5 * min(words / (3 * min_substance_words), 1))``: probability first, and up to
  twice the weight for a turn with room for substance (saturating at 24 words by default, so rambling
  earns nothing more).
- ``missed_probe``: the customer described a problem, goal or pain (a long turn, or one naming a metric, a
  tool or a cost) and the rep's next turn neither probed nor committed. Discovery lives on follow-up
  questions; a customer's number or tool is the opening for one. Short rep backchannels ("mm-hmm",
  "got it": fewer than ``backchannel_words`` words, default 3) are skipped when looking for the rep's next turn: they
  let the customer go on and are good listening, not a miss. ``score = (1 - p_knowledge_probing -
  p_trust_commitment of the rep turn) * (min(words / customer_story_words, 1) + 0.5 * signal kinds)``: how
  sure the model is that the rep did neither, times how rich the customer's opening was.
- ``pitch_before_discovery``: SPIN selling and Gong's call research both put discovery before the pitch;
  more than ``pitch_turns`` rep turns labelled ``other`` (product talk, logistics), or more than
  ``pitch_seconds`` of such product talk, before the first ``knowledge_probing`` turn (or in a call that never
  probes) means the rep pitched a solution to a problem they had not heard. At most one row per call, at
  the turn where a threshold was crossed; ``score`` = the larger overshoot ratio (turns or seconds).
- ``long_monologue``: Gong's research on sales calls found that buyers disengage when a rep talks for
  longer than about 150 s at a stretch; a turn spoken (``spoken_s``, or its span when unknown) for at
  least ``long_monologue_s`` is one. ``score`` = seconds / threshold.
- ``vague_claim``: hype ("best-in-class", "seamless", "#1", "guaranteed") with nothing behind it. The
  guide's ``trust_commitment`` section counts proof (a case study, a reference, results for a similar
  customer, a certification) as trust and calls vague enthusiasm ``other``: "proof names a customer or a
  concrete result". So an ``other`` or ``trust_commitment`` turn with hype wording and no number, no named
  customer (a capitalised name after "at/for/with/like/from"), no case study/reference/certification
  phrasing is flagged. ``score = p * (1 + 0.5 * (distinct hype terms - 1))``.

Every row carries ``reason``, one sentence with the numbers that made it, so a manager can judge the pick
without the model. Quotes in a reason come from the frame's own ``text``: pass the frame as published
(after ``transcripts.redact.redact_frame``), or the words as said with ``quote_customer=False`` where the
``customer_text`` setting withholds customer words, so a reason never publishes what the setting hides.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from pipeline import LABELS
from pipeline.schemas import COACHING_KINDS, COACHING_MOMENTS, PROB_COLUMNS
from pipeline.scoring.metrics import CoachingConfig

log = logging.getLogger(__name__)

REQUIRED_TURN_COLUMNS = ["call_id", "utterance_index", "speaker_role", "rep_id", "start_s", "end_s", "text",
                         "word_count", "label", *PROB_COLUMNS, "model_version", "run_id"]
"""What ``coaching_candidates`` reads; ``spoken_s`` is optional (a turn's span stands in for it)."""
CANDIDATE_COLUMNS = [*COACHING_MOMENTS.names, "score"]
BEST_KINDS = ("best_probe", "best_commitment")
"""Kept ``top_n`` per rep-day; the rule kinds are kept ``max_per_kind``."""

_DTYPES = {"int32": "int32", "double": "float64"}

# --- what makes a customer turn worth probing ---------------------------------------------------------------
_NUM = (r"(?:\d[\d,]*(?:\.\d+)?|a few|a couple(?: of)?|several|two|three|four|five|six|seven|eight|nine|ten|"
        r"eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|hundreds?|thousands?)")
_SIGNALS: dict[str, tuple[re.Pattern[str], ...]] = {  # per kind, the most specific pattern first (it is quoted)
    "cost": (
        re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|mm|million|thousand|grand|bn|billion)\b)?"
                   r"(?:\s(?:a|per|each)\s(?:month|year|week|day|seat|user|head)\b)?"
                   r"|\b\d[\d,]*(?:\.\d+)?\s?(?:k\s)?(?:dollars|euros|pounds|bucks|usd|eur|gbp)\b", re.IGNORECASE),
        re.compile(r"\b(?:cost(?:s|ing)?|budget(?:s|ed)?|spend(?:s|ing)?|spent|price[sd]?|pricing|expensive|overtime|"
                   r"fines?|penalt(?:y|ies)|invoices?|write[- ]offs?)\b", re.IGNORECASE),
    ),
    "metric": (
        re.compile(rf"\b\d+(?:\.\d+)?\s?(?:%|percent\b)"
                   rf"|\b{_NUM}\s(?:more\s|extra\s|full[- ]time\s)?(?:hours?|hrs|days?|weeks?|months?|years?|"
                   r"minutes?|mins|users?|seats?|licen[cs]es?|people|reps?|agents?|employees|staff|ftes?|tickets?|"
                   r"calls?|customers?|clients?|accounts?|deals?|orders?|locations?|sites?|stores?|clinics?|beds?|"
                   r"warehouses?|shipments?|claims?)\b", re.IGNORECASE),
        re.compile(r"\b(?:churn(?:ed|ing)?|revenue|margins?|retention|conversion|turnover|backlog|quota|arr|mrr|kpis?|"
                   r"roi|nps|sla|headcount|no[- ]shows?|error rate)\b", re.IGNORECASE),
    ),
    "tool": (
        re.compile(r"\b(?:spreadsheets?|excel|google sheets|crm|salesforce|hubspot|software|tools?|tooling|systems?|"
                   r"platforms?|erp|sap|netsuite|quickbooks|jira|zendesk|servicenow|workday|vendors?|in-house|"
                   r"homegrown)\b", re.IGNORECASE),
    ),
}
_SIGNAL_NOUN = {"cost": "a cost", "metric": "a metric", "tool": "a tool"}
_LONG_DIGITS = re.compile(r"\d[\d\s-]{5,}\d")

# --- hype without proof -------------------------------------------------------------------------------------
_NOT_HYPE = re.compile(
    r"\b(?:all the best|best (?:regards|wishes|of luck|time|way|person|day|practices?|bet)|"
    r"(?:do|doing|did|try|trying|tried) (?:my|our|your|their) best|at best)\b", re.IGNORECASE)
_HYPE = re.compile(
    r"(?<![\w#])(?:best[- ]in[- ]class|best[- ]of[- ]breed|(?:industry|market)[- ]leading|(?:the|a) leading|"
    r"world[- ]class|#\s?1|number one|no\.\s?1|unmatched|unparall?ell?ed|unrivall?ed|unbeatable|"
    r"revolutionary|revolutioni[sz]e[sd]?|cutting[- ]edge|state[- ]of[- ]the[- ]art|guarantee[sd]?|"
    r"seamless(?:ly)?|game[- ]chang(?:er|ing)|second to none|top[- ]notch|bullet[- ]?proof|effortless(?:ly)?|"
    r"next[- ]gen(?:eration)?|the only (?:one|platform|solution|tool|vendor)|everyone (?:loves|who tries)|"
    r"love us|best)\b", re.IGNORECASE)
_PROOF = re.compile(
    r"\d|\b(?:percent|half|double[sd]?|twice|triple[sd]?|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?)\b"
    r"|\bcase stud(?:y|ies)\b|\breferences?\b|\btestimonials?\b|\bcertifi(?:ed|cation)\b|\baudit(?:ed|s)?\b|"
    r"\bsoc ?(?:2|two)\b|\bhipaa\b|\bgartner\b|\bforrester\b", re.IGNORECASE)
_WEEKDAYS_MONTHS = ("Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|"
                    "June|July|August|September|October|November|December|I")
_NAMED_CUSTOMER = re.compile(  # case-sensitive on purpose: a capitalised name after a preposition
    rf"\b(?:at|for|with|like|from|including|ask)\s+(?!(?:{_WEEKDAYS_MONTHS})\b)[A-Z][\w&.'-]+")


def _check_columns(frame: pd.DataFrame, required: list[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}")


def _empty() -> pd.DataFrame:
    """The candidates frame with no rows: the right columns and dtypes, so concatenation keeps types."""
    cols = {f.name: pd.Series(dtype=_DTYPES.get(str(f.type), object)) for f in COACHING_MOMENTS}
    return pd.DataFrame({**cols, "score": pd.Series(dtype="float64")})


def _own_probability(df: pd.DataFrame) -> pd.Series:
    """Calibrated probability of each turn's own label (the top probability where the label is unknown)."""
    out = df[PROB_COLUMNS].astype("float64").max(axis=1)
    for label, col in zip(LABELS, PROB_COLUMNS, strict=True):
        mine = (df["label"] == label).to_numpy()
        out[mine] = df.loc[mine, col].astype("float64")
    return out


def _rows(df: pd.DataFrame, mask: np.ndarray, kind: str, reason: list[str] | pd.Series,
          score: np.ndarray | pd.Series) -> pd.DataFrame:
    """Candidate rows for the rep turns under ``mask`` with their reasons and scores (aligned to the mask)."""
    picked = df.loc[mask]
    if picked.empty:
        return _empty()
    return pd.DataFrame({
        "rep_id": picked["rep_id"].to_numpy(object), "kind": kind, "rank": np.zeros(len(picked), dtype="int32"),
        "call_id": picked["call_id"].to_numpy(object),
        "utterance_index": picked["utterance_index"].to_numpy("int32"),
        "start_s": picked["start_s"].to_numpy("float64"), "text": picked["text"].to_numpy(object),
        "label": picked["label"].to_numpy(object), "probability": picked["probability"].to_numpy("float64"),
        "reason": np.asarray(reason, dtype=object), "model_version": picked["model_version"].to_numpy(object),
        "run_id": picked["run_id"].to_numpy(object), "score": np.asarray(score, dtype="float64"),
    })


def _best(df: pd.DataFrame, rep: np.ndarray, kind: str, label: str, cfg: CoachingConfig) -> pd.DataFrame:
    words = df["word_count"].to_numpy("float64")
    p = df["probability"].to_numpy("float64")
    mask = (rep & (df["label"] == label).to_numpy() & (p >= cfg.min_probability)
            & (words >= cfg.min_substance_words))
    full = max(3 * cfg.min_substance_words, 1)
    score = p[mask] * (0.5 + 0.5 * np.minimum(words[mask] / full, 1.0))
    reason = [f"labelled {label} with p={pi:.2f} in a {int(w)}-word turn (bar: p >= {cfg.min_probability:.2f} "
              f"and at least {cfg.min_substance_words} words)" for pi, w in zip(p[mask], words[mask], strict=True)]
    return _rows(df, mask, kind, reason, score)


def _signals(text: object) -> dict[str, str]:
    """The first match of each signal kind in a customer turn (kind -> words to quote, '' if unquotable)."""
    if not isinstance(text, str) or not text:
        return {}
    found = {}
    for kind, patterns in _SIGNALS.items():
        for pattern in patterns:
            m = pattern.search(text)
            if m:  # a match inside a phone or account number ("555 123 4567 users") is not quoted
                near = text[max(m.start() - 12, 0):m.end()]
                found[kind] = "" if _LONG_DIGITS.search(near) else m.group(0).strip()
                break
    return found


def _quote(kind: str, words: str, quote: bool) -> str:
    """``a cost ('$4,000 a month')``, or the bare kind when quoting is off or the words are unquotable."""
    return f"{_SIGNAL_NOUN[kind]} ('{words[:40]}')" if quote and words else _SIGNAL_NOUN[kind]


def _missed_probes(df: pd.DataFrame, rep: np.ndarray, cfg: CoachingConfig, quote: bool) -> pd.DataFrame:
    backchannel = cfg.backchannel_words
    words = df["word_count"].to_numpy("float64")
    response = rep & (words >= backchannel) & df["label"].notna().to_numpy()
    pos = pd.Series(np.where(response, np.arange(len(df)), np.nan), index=df.index)
    nxt = pos.groupby(df["call_id"], sort=False).shift(-1).groupby(df["call_id"], sort=False).bfill()
    story = max(cfg.customer_story_words, 1)
    best: dict[int, tuple[float, str]] = {}  # rep turn position -> (customer strength, what qualified it)
    for i in np.flatnonzero((df["speaker_role"] == "customer").to_numpy() & nxt.notna().to_numpy()):
        sig = _signals(df["text"].iat[i])
        if words[i] < cfg.customer_story_words and not sig:
            continue
        j = int(nxt.iat[i])
        if df["label"].iat[j] in ("knowledge_probing", "trust_commitment"):
            continue
        strength = min(words[i] / story, 1.0) + 0.5 * len(sig)
        named = " and ".join(_quote(k, v, quote) for k, v in sig.items())
        why = f"customer spoke {int(words[i])} words " + (f"naming {named}" if named else "describing their situation")
        if j not in best or strength > best[j][0]:
            best[j] = (strength, why)
    if not best:
        return _empty()
    mask = np.zeros(len(df), dtype=bool)
    mask[list(best)] = True
    at = np.flatnonzero(mask)
    p_kp = np.nan_to_num(df["p_knowledge_probing"].to_numpy("float64")[at])
    p_tc = np.nan_to_num(df["p_trust_commitment"].to_numpy("float64")[at])
    score = np.clip(1.0 - p_kp - p_tc, 0.0, 1.0) * np.array([best[j][0] for j in at])
    reason = [f"{best[j][1]}; the rep's next turn was labelled {df['label'].iat[j]} "
              f"(p={df['probability'].iat[j]:.2f})" for j in at]
    return _rows(df, mask, "missed_probe", reason, score)


def _pitch_before_discovery(df: pd.DataFrame, rep: np.ndarray, seconds: pd.Series,
                            cfg: CoachingConfig) -> pd.DataFrame:
    r = df.loc[rep]
    if r.empty:
        return _empty()
    call = r["call_id"]
    probe = r["label"].eq("knowledge_probing")
    pre = ~probe.groupby(call, sort=False).cummax()  # rep turns before the call's first probe
    is_other = r["label"].eq("other") & pre
    talk = seconds.loc[rep].where(is_other, 0.0)  # product talk only: small talk before discovery is no pitch
    crossed = pre & ((is_other.groupby(call, sort=False).cumsum() > cfg.pitch_turns)
                     | (talk.groupby(call, sort=False).cumsum() > cfg.pitch_seconds))
    if not crossed.any():
        return _empty()
    others = is_other.groupby(call, sort=False).sum()
    secs = talk.groupby(call, sort=False).sum()
    first_probe = r["start_s"].where(probe).groupby(call, sort=False).min()
    hits = r.loc[crossed].drop_duplicates("call_id")
    mask = df.index.isin(hits.index)
    reason, score = [], []
    for c in df.loc[mask, "call_id"]:
        n, s, fp = int(others[c]), float(secs[c]), first_probe[c]
        when = f"before the first probe at {fp:.0f} s" if pd.notna(fp) else "and the call never probed"
        reason.append(f"{n} rep turn{'' if n == 1 else 's'} labelled other ({s:.0f} s of product talk) {when} "
                      f"(limits: {cfg.pitch_turns} turns, {cfg.pitch_seconds:.0f} s); this turn crossed the limit")
        score.append(max(n / max(cfg.pitch_turns, 1), s / max(cfg.pitch_seconds, 1.0)))
    return _rows(df, mask, "pitch_before_discovery", reason, score)


def _long_monologues(df: pd.DataFrame, rep: np.ndarray, seconds: pd.Series, cfg: CoachingConfig) -> pd.DataFrame:
    secs = seconds.to_numpy("float64")
    mask = rep & (secs >= cfg.long_monologue_s)
    spoken = df["spoken_s"].notna().to_numpy() if "spoken_s" in df else np.zeros(len(df), dtype=bool)
    reason = [f"the rep spoke for {s:.0f} s in one turn{'' if sp else ' (turn span)'} (limit "
              f"{cfg.long_monologue_s:.0f} s; buyers disengage past about 150 s)"
              for s, sp in zip(secs[mask], spoken[mask], strict=True)]
    return _rows(df, mask, "long_monologue", reason, secs[mask] / max(cfg.long_monologue_s, 1.0))


def hype_terms(text: str) -> list[str]:
    """Distinct hype words in a turn, lower-cased in order of first use ("all the best" and the like excluded)."""
    seen: list[str] = []
    for m in _HYPE.finditer(_NOT_HYPE.sub(" ", text)):
        term = re.sub(r"\s+", " ", m.group(0).lower())
        if term not in seen:
            seen.append(term)
    return seen


def has_proof(text: str) -> bool:
    """A number, a named customer, or case-study/reference/certification phrasing, once hype is set aside
    (so "#1" and "number one" are not numbers)."""
    rest = _HYPE.sub(" ", _NOT_HYPE.sub(" ", text))
    return bool(_PROOF.search(rest) or _NAMED_CUSTOMER.search(rest))


def _vague_claims(df: pd.DataFrame, rep: np.ndarray) -> pd.DataFrame:
    mask = rep & df["label"].isin(["other", "trust_commitment"]).to_numpy()
    found: dict[int, list[str]] = {}
    for i in np.flatnonzero(mask):
        text = df["text"].iat[i]
        terms = hype_terms(text) if isinstance(text, str) else []
        if terms and not has_proof(text):
            found[i] = terms
    if not found:
        return _empty()
    mask = np.zeros(len(df), dtype=bool)
    mask[list(found)] = True
    at = np.flatnonzero(mask)
    p = df["probability"].to_numpy("float64")[at]
    score = p * (1 + 0.5 * (np.array([len(found[i]) for i in at]) - 1))
    reason = [f"claimed {', '.join(repr(t) for t in found[i])} with no number, named customer or case study to "
              f"back it (labelled {df['label'].iat[i]}, p={pi:.2f})" for i, pi in zip(at, p, strict=True)]
    return _rows(df, mask, "vague_claim", reason, score)


def coaching_candidates(turns: pd.DataFrame, cfg: CoachingConfig, *, quote_customer: bool = True) -> pd.DataFrame:
    """Every turn a coaching rule picks in one shard of complete calls, with a ``score`` for ranking.

    Args:
        turns: labelled turns (``metrics.attach_labels`` columns) of whole calls; rows are put in call then
            utterance order here. ``spoken_s`` may be absent or NaN: the turn's span stands in for it.
        cfg: the rule thresholds.
        quote_customer: quote the customer's words that made a ``missed_probe`` (an amount, a tool) in its
            reason. Pass False where customer text is withheld (``customer_text = drop``): the reason then
            names only the kind of signal ("naming a cost").

    Returns:
        The ``coaching_moments`` columns (``rank`` 0) plus ``score`` (higher = more worth showing), one row
        per (kind, rep turn); see the module docstring for each kind's rule and score.

    Raises:
        ValueError: a required column is missing (named in the message).
    """
    _check_columns(turns, REQUIRED_TURN_COLUMNS, "coaching_candidates")
    if turns.empty:
        return _empty()
    df = turns.sort_values(["call_id", "utterance_index"], kind="stable").reset_index(drop=True)
    df["probability"] = _own_probability(df)
    span = (df["end_s"].astype("float64") - df["start_s"].astype("float64")).clip(lower=0.0)
    seconds = df["spoken_s"].astype("float64").fillna(span) if "spoken_s" in df else span
    rep = (df["speaker_role"] == "rep").to_numpy() & df["label"].notna().to_numpy()
    parts = [_best(df, rep, "best_probe", "knowledge_probing", cfg),
             _best(df, rep, "best_commitment", "trust_commitment", cfg),
             _missed_probes(df, rep, cfg, quote_customer), _pitch_before_discovery(df, rep, seconds, cfg),
             _long_monologues(df, rep, seconds, cfg), _vague_claims(df, rep)]
    parts = [p for p in parts if not p.empty]
    out = pd.concat(parts, ignore_index=True) if parts else _empty()
    log.debug("coaching candidates: %d rows from %d turns of %d calls", len(out), len(df), df["call_id"].nunique())
    return out


def select_moments(candidates: pd.DataFrame, cfg: CoachingConfig) -> pd.DataFrame:
    """The day's coaching moments: the best few candidates per rep and kind, ranked.

    Args:
        candidates: ``coaching_candidates`` of all the day's shards, concatenated (a rep's calls may lie in
            several). A row repeated across inputs (same rep, kind, call and turn) counts once.
        cfg: ``top_n`` caps the best kinds, ``max_per_kind`` the rule kinds.

    Returns:
        ``coaching_moments`` rows in schema column order, sorted by rep, kind and rank; ``rank`` runs 1..n per
        (rep_id, kind) by descending score, ties broken by call_id then utterance_index, so reruns agree.

    Raises:
        ValueError: a required column is missing, or a kind is not one of ``COACHING_KINDS``.
    """
    required = [c for c in CANDIDATE_COLUMNS if c != "rank"]
    _check_columns(candidates, required, "select_moments")
    unknown = sorted(set(candidates["kind"].dropna()) - set(COACHING_KINDS))
    if unknown:
        raise ValueError(f"select_moments: unknown kinds {unknown}; known: {list(COACHING_KINDS)}")
    if candidates.empty:
        return _empty()[COACHING_MOMENTS.names]
    keys = ["rep_id", "kind", "call_id", "utterance_index"]
    df = candidates.drop(columns=["rank"], errors="ignore")
    df = df.sort_values(["rep_id", "kind", "score", "call_id", "utterance_index"],
                        ascending=[True, True, False, True, True], kind="stable", na_position="last")
    df = df.drop_duplicates(keys, keep="first")
    rank = df.groupby(["rep_id", "kind"], sort=False, dropna=False).cumcount() + 1
    cap = np.where(df["kind"].isin(BEST_KINDS), cfg.top_n, cfg.max_per_kind)
    df = df.assign(rank=rank.astype("int32")).loc[(rank <= cap).to_numpy()]
    out = df[COACHING_MOMENTS.names].reset_index(drop=True)
    for f in COACHING_MOMENTS:
        if str(f.type) in _DTYPES:
            out[f.name] = out[f.name].astype(_DTYPES[str(f.type)])
    return out


__all__ = ["coaching_candidates", "has_proof", "hype_terms", "select_moments"]
