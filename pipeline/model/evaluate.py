"""Honest evaluation: the model against baselines on the same data, calibration, slices.

Baselines: the majority class, TF-IDF + logistic regression trained on the same training
turns, and twenty lines of keyword rules written from the labeling guide (no training at all):
a model that does not clearly beat the rules on text nobody here wrote has not learnt the labels.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from pipeline import LABELS

log = logging.getLogger(__name__)


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    if len(y_true) != len(y_pred) or not len(y_true):
        raise ValueError("y_true and y_pred must be non-empty and the same length")
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(LABELS), zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=list(LABELS), average="macro", zero_division=0)), 4),
        "per_class": {label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                              "f1": round(float(f[i]), 4), "support": int(s[i])} for i, label in enumerate(LABELS)},
        "confusion_matrix": {"labels": list(LABELS),
                             "rows_true_cols_pred": confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist()},
    }


def _joined(frame: pd.DataFrame) -> list[str]:
    return frame["text"].tolist()


_RULES = (
    ("trust_commitment", re.compile(
        r"\b(i'll|i will|we'll|we will|will do|i promise|guarantee|i own this|as promised|case stud\w*|"
        r"customers? (like|similar)|you('ll| will| should) see|cut (their|the)|reduced|saved|"
        r"\d+ ?(%|percent)|by (monday|tuesday|wednesday|thursday|friday|tomorrow|end of))")),
    ("knowledge_probing", re.compile(
        r"^(how|what|who|when|where|why|which|tell me|walk me|talk me)\b|\b(how do you|what's your|what is your|"
        r"are you (using|currently)|do you (have|use|currently)|tell me (more|about)|walk me through|"
        r"if i heard you)\b")),
    ("rapport", re.compile(
        r"\b(congrat\w*|weekend|vacation|holiday|hope (you|your)|enjoy|love (the|your)|great to see|good to see|"
        r"so good to|sounds (rough|exhausting|stressful|tough|awful)|haha|weather|feel better|how was)\b")),
)
_POSSIBLE_PITCH_CHECK = re.compile(r"(make sense|see my screen|hear me|sound good|does that work)\?")


def keyword_rule(text: str) -> str:
    """The keyword-rules baseline: the guide's precedence over regular expressions of its examples."""
    t = " ".join(text.lower().split())
    for label, pattern in _RULES:
        if pattern.search(t):
            return label
    if "?" in t and not _POSSIBLE_PITCH_CHECK.search(t):
        return "knowledge_probing"
    return "other"


def baselines(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict]:
    """Majority class, keyword rules, and TF-IDF (word 1-2 + char 2-5 grams) with logistic regression."""
    majority = train["label"].value_counts().idxmax()
    from scipy.sparse import hstack

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    x_train = hstack([words.fit_transform(_joined(train)), chars.fit_transform(_joined(train))]).tocsr()
    x_test = hstack([words.transform(_joined(test)), chars.transform(_joined(test))]).tocsr()
    clf = LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced", random_state=0)
    clf.fit(x_train, train["label"])
    return {
        "majority": scores(test["label"].tolist(), [majority] * len(test)),
        "keyword_rules": scores(test["label"].tolist(), [keyword_rule(t) for t in test["text"]]),
        "tfidf_logreg": scores(test["label"].tolist(), clf.predict(x_test).tolist()),
    }


def evaluate_model(model_dir: str | Path, data: pd.DataFrame, train: pd.DataFrame | None = None,
                   precision: str = "fp32", threads: int = 0, verify: bool = True) -> dict:
    """Score a model folder on labelled turns, with baselines when training data is given.

    ``verify=False`` only for training measuring the folder it has not sealed yet.
    """
    from pipeline.model.classify import Classifier

    clf = Classifier(model_dir, precision=precision, threads=threads, verify=verify)
    preds = clf.predict(data["text"].tolist(), data["context"].tolist())
    result = {"model_version": clf.version, "precision": clf.precision,
              **scores(data["label"].tolist(), preds.labels),
              "ece": round(expected_calibration_error(preds.probs, data["label"].tolist()), 4),
              "slices": slices(data, preds.labels), "turns_per_s": round(len(data) / max(preds.seconds, 1e-9), 1)}
    if train is not None:
        result["baselines"] = baselines(train, data)
    return result


LONG_TURN_WORDS = 40
"""Turns longer than this are the "long" slice: real demo and pitch turns, where labels go wrong most."""


def slices(data: pd.DataFrame, predicted: Sequence[str]) -> dict[str, dict]:
    """Macro-F1 and accuracy on the slices where errors concentrate: long turns and speech-recognition text.

    A turn is ASR-style when its ``style`` says so (``asr``, ``asr-augmented``) or, without a style,
    when it has no capital letter and no sentence punctuation. Per-label scores are in ``scores``.
    Empty slices are left out.
    """
    if len(data) != len(predicted):
        raise ValueError(f"{len(data)} turns but {len(predicted)} predictions")
    words = data["text"].str.split().str.len()
    if "style" in data.columns:
        asr = data["style"].fillna("").str.startswith("asr")
    else:
        asr = ~data["text"].str.contains(r"[A-Z.?!,]", regex=True)
    predicted = np.asarray(predicted, dtype=object)
    out = {}
    for name, mask in ((f"over_{LONG_TURN_WORDS}_words", words > LONG_TURN_WORDS), ("asr_style", asr)):
        mask = mask.to_numpy()
        if mask.any():
            s = scores(data.loc[mask, "label"].tolist(), predicted[mask].tolist())
            out[name] = {"n": s["n"], "macro_f1": s["macro_f1"], "accuracy": s["accuracy"]}
    return out


def errors(data: pd.DataFrame, predicted: Sequence[str], limit: int = 30) -> list[dict]:
    """The misclassified turns, for the model card and for reading by a human."""
    wrong = np.flatnonzero(np.asarray(data["label"]) != np.asarray(predicted))
    return [{"text": data["text"].iloc[i], "context": data["context"].iloc[i], "label": data["label"].iloc[i],
             "predicted": predicted[i]} for i in wrong[:limit]]


def expected_calibration_error(probs: np.ndarray, y_true: Sequence[str], bins: int = 15) -> float:
    """ECE of the top label: the gap between confidence and accuracy, averaged over equal-width bins.

    The ``p_*`` columns feed a review queue, so "0.9" must mean right nine times in ten.
    """
    if len(probs) != len(y_true) or not len(y_true):
        raise ValueError("probs and y_true must be non-empty and the same length")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.array([LABELS.index(y) for y in y_true])
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(total)


def fit_temperature(probs: np.ndarray, y_true: Sequence[str]) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T) on labelled turns.

    Fitted on the dev split only. ``log(probs)`` equals the logits up to a per-row constant, which
    softmax ignores, so no second forward pass is needed. A 1-D search over log T is exact enough
    (the NLL is convex in 1/T).
    """
    if len(probs) != len(y_true) or not len(y_true):
        raise ValueError("probs and y_true must be non-empty and the same length")
    logits = _logits(probs)
    target = np.array([LABELS.index(y) for y in y_true])

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(z)), target] - np.log(np.exp(z).sum(axis=1))).mean())

    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 121))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    fine = np.exp(np.linspace(np.log(best) - 0.05, np.log(best) + 0.05, 41))
    return round(float(fine[int(np.argmin([nll(t) for t in fine]))]), 4)


def rescale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities as they would be with the logits divided by ``temperature``."""
    z = _logits(probs) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def _logits(probs: np.ndarray) -> np.ndarray:
    """Logits up to a per-row constant (which softmax ignores), from probabilities."""
    return np.log(np.clip(probs.astype(np.float64), 1e-12, 1.0))
