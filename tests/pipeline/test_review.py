"""The review queue (pure selection) and the review import's refusals and label-issue check."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.review import ReviewImportError, import_reviews, label_issues, reviewed_examples
from pipeline.schemas import PROB_COLUMNS, REVIEW_QUEUE
from pipeline.scoring.metrics import ReviewConfig
from pipeline.scoring.review import review_candidates, select_queue
from pipeline.settings import Settings
from pipeline.warehouse.layout import to_arrow

DAY = "2026-11-24"


def _turns(calls: int = 6, rep_turns: int = 10, seed: int = 0) -> pd.DataFrame:
    """Whole calls: a customer turn before every rep turn, distinct texts, random calibrated probabilities."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(calls):
        for t in range(rep_turns):
            rows.append({"call_id": f"c{c}", "utterance_index": 2 * t, "speaker_role": "customer",
                         "rep_id": f"r{c % 2}", "text": f"customer says {c} {t}", "label": None,
                         **dict.fromkeys(PROB_COLUMNS, np.nan)})
            p = rng.dirichlet(np.ones(len(LABELS)) * 0.7)
            rows.append({"call_id": f"c{c}", "utterance_index": 2 * t + 1, "speaker_role": "rep", "rep_id": f"r{c % 2}",
                         "text": f"rep turn number {c} {t} here", "label": LABELS[int(p.argmax())],
                         **{col: float(v) for col, v in zip(PROB_COLUMNS, p, strict=True)}})
    frame = pd.DataFrame(rows)
    frame["word_count"] = frame["text"].str.split().str.len().astype("int32")
    frame["model_version"] = "m1"
    frame["run_id"] = "run1"
    return frame


def _queue(turns: pd.DataFrame, cfg: ReviewConfig, shards: int = 1) -> pd.DataFrame:
    ids = sorted(turns["call_id"].unique())
    parts = [review_candidates(turns[turns["call_id"].isin(ids[i::shards])], cfg, DAY) for i in range(shards)]
    return select_queue(pd.concat(parts, ignore_index=True), cfg)


def test_queue_has_the_schema_cap_control_share_and_margin_order():
    cfg = ReviewConfig(max_per_day=20, control_share=0.1, min_words=3)
    queue = _queue(_turns(), cfg)
    assert list(queue.columns) == REVIEW_QUEUE.names
    assert to_arrow(queue, "review_queue").schema == REVIEW_QUEUE
    assert len(queue) == 20 and queue["rank"].tolist() == list(range(1, 21))
    assert (queue["stratum"] == "control").sum() == 2
    low = queue[queue["stratum"] == "low_margin"]
    assert low["margin"].is_monotonic_increasing and (queue["stratum"].iloc[-2:] == "control").all()
    probs = np.sort(queue[PROB_COLUMNS].to_numpy(dtype=float), axis=1)
    assert np.allclose(queue["margin"], probs[:, -1] - probs[:, -2], atol=1e-6)
    assert not queue.duplicated(["call_id", "utterance_index"]).any()
    assert (queue["previous_customer_text"].str.startswith("customer says")).all()


def test_low_margin_rows_are_the_lowest_of_each_label_and_stratified_evenly():
    turns = _turns(calls=10)
    cfg = ReviewConfig(max_per_day=42, control_share=0.05)
    queue = _queue(turns, cfg)
    low = queue[queue["stratum"] == "low_margin"]
    counts = low["label"].value_counts()
    assert len(low) == 40 and counts.max() - counts.min() <= 1, counts
    rep = turns[turns["speaker_role"] == "rep"].copy()
    p = np.sort(rep[PROB_COLUMNS].to_numpy(dtype=float), axis=1)
    rep["margin"] = p[:, -1] - p[:, -2]
    for label, group in low.groupby("label"):
        others = rep[(rep["label"] == label) & ~rep["utterance_index"].astype(str).add(rep["call_id"]).isin(
            queue["utterance_index"].astype(str).add(queue["call_id"]))]
        assert group["margin"].max() <= others["margin"].min() + 1e-9, label


def test_a_label_with_few_candidates_gives_its_slots_to_the_others():
    turns = _turns(calls=8)
    rep = turns["speaker_role"] == "rep"
    rapport = turns.index[rep & (turns["label"] == "rapport")]
    turns.loc[rapport[2:], "label"] = "other"  # only two rapport turns remain
    cfg = ReviewConfig(max_per_day=30, control_share=0.1)
    queue = _queue(turns, cfg)
    low = queue[queue["stratum"] == "low_margin"]
    assert len(queue) == 30 and (low["label"] == "rapport").sum() <= 2


def test_duplicate_texts_are_queued_once():
    turns = _turns(calls=4)
    rep = turns.index[turns["speaker_role"] == "rep"]
    turns.loc[rep[::2], "text"] = "Sounds good,   talk SOON!"  # half the rep turns say the same thing
    for variant, i in (("sounds good talk soon", rep[1]), ("Sounds good... talk soon", rep[3])):
        turns.loc[i, "text"] = variant
    queue = _queue(turns, ReviewConfig(max_per_day=40, control_share=0.1))
    norm = queue["text"].str.lower().str.replace(r"[\W_]+", " ", regex=True).str.strip()
    assert not norm.duplicated().any() and (norm == "sounds good talk soon").sum() == 1


def test_same_day_same_queue_whatever_the_sharding_and_short_turns_are_skipped():
    turns = _turns(calls=9)
    cfg = ReviewConfig(max_per_day=15, control_share=0.1, min_words=3)
    one, three = _queue(turns, cfg, shards=1), _queue(turns, cfg, shards=3)
    pd.testing.assert_frame_equal(one, three)
    pd.testing.assert_frame_equal(one, _queue(turns, cfg))
    other_day = select_queue(review_candidates(turns, cfg, "2026-11-25"), cfg)
    assert set(other_day.loc[other_day["stratum"] == "control", "call_id"] + "#" + other_day.loc[
        other_day["stratum"] == "control", "utterance_index"].astype(str)) != set(
        one.loc[one["stratum"] == "control", "call_id"] + "#" + one.loc[one["stratum"] == "control",
                                                                          "utterance_index"].astype(str))
    short = turns.assign(word_count=np.where(turns["speaker_role"] == "rep", 2, turns["word_count"]))
    assert select_queue(review_candidates(short, cfg, DAY), cfg).empty


def test_candidates_are_bounded_per_shard_and_empty_input_gives_an_empty_typed_queue():
    cfg = ReviewConfig(max_per_day=5, control_share=0.2)
    cand = review_candidates(_turns(calls=10), cfg, DAY)
    assert len(cand) <= 5 * len(LABELS) + 5
    empty = select_queue(review_candidates(_turns().iloc[0:0], cfg, DAY), cfg)
    assert empty.empty and to_arrow(empty, "review_queue").schema == REVIEW_QUEUE
    tiny = select_queue(review_candidates(_turns(calls=1, rep_turns=1), ReviewConfig(max_per_day=10,
                                                                                     control_share=0.05), DAY),
                        ReviewConfig(max_per_day=10, control_share=0.05))
    assert tiny["stratum"].tolist() == ["control"]  # at least one control row when there are turns


def _row(label: str, probs: dict, n: int = 0, **extra) -> dict:
    return {"date": DAY, "call_id": f"c{n}", "utterance_index": n, "text": f"turn {n} text",
            "previous_customer_text": "", "predicted_label": max(probs, key=probs.get), "probs": probs,
            "label": label, "reviewer": "ana", **extra}


def _confident(label: str, p: float = 0.85) -> dict:
    rest = (1 - p) / (len(LABELS) - 1)
    return {k: (p if k == label else rest) for k in LABELS}


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_import_refuses_bad_labels_and_missing_reviewer_naming_the_lines(tmp_path):
    settings = Settings(warehouse=str(tmp_path / "wh"))
    rows = [_row("rapport", _confident("rapport"), 0), _row("rapor", _confident("rapport"), 1),
            _row("other", _confident("other"), 2, reviewer=""), _row("", _confident("other"), 3)]
    path = _write(tmp_path / "r.jsonl", rows)
    with pytest.raises(ReviewImportError) as err:
        import_reviews(settings, path, reviewer=None)
    assert [n for n, _ in err.value.rejected] == [2, 3]
    assert "line 2: label 'rapor' is not one of" in str(err.value) and "line 3: no reviewer" in str(err.value)
    assert reviewed_examples(settings.warehouse) == []  # all or nothing
    ok = import_reviews(settings, _write(tmp_path / "ok.jsonl", [rows[0], rows[2], rows[3]]), reviewer="bo")
    assert ok.accepted == 2 and ok.skipped == 1 and not ok.suspicious
    assert {(e["call_id"], e["reviewer"]) for e in reviewed_examples(settings.warehouse)} == {("c0", "ana"),
                                                                                               ("c2", "bo")}


def test_import_refuses_missing_text_and_probs(tmp_path):
    settings = Settings(warehouse=str(tmp_path / "wh"))
    rows = [_row("other", _confident("other"), 0, text="  "), _row("other", {"other": 1.0}, 1), "not an object"]
    with pytest.raises(ReviewImportError) as err:
        import_reviews(settings, _write(tmp_path / "r.jsonl", rows), reviewer="x")
    reasons = dict(err.value.rejected)
    assert "'text'" in reasons[1] and "'probs'" in reasons[2] and "JSON object" in reasons[3]


def test_label_issue_check_flags_an_obviously_wrong_label():
    given = [label for label in LABELS for _ in range(6)]
    probs = np.array([[0.85 if k == g else 0.05 for k in LABELS] for g in given])
    assert not label_issues(given, probs).any()
    wrong = [*given, "rapport", "other"]
    probs = np.vstack([probs, [0.9, 0.03, 0.04, 0.03], [0.02, 0.02, 0.95, 0.01]])
    assert label_issues(wrong, probs).tolist() == [False] * len(given) + [True, True]
    # too few rows per label for thresholds: only the obvious rule speaks
    assert label_issues(["rapport", "other"], np.array([[0.96, 0.01, 0.02, 0.01], [0.3, 0.2, 0.2, 0.3]])
                        ).tolist() == [True, False]


def test_suspicious_labels_are_reported_not_stored_unless_accepted_and_latest_wins(tmp_path):
    settings = Settings(warehouse=str(tmp_path / "wh"))
    rows = [_row(label, _confident(label), i) for i, label in enumerate(LABELS * 3)]
    rows.append(_row("rapport", {"knowledge_probing": 0.97, "rapport": 0.01, "trust_commitment": 0.01,
                                 "other": 0.01}, 99))
    result = import_reviews(settings, _write(tmp_path / "r.jsonl", rows), reviewer=None)
    assert result.accepted == 12 and [s["line"] for s in result.suspicious] == [13]
    assert result.suspicious[0]["model_label"] == "knowledge_probing" and result.suspicious[0]["label"] == "rapport"
    assert len(reviewed_examples(settings.warehouse)) == 12
    again = import_reviews(settings, _write(tmp_path / "s.jsonl", [rows[-1], {**rows[0], "label": "other"}]),
                           reviewer=None, accept_suspect=True)
    assert again.accepted == 2 and again.suspicious_accepted
    examples = {e["call_id"]: e for e in reviewed_examples(settings.warehouse)}
    assert len(examples) == 13 and examples["c99"]["label"] == "rapport" and examples["c0"]["label"] == "other"


def test_an_unsure_model_accuses_nobody():
    given = [label for label in LABELS for _ in range(6)]
    rng = np.random.default_rng(1)
    uniform = 0.25 + rng.uniform(-0.01, 0.01, size=(len(given), len(LABELS)))
    assert not label_issues(given, uniform / uniform.sum(axis=1, keepdims=True)).any()
    # a close second (a low-margin turn) is a plausible correction, not a mistake
    probs = np.array([[0.85 if k == g else 0.05 for k in LABELS] for g in given])
    close = np.vstack([probs, [0.45, 0.40, 0.10, 0.05]])
    assert not label_issues([*given, "rapport"], close)[-1]


def test_cli_import_exits_non_zero_naming_bad_lines(tmp_path, capsys):
    from pipeline.cli import main

    path = _write(tmp_path / "r.jsonl", [_row("rapport", _confident("rapport"), 0),
                                         _row("smalltalk", _confident("rapport"), 1)])
    with open(path, "a") as fh:
        fh.write("{not json\n")
    code = main(["review", "import", path, "--reviewer", "ana", "--warehouse", str(tmp_path / "wh")])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["accepted"] == 0
    assert [r["line"] for r in out["rejected"]] == [2, 3] and "not JSON" in out["rejected"][1]["reason"]
    good = _write(tmp_path / "g.jsonl", [_row("rapport", _confident("rapport"), 0)])
    assert main(["review", "import", good, "--warehouse", str(tmp_path / "wh")]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 1


def test_export_refuses_a_warehouse_without_a_queue(tmp_path):
    from pipeline.review import export

    with pytest.raises(FileNotFoundError, match="no published review_queue"):
        export(Settings(warehouse=str(tmp_path / "wh")), DAY, None, str(tmp_path / "out.jsonl"))
    with pytest.raises(ValueError, match="since must be a YYYY-MM-DD"):
        export(Settings(warehouse=str(tmp_path / "wh")), "yesterday", None, str(tmp_path / "out.jsonl"))


def test_forget_calls_removes_reviewed_turns_of_erased_calls(tmp_path):
    from pipeline.review import forget_calls

    settings = Settings(warehouse=str(tmp_path / "wh"))
    import_reviews(settings, _write(tmp_path / "a.jsonl", [_row("other", _confident("other"), 0)]), reviewer="x")
    import_reviews(settings, _write(tmp_path / "b.jsonl", [_row("rapport", _confident("rapport"), 1),
                                                           _row("other", _confident("other"), 2)]), reviewer="x")
    assert forget_calls(settings.warehouse, {"c0", "c1"}) == 2
    assert [e["call_id"] for e in reviewed_examples(settings.warehouse)] == ["c2"]
    assert len(list((tmp_path / "wh" / "_review" / "reviewed").iterdir())) == 1
