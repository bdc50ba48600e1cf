"""callscore as an installed wheel (#16): complete package data, defaults outside the installed package.

A wheel built from the checkout must carry every file the package reads at run time (the GX
suites from ``expectations/``, the corpus from ``models/corpus/``, the sample generator's phrase
banks, the report templates) and nothing third-party, and its default working folders must follow
``CALLSCORE_HOME`` or the working directory, never the folder the package was installed into.
``make wheel-check`` installs such a wheel into a fresh virtual environment and runs a day from it;
these are the fast checks of the same promises.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

import pytest

import pipeline
from pipeline import paths
from pipeline.model import corpus
from pipeline.schemas import TABLES
from pipeline.settings import Settings
from pipeline.warehouse import assets, quality

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(pipeline.__file__).resolve().parent
LOCATION_ENV = ("CALLSCORE_HOME", "CALLSCORE_LANDING", "CALLSCORE_WAREHOUSE", "CALLSCORE_MODEL",
                "CALLSCORE_ASSETS_DIR")
# the external set's rebuilt texts: third-party, git-ignored, excluded in pyproject.toml; never shipped
THIRD_PARTY = ("external/turns.jsonl", "external/calls.jsonl", "external/raw/call.md")
BUILD_INPUTS = ("pyproject.toml", "README.md", "pipeline", "expectations", "models/corpus")
SETUPTOOLS_MAJOR = 77


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")}


def _inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder)


@pytest.fixture
def no_location_env(monkeypatch):
    """No ``CALLSCORE_*`` location variables (``make`` exports some), so defaults are what is tested."""
    for name in LOCATION_ENV:
        monkeypatch.delenv(name, raising=False)


def test_default_locations_follow_the_working_directory_then_callscore_home(tmp_path, monkeypatch,
                                                                             no_location_env):
    tmp_path = tmp_path.resolve()  # the working directory is reported resolved
    for cwd in (tmp_path / "first", tmp_path / "second"):  # read when settings are built, not frozen at import
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        for settings in (Settings.load(), Settings()):
            assert (settings.landing, settings.warehouse, settings.model) == (
                str(cwd / "var" / "landing"), str(cwd / "var" / "warehouse"),
                str(cwd / "models" / "artifacts" / "current"))
        assert assets.cache_dir() == cwd / "var" / "assets"
        assert paths.artifacts_dir() == cwd / "models" / "artifacts"

    home = tmp_path / "home"
    monkeypatch.setenv("CALLSCORE_HOME", str(home))
    settings = Settings.load()
    assert settings.landing == str(home / "var" / "landing") and settings.model == str(
        home / "models" / "artifacts" / "current")
    assert assets.cache_dir() == home / "var" / "assets"
    # an explicit location still wins over the home, and an explicit env is read instead of os.environ
    assert Settings.load(env={"CALLSCORE_HOME": str(home), "CALLSCORE_WAREHOUSE": "s3://wh"}).warehouse == "s3://wh"
    assert Settings.load(env={"CALLSCORE_HOME": "rel"}).landing == str(tmp_path / "second" / "rel" / "var" / "landing")
    assert Settings.load(env={}).warehouse == str(tmp_path / "second" / "var" / "warehouse")

    for env in ({}, {"CALLSCORE_HOME": str(home)}):  # neither the installed package nor the checkout
        settings = Settings.load(env=env)
        for location in (settings.landing, settings.warehouse, settings.model, paths.var_dir(env)):
            assert not _inside(location, PACKAGE_DIR) and not _inside(location, REPO), location


def test_shipped_resources_resolve_through_importlib_resources():
    suites = paths.suites()
    # editable install: the checkout's folders; wheel: beside the installed package
    assert Path(str(suites)).resolve() in (REPO / "expectations", PACKAGE_DIR / "_suites")
    assert paths.corpus_dir().resolve() in (REPO / "models" / "corpus", PACKAGE_DIR / "_corpus")
    assert paths.corpus_dir() == corpus.CORPUS_DIR  # the name bench.py and the tests use
    for table in TABLES:
        assert suites.joinpath(f"{table}.json").is_file(), table
        assert quality.load_suite(table).name == table
    assert corpus.train_files() and (corpus.CORPUS_DIR / corpus.TEST_CONVERSATIONS).is_file()
    assert resources.files("pipeline.devtools").joinpath("phrases.json").is_file()
    assert resources.files("pipeline.report").joinpath("templates", "base.html.j2").is_file()


def test_wheel_carries_every_file_the_package_reads_and_no_third_party_text(tmp_path):
    if int(metadata.version("setuptools").split(".")[0]) < SETUPTOOLS_MAJOR:  # built here, without isolation
        pytest.skip(f"needs setuptools>={SETUPTOOLS_MAJOR} in this environment (pyproject.toml's build-system)")
    src = tmp_path / "src"
    src.mkdir()
    for name in BUILD_INPUTS:  # a copy: no build/ left over from another build, nothing written to the checkout
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, src / name)
    for rel in THIRD_PARTY:  # as after extract.py rebuilt the external texts
        (src / "models" / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / "models" / "corpus" / rel).write_text('{"id": "x", "text": "third-party words"}\n')
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("callscore-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    corpus_files = _files(REPO / "models" / "corpus") - {r for r in _files(REPO / "models" / "corpus")
                                                          if r.startswith("external/raw/") or r in THIRD_PARTY}
    expected = ({f"pipeline/{r}" for r in _files(REPO / "pipeline")}
                | {f"pipeline/_suites/{r}" for r in _files(REPO / "expectations")}
                | {f"pipeline/_corpus/{r}" for r in corpus_files})
    shipped = {n for n in names if n.startswith("pipeline/")}
    assert sorted(expected - shipped) == [], "files the package reads that the wheel lacks"
    assert sorted(shipped - expected) == [], "files in the wheel that are not in the checkout"
    assert {f"pipeline/_suites/{t}.json" for t in TABLES} <= shipped
    assert {"pipeline/devtools/phrases.json", "pipeline/report/templates/base.html.j2",
            "pipeline/_corpus/train/README.md", "pipeline/_corpus/test/conversations.jsonl"} <= shipped
    assert not [n for n in names if "/external/turns" in n or "/external/calls" in n or "/external/raw/" in n]
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "callscore = pipeline.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_a_missing_or_unknown_suite_fails_loudly(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown table 'no_such_table'"):
        quality.load_suite("no_such_table")
    monkeypatch.setattr(paths, "suites", lambda: tmp_path)  # an install that lost its package data
    with pytest.raises(FileNotFoundError, match=r"no expectation suite for table 'calls'.*installation is incomplete"):
        quality.load_suite("calls")


def test_a_corpus_without_a_folder_on_disk_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "callscore.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pipeline/_corpus/train/part-a.jsonl", "{}\n")
    monkeypatch.setattr(paths.resources, "files", lambda _: zipfile.Path(archive, "pipeline/_corpus/"))
    with pytest.raises(RuntimeError, match=r"not a folder on disk.*install callscore unpacked"):
        paths.corpus_dir()
