"""Fixtures shared by every tier: the trained model and a small sample landing zone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

REPO = Path(__file__).resolve().parent.parent
DAY = "2026-11-24"


def api_json(url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    """GET (or POST ``body`` as JSON) an Airflow REST URL: ``(status, JSON body)``; status 0 while nothing listens."""
    import json
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=headers,
                                 method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (urllib.error.URLError, ConnectionError):
        return 0, {}


TINY_MODEL = REPO / "var" / "test-model" / "current"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """A real fine-tuned model folder for the tests.

    ``CALLSCORE_TEST_MODEL=tiny`` (what ``make test`` sets) gives a small stand-in trained once on 300
    turns for one epoch (about a minute, cached in ``var/test-model/``): the quick tier checks
    plumbing, not quality. Otherwise (``make test-all``, CI) it is the promoted model, trained on
    first use; the ``quality`` tests need that one and are not in the quick tier.
    """
    from pipeline.model.train import TrainConfig, ensure_model

    if os.environ.get("CALLSCORE_TEST_MODEL") == "tiny":
        import filelock

        TINY_MODEL.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(TINY_MODEL.parent / ".lock")):  # one trainer when tests run in parallel
            return ensure_model(TINY_MODEL, TrainConfig(limit=300, epochs=1)).resolve()
    return ensure_model(REPO / "models" / "artifacts" / "current").resolve()


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory) -> Path:
    """Two days of synthetic calls in all three formats, with two malformed files per day."""
    from datetime import date

    from pipeline.devtools import sample

    root = tmp_path_factory.mktemp("landing")
    sample.write_sample(str(root), [date(2026, 11, 23), date(2026, 11, 24)], calls_per_day=8, seed=3,
                        bad_files_per_day=2)
    sample.write_roster(str(root / "roster.csv"))
    return root


@pytest.fixture
def settings(tmp_path, sample_landing, model_dir):
    from pipeline.settings import Settings

    return Settings(landing=str(sample_landing), warehouse=str(tmp_path / "warehouse"), model=str(model_dir),
                    roster=str(sample_landing / "roster.csv"), shard_size=3, data_docs=str(tmp_path / "docs"))
