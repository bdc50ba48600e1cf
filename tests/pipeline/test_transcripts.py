"""Transcript ingestion: the three readers, rep attribution, roster and every quarantine case.

Each test lands a few tiny files in a ``tmp_path`` landing zone and reads the day
through the public entry points (``iter_day`` mostly, the readers directly where a
detail is easier to see there).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.transcripts.errors import KINDS, TranscriptError
from pipeline.transcripts.ingest import (
    IngestStats,
    detect_format,
    iter_day,
    parse_roster,
    validate_call,
)
from pipeline.transcripts.model import Call, Participant, Rep, Utterance
from pipeline.transcripts.readers import read_canonical, read_gong, read_vtt
from pipeline.warehouse.storage import landing_day

DAY = "2024-05-01"
DANA = {"id": "rep-7", "name": "Dana Reyes", "email": "dana@seller.com"}
DANA_P = {"name": "Dana Reyes", "email": "dana@seller.com", "role": "rep"}
SAM_P = {"name": "Sam Lee", "email": "sam@buyer.com", "role": "customer"}
PRIYA_P = {"name": "Priya Shah", "email": "priya@seller.com", "role": "internal"}
ROSTER_CSV = "rep_id,name,email,team,manager\nrep-7,Dana Reyes,dana@seller.com,Enterprise,Morgan Diaz\n"


# ---------------------------------------------------------------- builders


def meta(call_id: str = "call-1", **fields) -> dict:
    """Canonical call fields except utterances (what a VTT sidecar holds)."""
    doc = {"call_id": call_id, "started_at": "2024-05-01T15:00:00Z", "duration_s": 60.0, "title": "Discovery",
           "rep": dict(DANA), "participants": [dict(DANA_P), dict(SAM_P)]}
    doc.update(fields)
    return doc


def canonical(call_id: str = "call-1", turns: list | None = None, **fields) -> dict:
    """A canonical JSON call; a turn is ``(speaker, start, end, text)`` or a ready utterance dict."""
    turns = turns if turns is not None else [("Dana Reyes", 0, 2, "Hi Sam."), ("Sam Lee", 2, 4, "Hello Dana.")]
    utterances = [t if isinstance(t, dict) else {"speaker": t[0], "start": t[1], "end": t[2], "text": t[3]}
                  for t in turns]
    return {**meta(call_id, **fields), "utterances": utterances}


def ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def cue(start: float, end: float, *lines: str, ident: str | None = None) -> str:
    return "\n".join([*([ident] if ident else []), f"{ts(start)} --> {ts(end)}", *lines])


def vtt(*blocks: str, eol: str = "\n", bom: bool = False) -> str:
    text = "\n\n".join(["WEBVTT", *blocks]) + "\n"
    return ("\ufeff" if bom else "") + text.replace("\n", eol)


def party(speaker_id: str | None, name: str, email: str | None, affiliation: str, user_id: str | None = None) -> dict:
    p = {"name": name, "emailAddress": email, "affiliation": affiliation}
    if speaker_id is not None:
        p["speakerId"] = speaker_id
    if user_id is not None:
        p["userId"] = user_id
    return p


GONG_PARTIES = [party("s1", "Dana Reyes", "Dana@Seller.com", "Internal", "u-dana"),
                party("s2", "Sam Lee", "sam@buyer.com", "External")]


def mono(speaker_id: str, *sentences: tuple[int, int, str]) -> dict:
    return {"speakerId": speaker_id, "topic": None,
            "sentences": [{"start": a, "end": b, "text": t} for a, b, t in sentences]}


def gong_call(call_id: str, monologues: list | None = None, *, primary: str = "u-dana",
              parties: list | None = None, **meta_fields) -> tuple[dict, dict | None]:
    """One Gong call: its ``calls[]`` entry and its ``callTranscripts[]`` entry (None: no transcript)."""
    monologues = monologues if monologues is not None else [
        mono("s1", (0, 1500, "Hi Sam."), (1500, 2000, "Ready?")), mono("s2", (2500, 4000, "Hello Dana."))]
    metadata = {"id": call_id, "title": "Demo", "started": "2024-05-01T15:00:00Z", "duration": 60,
                "primaryUserId": primary, **meta_fields}
    entry = {"metaData": metadata, "parties": GONG_PARTIES if parties is None else parties}
    return entry, ({"callId": call_id, "transcript": monologues} if monologues else None)


def gong(*calls: tuple[dict, dict | None]) -> dict:
    return {"requestId": "r-1", "records": {"totalRecords": len(calls)},
            "calls": [c for c, _ in calls], "callTranscripts": [t for _, t in calls if t is not None]}


def land(tmp_path: Path, files: dict, day: str = DAY) -> str:
    """Write ``files`` (relative path -> dict / str / bytes) under ``<landing>/<day>/``; return the landing."""
    landing = tmp_path / "landing"
    for rel, content in files.items():
        path = landing / day / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict | list):
            content = json.dumps(content)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    landing.mkdir(exist_ok=True)
    return str(landing)


def ingest(landing: str, day: str = DAY, **kwargs):
    """Run a day; return (calls, quarantine records, items, stats)."""
    kwargs.setdefault("max_file_bytes", 1_000_000)
    kwargs.setdefault("max_turn_words", 3000)
    stats = IngestStats()
    items = list(iter_day(landing_day(landing, day), stats=stats, **kwargs))
    calls = [i.call for i in items if i.call is not None]
    bad = [i.quarantined for i in items if i.quarantined is not None]
    assert len(calls) + len(bad) == len(items)
    assert stats.balanced()
    assert (stats.calls_parsed, sum(stats.by_kind.values())) == (len(calls), len(bad))
    return calls, bad, items, stats


def turns(call: Call) -> list[tuple]:
    return [(u.speaker, u.start_s, u.end_s, u.text, u.role) for u in call.utterances]


# ---------------------------------------------------------------- format detection


@pytest.mark.parametrize(("name", "head", "expected"), [
    ("a/call.json", b'{"call_id": 1}', "json"),
    ("call.JSON", b"", "json"),
    ("call.txt", b'\xef\xbb\xbf  {"calls": []}', "json"),
    ("call.vtt", b"", "vtt"),
    ("call.VTT", b"garbage", "vtt"),
    ("call.txt", b"\xef\xbb\xbfWEBVTT\r\n\r\n", "vtt"),
    ("call.json", b"WEBVTT\n", "vtt"),
    ("zoom/call.meta.json", b"{}", "sidecar"),
    ("call.Meta.JSON", b"{}", "sidecar"),
    ("notes.txt", b"hello", "unknown"),
    ("noext", b"", "unknown"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_detect_format(name, head, expected):
    assert detect_format(name, head) == expected


# ---------------------------------------------------------------- canonical JSON


def test_canonical_happy_path_through_a_day(tmp_path):
    doc = canonical(
        turns=[{"speaker": "Dana Reyes", "start": 0, "end": 2.5, "text": "  Hi   Sam,\nthanks. ", "mood": "?"},
               ("Sam Lee", 3, 4, "Hello."), ("Priya Shah", 4, 5, ""), ("Dana Reyes", 5, 7.25, "Shall we?")],
        started_at="2024-05-01T17:00:00+02:00", participants=[dict(DANA_P), dict(SAM_P), dict(PRIYA_P)],
        rep={**DANA, "email": "Dana@Seller.COM", "team": "East"}, crm={"opportunity": "o-1"}, extra_key=[1, 2])
    calls, bad, _, stats = ingest(land(tmp_path, {"call-1.json": doc}))
    assert bad == []
    (call,) = calls
    assert call.call_id == "call-1"
    assert call.started_at == datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    assert call.duration_s == 60.0
    assert call.title == "Discovery"
    assert call.rep == Rep(id="dana@seller.com", name="Dana Reyes", email="dana@seller.com", team="East")
    assert call.participants == (Participant("Dana Reyes", "dana@seller.com", "rep"),
                                 Participant("Sam Lee", "sam@buyer.com", "customer"),
                                 Participant("Priya Shah", "priya@seller.com", "internal"))
    # whitespace normalised, the empty turn dropped, roles resolved, no merging of canonical turns
    assert turns(call) == [("Dana Reyes", 0.0, 2.5, "Hi Sam, thanks.", "rep"),
                           ("Sam Lee", 3.0, 4.0, "Hello.", "customer"),
                           ("Dana Reyes", 5.0, 7.25, "Shall we?", "rep")]
    assert (call.source_file, call.source_format) == ("call-1.json", "canonical")
    assert (stats.files_seen, stats.files_parsed, stats.calls_parsed) == (1, 1, 1)


def test_canonical_defaults_naive_time_as_utc_and_duration_from_last_turn():
    doc = canonical(started_at="2024-05-01T09:30:00", turns=[("Dana Reyes", 1, 2, "Hi."), ("Sam Lee", 2, 9.5, "Yo.")])
    del doc["duration_s"], doc["title"]
    call = read_canonical(doc, "x.json")
    assert call.started_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert call.duration_s == 9.5
    assert call.title == ""


def test_canonical_adds_the_rep_when_participants_omit_them():
    call = read_canonical(canonical(participants=[dict(SAM_P)]), "x.json")
    assert Participant("Dana Reyes", "dana@seller.com", "rep") in call.participants
    assert [u.role for u in call.utterances] == ["rep", "customer"]


def test_canonical_second_seller_listed_as_rep_becomes_internal():
    other = {"name": "Lee Park", "email": "lee@seller.com", "role": "rep"}
    call = read_canonical(canonical(participants=[dict(DANA_P), other, dict(SAM_P)],
                                    turns=[("Dana Reyes", 0, 1, "Hi."), ("Lee Park", 1, 2, "Hello.")]), "x.json")
    assert [(p.name, p.role) for p in call.participants] == [
        ("Dana Reyes", "rep"), ("Lee Park", "internal"), ("Sam Lee", "customer")]
    assert [u.role for u in call.utterances] == ["rep", "internal"]


def test_canonical_rep_found_by_email_whatever_the_listed_role_and_case():
    listed = [{"name": "D. Reyes", "email": "DANA@seller.com", "role": "customer"}, dict(SAM_P)]
    call = read_canonical(canonical(participants=listed, turns=[("D. Reyes", 0, 1, "Hi.")]), "x.json")
    assert call.participants[0] == Participant("D. Reyes", "dana@seller.com", "rep")
    assert call.utterances[0].role == "rep"


def test_canonical_without_emails_trusts_the_single_participant_listed_as_rep():
    # Nobody carries an email, so the one participant declared "rep" is the owner: the
    # rep must not be added a second time under the same name (that made every turn ambiguous).
    doc = canonical(rep={"id": "rep-7", "name": "Dana Reyes"},
                    participants=[{"name": "Dana Reyes", "role": "rep"}, {"name": "Sam Lee"}])
    call = read_canonical(doc, "x.json")
    assert call.participants == (Participant("Dana Reyes", None, "rep"), Participant("Sam Lee", None, "customer"))
    assert [u.role for u in call.utterances] == ["rep", "customer"]


def test_canonical_accepts_start_s_and_end_s_keys():
    doc = canonical(turns=[{"speaker": "Dana Reyes", "start_s": 1, "end_s": 2, "text": "Hi."}])
    assert turns(read_canonical(doc, "x.json")) == [("Dana Reyes", 1.0, 2.0, "Hi.", "rep")]


# ---------------------------------------------------------------- WebVTT

ZOOM_VTT = vtt(
    "NOTE\nExported by Zoom; this note\nspans two lines.",
    cue(0, 2, "Dana Reyes: Hi Sam,", "thanks for joining.", ident="1"),
    cue(2, 4, "Dana Reyes: Shall we start?", ident="2"),
    cue(4.5, 6, "Sam Lee: Sure.", ident="3"),
    cue(6, 8, "Sam Lee: Let me share my screen.", ident="4"),
    "NOTE a note between cues",
    cue(8.5, 10, "Dana Reyes: Perfect.", ident="5"),
)


def test_vtt_zoom_style_name_prefixes_cue_ids_notes_multiline_and_merging(tmp_path):
    landing = land(tmp_path, {"zoom/call-1.vtt": ZOOM_VTT, "zoom/call-1.meta.json": meta()})
    calls, bad, _, stats = ingest(landing)
    assert bad == []
    (call,) = calls
    assert turns(call) == [
        ("Dana Reyes", 0.0, 4.0, "Hi Sam, thanks for joining. Shall we start?", "rep"),  # multi-line + merged
        ("Sam Lee", 4.5, 8.0, "Sure. Let me share my screen.", "customer"),  # Zoom names every cue
        ("Dana Reyes", 8.5, 10.0, "Perfect.", "rep"),
    ]
    assert (call.source_file, call.source_format, call.call_id) == ("zoom/call-1.vtt", "vtt", "call-1")
    assert call.rep.id == "dana@seller.com"  # no roster: keyed on the email
    assert (stats.files_seen, stats.files_parsed, stats.files_quarantined) == (1, 1, 0)  # sidecar counted with it


def test_vtt_teams_style_voice_tags_with_bom_and_crlf(tmp_path):
    text = vtt(cue(0, 2.5, "<v Dana Reyes>Hi Sam.</v>", ident="5e1c9a3b-7a1e-4d/12-0"),
               cue(3, 5, "<v Sam Lee>Hello Dana,", "good to see you.</v>", ident="5e1c9a3b-7a1e-4d/15-0"),
               cue(5, 6.25, "<v Sam Lee>Shall we?</v>", ident="5e1c9a3b-7a1e-4d/16-0"),
               cue(7, 9, "<v Dana Reyes>Note: pricing is fixed.</v>", ident="5e1c9a3b-7a1e-4d/18-0"),
               eol="\r\n", bom=True)
    raw = text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbfWEBVTT\r\n")
    calls, bad, _, _ = ingest(land(tmp_path, {"teams.vtt": raw, "teams.meta.json": meta()}))
    assert bad == []
    assert turns(calls[0]) == [
        ("Dana Reyes", 0.0, 2.5, "Hi Sam.", "rep"),
        ("Sam Lee", 3.0, 6.25, "Hello Dana, good to see you. Shall we?", "customer"),
        ("Dana Reyes", 7.0, 9.0, "Note: pricing is fixed.", "rep"),  # a voice tag wins over a 'Name:' look-alike
    ]


def test_vtt_reader_directly_with_lenient_timestamps_and_empty_cues():
    # webvtt-py accepts short timestamps ("0:05.000") and long hours; they must not be refused.
    text = ("WEBVTT\n\n0:00.000 --> 0:05.000\nDana Reyes: Hi.\n\n00:00:05.000 --> 00:00:06.000\n\n"
            "100:00:06.000 --> 100:00:07.000\nSam Lee: Late.\n")
    call = read_vtt(text, meta(), "x.vtt")
    assert turns(call) == [("Dana Reyes", 0.0, 5.0, "Hi.", "rep"), ("Sam Lee", 360006.0, 360007.0, "Late.", "customer")]


@pytest.mark.parametrize("name", ["call.VTT", "call.txt"])
def test_vtt_pairs_its_sidecar_whatever_the_extension(tmp_path, name):
    # An upper-case extension, or a VTT told by its content, still reads its sidecar, which
    # must then not be quarantined as an orphan as well.
    calls, bad, _, stats = ingest(land(tmp_path, {name: ZOOM_VTT, "call.meta.json": meta()}))
    assert (len(calls), bad) == (1, [])
    assert (stats.files_seen, stats.files_parsed) == (1, 1)


def test_vtt_sidecar_problems_name_the_sidecar(tmp_path):
    _, bad, _, _ = ingest(land(tmp_path, {"a.vtt": ZOOM_VTT, "a.meta.json": '{"call_id": "a",'}))
    assert (bad[0].file, bad[0].kind) == ("a.vtt", "truncated")
    assert "a.meta.json" in bad[0].message


def test_vtt_sidecar_must_be_an_object(tmp_path):
    _, bad, _, _ = ingest(land(tmp_path, {"a.vtt": ZOOM_VTT, "a.meta.json": [meta()]}))
    assert bad[0].kind == "invalid_schema"


# ---------------------------------------------------------------- Gong


def test_gong_multi_call_export(tmp_path):
    parties = [*GONG_PARTIES, party("s3", "Priya Shah", "priya@seller.com", "Internal", "u-priya"),
               party(None, "Silent Observer", "obs@buyer.com", "External"),
               party(None, "Silent Manager", None, "Internal", "u-boss")]
    first = gong_call("g-1", [mono("s1", (0, 1500, "Hi Sam."), (1500, 2000, " Ready? ")),
                              mono("s1", (2000, 2500, "Still me.")),  # no pause: one turn (merge gap rule)
                              mono("s2", (2500, 4250, "Hello Dana.")),
                              mono("s3", (4500, 5000, "I can help.")),
                              mono("s9", (5000, 5500, "Who am I?"))], parties=parties, title="Kickoff")
    second = gong_call("g-2", duration=None, started="2024-05-01T16:30:00.000-04:00")
    calls, bad, _, stats = ingest(land(tmp_path, {"gong/export.json": gong(first, second)}))
    assert bad == []
    g1, g2 = calls
    assert (g1.call_id, g1.title, g1.duration_s, g1.source_format) == ("g-1", "Kickoff", 60.0, "gong")
    assert g1.rep == Rep(id="dana@seller.com", name="Dana Reyes", email="dana@seller.com")
    assert turns(g1) == [("Dana Reyes", 0.0, 2.5, "Hi Sam. Ready? Still me.", "rep"),
                         ("Sam Lee", 2.5, 4.25, "Hello Dana.", "customer"),
                         ("Priya Shah", 4.5, 5.0, "I can help.", "internal"),
                         ("speaker s9", 5.0, 5.5, "Who am I?", "unknown")]  # not among the parties
    # parties who never spoke (no speakerId) are all kept
    assert sorted((p.name, p.email, p.role) for p in g1.participants) == [
        ("Dana Reyes", "dana@seller.com", "rep"), ("Priya Shah", "priya@seller.com", "internal"),
        ("Sam Lee", "sam@buyer.com", "customer"), ("Silent Manager", None, "internal"),
        ("Silent Observer", "obs@buyer.com", "customer")]
    assert g2.started_at == datetime(2024, 5, 1, 20, 30, tzinfo=UTC)
    assert g2.duration_s == 4.0  # no duration: the last turn's end
    assert (stats.files_seen, stats.files_parsed, stats.calls_parsed) == (1, 1, 2)


def test_gong_one_bad_call_does_not_sink_the_others(tmp_path):
    export = gong(gong_call("g-1"),
                  gong_call("g-2", primary="u-nobody"),  # no_rep
                  gong_call("g-3", [mono("s1", (3000, 4000, "b")), mono("s2", (1000, 2000, "a"))]),  # bad_timestamps
                  gong_call("g-4"))
    export["calls"].insert(1, {"metaData": None})
    export["calls"].append({"metaData": {"id": "g-5", "primaryUserId": "u-dana"}, "parties": GONG_PARTIES})
    export["callTranscripts"].append({"callId": "g-orphan", "transcript": [mono("s1", (0, 1, "x"))]})
    calls, bad, _, stats = ingest(land(tmp_path, {"export.json": export}))
    assert [c.call_id for c in calls] == ["g-1", "g-4"]
    assert sorted((q.call_id, q.kind) for q in bad if q.call_id) == [
        ("g-2", "no_rep"), ("g-3", "bad_timestamps"), ("g-5", "empty_transcript"), ("g-orphan", "invalid_schema")]
    no_meta = next(q for q in bad if q.call_id is None)
    assert (no_meta.kind, no_meta.location) == ("invalid_schema", "calls[1]")
    assert all(q.file == "export.json" for q in bad)
    assert (stats.files_parsed, stats.files_quarantined, stats.calls_parsed, stats.calls_quarantined) == (1, 0, 2, 5)


@pytest.mark.parametrize(("monologues", "kind", "location"), [
    ([mono("s1", (0, 1000, "a"), (2000, 3000, "b")), {"speakerId": "s2", "sentences": []}],
     "invalid_schema", "call g-1 monologue 1"),
    ([{"speakerId": "s1", "sentences": ["just text"]}], "invalid_schema", "call g-1 monologue 0"),
    ([mono("s1", (1000, 2000, "a"), (500, 900, "b"))], "bad_timestamps", "call g-1 monologue 0"),
    ([mono("s1", (2000, 1000, "a")), mono("s2", (3000, 4000, "b"))], "bad_timestamps", "call g-1 monologue 0"),
    ([mono("s1", (0, "1000", "a"))], "invalid_schema", "call g-1 monologue 0"),
    ([mono("s1", (-500, 1000, "a"))], "bad_timestamps", "utterance 0"),
    ([mono("s2", (0, 1000, "only the customer"))], "rep_silent", None),
    ([mono("s1", (0, 1000, "   "))], "empty_transcript", None),
], ids=["no-sentences", "sentence-not-object", "decreasing-sentences", "sentence-ends-first", "ms-not-number",
        "negative", "rep-silent", "blank-text"])
def test_gong_call_level_quarantine(tmp_path, monologues, kind, location):
    calls, bad, _, stats = ingest(land(tmp_path, {"g.json": gong(gong_call("g-1", monologues), gong_call("g-2"))}))
    assert [c.call_id for c in calls] == ["g-2"]
    assert [(q.call_id, q.kind, q.location) for q in bad] == [("g-1", kind, location)]
    assert stats.files_quarantined == 0


def test_gong_export_without_calls_is_empty(tmp_path):
    _, bad, _, stats = ingest(land(tmp_path, {"g.json": gong()}))
    assert [q.kind for q in bad] == ["empty_transcript"]
    assert stats.files_quarantined == 1


def test_gong_reader_needs_both_lists():
    with pytest.raises(TranscriptError) as err:
        read_gong({"calls": [], "callTranscripts": {}}, "g.json")
    assert err.value.kind == "invalid_schema"


# ---------------------------------------------------------------- rep attribution by id or email, never by name

SHARED = [{"name": "Alex Kim", "email": "alex@seller.com", "role": "rep"},
          {"name": "Alex Kim", "email": "alex@buyer.com", "role": "customer"}]
ALEX = {"id": "rep-1", "name": "Alex Kim", "email": "alex@seller.com"}


def test_shared_name_canonical_resolved_by_speaker_email():
    doc = canonical(rep=ALEX, participants=SHARED, turns=[
        {"speaker": "Alex Kim", "speaker_email": "Alex@Seller.com", "start": 0, "end": 1, "text": "I sell."},
        {"speaker": "Alex Kim", "speaker_email": "alex@buyer.com", "start": 1, "end": 2, "text": "I buy."}])
    call = read_canonical(doc, "x.json")
    assert [u.role for u in call.utterances] == ["rep", "customer"]
    assert [p.role for p in call.participants] == ["rep", "customer"]


def test_shared_name_canonical_without_speaker_email_is_ambiguous(tmp_path):
    doc = canonical(rep=ALEX, participants=SHARED, turns=[("Alex Kim", 0, 1, "Who am I?")])
    _, bad, _, _ = ingest(land(tmp_path, {"x.json": doc}))
    assert [(q.kind, q.location, q.call_id) for q in bad] == [("ambiguous_speaker", "utterance 0", "call-1")]


def test_shared_name_vtt_is_quarantined_as_ambiguous(tmp_path):
    # A VTT names speakers only by display name: when the rep and a customer share it,
    # nothing tells their turns apart, so the call is refused rather than guessed.
    text = vtt(cue(0, 1, "Alex Kim: Hello.", ident="1"), cue(1, 2, "Alex Kim: Hi.", ident="2"))
    landing = land(tmp_path, {"a.vtt": text, "a.meta.json": meta(rep=ALEX, participants=SHARED)})
    calls, bad, _, _ = ingest(landing)
    assert calls == []
    assert [(q.file, q.kind, q.location) for q in bad] == [("a.vtt", "ambiguous_speaker", "cue 1")]


def test_shared_name_gong_resolved_by_speaker_id():
    parties = [party("7001", "Alex Kim", "alex@seller.com", "Internal", "u-alex"),
               party("7002", "Alex Kim", "alex@buyer.com", "External", "u-external")]
    (call,), bad = read_gong(gong(gong_call("g-1", [mono("7002", (0, 1000, "I buy.")),
                                                    mono("7001", (1000, 2000, "I sell."))],
                                            primary="u-alex", parties=parties)), "g.json")
    assert bad == []
    assert call.rep == Rep(id="u-alex", name="Alex Kim", email="alex@seller.com")
    assert [(u.text, u.role) for u in call.utterances] == [("I buy.", "customer"), ("I sell.", "rep")]


# ---------------------------------------------------------------- roster


def test_roster_applies_by_id_and_by_email(tmp_path):
    roster = parse_roster("rep_id,name,email,team,manager\n"
                          "rep-7,Dana Reyes,Dana@Seller.com,Enterprise,Morgan Diaz\n"
                          "rep-9,Lee Park,lee@seller.com,,\n")
    by_id = roster.apply(Rep(id="rep-7", name="D", email="other@seller.com", team="East"))
    assert by_id == Rep("rep-7", "Dana Reyes", "dana@seller.com", "Enterprise", "Morgan Diaz")
    by_email = roster.apply(Rep(id="u-gong-1", name="Dana", email="dana@seller.com"))
    assert by_email.id == "rep-7"
    assert roster.apply(Rep(id="rep-9", name="Lee", email="", team="West")).team == "West"  # roster has no team
    assert roster.apply(Rep(id="x", name="X", email="X@y.com")) == Rep(id="x@y.com", name="X", email="x@y.com")
    assert roster.apply(Rep(id="x", name="X", email="")) == Rep(id="x", name="X", email="")  # no email: file's id

    files = {"c.json": canonical(rep={"id": "someone", "email": "DANA@seller.com"})}
    calls, _, _, _ = ingest(land(tmp_path, files), roster=roster)
    assert calls[0].rep == Rep("rep-7", "Dana Reyes", "dana@seller.com", "Enterprise", "Morgan Diaz")


def test_roster_columns_and_rows_are_checked():
    with pytest.raises(ValueError, match="missing columns"):
        parse_roster("rep_id,name,team\nrep-7,Dana,East\n")
    with pytest.raises(ValueError, match="missing columns"):
        parse_roster("")
    with pytest.raises(ValueError, match="line 3 has no rep_id"):
        parse_roster("rep_id,name,email\nrep-7,Dana,dana@seller.com\n,Nobody,n@seller.com\n")
    assert parse_roster("rep_id,name,email\nrep-7,Dana,dana@seller.com\n").apply(Rep("rep-7", "D", "")).team is None


def test_load_roster_reads_a_file_with_bom(tmp_path):
    from pipeline.run import load_roster

    path = tmp_path / "roster.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ROSTER_CSV.encode())
    assert load_roster(str(path)).by_id["rep-7"].team == "Enterprise"
    assert load_roster("") is None


# ---------------------------------------------------------------- one conversation, three formats

CONVO = [  # speaker, start, end, sentences
    ("Dana Reyes", 0.0, 4.5, ["Thanks for joining, Sam.", "How is the rollout going?"]),
    ("Sam Lee", 5.0, 9.25, ["Slowly.", "Our team is stuck on SSO."]),
    ("Priya Shah", 9.5, 12.0, ["I can help with SSO today."]),
    ("Dana Reyes", 12.5, 20.0, ["Great, let's book a session.", "Does Thursday work?"]),
    ("Sam Lee", 20.5, 22.0, ["Thursday works."]),
]
CONVO_META = meta("call-42", duration_s=22.0, title="Rollout check-in",
                  rep=dict(DANA), participants=[dict(DANA_P), dict(SAM_P), dict(PRIYA_P)])


def sentence_times(start: float, end: float, n: int) -> list[tuple[float, float]]:
    step = (end - start) / n
    return [(start + k * step, start + (k + 1) * step) for k in range(n)]


def convo_canonical() -> dict:
    return {**CONVO_META, "utterances": [{"speaker": s, "start": a, "end": b, "text": " ".join(ss)}
                                         for s, a, b, ss in CONVO]}


def convo_vtt(style: str) -> bytes:
    blocks = []
    for speaker, a, b, sentences in CONVO:  # one cue per sentence: merging must rebuild the turns
        for (sa, sb), text in zip(sentence_times(a, b, len(sentences)), sentences, strict=True):
            line = f"<v {speaker}>{text}</v>" if style == "teams" else f"{speaker}: {text}"
            blocks.append(cue(sa, sb, line, ident=str(len(blocks) + 1)))
    if style == "teams":
        return vtt(*blocks, eol="\r\n", bom=True).encode()
    return vtt("NOTE Zoom transcript", *blocks).encode()


def convo_gong() -> dict:
    speaker_ids = {"Dana Reyes": "s1", "Sam Lee": "s2", "Priya Shah": "s3"}
    parties = [party("s2", "Sam Lee", "sam@buyer.com", "External"),
               party("s3", "Priya Shah", "priya@seller.com", "Internal", "u-priya"),
               party("s1", "Dana Reyes", "DANA@seller.com", "Internal", "u-gong-987")]
    monologues = [mono(speaker_ids[s], *[(round(sa * 1000), round(sb * 1000), t)
                                         for (sa, sb), t in zip(sentence_times(a, b, len(ss)), ss, strict=True)])
                  for s, a, b, ss in CONVO]
    return gong(gong_call("call-42", monologues, primary="u-gong-987", parties=parties, title="Rollout check-in",
                          started="2024-05-01T15:00:00Z", duration=22))


def comparable(call: Call) -> Call:
    people = tuple(sorted(call.participants, key=lambda p: (p.name, p.email or "", p.role)))
    return replace(call, source_file="", source_format="", participants=people)


@pytest.mark.parametrize("vtt_style", ["zoom", "teams"])
def test_three_formats_give_the_same_call(tmp_path, vtt_style):
    days = {"2024-05-01": {"call.json": convo_canonical()},
            "2024-05-02": {"call.vtt": convo_vtt(vtt_style), "call.meta.json": CONVO_META},
            "2024-05-03": {"gong/export.json": convo_gong()}}
    for day, files in days.items():
        landing = land(tmp_path, files, day=day)
    roster = parse_roster(ROSTER_CSV)
    results = {}
    for day in days:
        calls, bad, _, _ = ingest(landing, day, roster=roster)
        assert bad == []
        results[day] = calls[0]
    canonical_call, vtt_call, gong_call_ = results.values()
    assert [c.source_format for c in results.values()] == ["canonical", "vtt", "gong"]
    assert comparable(canonical_call) == comparable(vtt_call) == comparable(gong_call_)
    assert canonical_call.rep == Rep("rep-7", "Dana Reyes", "dana@seller.com", "Enterprise", "Morgan Diaz")
    assert [(u.speaker, u.role) for u in canonical_call.utterances] == [
        ("Dana Reyes", "rep"), ("Sam Lee", "customer"), ("Priya Shah", "internal"),
        ("Dana Reyes", "rep"), ("Sam Lee", "customer")]


# ---------------------------------------------------------------- quarantine: every kind

BAD_TIMING_VTT = ("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nDana Reyes: Hi.\n\n"
                  "2\n00:00:02 --> 00:00:04\nSam Lee: Hello.\n\n3\n00:00:05.000 --> 00:00:06.000\nDana Reyes: Bye.\n")
GOOD_SIDECAR = {"call.meta.json": meta()}
TRUNCATED_VTT = ZOOM_VTT + "\n6\n00:00:11.000 --> 00:0"


def with_sidecar(text: str | bytes, **meta_fields) -> dict:
    return {"call.vtt": text, "call.meta.json": meta(**meta_fields)}


QUARANTINE_CASES = [
    # kind, files, expected location (None: not checked), file-level?
    ("invalid_utf8", {"c.json": b'{"call_id": "\xff"}'}, "byte 13", True),
    ("invalid_utf8", with_sidecar(b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nDana Reyes: caf\xe9\n"), "byte 53", True),
    ("invalid_json", {"c.json": '{"call_id": "c",, "utterances": []}'}, "line 1 column 17", True),
    ("invalid_json", {"c.json": '{"utterances": []} trailing'}, "line 1 column 20", True),
    ("truncated", {"c.json": json.dumps(canonical())[:50]}, None, True),  # cut inside a string
    ("truncated", {"c.json": json.dumps(canonical())[:-2] + "\n"}, None, True),  # cut between values
    ("truncated", {"c.json": json.dumps(canonical()).encode()[:-2] + '"é'.encode()[:2]}, None, True),  # mid-char
    ("truncated", with_sidecar(TRUNCATED_VTT), f"line {len(TRUNCATED_VTT.splitlines())}", True),
    ("invalid_vtt", with_sidecar(BAD_TIMING_VTT), "line 8", True),
    ("invalid_vtt", with_sidecar("1\n00:00:00.000 --> 00:00:01.000\nDana Reyes: no header\n"), None, True),
    ("invalid_vtt", with_sidecar(vtt(cue(0, 1, "nobody said who I am", ident="c1"))), None, True),
    ("invalid_vtt", with_sidecar(vtt(cue(0, 1, "Dana Reyes: from A", "--> B"), cue(2, 3, "Sam Lee: ok"))), "line 5",
     True),  # "-->" inside a cue's text: webvtt-py would silently drop the rest of the cue
    ("invalid_schema", {"c.json": canonical(started_at="yesterday")}, None, True),
    ("invalid_schema", {"c.json": canonical(turns=[{"speaker": "Sam Lee", "start": 0, "end": 1}])}, "utterance 0",
     True),
    ("invalid_schema", {"c.json": canonical(participants=[{"email": "x@y.com"}])}, "participant 0", True),
    ("invalid_schema", {"c.json": {**canonical(), "utterances": "hello"}}, None, True),
    ("unknown_format", {"notes.txt": "just some notes"}, None, True),
    ("unknown_format", {"c.json": {"call_id": "c", "text": "no utterances"}}, None, True),
    ("unknown_format", {"c.json": [canonical()]}, None, True),
    ("empty_transcript", {"c.json": b""}, None, True),
    ("empty_transcript", {"c.json": b"\xef\xbb\xbf \r\n"}, None, True),
    ("empty_transcript", {"c.json": canonical(turns=[])}, None, False),
    ("empty_transcript", {"c.json": canonical(turns=[("Dana Reyes", 0, 1, "  ")])}, None, False),
    ("empty_transcript", with_sidecar("WEBVTT\n"), None, False),
    ("no_rep", {"c.json": {k: v for k, v in canonical().items() if k != "rep"}}, None, True),
    ("no_rep", {"c.json": canonical(rep={"name": "Dana Reyes"})}, None, True),
    ("no_rep", with_sidecar(ZOOM_VTT, rep=None), None, True),
    ("no_rep", {"g.json": gong(gong_call("g-1", primary=""))}, "call g-1", False),
    ("rep_silent", {"c.json": canonical(turns=[("Sam Lee", 0, 1, "Anyone there?")])}, None, False),
    ("rep_silent", with_sidecar(vtt(cue(0, 1, "Sam Lee: Hello?"))), None, False),
    ("ambiguous_speaker", {"c.json": canonical(rep=ALEX, participants=SHARED, turns=[("Alex Kim", 0, 1, "Hi")])},
     "utterance 0", True),
    ("bad_timestamps", {"c.json": canonical(turns=[("Dana Reyes", -1, 1, "Hi.")])}, "utterance 0", False),
    ("bad_timestamps", {"c.json": canonical(turns=[("Dana Reyes", 2, 1, "Hi.")])}, "utterance 0", False),
    ("bad_timestamps", {"c.json": canonical(turns=[("Dana Reyes", 5, 6, "Hi."), ("Sam Lee", 1, 2, "Yo.")])},
     "utterance 1", False),
    ("bad_timestamps", with_sidecar(vtt(cue(5, 6, "Dana Reyes: Hi.", ident="1"), cue(1, 2, "Dana Reyes: again.",
                                                                                       ident="2"))), "cue 2", True),
    ("bad_timestamps", with_sidecar(vtt(cue(5, 4, "Dana Reyes: Hi.", ident="1"))), "cue 1", True),
    ("turn_too_long", {"c.json": canonical(turns=[("Dana Reyes", 0, 1, "word " * 3001)])}, "utterance 0", True),
    ("unresolved_speakers", {"c.json": canonical(turns=[("Dana Reyes", 0, 1, "Hi."), ("Dana W.", 1, 2, "Me too."),
                                                        ("Guest 4", 2, 9, "Who is who?")])}, None, False),
    ("missing_sidecar", {"call.vtt": ZOOM_VTT}, None, True),
    ("missing_sidecar", {"call.vtt": ZOOM_VTT, "other.meta.json": meta()}, None, True),
    ("orphan_sidecar", GOOD_SIDECAR, None, True),
]


@pytest.mark.parametrize(("kind", "files", "location", "file_level"), QUARANTINE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(QUARANTINE_CASES)])
def test_quarantine_case(tmp_path, kind, files, location, file_level):
    calls, bad, items, stats = ingest(land(tmp_path, files))
    assert calls == []
    assert kind in {q.kind for q in bad}, [(q.kind, q.message, q.location) for q in bad]
    record = next(q for q in bad if q.kind == kind)
    assert record.file in files
    assert record.message
    if location is not None:
        assert record.location == location
    assert stats.by_kind[kind] >= 1
    item = next(i for i in items if i.quarantined is record)
    if file_level:
        assert stats.files_quarantined >= 1
        assert item.raw == (tmp_path / "landing" / DAY / record.file).read_bytes()  # kept for the quarantine copy
    else:
        assert stats.calls_quarantined >= 1
        assert record.call_id


def test_every_quarantine_kind_has_a_case():
    covered = {c[0] for c in QUARANTINE_CASES} | {"file_too_large", "duplicate_call_id", "reader_error",
                                                  "duplicate_call_id_previous_day",  # tests/reliability
                                                  "unsafe_name",  # tests/pipeline/test_security.py
                                                  "erased"}  # tests/pipeline/test_erasure.py
    assert covered == set(KINDS)


def test_file_over_the_size_limit_is_not_read(tmp_path):
    big = canonical(turns=[("Dana Reyes", 0, 1, "word " * 200)])
    files = {"big.json": big, "small.json": canonical("small"), "call.vtt": ZOOM_VTT,
             "call.meta.json": meta("v", title="x" * 2000)}
    limit = len(json.dumps(canonical("small"))) + 10
    calls, bad, items, stats = ingest(land(tmp_path, files), max_file_bytes=limit)
    assert [c.call_id for c in calls] == ["small"]
    assert sorted((q.file, q.kind) for q in bad) == [("big.json", "file_too_large"), ("call.vtt", "file_too_large")]
    assert "sidecar" in next(q for q in bad if q.file == "call.vtt").message
    assert all("CALLSCORE_MAX_FILE_BYTES" in q.message for q in bad)  # the setting that would let them in
    assert all(i.raw is None for i in items if i.quarantined and i.quarantined.file == "big.json")
    assert (stats.files_seen, stats.files_quarantined) == (3, 2)


def test_turn_word_limit_defaults_to_3000_and_is_configurable(tmp_path):
    assert Settings().max_turn_words == 3000
    read_canonical(canonical(turns=[("Dana Reyes", 0, 1, "word " * 3000)]), "x.json")  # exactly the limit is fine
    with pytest.raises(TranscriptError) as err:
        read_canonical(canonical(turns=[("Dana Reyes", 0, 1, "word " * 3001)]), "x.json")
    assert (err.value.kind, err.value.location, err.value.call_id) == ("turn_too_long", "utterance 0", "call-1")

    files = {"c.json": canonical(turns=[("Dana Reyes", 0, 1, "one two three four five six")])}
    _, bad, _, _ = ingest(land(tmp_path, files), max_turn_words=5)
    assert [q.kind for q in bad] == ["turn_too_long"]


def test_validate_call_order_of_checks():
    rep = Rep("r", "Dana", "d@x.com")
    people = (Participant("Dana", "d@x.com", "rep"),)

    def call(*utterances: Utterance) -> Call:
        return Call("c", datetime(2024, 5, 1, tzinfo=UTC), 1.0, "", rep, people, utterances)

    validate_call(call(Utterance("Dana", 0, 1, "hi", "rep"), Utterance("Sam", 0, 2, "overlap is fine")))
    for bad_call, kind in [(call(), "empty_transcript"),
                           (call(Utterance("Dana", 0, -1, "hi", "rep")), "bad_timestamps"),
                           (call(Utterance("Sam", 0, 1, "hi")), "rep_silent")]:
        with pytest.raises(TranscriptError) as err:
            validate_call(bad_call)
        assert err.value.kind == kind


# ---------------------------------------------------------------- duplicates, stats, folders


def test_duplicate_call_id_keeps_the_first_in_sorted_path_order(tmp_path):
    files = {"b-second.json": canonical("dup", title="second"),
             "a/first.json": canonical("dup", title="first"),
             "c/gong.json": gong(gong_call("dup"), gong_call("g-ok"), gong_call("g-ok"))}
    calls, bad, _, stats = ingest(land(tmp_path, files))
    assert [(c.call_id, c.source_file) for c in calls] == [("dup", "a/first.json"), ("g-ok", "c/gong.json")]
    assert calls[0].title == "first"
    assert sorted((q.file, q.kind, q.call_id) for q in bad) == [
        ("b-second.json", "duplicate_call_id", "dup"),
        ("c/gong.json", "duplicate_call_id", "dup"),
        ("c/gong.json", "duplicate_call_id", "g-ok")]
    assert all("a/first.json" in q.message or q.call_id == "g-ok" for q in bad)
    assert (stats.files_parsed, stats.calls_parsed, stats.calls_quarantined) == (3, 2, 3)


def test_duplicate_of_a_quarantined_call_is_kept(tmp_path):
    # "Keep the first" means the first copy that could be read: a broken first copy
    # must not cost the day its only good one.
    files = {"a.json": canonical("dup", turns=[("Sam Lee", 0, 1, "rep is silent")]), "b.json": canonical("dup")}
    calls, bad, _, _ = ingest(land(tmp_path, files))
    assert [(c.source_file, c.call_id) for c in calls] == [("b.json", "dup")]
    assert [(q.file, q.kind) for q in bad] == [("a.json", "rep_silent")]


def test_mixed_day_stats_balance(tmp_path):
    files = {
        "canonical/c1.json": canonical("c1"),
        "zoom/deep/er/v1.vtt": ZOOM_VTT, "zoom/deep/er/v1.meta.json": meta("v1"),
        "gong/export.json": gong(gong_call("g1"), gong_call("g2", primary="nobody")),
        "broken.json": "{not json",
        "lonely.meta.json": meta("x"),
        "teams/v2.vtt": ZOOM_VTT,
        "silent.json": canonical("s1", turns=[("Sam Lee", 0, 1, "hello?")]),
    }
    calls, _, items, stats = ingest(land(tmp_path, files))
    assert sorted(c.call_id for c in calls) == ["c1", "g1", "v1"]
    assert (stats.files_seen, stats.files_parsed, stats.files_quarantined) == (7, 4, 3)
    assert (stats.calls_parsed, stats.calls_quarantined) == (3, 2)
    assert stats.by_kind == {"invalid_json": 1, "orphan_sidecar": 1, "missing_sidecar": 1, "no_rep": 1,
                             "rep_silent": 1}
    # landing order: sorted relative paths
    firsts = [i.call.source_file if i.call else i.quarantined.file for i in items]
    assert firsts == sorted(firsts)


def test_missing_day_folder_or_landing_is_an_error_not_an_empty_day(tmp_path):
    from pipeline.warehouse.storage import MissingLandingError

    landing = land(tmp_path, {"c.json": canonical()}, day="2024-04-30")
    with pytest.raises(MissingLandingError, match="no folder for 2024-05-01"):
        ingest(landing, "2024-05-01")
    with pytest.raises(MissingLandingError, match="landing root"):
        landing_day(str(tmp_path / "no-such-landing"), DAY)
    (tmp_path / "landing" / DAY).mkdir()
    _, _, items, stats = ingest(landing, DAY)  # an existing, empty folder is an empty day
    assert items == [] and stats == IngestStats()


def test_a_run_reads_only_its_own_day(tmp_path):
    land(tmp_path, {"c.json": canonical("yesterday")}, day="2024-04-30")
    land(tmp_path, {"c.json": canonical("tomorrow"), "x/y.json": "{broken"}, day="2024-05-02")
    land(tmp_path, {"c.json": canonical("backup")}, day="2024-05-01-backup")
    (tmp_path / "landing" / "stray.json").write_text("{broken")
    landing = land(tmp_path, {"nested/a/b/c.json": canonical("today"),
                              "nested/v/call.vtt": ZOOM_VTT, "nested/v/call.meta.json": meta("today-vtt")})
    for url in (landing, landing + "/", "file://" + landing):
        calls, bad, _, stats = ingest(url)
        assert [(c.call_id, c.source_file) for c in calls] == [("today", "nested/a/b/c.json"),
                                                                ("today-vtt", "nested/v/call.vtt")]
        assert bad == []
        assert stats.files_seen == 2


@pytest.mark.parametrize("day", ["", "..", "2024-05", "2024-05-01/..", "2024-13-01", "20240501"])
def test_a_day_that_is_not_a_date_is_refused(tmp_path, day):
    landing = land(tmp_path, {"c.json": canonical()})
    with pytest.raises(ValueError, match=r"YYYY-MM-DD|month"):
        list(iter_day(landing_day(landing, day), max_file_bytes=1000, max_turn_words=10))


def test_an_unforeseen_reader_crash_quarantines_only_that_file(tmp_path, monkeypatch):
    from pipeline.transcripts import ingest as ingest_module

    real = ingest_module.read_canonical

    def flaky(doc, source_file, options=None):
        if doc["call_id"] == "boom":
            raise KeyError("surprise")
        return real(doc, source_file, options)

    monkeypatch.setattr(ingest_module, "read_canonical", flaky)
    calls, bad, _, stats = ingest(land(tmp_path, {"a.json": canonical("boom"), "b.json": canonical("fine")}))
    assert [c.call_id for c in calls] == ["fine"]
    assert [(q.file, q.kind) for q in bad] == [("a.json", "reader_error")]
    assert "KeyError" in bad[0].message and stats.balanced()
