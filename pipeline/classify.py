"""Batched inference: label rep turns with a trained model folder.

Throughput comes from three habits: tokenize everything once with the fast
tokenizer, run batches sorted by length so padding is small (dynamic padding),
and run under ``torch.inference_mode``. bf16 autocast uses the CPU's AVX-512 BF16
units, or the GPU's tensor cores when CUDA is present.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline import LABELS, modeling

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16", "int8")


@dataclass(frozen=True)
class Predictions:
    """Labels and the full probability matrix (rows in input order, columns in LABELS order)."""

    labels: list[str]
    probs: np.ndarray
    seconds: float
    forward_seconds: float = 0.0  # time inside the model's forward pass alone

    def as_dicts(self) -> list[dict[str, float]]:
        return [dict(zip(LABELS, map(float, row), strict=True)) for row in self.probs]


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Classifier:
    """A loaded model folder, ready to label turns.

    Args:
        model_dir: folder written by ``callscore train``.
        batch_size: turns per forward pass (GPU runs want 512 or more).
        threads: torch intra-op threads; 0 keeps torch's default (all cores).
        precision: ``fp32``, ``bf16``/``fp16`` (autocast) or ``int8`` (dynamic quantization, CPU).
        device: ``cpu``/``cuda``; ``None`` picks CUDA when present.
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 64, threads: int = 0, precision: str = "fp32",
                 device: str | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        modeling.set_threads(threads)
        self.device = pick_device(device)
        self.model, self.tokenizer, self.meta = modeling.load(model_dir)
        self.model.to(self.device)
        if precision == "int8":
            if self.device.type != "cpu":
                raise ValueError("int8 dynamic quantization runs on the CPU only")
            from torch.ao.quantization import quantize_dynamic

            self.model = quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.batch_size = batch_size
        self.precision = precision
        self.use_context = bool(self.meta.get("use_context"))
        self.max_length = int(self.meta.get("max_length", 128))
        self.version = str(self.meta["version"])

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision in ("fp32", "int8"):
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def predict(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> Predictions:
        """Label every text; ``contexts`` are the customer turns before them (or None)."""
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        start = time.perf_counter()
        n = len(texts)
        probs = np.zeros((n, len(LABELS)), dtype=np.float32)
        forward = 0.0
        if n:
            enc = modeling.encode(self.tokenizer, [t or "" for t in texts],
                                  None if contexts is None else [c or "" for c in contexts],
                                  self.use_context, self.max_length)
            ids = enc["input_ids"]
            order = np.argsort([len(x) for x in ids], kind="stable")
            keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
            with torch.inference_mode(), self._autocast():
                for lo in range(0, n, self.batch_size):
                    idx = order[lo: lo + self.batch_size]
                    batch = self.tokenizer.pad({k: [enc[k][i] for i in idx] for k in keys}, return_tensors="pt")
                    batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                    tick = time.perf_counter()
                    logits = self.model(**batch).logits.float()
                    if self.device.type == "cuda":
                        torch.cuda.synchronize()
                    forward += time.perf_counter() - tick
                    probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
        labels = [LABELS[i] for i in probs.argmax(axis=1)] if n else []
        seconds = time.perf_counter() - start
        if n:
            log.info("classified %d turns in %.2fs (%.0f turns/s, %s, %s)", n, seconds, n / max(seconds, 1e-9),
                     self.precision, self.device)
        return Predictions(labels=labels, probs=probs, seconds=seconds, forward_seconds=forward)
