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


def _calibration(cal: dict) -> list[str]:
    if not cal:
        return []
    rows = ["| set | ECE before | ECE after |", "|---|---|---|"]
    rows += [f"| {name} | {v['ece_before']:.3f} | {v['ece_after']:.3f} |" for name, v in cal.items()
             if isinstance(v, dict)]
    return ["", "## Calibration",
            f"The `p_*` probabilities are calibrated by temperature scaling: logits are divided by "
            f"T = {cal['temperature']}, fitted on the dev split only (negative log-likelihood). Expected calibration "
            f"error of the top label ({cal['bins']} bins), fp32, before and after:", "", *rows, "",
            "Labels are unchanged by the temperature. `transformers.pipeline()` on this folder returns the "
            "uncalibrated softmax; divide the logits by T to get the same `p_*` as callscore."]


def _precisions(metrics: dict) -> list[str]:
    check = metrics.get("precision_check")
    if not check:
        return []
    names = list(next(iter(check.values())))
    rows = ["| precision | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    rows += [f"| {p} | " + " | ".join(f"{v[n]:.3f}" if n in v else "" for n in names) + " |"
             for p, v in check.items()]
    served = metrics.get("served_precision", {})
    return ["", "## Precision", "Macro-F1 of each inference precision on each set:", "", *rows, "",
            "`precision=auto` (the default) serves bf16 on CPUs with bf16 units (AVX-512 BF16 or AMX), int8 only "
            "where it is within 0.01 macro-F1 of fp32 on every set including the external one, else fp32. "
            f"On the training machine: {served.get('precision')} ({served.get('reason')})."]


def _long_turns(long: dict) -> list[str]:
    if not long:
        return []
    chosen = long["chosen_window_words"]
    body = []
    for words, res in long["by_window_words"].items():
        head = f"- pieces of at most {words} words: " if words != "0" else "- whole turn (truncated): "
        body.append(head + "; ".join(f"{name} macro-F1 {v['macro_f1']:.3f}" + (
            f" (over 40 words {v['over_40_words']:.3f})" if "over_40_words" in v else "") for name, v in res.items()))
    return ["", "## Long turns",
            ("Turns over " f"{chosen} words are labelled in pieces of at most {chosen} words (at sentence ends), "
             "and the turn takes the highest-precedence label of its pieces." if chosen else
             "Turns are read whole (the first max_length tokens)."),
            f"Chosen on {long['selected_on']}; fp32:", "", *body]


def _scores_section(title: str, scores: dict) -> list[str]:
    base = scores.get("baselines", {})
    out = ["", f"## {title} (macro-F1 {scores['macro_f1']:.3f}, accuracy {scores['accuracy']:.3f}, "
                f"{scores['precision']}, ECE {scores.get('ece', float('nan')):.3f})", _table(scores), "",
           _slices(scores), "", "Confusion matrix (rows true, columns predicted):", "", _confusion(scores)]
    if base:
        out += ["", "Baselines on the same turns: " + ", ".join(
            f"{name} macro-F1 {b['macro_f1']:.3f}" for name, b in base.items())
                + " (TF-IDF trained on the same training turns; keyword rules written from the guide)."]
    return out


def write_model_card(out: Path, meta: dict, metrics: dict) -> None:
    """Write the card from the folder's metadata and metrics (no hand-edited numbers)."""
    test, external, dev = metrics.get("test"), metrics.get("external"), metrics["dev"]
    parts = [
        f"# callscore utterance classifier `{meta['version']}`",
        "",
        "Labels each sales-rep turn of a B2B sales call as one of "
        + ", ".join(f"`{x}`" for x in LABELS)
        + ", as defined in the labeling guide (`docs/labeling-guide.md`), with the precedence "
        "trust_commitment > knowledge_probing > rapport > other.",
        "",
        "## Model",
        "- Architecture: standard `BertForSequenceClassification` (the `[CLS]` pooler and a linear layer). "
        "`AutoModelForSequenceClassification.from_pretrained(<this folder>)` and "
        "`transformers.pipeline(\"text-classification\", model=<this folder>, truncation=True)` load it exactly "
        "and give the same labels as `callscore predict` at fp32 (a test checks it).",
        f"- Backbone: {meta['backbone']}, fine-tuned end to end; input: the rep turn"
        + (" paired with the previous customer turn (last 32 words)" if meta["use_context"] else "")
        + f"; max {meta['max_length']} tokens.",
        f"- Training config: `{meta['config']}`; {meta['train_turns']} training turns, {meta['dev_turns']} dev turns "
        f"(a hash of each text puts about 10% in the dev split, used for epoch, temperature and long-turn choices); "
        f"{meta.get('train_seconds')} s on {meta['torch_threads']} CPU threads.",
        f"- Reviewed turns (the review loop, `callscore review import`) added to the training split only: "
        f"{meta.get('reviewed_turns', 0)}.",
        f"- Epochs: {meta['history']}",
        "",
        "## Data",
        f"- Training corpus (`models/corpus/train/`): label counts {metrics['corpus']['train']} (+ dev "
        f"{metrics['corpus']['dev']}). Hand-written rep turns from many industries and call types, clean and "
        "speech-recognition style, with every hard case of the guide, by several writers with separate briefs.",
    ]
    if test:
        parts.append(f"- Held-out test (`models/corpus/test/conversations.jsonl`): {test['n']} rep turns of whole "
                     f"conversations written apart from the training data; label counts {metrics['corpus']['test']}.")
    if external:
        parts.append(f"- External set (`models/corpus/external/`): {external['n']} rep turns of public sales-call "
                     "transcripts nobody on the project wrote, labelled blind by two passes and adjudicated; "
                     "evaluation only, never trained or tuned on.")
    parts += ["", "## Intended use",
              "Aggregate behaviour shares per rep and per call (scorecards). Not for judging a single turn or a "
              "single person without reading the transcript: one turn's label is a probability, not a verdict.",
              "", "## Limits",
              "- English B2B sales conversations only; trained on synthetic, hand-written turns, not real calls.",
              "- One label per turn: a long mixed turn gets the label of its strongest act (precedence rule).",
              "- On text written by other people it does markedly worse than on our own held-out conversations "
              "(see the external set below).",
              *_precisions(metrics), *_calibration(metrics.get("calibration", {})),
              *_long_turns(metrics.get("long_turns", {})),
              *_scores_section("Dev split", dev)]
    if test:
        parts += _scores_section("Held-out test", test)
    if external:
        parts += _scores_section("External set", external)
    (out / "MODEL_CARD.md").write_text("\n".join(parts) + "\n")
