"""An isolated Airflow home (SQLite) for the DAG tier, set before Airflow is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="callscore-airflow-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
}
os.environ.update(AIRFLOW_ENV)


def airflow(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the ``airflow`` CLI of this venv against the test home."""
    exe = Path(sys.executable).parent / "airflow"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **AIRFLOW_ENV, **(env or {})})


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    out = airflow("db", "migrate")
    assert out.returncode == 0, out.stderr[-2000:]
    out = airflow("pools", "set", "callscore_model", "2", "tasks holding the classifier in memory")
    assert out.returncode == 0, out.stderr[-2000:]
    return AIRFLOW_HOME
