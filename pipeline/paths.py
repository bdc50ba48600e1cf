"""Where the bundled files live, computed once.

Every default path that points into the source checkout (corpus, expectation suites,
model artifacts, the local ``var/`` folder) derives from :data:`REPO_ROOT` here, so
there is exactly one place to change when the package is installed as a wheel.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The source checkout (the package runs from an editable install)."""

DEFAULT_VAR = REPO_ROOT / "var"
"""Local landing zone, warehouse and Data Docs for runs on embedded defaults."""

CORPUS_DIR = REPO_ROOT / "models" / "corpus"
"""The labelled training corpus and the held-out conversations."""

ARTIFACTS_DIR = REPO_ROOT / "models" / "artifacts"
"""Trained model folders, one per version, and the ``current`` pointer."""

SUITES_DIR = REPO_ROOT / "expectations"
"""The Great Expectations suites, one JSON file per table."""
