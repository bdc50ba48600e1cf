"""The classifier network and how a model folder describes itself.

The network is the stock ``BertForSequenceClassification`` (BERT's ``[CLS]`` pooler and a
linear layer) on the MiniLM backbone, so the folder is a standard transformers folder:
``AutoModelForSequenceClassification``, ``pipeline("text-classification")``, ONNX export and
serving stacks load it exactly. A mean-pooling head was measured against it (leave-one-writer-out
dev macro-F1 0.962 against 0.959, README) and was not clearly better, so it was dropped: a custom
head that standard tools silently re-initialise is worse than 0.003 of macro-F1.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pipeline import LABELS
from pipeline.model import META_FILE, integrity

log = logging.getLogger(__name__)

CONTEXT_WORDS = 32


def label_maps() -> tuple[dict[int, str], dict[str, int]]:
    id2label = dict(enumerate(LABELS))
    return id2label, {v: k for k, v in id2label.items()}


def build(backbone: str) -> torch.nn.Module:
    """A fresh classifier on the pre-trained backbone, labels wired into its config."""
    id2label, label2id = label_maps()
    return AutoModelForSequenceClassification.from_pretrained(
        backbone, num_labels=len(LABELS), id2label=id2label, label2id=label2id)


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    """The folder's ``callscore.json``: version, input format and training facts."""
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a callscore model folder (no {META_FILE}); "
                                "train one with `callscore train` or `make model`")
    return json.loads(path.read_text())


def load(model_dir: str | Path, verify: bool = True, meta_sha256: str | None = None
         ) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """Load a trained folder: the network in eval mode, its tokenizer and its metadata.

    Args:
        verify: check every file against the checksums training recorded (``integrity``); only
            training itself, measuring the folder it is still writing, passes False.
        meta_sha256: the run's pin of ``callscore.json`` (see ``classify.resolve_model``).

    Raises:
        ModelIntegrityError: the folder does not match its record (a ValueError).
        ValueError: the folder holds a mean-pooling head from before the standard format (retrain it:
            standard tools would silently load it with a random head), or predicts other labels.
    """
    meta = integrity.verify(model_dir, meta_sha256) if verify else read_meta(model_dir)
    if meta.get("head", "cls") != "cls":
        raise ValueError(f"{model_dir} holds a {meta.get('head')!r}-pooling head from an older callscore; "
                         "retrain it (`callscore train --promote`): only the standard "
                         "BertForSequenceClassification format is supported")
    # safetensors only: a pickled pytorch_model.bin runs code when loaded
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), use_safetensors=True)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if labels != list(LABELS):
        raise ValueError(f"{model_dir} predicts {labels}, expected {list(LABELS)}")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return model, tokenizer, meta


def encode(tokenizer: Any, texts: list[str], contexts: list[str] | None, use_context: bool, max_length: int,
           padding: bool | str = False) -> dict[str, Any]:
    """Tokenize turns, optionally paired with the customer turn before them.

    The rep's own words come first; only the last ``CONTEXT_WORDS`` words of the
    customer turn are kept (the end of a question is what the rep answers), so a
    long customer monologue never pushes the turn being labelled out of the window.
    """
    if use_context and contexts is not None:
        pairs = [" ".join((c or "").split()[-CONTEXT_WORDS:]) for c in contexts]
        return tokenizer(texts, pairs, truncation=True, max_length=max_length, padding=padding)
    return tokenizer(texts, truncation=True, max_length=max_length, padding=padding)


def set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)
