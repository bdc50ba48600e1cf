"""The end-of-run summary that ``make run`` prints: what was published, per rep.

Pure: the caller (``pipeline.run.summarize``) reads the run records and runs the two
queries below against the warehouse, then hands the results here to format.
"""

from __future__ import annotations

import json

import pandas as pd

from pipeline.schemas import TABLES

TOTALS_SQL = "SELECT CAST(count(*) AS INTEGER) AS calls, CAST(count(DISTINCT rep_id) AS INTEGER) AS reps FROM calls"

PER_REP_SQL = """
    WITH tiers AS (  -- a rep's most frequent tier; ties go to the most recent day, then the name
        SELECT rep_id, tier, row_number() OVER (
                   PARTITION BY rep_id ORDER BY count(*) DESC, max(date) DESC, tier) AS rank
        FROM scorecards GROUP BY rep_id, tier)
    SELECT s.rep_id, max(s.rep_name) AS rep_name, max(s.team) AS team, CAST(sum(s.calls) AS INTEGER) AS calls,
           round(sum(s.knowledge_probing_share * s.rep_utterances) / sum(s.rep_utterances), 2) AS probing,
           round(sum(s.trust_commitment_share * s.rep_utterances) / sum(s.rep_utterances), 2) AS commitment,
           round(sum(s.rapport_share * s.rep_utterances) / sum(s.rep_utterances), 2) AS rapport,
           round(sum(s.rep_talk_ratio * s.calls) / sum(s.calls), 2) AS talk_ratio,
           round(avg(s.advisor_score), 1) AS advisor_score, any_value(t.tier) AS tier
    FROM scorecards s JOIN tiers t ON t.rep_id = s.rep_id AND t.rank = 1
    GROUP BY s.rep_id ORDER BY advisor_score DESC, s.rep_id"""


def summary_text(runs: list[dict], totals: pd.DataFrame | None, per_rep: pd.DataFrame | None, warehouse: str,
                 data_docs: str, report: str | None = None) -> str:
    """Days, calls, reps, quarantined items, output locations and a per-rep table."""
    if not runs:
        return f"nothing published yet in {warehouse}"
    lines = ["Published days:"]
    for r in runs:
        ing = r.get("ingest") or {}
        lines.append(f"  {r['day']}: {ing.get('calls_parsed', '?')} calls from {ing.get('files_seen', '?')} files, "
                     f"{r['quarantined']} quarantined {json.dumps(ing.get('by_kind', {}))}  (run {r['run_id']})")
    lines.append(f"Totals: {int(totals.calls[0])} calls, {int(totals.reps[0])} reps")
    lines.append(f"Outputs: {warehouse}/{{{','.join(TABLES)}}}/date=*/part-0.parquet")
    lines.append(f"Quarantine: {warehouse}/quarantine/date=*/records.jsonl")
    lines.append(f"Data Docs: {data_docs}")
    if report:
        lines.append(f"Report: {report}")
    lines += ["", "Per rep (all published days):", per_rep.to_string(index=False)]
    return "\n".join(lines)
