"""A throwaway Airflow CeleryExecutor cluster on 127.0.0.1, for the distributed test and demos.

What runs, each in its own process group, all state under one temporary folder:

    PostgreSQL (metadata DB + Celery results)   Redis (Celery broker)   moto (S3 API)
    airflow api-server   airflow scheduler   airflow dag-processor   airflow celery worker x N

Every port is picked free on 127.0.0.1 (no default ports), PostgreSQL runs as an unprivileged
user (it refuses root), and ``Cluster.close()`` stops everything it started: each service's
process group plus any descendant that left it (Airflow puts task processes in their own
group), also from ``atexit`` and when the parent dies (``PR_SET_PDEATHSIG``). PostgreSQL and
Redis come from Debian packages, which ``make deps`` installs (``make test-all`` runs it first).

Used by ``tests/distributed/test_celery_cluster.py`` (``make distributed-test``). By hand:

    .venv/bin/python scripts/distributed/celery_cluster.py up [--workers 2]

starts the cluster with the sample day on S3, prints the environment to reach it, and
stops it all on Ctrl-C.

    .venv/bin/python scripts/distributed/celery_cluster.py scale --calls 2000 --workers 1,2

times the nightly DAG on one day of that many long-mix calls with one worker, then two, and prints
the rows as JSON (README, Scaling out: the figures measured with it).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "callscore_nightly"
MODEL_POOL = ("callscore_model", "2")
S3_KEY = "testing"
# Debian packages that provide the servers (bookworm: postgresql-15, redis 7.0)
APT_PACKAGES = {"postgres": "postgresql", "redis": "redis-server"}


class ClusterError(RuntimeError):
    """A service did not start, a command failed, or a run did not finish in time."""


# ------------------------------------------------------------------------------------------
# Server binaries
# ------------------------------------------------------------------------------------------


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).resolve().parent
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                  if p.parent.name.isdigit() else 0, reverse=True)
    return next((d for d in dirs if (d / "initdb").exists() and (d / "postgres").exists()), None)


def _redis_server() -> Path | None:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                             else None)
    return Path(found) if found else None


def ensure_server_binaries() -> tuple[Path, Path]:
    """PostgreSQL's bin folder and the redis-server binary; ``make deps`` installs them (tests never do)."""
    missing = [APT_PACKAGES[k] for k, v in (("postgres", _postgres_bindir()), ("redis", _redis_server())) if v is None]
    if missing:
        raise ClusterError(f"{' and '.join(missing)} missing: run `make deps` (apt-get install {' '.join(missing)})")
    return _postgres_bindir(), _redis_server()


# ------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.2)
    return False


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the process that started us dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Service:
    """One started program: its own session/process group, output in ``log``."""

    name: str
    proc: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tree(self) -> list[psutil.Process]:
        """The process and all its descendants (task processes live in their own groups)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def _signal(self, procs: Iterable[psutil.Process], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the whole tree at once, like a machine that dies."""
        procs = self.tree()
        self._signal(procs, signal.SIGKILL)
        psutil.wait_procs(procs, timeout=10)
        self.proc.wait(10)

    def stop(self, timeout: float = 20) -> None:
        """Ask politely (``stop_signal``), then SIGKILL whatever is left of the tree."""
        if not self.alive():
            procs = [p for p in self.tree() if p.pid != self.pid]
            self._signal(procs, signal.SIGKILL)
            return
        procs = self.tree()
        # only the root gets the polite signal: it shuts its own children down in order
        with contextlib.suppress(psutil.Error):
            procs[0].send_signal(self.stop_signal)
        _, alive = psutil.wait_procs(procs, timeout=timeout)
        if alive:
            self._signal(alive, signal.SIGKILL)
            psutil.wait_procs(alive, timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


# ------------------------------------------------------------------------------------------
# The cluster
# ------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Start with ``start()`` (or the pieces), use, and always ``close()``."""

    # The data dirs must be reachable by the unprivileged `postgres` user, which a TMPDIR under
    # /root is not: CALLSCORE_DIST_TMP overrides the world-traversable default.
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(
        prefix="callscore-dist-", dir=os.environ.get("CALLSCORE_DIST_TMP", "/tmp"))))
    bucket: str = "callscore-dist"
    heartbeat_timeout_s: int = 30
    log: Callable[[str], None] = print
    services: dict[str, Service] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    keep: bool = False

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the PostgreSQL user must reach its data dir below
        self.jwt_secret = secrets.token_urlsafe(32)
        self.db_password = secrets.token_hex(16)  # PostgreSQL and Redis ask for passwords even on 127.0.0.1
        self.redis_password = secrets.token_hex(16)
        self.airflow_home = self.root / "airflow"
        self.airflow_home.mkdir(exist_ok=True)
        self.logs = self.root / "logs"
        self.logs.mkdir(exist_ok=True)
        for name in ("postgres", "redis", "s3", "api"):
            self.ports[name] = free_port()
        self._db = None
        atexit.register(self.close)

    # ---- endpoints ---------------------------------------------------------------------------

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def storage_options(self) -> str:
        return json.dumps({"client_kwargs": {"endpoint_url": self.s3_url}, "key": S3_KEY, "secret": S3_KEY})

    @property
    def db_url(self) -> str:
        return f"postgresql+psycopg2://airflow:{self.db_password}@127.0.0.1:{self.ports['postgres']}/airflow"

    def s3(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every Airflow component (and of the tasks they run)."""
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "CALLSCORE_", "AWS_", "_AIRFLOW"))}
        api = f"http://127.0.0.1:{self.ports['api']}"
        env = {
            **base,
            "PATH": f"{Path(sys.executable).parent}:{base.get('PATH', '/usr/bin:/bin')}",
            # worker_identity (hostname_callable) and the queue-routing cluster policy
            "PYTHONPATH": os.pathsep.join([str(REPO / "scripts" / "distributed"), str(REPO / "docker" / "config")]),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_identity.hostname",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://:{self.redis_password}@127.0.0.1:{self.ports['redis']}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND":
                f"db+postgresql://airflow:{self.db_password}@127.0.0.1:{self.ports['postgres']}/airflow",
            # one task at a time per worker, and no message reserved behind a running one: with acks_late
            # (Airflow's default) a worker holding one unacked message takes no other, so parallel tasks
            # spread over workers and a killed worker strands nothing but the task it was running
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
            # never redeliver a running task's message: Airflow's heartbeat timeout retries it instead
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.ports["api"]),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            # manual runs only: no scheduled run of the nightly DAG may start against default paths
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # a killed worker's task stops heart-beating; fail it (and so retry it) after this
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout_s),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_CALLSCORE_S3": json.dumps({"conn_type": "aws", "login": S3_KEY, "password": S3_KEY,
                                                     "extra": {"endpoint_url": self.s3_url}}),
            "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.s3_url,
            "CALLSCORE_STORAGE_OPTIONS": self.storage_options,
            # the model and the asset cache default to the checkout's, as in the image (CALLSCORE_HOME there):
            # every process here runs in the cluster's own folder, and defaults follow the cwd otherwise
            "CALLSCORE_HOME": str(REPO),
            "CALLSCORE_LANDING": self.s3("landing"),
            "CALLSCORE_WAREHOUSE": self.s3("warehouse"),
            "CALLSCORE_DATA_DOCS": str(self.root / "data_docs"),
            # runs may point at per-run prefixes of the test bucket and at the repo's model folders only
            "CALLSCORE_ALLOWED_PREFIXES": f"{self.s3()},{REPO / 'models' / 'artifacts'}",
            "CALLSCORE_THREADS": "1",  # one core per worker process
            "CALLSCORE_MODEL_QUEUE": "gpu",  # docker/config/airflow_local_settings.py routes classify there
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1",
        }
        env.update(extra)
        return env

    # ---- processes -----------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None,
               user: tuple[int, int] | None = None, stop_signal: int = signal.SIGTERM) -> Service:
        log = self.logs / f"{name}.log"
        env = {**(env if env is not None else self.env()), "CALLSCORE_CLUSTER_ID": str(self.root)}
        with open(log, "ab") as out:
            kwargs: dict[str, Any] = {}
            if user is not None:
                kwargs = {"user": user[0], "group": user[1], "extra_groups": []}
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    cwd=self.root, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
        svc = Service(name, proc, log, stop_signal)
        self.services[name] = svc
        return svc

    def _await(self, svc: Service, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not svc.alive():
                raise ClusterError(f"{svc.name} exited ({svc.proc.returncode}):\n{svc.tail()}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.5)
        raise ClusterError(f"{svc.name} not ready after {timeout:.0f}s:\n{svc.tail()}")

    def run(self, cmd: list[str], timeout: float = 300, env: dict[str, str] | None = None,
            user: tuple[int, int] | None = None) -> str:
        kwargs: dict[str, Any] = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
        env = {**(env if env is not None else self.env()), "CALLSCORE_CLUSTER_ID": str(self.root)}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False,
                             env=env, **kwargs)
        if out.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n"
                               f"{out.stderr[-3000:]}")
        return out.stdout

    def airflow(self, *args: str, timeout: float = 300) -> str:
        return self.run([str(Path(sys.executable).parent / "airflow"), *args], timeout=timeout)

    # ---- infrastructure ------------------------------------------------------------------------

    @staticmethod
    def _service_user() -> tuple[int, int] | None:
        """PostgreSQL refuses to run as root: use its own account (or nobody) when we are root."""
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                pw = pwd.getpwnam(name)
                return pw.pw_uid, pw.pw_gid
        raise ClusterError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")

    def start_postgres(self, bindir: Path) -> None:
        user = self._service_user()
        data = self.root / "pgdata"
        data.mkdir(mode=0o700)
        if user:
            os.chown(data, *user)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        pwfile = self.root / "pgpass.init"  # read once by initdb, then removed
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.db_password + "\n")
        if user:
            os.chown(pwfile, *user)
        try:
            self.run([str(bindir / "initdb"), "-D", str(data), "-U", "airflow", "--auth=scram-sha-256",
                      f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"], env=env, user=user, timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        client_env = {**env, "PGPASSWORD": self.db_password}
        port = self.ports["postgres"]
        svc = self._spawn("postgres", [
            str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "max_connections=300", "-c", "shared_buffers=64MB",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ], env=env, user=user, stop_signal=signal.SIGINT)  # SIGINT: fast shutdown
        self._await(svc, lambda: self.run([str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                                          env=client_env, timeout=10) is not None, 60)
        self.run([str(bindir / "psql"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "-d", "postgres",
                  "-c", "CREATE DATABASE airflow"], env=client_env, timeout=30)

    def start_redis(self, binary: Path) -> None:
        (self.root / "redis").mkdir()
        svc = self._spawn("redis", [str(binary), "--bind", "127.0.0.1", "--port", str(self.ports["redis"]),
                                    "--save", "", "--appendonly", "no", "--dir", str(self.root / "redis"),
                                    "--protected-mode", "yes", "--requirepass", self.redis_password])
        self._await(svc, lambda: _wait_port(self.ports["redis"], time.monotonic() + 1), 30)

    def start_s3(self) -> None:
        server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        svc = self._spawn("s3", [server, "-H", "127.0.0.1", "-p", str(self.ports["s3"])])
        self._await(svc, lambda: _wait_port(self.ports["s3"], time.monotonic() + 1), 60)
        import boto3

        boto3.client("s3", endpoint_url=self.s3_url, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_KEY,
                     region_name="us-east-1").create_bucket(Bucket=self.bucket)

    def start_infra(self) -> None:
        pg, redis = ensure_server_binaries()
        self.start_postgres(pg)
        self.start_redis(redis)
        self.start_s3()

    # ---- Airflow ---------------------------------------------------------------------------------

    def start_airflow(self) -> None:
        """Migrate the DB, create the model pool, start api-server, scheduler and dag-processor."""
        self.airflow("db", "migrate", timeout=600)
        self.airflow("pools", "set", *MODEL_POOL, "tasks holding the classifier in memory")
        exe = str(Path(sys.executable).parent / "airflow")
        api = self._spawn("api-server", [exe, "api-server", "--host", "127.0.0.1", "--port", str(self.ports["api"]),
                                         "--workers", "1"])
        self._spawn("scheduler", [exe, "scheduler", "--skip-serve-logs"])
        self._spawn("dag-processor", [exe, "dag-processor"])
        import httpx

        url = f"http://127.0.0.1:{self.ports['api']}/api/v2/monitor/health"
        self._await(api, lambda: httpx.get(url, timeout=2).status_code == 200, 180)
        self._await(self.services["dag-processor"], lambda: bool(self.sql(
            "SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,))), 180)
        for name in ("scheduler", "dag-processor"):
            if not self.services[name].alive():
                raise ClusterError(f"{name} died:\n{self.services[name].tail()}")

    def worker_hostname(self, name: str) -> str:
        return f"callscore-worker-{name}"

    def start_worker(self, name: str, queues: str = "default,gpu", timeout: float = 120) -> Service:
        """A Celery worker; Airflow records its tasks with hostname ``callscore-worker-<name>``."""
        host = self.worker_hostname(name)
        exe = str(Path(sys.executable).parent / "airflow")
        svc = self._spawn(f"worker-{name}", [exe, "celery", "worker", "--celery-hostname", f"{host}@%h",
                                             "--queues", queues, "--concurrency", "1", "--skip-serve-logs",
                                             "--without-mingle", "--without-gossip"],
                          env=self.env(CALLSCORE_WORKER_HOSTNAME=host))
        self._await(svc, lambda: " ready." in svc.log.read_text(errors="replace"), timeout)
        return svc

    def ensure_worker(self, name: str) -> Service:
        """The worker ``name``, started unless it is running."""
        svc = self.services.get(f"worker-{name}")
        return svc if svc is not None and svc.alive() else self.start_worker(name)

    def start(self, workers: Iterable[str] = ("a", "b")) -> Cluster:
        started = time.monotonic()
        self.start_infra()
        self.start_airflow()
        for name in workers:
            self.start_worker(name)
        self.log(f"cluster up in {time.monotonic() - started:.0f}s under {self.root}")
        return self

    # ---- DB, runs -------------------------------------------------------------------------------

    def sql(self, query: str, params: tuple = ()) -> list[dict[str, Any]]:
        import psycopg2
        import psycopg2.extras

        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(host="127.0.0.1", port=self.ports["postgres"], user="airflow",
                                        password=self.db_password, dbname="airflow", connect_timeout=5)
            self._db.autocommit = True
        with self._db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(query, params)
            return [dict(r) for r in cur.fetchall()] if cur.description else []

    def trigger(self, run_id: str, conf: dict[str, Any]) -> None:
        self.airflow("dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps(conf))

    def dag_run(self, run_id: str) -> dict[str, Any]:
        rows = self.sql("SELECT state, start_date, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s",
                        (DAG_ID, run_id))
        return rows[0] if rows else {}

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        return self.sql("SELECT task_id, map_index, try_number, state, hostname, queue, start_date, end_date "
                        "FROM task_instance WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index",
                        (DAG_ID, run_id))

    def task_history(self, run_id: str) -> list[dict[str, Any]]:
        """Earlier tries of the run's task instances (Airflow's task_instance_history)."""
        return self.sql("SELECT task_id, map_index, try_number, state, hostname, start_date, end_date "
                        "FROM task_instance_history WHERE dag_id = %s AND run_id = %s "
                        "ORDER BY task_id, map_index, try_number", (DAG_ID, run_id))

    def wait(self, run_id: str, timeout: float, poll: Callable[[], None] | None = None) -> dict[str, Any]:
        """Poll until the DAG run ends; raise with task states and log tails on failure or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.dag_run(run_id)
            if run.get("state") in ("success", "failed"):
                return run
            for name in ("scheduler", "dag-processor", "api-server"):
                if not self.services[name].alive():
                    raise ClusterError(f"{name} died during {run_id}:\n{self.services[name].tail()}")
            if poll is not None:
                poll()
            time.sleep(1)
        raise ClusterError(f"{run_id} still {self.dag_run(run_id).get('state')} after {timeout:.0f}s\n"
                           f"{self.describe(run_id)}")

    def describe(self, run_id: str) -> str:
        lines = [f"{t['task_id']}[{t['map_index']}] try {t['try_number']} {t['state']} on {t['hostname']}"
                 for t in self.task_instances(run_id)]
        tails = [f"--- {s.name} ---\n{s.tail(15)}" for s in self.services.values() if s.name != "s3"]
        return "\n".join(lines + tails)

    def listening(self) -> list[tuple[str, str, int]]:
        """(service, address, port) of every listening TCP socket of the cluster's processes."""
        owner = {p.pid: s.name for s in self.services.values() if s.alive() for p in s.tree()}
        return sorted((owner[c.pid], c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
                      if c.status == psutil.CONN_LISTEN and c.pid in owner)

    def processes(self, **env: str) -> list[psutil.Process]:
        """Live processes this cluster started (marked by ``CALLSCORE_CLUSTER_ID`` in their environment,
        which every descendant inherits), optionally only those whose environment also matches ``env``."""
        want = {"CALLSCORE_CLUSTER_ID": str(self.root), **env}
        found = []
        for p in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                penv = p.environ()
                if all(penv.get(k) == v for k, v in want.items()) and p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
        return found

    # ---- shutdown --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop everything, workers first and PostgreSQL last; remove the folder unless ``keep``."""
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None
        order = sorted(self.services.values(), key=lambda s: (s.name.startswith("worker-") is False,
                                                              s.name in ("s3", "redis", "postgres"),
                                                              s.name == "postgres"))
        for svc in order:
            with contextlib.suppress(Exception):
                svc.stop()
        self.services.clear()
        # anything that left its service's tree (e.g. a task process whose supervisor died)
        strays = self.processes()
        for p in strays:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(strays, timeout=10)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.close)


# ------------------------------------------------------------------------------------------
# Sample data
# ------------------------------------------------------------------------------------------


def write_landing(local: Path, day: str, calls: int, seed: int = 11, bad_files: int = 2,
                  calls_per_rep: int | None = None) -> Path:
    """The sample landing zone for one day plus the roster, written locally; returns ``local``."""
    from datetime import date

    from pipeline.devtools import sample

    sample.write_sample(str(local), [date.fromisoformat(day)], calls_per_day=calls, seed=seed,
                        bad_files_per_day=bad_files, calls_per_rep=calls_per_rep)
    sample.write_roster(str(local / "roster.csv"))
    return local


def upload_landing(cluster: Cluster, local: Path, day: str) -> dict[str, str]:
    """Copy the landing day and roster to the cluster's bucket; returns the S3 URLs."""
    from pipeline.warehouse import storage

    fs, _ = storage.filesystem(cluster.s3(), cluster.storage_options)
    fs.put(str(local / day), f"{cluster.bucket}/landing/{day}", recursive=True)
    fs.put(str(local / "roster.csv"), f"{cluster.bucket}/landing/roster.csv")
    return {"landing": cluster.s3("landing"), "roster": cluster.s3("landing/roster.csv")}


def scale_out(cluster: Cluster, calls: int, workers: Iterable[int], model_dir: Path, day: str = "2026-11-24",
              shard_size: int = 100, calls_per_rep: int = 8, seed: int = 11) -> list[dict[str, Any]]:
    """Time the nightly DAG on one day of ``calls`` calls with each number of Celery workers, in turn.

    Every worker takes one task at a time with one torch thread (``CALLSCORE_THREADS``), so the
    figure says what adding a worker adds. Each run writes its own warehouse prefix; the wall time
    is from trigger to the DAG run's success, as an operator sees it.
    """
    local = write_landing(cluster.root / "scale-landing", day, calls, seed, bad_files=0, calls_per_rep=calls_per_rep)
    urls = upload_landing(cluster, local, day)
    rows = []
    for count in workers:
        names = [chr(ord("a") + i) for i in range(count)]
        for name in list(n.removeprefix("worker-") for n in cluster.services if n.startswith("worker-")):
            if name not in names:
                cluster.services.pop(f"worker-{name}").stop()
        for name in names:
            cluster.ensure_worker(name)
        run_id = f"scale-{calls}-calls-{count}-workers"
        conf = {"day": day, "landing": urls["landing"], "roster": urls["roster"], "model": str(model_dir),
                "warehouse": cluster.s3(run_id), "shard_size": shard_size}
        started = time.monotonic()
        cluster.trigger(run_id, conf)
        run = cluster.wait(run_id, timeout=3600)
        wall = time.monotonic() - started
        if run["state"] != "success":
            raise ClusterError(f"{run_id} {run['state']}:\n{cluster.describe(run_id)}")
        tis = cluster.task_instances(run_id)
        shards = [t for t in tis if t["task_id"] == "classify"]
        rows.append({"workers": count, "calls": calls, "shards": len(shards), "wall_s": round(wall, 1),
                     "classify_hosts": len({t["hostname"] for t in shards}),
                     "speed_up": round(rows[0]["wall_s"] / wall, 2) if rows else 1.0})
        cluster.log(f"{run_id}: {wall:.1f} s")
    return rows


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "scale"],
                        help="up: start and wait for Ctrl-C; scale: time one day on 1..N workers and print JSON")
    parser.add_argument("--workers", default="2", help="up: how many; scale: comma-separated counts, e.g. 1,2")
    parser.add_argument("--day", default="2026-11-24")
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--shard-size", type=int, default=100, help="scale: calls per mapped classify task")
    parser.add_argument("--model", default=str(REPO / "models" / "artifacts" / "current"))
    args = parser.parse_args(argv)
    cluster = Cluster()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.command == "scale":
        try:
            cluster.start(workers=())
            rows = scale_out(cluster, args.calls, [int(w) for w in args.workers.split(",")],
                             Path(args.model).resolve(), args.day, args.shard_size)
            cluster.log(json.dumps({"rows": rows, "cpus": os.cpu_count()}))
            return 0
        finally:
            cluster.close()
    try:
        cluster.start([chr(ord("a") + i) for i in range(int(args.workers))])
        urls = upload_landing(cluster, write_landing(cluster.root / "landing", args.day, args.calls), args.day)
        say = cluster.log
        say(f"\nAirflow API/UI: http://127.0.0.1:{cluster.ports['api']}  (simple auth manager, see "
            f"{cluster.airflow_home}/simple_auth_manager_passwords.json.generated)")
        say(f"sample day {args.day} at {urls['landing']}; roster {urls['roster']}")
        say("environment to use the airflow CLI against it:")
        for key in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTOR",
                    "AIRFLOW__CELERY__BROKER_URL", "CALLSCORE_STORAGE_OPTIONS"):
            say(f"  export {key}='{cluster.env()[key]}'")
        say("Ctrl-C stops everything.")
        while all(s.alive() for s in cluster.services.values()):
            time.sleep(2)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(_main(sys.argv[1:]))
