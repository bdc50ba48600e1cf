"""
# callscore maintenance

Weekly, Sundays at 04:00 UTC: **retention**. Removes what the warehouse keeps only for a while
(`pipeline.warehouse.retention`): quarantine copies and failed-validation snapshots of days older
than `CALLSCORE_QUARANTINE_RETENTION_DAYS` (30), staging left by dead runs (idle longer than a
lease lasts, no lease held), and Data Docs validation pages older than
`CALLSCORE_DOCS_RETENTION_DAYS` (90). Quarantine records stay, saying their copy expired;
published tables are never touched. The same as `callscore gc` (`--older-than N` there overrides
both periods for one run). No params: what to delete is the deployment's decision, not a run's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag, task


@dag(
    dag_id="callscore_maintenance",
    schedule=CronTriggerTimetable("0 4 * * 0", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["callscore", "maintenance"],
    default_args={"owner": "callscore", "retries": 2, "retry_delay": timedelta(minutes=5)},
)
def callscore_maintenance():
    @task
    def retention() -> dict:
        from pipeline import run
        from pipeline.settings import Settings

        return run.collect_garbage(Settings.load())

    retention()


callscore_maintenance()
