"""The classifier network and how a model folder describes itself.

Two heads are supported on the MiniLM backbone: BERT's ``[CLS]`` pooler (the stock
``BertForSequenceClassification``) and mean pooling over tokens, which is how
all-MiniLM-L6-v2 was pre-trained as a sentence encoder. ``callscore_head`` in the
folder's ``config.json`` says which one a folder holds, so loading needs no flags.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from pipeline import LABELS
from pipeline.model import META_FILE

log = logging.getLogger(__name__)

CONTEXT_WORDS = 32


class MeanPoolClassifier(BertPreTrainedModel):
    """BERT encoder, masked mean over token states, dropout, linear layer."""

    def __init__(self, config: Any):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **_: Any):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
        logits = self.classifier(self.dropout(pooled))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def label_maps() -> tuple[dict[int, str], dict[str, int]]:
    id2label = dict(enumerate(LABELS))
    return id2label, {v: k for k, v in id2label.items()}


def build(backbone: str, head: str) -> nn.Module:
    """A fresh classifier on the pre-trained backbone, labels wired into its config."""
    id2label, label2id = label_maps()
    kwargs = {"num_labels": len(LABELS), "id2label": id2label, "label2id": label2id}
    if head == "mean":
        model = MeanPoolClassifier.from_pretrained(backbone, **kwargs)
    elif head == "cls":
        model = AutoModelForSequenceClassification.from_pretrained(backbone, **kwargs)
    else:
        raise ValueError(f"head must be 'mean' or 'cls', got {head!r}")
    model.config.callscore_head = head
    return model


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    """The folder's ``callscore.json``: version, input format and training facts."""
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a callscore model folder (no {META_FILE}); "
                                "train one with `callscore train` or `make model`")
    return json.loads(path.read_text())


def load(model_dir: str | Path) -> tuple[nn.Module, Any, dict[str, Any]]:
    """Load a trained folder: the network in eval mode, its tokenizer and its metadata."""
    meta = read_meta(model_dir)
    cls = MeanPoolClassifier if meta.get("head") == "mean" else AutoModelForSequenceClassification
    model = cls.from_pretrained(str(model_dir))
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
