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


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The promoted model; trained on first use (``make test`` trains it before pytest)."""
    from pipeline.model.train import ensure_model

    return ensure_model().resolve()


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
