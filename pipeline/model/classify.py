"""Batched inference: the one loop that labels turns, for nightly runs, training and benchmarks.

Throughput comes from four habits: tokenize everything once with the fast
tokenizer, run batches sorted by length so padding is small (dynamic padding),
run under ``torch.inference_mode``, and on a GPU pad the next batches into pinned
memory on CPU threads while the current one runs. bf16 autocast uses the CPU's
AVX-512 BF16 units; on a GPU the weights are cast to fp16/bf16 outright.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline import AUTO, LABELS, PRECEDENCE, PRECISIONS
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
          prefetch: int = 0, temperature: float = 1.0) -> tuple[np.ndarray, float]:
    """Softmax probabilities for already-tokenized turns, and the seconds spent in forward passes.

    ``temperature`` divides the logits first (calibration fitted on the dev split); it never
    changes which label wins.

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
            probs[idx] = torch.softmax(logits / temperature, dim=-1).cpu().numpy()
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


QUALITY_BOUND = 0.01
"""The most macro-F1 a reduced precision may lose against fp32 on any evaluation set to be served."""

_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is missing, e.g. macOS)."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def eligible_precisions(quality: dict | None) -> set[str]:
    """Precisions whose recorded macro-F1 is within ``QUALITY_BOUND`` of fp32 on every set measured.

    ``quality`` is the ``precision_check`` block of a folder's ``metrics.json``: per precision, the
    macro-F1 on each evaluation set. int8 must also have been measured on the external set (text
    nobody here wrote, where it lost most): without that measurement it is not served by default.
    """
    if not quality or "fp32" not in quality:
        return {"fp32"}
    out = {"fp32"}
    for precision, sets in quality.items():
        if precision == "fp32" or not sets:
            continue
        if precision == "int8" and "external" not in sets:
            continue
        if all(sets[name] >= quality["fp32"].get(name, 0.0) - QUALITY_BOUND for name in sets):
            out.add(precision)
    return out


def choose_precision(quality: dict | None, device: torch.device, flags: set[str] | None = None) -> tuple[str, str]:
    """The default precision for this machine, and why: quality first, then speed.

    On a CPU: bf16 when the CPU has bf16 units (AVX-512 BF16 or AMX; emulated bf16 is slower than
    fp32) and bf16 met the bound; else int8 when it met the bound on every set, the external one
    included; else fp32. On a GPU: bf16 when supported and within the bound, else fp32.
    """
    ok = eligible_precisions(quality)
    if device.type == "cuda":
        if "bf16" in ok and torch.cuda.is_bf16_supported():
            return "bf16", "GPU supports bf16 and bf16 is within the quality bound"
        return "fp32", "bf16 not supported or not within the quality bound on this model"
    flags = cpu_flags() if flags is None else flags
    hw = sorted(flags & set(_CPU_BF16_FLAGS))
    if hw and "bf16" in ok:
        return "bf16", f"CPU has {'/'.join(hw)} and bf16 is within {QUALITY_BOUND} macro-F1 of fp32"
    if "int8" in ok:
        return "int8", f"no bf16 units; int8 is within {QUALITY_BOUND} macro-F1 of fp32 on every set"
    reason = "no bf16 units on this CPU" if not hw else "bf16 exceeds the quality bound on this model"
    return "fp32", reason + "; int8 not shown to be within the bound on every set"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_windows(text: str, max_words: int) -> list[str]:
    """Cut a long turn into consecutive pieces of at most ``max_words`` words, at sentence ends if any.

    Sentences are packed greedily; a sentence (or unpunctuated speech-recognition run) longer than
    ``max_words`` is cut into ``max_words``-word pieces.
    """
    if max_words < 1:
        raise ValueError("max_words must be >= 1")
    pieces: list[list[str]] = [[]]
    for sentence in _SENTENCE_END.split(text.strip()):
        words = sentence.split()
        while len(words) > max_words:
            pieces.append(words[:max_words])
            words = words[max_words:]
        if len(pieces[-1]) + len(words) > max_words:
            pieces.append([])
        pieces[-1].extend(words)
    return [" ".join(p) for p in pieces if p]


def combine_windows(probs: np.ndarray) -> tuple[str, np.ndarray]:
    """One label for a turn from its pieces' probabilities, by the guide's precedence.

    The turn takes the highest-precedence label that some piece predicts, and the probabilities of
    the piece most confident in it (so ``p_*`` still sum to one and describe a real input).
    """
    winners = probs.argmax(axis=1)
    for label in PRECEDENCE:
        k = LABELS.index(label)
        rows = np.flatnonzero(winners == k)
        if len(rows):
            best = rows[probs[rows, k].argmax()]
            return label, probs[best]
    raise ValueError("no pieces to combine")


class Classifier:
    """A loaded model folder, ready to label turns.

    Args:
        model_dir: folder written by ``callscore train``.
        batch_size: turns per forward pass (GPU runs want 512 or more).
        threads: torch intra-op threads; 0 keeps torch's default (all cores).
        precision: one of ``pipeline.PRECISIONS``; ``int8`` (dynamic quantization) runs on the CPU only;
            ``auto`` picks one for this machine from the folder's recorded quality (``choose_precision``).
        device: ``cpu``/``cuda``; ``None`` picks CUDA when present.
        prefetch: CPU threads padding batches ahead of the device; ``None`` uses all but one core on a
            GPU and none on the CPU (where the forward pass itself wants every core).
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 64, threads: int = 0, precision: str = "fp32",
                 device: str | None = None, prefetch: int | None = None, verify: bool = True,
                 meta_sha256: str | None = None):
        if precision not in (*PRECISIONS, AUTO):
            raise ValueError(f"precision must be one of {(*PRECISIONS, AUTO)}, got {precision!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        modeling.set_threads(threads)
        self.device = pick_device(device)
        self.model, self.tokenizer, self.meta = modeling.load(model_dir, verify=verify, meta_sha256=meta_sha256)
        self.precision_reason = "requested"
        if precision == AUTO:
            precision, self.precision_reason = choose_precision(_quality(model_dir), self.device)
            log.info("precision %s chosen for this machine: %s", precision, self.precision_reason)
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
        self.temperature = float(self.meta.get("temperature", 1.0))
        self.window_words = int(self.meta.get("window_words", 0))  # 0: long turns are truncated
        self.version = str(self.meta["version"])

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision in ("fp32", "int8") or self.device.type == "cuda":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_HALF_DTYPES[self.precision])

    def predict(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None) -> Predictions:
        """Label every text; ``contexts`` are the customer turns before them (or None).

        When the folder sets ``window_words``, a turn longer than that is labelled in pieces
        (``split_windows``) combined by the guide's precedence (``combine_windows``); shorter turns,
        nearly all of them, are one forward pass each, exactly as ``transformers.pipeline`` runs them.
        """
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        start = time.perf_counter()
        n = len(texts)
        texts = [t or "" for t in texts]
        ctx = None if contexts is None else [c or "" for c in contexts]
        counts = [1] * n  # pieces per turn, in order
        if self.window_words:
            pieces, pctx = [], []
            for i, text in enumerate(texts):
                parts = split_windows(text, self.window_words) if len(text.split()) > self.window_words else [text]
                pieces.extend(parts)
                counts[i] = len(parts)
                pctx.extend([ctx[i] if ctx else ""] * len(parts))
            texts, ctx = pieces, (pctx if contexts is not None else None)
        enc = modeling.encode(self.tokenizer, texts, ctx, self.use_context, self.max_length) if texts else {
            "input_ids": []}
        piece_probs, forward = infer(self.model, self.tokenizer, enc, batch_size=self.batch_size,
                                     device=self.device, autocast=self._autocast(), prefetch=self.prefetch,
                                     temperature=self.temperature)
        if len(texts) == n:
            probs = piece_probs
            labels = [LABELS[i] for i in probs.argmax(axis=1)] if n else []
        else:
            combined = [combine_windows(part) for part in np.split(piece_probs, np.cumsum(counts)[:-1])]
            labels = [label for label, _ in combined]
            probs = np.stack([p for _, p in combined]).astype(np.float32)
        seconds = time.perf_counter() - start
        if n:
            log.info("classified %d turns in %.2fs (%.0f turns/s, %s, %s)", n, seconds, n / max(seconds, 1e-9),
                     self.precision, self.device)
        return Predictions(labels=labels, probs=probs, seconds=seconds, forward_seconds=forward)


def _quality(model_dir: str | Path) -> dict | None:
    """The ``precision_check`` a folder's metrics.json recorded at training time (None for old folders)."""
    path = Path(model_dir) / "metrics.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("precision_check")


def resolve_model(model_dir: str | Path, precision: str = AUTO, device: str | None = None) -> dict[str, str]:
    """Pin a run's model before any task loads it: the real folder, its version and the precision.

    ``models/artifacts/current`` is a link that promotion swaps, so each task resolving it
    for itself could mix two models in one day; the run resolves it once (at plan time) and
    every task loads exactly this folder at exactly this precision. The folder is verified
    against its recorded checksums here (a fraction of a second for MiniLM), and the pin carries
    the sha256 of ``callscore.json`` so each task refuses a folder resealed since.

    Raises:
        ModelIntegrityError: the folder does not match its record.
    """
    from pipeline.model import integrity

    folder = Path(model_dir).resolve()
    meta = integrity.verify(folder)
    reason = "requested"
    if precision == AUTO:
        precision, reason = choose_precision(_quality(folder), pick_device(device))
    elif precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {(*PRECISIONS, AUTO)}, got {precision!r}")
    return {"path": str(folder), "version": str(meta["version"]), "precision": precision, "precision_reason": reason,
            "meta_sha256": integrity.meta_digest(folder)}
