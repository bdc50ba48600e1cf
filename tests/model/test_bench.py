"""The benchmark code paths run and compare like with like (tiny sizes; speed is not asserted)."""

from __future__ import annotations

from pipeline.devtools import bench


def test_classifier_bench_agrees_with_the_pipeline_baseline(model_dir):
    result = bench.bench_classifier(str(model_dir), n=96, precisions=("fp32", "bf16"), batch_size=16,
                                    f1_limit=40)
    rows = {r["path"].split(" (")[0]: r for r in result["rows"]}
    assert set(rows) == {"transformers.pipeline", "callscore fp32", "callscore bf16"}
    assert rows["callscore fp32"]["label_agreement"] == "100.00%"
    assert 0 < rows["callscore fp32"]["test_macro_f1"] <= 1
    assert "vs_fp32" in rows["callscore bf16"]


def test_gpu_mode_runs_on_cpu_and_labels_everything(model_dir):
    row = bench.bench_gpu(str(model_dir), n=40, batch_size=16, precision="fp32", workers=2, device="cpu")["rows"][0]
    assert row["device"] == "cpu" and row["turns"] == 40 and row["turns_per_s"] > 0


def test_the_pipeline_baseline_does_not_flood_the_terminal(model_dir, capfd):
    labels, _ = bench.pipeline_baseline(str(model_dir), ["How do you handle renewals today?"])
    assert len(labels) == 1
    err = capfd.readouterr().err
    assert "is not supported for text-classification" not in err and "Supported models are" not in err
