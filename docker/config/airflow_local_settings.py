"""Airflow cluster policy for callscore deployments (on ``sys.path``: ``$AIRFLOW_HOME/config``).

Routes the model tasks (``classify`` and ``rescore_late`` of ``callscore_nightly``, ``train`` of ``callscore_train``)
to the Celery queue named by ``CALLSCORE_MODEL_QUEUE`` (for example ``gpu``), so GPU workers
(``airflow celery worker --queues gpu``) take the inference and CPU workers the rest, without
touching the DAG files. Unset or empty: everything stays on the default queue. The policy runs
where DAGs are parsed (the dag-processor), so set the variable there; the scheduler then sends
those tasks to that queue.
"""

from __future__ import annotations

import os

MODEL_TASKS = {"callscore_nightly": {"classify", "rescore_late"}, "callscore_train": {"train"}}


def task_policy(task) -> None:
    queue = os.environ.get("CALLSCORE_MODEL_QUEUE", "").strip()
    if queue and task.task_id in MODEL_TASKS.get(task.dag_id, ()):
        task.queue = queue
