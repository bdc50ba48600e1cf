"""
# callscore nightly

Every day at 02:00 UTC this DAG scores the previous UTC day of sales calls:

0. **pull** (one mapped task per source in `CALLSCORE_SOURCES`, e.g. `gong,zoom`; none by default):
   fetch the day's calls from the vendor's API into `<landing>/<day>/<source>/`, one file per call,
   plus `_manifest.json`; also re-check the `CALLSCORE_LATE_DAYS` (3) days before for transcripts
   that arrived late. Credentials come from the `callscore_gong` / `callscore_zoom` connections only.
   Without configured sources, calls reach the landing zone by other means and this step is skipped.
1. **plan**: read `<landing>/<day>/`, parse every transcript (canonical JSON, WebVTT,
   Gong), quarantine bad input, and split the calls into shards of `shard_size`.
2. **classify** (one mapped task per shard, in the `callscore_model` pool so only a
   few tasks hold the model in memory): label every rep turn with the transformer.
3. **build**: merge shards into the `utterances`, `calls` and `scorecards` tables, and derive
   `coaching_moments`, `benchmarks`, `drift` (against the trailing 28 days) and `review_queue` (staged).
4. **validate**: Great Expectations gate; a failure keeps the staged data under
   `quarantine/` and fails the run. Nothing is published. A drift alarm is a warning, not a failure.
5. **publish**: atomically replace the day's partitions and mark the
   `callscore_scorecards` asset, which downstream DAGs can schedule on.
6. **rescore_late**: re-score, through the same commit path, each re-checked earlier day whose calls
   changed (the log names the calls added late).
7. **report**: rebuild the static HTML report (team overview, a page per rep, data health) in
   `CALLSCORE_REPORT` (default `<warehouse>/_report/`); it works offline, no CDN.

Params choose a day and tuning knobs; where data lives is the deployment's (`CALLSCORE_*`): a
run's conf may name a storage location only under `CALLSCORE_ALLOWED_PREFIXES` (empty by default).
Tasks pass paths, never data, through XCom; each is idempotent, so retries and
re-runs of a day replace its partitions exactly. **plan** pins the model (folder,
version, precision) that every classify task then loads, so a promotion during a run
never mixes two models in a day, and takes the day's lease: a second run of the same
day (a manual run beside the scheduled one, an overlapping backfill) fails with a message
naming the run that holds it, and its retries wait for it. A day folder that is missing
fails the run; a day with no readable calls replaces a published one only with the
`allow_empty` param.

## Which day?
A scheduled or backfill run processes the day its data interval starts on (the run
at 2026-11-25 02:00 UTC processes 2026-11-24). Set the `day` param to run any day
by hand.

## Backfill
`--from-date A --to-date B` selects the runs whose logical date (the data interval's start,
02:00 UTC) lies in [A 00:00, B 00:00], so it processes call days A .. B-1:
```
airflow backfill create --dag-id callscore_nightly --from-date 2026-11-21 --to-date 2026-11-24   # 11-21..11-23
airflow backfill create --dag-id callscore_nightly --from-date 2026-11-21 --to-date 2026-11-24 \
    --reprocess-behavior completed      # re-score days already done (e.g. after a model change)
```
Backfills need a running scheduler and api-server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

SCORECARDS = Asset(name="callscore_scorecards", uri="callscore://warehouse/scorecards")


@dag(
    dag_id="callscore_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["callscore", "nightly"],
    default_args={
        "owner": "callscore",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "day": Param("", type="string", pattern=r"^(\d{4}-\d{2}-\d{2})?$",
                     description="YYYY-MM-DD to process; empty = the run's data interval"),
        # Storage comes from the deployment (CALLSCORE_*): these four are honoured only under
        # CALLSCORE_ALLOWED_PREFIXES, which only the workers' environment sets (SECURITY.md).
        "landing": Param("", type="string",
                           description="empty = CALLSCORE_LANDING (else must lie under an allowed prefix)"),
        "warehouse": Param("", type="string",
                           description="empty = CALLSCORE_WAREHOUSE (else must lie under an allowed prefix)"),
        "model": Param("", type="string",
                         description="empty = the promoted model (else must lie under an allowed prefix)"),
        "roster": Param("", type="string",
                          description="empty = CALLSCORE_ROSTER (else must lie under an allowed prefix)"),
        "shard_size": Param(0, type="integer", minimum=0, description="calls per shard; 0 = settings default"),
        "allow_empty": Param(False, type="boolean",
                             description="let a day with no readable calls replace a published day that had some"),
        "pull": Param(True, type="boolean",
                      description="pull the configured sources (CALLSCORE_SOURCES) first; off = score what has landed"),
    },
)
def callscore_nightly():
    @task
    def sources() -> list[str]:
        from pipeline import orchestration

        return orchestration.sources_to_pull(get_current_context()["params"])

    @task
    def pull(source: str) -> dict:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

        from pipeline import ConfigError, orchestration
        from pipeline import pull as pulling

        ctx = get_current_context()
        try:
            settings, day, _ = orchestration.plan_inputs(ctx["params"], ctx.get("data_interval_start"),
                                                         ctx["dag_run"].run_after, ctx["run_id"])
            config = orchestration.source_config(source, Connection.get(orchestration.connection_id(source)))
            return pulling.pull_recent(settings, source, day, config)
        except AirflowNotFoundException as exc:
            raise AirflowFailException(f"connection {orchestration.connection_id(source)} is not defined "
                                       "(README: Inputs)") from exc
        except ConfigError as exc:  # missing or refused credentials: no retry helps
            raise AirflowFailException(str(exc)) from exc

    @task(trigger_rule="none_failed")  # runs when no source is configured (pull skipped)
    def plan() -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline import ConfigError, orchestration, run

        ctx = get_current_context()
        try:  # a bad param or setting cannot succeed on retry: fail at once, naming it
            settings, day, run_id = orchestration.plan_inputs(ctx["params"], ctx.get("data_interval_start"),
                                                              ctx["dag_run"].run_after, ctx["run_id"])
            return run.plan_day(settings, day, run_id, allow_empty=bool(ctx["params"].get("allow_empty")))
        except ConfigError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def shards(planned: dict) -> list[str]:
        return planned["shards"]

    @task(pool="callscore_model", max_active_tis_per_dagrun=4)
    def classify(shard: str, planned: dict) -> dict:
        from pipeline import orchestration, run

        settings = orchestration.settings_from_params(get_current_context()["params"])
        return run.classify_shard(settings, planned["run_id"], shard, planned["model"])  # the model plan pinned

    @task
    def build(planned: dict, results: list[dict]) -> dict:
        from pipeline import orchestration, run

        settings = orchestration.settings_from_params(get_current_context()["params"])
        return run.build_tables(settings, planned["day"], planned["run_id"], planned["stats"]["calls_parsed"])

    @task
    def validate(built: dict) -> dict:
        from pipeline import orchestration, run

        settings = orchestration.settings_from_params(get_current_context()["params"])
        return run.validate_day(settings, built["day"], built["run_id"])

    @task(outlets=[SCORECARDS])
    def publish(planned: dict, validated: dict) -> dict:
        from pipeline import orchestration, run

        ctx = get_current_context()
        summary = run.publish_day(orchestration.settings_from_params(ctx["params"]), planned["day"],
                                  planned["run_id"], planned)
        ctx["outlet_events"][SCORECARDS].extra = {"day": planned["day"], "run_id": planned["run_id"]}
        return summary

    @task(pool="callscore_model")
    def rescore_late(published: dict) -> list[dict]:
        from pipeline import orchestration
        from pipeline import pull as pulling

        settings = orchestration.settings_from_params(get_current_context()["params"])
        return pulling.rescore_late(settings, published["day"])

    @task
    def report(published: dict, rescored: list[dict]) -> str:
        from pipeline import orchestration
        from pipeline.report.build import build_report

        settings = orchestration.settings_from_params(get_current_context()["params"])
        return str(build_report(settings, settings.report_dir()).index)

    pulled = pull.expand(source=sources())
    planned = plan()
    pulled >> planned
    results = classify.partial(planned=planned).expand(shard=shards(planned))
    built = build(planned, results)
    published = publish(planned, validate(built))
    report(published, rescore_late(published))


callscore_nightly()
