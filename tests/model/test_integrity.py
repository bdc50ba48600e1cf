"""Issue #15, item 4: a model folder is verified before anything loads it.

Before the fix a swapped ``model.safetensors``, a pickle dropped beside it or a version of
``../../x`` were loaded or written without a question; each test below is one such attack.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from pipeline import ConfigError
from pipeline.model import integrity
from pipeline.model.integrity import ModelIntegrityError

REPO = Path(__file__).resolve().parents[2]


def _fake_folder(root: Path, version: str = "v1") -> Path:
    root.mkdir(parents=True)
    (root / "model.safetensors").write_bytes(b"\x01" * 64)
    (root / "config.json").write_text("{}")
    (root / "sub").mkdir()
    (root / "sub" / "tokenizer.json").write_text("{}")
    (root / "callscore.json").write_text(json.dumps({"version": version}))
    integrity.seal(root)
    return root


def _fetch():
    spec = importlib.util.spec_from_file_location("callscore_fetch_model_integrity", REPO / "docker" / "fetch_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fetch


def test_a_sealed_folder_verifies_and_records_every_file(tmp_path):
    folder = _fake_folder(tmp_path / "m")
    meta = integrity.verify(folder, integrity.meta_digest(folder))
    assert sorted(meta["files"]) == ["config.json", "model.safetensors", "sub/tokenizer.json"]


@pytest.mark.parametrize(("attack", "match"), [
    (lambda f: (f / "model.safetensors").write_bytes(b"\x02" * 64), "model.safetensors does not match"),
    (lambda f: (f / "pytorch_model.bin").write_bytes(b"pickle"), "files training did not write: pytorch_model.bin"),
    (lambda f: (f / "config.json").unlink(), "missing config.json"),
])
def test_a_changed_folder_is_refused_naming_the_file(tmp_path, attack, match):
    folder = _fake_folder(tmp_path / "m")
    attack(folder)
    with pytest.raises(ModelIntegrityError, match=match):
        integrity.verify(folder)


def test_unsealed_unsafe_and_repinned_folders_are_refused(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.safetensors").write_bytes(b"x")
    (old / "callscore.json").write_text(json.dumps({"version": "v0"}))
    with pytest.raises(ModelIntegrityError, match=r"records no file checksums.*retrain"):
        integrity.verify(old)
    folder = _fake_folder(tmp_path / "m")
    pinned = integrity.meta_digest(folder)
    meta = json.loads((folder / "callscore.json").read_text())
    (folder / "callscore.json").write_text(json.dumps({**meta, "temperature": 9.0}))  # resealed after the plan
    with pytest.raises(ModelIntegrityError, match="changed since the run pinned it"):
        integrity.verify(folder, pinned)
    for version in ("../../x", "a/b", "", ".."):
        with pytest.raises(ModelIntegrityError, match="not a plain folder name"):
            integrity.check_version(version)
    forged = _fake_folder(tmp_path / "forged")
    meta = json.loads((forged / "callscore.json").read_text())
    meta["files"]["../../etc/passwd"] = "0" * 64
    (forged / "callscore.json").write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match="unsafe file name"):
        integrity.verify(forged)
    pickle_only = tmp_path / "pickle"
    pickle_only.mkdir()
    (pickle_only / "pytorch_model.bin").write_bytes(b"pickle")
    (pickle_only / "callscore.json").write_text(json.dumps({"version": "v0"}))
    integrity.seal(pickle_only)
    with pytest.raises(ModelIntegrityError, match="no safetensors weights"):
        integrity.verify(pickle_only)


def test_the_classifier_and_the_plan_refuse_a_tampered_model(model_dir, tmp_path):
    from pipeline.model.classify import Classifier, resolve_model

    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    pinned = resolve_model(copy, "fp32")
    assert pinned["meta_sha256"] == integrity.meta_digest(copy)
    with (copy / "model.safetensors").open("r+b") as fh:  # one flipped byte deep in the weights
        fh.seek(-100, 2)
        byte = fh.read(1)
        fh.seek(-100, 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match=r"model\.safetensors does not match"):
        Classifier(copy, precision="fp32")
    with pytest.raises(ModelIntegrityError):
        resolve_model(copy, "fp32")


def test_the_nightly_plan_names_a_tampered_model_as_a_config_error(model_dir, settings, tmp_path):
    from pipeline import run
    from tests.conftest import DAY

    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    (copy / "pytorch_model.bin").write_bytes(b"not weights")
    with pytest.raises(ConfigError, match="files training did not write"):
        run.plan_day(settings.with_(model=str(copy)), DAY, "r1")


def test_fetch_copies_a_verified_version_and_swaps_current(tmp_path):
    fetch = _fetch()
    src = _fake_folder(tmp_path / "published")
    link = fetch(f"file://{src}", tmp_path / "models")
    assert link.resolve() == (tmp_path / "models" / "v1").resolve()
    assert (link / "sub" / "tokenizer.json").read_text() == "{}"


@pytest.mark.parametrize(("attack", "match"), [
    (lambda f: (f / "model.safetensors").write_bytes(b"\x02" * 64), "does not match"),
    (lambda f: (f / "evil.pkl").write_bytes(b"pickle"), "did not write: evil.pkl"),
    (lambda f: (f / "callscore.json").write_text(json.dumps(
        {**json.loads((f / "callscore.json").read_text()), "version": "../../escaped"})), "not a plain folder name"),
])
def test_fetch_refuses_a_tampered_or_escaping_model_and_keeps_current(tmp_path, attack, match):
    fetch = _fetch()
    models = tmp_path / "models"
    fetch(f"file://{_fake_folder(tmp_path / 'good')}", models)
    bad = _fake_folder(tmp_path / "bad", version="v2")
    attack(bad)
    with pytest.raises(ModelIntegrityError, match=match):
        fetch(f"file://{bad}", models)
    assert (models / "current").resolve().name == "v1"
    assert sorted(p.name for p in models.iterdir()) == ["current", "v1"]  # nothing partial, nothing outside
    assert not (tmp_path / "escaped").exists()
