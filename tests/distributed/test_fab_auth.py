"""The deployment's auth manager for real: FAB accounts in front of the API (docker-compose uses it).

An api-server with ``FabAuthManager`` on a throwaway SQLite home: no token, no data; a wrong
password, no token; the account the init job would create gets one and reads the API.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import api_json

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fab_accounts_guard_the_api(tmp_path):
    compose = yaml.safe_load((REPO / "docker" / "docker-compose.yaml").read_text())
    manager = compose["services"]["airflow-apiserver"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    airflow = str(Path(sys.executable).parent / "airflow")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__AUTH_MANAGER": manager,
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
           "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32)}
    password = secrets.token_urlsafe(16)
    for args in (["db", "migrate"], ["users", "create", "--username", "airflow", "--password", password, "--role",
                                     "Admin", "--firstname", "Call", "--lastname", "Score",
                                     "--email", "admin@example.invalid"]):
        out = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    port = _free_port()
    server = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while api_json(f"{url}/api/v2/monitor/health")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, "the api-server did not come up"
            time.sleep(1)
        assert api_json(f"{url}/api/v2/dags")[0] == 401
        assert api_json(f"{url}/auth/token", {"username": "airflow", "password": "wrong-" + password})[0] == 401
        status, body = api_json(f"{url}/auth/token", {"username": "airflow", "password": password})
        assert status in (200, 201) and body.get("access_token"), status
        assert api_json(f"{url}/api/v2/dags", token=body["access_token"])[0] == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
