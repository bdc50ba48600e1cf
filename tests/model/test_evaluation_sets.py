"""The evaluation sets and slices: the external set's committed labels, its loader, and slice scores."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.model import corpus, evaluate

EXTERNAL = corpus.CORPUS_DIR / corpus.EXTERNAL


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_external_gold_is_complete_consistent_and_text_free():
    gold = _jsonl(EXTERNAL / "gold.jsonl")
    ids = [g["id"] for g in gold]
    assert len(ids) == len(set(ids)) >= 300
    assert {g["label"] for g in gold} <= set(LABELS) and all(set(g) == {"id", "label"} for g in gold)
    sources = {s["source_id"] for s in json.loads((EXTERNAL / "sources.json").read_text())}
    assert {i.split(":")[0] for i in ids} <= sources and len(sources) >= 3
    assert len({i.rsplit(":", 1)[0] for i in ids}) >= 10  # calls
    for name in ("labels_a.jsonl", "labels_b.jsonl"):  # both passes label every gold turn, and hold no text
        passes = _jsonl(EXTERNAL / name)
        assert [p["id"] for p in passes] == ids and all("text" not in p for p in passes)
    a, b = (dict((p["id"], p["label"]) for p in _jsonl(EXTERNAL / n)) for n in ("labels_a.jsonl", "labels_b.jsonl"))
    disagreements = {i for i in ids if a[i] != b[i]}
    adjudicated = {row["id"]: row["gold"] for row in _jsonl(EXTERNAL / "adjudication.jsonl")}
    assert set(adjudicated) == disagreements
    assert all(g["label"] == (adjudicated[g["id"]] if g["id"] in adjudicated else a[g["id"]]) for g in gold)


def test_no_third_party_text_is_tracked_or_trackable():
    repo = corpus.CORPUS_DIR.parent.parent
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", str(EXTERNAL)], cwd=repo, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [t for t in tracked if t.endswith(("turns.jsonl", "calls.jsonl")) or "/raw/" in t]
    rebuilt = [str((EXTERNAL / name).relative_to(repo)) for name in ("turns.jsonl", "calls.jsonl", "raw/x.md")]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *rebuilt], cwd=repo, capture_output=True,
                             text=True).stdout.split()
    assert ignored == rebuilt, "the rebuilt third-party texts must be git-ignored"


def _fake_external(folder: Path, texts: dict[str, str]) -> None:
    folder.mkdir()
    (folder / "gold.jsonl").write_text("".join(json.dumps({"id": i, "label": label}) + "\n" for i, label in
                                               [("s:0:1", "knowledge_probing"), ("s:0:3", "other")]))
    (folder / "turns.jsonl").write_text("".join(json.dumps({"id": i, "source_id": "s", "call_id": "s:0", "text": t,
                                                            "context": "hm"}) + "\n" for i, t in texts.items()))


def test_load_external_joins_texts_and_gold(tmp_path):
    _fake_external(tmp_path / "ext", {"s:0:1": "How do you run renewals?", "s:0:3": "Okay.", "s:0:5": "extra"})
    frame = corpus.load_external(tmp_path / "ext")
    assert frame[["id", "label", "text", "context"]].values.tolist() == [
        ["s:0:1", "knowledge_probing", "How do you run renewals?", "hm"], ["s:0:3", "other", "Okay.", "hm"]]


def test_load_external_refuses_missing_or_partial_texts(tmp_path):
    with pytest.raises(FileNotFoundError, match="rebuild the texts"):
        corpus.load_external(tmp_path)
    _fake_external(tmp_path / "ext", {"s:0:1": "How do you run renewals?"})
    with pytest.raises(ValueError, match="1 gold turns have no text"):
        corpus.load_external(tmp_path / "ext")


def test_slices_score_long_and_asr_turns():
    data = pd.DataFrame({
        "text": ["word " * 45, "so how do you handle renewals", "We'll send it Friday.", "word " * 50],
        "label": ["other", "knowledge_probing", "trust_commitment", "trust_commitment"],
    })
    out = evaluate.slices(data, ["other", "knowledge_probing", "trust_commitment", "other"])
    assert out["over_40_words"]["n"] == 2 and out["over_40_words"]["accuracy"] == 0.5
    assert out["asr_style"]["n"] == 3  # no capitals, no punctuation (the two long ones and the question)
    styled = data.assign(style=["clean", "asr", "clean", "clean"])
    assert evaluate.slices(styled, data["label"].tolist())["asr_style"] == {"n": 1, "macro_f1": 0.25, "accuracy": 1.0}
    with pytest.raises(ValueError, match="predictions"):
        evaluate.slices(data, ["other"])


def test_every_training_file_is_one_documented_writer():
    """Each training file is one writer with its own brief; the corpus README lists every file."""
    readme = (corpus.CORPUS_DIR / "train" / "README.md").read_text()
    for path in corpus.train_files():
        turns = corpus.load_turns([path])
        assert turns["source"].nunique() == 1, path.name
        assert Counter(turns["label"]).keys() == set(LABELS), path.name
        assert f"`{path.name}` | {turns['source'].iloc[0]} |" in readme, path.name
        assert f"| {len(turns):,} |" in readme, path.name


def _sentences(frame: pd.DataFrame) -> set[str]:
    """Turns of eight words or more, normalised: short formulas ("Will do.", "mm-hmm") recur everywhere."""
    texts = frame["text"].str.lower().str.split().str.join(" ")
    return set(texts[texts.str.split().str.len() >= 8])


def test_training_never_sees_evaluation_texts():
    train = _sentences(corpus.load_turns(corpus.train_files()))
    assert not train & _sentences(corpus.load_conversations(corpus.CORPUS_DIR / corpus.TEST_CONVERSATIONS))
    if (EXTERNAL / "turns.jsonl").is_file():  # rebuilt locally only; never committed
        assert not train & _sentences(corpus.load_external(EXTERNAL))


def test_files_whose_briefs_saw_the_external_set_stay_out_of_training():
    kept_out = sorted((corpus.CORPUS_DIR / "not-blind").glob("*.jsonl"))
    assert kept_out and not {p.name for p in kept_out} & {p.name for p in corpus.train_files()}
    assert Counter(corpus.load_turns(kept_out)["label"]).keys() == set(LABELS)
