"""The end-of-run summary that ``make run`` prints: what was published, per rep."""

from __future__ import annotations

import json

from pipeline import storage
from pipeline.settings import Settings
from pipeline.warehouse import query


def summary_text(settings: Settings) -> str:
    """Days, calls, reps, quarantined items, output locations and a per-rep table."""
    opts = settings.storage_options
    runs = [storage.read_json(url, opts) for url, _ in storage.iter_files(storage.join(settings.warehouse, "_runs"),
                                                                            opts)]
    if not runs:
        return f"nothing published yet in {settings.warehouse}"
    lines = ["Published days:"]
    for r in runs:
        ing = r.get("ingest") or {}
        lines.append(f"  {r['day']}: {ing.get('calls_parsed', '?')} calls from {ing.get('files_seen', '?')} files, "
                     f"{r['quarantined']} quarantined {json.dumps(ing.get('by_kind', {}))}  (run {r['run_id']})")
    totals = query(settings.warehouse, "SELECT count(*) AS calls, count(DISTINCT rep_id) AS reps FROM calls", opts)
    lines.append(f"Totals: {int(totals.calls[0])} calls, {int(totals.reps[0])} reps")
    lines.append(f"Outputs: {settings.warehouse}/{{utterances,calls,scorecards}}/date=*/part-0.parquet")
    lines.append(f"Quarantine: {settings.warehouse}/quarantine/date=*/records.jsonl")
    lines.append(f"Data Docs: {settings.data_docs}")
    per_rep = query(settings.warehouse, """
        SELECT rep_name, any_value(team) AS team, sum(calls) AS calls,
               round(sum(knowledge_probing_share * rep_utterances) / sum(rep_utterances), 2) AS probing,
               round(sum(trust_commitment_share * rep_utterances) / sum(rep_utterances), 2) AS commitment,
               round(sum(rapport_share * rep_utterances) / sum(rep_utterances), 2) AS rapport,
               round(sum(rep_talk_ratio * calls) / sum(calls), 2) AS talk_ratio,
               round(avg(advisor_score), 1) AS advisor_score, mode(tier) AS tier
        FROM scorecards GROUP BY rep_name ORDER BY advisor_score DESC""", opts)
    lines += ["", "Per rep (all published days):", per_rep.to_string(index=False)]
    return "\n".join(lines)
