"""The Docker deployment files, checked without a Docker engine (none runs here)."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipeline.model import integrity

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-worker-gpu", "airflow-init")


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yaml").read_text())


def test_compose_has_the_official_shape_plus_a_gpu_worker(compose):
    services = compose["services"]
    assert {"postgres", "redis", *AIRFLOW_SERVICES} <= set(services)
    assert services["airflow-worker"]["command"].split()[:4] == ["celery", "worker", "--queues", "default"]
    gpu = services["airflow-worker-gpu"]
    assert "--queues gpu" in gpu["command"] and gpu["profiles"] == ["gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "pools set callscore_model" in services["airflow-init"]["command"][1]


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_every_airflow_component_shares_executor_secret_and_storage(compose, service):
    env = compose["services"][service]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    conn = json.loads(re.sub(r"\$\{[^}]*\}", "x", env["AIRFLOW_CONN_CALLSCORE_S3"]))
    assert conn["conn_type"] == "aws" and "endpoint_url" in conn["extra"]
    assert env["CALLSCORE_WAREHOUSE"].split(":-")[1].startswith("s3://")


def test_published_ports_bind_loopback(compose):
    ports = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports


def test_dockerfile_builds_on_airflow_332_with_cpu_torch_and_our_constraints():
    text = (DOCKER / "Dockerfile").read_text()
    assert "ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11" in text
    assert '"torch==2.13.0" --index-url "${TORCH_INDEX_URL}"' in text
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in text
    assert '-c constraints.txt -e ".[distributed]"' in text
    assert "models/artifacts/current" in text


def test_distributed_extra_is_pinned_in_constraints():
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["distributed"]
    pins = set((REPO / "constraints.txt").read_text().split())
    assert extra and all(req in pins for req in extra), extra


def test_cluster_policy_routes_only_the_model_tasks(monkeypatch):
    policy = _load(DOCKER / "config" / "airflow_local_settings.py", "callscore_policy")
    tasks = {(d, t): SimpleNamespace(dag_id=d, task_id=t, queue="default") for d, t in [
        ("callscore_nightly", "classify"), ("callscore_nightly", "build"), ("callscore_train", "train"),
        ("other_dag", "classify")]}
    monkeypatch.delenv("CALLSCORE_MODEL_QUEUE", raising=False)
    for task in tasks.values():
        policy.task_policy(task)
    assert {t.queue for t in tasks.values()} == {"default"}
    monkeypatch.setenv("CALLSCORE_MODEL_QUEUE", "gpu")
    for task in tasks.values():
        policy.task_policy(task)
    assert {k for k, t in tasks.items() if t.queue == "gpu"} == {("callscore_nightly", "classify"),
                                                                  ("callscore_train", "train")}


def test_fetch_model_copies_a_version_and_swaps_current(tmp_path):
    fetch = _load(DOCKER / "fetch_model.py", "callscore_fetch_model").fetch
    src = tmp_path / "published"
    (src / "sub").mkdir(parents=True)
    (src / "callscore.json").write_text(json.dumps({"version": "v1"}))
    (src / "sub" / "model.safetensors").write_bytes(b"\x00" * 10)
    integrity.seal(src)  # what training does last (tests/model/test_integrity.py covers the refusals)
    link = fetch(f"file://{src}", tmp_path / "models")
    assert link.resolve() == (tmp_path / "models" / "v1").resolve()
    assert (link / "sub" / "model.safetensors").read_bytes() == b"\x00" * 10
    (src / "callscore.json").write_text(json.dumps({**json.loads((src / "callscore.json").read_text()),
                                                    "version": "v2"}))
    link = fetch(f"file://{src}", tmp_path / "models")
    assert link.resolve().name == "v2" and (tmp_path / "models" / "v1").is_dir()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["current", "v1", "v2"]


SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET")


def test_every_secret_is_required_and_none_has_a_default():
    """Issue #15 item 9: compose refuses to start without each secret; no default password anywhere."""
    text = (DOCKER / "docker-compose.yaml").read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"(:?[?-]?)", text)
        assert uses and set(uses) == {":?"}, (name, uses)
    assert not re.search(r"PASSWORD[^\n]*:-[^}]+\}", text), "a password with a default value"


def test_redis_requires_its_password_and_the_broker_uses_it(compose):
    redis = compose["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"]) and "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    broker = compose["services"]["airflow-worker"]["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker.startswith("redis://:${REDIS_PASSWORD:?")


def test_make_env_generates_every_secret_privately_and_never_overwrites(tmp_path):
    from cryptography.fernet import Fernet

    make_env = _load(DOCKER / "make_env.py", "callscore_make_env")
    out = make_env.write_env(tmp_path / ".env")
    assert (out.stat().st_mode & 0o777) == 0o600
    values = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line and line[0] != "#")
    assert all(len(values[name]) >= 32 for name in SECRETS), {k: len(values.get(k, "")) for k in SECRETS}
    Fernet(values["AIRFLOW_FERNET_KEY"].encode())  # a valid key, or this raises
    assert values["POSTGRES_PASSWORD"] != values["REDIS_PASSWORD"]
    before = out.read_text()
    with pytest.raises(FileExistsError, match="--force"):
        make_env.write_env(out)
    assert out.read_text() == before
    assert make_env.write_env(out, force=True).read_text() != before
