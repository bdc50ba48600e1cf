"""The GX quality gate on a tiny valid day and on one corruption at a time.

The day (2 reps, 3 calls, 12 turns) is built by the pipeline's own functions and conformed to the
warehouse schemas, so the gate is tested on what the pipeline really stages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.paths import suites
from pipeline.schemas import SCHEMAS, TABLES
from pipeline.scoring.metrics import attach_labels, calls_table, scorecards_table, turns_frame
from pipeline.transcripts.model import Call, Participant, Rep, Utterance
from pipeline.warehouse import layout, quality

DAY = "2026-11-24"
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
DANA = Rep("rep_01", "Dana Whitfield", "dana@seller.io", "Enterprise", "Mo")
LEE = Rep("rep_02", "Lee Park", "lee@seller.io", "SMB")
# call id, rep, [(speaker, role, start, end, text)], labels of the rep turns
CALLS = [
    ("c1", DANA, [("Dana", "rep", 0, 10, "Hi Sam, good to see you!"), ("Sam", "customer", 11, 30, "Busy week."),
                  ("Dana", "rep", 31, 40, "How do you handle renewals?"), ("Sam", "customer", 41, 60, "Manually.")],
     ["rapport", "knowledge_probing"]),
    ("c2", DANA, [("Dana", "rep", 0, 20, "I'll send the ROI model Friday."), ("Ana", "customer", 21, 25, "Great."),
                  ("Kim", "internal", 26, 30, "I can join too."), ("Dana", "rep", 31, 50, "Our tool has dashboards.")],
     ["trust_commitment", "other"]),
    ("c3", LEE, [("Jo", "customer", 0, 15, "We need a quote."), ("Lee", "rep", 16, 30, "What is your budget?"),
                 ("Jo", "customer", 31, 40, "About 10k."), ("Lee", "rep", 41, 60, "I'll hold that price for you.")],
     ["knowledge_probing", "trust_commitment"]),
]


@cache
def _staged_day() -> dict[str, pd.DataFrame]:
    calls = [Call(call_id=cid, started_at=T0, duration_s=70.0, title="t", rep=rep,
                  participants=(Participant(rep.name, rep.email, "rep"),),
                  utterances=tuple(Utterance(s, a, b, text, role) for s, role, a, b, text in turns),
                  source_file=f"{cid}.json", source_format="json")
             for cid, rep, turns, _ in CALLS]
    labels = [label for *_, call_labels in CALLS for label in call_labels]
    # realistic float32 probabilities: 0.7 on the predicted label, 0.1 elsewhere
    probs = np.full((len(labels), len(LABELS)), 0.1, dtype=np.float32)
    probs[np.arange(len(labels)), [LABELS.index(x) for x in labels]] = 0.7
    utterances = attach_labels(turns_frame(calls), labels, probs, "m-test")
    call_rows = calls_table(utterances)
    cards = scorecards_table(call_rows, DAY, "run-1", T0)
    frames = {"utterances": utterances, "calls": call_rows, "scorecards": cards}
    # what validate_day reads back: the staged files, plus the partition key as a column
    staged = {t: layout.to_arrow(f, t).to_pandas() for t, f in frames.items()}
    for frame in staged.values():
        if "date" not in frame.columns:
            frame.insert(0, "date", DAY)
    return staged


@pytest.fixture
def day() -> dict[str, pd.DataFrame]:
    return {t: f.copy() for t, f in _staged_day().items()}


def _first(frame: pd.DataFrame, **where: object) -> int:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    return int(np.flatnonzero(mask)[0])


def _failure(report: quality.ValidationReport, table: str, expectation: str, column: str | None) -> quality.Failure:
    found = [f for f in report.failures if (f.table, f.expectation, f.column) == (table, expectation, column)]
    assert found, f"no {table}: {expectation}({column}) among:\n{report.summary()}"
    return found[0]


def test_valid_day_passes_and_builds_data_docs(day, tmp_path):
    before = {t: list(f.columns) for t, f in day.items()}
    report = quality.validate_tables(day, docs_dir=tmp_path / "docs")
    assert report.success, report.summary()
    assert report.failures == []
    assert report.data_docs_index == str(tmp_path / "docs" / "index.html")
    assert (tmp_path / "docs" / "index.html").is_file()
    for table, frame in day.items():
        stats = report.statistics[table]
        assert stats["rows"] == len(frame) and stats["successful_expectations"] == stats["evaluated_expectations"] > 0
    assert {t: list(f.columns) for t, f in day.items()} == before  # inputs untouched
    json.dumps(report.to_json())


def test_one_gate_validates_batches_and_builds_one_site_with_each(day, tmp_path, monkeypatch):
    """A day's batches share one context; only a failing table pays GX's SUMMARY run (row numbers)."""
    formats: list[tuple[str, str]] = []
    run = quality.Gate._run

    def spy(self, table, frame, result_format, run_id):
        formats.append((table, result_format if isinstance(result_format, str) else result_format["result_format"]))
        return run(self, table, frame, result_format, run_id)

    monkeypatch.setattr(quality.Gate, "_run", spy)
    gate = quality.Gate(tmp_path / "docs")
    first = gate.validate(day, label="reps-1-of-2")
    broken = {t: f.copy() for t, f in day.items()}
    broken["calls"].loc[1, "rapport_share"] = 1.5
    second = gate.validate(broken, label="reps-2-of-2")
    assert first.success and first.data_docs_index is None
    assert not second.success and second.failures[0].rows == [1]
    assert formats == [(t, "BASIC") for t in quality.CORE_TABLES] * 2 + [("calls", "SUMMARY")]
    assert not (tmp_path / "docs").exists()  # nothing rendered per batch
    index = gate.build_docs()
    assert index == str(tmp_path / "docs" / "index.html")
    pages = Path(tmp_path / "docs").rglob("*.html")
    runs = {p.parent.parent.name for p in pages if "validations" in p.parts}
    assert any("reps-1-of-2" in r for r in runs) and any("reps-2-of-2" in r for r in runs), runs


def _set(table: str, column: str, value: object, **where: object) -> Callable[[dict], int]:
    def corrupt(frames: dict[str, pd.DataFrame]) -> int:
        frame = frames[table]
        row = _first(frame, **where) if where else 1
        frame.loc[row, column] = value
        return row
    return corrupt


def _shift_shares(frames):  # each share stays within [0, 1] but they no longer sum to 1
    frames["calls"].loc[0, "other_share"] += 0.25
    return 0


def _shift_prob(frames):
    row = _first(frames["utterances"], speaker_role="rep")
    frames["utterances"].loc[row, "p_other"] += np.float32(0.01)
    return row


def _duplicate_turn(frames):
    utt = frames["utterances"]
    utt.loc[1, ["call_id", "utterance_index"]] = utt.loc[0, ["call_id", "utterance_index"]].to_numpy()
    return 1


def _duplicate_scorecard(frames):
    frames["scorecards"].loc[1, "rep_id"] = frames["scorecards"].loc[0, "rep_id"]
    return 1


def _miscount_calls(frames):
    frames["scorecards"].loc[1, "calls"] += 2
    return 1


def _talk_ratio_as_text(frames):
    frames["calls"]["rep_talk_ratio"] = frames["calls"]["rep_talk_ratio"].astype(str)


def _drop_tier(frames):
    frames["scorecards"] = frames["scorecards"].drop(columns=["tier"])


# name: (corrupt the frames and return the bad row (None: a table-level fault), table, expectation, column)
CORRUPTIONS = {
    "share_out_of_range": (_set("calls", "rapport_share", 1.5),
                           "calls", "expect_column_values_to_be_between", "rapport_share"),
    "shares_not_summing_to_1": (_shift_shares, "calls", "expect_column_values_to_be_between", "_share_sum"),
    "probability_sum_off": (_shift_prob, "utterances", "expect_column_values_to_be_between", "_prob_sum"),
    "probability_missing_on_rep_turn": (_set("utterances", "p_rapport", None, speaker_role="rep"),
                                        "utterances", "expect_column_values_to_be_in_set", "_prob_count"),
    "label_on_customer_turn": (_set("utterances", "label", "rapport", speaker_role="customer"),
                               "utterances", "expect_column_values_to_be_null", "label"),
    "label_on_internal_turn": (_set("utterances", "label", "other", speaker_role="internal"),
                               "utterances", "expect_column_values_to_be_null", "label"),
    "missing_label_on_rep_turn": (_set("utterances", "label", None, speaker_role="rep"),
                                  "utterances", "expect_column_values_to_not_be_null", "label"),
    "label_outside_set": (_set("utterances", "label", "small_talk", speaker_role="rep"),
                          "utterances", "expect_column_values_to_be_in_set", "label"),
    "duplicate_turn_key": (_duplicate_turn, "utterances", "expect_compound_columns_to_be_unique",
                           "call_id, utterance_index"),
    "duplicate_scorecard_key": (_duplicate_scorecard, "scorecards", "expect_compound_columns_to_be_unique",
                                "date, rep_id"),
    "call_talk_ratio_1.3": (_set("calls", "rep_talk_ratio", 1.3),
                            "calls", "expect_column_values_to_be_between", "rep_talk_ratio"),
    "scorecard_talk_ratio_1.3": (_set("scorecards", "rep_talk_ratio", 1.3),
                                 "scorecards", "expect_column_values_to_be_between", "rep_talk_ratio"),
    "zero_calls": (_set("scorecards", "calls", 0), "scorecards", "expect_column_values_to_be_between", "calls"),
    "scorecard_calls_not_matching_calls_table": (_miscount_calls, "scorecards",
                                                 "expect_column_pair_values_to_be_equal",
                                                 "calls, _calls_in_calls_table"),
    "null_rep_id_in_calls": (_set("calls", "rep_id", None),
                             "calls", "expect_column_values_to_not_be_null", "rep_id"),
    "null_rep_id_in_scorecards": (_set("scorecards", "rep_id", None),
                                  "scorecards", "expect_column_values_to_not_be_null", "rep_id"),
    "unknown_call_id": (_set("utterances", "call_id", "c404"),
                        "utterances", "expect_column_values_to_be_in_set", "_call_known"),
    "bad_tier": (_set("scorecards", "tier", "rockstar"), "scorecards", "expect_column_values_to_be_in_set", "tier"),
    "talk_ratio_as_text": (_talk_ratio_as_text, "calls", "expect_column_values_to_be_of_type", "rep_talk_ratio"),
    "missing_column": (_drop_tier, "scorecards", "expect_table_columns_to_match_set", None),
}
# Corruptions of the keys that join the tables (call_id, rep_id) are validated alone. The others stay
# inside their own table, so to keep the suite fast (GX spends ~0.8 s per run on GX overhead)
# up to three of them, each in a different table, share one validation run.
CROSS_TABLE = {"duplicate_turn_key", "duplicate_scorecard_key", "null_rep_id_in_calls", "null_rep_id_in_scorecards",
               "unknown_call_id"}


def _batches() -> dict[str, tuple[str, ...]]:
    batches: list[list[str]] = []
    for name, (_, table, *_rest) in CORRUPTIONS.items():
        home = next((b for b in batches if name not in CROSS_TABLE and not CROSS_TABLE & set(b)
                     and table not in {CORRUPTIONS[n][1] for n in b}), None)
        if home is None:
            batches.append(home := [])
        home.append(name)
    return {name: tuple(b) for b in batches for name in b}


BATCH_OF = _batches()


@pytest.fixture(scope="module")
def corrupted() -> Callable[[str], tuple[quality.ValidationReport, int | None]]:
    """The report of the run that includes corruption ``name``, and the row it corrupted."""
    runs: dict[tuple[str, ...], tuple[quality.ValidationReport, dict]] = {}

    def get(name: str) -> tuple[quality.ValidationReport, int | None]:
        batch = BATCH_OF[name]
        if batch not in runs:
            frames = {t: f.copy() for t, f in _staged_day().items()}
            rows = {n: CORRUPTIONS[n][0](frames) for n in batch}
            runs[batch] = (quality.validate_tables(frames), rows)
        report, rows = runs[batch]
        return report, rows[name]
    return get


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_fails_on_the_right_expectation_and_row(corrupted, name):
    _, table, expectation, column = CORRUPTIONS[name]
    report, row = corrupted(name)
    assert not report.success
    failure = _failure(report, table, expectation, column)
    if row is not None:
        assert row in failure.rows and failure.unexpected_count >= 1 and failure.examples
    assert failure.describe() in report.summary()
    json.dumps(report.to_json())


def test_summary_names_expectation_rows_and_values(corrupted):
    report, _ = corrupted("call_talk_ratio_1.3")
    assert "calls: expect_column_values_to_be_between(rep_talk_ratio) failed on 1 row [1], e.g. [1.3]" in (
        report.summary())


def test_derived_column_failures_quote_identifying_columns(corrupted):
    report, row = corrupted("scorecard_calls_not_matching_calls_table")
    failure = _failure(report, "scorecards", "expect_column_pair_values_to_be_equal", "calls, _calls_in_calls_table")
    assert failure.rows == [row]
    assert failure.examples == [{"rep_id": "rep_02", "calls": 3, "_calls_in_calls_table": 1}]


def test_wrong_type_and_missing_column_are_reported_first(corrupted):
    report, _ = corrupted("talk_ratio_as_text")
    failure = _failure(report, "calls", "expect_column_values_to_be_of_type", "rep_talk_ratio")
    assert failure.detail == "expected type float64, observed str"
    assert next(f for f in report.failures if f.table == "calls") == failure
    report, _ = corrupted("missing_column")
    failure = _failure(report, "scorecards", "expect_table_columns_to_match_set", None)
    assert failure.examples == ["tier"] and "missing columns ['tier']" in report.summary()


def _empty(table: str) -> pd.DataFrame:
    frame = SCHEMAS[table].empty_table().to_pandas()
    frame.insert(0, "date", pd.Series([], dtype=object))  # the partition key, as validate_day adds it
    return frame


def test_day_without_calls_is_valid_only_when_all_tables_are_empty(day):
    empty = {t: _empty(t) for t in TABLES}
    assert quality.validate_tables(empty).success
    # turns and scorecards without calls
    orphans = quality.validate_tables({**empty, "utterances": day["utterances"], "scorecards": day["scorecards"]})
    _failure(orphans, "utterances", "expect_column_values_to_be_in_set", "_call_known")
    _failure(orphans, "scorecards", "expect_column_pair_values_to_be_equal", "calls, _calls_in_calls_table")
    # calls without turns or scorecards
    bare = quality.validate_tables({**empty, "calls": day["calls"]})
    _failure(bare, "calls", "expect_column_values_to_be_in_set", "_rep_scored")
    _failure(bare, "calls", "expect_column_pair_values_to_be_equal", "rep_utterances, _rep_turns_in_utterances")


def test_missing_table_is_a_caller_error(day):
    with pytest.raises(ValueError, match="scorecards"):
        quality.validate_tables({"utterances": day["utterances"], "calls": day["calls"]})


@pytest.mark.parametrize("table", TABLES)
def test_suites_load_and_cover_the_schema(table, day):
    import great_expectations as gx

    with (suites() / f"{table}.json").open() as fh:
        suite = gx.ExpectationSuite(**json.load(fh))
    assert suite.name == table
    configs = [e.configuration for e in suite.expectations]
    names = SCHEMAS[table].names
    [columns] = [c.kwargs["column_set"] for c in configs if c.type == "expect_table_columns_to_match_set"]
    assert sorted(columns) == sorted(names)
    typed = {c.kwargs["column"] for c in configs if c.type == "expect_column_values_to_be_of_type"}
    assert typed == set(names)
    assert len(quality.load_suite(table).expectations) == len(configs)
    # every derived column is documented in meta and produced by quality.with_derived_columns
    derived = quality.with_derived_columns(day).get(table, SCHEMAS[table].empty_table().to_pandas()).columns
    for c in configs:
        used = [v for k, v in c.kwargs.items() if k in ("column", "column_A", "column_B") and v.startswith("_")]
        for column in used:
            assert column in c.meta.get("derived_column", ""), (column, c.type)
            assert column in derived
