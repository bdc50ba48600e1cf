"""Benchmarks: classifier throughput against ``transformers.pipeline``, and whole days end to end.

Every figure is a ratio against a baseline measured in the same process (or the
same command), so results compare across machines. Each benchmark prints a table
and the command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from pipeline.model import corpus

log = logging.getLogger(__name__)

CALLS_PER_REP = 8  # a rep's calls in a day: real teams, not eight reps with a thousand calls each
STEPS = ("plan", "classify", "build", "validate", "publish")  # run_day's steps, timed in its summary


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = [" | ".join(c.ljust(widths[c]) for c in columns), "-+-".join("-" * widths[c] for c in columns)]
    lines += [" | ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def pipeline_baseline(model_dir: str, texts: list[str]) -> tuple[list[str], float]:
    """``transformers.pipeline("text-classification")`` on the folder itself, with its defaults, fp32.

    The folder is a standard one, so this is what anyone picking it up with stock tools gets.
    """
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(model_dir), device="cpu", truncation=True)
    start = time.perf_counter()
    out = clf(texts)
    return [o["label"] for o in out], time.perf_counter() - start


def bench_classifier(model_dir: str, n: int = 20_000, precisions: tuple[str, ...] = ("fp32", "bf16", "int8"),
                     threads: int = 0, batch_size: int = 64, baseline: bool = True, seed: int = 7,
                     f1_limit: int | None = None) -> dict:
    """Turns/s of each inference option on ``n`` sample rep turns, agreement with the baseline, F1."""
    import torch

    from pipeline.devtools import sample
    from pipeline.model.classify import Classifier
    from pipeline.model.evaluate import scores

    if threads:
        torch.set_num_threads(threads)
    texts = sample.sample_rep_turns(n, seed=seed)
    test = corpus.load_conversations(corpus.CORPUS_DIR / corpus.TEST_CONVERSATIONS)
    if f1_limit:
        test = test.head(f1_limit)
    rows: list[dict] = []
    base_labels, base_rate = None, None
    if baseline:
        base_labels, seconds = pipeline_baseline(model_dir, texts)
        base_rate = n / seconds
        rows.append({"path": "transformers.pipeline (defaults, fp32)", "turns_per_s": round(base_rate, 1),
                     "vs_pipeline": "1.00x", "seconds": round(seconds, 1)})
    fp32_rate = None
    for precision in precisions:
        clf = Classifier(model_dir, batch_size=batch_size, precision=precision)
        clf.predict(texts[:256])  # warm-up: first-call allocations, oneDNN kernel selection
        preds = clf.predict(texts)
        rate = n / preds.seconds
        fp32_rate = rate if precision == "fp32" else fp32_rate
        f1 = scores(test["label"].tolist(), clf.predict(test["text"].tolist(), test["context"].tolist()).labels)
        row = {"path": f"callscore {precision} (sorted, dynamic padding, batch {batch_size})",
               "turns_per_s": round(rate, 1), "seconds": round(preds.seconds, 1),
               "forward_share": f"{preds.forward_seconds / preds.seconds:.0%}", "test_macro_f1": f1["macro_f1"]}
        if base_rate:
            row["vs_pipeline"] = f"{rate / base_rate:.2f}x"
            row["label_agreement"] = f"{sum(a == b for a, b in zip(base_labels, preds.labels, strict=True)) / n:.2%}"
        if fp32_rate and precision != "fp32":
            row["vs_fp32"] = f"{rate / fp32_rate:.2f}x"
        rows.append(row)
    return {"n": n, "threads": torch.get_num_threads(), "model": str(model_dir), "rows": rows}


def bench_gpu(model_dir: str, n: int = 200_000, batch_size: int = 1024, precision: str = "fp16",
              workers: int = 0, device: str | None = None, seed: int = 7) -> dict:
    """End-to-end turns/s through the production ``Classifier``, tokenization included.

    The classifier sorts turns by length, cuts them into large batches and, on a GPU,
    pads upcoming batches into pinned memory on CPU threads while the device runs the
    current one. Runs on the CPU too (for tests), where it is not meant to be fast.
    """
    import torch

    from pipeline.devtools import sample
    from pipeline.model.classify import Classifier

    clf = Classifier(model_dir, batch_size=batch_size, precision=precision, device=device,
                     prefetch=workers or None)
    texts = sample.sample_rep_turns(n, seed=seed)
    preds = clf.predict(texts)
    dev = clf.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    return {"rows": [{"device": name, "precision": precision, "turns": n, "batch_size": batch_size,
                      "prefetch_threads": clf.prefetch, "seconds": round(preds.seconds, 2),
                      "turns_per_s": round(n / preds.seconds, 1),
                      "forward_share": f"{preds.forward_seconds / preds.seconds:.0%}"}]}


def _run_day_subprocess(landing: str, warehouse: str, day: str, model_dir: str, env: dict) -> dict:
    """One ``callscore run`` in a fresh process, so its peak RSS is its own."""
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--landing", landing, "--warehouse", warehouse,
           "--date", day, "--model", model_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    if out.returncode != 0:
        raise RuntimeError(f"callscore run failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def bench_end_to_end(model_dir: str, sizes: tuple[int, ...] = (500, 2000), workdir: str | None = None,
                     precision: str = "fp32", seed: int = 11) -> dict:
    """Wall time, rep turns/s, share outside the forward pass and peak RSS for synthetic days."""
    from pipeline.devtools import sample

    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for i, size in enumerate(sizes):
            day = date(2026, 10, 1 + i)
            landing, warehouse = Path(tmp) / f"landing-{size}", Path(tmp) / f"warehouse-{size}"
            sample.write_sample(str(landing), [day], size, seed=seed, calls_per_rep=CALLS_PER_REP)
            result = _run_day_subprocess(str(landing), str(warehouse), day.isoformat(), model_dir,
                                         {"CALLSCORE_PRECISION": precision,
                                          "CALLSCORE_DATA_DOCS": str(Path(tmp) / "docs")})
            rows.append({"calls": size, "rep_turns": result["rep_turns"], "wall_s": result["seconds"],
                         "rep_turns_per_s": result["rep_turns_per_s"],
                         "outside_forward": f"{result['outside_forward_share']:.1%}",
                         "peak_rss_mb": result["peak_rss_mb"], "precision": precision,
                         **{f"{step}_s": sec for step, sec in result.get("step_seconds", {}).items()}})
    return {"rows": rows}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callscore bench", description="Benchmarks; each prints a table, the command that reproduces it and "
        "the JSON result. Ratios are against a baseline run in the same process.")
    parser.add_argument("which", choices=["classifier", "e2e", "gpu"],
                        help="classifier: turns/s per precision vs transformers.pipeline(); e2e: whole synthetic "
                        "days through `callscore run`; gpu: the production classifier on a GPU (runs on the CPU too)")
    parser.add_argument("--model", default=None, help="model folder (default: the promoted model)")
    parser.add_argument("--n", type=int, default=20_000, help="turns to label (classifier, gpu)")
    parser.add_argument("--precisions", default="fp32,bf16,int8", help="comma-separated precisions (classifier)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the transformers.pipeline() baseline")
    parser.add_argument("--sizes", default="500,2000", help="comma-separated calls per day (e2e)")
    parser.add_argument("--precision", default="fp32", help="precision for e2e; for gpu fp16 unless bf16 is given")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.settings import Settings

    model = args.model or Settings.load().model
    if args.which == "classifier":
        result = bench_classifier(model, args.n, tuple(args.precisions.split(",")), args.threads,
                                  baseline=not args.no_baseline)
        cols = ["path", "turns_per_s", "vs_pipeline", "vs_fp32", "label_agreement", "forward_share",
                "test_macro_f1", "seconds"]
        cmd = f"callscore bench classifier --n {args.n} --precisions {args.precisions}"
    elif args.which == "gpu":
        result = bench_gpu(model, n=args.n, precision=args.precision if args.precision != "fp32" else "fp16")
        cols = ["device", "precision", "turns", "batch_size", "prefetch_threads", "seconds", "turns_per_s",
                "forward_share"]
        cmd = f"callscore bench gpu --n {args.n}"
    else:
        result = bench_end_to_end(model, tuple(int(x) for x in args.sizes.split(",")), precision=args.precision)
        cols = ["calls", "rep_turns", "wall_s", "rep_turns_per_s", "outside_forward", "peak_rss_mb", "precision",
                *(f"{step}_s" for step in STEPS)]
        cmd = f"callscore bench e2e --sizes {args.sizes} --precision {args.precision}"
    print(_table(result["rows"], cols))
    print(f"\nreproduce: {cmd}   ({os.cpu_count()} CPUs visible)")
    print(json.dumps(result))
    return 0
