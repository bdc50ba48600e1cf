"""MODEL_CARD.md: what a model folder is, what it was trained on, how well it does."""

from __future__ import annotations

from pathlib import Path

from pipeline import LABELS


def _table(scores: dict) -> str:
    rows = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label in LABELS:
        c = scores["per_class"][label]
        rows.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    return "\n".join(rows)


def _confusion(scores: dict) -> str:
    m = scores["confusion_matrix"]["rows_true_cols_pred"]
    rows = ["| true \\ predicted | " + " | ".join(LABELS) + " |", "|---" * (len(LABELS) + 1) + "|"]
    rows += [f"| {label} | " + " | ".join(str(v) for v in m[i]) + " |" for i, label in enumerate(LABELS)]
    return "\n".join(rows)


def _slices(scores: dict) -> str:
    parts = [f"{name.replace('_', ' ')}: macro-F1 {v['macro_f1']:.3f} on {v['n']} turns"
             for name, v in scores.get("slices", {}).items()]
    return ("Slices: " + "; ".join(parts) + ".") if parts else ""


def write_model_card(out: Path, meta: dict, metrics: dict) -> None:
    """Write the card from the folder's metadata and metrics (no hand-edited numbers)."""
    test = metrics.get("test")
    dev = metrics["dev"]
    parts = [
        f"# callscore utterance classifier `{meta['version']}`",
        "",
        "Labels each sales-rep turn of a B2B sales call as one of "
        + ", ".join(f"`{x}`" for x in LABELS)
        + ", as defined in the labeling guide (`docs/labeling-guide.md`), with the precedence "
        "trust_commitment > knowledge_probing > rapport > other.",
        "",
        "## Model",
        f"- Backbone: {meta['backbone']}, fine-tuned end to end; head: `{meta['head']}` pooling; input: the rep turn"
        + (" paired with the previous customer turn (last 32 words)" if meta["use_context"] else "")
        + f"; max {meta['max_length']} tokens.",
        f"- Training config: `{meta['config']}`; {meta['train_turns']} training turns, {meta['dev_turns']} dev turns "
        f"(stratified 10% for epoch selection); {meta['train_seconds']} s on {meta['torch_threads']} CPU threads.",
        f"- Epochs: {meta['history']}",
        "",
        "## Data",
        f"- Training corpus (`models/corpus/train/`): label counts {metrics['corpus']['train']} (+ dev "
        f"{metrics['corpus']['dev']}). Hand-written rep turns from many industries and call types, clean and "
        "speech-recognition style, with every hard case of the guide.",
    ]
    if test:
        parts.append(f"- Held-out test (`models/corpus/test/conversations.jsonl`): {test['n']} rep turns of whole "
                     f"conversations written apart from the training data; label counts {metrics['corpus']['test']}.")
    parts += ["", "## Intended use",
              "Aggregate behaviour shares per rep and per call (scorecards). Not for judging a single turn or a "
              "single person without reading the transcript: one turn's label is a probability, not a verdict.",
              "", "## Limits",
              "- English B2B sales conversations only; trained on synthetic, hand-written turns, not real calls.",
              "- One label per turn: a long mixed turn gets the label of its strongest act (precedence rule).",
              "- Context is only the previous customer turn: whether a short 'will do' answers a request depends on "
              "it.",
              "", f"## Dev split (macro-F1 {dev['macro_f1']:.3f}, accuracy {dev['accuracy']:.3f})", _table(dev)]
    if test:
        base = test.get("baselines", {})
        parts += ["", f"## Held-out test (macro-F1 {test['macro_f1']:.3f}, accuracy {test['accuracy']:.3f})",
                  _table(test), "", _slices(test), "", "Confusion matrix (rows true, columns predicted):", "",
                  _confusion(test), "",
                  "Baselines trained on the same training data: " + ", ".join(
                      f"{name} macro-F1 {b['macro_f1']:.3f}" for name, b in base.items())]
    (out / "MODEL_CARD.md").write_text("\n".join(parts) + "\n")
