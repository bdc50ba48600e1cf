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


TASK_RUNNERS = ("airflow-worker", "airflow-worker-gpu")
STORAGE_KEYS = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AIRFLOW_CONN_CALLSCORE_S3", "CALLSCORE_WAREHOUSE")
SOURCE_KEYS = ("AIRFLOW_CONN_CALLSCORE_GONG", "AIRFLOW_CONN_CALLSCORE_ZOOM")


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_every_airflow_component_shares_executor_secret_and_auth(compose, service):
    env = compose["services"][service]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager")


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_each_service_gets_only_the_credentials_it_needs(compose, service):
    """Issue #15 item 9: storage keys go to the task runners and the init job (model fetch); the call
    sources' credentials to the task runners only; api-server, scheduler, dag-processor, triggerer get neither."""
    env = compose["services"][service]["environment"]
    storage = service in (*TASK_RUNNERS, "airflow-init")
    assert all((k in env) == storage for k in STORAGE_KEYS), (service, [k for k in STORAGE_KEYS if k in env])
    assert all((k in env) == (service in TASK_RUNNERS) for k in (*SOURCE_KEYS, "CALLSCORE_SOURCES")), service
    if storage:
        conn = json.loads(re.sub(r"\$\{[^}]*\}", "x", env["AIRFLOW_CONN_CALLSCORE_S3"]))
        assert conn["conn_type"] == "aws" and "endpoint_url" in conn["extra"]
        assert env["CALLSCORE_WAREHOUSE"].split(":-")[1].startswith("s3://")


def test_minio_root_credentials_stay_with_minio_and_the_pipeline_gets_a_bucket_user(compose):
    services = compose["services"]
    for name, service in services.items():
        holds_root = any("MINIO_ROOT" in str(v) for v in (service.get("environment") or {}).values())
        assert holds_root == (name in ("minio", "minio-init")), name
    script = services["minio-init"]["command"][1]
    assert "mc admin user add" in script and "mc admin policy attach" in script
    assert "arn:aws:s3:::$${CALLSCORE_BUCKET}/*" in script and '"s3:*"' not in script


def test_images_are_pinned_never_latest(compose):
    images = {name: s["image"] for name, s in compose["services"].items() if "image" in s}
    for name, image in images.items():
        ref = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", image)
        assert ":" in ref.rsplit("/", 1)[-1] and not ref.endswith((":latest", ":")), (name, image)


def test_the_ui_admin_is_created_from_a_required_password(compose):
    init = compose["services"]["airflow-init"]["environment"]
    assert init["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert init["_AIRFLOW_WWW_USER_PASSWORD"].startswith("${_AIRFLOW_WWW_USER_PASSWORD:?")


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


SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "MINIO_ROOT_PASSWORD",
           "_AIRFLOW_WWW_USER_PASSWORD")


def test_every_secret_is_required_and_none_has_a_default():
    """Issue #15 item 9: compose refuses to start without each secret; no default password anywhere."""
    text = (DOCKER / "docker-compose.yaml").read_text()
    for name in SECRETS:
        uses = re.findall(r"(?<!\$)\$\{" + name + r"(:?[?-]?)", text)  # $${...}: the shell's, not compose's
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


class _FakeRegistry:
    """Registry HTTP API v2 as Docker Hub answers: 401 with a Bearer challenge, a token endpoint, manifest digests."""

    def __init__(self, digests: dict[tuple[str, str], str]):
        import secrets
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        registry = self
        self.token, self.digests, self.seen = secrets.token_hex(8), digests, []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, headers=None, body=b""):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/token?"):
                    registry.seen.append(self.path)
                    body = json.dumps({"token": registry.token}).encode()
                    self._send(200, {"Content-Type": "application/json"}, body)
                else:
                    self._send(404)

            def do_HEAD(self):
                m = re.fullmatch(r"/v2/(.+)/manifests/([^/]+)", self.path)
                if self.headers.get("Authorization") != f"Bearer {registry.token}":
                    realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
                    self._send(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="registry.docker.io",'
                                                         f'scope="repository:{m.group(1) if m else ""}:pull"'})
                elif m and (m.group(1), m.group(2)) in registry.digests:
                    self._send(200, {"Docker-Content-Digest": registry.digests[m.group(1), m.group(2)]})
                else:
                    self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def test_docker_pin_writes_every_pulled_image_with_its_digest(tmp_path):
    pin = _load(DOCKER / "pin_images.py", "callscore_pin_images")
    text = (DOCKER / "docker-compose.yaml").read_text()
    wanted = pin.images(text)
    assert set(wanted) == {"CALLSCORE_POSTGRES_IMAGE", "CALLSCORE_REDIS_IMAGE", "CALLSCORE_MINIO_IMAGE",
                           "CALLSCORE_MC_IMAGE", "CALLSCORE_AIRFLOW_BASE_IMAGE"}
    digests = {pin.split(ref)[1:]: "sha256:" + f"{i:x}" * 64 for i, ref in enumerate(wanted.values(), start=1)}
    registry = _FakeRegistry(digests)
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=keep-me\nCALLSCORE_REDIS_IMAGE=redis:old\n")
    try:
        pins = pin.pin(env, text, {"docker.io": registry.url})
    finally:
        registry.server.shutdown()
    lines = env.read_text().splitlines()
    assert "POSTGRES_PASSWORD=keep-me" in lines and "CALLSCORE_REDIS_IMAGE=redis:old" not in lines
    for var, ref in wanted.items():
        assert f"{var}={ref}@{digests[pin.split(ref)[1:]]}" in lines, var
    assert set(pins) == set(wanted) and (env.stat().st_mode & 0o777) == 0o600
    assert registry.seen, "the registry's token flow was not used"


def test_docker_pin_refuses_a_registry_without_a_digest(tmp_path):
    pin = _load(DOCKER / "pin_images.py", "callscore_pin_images")
    registry = _FakeRegistry({})
    try:
        with pytest.raises(RuntimeError, match="answered 404"):
            pin.digest("postgres:16", {"docker.io": registry.url})
    finally:
        registry.server.shutdown()
    assert pin.split("quay.io/minio/mc:RELEASE.1") == ("quay.io", "minio/mc", "RELEASE.1")
    assert pin.split("postgres") == ("registry-1.docker.io", "library/postgres", "latest")
