"""The documents a user needs ship inside the repository and stay true."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_GUIDE = REPO.parent / "shared" / "labeling-guide.md"


def test_the_labeling_guide_ships_with_the_repository():
    guide = REPO / "docs" / "labeling-guide.md"
    assert guide.is_file()
    text = guide.read_text(encoding="utf-8")
    for label in ("knowledge_probing", "rapport", "trust_commitment", "other"):
        assert label in text


def test_the_shipped_labeling_guide_equals_the_specification():
    if not SHARED_GUIDE.is_file():
        pytest.skip("the steering repository's shared/ is not beside this checkout")
    assert (REPO / "docs" / "labeling-guide.md").read_bytes() == SHARED_GUIDE.read_bytes(), (
        "docs/labeling-guide.md differs from shared/labeling-guide.md: copy the specification again")


def test_docs_point_at_the_shipped_guide_not_outside_the_repository():
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "pipeline" / "model" / "card.py"]:
        text = path.read_text(encoding="utf-8")
        assert "shared/labeling-guide.md" not in text, path
