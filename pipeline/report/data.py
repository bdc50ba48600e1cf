"""What the report reads from the warehouse: SQL over the published views, run records and quarantine records.

Every table read goes through :func:`pipeline.warehouse.query.query` (the committed files only,
read-only DuckDB), so the report sees exactly what analysts see. The insight tables
(``coaching_moments``, ``benchmarks``, ``drift``, ``review_queue``) may be absent from an older
warehouse, and columns added later (intervals, ``tier_reason``, ``call_type``) may be absent from
older days: each query is built from the columns that exist, and a missing table gives an empty
frame, never an error.

Customer text: nothing here selects ``utterances.text`` or ``review_queue.previous_customer_text``.
The only turn text read is ``coaching_moments.text``, a rep's own turn, published already redacted
per the ``customer_text`` setting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline import LABELS
from pipeline.schemas import TABLES
from pipeline.settings import Settings
from pipeline.warehouse import commit, layout, storage
from pipeline.warehouse.query import query

log = logging.getLogger(__name__)

TREND_LABELS = ("knowledge_probing", "trust_commitment", "rapport")
"""The shares a rep's trend charts follow (probing, commitment, rapport)."""


@dataclass
class ReportData:
    """Everything the pages show, as frames (empty when the warehouse lacks the table)."""

    tables: list[str]
    latest_cards: pd.DataFrame
    rep_totals: pd.DataFrame
    team_trend: pd.DataFrame
    rep_trend: pd.DataFrame
    talk_ratio: pd.DataFrame
    coaching: pd.DataFrame
    drift: pd.DataFrame
    review_counts: pd.DataFrame
    records: list[dict] = field(default_factory=list)
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)
    failed_validations: list[dict] = field(default_factory=list)


class Reader:
    """SQL over one warehouse that knows which tables and columns exist."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.records = commit.committed_records(settings.warehouse, settings.storage_options)
        self.tables = [t for t in TABLES if any(commit.committed_files(r, t) for r in self.records)]
        self._columns: dict[str, set[str]] = {}

    def columns(self, table: str) -> set[str]:
        """The columns of a view (empty for a table no day holds)."""
        if table not in self.tables:
            return set()
        if table not in self._columns:
            self._columns[table] = set(self.sql(f"SELECT * FROM {table} LIMIT 0").columns)
        return self._columns[table]

    def sql(self, text: str) -> pd.DataFrame:
        return query(self.settings.warehouse, text, self.settings.storage_options)

    def col(self, table: str, name: str, fallback: str = "NULL") -> str:
        """``name`` when the view has it, else the SQL ``fallback`` (aliased to the name)."""
        return name if name in self.columns(table) else f"{fallback} AS {name}"


def _turns_expr(reader: Reader, label: str) -> str:
    """A label's turn count per call: the additive column, or share x turns for days written before it."""
    if f"{label}_turns" in reader.columns("calls"):
        return f"{label}_turns"
    return f"round({label}_share * rep_utterances)"


def latest_scorecards(reader: Reader) -> pd.DataFrame:
    """Each rep's most recent scorecard: the advisor score, tier, why, and the shares with Wilson intervals."""
    if "scorecards" not in reader.tables:
        return pd.DataFrame()
    extra = [reader.col("scorecards", c) for c in
             ("tier_reason", *[f"{label}_share_{end}" for label in LABELS for end in ("lo", "hi")])]
    return reader.sql(f"""
        SELECT rep_id, rep_name, team, date, calls, rep_utterances, advisor_score, tier, rep_talk_ratio,
               {", ".join(f"{label}_share" for label in LABELS)}, {", ".join(extra)}
        FROM scorecards
        QUALIFY row_number() OVER (PARTITION BY rep_id ORDER BY date DESC) = 1
        ORDER BY advisor_score DESC NULLS LAST, rep_id""")


def rep_totals(reader: Reader) -> pd.DataFrame:
    """Per rep over every published day: calls, rep turns, turns per label (the label mix)."""
    if "calls" not in reader.tables:
        return pd.DataFrame()
    turns = ", ".join(f"sum({_turns_expr(reader, label)}) AS {label}_turns" for label in LABELS)
    return reader.sql(f"""
        SELECT rep_id, any_value(rep_name) AS rep_name, any_value(team) AS team, count(*) AS calls,
               sum(rep_utterances) AS rep_utterances, {turns}, avg(rep_talk_ratio) AS rep_talk_ratio,
               min(date) AS first_day, max(date) AS last_day
        FROM calls GROUP BY rep_id ORDER BY rep_id""")


def weekly_shares(reader: Reader, by_rep: bool) -> pd.DataFrame:
    """Label shares per ISO week (Monday), pooled over turns, for all reps or per rep: long format."""
    if "calls" not in reader.tables:
        return pd.DataFrame()
    key = "rep_id, " if by_rep else ""
    turns = ", ".join(f"sum({_turns_expr(reader, label)}) AS {label}" for label in LABELS)
    wide = reader.sql(f"""
        SELECT {key}strftime(date_trunc('week', date), '%Y-%m-%d') AS week, sum(rep_utterances) AS turns, {turns}
        FROM calls GROUP BY ALL ORDER BY ALL""")
    if wide.empty:
        return wide
    long = wide.melt(id_vars=[c for c in ("rep_id", "week", "turns") if c in wide.columns], value_vars=list(LABELS),
                     var_name="label", value_name="label_turns")
    long["share"] = (long["label_turns"] / long["turns"].where(long["turns"] > 0)).astype(float)
    return long


def talk_ratio_vs_peers(reader: Reader) -> pd.DataFrame:
    """Per rep and call type: the rep's talk ratio and the peers' (the ``benchmarks`` table, else from calls).

    Pooled over days, weighted by calls, so a day with one call does not count as much as a full one.
    """
    if "benchmarks" in reader.tables and "peer_rep_talk_ratio" in reader.columns("benchmarks"):
        return reader.sql("""
            SELECT rep_id, call_type, sum(calls) AS calls,
                   sum(rep_talk_ratio * calls) / nullif(sum(calls), 0) AS rep,
                   sum(peer_rep_talk_ratio * peer_calls) / nullif(sum(peer_calls), 0) AS peers
            FROM benchmarks GROUP BY rep_id, call_type ORDER BY rep_id, call_type""")
    if "calls" not in reader.tables:
        return pd.DataFrame()
    call_type = reader.col("calls", "call_type", "'all calls'")
    return reader.sql(f"""
        WITH c AS (SELECT rep_id, coalesce(call_type, 'other') AS call_type, rep_talk_ratio
                   FROM (SELECT rep_id, {call_type}, rep_talk_ratio FROM calls)),
             per AS (SELECT rep_id, call_type, count(*) AS calls, sum(rep_talk_ratio) AS total FROM c GROUP BY ALL),
             typ AS (SELECT call_type, sum(calls) AS calls, sum(total) AS total FROM per GROUP BY call_type)
        SELECT per.rep_id, per.call_type, per.calls, per.total / per.calls AS rep,
               (typ.total - per.total) / nullif(typ.calls - per.calls, 0) AS peers
        FROM per JOIN typ USING (call_type) ORDER BY per.rep_id, per.call_type""")


def coaching_moments(reader: Reader) -> pd.DataFrame:
    """Coaching moments of every day, newest first; empty before the table exists."""
    if "coaching_moments" not in reader.tables:
        return pd.DataFrame()
    cols = [reader.col("coaching_moments", c) for c in
            ("kind", "rank", "call_id", "utterance_index", "start_s", "text", "label", "probability", "reason")]
    return reader.sql(f"""SELECT rep_id, date, {", ".join(cols)} FROM coaching_moments
                          ORDER BY date DESC, rep_id, kind, rank""")


def drift_rows(reader: Reader) -> pd.DataFrame:
    """Drift checks of every day, newest first, alarms before the rest."""
    if "drift" not in reader.tables:
        return pd.DataFrame()
    cols = [reader.col("drift", c) for c in ("scope", "team", "metric", "test", "statistic", "p_value", "threshold",
                                              "status", "reason")]
    return reader.sql(f"""SELECT date, {", ".join(cols)} FROM drift
                          ORDER BY date DESC, (status = 'alarm') DESC, scope, team, metric""")


def review_counts(reader: Reader) -> pd.DataFrame:
    """Turns queued for human review per day and stratum (counts only: the queue holds customer text)."""
    if "review_queue" not in reader.tables:
        return pd.DataFrame()
    stratum = reader.col("review_queue", "stratum", "'all'")
    return reader.sql(f"""SELECT date, stratum, count(*) AS turns FROM (SELECT date, {stratum} FROM review_queue)
                          GROUP BY ALL ORDER BY date DESC, stratum""")


def quarantine_counts(settings: Settings) -> pd.DataFrame:
    """Refused inputs per day and kind, from the quarantine records (``quarantine/date=D/records.jsonl``)."""
    rows: list[dict[str, Any]] = []
    for day in layout.quarantine_days(settings.warehouse, settings.storage_options):
        url = layout.quarantine_url(settings.warehouse, day, "records.jsonl")
        try:
            records = storage.read_jsonl(url, settings.storage_options)
        except FileNotFoundError:
            continue
        for record in records:
            rows.append({"date": day, "kind": str(record.get("kind") or "unknown")})
    if not rows:
        return pd.DataFrame(columns=["date", "kind", "files"])
    frame = pd.DataFrame(rows)
    return frame.groupby(["date", "kind"], as_index=False).size().rename(columns={"size": "files"})


def failed_validations(settings: Settings) -> list[dict]:
    """Runs refused by the GX gate: the day, the run and GX's summary (``quarantine/date=D/validation/<run>/``)."""
    out = []
    opts = settings.storage_options
    for day in layout.quarantine_days(settings.warehouse, opts):
        base = layout.quarantine_url(settings.warehouse, day, "validation")
        if not storage.exists(base, opts):
            continue
        for url, rel in storage.iter_files(base, opts):
            if not rel.endswith("/gx_result.json"):
                continue
            try:
                result = storage.read_json(url, opts)
            except (OSError, ValueError):
                log.warning("unreadable GX result %s", url)
                continue
            out.append({"date": day, "run": rel.rsplit("/", 1)[0], "success": bool(result.get("success")),
                        "summary": str(result.get("summary") or "")})
    return out


def load(settings: Settings) -> ReportData:
    """Read everything the report shows, once."""
    reader = Reader(settings)
    log.info("report: warehouse %s holds %s over %d day(s)", settings.warehouse, ", ".join(reader.tables) or "nothing",
             len(reader.records))
    return ReportData(tables=reader.tables, latest_cards=latest_scorecards(reader), rep_totals=rep_totals(reader),
                      team_trend=weekly_shares(reader, by_rep=False), rep_trend=weekly_shares(reader, by_rep=True),
                      talk_ratio=talk_ratio_vs_peers(reader), coaching=coaching_moments(reader),
                      drift=drift_rows(reader), review_counts=review_counts(reader),
                      records=sorted(reader.records, key=lambda r: str(r.get("day"))),
                      quarantine=quarantine_counts(settings), failed_validations=failed_validations(settings))
