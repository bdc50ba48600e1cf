"""Readers for the three transcript formats, each into the canonical ``Call``.

* canonical JSON: the model itself (``start``/``end`` in seconds);
* WebVTT from Zoom (``Name:`` on every cue), Teams (``<v Name>`` voice spans, character
  references) or Google Meet (a ``(Name)`` line, several speakers per cue separated by
  ``-`` lines), with call metadata in a ``.meta.json`` sidecar;
* Gong's v2 API export (``/v2/calls/extensive`` with parties plus ``/v2/calls/transcript``),
  many calls per file, sentences timed in milliseconds.

Readers raise ``TranscriptError`` for anything they cannot trust; a Gong file reports
per-call errors so one bad call never sinks its neighbours. The speaker, merging and
talk-time rules they share live in ``common`` and in the README's Inputs section.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from pipeline.transcripts.common import (
    ReadOptions,
    Speakers,
    build_call,
    check_piece,
    clean_text,
    merge_turns,
    number,
    parse_time,
    read_participants,
    read_rep,
    text_field,
)
from pipeline.transcripts.errors import Quarantined, TranscriptError
from pipeline.transcripts.model import Call, Participant, Rep, Utterance

_NAME_PREFIX = re.compile(r"^\s*([^:\n<>]{1,60}?):\s+(.*)$", re.DOTALL)
_MEET_NAME = re.compile(r"^\s*(?:-\s*)?\(([^()\n]{1,60})\)\s*(.*)$")
_MEET_SEPARATOR = re.compile(r"^\s*-\s*$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:[ \t]+([^>]*))?>|</v\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # WebVTT's line terminators, as webvtt-py splits them
GONG_EXTENSIVE = "/v2/calls/extensive"
DURATION_SLACK_S = 1.0  # Gong rounds a call's duration to whole seconds


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


def read_canonical(doc: Mapping, source_file: str, options: ReadOptions | None = None) -> Call:
    """Read a canonical JSON call; unknown extra keys are ignored. Each utterance is a turn as given."""
    options = options or ReadOptions()
    call_id, started_at, duration_s, title, rep, participants = _metadata(doc, source_file)
    items = doc.get("utterances")
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise TranscriptError("invalid_schema", "'utterances' must be a list", call_id=call_id)
    speakers = Speakers(participants, call_id)
    pieces = []
    for i, item in enumerate(items):
        where = f"utterance {i}"
        if not isinstance(item, Mapping):
            raise TranscriptError("invalid_schema", "utterance must be an object", where, call_id)
        label = text_field(item, "speaker", call_id)
        text = item.get("text")
        if not isinstance(text, str):
            raise TranscriptError("invalid_schema", "utterance text must be a string", where, call_id)
        start = number(item.get("start", item.get("start_s")), "start", where, call_id)
        end = number(item.get("end", item.get("end_s")), "end", where, call_id)
        text = " ".join(text.split())
        check_piece(text, options, where, call_id)
        if text:
            pieces.append(speakers.piece(label, start, end, text, item.get("speaker_email"), where))
    return build_call(call_id=call_id, started_at=started_at, duration_s=duration_s, title=title, rep=rep,
                      participants=participants, utterances=merge_turns(pieces, None),
                      source_file=source_file, source_format="canonical")


def _voice_spans(raw: str) -> list[tuple[str | None, str]]:
    """A cue's text split at its voice spans: ``(voice or None, text)`` in order."""
    spans: list[tuple[str | None, str]] = []
    voice: str | None = None
    pos = 0
    for m in _VOICE.finditer(raw):
        spans.append((voice, raw[pos:m.start()]))
        closing = m.group(0).startswith("</")
        voice = None if closing else clean_text(m.group(1) or "") or None
        pos = m.end()
    spans.append((voice, raw[pos:]))
    return [(v, clean_text(_TAG.sub("", t))) for v, t in spans if clean_text(_TAG.sub("", t))]


def _meet_spans(lines: Sequence[str]) -> list[tuple[str | None, str]] | None:
    """Meet's layout: ``(Name)`` on its own line (or before the text), ``-`` lines between speakers.

    None when the cue does not use it.
    """
    if not any(_MEET_NAME.match(line) for line in lines):
        return None
    spans: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in lines:
        named = _MEET_NAME.match(line)
        if named:
            spans.append((named.group(1).strip(), [named.group(2)]))
        elif _MEET_SEPARATOR.match(line):
            spans.append((None, []))
        else:
            spans[-1][1].append(line)
    return [(v, clean_text(" ".join(t))) for v, t in spans if clean_text(" ".join(t))]


def _split_time(spans: Sequence[tuple[str | None, str]], start: float, end: float) -> list[tuple[float, float]]:
    """Share a cue's time among its speakers in proportion to their words (WebVTT has no finer timing)."""
    total = sum(len(t.split()) for _, t in spans) or 1
    out, done = [], 0
    for _, text in spans:
        a = start + (end - start) * done / total
        done += len(text.split())
        out.append((a, start + (end - start) * done / total))
    return out


def read_vtt(text: str, sidecar: Mapping, source_file: str, options: ReadOptions | None = None) -> Call:
    """Read a WebVTT transcript with its metadata sidecar.

    A cue's speaker comes from its voice spans (``<v Name>``, several per cue allowed),
    Meet's ``(Name)`` lines, or a leading ``Name:``. A ``Name:`` or ``(Name)`` counts only
    when it matches a participant or recurs in the file, so a sentence such as "Honestly
    though: it depends" invents nobody. In a file that names its speakers, a cue without
    a name is an ``unknown`` speaker (Zoom names every cue, so a missing name means Zoom
    did not know); a file that names nobody is refused. webvtt-py silently drops cues
    whose timing line is malformed, so every line holding ``-->`` (which WebVTT allows
    only in timing lines) must have become a cue, or the file is refused instead of losing
    turns. Cue times are checked before merging, which would otherwise hide a cue that
    goes backwards.
    """
    options = options or ReadOptions()
    call_id, started_at, duration_s, title, rep, participants = _metadata(sidecar, source_file)
    text = text.lstrip("\ufeff")
    try:
        captions = webvtt.from_string(text)
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise TranscriptError("invalid_vtt", f"not a WebVTT file: {exc}", call_id=call_id) from exc
    _check_timing_lines(text, len(captions), call_id)
    speakers = Speakers(participants, call_id)
    cues = [_cue_spans(cue.raw_text) for cue in captions]
    said = Counter(v for kind, spans in cues if kind != "voice" for v, _ in spans if v)
    trusted = {v for v, n in said.items() if n >= 2 or speakers.match(v) is not None}
    pieces: list[Utterance] = []
    named = False
    prev_start = 0.0
    for i, (cue, (kind, spans)) in enumerate(zip(captions, cues, strict=True)):
        where = f"cue {cue.identifier or i + 1}"
        start = cue.start_time.in_milliseconds() / 1000
        end = cue.end_time.in_milliseconds() / 1000
        if end < start:
            raise TranscriptError("bad_timestamps", f"cue ends ({end}) before it starts ({start})", where, call_id)
        if start < prev_start:
            raise TranscriptError("bad_timestamps", f"cue starts at {start}, before the previous cue ({prev_start})",
                                  where, call_id)
        prev_start = start
        if kind == "prefix" and spans[0][0] not in trusted:
            spans = [(None, clean_text(" ".join(cue.raw_text.split())))]  # not a name: the words were said
        elif kind == "meet":
            spans = [(v if v in trusted else None, t if v in trusted or not v else f"({v}) {t}") for v, t in spans]
        for (voice, body), (a, b) in zip(spans, _split_time(spans, start, end), strict=True):
            named = named or voice is not None
            check_piece(body, options, where, call_id)
            pieces.append(speakers.piece(voice, a, b, body, location=where))
    if pieces and not named:
        raise TranscriptError("invalid_vtt", "no cue names its speaker (no <v> voice, '(Name)' line or 'Name:')",
                              call_id=call_id)
    return build_call(call_id=call_id, started_at=started_at, duration_s=duration_s, title=title, rep=rep,
                      participants=participants, utterances=merge_turns(pieces, options.merge_gap_s),
                      source_file=source_file, source_format="vtt")


def _cue_spans(raw: str) -> tuple[str, list[tuple[str | None, str]]]:
    """How a cue names its speakers (``voice``, ``meet``, ``prefix`` or ``none``) and its spans."""
    if _VOICE.search(raw):
        return "voice", _voice_spans(raw)
    lines = _LINE_BREAK.split(raw)
    meet = _meet_spans(lines)
    if meet is not None:
        return "meet", meet
    body = clean_text(_TAG.sub("", " ".join(lines)))
    match = _NAME_PREFIX.match(body)
    if match and match.group(2).strip():
        return "prefix", [(clean_text(match.group(1)), match.group(2).strip())]
    return "none", [(None, body)] if body else []


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


def is_gong(doc: Any) -> bool:
    """Whether a JSON document is (part of) a Gong API export."""
    return isinstance(doc, Mapping) and ("callTranscripts" in doc or (
        isinstance(doc.get("calls"), list) and "utterances" not in doc))


def read_gong(doc: Mapping, source_file: str,
              options: ReadOptions | None = None) -> tuple[list[Call], list[Quarantined]]:
    """Read a Gong export: every call that reads cleanly, and a record for each that does not.

    The reader needs both halves of what connectors save: ``calls`` from
    ``/v2/calls/extensive`` (``metaData`` and ``parties``, which say who the rep is) and
    ``callTranscripts`` from ``/v2/calls/transcript``. A file with only one of them, or with
    the flat ``/v2/calls`` list, is refused with a message that says which is missing.
    """
    options = options or ReadOptions()
    calls_meta = doc.get("calls")
    transcripts = doc.get("callTranscripts")
    if calls_meta is None and isinstance(transcripts, list):
        raise TranscriptError("invalid_schema", "only a /v2/calls/transcript response ('callTranscripts', no "
                              f"'calls'): it does not say who spoke or who the rep is; save {GONG_EXTENSIVE} "
                              "(with parties) in the same file")
    if not isinstance(calls_meta, list):
        raise TranscriptError("invalid_schema", f"Gong export needs a 'calls' list from {GONG_EXTENSIVE}")
    if calls_meta and not any(isinstance(c, Mapping) and "metaData" in c for c in calls_meta):
        raise TranscriptError("invalid_schema", "'calls' is the flat /v2/calls list (no 'metaData'/'parties'): "
                              f"save {GONG_EXTENSIVE} with parties, plus 'callTranscripts' from "
                              "/v2/calls/transcript")
    if not isinstance(transcripts, list):
        raise TranscriptError("invalid_schema", f"Gong export has {GONG_EXTENSIVE} 'calls' but no "
                              "'callTranscripts' list: add the /v2/calls/transcript response")
    by_id: dict[str, Any] = {}
    for t in transcripts:
        if isinstance(t, Mapping) and t.get("callId") is not None:
            by_id[str(t["callId"])] = t.get("transcript")
    calls: list[Call] = []
    bad: list[Quarantined] = []
    for i, entry in enumerate(calls_meta):
        try:
            calls.append(_gong_call(entry, by_id, source_file, i, options))
        except TranscriptError as err:
            bad.append(Quarantined.from_error(source_file, err))
    meta_ids = {str(c["metaData"].get("id")) for c in calls_meta
                if isinstance(c, Mapping) and isinstance(c.get("metaData"), Mapping)}
    for orphan in sorted(set(by_id) - meta_ids):
        bad.append(Quarantined(source_file, "invalid_schema", "transcript has no entry in 'calls'",
                               f"callTranscripts callId {orphan}", orphan))
    return calls, bad


_GONG_ROLES = {"internal": "internal", "external": "customer"}  # "Unknown" (or none): nobody we can name


def _gong_call(entry: Any, transcripts: Mapping[str, Any], source_file: str, index: int,
               options: ReadOptions) -> Call:
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
    rep = Rep(id=primary, name=clean_text(str(rep_party.get("name") or primary)),
              email=str(rep_party.get("emailAddress") or "").strip().lower())
    attendees: list[Participant] = []
    people: dict[str, tuple[str, str]] = {}  # speakerId -> (name, role); parties who never spoke may have none
    for p in parties:
        if not isinstance(p, Mapping):
            continue
        role = "rep" if p is rep_party else _GONG_ROLES.get(str(p.get("affiliation") or "").lower(), "unknown")
        name = clean_text(str(p.get("name") or "")) or f"party {p.get('id', '?')}"
        email = str(p.get("emailAddress") or "").strip().lower() or None
        if role != "unknown":
            attendees.append(Participant(name, email, role))
        if p.get("speakerId") is not None:
            people[str(p["speakerId"])] = (name, role)
    monologues = transcripts.get(call_id)
    if not monologues:
        raise TranscriptError("empty_transcript", "no transcript for this call", where, call_id)
    duration = meta.get("duration")
    duration_s = None if duration is None else number(duration, "duration", where, call_id)
    pieces: list[Utterance] = []
    for m_i, mono in enumerate(monologues):
        loc = f"{where} monologue {m_i}"
        sentences = mono.get("sentences") if isinstance(mono, Mapping) else None
        if not isinstance(sentences, list) or not sentences:
            raise TranscriptError("invalid_schema", "monologue without sentences", loc, call_id)
        if not all(isinstance(s, Mapping) for s in sentences):
            raise TranscriptError("invalid_schema", "sentence must be an object", loc, call_id)
        sid = str(mono.get("speakerId"))
        name, role = people.get(sid, (f"speaker {sid}", "unknown"))
        starts = [number(s.get("start"), "start", loc, call_id, scale=0.001) for s in sentences]
        ends = [number(s.get("end"), "end", loc, call_id, scale=0.001) for s in sentences]
        if any(b < a for a, b in itertools.pairwise(starts)) or any(e < a for a, e in zip(starts, ends, strict=True)):
            raise TranscriptError("bad_timestamps", "sentence times decrease inside a monologue", loc, call_id)
        texts = [clean_text(str(s.get("text") or "")) for s in sentences]
        check_piece(" ".join(texts), options, loc, call_id)
        pieces += [Utterance(name, a, e, t, role) for a, e, t in zip(starts, ends, texts, strict=True) if t]
    warnings = []
    last_end = max((p.end_s for p in pieces), default=0.0)
    if duration_s is not None and last_end > duration_s + DURATION_SLACK_S:
        late = sum(p.end_s > duration_s + DURATION_SLACK_S for p in pieces)
        warnings.append(f"{late} sentence(s) end after the call's duration ({duration_s:g} s), the last at "
                        f"{last_end:g} s")
    return build_call(call_id=call_id, started_at=parse_time(meta.get("started"), "started", call_id),
                      duration_s=duration_s, title=clean_text(str(meta.get("title") or "")), rep=rep,
                      participants=tuple(sorted(attendees, key=lambda p: ("rep", "customer", "internal")
                                                .index(p.role))),
                      utterances=merge_turns(pieces, options.merge_gap_s), source_file=source_file,
                      source_format="gong", warnings=warnings)
