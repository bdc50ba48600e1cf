"""The review loop end to end: queue, export, a scripted reviewer, import, retrain, the promotion guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.cli import main
from pipeline.model import corpus
from pipeline.model.classify import Classifier
from pipeline.model.train import TrainConfig, promote, promote_if_better, train
from pipeline.review import reviewed_examples
from pipeline.schemas import PROB_COLUMNS
from pipeline.scoring.metrics import ReviewConfig
from pipeline.scoring.review import review_candidates, select_queue
from pipeline.warehouse import commit, layout

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-24"
TINY = TrainConfig(epochs=1, batch_size=16, max_length=48, asr_augment=0.2)


@pytest.fixture(scope="module")
def pools(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A tiny training corpus (15 turns per label) and other corpus turns to play the night's calls."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "train").mkdir()
    (root / "test").mkdir()
    turns = corpus.load_turns(corpus.train_files())
    ranked = turns.assign(n=turns.groupby("label").cumcount())
    with (root / "train" / "tiny.jsonl").open("w") as fh:
        for row in ranked.loc[ranked["n"] < 15, ["text", "label", "context"]].to_dict("records"):
            fh.write(json.dumps(row) + "\n")
    lines = (REPO / "models" / "corpus" / "test" / "conversations.jsonl").read_text().splitlines()[:2]
    (root / "test" / "conversations.jsonl").write_text("\n".join(lines) + "\n")
    night = ranked[(ranked["n"] >= 15) & (ranked["n"] < 27)].sample(frac=1.0, random_state=5).reset_index(drop=True)
    return root, night


def _night_turns(night: pd.DataFrame, model: Path) -> pd.DataFrame:
    """Six calls of eight rep turns, each after its customer turn, labelled by ``model`` as a nightly run would."""
    preds = Classifier(model, precision="fp32").predict(night["text"].tolist(), night["context"].tolist())
    rows = []
    for i, turn in night.iterrows():
        call, k = f"call-{i % 6}", i // 6
        rows.append({"call_id": call, "utterance_index": 2 * k, "speaker_role": "customer", "rep_id": "rep-a",
                     "text": turn["context"] or "okay", "label": None, **dict.fromkeys(PROB_COLUMNS, np.nan)})
        rows.append({"call_id": call, "utterance_index": 2 * k + 1, "speaker_role": "rep", "rep_id": "rep-a",
                     "text": turn["text"], "label": preds.labels[i],
                     **{c: float(p) for c, p in zip(PROB_COLUMNS, preds.probs[i], strict=True)}})
    frame = pd.DataFrame(rows).sort_values(["call_id", "utterance_index"], kind="stable").reset_index(drop=True)
    frame["word_count"] = frame["text"].str.split().str.len().astype("int32")
    frame["model_version"] = "tiny"
    frame["run_id"] = "run-1"
    return frame


def _publish_queue(warehouse: str, queue: pd.DataFrame) -> None:
    """Publish the day's review_queue as the commit protocol does: a versioned file named by the day's record."""
    url = commit.version_url(warehouse, "review_queue", DAY, "run-1")
    rows = layout.write_frame(queue, "review_queue", url)
    commit.write_record(warehouse, DAY, {"day": DAY, "run_id": "run-1", "version": "run-1", "complete": True,
                                         "tables": {"review_queue": {"file": url, "rows": rows}}})


@pytest.mark.slow
def test_review_loop_export_label_import_retrain_and_guard(pools, model_dir, tmp_path, capsys):
    corpus_dir, night = pools
    warehouse = str(tmp_path / "warehouse")
    cfg = ReviewConfig(max_per_day=40, control_share=0.1, min_words=1)
    turns = _night_turns(night, model_dir)
    queue = select_queue(pd.concat([review_candidates(turns[turns["call_id"] <= "call-2"], cfg, DAY),
                                    review_candidates(turns[turns["call_id"] > "call-2"], cfg, DAY)]), cfg)
    assert 0 < len(queue) <= 40 and set(queue["stratum"]) == {"low_margin", "control"}
    _publish_queue(warehouse, queue)

    exported = tmp_path / "queue.jsonl"
    assert main(["review", "export", "--since", DAY, "--out", str(exported), "--warehouse", warehouse]) == 0
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(rows) == len(queue) and all(r["label"] == "" and r["reviewer"] == "" for r in rows)
    capsys.readouterr()

    # the scripted reviewer: the corpus's gold label, except two confident, correct predictions flipped to the
    # label the model found least likely (the mistakes the label-issue check is there to catch)
    gold = dict(zip(night["text"], night["label"], strict=True))
    counts = pd.Series([gold[r["text"]] for r in rows]).value_counts()
    confident = sorted((r for r in rows if gold[r["text"]] == r["predicted_label"]
                        and counts[r["predicted_label"]] >= 5), key=lambda r: -max(r["probs"].values()))
    flipped = {(r["call_id"], r["utterance_index"]) for r in confident[:2]}
    for r in rows:
        r["label"] = gold[r["text"]]
        if (r["call_id"], r["utterance_index"]) in flipped:
            r["label"] = min((k for k in LABELS if counts.get(k, 0) >= 5), key=lambda k: r["probs"][k])
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["review", "import", str(labelled), "--reviewer", "script", "--warehouse", warehouse]) == 0
    summary = json.loads(capsys.readouterr().out)
    flagged = {(s["call_id"], s["utterance_index"]) for s in summary["suspicious"]}
    assert len(flipped) == 2 and summary["rejected"] == []
    sure = {(r["call_id"], r["utterance_index"]) for r in rows if (r["call_id"], r["utterance_index"]) in flipped
            and max(r["probs"].values()) - r["probs"][r["label"]] >= 0.5}
    # the quick tier's stand-in model is near uniform and accuses nobody; a real model is sure of these two
    assert sure <= flagged, (sure, summary["suspicious"])
    reviewed = reviewed_examples(warehouse)
    assert len(reviewed) == summary["accepted"] == len(rows) - len(flagged) > 0
    assert not flagged & {(e["call_id"], e["utterance_index"]) for e in reviewed}
    assert main(["review", "export", "--since", DAY, "--out", str(exported), "--warehouse", warehouse]) == 0
    assert len(exported.read_text().splitlines()) == len(flagged)  # reviewed turns are not asked again

    candidate = train(TINY, tmp_path / "candidate", corpus_dir=corpus_dir, reviewed=reviewed)
    metrics = json.loads((candidate / "metrics.json").read_text())
    assert metrics["reviewed"]["turns"] + metrics["reviewed"]["left_out_in_evaluation_sets"] == len(reviewed)
    assert metrics["reviewed"]["turns"] > 0
    assert json.loads((candidate / "callscore.json").read_text())["reviewed_turns"] == metrics["reviewed"]["turns"]
    validation = corpus.validation_split(corpus_dir)
    assert len(validation) and not set(validation["text"]) & {e["text"] for e in reviewed}

    link = tmp_path / "artifacts" / "current"
    promote(model_dir, link)
    decision = promote_if_better(candidate, link, validation=validation)
    assert decision["promoted"] in (True, False) and decision["validation_turns"] == len(validation)
    assert link.resolve() == (candidate.resolve() if decision["promoted"] else model_dir.resolve())
