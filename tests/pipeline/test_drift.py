"""The drift alarm on synthetic calls rows: shifted and steady mixes, small samples, input drift."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from pipeline.schemas import DRIFT, DRIFT_METRICS, DRIFT_STATUSES
from pipeline.scoring.drift import drift_table
from pipeline.scoring.metrics import DriftConfig
from pipeline.warehouse import layout

CFG = DriftConfig()
STEADY = (0.30, 0.10, 0.20, 0.40)  # knowledge_probing, rapport, trust_commitment, other
SHIFTED = (0.10, 0.10, 0.10, 0.70)  # probing and commitment collapse into product talk
BASE_DAYS = [f"2026-11-{d:02d}" for d in range(1, 21)]


def _calls(turns: int, mix: tuple[float, ...] = STEADY, team: str | None = "Enterprise", calls: int = 10,
           low_confidence: float | None = 0.04, words: float | None = 12.0,
           days: list[str] | None = None) -> pd.DataFrame:
    """``calls`` rows splitting ``turns`` rep turns with label shares ``mix`` (one date per row, cycling)."""
    per_call = turns // calls
    counts = [round(per_call * share) for share in mix[:3]]
    counts.append(per_call - sum(counts))
    rows = []
    for i in range(calls):
        rows.append({"team": team, "rep_utterances": per_call, "knowledge_probing_turns": counts[0],
                     "rapport_turns": counts[1], "trust_commitment_turns": counts[2], "other_turns": counts[3],
                     "low_confidence_turns": None if low_confidence is None else round(per_call * low_confidence),
                     "rep_words": None if words is None else round(per_call * words)})
        if days:
            rows[-1]["date"] = days[i % len(days)]
    return pd.DataFrame(rows)


def _baseline(turns: int = 4000, **kwargs) -> pd.DataFrame:
    return _calls(turns, calls=40, days=BASE_DAYS, **kwargs)


def _row(frame: pd.DataFrame, metric: str, scope: str = "overall", team: str | None = None) -> pd.Series:
    rows = frame[(frame["metric"] == metric) & (frame["scope"] == scope)]
    rows = rows[rows["team"].isna()] if team is None else rows[rows["team"] == team]
    assert len(rows) == 1
    return rows.iloc[0]


def test_shifted_mix_alarms_by_chi_square_on_a_small_day(caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.scoring.drift"):
        frame = drift_table(_calls(500, SHIFTED), _baseline(), CFG, "m-1", "run-1")
    row = _row(frame, "label_mix")
    assert row.test == "chi_square" and row.status == "alarm"
    assert row.p_value < CFG.p_value and row.threshold == CFG.p_value
    assert row.day_value == pytest.approx(0.10) and row.baseline_value == pytest.approx(0.30)
    assert "chi-square" in row.reason and "p_value" in row.reason
    assert row.day_turns == 500 and row.baseline_turns == 4000 and row.baseline_days == 20
    alarms = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(alarms) == (frame["status"] == "alarm").sum() == 2  # overall and the one team
    assert "label_mix" in alarms[0].getMessage()


def test_shifted_mix_alarms_by_jensen_shannon_on_a_large_day():
    frame = drift_table(_calls(2000, SHIFTED), _baseline(), CFG, "m-1", "run-1")
    row = _row(frame, "label_mix")
    assert row.test == "jensen_shannon" and row.status == "alarm"
    assert row.statistic >= CFG.js_distance and pd.isna(row.p_value) and row.threshold == CFG.js_distance
    assert "Jensen-Shannon" in row.reason


@pytest.mark.parametrize("day_turns", [500, 2000], ids=["chi_square", "jensen_shannon"])
def test_steady_day_is_ok_on_every_metric(day_turns, caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.scoring.drift"):
        frame = drift_table(_calls(day_turns), _baseline(), CFG, "m-1", "run-1")
    assert set(frame["status"]) == {"ok"}
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert _row(frame, "mean_rep_words").statistic == pytest.approx(1.0)


def test_small_samples_give_insufficient_data_not_alarms(caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.scoring.drift"):
        small_day = drift_table(_calls(50, SHIFTED, words=40.0), _baseline(), CFG, "m-1", "run-1")
        small_base = drift_table(_calls(500, SHIFTED), _baseline(100), CFG, "m-1", "run-1")
        no_base = drift_table(_calls(500, SHIFTED), None, CFG, "m-1", "run-1")
    for frame in (small_day, small_base, no_base):
        assert set(frame["status"]) == {"insufficient_data"}
        assert frame["reason"].str.contains("drift.min_turns").all()
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "50 day turns < drift.min_turns 200" in _row(small_day, "label_mix").reason
    assert _row(no_base, "label_mix").baseline_days == 0 and _row(no_base, "label_mix").baseline_turns == 0


def test_input_drift_in_words_and_low_confidence():
    frame = drift_table(_calls(500, words=30.0, low_confidence=0.3), _baseline(), CFG, "m-1", "run-1")
    words = _row(frame, "mean_rep_words")
    assert words.status == "alarm" and words.test == "ratio" and words.statistic == pytest.approx(2.5)
    assert words.day_value == pytest.approx(30.0) and words.baseline_value == pytest.approx(12.0)
    low = _row(frame, "low_confidence_share")
    assert low.status == "alarm" and low.test == "abs_delta" and low.statistic == pytest.approx(0.26)
    assert "low_confidence_delta" in low.reason
    assert _row(frame, "label_mix").status == "ok"
    shorter = _row(drift_table(_calls(500, words=6.0), _baseline(), CFG, "m-1", "run-1"), "mean_rep_words")
    assert shorter.status == "alarm" and shorter.statistic == pytest.approx(0.5) and "<= 1 / drift.words_ratio" in \
        shorter.reason


def test_baseline_rows_without_input_columns_are_skipped_not_fatal():
    old = _baseline().drop(columns=["low_confidence_turns", "rep_words"])
    frame = drift_table(_calls(500), old, CFG, "m-1", "run-1")
    assert _row(frame, "label_mix").status == "ok"
    for metric in ("low_confidence_share", "mean_rep_words"):
        row = _row(frame, metric)
        assert row.status == "insufficient_data" and row.baseline_turns == 0 and pd.isna(row.baseline_value)
    # half the baseline written before the columns existed (nulls): only the other half counts
    mixed = pd.concat([_calls(2000, calls=20, days=BASE_DAYS[:10], words=None, low_confidence=None),
                       _calls(2000, calls=20, days=BASE_DAYS[10:])], ignore_index=True)
    frame = drift_table(_calls(500), mixed, CFG, "m-1", "run-1")
    words = _row(frame, "mean_rep_words")
    assert words.status == "ok" and words.baseline_turns == 2000 and words.baseline_days == 10
    assert _row(frame, "label_mix").baseline_turns == 4000 and _row(frame, "label_mix").baseline_days == 20


def test_one_row_per_scope_team_and_metric():
    day = pd.concat([_calls(500, SHIFTED, team="SMB"), _calls(500, team="Enterprise")], ignore_index=True)
    base = pd.concat([_baseline(team="SMB"), _baseline(team="Enterprise"), _baseline(team="Gone")],
                     ignore_index=True)
    frame = drift_table(day, base, CFG, "m-1", "run-1")
    assert len(frame) == 3 * len(DRIFT_METRICS)  # overall + the two teams with calls today
    assert frame[frame["scope"] == "overall"]["team"].isna().all()
    assert sorted(frame[frame["scope"] == "team"]["team"].unique()) == ["Enterprise", "SMB"]
    assert _row(frame, "label_mix", "team", "SMB").status == "alarm"
    assert _row(frame, "label_mix", "team", "Enterprise").status == "ok"
    assert _row(frame, "label_mix", "team", "SMB").baseline_turns == 4000
    assert _row(frame, "label_mix").baseline_turns == 12000
    assert set(frame["status"]) <= set(DRIFT_STATUSES)
    assert (frame["model_version"] == "m-1").all() and (frame["run_id"] == "run-1").all()


def test_frame_conforms_to_the_drift_schema():
    day = pd.concat([_calls(500, SHIFTED, team="SMB"), _calls(500, team=None)], ignore_index=True)
    frame = drift_table(day, _baseline(), CFG, "m-1", "run-1")
    assert list(frame.columns) == DRIFT.names
    table = layout.to_arrow(frame, "drift")
    assert table.schema.equals(DRIFT) and table.num_rows == 2 * len(DRIFT_METRICS)
    empty = drift_table(_calls(500).iloc[0:0], None, CFG, "m-1", "run-1")
    assert layout.to_arrow(empty, "drift").num_rows == len(DRIFT_METRICS)
    assert set(empty["status"]) == {"insufficient_data"}


def test_missing_required_columns_are_named():
    with pytest.raises(ValueError, match=r"day_calls lacks required columns \['other_turns', 'rep_words'\]"):
        drift_table(_calls(500).drop(columns=["other_turns", "rep_words"]), _baseline(), CFG, "m-1", "run-1")
    with pytest.raises(ValueError, match=r"baseline_calls lacks required columns \['date'\]"):
        drift_table(_calls(500), _baseline().drop(columns=["date"]), CFG, "m-1", "run-1")


def test_quality_suite_passes_the_table_and_reports_alarms_as_warnings():
    from pipeline.warehouse import quality

    day = pd.concat([_calls(2000, SHIFTED, team="SMB"), _calls(500, team=None)], ignore_index=True)
    frame = drift_table(day, _baseline(), CFG, "m-1", "run-1")
    published = layout.to_arrow(frame, "drift").to_pandas().assign(date="2026-11-24")
    assert (published["status"] == "alarm").any()
    report = quality.validate_tables({"drift": published}, required=())
    assert report.success and not report.failures
    assert [w.expectation for w in report.warnings] == ["expect_column_values_to_not_be_in_set"]
    broken = published.assign(status="maybe")
    assert not quality.validate_tables({"drift": broken}, required=()).success
