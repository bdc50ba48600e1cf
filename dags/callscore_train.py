"""
# callscore train

Manual trigger. Fine-tunes the utterance classifier on `models/corpus/train/`,
measures it (validation split, held-out conversations in `models/corpus/test/`, the external
set where its texts are rebuilt), and promotes it to be the model nightly runs use **only if its
macro-F1 on the validation split does not drop** against the current model, both scored on the
same validation turns at the precision each would be served with. The held-out test is never
used to choose.
Turns people labelled through the review loop (`callscore review export` / `import`) are added to
the training split only (param `use_reviewed`, on by default); `metrics.json` records how many.
The previous model folder is kept, so rolling back is promoting it again
(`callscore train` writes folders under `models/artifacts/<version>/`; `current`
points at the promoted one).

After a promotion, re-score history with a backfill using
`--reprocess-behavior completed` (see the nightly DAG's docs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task


@dag(
    dag_id="callscore_train",
    schedule=None,
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["callscore", "training"],
    default_args={"owner": "callscore", "retries": 1, "retry_delay": timedelta(minutes=1)},
    params={
        "use_context": Param(False, type="boolean", description="pair each turn with the customer turn before"),
        "epochs": Param(3, type="integer", minimum=1, maximum=20),
        "seed": Param(13, type="integer"),
        "use_reviewed": Param(True, type="boolean",
                              description="add the turns reviewed through `callscore review import` to the "
                                          "training split (never dev, test or validation)"),
    },
)
def callscore_train():
    @task(pool="callscore_model")
    def train(params: dict | None = None) -> str:
        from pipeline.model.train import TrainConfig, train

        cfg = TrainConfig(use_context=params["use_context"], epochs=params["epochs"], seed=params["seed"])
        reviewed = None
        if params.get("use_reviewed", True):
            from pipeline.review import reviewed_examples
            from pipeline.settings import Settings

            settings = Settings.load()
            reviewed = reviewed_examples(settings.warehouse, settings.storage_options)
        return str(train(cfg, reviewed=reviewed))

    @task
    def promote_if_better(candidate: str) -> dict:
        from pathlib import Path

        from pipeline.model.train import promote_if_better

        return promote_if_better(Path(candidate))

    promote_if_better(train())


callscore_train()
