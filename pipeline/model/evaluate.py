"""Honest evaluation: the model against two baselines trained on the same data."""

from __future__ import annotations

import logging
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


def baselines(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict]:
    """Majority class and TF-IDF (word 1-2 grams + char 2-5 grams) with logistic regression."""
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
        "tfidf_logreg": scores(test["label"].tolist(), clf.predict(x_test).tolist()),
    }


def evaluate_model(model_dir: str | Path, data: pd.DataFrame, train: pd.DataFrame | None = None,
                   precision: str = "fp32", threads: int = 0) -> dict:
    """Score a model folder on labelled turns, with baselines when training data is given."""
    from pipeline.model.classify import Classifier

    clf = Classifier(model_dir, precision=precision, threads=threads)
    preds = clf.predict(data["text"].tolist(), data["context"].tolist())
    result = {"model_version": clf.version, "precision": precision, **scores(data["label"].tolist(), preds.labels),
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
