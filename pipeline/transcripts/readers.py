"""Readers for the three transcript formats, each into the canonical ``Call``.

* canonical JSON: the model itself (``start``/``end`` in seconds);
* WebVTT from Zoom, Teams or Meet, with call metadata in a ``.meta.json`` sidecar;
* Gong's v2 API export, many calls per file, monologues timed in milliseconds.

Readers raise ``TranscriptError`` for anything they cannot trust; a Gong file
reports per-call errors so one bad call never sinks its neighbours.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from pipeline.transcripts.common import (
    build_call,
    number,
    parse_time,
    read_participants,
    read_rep,
    resolve_role,
    speaker_roles,
    text_field,
)
from pipeline.transcripts.common import merge_turns as merge_turns
from pipeline.transcripts.errors import Quarantined, TranscriptError
from pipeline.transcripts.model import Call, Participant, Rep, Utterance

_NAME_PREFIX = re.compile(r"^\s*([^:\n<>]{1,60}?):\s+(.*)$", re.DOTALL)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # WebVTT's line terminators, as webvtt-py splits them


def _metadata(doc: Mapping, source_file: str) -> tuple[str, Any, float | None, str, Rep, tuple[Participant, ...]]:
    if not isinstance(doc, Mapping):
        raise TranscriptError("invalid_schema", "top level must be a JSON object")
    call_id = text_field(doc, "call_id")
    started_at = parse_time(doc.get("started_at"), "started_at", call_id)
    duration = doc.get("duration_s")
    duration_s = None if duration is None else number(duration, "duration_s", call_id=call_id)
    rep = read_rep(doc.get("rep"), call_id)
    participants = read_participants(doc.get("participants"), rep, call_id)
    title = str(doc.get("title") or "")
    return call_id, started_at, duration_s, title, rep, participants


def read_canonical(doc: Mapping, source_file: str) -> Call:
    """Read a canonical JSON call; unknown extra keys are ignored."""
    call_id, started_at, duration_s, title, rep, participants = _metadata(doc, source_file)
    items = doc.get("utterances")
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise TranscriptError("invalid_schema", "'utterances' must be a list", call_id=call_id)
    roles = speaker_roles(participants, call_id)
    turns = []
    for i, item in enumerate(items):
        where = f"utterance {i}"
        if not isinstance(item, Mapping):
            raise TranscriptError("invalid_schema", "utterance must be an object", where, call_id)
        speaker = text_field(item, "speaker", call_id)
        text = item.get("text")
        if not isinstance(text, str):
            raise TranscriptError("invalid_schema", "utterance text must be a string", where, call_id)
        start = number(item.get("start", item.get("start_s")), "start", where, call_id)
        end = number(item.get("end", item.get("end_s")), "end", where, call_id)
        role = resolve_role(speaker, item.get("speaker_email"), participants, roles, where, call_id)
        turns.append(Utterance(speaker, start, end, " ".join(text.split()), role))
    return build_call(call_id=call_id, started_at=started_at, duration_s=duration_s, title=title, rep=rep,
                      participants=participants, utterances=tuple(u for u in turns if u.text),
                      source_file=source_file, source_format="canonical")


def read_vtt(text: str, sidecar: Mapping, source_file: str) -> Call:
    """Read a WebVTT transcript with its metadata sidecar.

    Speakers come from ``<v Name>`` voice tags or a leading ``Name:``; a cue with
    neither continues the previous speaker. Consecutive cues of one speaker merge
    into one turn. webvtt-py silently drops cues whose timing line is malformed, so
    every line holding ``-->`` (which WebVTT allows only in timing lines) must have
    become a cue, or the file is refused instead of losing turns. Cue times are
    checked before merging, which would otherwise hide a cue that goes backwards.
    """
    call_id, started_at, duration_s, title, rep, participants = _metadata(sidecar, source_file)
    text = text.lstrip("\ufeff")
    try:
        captions = webvtt.from_string(text)
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise TranscriptError("invalid_vtt", f"not a WebVTT file: {exc}", call_id=call_id) from exc
    _check_timing_lines(text, len(captions), call_id)
    roles = speaker_roles(participants, call_id)
    pieces: list[Utterance] = []
    speaker: str | None = None
    prev_start = 0.0
    for i, cue in enumerate(captions):
        where = f"cue {cue.identifier or i + 1}"
        start = cue.start_time.in_milliseconds() / 1000
        end = cue.end_time.in_milliseconds() / 1000
        if end < start:
            raise TranscriptError("bad_timestamps", f"cue ends ({end}) before it starts ({start})", where, call_id)
        if start < prev_start:
            raise TranscriptError("bad_timestamps", f"cue starts at {start}, before the previous cue ({prev_start})",
                                  where, call_id)
        prev_start = start
        body = " ".join(cue.text.split())
        if cue.voice:
            speaker = cue.voice.strip()
        else:
            match = _NAME_PREFIX.match(body)
            if match:
                speaker, body = match.group(1).strip(), match.group(2).strip()
        if speaker is None:
            raise TranscriptError("invalid_vtt", "cue has no speaker (no <v> tag or 'Name:')", where, call_id)
        if not body:
            continue
        role = resolve_role(speaker, None, participants, roles, where, call_id)
        pieces.append(Utterance(speaker, start, end, body, role))
    return build_call(call_id=call_id, started_at=started_at, duration_s=duration_s, title=title, rep=rep,
                      participants=participants, utterances=merge_turns(pieces), source_file=source_file,
                      source_format="vtt")


def _check_timing_lines(text: str, cues: int, call_id: str) -> None:
    """Refuse a file where a ``-->`` line did not become a cue; a cut-off last line means truncation."""
    lines = _LINE_BREAK.split(text)
    arrows = [n for n, line in enumerate(lines, start=1) if "-->" in line]
    if len(arrows) == cues:
        return
    bad = next((n for n in arrows if not _is_timing_line(lines[n - 1])), None)
    last = max((n for n, line in enumerate(lines, start=1) if line.strip()), default=0)
    kind = "truncated" if bad is not None and bad == last else "invalid_vtt"
    raise TranscriptError(kind, f"{len(arrows) - cues} cue timing line(s) could not be read",
                          f"line {bad}" if bad else None, call_id)


def _is_timing_line(line: str) -> bool:
    try:
        return len(webvtt.from_string(f"WEBVTT\n\n{line.strip()}\nx\n")) == 1
    except (MalformedFileError, MalformedCaptionError):
        return False


def read_gong(doc: Mapping, source_file: str) -> tuple[list[Call], list[Quarantined]]:
    """Read a Gong export: every call that reads cleanly, and a record for each that does not."""
    calls_meta = doc.get("calls")
    transcripts = doc.get("callTranscripts")
    if not isinstance(calls_meta, list) or not isinstance(transcripts, list):
        raise TranscriptError("invalid_schema", "Gong export needs 'calls' and 'callTranscripts' lists")
    by_id: dict[str, Any] = {}
    for t in transcripts:
        if isinstance(t, Mapping) and t.get("callId") is not None:
            by_id[str(t["callId"])] = t.get("transcript")
    calls: list[Call] = []
    bad: list[Quarantined] = []
    seen: set[str] = set()
    for i, entry in enumerate(calls_meta):
        try:
            call = _gong_call(entry, by_id, source_file, i)
            seen.add(call.call_id)
            calls.append(call)
        except TranscriptError as err:
            bad.append(Quarantined.from_error(source_file, err))
    meta_ids = {str(c["metaData"].get("id")) for c in calls_meta
                if isinstance(c, Mapping) and isinstance(c.get("metaData"), Mapping)}
    for orphan in sorted(set(by_id) - meta_ids):
        bad.append(Quarantined(source_file, "invalid_schema", "transcript has no entry in 'calls'",
                               f"callTranscripts callId {orphan}", orphan))
    return calls, bad


def _gong_call(entry: Any, transcripts: Mapping[str, Any], source_file: str, index: int) -> Call:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("metaData"), Mapping):
        raise TranscriptError("invalid_schema", "call without 'metaData'", f"calls[{index}]")
    meta = entry["metaData"]
    call_id = str(meta.get("id") or "").strip()
    if not call_id:
        raise TranscriptError("invalid_schema", "call without metaData.id", f"calls[{index}]")
    where = f"call {call_id}"
    parties = entry.get("parties") or []
    primary = str(meta.get("primaryUserId") or "")
    rep_party = next((p for p in parties if isinstance(p, Mapping) and primary and
                      str(p.get("userId") or "") == primary), None)
    if rep_party is None:
        raise TranscriptError("no_rep", f"primaryUserId {primary or '(missing)'} matches no party's userId",
                              where, call_id)
    rep = Rep(id=primary, name=str(rep_party.get("name") or primary),
              email=str(rep_party.get("emailAddress") or "").strip().lower())
    attendees: list[Participant] = []
    people: dict[str, Participant] = {}  # by speakerId; parties who never spoke may have none
    for p in parties:
        if not isinstance(p, Mapping):
            continue
        role = ("rep" if p is rep_party else
                "internal" if str(p.get("affiliation", "")).lower() == "internal" else "customer")
        email = str(p.get("emailAddress") or "").strip().lower() or None
        attendees.append(Participant(str(p.get("name") or "unknown"), email, role))
        if p.get("speakerId") is not None:
            people[str(p["speakerId"])] = attendees[-1]
    monologues = transcripts.get(call_id)
    if not monologues:
        raise TranscriptError("empty_transcript", "no transcript for this call", where, call_id)
    turns: list[Utterance] = []
    for m_i, mono in enumerate(monologues):
        loc = f"{where} monologue {m_i}"
        sentences = mono.get("sentences") if isinstance(mono, Mapping) else None
        if not isinstance(sentences, list) or not sentences:
            raise TranscriptError("invalid_schema", "monologue without sentences", loc, call_id)
        if not all(isinstance(s, Mapping) for s in sentences):
            raise TranscriptError("invalid_schema", "sentence must be an object", loc, call_id)
        sid = str(mono.get("speakerId"))
        person = people.get(sid, Participant(f"speaker {sid}", None, "customer"))
        starts = [number(s.get("start"), "start", loc, call_id) / 1000 for s in sentences]
        ends = [number(s.get("end"), "end", loc, call_id) / 1000 for s in sentences]
        if any(b < a for a, b in itertools.pairwise(starts)) or any(e < a for a, e in zip(starts, ends, strict=True)):
            raise TranscriptError("bad_timestamps", "sentence times decrease inside a monologue", loc, call_id)
        text = " ".join(" ".join(str(s.get("text") or "").split()) for s in sentences).strip()
        if text:
            turns.append(Utterance(person.name, starts[0], max(ends), text, person.role))
    duration = meta.get("duration")
    return build_call(call_id=call_id, started_at=parse_time(meta.get("started"), "started", call_id),
                      duration_s=None if duration is None else number(duration, "duration", where, call_id),
                      title=str(meta.get("title") or ""), rep=rep,
                      participants=tuple(sorted(attendees, key=lambda p: ("rep", "customer", "internal")
                                                .index(p.role))),
                      utterances=tuple(turns), source_file=source_file, source_format="gong")
