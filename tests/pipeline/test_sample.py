"""The synthetic call generator: determinism, layout, the three formats, bad files, realism."""

from __future__ import annotations

import csv
import itertools
import json
import random
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import webvtt

from pipeline.devtools import sample

DAYS = [date(2026, 11, 23), date(2026, 11, 24)]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, sample.SampleSummary]:
    """Two days of 24 calls with one bad file of each kind per day, written through a file:// URL."""
    root = tmp_path_factory.mktemp("landing")
    summary = sample.write_sample(f"file://{root}", DAYS, calls_per_day=24, seed=11, bad_files_per_day=6)
    return root, summary


def _canonical(day: date, n: int = 24, seed: int = 11) -> dict[str, dict]:
    return {c["call_id"]: c for c in sample.generate_calls(day, n, seed)}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        sample.write_sample(str(tmp_path / name), DAYS[:1], calls_per_day=12, seed=seed, bad_files_per_day=6)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    assert a != c
    assert sample.sample_rep_turns(50, seed=3) == sample.sample_rep_turns(50, seed=3)


def test_day_layout_format_mix_and_summary(landing):
    root, summary = landing
    assert sorted(p.name for p in root.iterdir()) == [d.isoformat() for d in DAYS]
    for day in DAYS:
        counts = summary.days[day.isoformat()]
        folder = root / day.isoformat()
        clean = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("bad-")]
        canonical = [p for p in clean if p.parent.name == "crm"]
        vtts = [p for p in clean if p.suffix == ".vtt"]
        exports = sorted((folder / "gong").glob("export-*.json"))
        gong_calls = sum(len(json.loads(p.read_text())["calls"]) for p in exports)
        assert (len(canonical), len(vtts), gong_calls) == (12, 6, 6)  # 50% / 25% / 25%
        assert counts == {"canonical": 12, "vtt": 6, "sidecar": 6, "gong": len(exports), "bad": 6, "calls": 24,
                          "calls_in_bad_files": 2, "files": 12 + 6 + 6 + len(exports) + 6}
        assert all(p.relative_to(folder).parts[0] in ("zoom", "teams", "meet") and len(p.relative_to(folder).parts)
                   == 3 for p in vtts)  # <source>/<rep>/<call_id>.vtt
    assert (summary.calls, summary.bad_files) == (48, 12)
    assert summary.files == sum(d["files"] for d in summary.days.values())


def test_canonical_calls_are_well_formed():
    calls = [c for day in DAYS for c in sample.generate_calls(day, 60, seed=2)]
    ids = [c["call_id"] for c in calls]
    assert len(set(ids)) == len(ids)  # unique within and across days
    long_calls = 0
    for call in calls:
        turns = call["utterances"]
        long_call = len(turns) >= sample.LONG_TURNS[0]
        long_calls += long_call
        if long_call:  # real discovery and demo calls: 30-60 minutes, monologues, stories, crosstalk, pauses
            assert len(turns) <= sample.LONG_TURNS[1] + 10 and 20 * 60 <= call["duration_s"] <= 75 * 60
            assert max(len(u["text"].split()) for u in turns) >= 120
        else:
            assert 20 <= len(turns) <= 90
            assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(turns))  # no overlaps
        assert all(b["start"] > a["start"] for a, b in itertools.pairwise(turns))
        assert all(a["end"] - b["start"] <= 0.801 for a, b in itertools.pairwise(turns))  # crosstalk is short
        assert all(u["end"] >= u["start"] >= 0 and u["text"].strip() for u in turns)
        assert call["duration_s"] >= turns[-1]["end"]
        rep = call["rep"]
        assert rep["email"] in {r.email for r in sample.REPS}
        assert {p["role"] for p in call["participants"]} <= {"rep", "customer", "internal"}
        assert [p["email"] for p in call["participants"] if p["role"] == "rep"] == [rep["email"]]
        speakers = [(u["speaker"], u.get("speaker_email", rep["email"])) for u in turns]
        assert (rep["name"], rep["email"]) in speakers  # the rep speaks in every call
        assert all(a != b for a, b in itertools.pairwise(speakers))  # turns alternate
    assert long_calls == 2 * round(60 * sample.LONG_SHARE)  # a fixed share of every day
    overlapping = [c for c in calls if any(a["end"] > b["start"] for a, b in itertools.pairwise(c["utterances"]))]
    assert overlapping and all(len(c["utterances"]) >= sample.LONG_TURNS[0] for c in overlapping)


def test_namesakes_carry_speaker_emails_and_never_land_as_vtt(landing):
    calls = sample.generate_calls(DAYS[0], 300, seed=2)
    twins = [c for c in calls if sum(p["name"] == c["rep"]["name"] for p in c["participants"]) > 1]
    assert twins
    assert all("speaker_email" in u for c in twins for u in c["utterances"])
    root, _ = landing
    for side in root.rglob("*.meta.json"):
        names = [p["name"] for p in json.loads(side.read_text())["participants"]]
        assert len(names) == len(set(names))


def _merged_vtt_turns(path: Path) -> list[tuple[str, int, str]]:
    """Cues merged by speaker the way the readers do: (speaker, start ms, text)."""
    turns: list[tuple[str, int, str]] = []
    for cue in webvtt.read(str(path)):
        text = " ".join(cue.text.split())
        speaker = cue.voice
        if speaker is None and text.startswith("("):  # Meet's (Name) line
            speaker, text = text[1:].split(") ", 1)
        elif speaker is None:
            speaker, text = text.split(": ", 1)
        if turns and turns[-1][0] == speaker:
            turns[-1] = (speaker, turns[-1][1], f"{turns[-1][2]} {text}")
        else:
            turns.append((speaker, cue.start_time.in_milliseconds(), text))
    return turns


def test_vtt_files_parse_have_sidecars_and_render_the_canonical_call(landing):
    root, _ = landing
    dialects, teams_bytes = set(), []
    for day in DAYS:
        truth = _canonical(day)
        for path in (root / day.isoformat()).rglob("c-*.vtt"):
            side = path.with_name(path.stem + ".meta.json")
            assert side.exists()
            meta = json.loads(side.read_text())
            assert "utterances" not in meta
            call = truth[meta["call_id"]]
            assert meta == {k: v for k, v in call.items() if k != "utterances"}
            expected = [(u["speaker"], round(u["start"] * 1000), u["text"]) for u in call["utterances"]]
            assert _merged_vtt_turns(path) == expected
            dialects.add(path.relative_to(root / day.isoformat()).parts[0])
            if "teams" in path.parts:
                teams_bytes.append(path.read_bytes())
    assert dialects == {"zoom", "teams", "meet"}
    assert any(b.startswith(b"\xef\xbb\xbf") for b in teams_bytes)
    assert any(b"\r\n" in b for b in teams_bytes)


def test_gong_exports_match_calls_transcripts_and_roster(landing):
    root, _ = landing
    gong_users = {r.gong_user_id: r.email for r in sample.REPS}
    for day in DAYS:
        truth = _canonical(day)
        for path in (root / day.isoformat() / "gong").glob("export-*.json"):
            doc = json.loads(path.read_text())
            assert {"requestId", "records", "calls", "callTranscripts"} <= set(doc)
            ids = [c["metaData"]["id"] for c in doc["calls"]]
            assert ids == [t["callId"] for t in doc["callTranscripts"]]
            assert 1 <= len(ids) <= 15
            for entry, transcript in zip(doc["calls"], doc["callTranscripts"], strict=True):
                meta, call = entry["metaData"], truth[entry["metaData"]["id"]]
                assert meta["id"].isdigit() and len(meta["id"]) == 19
                rep_party = [p for p in entry["parties"] if p.get("userId") == meta["primaryUserId"]]
                assert [p["emailAddress"] for p in rep_party] == [gong_users[meta["primaryUserId"]]]
                assert rep_party[0]["emailAddress"] == call["rep"]["email"]
                assert all("userId" not in p for p in entry["parties"] if p["affiliation"] == "External")
                monologues = transcript["transcript"]
                assert len(monologues) == len(call["utterances"])
                firsts = [m["sentences"][0]["start"] for m in monologues]  # crosstalk: monologues may overlap
                assert firsts == sorted(firsts)
                assert all([s["start"] for s in m["sentences"]] == sorted(s["start"] for s in m["sentences"])
                           for m in monologues)
                assert all(1 <= len(m["sentences"]) <= 4 for m in monologues)
                assert [" ".join(s["text"] for s in m["sentences"]) for m in monologues] == \
                    [u["text"] for u in call["utterances"]]


def test_bad_files_only_when_asked(tmp_path, landing):
    summary = sample.write_sample(str(tmp_path), DAYS, calls_per_day=8, seed=11)
    assert summary.bad_files == 0
    assert not [p for p in tmp_path.rglob("bad-*")]

    root, _ = landing
    folder = root / DAYS[1].isoformat()
    bad = {p.name: p for p in folder.rglob("bad-*")}
    assert sorted(bad) == ["bad-empty-transcript-01.json", "bad-gong-bad-timestamps-01.json",
                           "bad-invalid-json-01.json", "bad-no-sidecar-01.vtt", "bad-truncated-01.json",
                           "bad-unknown-format-01.docx"]  # the second round of the cycle
    for name in ("bad-invalid-json-01.json", "bad-truncated-01.json"):
        with pytest.raises(json.JSONDecodeError):
            json.loads(bad[name].read_text())
    assert not bad["bad-no-sidecar-01.vtt"].with_name("bad-no-sidecar-01.meta.json").exists()
    assert bad["bad-unknown-format-01.docx"].read_bytes().startswith(b"PK")  # a Word file (zip)
    assert json.loads(bad["bad-empty-transcript-01.json"].read_text())["utterances"] == []
    doc = json.loads(bad["bad-gong-bad-timestamps-01.json"].read_text())
    decreasing = [any(b["start"] < a["start"] for m in t["transcript"] for a, b in itertools.pairwise(m["sentences"]))
                  for t in doc["callTranscripts"]]
    assert decreasing == [False, True, False]  # one broken call beside two good ones


def test_bad_kinds_continue_from_day_to_day(tmp_path):
    sample.write_sample(str(tmp_path), DAYS, calls_per_day=0, seed=1, bad_files_per_day=2)
    names = [sorted(p.name for p in (tmp_path / d.isoformat()).rglob("bad-*")) for d in DAYS]
    assert names == [["bad-invalid-json-01.json", "bad-truncated-01.json"],
                     ["bad-no-sidecar-01.vtt", "bad-unknown-format-01.txt"]]


def test_rep_turns_have_the_realistic_length_mix():
    turns = sample.sample_rep_turns(1500, seed=4)
    words = [len(t.split()) for t in turns]
    assert len(turns) == 1500
    assert sum(w <= 3 for w in words) > 50  # backchannels and "Will do."
    assert sum(w >= 60 for w in words) > 10  # monologues
    assert any(t == t.lower() and "?" not in t for t in turns) and any("?" in t for t in turns)
    assert sample.sample_rep_turns(0) == []


def test_styles_are_told_apart_by_talk_share():
    shares: dict[str, list[float]] = {}
    style = {r.rep_id: r.style for r in sample.REPS}
    for call in sample.generate_calls(DAYS[0], 250, seed=9):
        talk = {True: 0.0, False: 0.0}
        for u in call["utterances"]:
            talk[u["speaker"] == call["rep"]["name"] and u.get("speaker_email", call["rep"]["email"])
                 == call["rep"]["email"]] += u["end"] - u["start"]
        shares.setdefault(style[call["rep"]["id"]], []).append(talk[True] / (talk[True] + talk[False]))
    mean = {k: sum(v) / len(v) for k, v in shares.items()}
    assert len(mean) >= 5
    assert mean["trusted_advisor"] < 0.5 < 0.7 < mean["pitcher"]


def test_asr_noise_looks_like_speech_recognition():
    noisy = [sample.asr_noise("So, how do you handle renewals today? We cut churn by 18%.", random.Random(i))
             for i in range(30)]
    assert all(t == t.lower() and not set(t) & set(",?") for t in noisy)
    assert all("percent" in t and "%" not in t for t in noisy)
    assert any(len(t.split()) > 12 for t in noisy)  # fillers or a false start were added
    assert sample.asr_noise("...", random.Random(0)) == ""


def test_roster_lists_every_rep(tmp_path):
    sample.write_roster(str(tmp_path / "nested" / "roster.csv"))
    with open(tmp_path / "nested" / "roster.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["rep_id", "name", "email", "team", "manager"]
    assert [r["rep_id"] for r in rows] == [r.rep_id for r in sample.REPS]
    assert len({r["email"] for r in rows}) == len(rows) >= 6
    assert {r.style for r in sample.REPS} >= {"trusted_advisor", "knows_customer", "relationship_only", "pitcher",
                                              "closer"}
    assert all(r.gong_user_id.isdigit() and r.gong_user_id != r.rep_id for r in sample.REPS)


@pytest.mark.parametrize(("dates", "calls", "bad"), [([], 5, 0), (DAYS, -1, 0), (DAYS, 5, -1), (DAYS * 2, 5, 0)],
                         ids=["no-dates", "negative-calls", "negative-bad-files", "repeated-dates"])
def test_bad_arguments_are_refused(tmp_path, dates, calls, bad):
    with pytest.raises(ValueError):
        sample.write_sample(str(tmp_path), dates, calls_per_day=calls, bad_files_per_day=bad)
    assert not list(tmp_path.iterdir())  # nothing written


def test_negative_counts_are_refused_by_the_helpers():
    with pytest.raises(ValueError):
        sample.generate_calls(DAYS[0], -1, seed=1)
    with pytest.raises(ValueError):
        sample.sample_rep_turns(-5)


def test_rep_pool_spreads_a_large_day_over_realistic_rep_days(tmp_path):
    """Benchmarks at thousands of calls need teams, not eight reps with a thousand calls each."""
    assert sample.rep_pool(5000) == sample.REPS  # the demo's eight by default
    reps = sample.rep_pool(1000, calls_per_rep=8)
    assert len(reps) == 125
    assert len({r.rep_id for r in reps}) == len({r.email for r in reps}) == len({r.gong_user_id for r in reps}) == 125
    calls = sample.generate_calls(DAYS[0], 0, seed=1)
    assert calls == []
    summary = sample.write_sample(str(tmp_path), DAYS[:1], calls_per_day=200, seed=4, calls_per_rep=8)
    assert summary.calls == 200
    per_rep = Counter(c["rep"]["id"] for fmt, c in sample._plan_day(DAYS[0], 200, 4, calls_per_rep=8))
    assert len(per_rep) > 8 and max(per_rep.values()) < 30
    # every call of the generated reps reads back, Gong exports included (attributed by the rep's user id)
    from pipeline.transcripts.ingest import iter_day
    from pipeline.warehouse import storage

    day = storage.landing_day(str(tmp_path), DAYS[0].isoformat())
    items = list(iter_day(day, max_file_bytes=10**8, max_turn_words=3000))
    # long calls' crosstalk makes a few VTT cues run backwards, which ingestion quarantines (as in the 8-rep sample)
    assert {i.quarantined.kind for i in items if i.call is None} <= {"bad_timestamps"}
    assert len(items) == 200
    read = [i.call for i in items if i.call is not None]
    assert len(read) > 180 and any(c.call_id.startswith("7") for c in read)  # Gong exports among them
    assert len({c.rep.email for c in read}) > 8


def test_rep_pool_rejects_a_nonsense_rep_load():
    with pytest.raises(ValueError, match="calls_per_rep must be >= 1"):
        sample.rep_pool(100, calls_per_rep=0)
