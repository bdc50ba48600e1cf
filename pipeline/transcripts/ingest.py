"""Read one day of the landing zone into canonical calls, quarantining what cannot be trusted.

Every file under ``<landing>/<day>/`` ends up either as calls or as quarantine
records: ``files seen = files parsed + files quarantined`` and every call inside a
multi-call file is accounted for the same way. The day is streamed file by file so
memory does not grow with the size of the day.

Nothing here opens storage: the caller hands in a :class:`LandingSource` (the
warehouse's ``storage.LandingDay``) that lists the day and reads its files.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from pipeline import MANIFEST_NAME, relpath_problem
from pipeline.transcripts.common import ReadOptions
from pipeline.transcripts.errors import Quarantined, TranscriptError
from pipeline.transcripts.model import Call, Rep
from pipeline.transcripts.readers import is_gong, read_canonical, read_gong, read_vtt

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".meta.json"


class LandedFile(Protocol):
    """A file of the day: ``rel`` is its path below the day folder."""

    @property
    def rel(self) -> str: ...

    @property
    def size(self) -> int: ...


class LandingSource(Protocol):
    """The day's files in a stable (sorted) order, and how to read them."""

    @property
    def files(self) -> Sequence[LandedFile]: ...

    def read(self, f: LandedFile) -> bytes: ...

    def head(self, f: LandedFile, n: int) -> bytes: ...


@dataclass
class IngestStats:
    """Counts that must balance: each file is parsed or quarantined, each call kept or quarantined."""

    files_seen: int = 0
    files_parsed: int = 0
    files_quarantined: int = 0
    calls_parsed: int = 0
    calls_quarantined: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, item: Quarantined) -> None:
        self.by_kind[item.kind] = self.by_kind.get(item.kind, 0) + 1

    def balanced(self) -> bool:
        return self.files_seen == self.files_parsed + self.files_quarantined


@dataclass(frozen=True)
class Roster:
    """Team and manager per rep, keyed by rep id and by email."""

    by_id: Mapping[str, Rep]
    by_email: Mapping[str, Rep]

    def apply(self, rep: Rep) -> Rep:
        found = self.by_id.get(rep.id) or (self.by_email.get(rep.email) if rep.email else None)
        if found is None:
            return rep_identity(rep)
        return replace(found, team=found.team or rep.team)


def rep_identity(rep: Rep) -> Rep:
    """The rep keyed on their normalised email when no roster maps them.

    Each format has its own ids (``rep_01`` in a canonical file, Gong's numeric user id), so
    without a roster one person would become one rep per format; the email is what they
    share. A rep without an email keeps the id the file gave. Display names never decide.
    """
    email = rep.email.strip().lower()
    return replace(rep, id=email, email=email) if email else rep


def parse_roster(text: str) -> Roster:
    """Parse ``rep_id,name,email,team,manager``; rows without a rep_id are refused."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"rep_id", "name", "email"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"roster is missing columns {sorted(missing)}")
    by_id: dict[str, Rep] = {}
    by_email: dict[str, Rep] = {}
    for n, row in enumerate(reader, start=2):
        rep_id = (row.get("rep_id") or "").strip()
        if not rep_id:
            raise ValueError(f"roster line {n} has no rep_id")
        rep = Rep(id=rep_id, name=(row.get("name") or rep_id).strip(), email=(row.get("email") or "").strip().lower(),
                  team=(row.get("team") or "").strip() or None, manager=(row.get("manager") or "").strip() or None)
        by_id[rep_id] = rep
        if rep.email:
            by_email[rep.email] = rep
    return Roster(by_id, by_email)


def _decode(data: bytes) -> str:
    try:
        return codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError as exc:
        # A character cut in half by the end of the file means the file stopped early.
        kind = "truncated" if exc.reason == "unexpected end of data" else "invalid_utf8"
        raise TranscriptError(kind, f"not UTF-8: {exc.reason}", f"byte {exc.start}") from exc


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # An error at the very end of the text, or a string never closed, means the document stopped early.
        stopped = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        kind = "truncated" if stopped else "invalid_json"
        raise TranscriptError(kind, exc.msg, f"line {exc.lineno} column {exc.colno}") from exc


def log_id(rel: str) -> str:
    """A landing file as logs name it: 12 hex of its name's sha256 (landing folders often hold people's
    names; the quarantine record, which is access-controlled data, maps it back)."""
    return hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def unsafe_name(rel: str) -> str | None:
    """Why a landing file's name cannot be trusted as a relative path, or None when it can.

    Landing keys are attacker-controlled: a key ``<day>//<absolute path>`` or one with ``..``
    segments, joined into a local quarantine path, would write anywhere on the worker. Such
    a file is quarantined as ``unsafe_name`` and never read or copied.
    """
    why = relpath_problem(rel)
    if why is None and len(rel) > 1024:
        return "more than 1024 characters"
    return why


def is_manifest(rel: str) -> bool:
    """``<source>/_manifest.json`` directly below the day folder: written by a pull, read by ``plan``."""
    parts = rel.split("/")
    return len(parts) == 2 and parts[1] == MANIFEST_NAME


def detect_format(name: str, head: bytes) -> str:
    """Tell a file's format from its name and first bytes: vtt, sidecar, json or unknown."""
    lowered = name.lower()
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if lowered.endswith(SIDECAR_SUFFIX):
        return "sidecar"
    if lowered.endswith(".vtt") or stripped.startswith(b"WEBVTT"):
        return "vtt"
    if lowered.endswith(".json") or stripped[:1] in (b"{", b"["):
        return "json"
    return "unknown"


def validate_call(call: Call, max_unknown_share: float = 0.2) -> None:
    """Refuse a call whose content cannot yield honest metrics.

    Piece length (``turn_too_long``) is checked by the readers, before merging, where a
    failed speaker separation shows; here the merged turns are checked for order, the rep
    for speaking, and unknown speakers for holding no more than ``max_unknown_share`` of
    the talk (beyond that the talk ratio would be a guess: ``unresolved_speakers``).
    """
    where = call.call_id
    if not call.utterances:
        raise TranscriptError("empty_transcript", "the call has no utterances", call_id=where)
    prev_start = 0.0
    for i, u in enumerate(call.utterances):
        loc = f"utterance {i}"
        if u.start_s < 0 or u.end_s < 0:
            raise TranscriptError("bad_timestamps", f"negative time {u.start_s}..{u.end_s}", loc, where)
        if u.end_s < u.start_s:
            raise TranscriptError("bad_timestamps", f"ends ({u.end_s}) before it starts ({u.start_s})", loc, where)
        if u.start_s < prev_start:
            raise TranscriptError("bad_timestamps", f"starts at {u.start_s}, before the previous turn "
                                  f"({prev_start})", loc, where)
        prev_start = u.start_s
    if not any(u.role == "rep" for u in call.utterances):
        raise TranscriptError("rep_silent", f"the rep ({call.rep.email or call.rep.id}) never speaks",
                              call_id=where)
    total = sum(u.spoken for u in call.utterances)
    unknown = sum(u.spoken for u in call.utterances if u.role == "unknown")
    if total > 0 and unknown / total > max_unknown_share:
        names = sorted({u.speaker for u in call.utterances if u.role == "unknown"})
        raise TranscriptError("unresolved_speakers", f"speakers matching no participant ({', '.join(names[:5])}) "
                              f"hold {unknown / total:.0%} of the talk (limit {max_unknown_share:.0%}, setting "
                              "max_unknown_share): add them to the sidecar's participants", call_id=where)


@dataclass(frozen=True)
class IngestItem:
    """One result of ingestion, in landing order: a call, or a quarantine record."""

    call: Call | None = None
    quarantined: Quarantined | None = None
    raw: bytes | None = None  # the refused file's bytes, kept for the quarantine copy
    companions: tuple[tuple[str, bytes], ...] = ()  # files it needs to be reprocessed (a VTT's sidecar)


def iter_day(source: LandingSource, *, max_file_bytes: int, max_turn_words: int,
             roster: Roster | None = None, stats: IngestStats | None = None, merge_gap_s: float = 2.0,
             max_unknown_share: float = 0.2, published: Mapping[str, str] | None = None,
             suppress: Callable[[Call], bool] | None = None) -> Iterator[IngestItem]:
    """Yield every call of the day and every quarantined input, in a stable order.

    Duplicated ``call_id``s keep their first occurrence (landing order: sorted
    paths, then position inside a file) and quarantine the others; a call already
    published on another day (``published``: call id -> day) is quarantined as
    ``duplicate_call_id_previous_day``. A quarantined VTT carries its sidecar, so the
    quarantine copy can be fixed and landed again. A call ``suppress`` covers (an erasure
    request named it or a participant) is recorded as ``erased`` and never copied.

    Logs name error kinds, call ids and :func:`log_id` hashes of file names, never names,
    emails or transcript text: the full message is in the quarantine record.

    Only bad input is quarantined. A storage failure (the source raises
    :class:`~pipeline.warehouse.storage.StorageError` after its retries) propagates, so the
    task fails and is retried instead of publishing the day without the call.
    """
    published = published or {}
    stats = stats if stats is not None else IngestStats()
    options = ReadOptions(merge_gap_s=merge_gap_s, max_piece_words=max_turn_words)
    files = []
    for f in source.files:
        if is_manifest(f.rel):
            continue  # a pull's control file (pipeline.pull), not input
        why = unsafe_name(f.rel)
        if why is None:
            files.append(f)
            continue
        stats.files_seen += 1
        stats.files_quarantined += 1
        item = Quarantined(f.rel.encode("unicode_escape").decode("ascii"), "unsafe_name",
                           f"the file name holds {why}: never read, never copied")
        stats.count(item)
        log.warning("quarantined a file with an unsafe name: %s", why)
        yield IngestItem(quarantined=item)
    by_rel = {f.rel: f for f in files}
    paired = {_sidecar_for(f.rel) for f in files
              if _sidecar_for(f.rel) in by_rel and _is_vtt(f, source, max_file_bytes)}
    seen_ids: dict[str, str] = {}
    for f in files:
        if f.rel in paired:
            continue  # consumed by its VTT, counted with it
        stats.files_seen += 1
        raw: bytes | None = None
        try:
            if f.size > max_file_bytes:
                raise TranscriptError("file_too_large", f"{f.size} bytes, limit {max_file_bytes} "
                                      "(setting max_file_bytes, CALLSCORE_MAX_FILE_BYTES)")
            raw = source.read(f)
            calls, bad = _parse_file(f.rel, raw, by_rel, source, max_file_bytes, options)
        except OSError:
            raise  # the storage system failed, not the input: fail the task so it retries; never quarantine
        except (TranscriptError, Exception) as exc:
            # Anything a reader did not foresee is still bad input for this file only:
            # quarantine it with the exception rather than stop the day.
            err = exc if isinstance(exc, TranscriptError) else TranscriptError(
                "reader_error", f"{type(exc).__name__}: {exc}")
            item = Quarantined.from_error(f.rel, err)
            stats.files_quarantined += 1
            stats.count(item)
            log.warning("quarantined file %s: %s", log_id(f.rel), err.kind,
                        exc_info=not isinstance(exc, TranscriptError) and log.isEnabledFor(logging.DEBUG))
            yield IngestItem(quarantined=item, raw=raw, companions=_companions(f.rel, by_rel, paired, source,
                                                                               max_file_bytes))
            continue
        stats.files_parsed += 1
        for item in bad:
            stats.calls_quarantined += 1
            stats.count(item)
            log.warning("quarantined call %s in file %s: %s", item.call_id, log_id(f.rel), item.kind)
            yield IngestItem(quarantined=item, raw=raw)
        for call in calls:
            if suppress is not None and suppress(call):
                item = Quarantined.from_error(f.rel, TranscriptError(
                    "erased", "on the suppression list of an erasure request (callscore erase): not published, "
                    "not copied", call_id=call.call_id))
                stats.calls_quarantined += 1
                stats.count(item)
                log.warning("call %s in file %s: erased", call.call_id, log_id(f.rel))
                yield IngestItem(quarantined=item)
                continue
            try:
                validate_call(call, max_unknown_share)
                if call.call_id in seen_ids:
                    raise TranscriptError("duplicate_call_id", f"call_id already read from {seen_ids[call.call_id]}",
                                          call_id=call.call_id)
                if call.call_id in published:
                    raise TranscriptError("duplicate_call_id_previous_day", "call_id already published on "
                                          f"{published[call.call_id]}; re-run that day to replace it",
                                          call_id=call.call_id)
            except TranscriptError as err:
                item = Quarantined.from_error(f.rel, err)
                stats.calls_quarantined += 1
                stats.count(item)
                log.warning("quarantined call %s in file %s: %s", call.call_id, log_id(f.rel), err.kind)
                yield IngestItem(quarantined=item, raw=raw, companions=_companions(f.rel, by_rel, paired, source,
                                                                                   max_file_bytes))
                continue
            seen_ids[call.call_id] = f.rel
            stats.calls_parsed += 1
            if call.warnings:
                log.warning("call %s in file %s: %d warning(s), in calls.warnings", call.call_id, log_id(f.rel),
                            len(call.warnings))
            yield IngestItem(call=replace(call, rep=roster.apply(call.rep) if roster else rep_identity(call.rep)))


def _companions(rel: str, by_rel: Mapping[str, LandedFile], paired: set[str], source: LandingSource,
                max_file_bytes: int) -> tuple[tuple[str, bytes], ...]:
    """The sidecar a quarantined VTT was read with (none when absent or too large to copy)."""
    side = by_rel.get(_sidecar_for(rel))
    if side is None or side.rel not in paired or side.size > max_file_bytes:
        return ()
    return ((side.rel, source.read(side)),)


def _sidecar_for(rel: str) -> str:
    """The metadata sidecar of a transcript file: ``call.vtt`` -> ``call.meta.json``."""
    return posixpath.splitext(rel)[0] + SIDECAR_SUFFIX


def _is_vtt(f: LandedFile, source: LandingSource, max_file_bytes: int) -> bool:
    """Whether ``_parse_file`` reads ``f`` as a VTT (and so its sidecar): by name, else by its first bytes."""
    fmt = detect_format(f.rel, b"")
    if fmt in ("vtt", "sidecar") or f.size > max_file_bytes:
        return fmt == "vtt"
    return detect_format(f.rel, source.head(f, 64)) == "vtt"


def _parse_file(rel: str, raw: bytes, by_rel: Mapping[str, LandedFile], source: LandingSource,
                max_file_bytes: int, options: ReadOptions) -> tuple[list[Call], list[Quarantined]]:
    fmt = detect_format(rel, raw[:64])
    if fmt == "unknown":
        raise TranscriptError("unknown_format", f"cannot tell the format of {posixpath.basename(rel)!r}")
    if not raw.strip(b"\xef\xbb\xbf \t\r\n"):
        raise TranscriptError("empty_transcript", "the file is empty")
    text = _decode(raw)
    if fmt == "sidecar":
        stem = rel[: -len(SIDECAR_SUFFIX)]
        raise TranscriptError("orphan_sidecar", f"metadata without its transcript {stem + '.vtt'!r}")
    if fmt == "vtt":
        side = by_rel.get(_sidecar_for(rel))
        if side is None:
            raise TranscriptError("missing_sidecar", f"no metadata sidecar {_sidecar_for(rel)!r}")
        if side.size > max_file_bytes:
            raise TranscriptError("file_too_large", f"sidecar is {side.size} bytes, limit {max_file_bytes} "
                                  "(setting max_file_bytes, CALLSCORE_MAX_FILE_BYTES)")
        try:
            meta = _json(_decode(source.read(side)))
        except TranscriptError as err:
            raise TranscriptError(err.kind, f"sidecar {side.rel!r}: {err.message}", err.location) from err
        if not isinstance(meta, Mapping):
            raise TranscriptError("invalid_schema", "sidecar must be a JSON object")
        return [read_vtt(text, meta, rel, options)], []
    doc = _json(text)
    if is_gong(doc):
        calls, bad = read_gong(doc, rel, options)
        if not calls and not bad:
            raise TranscriptError("empty_transcript", "the Gong export holds no calls")
        return calls, bad
    if isinstance(doc, Mapping) and "utterances" in doc:
        return [read_canonical(doc, rel, options)], []
    raise TranscriptError("unknown_format", "JSON is neither a canonical call (no 'utterances') nor a Gong export")
