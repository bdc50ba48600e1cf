"""The benchmark code paths run and compare like with like (tiny sizes; speed is not asserted, only that
the figures reported are the figures of what ran)."""

from __future__ import annotations

import pytest

from pipeline.devtools import bench


def test_classifier_bench_agrees_with_the_pipeline_baseline(model_dir):
    result = bench.bench_classifier(str(model_dir), n=96, precisions=("fp32", "bf16"), batch_size=16,
                                    f1_limit=40)
    rows = {r["path"].split(" (")[0]: r for r in result["rows"]}
    assert set(rows) == {"transformers.pipeline", "callscore fp32", "callscore bf16"}
    assert rows["callscore fp32"]["label_agreement"] == "100.00%"
    assert "vs_fp32" in rows["callscore bf16"]
    # the F1 it reports is the path's own on the held-out turns, computed again here
    from pipeline.model import corpus
    from pipeline.model.classify import Classifier
    from pipeline.model.evaluate import scores

    test = corpus.load_conversations(corpus.CORPUS_DIR / corpus.TEST_CONVERSATIONS).head(40)
    labels = Classifier(str(model_dir), batch_size=16, precision="fp32").predict(
        test["text"].tolist(), test["context"].tolist()).labels
    assert rows["callscore fp32"]["test_macro_f1"] == scores(test["label"].tolist(), labels)["macro_f1"]


def test_gpu_mode_runs_on_cpu_and_labels_everything(model_dir):
    row = bench.bench_gpu(str(model_dir), n=40, batch_size=16, precision="fp32", workers=2, device="cpu")["rows"][0]
    assert row["device"] == "cpu" and row["turns"] == 40 and row["prefetch_threads"] == 2
    assert 40 / row["turns_per_s"] == pytest.approx(row["seconds"], abs=0.006)  # the rate of the turns it ran


def test_the_pipeline_baseline_does_not_flood_the_terminal(model_dir, capfd):
    labels, _ = bench.pipeline_baseline(str(model_dir), ["How do you handle renewals today?"])
    assert len(labels) == 1
    err = capfd.readouterr().err
    assert "is not supported for text-classification" not in err and "Supported models are" not in err
