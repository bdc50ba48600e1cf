"""An isolated Airflow home (SQLite) for the DAG tier, set before Airflow is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# pytest imports this file as ``conftest`` and test modules import it again as ``tests.dags.conftest``:
# both copies must use the same home, or the CLI helper and in-process Airflow see different databases.
_HOME_KEY = "_CALLSCORE_TEST_AIRFLOW_HOME"
_pid, _, _home = os.environ.get(_HOME_KEY, "").partition(":")
AIRFLOW_HOME = Path(_home) if _pid == str(os.getpid()) else Path(tempfile.mkdtemp(prefix="callscore-airflow-"))
os.environ[_HOME_KEY] = f"{os.getpid()}:{AIRFLOW_HOME}"
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    # This test deployment lets a run's conf point at per-test folders (pytest's tmp dirs) and nowhere else.
    "CALLSCORE_ALLOWED_PREFIXES": tempfile.gettempdir(),
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
