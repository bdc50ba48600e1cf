"""The warehouse tables' schemas: the interface analysts rely on.

Shared by ``scoring`` (which computes the rows) and ``warehouse`` (which stores and
checks them), so it sits beside both rather than inside either: neither stage has to
import the other to agree on a column.

Each table is Hive-partitioned by call day (``<warehouse>/<table>/date=YYYY-MM-DD/``).
The ``date`` column lives in the partition path only, never inside the files, in every
table: a column of the same name inside a file clashes with the partition key in pandas
and pyarrow and gets a different type in polars, so the day has one type per tool across
all tables (DATE in DuckDB and polars, string in pyarrow, categorical in pandas).
Column meanings are documented in ``docs/data-dictionary.md``.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline import LABELS
from pipeline.transcripts.model import ROLES as ROLES  # re-exported: one definition, where roles are resolved
from pipeline.transcripts.model import SPEAKER_ROLES as SPEAKER_ROLES

PROB_COLUMNS = [f"p_{label}" for label in LABELS]
SHARE_COLUMNS = [f"{label}_share" for label in LABELS]
COUNT_COLUMNS = [f"{label}_turns" for label in LABELS]
INTERVAL_COLUMNS = [f"{label}_share_{end}" for label in LABELS for end in ("lo", "hi")]
"""Wilson 95% interval of each label share (``pipeline.scoring.uncertainty``)."""
CALL_TYPES = ("discovery", "demo", "negotiation", "follow_up", "other")
"""What a call was for (``pipeline.scoring.calltype``): reps are compared with peers on the same type."""
COACHING_KINDS = ("best_probe", "best_commitment", "missed_probe", "pitch_before_discovery", "long_monologue",
                  "vague_claim")
"""The kinds of coaching moment (``pipeline.scoring.coaching``)."""
DRIFT_METRICS = ("label_mix", "low_confidence_share", "mean_rep_words")
DRIFT_STATUSES = ("ok", "alarm", "insufficient_data")
REVIEW_STRATA = ("low_margin", "control")

UTC_TS = pa.timestamp("us", tz="UTC")

UTTERANCES = pa.schema([
    ("call_id", pa.string()), ("utterance_index", pa.int32()), ("speaker", pa.string()),
    ("speaker_role", pa.string()), ("rep_id", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64()),
    ("text", pa.string()), ("word_count", pa.int32()), ("is_question", pa.bool_()), ("label", pa.string()),
    *[(c, pa.float32()) for c in PROB_COLUMNS], ("model_version", pa.string()),
    ("spoken_s", pa.float64()),  # time the speaker actually spoke in the turn (README: Inputs)
    ("precision", pa.string()), ("run_id", pa.string()),  # what labelled the row: one of each per partition
])

CALLS = pa.schema([
    ("call_id", pa.string()), ("rep_id", pa.string()), ("started_at", UTC_TS), ("duration_s", pa.float64()),
    ("title", pa.string()), ("rep_utterances", pa.int32()), ("customer_utterances", pa.int32()),
    ("rep_talk_ratio", pa.float64()), ("rep_questions", pa.int32()),
    *[(c, pa.float64()) for c in SHARE_COLUMNS],
    ("longest_rep_monologue_s", pa.float64()), ("longest_customer_story_s", pa.float64()),
    ("interactivity", pa.float64()), ("patience_s", pa.float64()), ("first_probe_s", pa.float64()),
    ("model_version", pa.string()), ("source_file", pa.string()),
    # extra columns: the additive parts that let scorecards aggregate exactly
    ("rep_name", pa.string()), ("team", pa.string()), ("source_format", pa.string()),
    *[(c, pa.int32()) for c in COUNT_COLUMNS],
    ("rep_talk_s", pa.float64()), ("talk_s", pa.float64()), ("speaker_switches", pa.int32()),
    ("rep_answers", pa.int32()), ("manager", pa.string()),
    ("unknown_speaker_turns", pa.int32()), ("unknown_speaker_s", pa.float64()), ("warnings", pa.string()),
    ("precision", pa.string()), ("run_id", pa.string()),
    ("call_type", pa.string()),  # one of CALL_TYPES
    ("low_confidence_turns", pa.int32()),  # rep turns whose top calibrated probability is below the cut
    ("rep_words", pa.int64()),  # words in the rep's turns (input drift)
])

SCORECARDS = pa.schema([
    ("rep_id", pa.string()), ("rep_name", pa.string()), ("team", pa.string()),
    ("calls", pa.int32()), ("rep_utterances", pa.int32()), *[(c, pa.float64()) for c in SHARE_COLUMNS],
    ("probing_per_call", pa.float64()), ("commitments_per_call", pa.float64()), ("rep_talk_ratio", pa.float64()),
    ("questions_per_call", pa.float64()), ("longest_monologue_s", pa.float64()), ("interactivity", pa.float64()),
    ("patience_s", pa.float64()), ("advisor_score", pa.float64()), ("tier", pa.string()),
    ("model_version", pa.string()), ("run_id", pa.string()), ("generated_at", UTC_TS),
    ("manager", pa.string()), ("precision", pa.string()),
    *[(c, pa.float64()) for c in INTERVAL_COLUMNS],
    ("tier_reason", pa.string()),  # the columns and thresholds that decided the tier
])

COACHING_MOMENTS = pa.schema([
    ("rep_id", pa.string()), ("kind", pa.string()), ("rank", pa.int32()),
    ("call_id", pa.string()), ("utterance_index", pa.int32()), ("start_s", pa.float64()),
    ("text", pa.string()),  # as published in utterances (redacted per the customer_text setting)
    ("label", pa.string()), ("probability", pa.float64()),  # the turn's label and its calibrated probability
    ("reason", pa.string()),  # why this turn was picked, with the numbers that made it
    ("model_version", pa.string()), ("run_id", pa.string()),
])

BENCHMARKS = pa.schema([
    ("rep_id", pa.string()), ("call_type", pa.string()), ("calls", pa.int32()), ("rep_utterances", pa.int32()),
    ("knowledge_probing_share", pa.float64()), ("trust_commitment_share", pa.float64()),
    ("rapport_share", pa.float64()), ("rep_talk_ratio", pa.float64()),
    ("peer_reps", pa.int32()), ("peer_calls", pa.int32()),  # the other reps with calls of this type that day
    ("peer_knowledge_probing_share", pa.float64()), ("peer_trust_commitment_share", pa.float64()),
    ("peer_rapport_share", pa.float64()), ("peer_rep_talk_ratio", pa.float64()),
    ("run_id", pa.string()),
])

DRIFT = pa.schema([
    ("scope", pa.string()), ("team", pa.string()),  # scope 'overall' (team null) or 'team'
    ("metric", pa.string()), ("test", pa.string()),  # one of DRIFT_METRICS; the test that ran
    ("statistic", pa.float64()), ("p_value", pa.float64()), ("threshold", pa.float64()),
    ("day_value", pa.float64()), ("baseline_value", pa.float64()),
    ("day_turns", pa.int64()), ("baseline_turns", pa.int64()), ("baseline_days", pa.int32()),
    ("status", pa.string()), ("reason", pa.string()),  # one of DRIFT_STATUSES; a sentence with the numbers
    ("model_version", pa.string()), ("run_id", pa.string()),
])

REVIEW_QUEUE = pa.schema([
    ("call_id", pa.string()), ("utterance_index", pa.int32()), ("rep_id", pa.string()),
    ("text", pa.string()), ("previous_customer_text", pa.string()),  # as published (redacted per setting)
    ("label", pa.string()), *[(c, pa.float32()) for c in PROB_COLUMNS],
    ("margin", pa.float64()),  # top calibrated probability minus the second
    ("stratum", pa.string()), ("rank", pa.int32()),  # one of REVIEW_STRATA; order within the day
    ("model_version", pa.string()), ("run_id", pa.string()),
])

SCHEMAS: dict[str, pa.Schema] = {"utterances": UTTERANCES, "calls": CALLS, "scorecards": SCORECARDS,
                                 "coaching_moments": COACHING_MOMENTS, "benchmarks": BENCHMARKS,
                                 "drift": DRIFT, "review_queue": REVIEW_QUEUE}
TABLES: tuple[str, ...] = tuple(SCHEMAS)
"""The published tables, in the order they are built, validated and published."""
CORE_TABLES: tuple[str, ...] = ("utterances", "calls", "scorecards")
"""The tables every other one derives from; validated together, a batch of reps at a time."""
INSIGHT_TABLES: tuple[str, ...] = ("coaching_moments", "benchmarks", "drift", "review_queue")
"""Small per-day tables derived from the core ones (issue 18); validated whole, once a day."""
SORT_KEYS: dict[str, list[str]] = {
    "utterances": ["rep_id", "call_id", "utterance_index"],
    "calls": ["rep_id", "started_at", "call_id"],
    "scorecards": ["rep_id"],
    "coaching_moments": ["rep_id", "kind", "rank"],
    "benchmarks": ["rep_id", "call_type"],
    "drift": ["scope", "team", "metric"],
    "review_queue": ["rank"],
}
