"""The layout's rules, enforced: which stage may import which (docs/architecture.md).

Every ``import`` in ``pipeline/`` counts, the ones inside functions too (a lazy import is
still a dependency). The rules:

- ``transcripts``, ``model`` and ``scoring`` are pure stages: they never import ``warehouse``
  (nor each other, except ``scoring`` reading the ``transcripts`` call model).
- Only ``warehouse`` touches storage: fsspec, s3fs, duckdb, boto3 and ``pyarrow.parquet`` are
  imported nowhere else in production code.
- Only ``run``, ``cli`` and ``orchestration`` wire stages together.
- ``devtools`` is imported by nothing in production; the CLI dispatches its commands to it.
- Only ``sources`` talks to the network: HTTP clients (httpx, requests, urllib.request, http.client)
  are imported nowhere else in production code (``devtools`` serves the fake APIs).
- Nothing in ``pipeline/`` imports Airflow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"

# room -> the pipeline rooms it may import (its own room is always allowed)
ALLOWED: dict[str, set[str]] = {
    "root": set(),  # pipeline/__init__.py: LABELS, PRECISIONS, ConfigError
    "paths": set(),
    "settings": {"root", "paths"},
    "schemas": {"root", "transcripts"},
    "transcripts": {"root"},
    "model": {"root", "paths"},
    "scoring": {"root", "schemas", "transcripts"},
    "warehouse": {"root", "paths", "schemas"},
    "devtools": {"root", "paths", "settings", "schemas", "transcripts", "model", "scoring", "warehouse"},
    "run": {"root", "paths", "settings", "schemas", "transcripts", "model", "scoring", "warehouse"},
    "orchestration": {"root", "settings", "run", "sources"},
    "sources": {"root"},
    "pull": {"root", "settings", "sources", "warehouse", "run"},
    "erasure": {"root", "settings", "schemas", "transcripts", "scoring", "warehouse", "run", "review"},
    "review": {"root", "settings", "schemas", "scoring", "warehouse"},  # the review loop's export and import
    "report": {"root", "paths", "settings", "schemas", "warehouse"},  # the HTML report reads published tables
    "cli": {"root", "paths", "settings", "schemas", "transcripts", "model", "scoring", "warehouse", "run",
            "devtools", "erasure", "sources", "pull", "review", "report"},
}
STORAGE_LIBRARIES = ("fsspec", "s3fs", "duckdb", "boto3", "botocore", "pyarrow.parquet", "pyarrow.dataset")
STORAGE_ALLOWED = {"warehouse", "devtools"}  # devtools writes sample landing zones
NETWORK_LIBRARIES = ("httpx", "requests", "urllib.request", "http.client", "urllib3", "aiohttp")
NETWORK_ALLOWED = {"sources", "devtools"}


def room_of(module: str) -> str:
    """``pipeline.model.train`` -> ``model``; ``pipeline`` -> ``root``."""
    parts = module.split(".")
    if parts[0] != "pipeline":
        raise ValueError(f"{module} is not in the pipeline package")
    return parts[1] if len(parts) > 1 else "root"


def imports_of(source: str, module: str) -> list[str]:
    """Every module ``source`` imports, with relative imports resolved against ``module``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(base)
            # ``from pipeline import run`` imports the module pipeline.run (``LABELS`` is a name, not a module)
            found += [f"{base}.{alias.name}" for alias in node.names if base == "pipeline"
                      and ((PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file())]
    return found


def violations(source: str, module: str) -> list[str]:
    """The rules ``source`` (the text of ``module``) breaks, one line each."""
    room = room_of(module)
    out = []
    for imported in imports_of(source, module):
        top = imported.split(".")[0]
        if top == "airflow":
            out.append(f"{module} imports Airflow ({imported})")
        elif top == "pipeline":
            target = room_of(imported)
            if target != room and target not in ALLOWED[room]:
                out.append(f"{module} ({room}) imports {imported} ({target})")
        elif room not in STORAGE_ALLOWED and any(imported == lib or imported.startswith(lib + ".")
                                                 for lib in STORAGE_LIBRARIES):
            out.append(f"{module} ({room}) imports the storage library {imported}: only warehouse touches storage")
        elif room not in NETWORK_ALLOWED and any(imported == lib or imported.startswith(lib + ".")
                                                 for lib in NETWORK_LIBRARIES):
            out.append(f"{module} ({room}) imports the HTTP client {imported}: only sources talks to the network")
    return out


def package_modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append((".".join(parts), path))
    return modules


def test_every_module_belongs_to_a_known_room():
    rooms = {room_of(module) for module, _ in package_modules()}
    assert rooms <= set(ALLOWED), f"new room(s) {rooms - set(ALLOWED)}: give them rules here and in the docs"


@pytest.mark.parametrize(("module", "path"), package_modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_module_keeps_the_import_rules(module, path):
    assert violations(path.read_text(encoding="utf-8"), module) == []


def test_production_code_never_imports_devtools():
    production = [m for m, p in package_modules() if room_of(m) not in ("devtools", "cli")]
    offenders = [m for m, p in package_modules() if m in production
                 and any(i.startswith("pipeline.devtools") for i in imports_of(p.read_text(), m))]
    assert offenders == []


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("pipeline.scoring.metrics", "from pipeline.warehouse import storage", "imports pipeline.warehouse (warehouse)"),
    ("pipeline.scoring.metrics", "from pipeline import warehouse", "imports pipeline.warehouse"),
    ("pipeline.model.train", "def f():\n    from pipeline.scoring import metrics", "imports pipeline.scoring"),
    ("pipeline.transcripts.ingest", "import fsspec", "storage library fsspec"),
    ("pipeline.model.classify", "import pyarrow.parquet as pq", "storage library pyarrow.parquet"),
    ("pipeline.run", "from airflow.sdk import task", "imports Airflow"),
    ("pipeline.pull", "import httpx", "HTTP client httpx"),
    ("pipeline.warehouse.storage", "from urllib.request import urlopen", "HTTP client urllib.request"),
    ("pipeline.run", "from pipeline.devtools import sample", "imports pipeline.devtools (devtools)"),
    ("pipeline.transcripts.ingest", "from ..warehouse import storage", "imports pipeline.warehouse (warehouse)"),
])
def test_a_broken_rule_is_caught(module, source, expected):
    found = violations(source, module)
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_pass():
    assert violations("from pipeline import LABELS\nfrom pipeline.schemas import CALLS\nimport numpy",
                      "pipeline.scoring.metrics") == []
    assert violations("from pipeline.warehouse import storage\nimport fsspec", "pipeline.warehouse.layout") == []
