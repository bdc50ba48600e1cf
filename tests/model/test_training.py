"""Training code on a tiny slice: the folder it writes, reproducibility and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pipeline.model import corpus, integrity
from pipeline.model.classify import Classifier
from pipeline.model.train import TrainConfig, model_version, promote_if_better, train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    """A few turns of every label from the real corpus, and two held-out conversations."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "train").mkdir()
    (root / "test").mkdir()
    turns = corpus.load_turns(corpus.train_files())
    picked = turns.groupby("label").head(15)
    with (root / "train" / "tiny.jsonl").open("w") as fh:
        for row in picked[["text", "label", "context"]].to_dict("records"):
            fh.write(json.dumps(row) + "\n")
    lines = (REPO / "models" / "corpus" / "test" / "conversations.jsonl").read_text().splitlines()[:2]
    (root / "test" / "conversations.jsonl").write_text("\n".join(lines) + "\n")
    return root


TINY = TrainConfig(epochs=1, batch_size=16, max_length=48, asr_augment=0.2)


def test_train_writes_a_self_describing_folder_reproducibly(tiny_corpus, tmp_path):
    first = train(TINY, tmp_path / "a", corpus_dir=tiny_corpus)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "callscore.json", "metrics.json",
                 "MODEL_CARD.md"):
        assert (first / name).is_file(), name
    meta = json.loads((first / "callscore.json").read_text())
    metrics = json.loads((first / "metrics.json").read_text())
    assert meta["version"] == metrics["version"] == model_version(TINY, corpus.fingerprint(
        corpus.train_files(tiny_corpus)))
    assert set(metrics["test"]["baselines"]) == {"majority", "keyword_rules", "tfidf_logreg"}
    assert metrics["calibration"]["temperature"] == meta["temperature"]
    assert meta["head"] == "cls" and set(metrics["precision_check"]) == {"fp32", "bf16", "int8"}
    assert set(integrity.verify(first)["files"]) >= {"model.safetensors", "metrics.json", "MODEL_CARD.md"}
    second = train(TINY, tmp_path / "b", corpus_dir=tiny_corpus)
    texts = ["How do you handle renewals today?", "I'll send it Friday.", "Mm-hmm."]
    a, b = Classifier(first).predict(texts), Classifier(second).predict(texts)
    assert a.labels == b.labels
    assert abs(a.probs - b.probs).max() < 1e-5


def test_version_changes_with_config_and_data():
    assert model_version(TINY, "abc") != model_version(TrainConfig(epochs=2), "abc")
    assert model_version(TINY, "abc") != model_version(TINY, "abd")


@pytest.mark.quality  # a model that always says "other" must score below the promoted one
def test_promotion_compares_on_the_same_validation_turns(model_dir, tmp_path):
    """The guard scores current and candidate on one validation set at their served precision."""
    import shutil

    from safetensors.torch import load_file, save_file

    good = tmp_path / "good"
    shutil.copytree(model_dir, good)
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    weights = load_file(str(broken / "model.safetensors"))
    weights["classifier.bias"] = torch.tensor([0.0, 0.0, 0.0, 50.0])  # always "other"
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    integrity.seal(broken)  # a differently trained folder, sealed as training seals it
    validation = corpus.load_turns(corpus.train_files()).groupby("label").head(5)
    link = tmp_path / "current"
    first = promote_if_better(good, link, validation=validation)
    assert first["promoted"] and first["previous"] is None and first["validation_turns"] == 20
    second = promote_if_better(broken, link, validation=validation)
    assert not second["promoted"] and link.resolve().name == "good"
    assert second["candidate_macro_f1"] < second["previous_macro_f1"]
    assert second["candidate_precision"] == second["previous_precision"]
    third = promote_if_better(good, link, validation=validation)
    assert third["promoted"] and (tmp_path / "broken").is_dir()


def test_refusals(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        TrainConfig(epochs=0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "label": "other"}\n{"text": "yo", "label": "smalltalk"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        corpus.load_turns([bad])
    with pytest.raises(FileNotFoundError, match="not a callscore model folder"):
        Classifier(tmp_path)
    with pytest.raises(FileNotFoundError, match="no training files"):
        train(TINY, tmp_path / "x", corpus_dir=tmp_path)


def test_promotion_measures_the_candidate_instead_of_reading_its_metrics(model_dir, tmp_path, monkeypatch):
    """A candidate whose (resealed) metrics.json overstates it gains nothing: macro-F1 is measured here, and
    the reduced precision its record allows is checked again against fp32 on the validation turns."""
    import shutil

    from pipeline.model import classify, evaluate

    cand = Path(shutil.copytree(model_dir, tmp_path / "cand"))
    metrics = json.loads((cand / "metrics.json").read_text())
    sets = list(metrics["precision_check"]["fp32"])
    # fp32 "scored" 0 and the reduced precisions 1 everywhere: with a bound of -1 below, the record makes
    # bf16 and int8 servable, which only a fresh measurement can refute.
    metrics["precision_check"] = {"fp32": dict.fromkeys(sets, 0.0), "bf16": dict.fromkeys(sets, 1.0),
                                  "int8": dict.fromkeys(sets, 1.0)}
    metrics["dev"]["macro_f1"] = 0.123
    (cand / "metrics.json").write_text(json.dumps(metrics))
    integrity.seal(cand)
    validation = corpus.load_turns(corpus.train_files()).groupby("label").head(5)
    measured = promote_if_better(cand, tmp_path / "a" / "current", validation=validation)
    assert measured["promoted"]
    assert measured["candidate_macro_f1"] == evaluate.evaluate_model(
        cand, validation, precision=measured["candidate_precision"])["macro_f1"] != 0.123
    monkeypatch.setattr(classify, "QUALITY_BOUND", -1.0)
    refused = promote_if_better(cand, tmp_path / "b" / "current", validation=validation)
    assert refused["candidate_precision"] in ("bf16", "int8") and not refused["promoted"]
    assert "below fp32 on validation" in refused["reason"] and not (tmp_path / "b" / "current").exists()
