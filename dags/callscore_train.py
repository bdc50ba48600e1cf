"""
# callscore train

Manual trigger. Fine-tunes the utterance classifier on `models/corpus/train/`,
measures it (validation split, held-out conversations in `models/corpus/test/`, the external
set where its texts are rebuilt), and promotes it to be the model nightly runs use **only if its
macro-F1 on the validation split does not drop** against the current model, both scored on the
same validation turns at the precision each would be served with. The held-out test is never
used to choose.
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
    },
)
def callscore_train():
    @task(pool="callscore_model")
    def train(params: dict | None = None) -> str:
        from pipeline.model.train import TrainConfig, train

        cfg = TrainConfig(use_context=params["use_context"], epochs=params["epochs"], seed=params["seed"])
        return str(train(cfg))

    @task
    def promote_if_better(candidate: str) -> dict:
        from pathlib import Path

        from pipeline.model.train import promote_if_better

        return promote_if_better(Path(candidate))

    promote_if_better(train())


callscore_train()
