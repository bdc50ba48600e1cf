"""Issue #11: exports as Zoom, Teams, Meet and Gong really write them, and talk counted from speech.

One minimal reproduction of our own per numbered case of the issue (each case was first
seen in a real third-party file; those files stay outside the repository, see
``tests/real_exports/README.md`` and ``test_real_files.py``). Talk metrics are checked
through ``calls_table``, the function that publishes them.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import LABELS
from pipeline.scoring.metrics import attach_labels, calls_table, turns_frame
from pipeline.settings import Settings
from pipeline.transcripts.common import ReadOptions, Speakers, merge_turns
from pipeline.transcripts.errors import TranscriptError
from pipeline.transcripts.ingest import IngestStats, iter_day, parse_roster
from pipeline.transcripts.model import Call, Participant, Utterance
from pipeline.transcripts.readers import read_canonical, read_gong, read_vtt
from pipeline.warehouse.storage import landing_day

DAY = "2024-05-01"
PAT = {"name": "Pat Rep", "email": "pat@seller.com", "role": "rep"}
ANA = {"name": "Ana Ruiz", "email": "ana@buyer.com", "role": "customer"}


def meta(participants: list | None = None, **fields) -> dict:
    doc = {"call_id": "call-1", "started_at": "2024-05-01T15:00:00Z", "duration_s": 900.0, "title": "Discovery",
           "rep": {"id": "rep-1", "name": "Pat Rep", "email": "pat@seller.com"},
           "participants": participants if participants is not None else [dict(PAT), dict(ANA)]}
    return {**doc, **fields}


def ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def vtt(*cues: tuple) -> str:
    """``(start, end, text)`` cues; text may hold newlines."""
    blocks = [f"{i}\n{ts(a)} --> {ts(b)}\n{text}" for i, (a, b, text) in enumerate(cues, start=1)]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def turns(call: Call) -> list[tuple]:
    return [(u.speaker, u.role, u.start_s, u.end_s, u.text) for u in call.utterances]


def metrics(call: Call) -> dict:
    """The published calls row of one call (labels: every rep turn ``other``)."""
    frame = turns_frame([call])
    rep = int((frame["speaker_role"] == "rep").sum())
    probs = np.tile(np.eye(len(LABELS), dtype=np.float32)[LABELS.index("other")], (rep, 1))
    return calls_table(attach_labels(frame, ["other"] * rep, probs, "m-1")).iloc[0].to_dict()


def land(tmp_path: Path, files: dict) -> str:
    for rel, content in files.items():
        path = tmp_path / "landing" / DAY / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else
                         (json.dumps(content) if isinstance(content, dict) else content).encode())
    return str(tmp_path / "landing")


def ingest(landing: str, **kwargs):
    kwargs.setdefault("max_file_bytes", 1_000_000)
    kwargs.setdefault("max_turn_words", 3000)
    stats = IngestStats()
    items = list(iter_day(landing_day(landing, DAY), stats=stats, **kwargs))
    assert stats.balanced()
    return ([i.call for i in items if i.call], [i.quarantined for i in items if i.quarantined], items)


# ------------------------------------------------------------------ 1. silence is not talk


def test_1_a_long_silence_splits_a_turn_and_talk_is_time_spoken():
    # The host says "one moment" at 0:08 and "welcome everyone" at 10:00: two turns, 6 s of talk,
    # not a 10-minute monologue.
    call = read_vtt(vtt((8, 9, "Pat Rep: One moment."), (600, 605, "Pat Rep: Welcome everyone."),
                        (606, 616, "Ana Ruiz: Thanks for having us.")), meta(), "z.vtt")
    assert [(s, a, b) for s, _, a, b, _ in turns(call)] == [("Pat Rep", 8, 9), ("Pat Rep", 600, 605),
                                                            ("Ana Ruiz", 606, 616)]
    row = metrics(call)
    assert (row["rep_talk_s"], row["talk_s"], row["longest_rep_monologue_s"]) == (6.0, 16.0, 5.0)
    assert row["rep_talk_ratio"] == pytest.approx(6 / 16)
    assert row["longest_customer_story_s"] == 10.0


def test_1_short_gaps_merge_but_the_pause_inside_is_not_talk():
    call = read_vtt(vtt((0, 2, "Pat Rep: So the plan"), (3.5, 5, "Pat Rep: is simple."),
                        (5.2, 6, "Ana Ruiz: Okay.")), meta(), "z.vtt")
    assert turns(call)[0] == ("Pat Rep", "rep", 0, 5, "So the plan is simple.")
    assert call.utterances[0].spoken_s == pytest.approx(3.5)  # 2 + 1.5, the 1.5 s pause left out
    assert metrics(call)["rep_talk_s"] == pytest.approx(3.5)


def test_1_merge_gap_is_a_setting_default_2s(tmp_path):
    assert Settings().merge_gap_s == 2.0
    assert Settings.load({"CALLSCORE_MERGE_GAP_S": "0.5"}).merge_gap_s == 0.5
    with pytest.raises(ValueError, match="merge_gap_s"):
        Settings(merge_gap_s=-1)
    files = {"z.vtt": vtt((0, 2, "Pat Rep: Hello."), (3, 4, "Pat Rep: Anyone?"), (4.5, 5, "Ana Ruiz: Hi.")),
             "z.meta.json": meta()}
    (merged,), _, _ = ingest(land(tmp_path, files))
    (split,), _, _ = ingest(land(tmp_path, files), merge_gap_s=0.5)
    assert (len(merged.utterances), len(split.utterances)) == (2, 3)


def test_1_overlapping_cues_never_count_twice():
    pieces = [Utterance("Pat Rep", 0, 4, "a", "rep"), Utterance("Pat Rep", 3, 6, "b", "rep"),  # overlap 1 s
              Utterance("Ana Ruiz", 5, 7, "c", "customer"),  # crosstalk: each speaker's own time counts
              Utterance("Pat Rep", 5.5, 8, "d", "rep")]  # overlaps the rep's own earlier cue by 0.5 s
    merged = merge_turns(pieces, 2.0)
    assert [u.spoken_s for u in merged] == [6.0, 2.0, 2.0]
    assert sum(u.spoken for u in merged if u.role == "rep") == 8.0  # union of [0,6] and [5.5,8]


def test_1_canonical_turns_are_kept_as_given_and_talk_is_their_length():
    doc = {**meta(), "utterances": [{"speaker": "Pat Rep", "start": 0, "end": 2, "text": "Hi."},
                                    {"speaker": "Pat Rep", "start": 30, "end": 31, "text": "Still there?"},
                                    {"speaker": "Ana Ruiz", "start": 31, "end": 35, "text": "Yes."}]}
    call = read_canonical(doc, "c.json")
    assert len(call.utterances) == 3
    assert metrics(call)["rep_talk_s"] == 3.0


# ------------------------------------------------------------------ 2. unnamed Zoom cue


def test_2_an_unnamed_zoom_cue_is_an_unknown_speaker_never_merged():
    call = read_vtt(vtt((0, 2, "Pat Rep: Were you the one on the 917 number?"), (2.1, 3, "Yes. Okay."),
                        (4, 9, "Ana Ruiz: So about the rollout.")), meta(), "z.vtt")
    assert turns(call) == [("Pat Rep", "rep", 0, 2, "Were you the one on the 917 number?"),
                           ("(unnamed)", "unknown", 2.1, 3, "Yes. Okay."),
                           ("Ana Ruiz", "customer", 4, 9, "So about the rollout.")]
    row = metrics(call)
    assert (row["rep_talk_s"], row["talk_s"]) == (2.0, 7.0)  # the unknown 0.9 s counts for neither side
    assert (row["unknown_speaker_turns"], row["unknown_speaker_s"]) == (1, pytest.approx(0.9))
    assert (row["rep_utterances"], row["customer_utterances"]) == (1, 1)


def test_2_a_file_that_names_nobody_is_refused():
    with pytest.raises(TranscriptError) as err:
        read_vtt(vtt((0, 2, "Hello there."), (2, 3, "Hi.")), meta(), "cc.vtt")
    assert err.value.kind == "invalid_vtt" and "names its speaker" in err.value.message


# ------------------------------------------------------------------ 3. character references


def test_3_teams_character_references_in_names_and_text():
    people = [dict(PAT), {"name": unicodedata.normalize("NFD", "José Pérez"), "role": "customer"}]  # NFD in JSON
    call = read_vtt(vtt((0, 2, "<v Pat Rep>We work with AT&amp;T &lt;3</v>"),
                        (2, 4, "<v Jos&#233; P&#233;rez>Great &#8212; and JOSÉ is me.</v>")),
                    meta(people), "t.vtt")
    assert [(u.role, u.text) for u in call.utterances] == [("rep", "We work with AT&T <3"),
                                                           ("customer", "Great \u2014 and JOSÉ is me.")]


def test_3_names_compare_case_folded():
    speakers = Speakers([Participant("José Pérez", None, "customer")])
    assert speakers.match("JOSÉ PÉREZ").name == "José Pérez"
    assert speakers.match("jos&eacute; p&eacute;rez").name == "José Pérez"


# ------------------------------------------------------------------ 4. monologue vs failed separation


def test_4_a_long_monologue_in_many_cues_is_not_turn_too_long(tmp_path):
    cues = [(i * 5, i * 5 + 5, f"Pat Rep: {'word ' * 20}") for i in range(200)]  # 4,000 words, 200 cues
    files = {"talk.vtt": vtt(*cues, (1000, 1001, "Ana Ruiz: Thanks.")), "talk.meta.json": meta()}
    (call,), bad, _ = ingest(land(tmp_path, files), max_turn_words=3000)
    assert bad == [] and len(call.utterances[0].text.split()) == 4000


def test_4_a_single_cue_over_the_limit_is_a_failed_separation(tmp_path):
    files = {"talk.vtt": vtt((0, 60, f"Pat Rep: {'word ' * 51}"), (61, 62, "Ana Ruiz: Hm.")), "talk.meta.json": meta()}
    _, bad, _ = ingest(land(tmp_path, files), max_turn_words=50)
    assert [(q.kind, q.location) for q in bad] == [("turn_too_long", "cue 1")]


def test_4_a_gong_monologue_is_one_piece():
    doc = gong_export(monologues=[mono("s1", (0, 1000, "word " * 40), (1000, 2000, "word " * 40))])
    _, bad = read_gong(doc, "g.json", ReadOptions(max_piece_words=60))
    assert [q.kind for q in bad] == ["turn_too_long"]


# ------------------------------------------------------------------ 5. invented speakers


def test_5_a_colon_in_speech_invents_nobody():
    call = read_vtt(vtt((0, 2, "Pat Rep: How do quarters look?"), (3, 6, "Honestly though: it depends on the quarter."),
                        (7, 9, "Ana Ruiz: Right.")), meta(), "z.vtt")
    assert ("(unnamed)", "unknown", 3, 6, "Honestly though: it depends on the quarter.") in turns(call)
    assert "Honestly though" not in {u.speaker for u in call.utterances}


def test_5_a_recurring_prefix_is_a_speaker_even_if_not_a_participant():
    call = read_vtt(vtt((0, 2, "Pat Rep: Hi."), (3, 4, "Guest 3: Hello."), (5, 6, "Pat Rep: Welcome."),
                        (7, 8, "Guest 3: Thanks.")), meta(), "z.vtt")
    assert [(u.speaker, u.role) for u in call.utterances][1] == ("Guest 3", "unknown")


# ------------------------------------------------------------------ 6. two voices in one cue


def test_6_a_cue_is_split_on_its_voice_spans():
    call = read_vtt(vtt((0, 4, "<v Pat Rep>Can you hear me?</v>\n<v Ana Ruiz>Yes, loud and clear.</v>")),
                    meta(), "t.vtt")
    assert turns(call) == [("Pat Rep", "rep", 0, pytest.approx(4 * 4 / 8), "Can you hear me?"),
                           ("Ana Ruiz", "customer", pytest.approx(2.0), 4, "Yes, loud and clear.")]


# ------------------------------------------------------------------ 7. Google Meet


MEET = ("WEBVTT\n\n00:00:16.000 --> 00:00:20.000\n(Pat Rep)\nWhat does your team use\ntoday?\n-\n \n(Ana Ruiz)\n"
        "Spreadsheets mostly\n\n00:00:20.000 --> 00:00:24.000\n(Ana Ruiz)\nand a lot of email.\n\n"
        "00:00:24.000 --> 00:00:28.000\n(laughs) fair enough\n")


def test_7_meet_name_lines_and_several_speakers_per_cue():
    call = read_vtt(MEET, meta(), "meet.vtt")
    assert [(s, r, t) for s, r, _, _, t in turns(call)] == [
        ("Pat Rep", "rep", "What does your team use today?"),
        ("Ana Ruiz", "customer", "Spreadsheets mostly and a lot of email."),
        ("(unnamed)", "unknown", "(laughs) fair enough")]  # "(laughs)" is not a participant and never recurs
    assert call.utterances[0].end_s == pytest.approx(16 + 4 * 6 / 8)  # the cue's time shared by words


# ------------------------------------------------------------------ 8. Gong as connectors save it


def mono(sid: str, *sentences: tuple) -> dict:
    return {"speakerId": sid, "sentences": [{"start": a, "end": b, "text": t} for a, b, t in sentences]}


def gong_export(monologues: list | None = None, parties: list | None = None, **meta_fields) -> dict:
    parties = parties if parties is not None else [
        {"speakerId": "s1", "userId": "u1", "name": "Pat Rep", "emailAddress": "pat@seller.com",
         "affiliation": "Internal"},
        {"speakerId": "s2", "name": "Ana Ruiz", "emailAddress": "ana@buyer.com", "affiliation": "External"}]
    monologues = monologues if monologues is not None else [mono("s1", (0, 2000, "Hi Ana.")),
                                                           mono("s2", (2500, 4000, "Hello."))]
    md = {"id": "g-1", "started": "2024-05-01T15:00:00Z", "duration": 60, "primaryUserId": "u1", **meta_fields}
    return {"calls": [{"metaData": md, "parties": parties}],
            "callTranscripts": [{"callId": "g-1", "transcript": monologues}]}


def test_8_gong_started_as_epoch_seconds():
    (call,), bad = read_gong(gong_export(started=1714575600), "g.json")
    assert bad == [] and call.started_at.isoformat() == "2024-05-01T15:00:00+00:00"


@pytest.mark.parametrize(("doc", "needle"), [
    ({"requestId": "r", "callTranscripts": [{"callId": "g-1", "transcript": []}]}, "only a /v2/calls/transcript"),
    ({"requestId": "r", "calls": [{"id": "g-1", "started": "2024-05-01T15:00:00Z", "primaryUserId": "u1"}]},
     "flat /v2/calls list"),
    ({"calls": gong_export()["calls"]}, "no 'callTranscripts'"),
])
def test_8_incomplete_gong_files_say_what_is_missing(tmp_path, doc, needle):
    _, bad, _ = ingest(land(tmp_path, {"g.json": doc}))
    assert [q.kind for q in bad] == ["invalid_schema"]
    assert needle in bad[0].message and "/v2/calls/extensive" in bad[0].message


def test_8_a_sentence_after_the_duration_is_a_warning_in_the_record(tmp_path):
    doc = gong_export(monologues=[mono("s1", (0, 2000, "Hi.")), mono("s2", (2500, 75000, "Long story."))])
    (call,), bad, _ = ingest(land(tmp_path, {"g.json": doc}))
    assert bad == [] and "after the call's duration (60 s)" in call.warnings[0]
    assert "after the call's duration" in metrics(call)["warnings"]
    (clean,), _, _ = ingest(land(tmp_path / "2", {"g.json": gong_export()}))
    assert clean.warnings == () and metrics(clean)["warnings"] is None


def test_8_a_party_with_affiliation_unknown_is_an_unknown_speaker():
    parties = [*gong_export()["calls"][0]["parties"],
               {"speakerId": "s3", "name": "Phone Caller #1", "affiliation": "Unknown"}]
    doc = gong_export(monologues=[mono("s1", (0, 5000, "Hi.")), mono("s3", (5000, 6000, "Who's this?")),
                                  mono("s2", (6000, 9000, "Hello."))], parties=parties)
    (call,), _ = read_gong(doc, "g.json")
    assert [(u.speaker, u.role) for u in call.utterances][1] == ("Phone Caller #1", "unknown")
    assert "Phone Caller #1" not in {p.name for p in call.participants}


# ------------------------------------------------------------------ 9. reprocessable quarantine copies


def test_9_a_quarantined_vtt_keeps_its_sidecar_in_the_quarantine(tmp_path):
    from pipeline.model import META_FILE, integrity
    from pipeline.run import plan_day

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / META_FILE).write_text('{"version": "m-1"}')  # planning checks files, not weights
    (tmp_path / "model" / "model.safetensors").write_bytes(b"not loaded by plan")
    integrity.seal(tmp_path / "model")

    files = {"zoom/bad.vtt": vtt((5, 6, "Pat Rep: Hi."), (1, 2, "Ana Ruiz: Back in time.")),
             "zoom/bad.meta.json": meta(), "zoom/ok.vtt": vtt((0, 1, "Pat Rep: Hi.")),
             "zoom/ok.meta.json": meta(call_id="ok")}
    landing = land(tmp_path, files)
    settings = Settings(landing=landing, warehouse=str(tmp_path / "wh"), model=str(tmp_path / "model"))
    plan = plan_day(settings, DAY, "run-1")
    assert plan["quarantined"] == 1
    staged = tmp_path / "wh" / "_staging" / "run-1" / "quarantine" / "files"
    (folder,) = staged.iterdir()  # named by a hash of the landing folder, never by the landing key (#15)
    assert sorted(p.name for p in folder.iterdir()) == ["bad.meta.json", "bad.vtt"]
    assert (folder / "bad.meta.json").read_bytes() == (Path(landing) / DAY / "zoom/bad.meta.json").read_bytes()


# ------------------------------------------------------------------ 10. unknown speakers and matching


def test_10_a_second_display_name_of_the_rep_matches_by_the_documented_short_forms():
    people = [Participant("Dana Whitfield", "dana@seller.com", "rep"), Participant("Sam Lee", None, "customer")]
    speakers = Speakers(people)
    for label in ("Dana W.", "Dana W", "D. Whitfield", "dana", "dana@seller.com", "DANA WHITFIELD"):
        assert speakers.match(label).name == "Dana Whitfield", label
    for label in ("Dan", "Dana X.", "Whitfield", "W. Dana", "Someone Else"):
        assert speakers.match(label) is None, label


def test_10_a_short_form_that_fits_two_people_is_not_guessed():
    people = [Participant("Dana Whitfield", None, "rep"), Participant("Dana Wu", None, "customer")]
    assert Speakers(people).match("Dana W.") is None
    assert Speakers(people).match("Dana Wh") is None
    assert Speakers(people).match("D. Wu").name == "Dana Wu"


def test_10_unknown_speakers_count_for_neither_side_and_too_many_quarantine(tmp_path):
    people = [{"name": "Dana Whitfield", "email": "dana@seller.com", "role": "rep"}, dict(ANA)]
    cues = [(0, 10, "Dana W.: Let me walk you through it."), (11, 15, "Ana Ruiz: Sure."),
            (16, 18, "Guest 7: Sorry, joining late."), (19, 20, "Guest 7: Who is this?")]
    side = meta(people, rep={"id": "rep-9", "name": "Dana Whitfield", "email": "dana@seller.com"})
    (call,), bad, _ = ingest(land(tmp_path, {"c.vtt": vtt(*cues), "c.meta.json": side}))
    assert bad == []
    assert [(u.speaker, u.role) for u in call.utterances] == [
        ("Dana Whitfield", "rep"), ("Ana Ruiz", "customer"), ("Guest 7", "unknown"), ("Guest 7", "unknown")]
    row = metrics(call)
    assert row["rep_talk_ratio"] == pytest.approx(10 / 14)  # not 10 / 17: guests are on neither side
    assert (row["unknown_speaker_turns"], row["unknown_speaker_s"]) == (2, 3.0)
    _, bad, _ = ingest(land(tmp_path / "strict", {"c.vtt": vtt(*cues), "c.meta.json": side}),
                       max_unknown_share=0.1)
    assert [q.kind for q in bad] == ["unresolved_speakers"] and "Guest 7" in bad[0].message


# ------------------------------------------------------------------ 11. times that are not numbers


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 1e12])
def test_11_non_finite_or_absurd_times_are_bad_timestamps(tmp_path, bad):
    doc = {**meta(), "utterances": [{"speaker": "Pat Rep", "start": 0, "end": bad, "text": "Hi."}]}
    raw = json.dumps(doc)  # json writes Infinity / NaN, and Python's reader accepts them
    _, quarantined, _ = ingest(land(tmp_path, {"c.json": raw}))
    assert [q.kind for q in quarantined] == ["bad_timestamps"]
    _, gong_bad = read_gong(gong_export(monologues=[mono("s1", (0, bad, "Hi."))]), "g.json")
    assert [q.kind for q in gong_bad] == ["bad_timestamps"]


# ------------------------------------------------------------------ 12. one rep, one id


def test_12_the_same_rep_across_formats_is_one_rep_id_without_a_roster(tmp_path):
    canonical = {**meta(), "utterances": [{"speaker": "Pat Rep", "start": 0, "end": 2, "text": "Hi."},
                                          {"speaker": "Ana Ruiz", "start": 2, "end": 3, "text": "Hey."}]}
    canonical["rep"] = {"id": "rep_01", "name": "Pat Rep", "email": "Pat@Seller.com"}
    gong = gong_export()
    gong["calls"][0]["parties"][0]["name"] = "Patrick R."  # another display name: never matched on
    calls, bad, _ = ingest(land(tmp_path, {"a.json": canonical, "g.json": gong}))
    assert bad == [] and {c.rep.id for c in calls} == {"pat@seller.com"}
    roster = parse_roster("rep_id,name,email,team,manager\nrep-7,Pat Rep,pat@seller.com,East,Lee\n")
    calls, _, _ = ingest(land(tmp_path, {"a.json": canonical, "g.json": gong}), roster=roster)
    assert {(c.rep.id, c.rep.team) for c in calls} == {("rep-7", "East")}


def test_12_summaries_group_by_rep_id_not_name():
    from pipeline.scoring.summary import PER_REP_SQL

    assert "GROUP BY s.rep_id" in PER_REP_SQL and "GROUP BY rep_name" not in PER_REP_SQL
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "GROUP BY rep_name" not in readme


# ------------------------------------------------------------------ 13. Data Docs beside the warehouse


def test_13_data_docs_live_under_the_warehouse_never_in_the_checkout(tmp_path, monkeypatch):
    checkout = Path(__file__).parents[2].resolve()
    local = Settings(warehouse=str(tmp_path / "wh"))
    assert Path(local.data_docs_dir()) == (tmp_path / "wh" / "_data_docs").resolve()
    assert Settings(warehouse=f"file://{tmp_path}/wh").data_docs_dir() == local.data_docs_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    remote = Path(Settings(warehouse="s3://bucket/wh").data_docs_dir())
    assert remote.is_relative_to(tmp_path / "cache") and not remote.is_relative_to(checkout)
    assert Settings(warehouse="s3://b/wh", data_docs=str(tmp_path / "d")).data_docs_dir() == str(tmp_path / "d")


# ------------------------------------------------------------------ 14. realistic call lengths in the sample


def test_14_the_sample_has_long_discovery_and_demo_calls():
    from pipeline.devtools import sample

    calls = sample.generate_calls(date(2026, 11, 23), 40, seed=7)
    long_calls = [c for c in calls if len(c["utterances"]) >= 200]
    assert len(long_calls) == 10 and sum(c["duration_s"] >= 30 * 60 for c in long_calls) >= 8
    for call in long_calls:
        words = [len(u["text"].split()) for u in call["utterances"]]
        assert 200 <= len(words) <= 500 and max(words) >= 120  # hundreds of turns and demo monologues
    frame = pd.DataFrame([u for c in long_calls for u in c["utterances"]])
    assert (frame["end"] - frame["start"]).max() > 60  # a monologue of over a minute
