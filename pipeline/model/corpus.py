"""The labelled corpus: loading, checking and splitting it.

Training data is JSONL of rep turns (``text``, ``label``, optional ``context``
and tags). The held-out test set is whole conversations written apart from the
training data; it is flattened here into rep turns, each with the customer turn
before it as context, exactly as the pipeline sees turns at inference time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import LABELS, PRECEDENCE, paths

CORPUS_DIR: Path = paths.corpus_dir()
"""The corpus as installed (``models/corpus/`` in the checkout, ``pipeline/_corpus`` from a wheel)."""

TRAIN_GLOB = "train/*.jsonl"
TEST_CONVERSATIONS = "test/conversations.jsonl"
EXTERNAL = "external"
"""Transcripts nobody here wrote, for evaluation only: gold labels committed, texts rebuilt locally."""


def _lines(path: Path) -> Iterable[tuple[int, dict]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from exc


def _check(path: Path, n: int, row: dict) -> dict:
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{path}:{n}: 'text' must be a non-empty string")
    if row.get("label") not in LABELS:
        raise ValueError(f"{path}:{n}: label {row.get('label')!r} is not one of {LABELS}")
    return {**row, "text": text.strip(), "context": (row.get("context") or "").strip()}


def load_turns(paths: Iterable[Path]) -> pd.DataFrame:
    """Load labelled rep turns from JSONL files; refuses bad labels with file and line."""
    rows = [_check(p, n, row) for p in sorted(paths) for n, row in _lines(p)]
    if not rows:
        raise ValueError("no labelled turns found")
    frame = pd.DataFrame(rows)
    dupes = frame.duplicated(["text", "context"])
    return frame.loc[~dupes].reset_index(drop=True)


def load_conversations(path: Path) -> pd.DataFrame:
    """Flatten conversations into labelled rep turns with the previous customer turn as context."""
    rows = []
    for n, conv in _lines(path):
        previous = ""
        for i, turn in enumerate(conv.get("turns", [])):
            if turn.get("speaker") == "rep":
                rows.append(_check(path, n, {
                    "text": turn.get("text"), "label": turn.get("label"), "context": previous,
                    "conversation_id": conv.get("conversation_id"), "turn": i, "style": conv.get("style"),
                    "industry": conv.get("industry"), "call_type": conv.get("call_type"), "source": "test-writer",
                }))
            else:
                previous = turn.get("text") or ""
    if not rows:
        raise ValueError(f"{path}: no rep turns")
    return pd.DataFrame(rows)


def load_external(folder: Path = CORPUS_DIR / EXTERNAL) -> pd.DataFrame:
    """The external evaluation set: the rebuilt texts (``turns.jsonl``) joined with the committed gold labels.

    The texts are third-party and stay out of git; ``extract.py`` in the folder rebuilds them (see its
    README). Every gold id must have a text, so a partial rebuild cannot pass for the whole set.
    Never train or tune on these turns.
    """
    turns_path, gold_path = folder / "turns.jsonl", folder / "gold.jsonl"
    if not turns_path.is_file():
        raise FileNotFoundError(f"{turns_path} is missing: rebuild the texts with {folder / 'extract.py'} "
                                f"(see {folder / 'README.md'})")
    gold = {row["id"]: row["label"] for _, row in _lines(gold_path)}
    texts = {row["id"]: row for _, row in _lines(turns_path)}
    missing = sorted(set(gold) - set(texts))
    if missing:
        raise ValueError(f"{turns_path}: {len(missing)} gold turns have no text (first {missing[:3]}); rebuild it")
    rows = [_check(turns_path, n, {"text": texts[i]["text"], "label": label, "context": texts[i].get("context"),
                                   "id": i, "source": texts[i].get("source_id"), "conversation_id": texts[i].get(
                                       "call_id")})
            for n, (i, label) in enumerate(gold.items(), start=1)]
    return pd.DataFrame(rows)


def train_files(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    return sorted(corpus_dir.glob(TRAIN_GLOB))


def fingerprint(paths: Iterable[Path]) -> str:
    """A hash of the corpus files' bytes: part of the model version."""
    digest = hashlib.sha256()
    for p in sorted(paths):
        digest.update(p.name.encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()


def stratified_split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off ``fraction`` of every label for model selection (seeded)."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    held = []
    for _, group in frame.groupby("label", sort=True):
        k = max(1, round(len(group) * fraction))
        held.extend(rng.choice(group.index.to_numpy(), size=k, replace=False).tolist())
    mask = frame.index.isin(held)
    return frame.loc[~mask].reset_index(drop=True), frame.loc[mask].reset_index(drop=True)


def hash_split(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off about ``fraction`` of the turns as the validation (dev) split, by a hash of each text.

    A turn's side depends only on its own words, not on the rest of the corpus or a seed, so when
    the corpus grows a validation turn stays a validation turn: the promotion guard can score the
    current model and a candidate on the same validation turns, neither of which trained on them.
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    keys = [" ".join(t.lower().split()) for t in frame["text"]]
    held = np.array([int(hashlib.sha256(k.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction for k in keys])
    return frame.loc[~held].reset_index(drop=True), frame.loc[held].reset_index(drop=True)


def validation_split(corpus_dir: Path = CORPUS_DIR, fraction: float = 0.1) -> pd.DataFrame:
    """The validation turns of the corpus as it stands: what model selection and promotion score on."""
    return hash_split(load_turns(train_files(corpus_dir)), fraction)[1]


def distribution(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["label"].value_counts()
    return {label: int(counts.get(label, 0)) for label in LABELS}


_FILLERS = ("um", "uh", "you know", "like", "i mean", "so")
_PUNCT = str.maketrans("", "", ".,!?;:\"()")


def asr_variant(text: str, rng: np.random.Generator) -> str:
    """Rewrite a clean turn the way speech recognition renders it.

    Lower case, punctuation dropped, a filler or two, sometimes a repeated word:
    the label does not change, so the model learns to ignore surface form.
    """
    words = text.lower().replace("-", " ").translate(_PUNCT).split()
    if not words:
        return text
    out: list[str] = []
    for i, w in enumerate(words):
        if i and rng.random() < 0.08:
            out.append(str(rng.choice(_FILLERS)))
        out.append(w)
        if rng.random() < 0.04:
            out.append(w)
    return " ".join(out)


def augment(frame: pd.DataFrame, fraction: float, seed: int, mixed: float = 0.0) -> pd.DataFrame:
    """Add ASR-style copies of a ``fraction`` of the clean turns, and ``mixed`` x len joined turns."""
    frame = pd.concat([frame, mixed_turns(frame, mixed, seed)], ignore_index=True) if mixed > 0 else frame
    if fraction <= 0:
        return frame
    rng = np.random.default_rng(seed)
    clean = frame[frame.get("style", pd.Series("clean", index=frame.index)).fillna("clean") != "asr"]
    picked = clean.loc[rng.random(len(clean)) < fraction].copy()
    picked["text"] = [asr_variant(t, rng) for t in picked["text"]]
    picked["context"] = [asr_variant(c, rng) if c else c for c in picked["context"]]
    picked["style"] = "asr-augmented"
    return pd.concat([frame, picked], ignore_index=True)


def mixed_turns(frame: pd.DataFrame, fraction: float, seed: int, max_words: int = 35) -> pd.DataFrame:
    """Join two turns of different labels into one, labelled by the guide's precedence rule.

    Real turns often do two things ("Great to see you again! How do you onboard new
    hires today?"); the substantive act wins, trust_commitment > knowledge_probing >
    rapport > other. Joining written turns teaches the model that a long lead-in of
    small talk does not outvote the question or commitment after it.
    """
    if fraction <= 0:
        return frame.iloc[0:0]
    rng = np.random.default_rng(seed + 1)
    short = frame[frame["text"].str.split().str.len() <= max_words].reset_index(drop=True)
    n = int(len(frame) * fraction)
    a = short.iloc[rng.integers(0, len(short), n)].reset_index(drop=True)
    b = short.iloc[rng.integers(0, len(short), n)].reset_index(drop=True)
    keep = a["label"].to_numpy() != b["label"].to_numpy()
    a, b = a[keep].reset_index(drop=True), b[keep].reset_index(drop=True)
    labels = [min(x, y, key=PRECEDENCE.index) for x, y in zip(a["label"], b["label"], strict=True)]
    return pd.DataFrame({"text": (a["text"] + " " + b["text"]).tolist(), "label": labels,
                         "context": a["context"].tolist(), "style": "mixed-augmented"})
