"""Behaviour of the trained model: minimum functionality, invariance and direction checks.

These sentences are written for the tests and appear in no corpus file.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline import LABELS
from pipeline.model.classify import Classifier

CLEAR = {
    "knowledge_probing": [
        "How do you approve purchase orders today, and who signs off above fifty thousand?",
        "Walk me through what happens when a shipment arrives damaged.",
        "What would it mean for your team if month-end close took three days instead of nine?",
        "So if I heard you right, the real bottleneck is the hand-off to finance. Is that fair?",
        "Who else will weigh in on this decision besides you and the CFO?",
    ],
    "rapport": [
        "Congratulations on the Series B, that's huge news for the whole team!",
        "Oh no, I'm so sorry to hear your son is sick, I hope he feels better soon.",
        "Enjoy the long weekend, and good luck at the marathon on Sunday!",
        "Ha, spreadsheets really are the true operating system of every company.",
        "It's so good to see you again, how was the trip to Lisbon with the kids?",
    ],
    "trust_commitment": [
        "I'll send you the security questionnaire answers by Friday noon.",
        "A hospital group your size cut no-shows by eighteen percent in the first quarter with us.",
        "We'll have your whole team live within thirty days of kickoff, and I'll personally own the rollout.",
        "If anything breaks, you call me directly. I own this.",
        "As promised, here's the ROI model we discussed last week.",
    ],
    "other": [
        "Can you see my screen okay?",
        "The dashboard has twelve widgets and you can drag them around.",
        "The list price is forty dollars per seat per month.",
        "Mm-hmm.",
        "Does that make sense so far?",
    ],
}

ASR_REWRITES = [
    ("How do you handle renewals today?", "so um how do you how do you handle renewals today"),
    ("I'll send the revised proposal by Thursday.", "yeah i'll send the uh revised proposal by thursday"),
    ("Congrats on the new office, it looks amazing!", "oh congrats on the new office it looks amazing"),
    ("Let me share my screen so you can see the report builder.",
     "let me just uh share my screen so you can see the report builder"),
]


@pytest.fixture(scope="module")
def clf(model_dir):
    return Classifier(model_dir, batch_size=16)


@pytest.mark.quality  # the promoted model's labels (make test-all)
@pytest.mark.parametrize(("label", "text"), [(k, t) for k, v in CLEAR.items() for t in v])
def test_clear_examples(clf, label, text):
    assert clf.predict([text]).labels == [label]


@pytest.mark.quality  # the promoted model's labels (make test-all)
@pytest.mark.parametrize(("clean", "asr"), ASR_REWRITES)
def test_asr_rewrite_keeps_the_label(clf, clean, asr):
    assert clf.predict([clean]).labels == clf.predict([asr]).labels


@pytest.mark.quality  # the promoted model's labels (make test-all)
@pytest.mark.parametrize("question", [
    pytest.param("How are you onboarding new hires at the moment?", marks=pytest.mark.xfail(
        strict=True, reason="known weakness of the default model (issue 13): after small talk, 'How are you "
        "...' reads as a greeting (rapport 0.89). A model trained with twice the precedence augmentation "
        "passes it but scored lower on the validation split at the served precision, so it was not chosen")),
    "what does your current approval process look like",
    "Who signs off on new tools at your company?",
])
def test_small_talk_before_a_discovery_question_keeps_probing(clf, question):
    small_talk = "Great to catch you again, hope the weekend was relaxing and the weather held up. "
    assert clf.predict([question]).labels == ["knowledge_probing"]
    assert clf.predict([small_talk + question]).labels == ["knowledge_probing"]


@pytest.mark.quality  # the promoted model's labels (make test-all)
@pytest.mark.parametrize(("text", "label"), [
    ("We'll see what we can do on that.", "other"),          # a hedge commits to nothing
    ("Should I follow up with you next week?", "other"),     # an offer phrased as a question
    ("I'll send the calendar invite for Tuesday.", "trust_commitment"),
    ("We'll have your warehouse team live two weeks after kickoff.", "trust_commitment"),
    ("Did you end up opening the second distribution center?", "knowledge_probing"),
])
def test_guide_edge_cases(clf, text, label):
    assert clf.predict([text], ["Can you send me the contract by Friday?"]).labels == [label]


def test_batching_does_not_change_results(clf, model_dir):
    texts = [t for v in CLEAR.values() for t in v]
    batched = clf.predict(texts)
    single = Classifier(model_dir, batch_size=1).predict(texts)
    assert batched.labels == single.labels
    np.testing.assert_allclose(batched.probs, single.probs, atol=1e-4)
    np.testing.assert_allclose(batched.probs.sum(axis=1), 1, atol=1e-5)


def test_predict_cli_speaks_jsonl(model_dir):
    lines = [{"text": "So how do you handle renewals today?", "keep": 1},
             {"text": "I'll send the proposal by Friday.", "context": "Can you send pricing?"}]
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "predict", "--model", str(model_dir)],
                         input="\n".join(json.dumps(x) for x in lines), capture_output=True, text=True, check=True)
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r.get("keep") for r in rows] == [1, None]
    assert all(r["label"] in LABELS and abs(sum(r["probs"].values()) - 1) < 1e-4 for r in rows)


def test_predict_cli_refuses_bad_input(model_dir):
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "predict", "--model", str(model_dir)],
                         input="not json\n", capture_output=True, text=True)
    assert out.returncode != 0 and "line 1" in out.stderr


@pytest.mark.parametrize("text", ["", "   "])
def test_predict_cli_refuses_empty_text_instead_of_guessing(model_dir, text):
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "predict", "--model", str(model_dir)],
                         input=json.dumps({"text": "ok"}) + "\n" + json.dumps({"text": text}) + "\n",
                         capture_output=True, text=True)
    assert out.returncode != 0 and out.stdout == ""
    assert "line 2" in out.stderr and "empty" in out.stderr


def test_model_folder_describes_itself(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(4)] == list(LABELS)
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert {"dev", "test"} <= set(metrics) and "baselines" in metrics["test"]
    assert (model_dir / "MODEL_CARD.md").read_text().count("|") > 20
    assert (model_dir / "model.safetensors").is_file()


def test_evaluate_cli_reports_model_and_baselines(model_dir, tmp_path):
    data = tmp_path / "turns.jsonl"
    data.write_text("\n".join(json.dumps({"text": t, "label": k}) for k, v in CLEAR.items() for t in v) + "\n")
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "evaluate", "--model", str(model_dir), "--data",
                          str(data)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "baselines"} <= set(result)
    assert set(result["baselines"]) == {"majority", "keyword_rules", "tfidf_logreg"}
    assert sum(map(sum, result["confusion_matrix"]["rows_true_cols_pred"])) == 20
