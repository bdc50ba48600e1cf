"""The quality gate: Great Expectations suites over one day's three tables, run before publishing.

The suites live as JSON in ``expectations/<table>.json`` (one per table), so a reviewer reads the
rules without reading code and ``gx.ExpectationSuite(**json.load(f))`` loads them as they are. They
ship in the package as ``pipeline._suites`` and are read through ``pipeline.paths.suites()``.
Rules that span several columns or tables (shares summing to 1, a scorecard's ``calls`` matching the
calls table, ...) are checked on ``_``-prefixed derived columns that :func:`with_derived_columns`
adds to copies of the frames just before validation; each expectation's ``meta.derived_column``
says how its column is computed, and ``meta.example_columns`` names the columns quoted as
examples when it fails.

Row numbers in a report are positions in the frames as passed in (the copies are re-indexed
0..n-1), i.e. row numbers of the staged Parquet files.

Great Expectations is imported inside the functions: importing it takes about 2.5 s, which DAG
parsing and the CLI's other commands should not pay.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline import paths
from pipeline.schemas import CORE_TABLES, PROB_COLUMNS, SHARE_COLUMNS, TABLES
from pipeline.warehouse import datadocs

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult

log = logging.getLogger(__name__)

MAX_ROWS = 1000
"""Row numbers kept per failed expectation (GX's ``partial_unexpected_count``); the count is exact."""
MAX_EXAMPLES = 5
"""Example values quoted per failed expectation."""
_SUMMARY_ROWS = 10
_SCHEMA_EXPECTATIONS = ("expect_table_columns_to_match_set", "expect_column_values_to_be_of_type")


@dataclass(frozen=True)
class Failure:
    """One failed expectation: what failed, where, and what the offending values look like.

    Attributes:
        table: the table whose suite failed.
        expectation: the GX expectation type, e.g. ``expect_column_values_to_be_between``.
        column: the column (or ``"a, b"`` for pair and compound expectations); None for table-level ones.
        unexpected_count: how many rows broke it (0 for table-level expectations and errors).
        rows: row numbers of the offending rows (at most ``MAX_ROWS``).
        examples: a few offending values, or dicts of ``meta.example_columns`` for derived columns,
            or the missing columns / observed type for table-level expectations.
        detail: what a row-less failure observed, or the error GX raised while computing it.
    """

    table: str
    expectation: str
    column: str | None
    unexpected_count: int
    rows: list[int]
    examples: list
    detail: str | None = None

    def describe(self) -> str:
        """One line for a human: ``table: expectation(column) failed on N rows [..], e.g. [..]``."""
        head = f"{self.table}: {self.expectation}({self.column or ''})"
        if self.detail:
            return f"{head} failed: {self.detail}"
        shown = self.rows[:_SUMMARY_ROWS]
        more = ", ..." if self.unexpected_count > len(shown) else ""
        rows = f"[{', '.join(map(str, shown))}{more}]"
        noun = "row" if self.unexpected_count == 1 else "rows"
        return f"{head} failed on {self.unexpected_count} {noun} {rows}, e.g. {self.examples}"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of one day's gate, small enough to log and complete enough to store.

    Attributes:
        success: True when every blocking expectation of every table passed.
        failures: the failed blocking expectations, schema failures first, tables in ``TABLES`` order.
        statistics: per table, GX's evaluated/successful/unsuccessful expectation counts and the rows.
        data_docs_index: the Data Docs ``index.html`` built for this run, or None when none was.
        results: per table, GX's full validation result as JSON (what ``to_json`` stores).
    """

    success: bool
    failures: list[Failure]
    statistics: dict
    data_docs_index: str | None
    results: dict = field(default_factory=dict, repr=False)
    warnings: list[Failure] = field(default_factory=list)
    """Failed expectations of severity ``warning`` (the drift alarms): reported, never blocking."""

    def summary(self) -> str:
        """A message for logs and exceptions: the verdict, then one line per failed expectation."""
        counts = ", ".join(f"{t} {s['successful_expectations']}/{s['evaluated_expectations']}"
                           for t, s in self.statistics.items())
        if self.success:
            return f"all expectations passed ({counts})"
        lines = [f"{len(self.failures)} expectation(s) failed (passed: {counts})"]
        lines += [f.describe() for f in self.failures]
        return "\n".join(lines)

    def to_json(self) -> dict:
        """Everything, JSON-serialisable, for storing beside the quarantined tables."""
        return _plain({"success": self.success, "statistics": self.statistics,
                       "data_docs_index": self.data_docs_index, "summary": self.summary(),
                       "failures": [asdict(f) for f in self.failures],
                       "warnings": [asdict(f) for f in self.warnings], "results": self.results})


class ValidationError(RuntimeError):
    """Raised by callers (not by :func:`validate_tables`) when a day fails its gate; carries ``.report``."""

    def __init__(self, message: str, report: ValidationReport):
        super().__init__(message)
        self.report = report


def load_suite(table: str) -> gx.ExpectationSuite:
    """The table's expectation suite from ``expectations/<table>.json`` (installed as ``pipeline._suites``).

    Raises:
        ValueError: ``table`` is not one of ``TABLES``.
        FileNotFoundError: a known table's suite is absent: the installation is incomplete (a wheel
            built without its package data), which must stop the gate rather than skip the table.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
    gx = _import_gx()
    source = paths.suites().joinpath(f"{table}.json")
    if not source.is_file():
        raise FileNotFoundError(f"no expectation suite for table {table!r} at {source} "
                                f"({paths.SUITES_PACKAGE}): the callscore installation is incomplete")
    return gx.ExpectationSuite(**json.loads(source.read_text(encoding="utf-8")))


def with_derived_columns(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies of the three frames, re-indexed 0..n-1, with the derived columns the suites check.

    GX expectations see one row of one table at a time, so sums across columns and facts from
    another table are precomputed here. Cross-table lookups match on ``date`` too when both frames
    carry it. A derived column whose inputs are missing or unusable is left out: the expectation on
    it then fails with a "column does not exist" error, next to the schema failure that caused it.
    """
    extra = {t: tables[t].reset_index(drop=True) for t in tables if t not in CORE_TABLES}
    if not all(t in tables for t in CORE_TABLES):
        return extra
    utt, calls, cards = (tables[t].reset_index(drop=True) for t in CORE_TABLES)

    _derive(utt, "_prob_sum", lambda: _row_sum(utt, PROB_COLUMNS))
    _derive(utt, "_span_s", lambda: utt["end_s"].astype("float64") - utt["start_s"].astype("float64") + 1e-6)
    _derive(utt, "_prob_count", lambda: utt[PROB_COLUMNS].notna().sum(axis=1).astype("int64"))
    _derive(calls, "_share_sum", lambda: _row_sum(calls, SHARE_COLUMNS))
    _derive(cards, "_share_sum", lambda: _row_sum(cards, SHARE_COLUMNS))

    by_call = _join_keys(utt, calls, "call_id")
    _derive(utt, "_call_known", lambda: _has_match(utt, calls, by_call))
    _derive(utt, "_call_rep_id", lambda: _lookup(utt, calls, by_call, "rep_id"))
    for role, name in (("rep", "_rep_turns_in_utterances"), ("customer", "_customer_turns_in_utterances")):
        _derive(calls, name, lambda role=role: _count(calls, utt[utt["speaker_role"] == role], by_call))

    by_rep = _join_keys(calls, cards, "rep_id")
    _derive(calls, "_rep_scored", lambda: _has_match(calls, cards, by_rep))
    _derive(cards, "_calls_in_calls_table", lambda: _count(cards, calls, by_rep))
    _derive(cards, "_rep_utterances_in_calls", lambda: _count(cards, calls, by_rep, "rep_utterances"))
    return {"utterances": utt, "calls": calls, "scorecards": cards, **extra}


def validate_tables(tables: dict[str, pd.DataFrame], docs_dir: str | Path | None = None,
                    required: tuple[str, ...] = CORE_TABLES) -> ValidationReport:
    """Validate one day's tables against their suites; never raises on a failed validation.

    The core tables are checked together (their cross-table rules need all three); the small
    derived tables (``INSIGHT_TABLES``) need no other table (``run.validate_day`` passes them whole
    with its last batch of reps). Expectations of
    severity ``warning`` (the drift suite's alarm rule) land in ``report.warnings`` and never
    make the report fail: a drift alarm warns, it does not block publishing.

    Args:
        tables: frames keyed by table name (a ``date`` column, the partition key, is accepted in
            each). They are not modified.
        required: tables that must be among ``tables``.
        docs_dir: folder of the Data Docs site to (re)build with this run's results; None builds none.
            The site shows the latest run only: full results of a failed run belong with its
            quarantined data (``ValidationReport.to_json``).

    Returns:
        The report; ``report.success`` tells whether the day may be published.
    """
    gate = Gate(docs_dir)
    report = gate.validate(tables, required=required)
    return replace(report, data_docs_index=gate.build_docs())


class Gate:
    """One day's gate: a GX context whose suites and validation definitions serve every batch of the day.

    ``run.validate_day`` makes one gate and validates its batches of reps through it, then builds
    the Data Docs once (each batch is a run of its own there), instead of a context, seven suites and a
    site per batch. Each table first runs with GX's ``BASIC`` result format (verdicts, counts, observed
    values: what Data Docs shows); only a table with a failed expectation runs again with ``SUMMARY``,
    which adds the offending row numbers a report quotes and took about twice as long on a 34,000-row
    batch. A passing day, the usual case, pays the cheap run.
    """

    def __init__(self, docs_dir: str | Path | None = None):
        self.docs_dir = Path(docs_dir).resolve() if docs_dir is not None else None
        self._context = _context(self.docs_dir)
        self._source = None
        self._definitions: dict[str, Any] = {}
        self._runs = 0

    def validate(self, tables: dict[str, pd.DataFrame], required: tuple[str, ...] = CORE_TABLES,
                 label: str | None = None) -> ValidationReport:
        """Validate one batch of tables (see :func:`validate_tables`); ``label`` names the run in Data Docs.

        The report's ``data_docs_index`` is None: :meth:`build_docs` builds the site once, after the batches.
        """
        missing = [t for t in required if t not in tables]
        unknown = [t for t in tables if t not in TABLES]
        if missing or unknown:
            raise ValueError(f"validate_tables needs the frames {list(required)} (known: {list(TABLES)}); "
                             f"missing {missing}, unknown {unknown}")
        started = time.perf_counter()
        self._runs += 1
        frames = with_derived_columns(tables)
        day = _day(frames)
        name = "-".join(p for p in ("callscore", day, label) if p)
        run_id = _run_identifier(name)
        results = {t: self._run(t, frames[t], "BASIC", run_id) for t in TABLES if t in frames}
        for table in [t for t, r in results.items() if not all(e.success for e in r.results)]:
            results[table] = self._run(table, frames[table], _SUMMARY_FORMAT, run_id)

        failures: list[Failure] = []
        warnings: list[Failure] = []
        statistics: dict[str, dict] = {}
        for table in results:
            result = results[table]
            statistics[table] = {**{k: _plain(v) for k, v in result.statistics.items()}, "rows": len(frames[table])}
            blocking, warned = _failures(table, result, frames[table])
            failures += blocking
            warnings += warned
        order = {t: i for i, t in enumerate(TABLES)}
        failures.sort(key=lambda f: (order[f.table], f.expectation not in _SCHEMA_EXPECTATIONS))
        for w in warnings:
            log.warning("quality warning (not blocking): %s", w.describe())
        report = ValidationReport(success=not failures, failures=failures, statistics=statistics,
                                  data_docs_index=None, results={t: r.to_json_dict() for t, r in results.items()},
                                  warnings=warnings)
        log.info("quality gate %s in %.2fs: %s", "passed" if report.success else f"FAILED ({len(failures)} failures)",
                 time.perf_counter() - started, {t: s["rows"] for t, s in statistics.items()})
        return report

    def build_docs(self) -> str | None:
        """(Re)build the Data Docs site with every run of this gate; the index path, or None (no site)."""
        if self.docs_dir is None or not self._runs:
            return None
        return datadocs.build(self._context, self.docs_dir)

    def _run(self, table: str, frame: pd.DataFrame, result_format: Any, run_id: Any
             ) -> ExpectationSuiteValidationResult:
        """One table's suite on ``frame``. One ValidationDefinition per table, since a Checkpoint hands the
        same batch parameters (the dataframe) to all of its validations."""
        definition = self._definitions.get(table)
        if definition is None:
            gx = _import_gx()
            if self._source is None:
                self._source = self._context.data_sources.add_pandas("callscore")
            batch = self._source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("day")
            suite = self._context.suites.add(load_suite(table))
            definition = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=table, data=batch, suite=suite))
            self._definitions[table] = definition
        return definition.run(batch_parameters={"dataframe": frame}, result_format=result_format, run_id=run_id)


_SUMMARY_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_ROWS}


def _run_identifier(name: str) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=name, run_time=datetime.now(UTC))


# --- derived columns -----------------------------------------------------------------------------

def _derive(frame: pd.DataFrame, name: str, compute: Callable[[], Any]) -> None:
    """Add one derived column; inputs too broken to compute it are the suites' to report, not ours."""
    try:
        frame[name] = compute()
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("derived column %s not computed: %s", name, exc)


def _row_sum(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Row sums in float64; NaN when a value is null or not numeric, so the sum cannot look valid."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce").astype("float64")
    return values.sum(axis=1, skipna=False)


def _join_keys(left: pd.DataFrame, right: pd.DataFrame, key: str) -> list[str]:
    """Join on the day as well when both frames carry it, so rows of another day never match."""
    return ["date", key] if "date" in left.columns and "date" in right.columns else [key]


def _key_frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    # one dtype on both sides, so an empty or object-typed frame still joins
    return pd.DataFrame({k: frame[k].astype("string") for k in keys})


def _has_match(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> np.ndarray:
    matched = _key_frame(left, keys).merge(_key_frame(right, keys).drop_duplicates(), on=keys, how="left",
                                           indicator=True)
    return (matched["_merge"] == "both").to_numpy()


def _lookup(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], column: str) -> np.ndarray:
    values = _key_frame(right, keys).assign(_value=right[column].to_numpy()).drop_duplicates(keys)
    return _key_frame(left, keys).merge(values, on=keys, how="left")["_value"].to_numpy()


def _count(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], summed: str | None = None) -> np.ndarray:
    """Per left row: how many right rows share its keys, or the sum of ``summed`` over them (0 if none)."""
    groups = _key_frame(right, keys)
    if summed is None:
        agg = groups.groupby(keys).size()
    else:
        agg = groups.assign(_v=pd.to_numeric(right[summed], errors="coerce").to_numpy()).groupby(keys)["_v"].sum()
    merged = _key_frame(left, keys).merge(agg.rename("_n").reset_index(), on=keys, how="left")
    return merged["_n"].fillna(0).astype("int64").to_numpy()


# --- Great Expectations ---------------------------------------------------------------------------

def _import_gx() -> Any:
    """Import GX on first use, quieting its logger unless the application set its level.

    At INFO, GX logs a couple of hundred lines while importing; in task logs that buries ours.
    """
    gx_log = logging.getLogger("great_expectations")
    if gx_log.level == logging.NOTSET:
        gx_log.setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _context(docs_dir: Path | None) -> Any:
    """An in-memory context (nothing written but the Data Docs), without progress bars or analytics."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = datadocs.site_config(docs_dir) if docs_dir is not None else {}
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), data_docs_sites=sites,
                               progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False)
    return gx.get_context(mode="ephemeral", project_config=config)


def _day(frames: dict[str, pd.DataFrame]) -> str | None:
    """The partition day, to name the run in Data Docs."""
    for table in TABLES:
        frame = frames.get(table)
        if frame is None:
            continue
        if "date" in frame.columns and len(frame) and pd.notna(frame["date"].iloc[0]):
            return str(frame["date"].iloc[0])
    return None


def _failures(table: str, result: ExpectationSuiteValidationResult, frame: pd.DataFrame
              ) -> tuple[list[Failure], list[Failure]]:
    """The failed expectations of one table's result, with rows and examples a human can act on.

    Returns:
        The blocking failures, and the failures of warning-level expectations.
    """
    out: list[Failure] = []
    warned: list[Failure] = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        kwargs, meta, details = config.kwargs, config.meta or {}, r.result or {}
        column = kwargs.get("column") or ", ".join(
            kwargs.get("column_list") or [c for c in (kwargs.get("column_A"), kwargs.get("column_B")) if c]) or None
        error = _error_message(r.exception_info)
        rows = [int(i) for i in details.get("partial_unexpected_index_list") or details.get("unexpected_index_list")
                or []][:MAX_ROWS]
        count = int(details.get("unexpected_count") or 0)
        detail = None
        if error:
            examples, detail = [], f"error: {error}"
        elif config.type == "expect_table_columns_to_match_set":
            missing = details.get("details", {}).get("mismatched", {}).get("missing", [])
            examples, detail = list(missing), f"missing columns {missing}"
        elif "unexpected_count" not in details:  # aggregate expectations: nothing row by row
            examples = [details.get("observed_value")]
            detail = _observed(config.type, kwargs, details.get("observed_value"))
        else:
            examples = _examples(frame, rows, meta.get("example_columns"), details.get("partial_unexpected_list"))
        failure = Failure(table=table, expectation=config.type, column=column, unexpected_count=count,
                          rows=rows, examples=_plain(examples), detail=detail)
        (warned if _is_warning(config) and not error else out).append(failure)
    return out, warned


def _is_warning(config: Any) -> bool:
    """GX 1.x's own ``severity`` field, or ``meta.severity``, says ``warning``."""
    severity = getattr(config, "severity", None) or (config.meta or {}).get("severity")
    return str(getattr(severity, "value", severity)).lower() == "warning"


def _error_message(info: Any) -> str | None:
    """GX's exception_info is either one dict or a dict of them keyed by metric id."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    messages = {str(v.get("exception_message")) for v in info.values() if isinstance(v, dict) and
                v.get("raised_exception")}
    return "; ".join(sorted(messages)) or None


def _observed(expectation: str, kwargs: dict, observed: Any) -> str:
    """What a row-less (aggregate) expectation saw, next to what it wanted."""
    if expectation == "expect_column_values_to_be_of_type":
        return f"expected type {kwargs.get('type_')}, observed {observed}"
    wanted = {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")}
    return f"observed {_plain(observed)}, expected {wanted}"


def _examples(frame: pd.DataFrame, rows: list[int], columns: list[str] | None, values: list | None) -> list:
    """The offending values, or for derived columns the identifying columns of the offending rows."""
    if columns and rows and all(c in frame.columns for c in columns):
        picked = frame.loc[rows[:MAX_EXAMPLES], columns]
        return [dict(zip(columns, rec, strict=True)) for rec in picked.itertuples(index=False, name=None)]
    return list(values or [])[:MAX_EXAMPLES]


def _plain(value: Any) -> Any:
    """A JSON-serialisable copy: numpy scalars to Python, NaN/NA to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
