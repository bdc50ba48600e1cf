"""`make airflow` as the README documents it: unpaused DAGs behind a login, and a stop that leaves nothing behind."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import api_json
from tests.dags.conftest import REPO

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _listening(pgid: int) -> list[tuple[str, int]]:
    """Every TCP address a process of the group listens on."""
    import psutil

    out = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) != pgid:
                continue
            out += [(c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                    if c.status == psutil.CONN_LISTEN]
        except (psutil.Error, ProcessLookupError):
            continue
    return sorted(set(out))


def test_make_airflow_unpauses_the_dags_requires_a_login_and_stops_its_whole_group(tmp_path, model_dir):
    home, port = tmp_path / "airflow", _free_port()
    make = ["make", f"AIRFLOW_HOME={home}", f"AIRFLOW_PORT={port}", "AIRFLOW_PARALLELISM=2"]
    env = {**os.environ, "CALLSCORE_DATA_DOCS": str(tmp_path / "docs")}
    started = subprocess.run([*make, "airflow"], cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
    pid_file = home / "standalone.pid"
    pgid = int(pid_file.read_text()) if pid_file.is_file() else None
    try:
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        assert f"http://127.0.0.1:{port}" in started.stdout and "make airflow-stop" in started.stdout
        assert pgid is not None and os.getpgid(pgid) == pgid, "standalone must lead its own process group"
        url = f"http://127.0.0.1:{port}"
        assert api_json(f"{url}/api/v2/dags")[0] == 401  # no login, no data
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        status, body = api_json(f"{url}/auth/token", {"username": "admin", "password": password})
        assert status in (200, 201) and body.get("access_token"), (status, body)
        status, dags = api_json(f"{url}/api/v2/dags", token=body["access_token"])
        assert status == 200
        paused = {d["dag_id"]: d["is_paused"] for d in dags["dags"]}
        assert paused == {"callscore_maintenance": False, "callscore_nightly": False, "callscore_train": False}
        environ = Path(f"/proc/{pgid}/environ").read_bytes().split(b"\0")
        assert b"AIRFLOW__CORE__PARALLELISM=2" in environ
        listening = _listening(pgid)
        assert ("127.0.0.1", port) in listening, listening
        assert all(ipaddress.ip_address(ip).is_loopback for ip, _ in listening), \
            f"a server of `make airflow` listens beyond this machine: {listening}"  # standalone's log servers did
    finally:
        stopped = subprocess.run([*make, "airflow-stop"], cwd=REPO, env=env, capture_output=True, text=True,
                                 timeout=120)
        if pgid is not None and _group_alive(pgid):  # never leave a server behind, even when the test fails
            os.killpg(pgid, signal.SIGKILL)
    assert stopped.returncode == 0 and "Airflow stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _group_alive(pgid), "processes of `make airflow` outlived `make airflow-stop`"
    assert not pid_file.exists()
