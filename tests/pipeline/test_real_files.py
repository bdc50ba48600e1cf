"""Real third-party exports through ingestion, checked against an independent reading of the raw cues.

The files are public but not ours to commit (see ``tests/real_exports/README.md``): they are read
from ``$CALLSCORE_REAL_EXPORTS`` (default ``var/real_exports``) and each test skips when its file
is absent. A present file with another checksum fails: it is not the file the manifest names.

The independent computation below shares no code with the readers: it splits the file into
blocks itself, reads timing lines with its own pattern, credits a cue to the speaker whose
``Name:`` or ``<v Name>`` opens it, and measures each speaker's talk as the union of their cue
intervals. The pipeline's published ``rep_talk_s`` and ``talk_s`` must equal it within 1%.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline import LABELS
from pipeline.scoring.metrics import attach_labels, calls_table, turns_frame
from pipeline.transcripts.ingest import IngestStats, iter_day
from pipeline.warehouse.storage import landing_day

ROOT = Path(__file__).parents[2]
MANIFEST = json.loads((ROOT / "tests" / "real_exports" / "manifest.json").read_text(encoding="utf-8"))
FILES = Path(os.environ.get("CALLSCORE_REAL_EXPORTS") or ROOT / "var" / "real_exports")
DAY = "2026-11-23"
TIMING = re.compile(r"^\s*((?:\d+:)?\d+:\d+(?:\.\d+)?)\s+-->\s+((?:\d+:)?\d+:\d+(?:\.\d+)?)")


def seconds(stamp: str) -> float:
    parts = [float(p) for p in stamp.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def raw_cues(text: str) -> list[tuple[float, float, str | None]]:
    """(start, end, speaker or None) per cue, read with nothing from the pipeline."""
    cues = []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n")):
        lines = block.split("\n")
        timing = next((i for i, line in enumerate(lines) if TIMING.match(line)), None)
        if timing is None:
            continue
        start, end = (seconds(s) for s in TIMING.match(lines[timing]).groups())
        body = " ".join(lines[timing + 1:]).strip()
        voice = re.match(r"<v(?:\.\S*)?\s+([^>]+)>", body)
        prefix = re.match(r"([^:<>]{1,60}?):\s", body)
        cues.append((start, end, voice.group(1).strip() if voice else prefix.group(1).strip() if prefix else None))
    return cues


def union(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for a, b in sorted(intervals):
        total += max(0.0, b - max(a, reach))
        reach = max(reach, b)
    return total


def entry_file(entry: dict) -> Path:
    path = FILES / entry["file"]
    if not path.is_file():
        pytest.skip(f"{entry['file']} not in {FILES} (see tests/real_exports/README.md)")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], "not the file the manifest names"
    return path


def ingest(tmp_path: Path, entry: dict, path: Path):
    stem = path.stem
    sidecar = {"call_id": stem, "started_at": f"{DAY}T15:00:00Z", "title": stem,
               "rep": {"id": "rep-x", "name": entry["rep"], "email": "rep@seller.example"},
               "participants": [{**p, **({"email": "rep@seller.example"} if p["role"] == "rep" else {})}
                                for p in entry["participants"]]}
    folder = tmp_path / "landing" / DAY
    folder.mkdir(parents=True)
    shutil.copy(path, folder / path.name)
    (folder / f"{stem}.meta.json").write_text(json.dumps(sidecar), encoding="utf-8")
    stats = IngestStats()
    items = list(iter_day(landing_day(str(tmp_path / "landing"), DAY), max_file_bytes=25_000_000,
                          max_turn_words=3000, stats=stats))
    assert stats.balanced() and len(items) == 1
    return items[0]


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda e: e["file"])
def test_real_file_reads_with_the_right_speakers_rep_and_talk(tmp_path, entry):
    path = entry_file(entry)
    item = ingest(tmp_path, entry, path)
    if "expect_quarantine" in entry:
        assert item.quarantined is not None and item.quarantined.kind == entry["expect_quarantine"]
        return
    assert item.quarantined is None, item.quarantined
    call = item.call
    roles = {p["name"]: p["role"] for p in entry["participants"]}
    cues = raw_cues(path.read_text(encoding="utf-8-sig"))
    assert cues, "the independent reader found no cues"
    spoken_by = {name for _, _, name in cues if name in roles}
    assert {u.speaker for u in call.utterances if u.role != "unknown"} == spoken_by
    assert all(u.role == roles[u.speaker] for u in call.utterances if u.role != "unknown")
    assert call.rep.email == "rep@seller.example"

    expected: dict[str, float] = {}
    for name in spoken_by:
        expected[name] = union([(a, b) for a, b, who in cues if who == name])
    rep_talk = sum(s for n, s in expected.items() if roles[n] == "rep")
    known_talk = sum(expected.values())
    frame = turns_frame([call])
    rep = int((frame["speaker_role"] == "rep").sum())
    probs = np.tile(np.eye(len(LABELS), dtype=np.float32)[-1], (rep, 1))
    row = calls_table(attach_labels(frame, [LABELS[-1]] * rep, probs, "m")).iloc[0]
    assert row["rep_talk_s"] == pytest.approx(rep_talk, rel=0.01)
    assert row["talk_s"] == pytest.approx(known_talk, rel=0.01)
    unnamed = [(a, b) for a, b, who in cues if who is None or who not in roles]
    assert row["unknown_speaker_turns"] <= len(unnamed)
    spans = sum(u.end_s - u.start_s for u in call.utterances if u.role == "rep")
    assert row["rep_talk_s"] <= spans + 1e-6  # never more than the merged spans, usually less


def test_the_manifest_names_at_least_five_files_from_three_sources():
    files = [e for e in MANIFEST["files"] if "expect_quarantine" not in e]
    assert len(files) >= 5 and len({e["repository"] for e in files}) >= 3
    assert all(re.fullmatch(r"[0-9a-f]{40}", e["commit"]) for e in MANIFEST["files"])
    readme = (ROOT / "tests" / "real_exports" / "README.md").read_text(encoding="utf-8")
    assert all(e["repository"] in readme and e["commit"] in readme for e in MANIFEST["files"])
