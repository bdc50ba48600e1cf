"""The same day on S3: a real S3-compatible HTTP server (moto's server mode) on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pipeline import run
from pipeline.warehouse import layout, storage
from pipeline.warehouse.query import query
from tests.conftest import DAY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    server = shutil.which("moto_server") or str(Path(os.sys.executable).parent / "moto_server")
    port = _free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": url}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import boto3

    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="callscore-test")
    yield url
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(10)


def test_s3_round_trip_matches_local(s3_endpoint, settings, sample_landing):
    opts = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    fs, _ = storage.filesystem("s3://callscore-test", opts)
    fs.put(str(sample_landing / DAY), f"callscore-test/landing/{DAY}", recursive=True)
    fs.put(str(sample_landing / "roster.csv"), "callscore-test/landing/roster.csv")
    s3 = settings.with_(landing="s3://callscore-test/landing", warehouse="s3://callscore-test/warehouse",
                        roster="s3://callscore-test/landing/roster.csv", storage_options=opts)
    run.run_day(s3, DAY)
    run.run_day(s3, DAY)  # a re-run replaces objects, no duplicates
    run.run_day(settings, DAY)
    for table in layout.TABLES:
        keys = fs.find(f"callscore-test/warehouse/{table}")
        assert keys == [f"callscore-test/warehouse/{table}/date={DAY}/part-0.parquet"]
        remote = layout.read_partition(s3.warehouse, table, DAY, opts)
        local = layout.read_partition(settings.warehouse, table, DAY)
        cols = [c for c in local.columns if c not in ("run_id", "generated_at")]
        assert remote[cols].equals(local[cols]), table
    assert not fs.find("callscore-test/warehouse/_staging")
    cards = query(s3.warehouse, "SELECT count(*) AS n FROM scorecards", opts)
    assert int(cards.n[0]) == len(layout.read_partition(settings.warehouse, "scorecards", DAY))
