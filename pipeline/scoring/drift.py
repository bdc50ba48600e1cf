"""Has the model's world moved? A nightly comparison of the day's calls with a trailing baseline.

Scorecards change when reps change, but also when the model's inputs or behaviour drift: a new
speech-recognition vendor that splits turns differently, a new product line the model has never
heard of. Neither is visible in one rep's numbers, so each day is compared with the trailing
``cfg.baseline_days`` days, overall and per team, on three metrics (``DRIFT_METRICS``):

- ``label_mix``: the day's four label counts against the baseline's. Small days are tested by
  chi-square (a p-value means something there); large days by Jensen-Shannon distance, because
  with thousands of turns chi-square flags differences too small to matter.
- ``low_confidence_share``: rep turns the model was unsure of; a rise means inputs it does not know.
- ``mean_rep_words``: words per rep turn; a jump means turns are segmented differently upstream.

An alarm is a row with ``status = 'alarm'`` and a WARNING log line, never an exception: the day's
scorecards are still the best numbers there are, and a person decides what the drift means. Days
or baselines with fewer than ``cfg.min_turns`` turns get ``insufficient_data`` instead of a verdict.
Pure functions on calls-table frames; the caller reads the baseline and writes the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from pipeline import LABELS
from pipeline.schemas import COUNT_COLUMNS, DRIFT, DRIFT_METRICS
from pipeline.scoring.metrics import DriftConfig

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("team", "rep_utterances", *COUNT_COLUMNS)
"""Columns every input row needs (the label mix and the turn counts)."""
INPUT_COLUMNS: tuple[str, ...] = ("low_confidence_turns", "rep_words")
"""Input-drift columns: required on the day; older baseline rows may lack them (their metric skips those rows)."""

_FLOATS = ("statistic", "p_value", "threshold", "day_value", "baseline_value")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"drift: {name} lacks required columns {missing}")


def _with(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows that carry ``column`` (none when the column is absent): older rows are skipped, not guessed."""
    if column not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame[column].notna()]


def _turns(frame: pd.DataFrame) -> int:
    return int(pd.to_numeric(frame["rep_utterances"], errors="coerce").fillna(0).sum()) if len(frame) else 0


def _days(frame: pd.DataFrame) -> int:
    return int(frame["date"].astype(str).nunique()) if len(frame) and "date" in frame.columns else 0


def _ratio(frame: pd.DataFrame, column: str) -> float | None:
    turns = _turns(frame)
    return float(pd.to_numeric(frame[column], errors="coerce").sum()) / turns if turns else None


def _row(metric: str, day: pd.DataFrame, base: pd.DataFrame, cfg: DriftConfig) -> dict:
    """The verdict fields shared by every metric: turn counts, days and the evidence check."""
    day_turns, base_turns = _turns(day), _turns(base)
    row: dict = {"metric": metric, "day_turns": day_turns, "baseline_turns": base_turns,
                 "baseline_days": _days(base), "status": "ok", "reason": ""}
    short = []
    if day_turns == 0 or day_turns < cfg.min_turns:
        short.append(f"{day_turns} day turns < drift.min_turns {cfg.min_turns}")
    if base_turns == 0 or base_turns < cfg.min_turns:
        short.append(f"{base_turns} baseline turns over {row['baseline_days']} days < drift.min_turns "
                     f"{cfg.min_turns}")
    if short:
        row.update(status="insufficient_data", reason=f"insufficient_data for {metric}: {' and '.join(short)}")
    return row


def _label_mix(day: pd.DataFrame, base: pd.DataFrame, cfg: DriftConfig) -> dict:
    """Chi-square below ``cfg.chi_square_below`` day turns, Jensen-Shannon at or above.

    ``statistic`` holds the chi-square statistic or the JS distance (base 2); ``p_value`` is null
    for JS. ``day_value``/``baseline_value`` hold the ``knowledge_probing`` share, the share the
    advisor score weighs most, so a reader sees which way the mix moved without reading the counts.
    """
    row = _row("label_mix", day, base, cfg)
    day_counts = np.array([pd.to_numeric(day[c]).sum() for c in COUNT_COLUMNS], dtype=float)
    base_counts = np.array([pd.to_numeric(base[c]).sum() for c in COUNT_COLUMNS], dtype=float)
    chi = row["day_turns"] < cfg.chi_square_below
    row.update(test="chi_square" if chi else "jensen_shannon", threshold=cfg.p_value if chi else cfg.js_distance)
    probing = LABELS.index("knowledge_probing")
    day_share = day_counts[probing] / day_counts.sum() if day_counts.sum() else None
    base_share = base_counts[probing] / base_counts.sum() if base_counts.sum() else None
    row.update(day_value=day_share, baseline_value=base_share)
    if not (day_counts.sum() and base_counts.sum()):
        return row
    if chi:
        table = np.vstack([day_counts, base_counts])
        table = table[:, table.sum(axis=0) > 0]
        statistic, p = (0.0, 1.0) if table.shape[1] < 2 else chi2_contingency(table)[:2]
        row.update(statistic=float(statistic), p_value=float(p))
        alarm = p < cfg.p_value
        test_says = (f"chi-square {statistic:.2f}, p {p:.2g} {'<' if alarm else '>='} drift.p_value "
                     f"{cfg.p_value:g}")
    else:
        distance = float(jensenshannon(day_counts, base_counts, base=2))
        row.update(statistic=distance)
        alarm = distance >= cfg.js_distance
        test_says = (f"Jensen-Shannon distance {distance:.3f} {'>=' if alarm else '<'} drift.js_distance "
                     f"{cfg.js_distance:g}")
    if row["status"] != "insufficient_data":
        row.update(status="alarm" if alarm else "ok", reason=(
            f"label mix {'moved' if alarm else 'steady'}: {test_says} (knowledge_probing share {day_share:.3f} "
            f"on {row['day_turns']} day turns vs {base_share:.3f} on {row['baseline_turns']} baseline turns)"))
    return row


def _per_turn(metric: str, column: str, test: str, threshold: float, day: pd.DataFrame, base: pd.DataFrame,
              cfg: DriftConfig) -> tuple[dict, float | None, float | None]:
    """The row of a per-rep-turn metric (``column`` / rep turns) over the rows that carry ``column``."""
    day, base = _with(day, column), _with(base, column)
    row = _row(metric, day, base, cfg)
    day_value, base_value = _ratio(day, column), _ratio(base, column)
    row.update(test=test, threshold=threshold, day_value=day_value, baseline_value=base_value)
    return row, day_value, base_value


def _low_confidence(day: pd.DataFrame, base: pd.DataFrame, cfg: DriftConfig) -> dict:
    """Absolute change of the low-confidence share: shares near 0 make a ratio jumpy, a delta is not."""
    row, day_value, base_value = _per_turn("low_confidence_share", "low_confidence_turns", "abs_delta",
                                           cfg.low_confidence_delta, day, base, cfg)
    if day_value is None or base_value is None:
        return row
    delta = abs(day_value - base_value)
    row.update(statistic=delta)
    if row["status"] != "insufficient_data":
        alarm = delta >= cfg.low_confidence_delta
        row.update(status="alarm" if alarm else "ok", reason=(
            f"low-confidence share {day_value:.3f} today vs {base_value:.3f} baseline: |delta| {delta:.3f} "
            f"{'>=' if alarm else '<'} drift.low_confidence_delta {cfg.low_confidence_delta:g}"))
    return row


def _rep_words(day: pd.DataFrame, base: pd.DataFrame, cfg: DriftConfig) -> dict:
    """Ratio of mean words per rep turn, either way: re-segmented turns grow or shrink by a factor.

    ``statistic`` is day / baseline; a baseline mean of 0 (no words at all) gives infinity when the
    day has words and 1 when it has none.
    """
    row, day_value, base_value = _per_turn("mean_rep_words", "rep_words", "ratio", cfg.words_ratio, day, base, cfg)
    if day_value is None or base_value is None:
        return row
    ratio = day_value / base_value if base_value else (np.inf if day_value else 1.0)
    row.update(statistic=float(ratio))
    if row["status"] != "insufficient_data":
        low = 1 / cfg.words_ratio if cfg.words_ratio else np.inf
        if ratio >= cfg.words_ratio:
            verdict = f">= drift.words_ratio {cfg.words_ratio:g}"
        elif ratio <= low:
            verdict = f"<= 1 / drift.words_ratio {low:.3g}"
        else:
            verdict = f"within ({low:.3g}, {cfg.words_ratio:g})"
        alarm = not verdict.startswith("within")
        row.update(status="alarm" if alarm else "ok", reason=(
            f"mean rep words {day_value:.1f} today vs {base_value:.1f} baseline: ratio {ratio:.2f} {verdict}"))
    return row


_METRICS: dict[str, Callable[[pd.DataFrame, pd.DataFrame, DriftConfig], dict]] = {
    "label_mix": _label_mix, "low_confidence_share": _low_confidence, "mean_rep_words": _rep_words}


def drift_table(day_calls: pd.DataFrame, baseline_calls: pd.DataFrame | None, cfg: DriftConfig,
                model_version: str, run_id: str) -> pd.DataFrame:
    """The day's drift rows: every metric, overall and for each team with calls that day.

    Args:
        day_calls: the day's calls-table rows (``REQUIRED_COLUMNS`` and ``INPUT_COLUMNS``).
        baseline_calls: calls-table rows of the trailing days, already limited by the caller to
            ``[day - cfg.baseline_days, day)``, with their ``date``; None or empty when there is no
            history yet (every row is then ``insufficient_data``). Rows with a null or absent
            ``low_confidence_turns`` / ``rep_words`` (written before those columns existed) are left
            out of that metric's baseline only.
        cfg: the thresholds.
        model_version: the model that labelled the day, recorded on every row.
        run_id: the run that computed the rows.

    Returns:
        Exactly the columns of ``pipeline.schemas.DRIFT``, one row per scope, team and metric.

    Raises:
        ValueError: a required column is missing; the message names them.
    """
    _require(day_calls, REQUIRED_COLUMNS + INPUT_COLUMNS, "day_calls")
    if baseline_calls is None or baseline_calls.empty:
        baseline_calls = pd.DataFrame(columns=[*REQUIRED_COLUMNS, *INPUT_COLUMNS, "date"])
    _require(baseline_calls, (*REQUIRED_COLUMNS, "date"), "baseline_calls")
    scopes: list[tuple[str, str | None, pd.DataFrame, pd.DataFrame]] = [("overall", None, day_calls, baseline_calls)]
    for team in sorted(day_calls["team"].dropna().unique()):
        scopes.append(("team", str(team), day_calls[day_calls["team"] == team],
                       baseline_calls[baseline_calls["team"] == team]))
    rows = []
    for scope, team, day, base in scopes:
        for metric in DRIFT_METRICS:
            row = {"scope": scope, "team": team, **_METRICS[metric](day, base, cfg),
                   "model_version": model_version, "run_id": run_id}
            if row["status"] == "alarm":
                logger.warning("drift alarm (%s%s, %s): %s", scope, f" {team}" if team else "", metric, row["reason"])
            rows.append(row)
    frame = pd.DataFrame(rows, columns=DRIFT.names)
    for column in _FLOATS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["day_turns"] = frame["day_turns"].astype("int64")
    frame["baseline_turns"] = frame["baseline_turns"].astype("int64")
    frame["baseline_days"] = frame["baseline_days"].astype("int32")
    return frame


__all__ = ["INPUT_COLUMNS", "REQUIRED_COLUMNS", "drift_table"]
