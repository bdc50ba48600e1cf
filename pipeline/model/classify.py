"""Batched inference: the one loop that labels turns, for nightly runs, training and benchmarks.

Throughput comes from four habits: tokenize everything once with the fast
tokenizer, run batches sorted by length so padding is small (dynamic padding),
run under ``torch.inference_mode``, and on a GPU pad the next batches into pinned
memory on CPU threads while the current one runs. bf16 autocast uses the CPU's
AVX-512 BF16 units; on a GPU the weights are cast to fp16/bf16 outright.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline import LABELS, PRECISIONS
from pipeline.model import modeling

log = logging.getLogger(__name__)

_ENCODING_KEYS = ("input_ids", "token_type_ids", "attention_mask")
_HALF_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


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


def infer(model: torch.nn.Module, tokenizer: Any, enc: dict[str, list], *, batch_size: int,
          device: torch.device, autocast: contextlib.AbstractContextManager | None = None,
          prefetch: int = 0) -> tuple[np.ndarray, float]:
    """Softmax probabilities for already-tokenized turns, and the seconds spent in forward passes.

    Turns run in length-sorted batches so each is padded only to its own longest
    turn. With ``prefetch`` > 0, that many CPU threads pad upcoming batches (into
    pinned memory on CUDA) while the device runs the current one; at most
    ``2 * prefetch`` batches wait, so memory stays bounded however many turns come.
    """
    n = len(enc["input_ids"])
    probs = np.zeros((n, len(LABELS)), dtype=np.float32)
    if not n:
        return probs, 0.0
    order = np.argsort([len(x) for x in enc["input_ids"]], kind="stable")
    keys = [k for k in _ENCODING_KEYS if k in enc]
    pin = device.type == "cuda"

    def prepare(idx: np.ndarray) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        batch = tokenizer.pad({k: [enc[k][i] for i in idx] for k in keys}, return_tensors="pt")
        return idx, {k: (v.pin_memory() if pin else v) for k, v in batch.items()}

    chunks = [order[lo: lo + batch_size] for lo in range(0, n, batch_size)]
    forward = 0.0
    with contextlib.ExitStack() as stack:
        if prefetch > 0:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=prefetch))
            batches = _bounded(pool, prepare, chunks, 2 * prefetch)
        else:
            batches = map(prepare, chunks)
        stack.enter_context(torch.inference_mode())
        stack.enter_context(autocast or contextlib.nullcontext())
        for idx, batch in batches:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            tick = time.perf_counter()
            logits = model(**batch).logits.float()
            if device.type == "cuda":
                torch.cuda.synchronize()
            forward += time.perf_counter() - tick
            probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    return probs, forward


def _bounded(pool: ThreadPoolExecutor, fn: Callable, items: Sequence, ahead: int) -> Iterator:
    """``pool.map`` that keeps at most ``ahead`` results waiting (``map`` submits everything at once)."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class Classifier:
    """A loaded model folder, ready to label turns.

    Args:
        model_dir: folder written by ``callscore train``.
        batch_size: turns per forward pass (GPU runs want 512 or more).
        threads: torch intra-op threads; 0 keeps torch's default (all cores).
        precision: one of ``pipeline.PRECISIONS``; ``int8`` (dynamic quantization) runs on the CPU only.
        device: ``cpu``/``cuda``; ``None`` picks CUDA when present.
        prefetch: CPU threads padding batches ahead of the device; ``None`` uses all but one core on a
            GPU and none on the CPU (where the forward pass itself wants every core).
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 64, threads: int = 0, precision: str = "fp32",
                 device: str | None = None, prefetch: int | None = None):
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
        elif self.device.type == "cuda" and precision in _HALF_DTYPES:
            self.model.to(dtype=_HALF_DTYPES[precision])  # faster than autocast on a GPU
        if prefetch is None:
            prefetch = max(1, (os.cpu_count() or 2) - 1) if self.device.type == "cuda" else 0
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.precision = precision
        self.use_context = bool(self.meta.get("use_context"))
        self.max_length = int(self.meta.get("max_length", 128))
        self.version = str(self.meta["version"])

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision in ("fp32", "int8") or self.device.type == "cuda":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_HALF_DTYPES[self.precision])

    def predict(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> Predictions:
        """Label every text; ``contexts`` are the customer turns before them (or None)."""
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        start = time.perf_counter()
        n = len(texts)
        enc = modeling.encode(self.tokenizer, [t or "" for t in texts],
                              None if contexts is None else [c or "" for c in contexts],
                              self.use_context, self.max_length) if n else {"input_ids": []}
        probs, forward = infer(self.model, self.tokenizer, enc, batch_size=self.batch_size, device=self.device,
                               autocast=self._autocast(), prefetch=self.prefetch)
        labels = [LABELS[i] for i in probs.argmax(axis=1)] if n else []
        seconds = time.perf_counter() - start
        if n:
            log.info("classified %d turns in %.2fs (%.0f turns/s, %s, %s)", n, seconds, n / max(seconds, 1e-9),
                     self.precision, self.device)
        return Predictions(labels=labels, probs=probs, seconds=seconds, forward_seconds=forward)
