"""Pieces shared by the format readers: times, speaker identity, and turns built from cues.

The rules here are the README's Inputs section: how a speaker label is matched to a
participant, which speakers are ``unknown``, how cues merge into turns (only across
short gaps), and how talk time is counted (time actually spoken, never merged spans).
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.transcripts.errors import TranscriptError
from pipeline.transcripts.model import ROLES, Call, Participant, Rep, Utterance

MAX_SECONDS = 7 * 24 * 3600.0  # no call lasts a week: a larger time is a broken export, not a long call
UNNAMED = "(unnamed)"  # the speaker of a cue that carries no name


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings that change what a turn is (``Settings`` fills them).

    Attributes:
        merge_gap_s: consecutive pieces of one speaker join into one turn only when the
            silence between them is at most this long; a longer pause starts a new turn.
        max_piece_words: a single cue, sentence run or Gong monologue longer than this
            means speaker separation failed (``turn_too_long``); merged turns may be longer.
    """

    merge_gap_s: float = 2.0
    max_piece_words: int = 3_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.merge_gap_s) and self.merge_gap_s >= 0):
            raise ValueError(f"merge_gap_s must be a finite number >= 0, got {self.merge_gap_s}")
        if self.max_piece_words < 1:
            raise ValueError(f"max_piece_words must be >= 1, got {self.max_piece_words}")


def parse_time(value: Any, field: str, call_id: str | None = None) -> datetime:
    """Parse an instant into an aware UTC datetime.

    ISO-8601 strings (naive taken as UTC) and, because Gong samples and older exports
    carry them, epoch seconds (a number or a string of digits).
    """
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().isdigit()):
        seconds = float(value)
        if not math.isfinite(seconds) or not 0 <= seconds < 32_503_680_000:  # year 3000
            raise TranscriptError("bad_timestamps", f"{field} {value!r} is not a plausible epoch time",
                                  call_id=call_id)
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value:
        raise TranscriptError("invalid_schema", f"{field} must be an ISO-8601 string or epoch seconds",
                              call_id=call_id)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TranscriptError("invalid_schema", f"{field} {value!r} is not ISO-8601", call_id=call_id) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def number(value: Any, field: str, location: str | None = None, call_id: str | None = None,
           scale: float = 1.0) -> float:
    """A time or duration in seconds (``scale`` converts, e.g. 0.001 for milliseconds).

    JSON readers accept ``Infinity`` and ``NaN``; such a value, or one beyond a week,
    would publish ``talk_s = inf``, so it is ``bad_timestamps`` here.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranscriptError("invalid_schema", f"{field} must be a number, got {value!r}", location, call_id)
    seconds = float(value) * scale
    if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
        raise TranscriptError("bad_timestamps", f"{field} {value!r} is not a finite time under a week",
                              location, call_id)
    return seconds


def text_field(obj: Mapping, key: str, call_id: str | None = None, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise TranscriptError("invalid_schema", f"missing or empty {key!r}", call_id=call_id)
    return value.strip()


def clean_text(text: str) -> str:
    """Decode character references (``&amp;``, ``&#233;``) and collapse whitespace."""
    return " ".join(html.unescape(text).split())


def name_key(name: str) -> str:
    """How names are compared: references decoded, Unicode NFC, case folded, spaces collapsed."""
    folded = unicodedata.normalize("NFC", html.unescape(name)).casefold()
    return " ".join(unicodedata.normalize("NFC", folded).split())


def read_rep(obj: Any, call_id: str | None) -> Rep:
    """The call owner from a canonical ``rep`` object; it needs an id or an email."""
    if not isinstance(obj, Mapping):
        raise TranscriptError("no_rep", "the call has no 'rep' object", call_id=call_id)
    rep_id = str(obj.get("id") or "").strip()
    email = str(obj.get("email") or "").strip().lower()
    if not rep_id and not email:
        raise TranscriptError("no_rep", "the rep has neither an id nor an email", call_id=call_id)
    team = obj.get("team")
    return Rep(id=rep_id or email, name=str(obj.get("name") or rep_id or email), email=email,
               team=str(team) if team else None)


def read_participants(items: Any, rep: Rep, call_id: str | None) -> tuple[Participant, ...]:
    """Participants with the rep identified by email, never by display name.

    The person whose email is the rep's becomes the only ``rep``; anybody else
    listed as a rep (a second seller) is ``internal``. When no participant carries
    the rep's email, a single participant listed as ``rep`` whose email does not
    contradict the rep's is the rep (a file that names its rep without emails).
    The rep is added when the list omits them, so a call always knows its owner.
    """
    if items is None:
        items = []
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise TranscriptError("invalid_schema", "'participants' must be a list", call_id=call_id)
    listed: list[tuple[str, str | None, str]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not str(item.get("name") or "").strip():
            raise TranscriptError("invalid_schema", "participant without a name", f"participant {i}", call_id)
        email = str(item.get("email") or "").strip().lower() or None
        role = str(item.get("role") or "customer").strip().lower()
        if role not in ROLES:
            raise TranscriptError("invalid_schema", f"participant role {role!r} not in {ROLES}",
                                  f"participant {i}", call_id)
        listed.append((str(item["name"]).strip(), email, role))
    declared = [i for i, (_, _, role) in enumerate(listed) if role == "rep"]
    by_email = bool(rep.email) and any(email == rep.email for _, email, _ in listed)
    sole_declared = None
    if not by_email and len(declared) == 1 and (not rep.email or listed[declared[0]][1] is None):
        sole_declared = declared[0]
    people: list[Participant] = []
    for i, (name, email, role) in enumerate(listed):
        if (rep.email and email == rep.email) or i == sole_declared:
            role = "rep"
        elif role == "rep":
            role = "internal"
        people.append(Participant(name=name, email=email, role=role))
    if not any(p.role == "rep" for p in people):
        people.insert(0, Participant(name=rep.name, email=rep.email or None, role="rep"))
    return tuple(people)


def _short_form(label: list[str], full: list[str]) -> bool:
    """The documented short forms of a full name (compared as name keys).

    ``Dana`` (first name alone), ``Dana W`` / ``Dana W.`` (first name and the last
    name's initial) and ``D Whitfield`` / ``D. Whitfield`` (first initial and last name)
    all stand for ``Dana Whitfield``.
    """
    if len(full) < 2 or not label:
        return False
    first, last = full[0], full[-1]
    words = [w.rstrip(".") for w in label]
    if len(words) == 1:
        return words[0] == first
    if len(words) == 2:
        a, b = words
        return (a == first and len(b) == 1 and last.startswith(b)) or (len(a) == 1 and first.startswith(a)
                                                                         and b == last)
    return False


class Speakers:
    """Who a transcript's speaker label is among the call's participants.

    Matching, in order: the exact name (as :func:`name_key` compares names), the email
    (given with the turn, or the label itself being an email; it also settles a display
    name the rep shares with someone else), then a short form of
    exactly one participant's name within this call (:func:`_short_form`). A label that
    matches nobody, or a short form that fits two people, is not guessed: the speaker is
    ``unknown``. Names are never matched across calls.
    """

    def __init__(self, participants: Sequence[Participant], call_id: str | None = None):
        self.participants = tuple(participants)
        self.call_id = call_id
        self._by_name: dict[str, Participant | None] = {}
        self._by_email: dict[str, Participant] = {}
        for p in self.participants:
            key = name_key(p.name)
            if key in self._by_name and self._by_name[key] is not None and self._by_name[key].role != p.role:
                self._by_name[key] = None  # the rep and somebody else share a display name
            else:
                self._by_name.setdefault(key, p)
            if p.email:
                self._by_email.setdefault(p.email.strip().lower(), p)
        self._keys = [(p, name_key(p.name).split()) for p in self.participants]

    def match(self, label: str, email: str | None = None, location: str | None = None) -> Participant | None:
        """The participant ``label`` names, or None when it names nobody of this call for sure.

        Raises:
            TranscriptError: ``ambiguous_speaker`` when the label is exactly the display name
                of the rep and of someone of another role (and no email tells them apart).
        """
        key = name_key(label)
        found = self._by_name.get(key)
        if found is not None:
            return found
        for mail in (email, label if "@" in label else None):
            if mail and mail.strip().lower() in self._by_email:
                return self._by_email[mail.strip().lower()]
        if key in self._by_name:  # a shared display name and no email to settle it
            raise TranscriptError(
                "ambiguous_speaker",
                f"speaker {label!r} names both the rep and another participant; add speaker emails",
                location, self.call_id)
        words = key.split()
        fits = {id(p): p for p, full in self._keys if _short_form(words, full)}
        return next(iter(fits.values())) if len(fits) == 1 else None

    def piece(self, label: str | None, start: float, end: float, text: str, email: str | None = None,
              location: str | None = None) -> Utterance:
        """One cue or sentence run as a piece of a turn, its speaker resolved (or ``unknown``)."""
        if not label:
            return Utterance(UNNAMED, start, end, text, "unknown")
        person = self.match(label, email, location)
        if person is None:
            return Utterance(label, start, end, text, "unknown")
        return Utterance(person.name, start, end, text, person.role)


def check_piece(text: str, options: ReadOptions, location: str | None, call_id: str | None) -> None:
    """A single cue or monologue this long means the speakers were never separated."""
    words = len(text.split())
    if words > options.max_piece_words:
        raise TranscriptError("turn_too_long", f"{words} words in one piece (limit {options.max_piece_words}, "
                              "setting max_turn_words): speaker separation failed", location, call_id)


def merge_turns(pieces: Iterable[Utterance], gap_s: float | None = 2.0) -> tuple[Utterance, ...]:
    """Join consecutive pieces of one known speaker into turns, and count what each turn spoke.

    Two pieces join only when the same (known) speaker says them with at most ``gap_s``
    of silence between them (``None``: pieces are already turns, as in canonical files);
    an ``unknown`` piece never joins a neighbour. A turn's
    ``spoken_s`` is the part of its pieces' time not already counted for the same speaker
    (pieces come in start order, so one running "reach" per speaker suffices): summed
    over a call, it is the union of each speaker's intervals, so overlapping cues never
    count twice and the silence inside a merged turn never counts at all.
    """
    merged: list[list] = []  # [speaker, role, start, end, texts, spoken]
    reach: dict[tuple[str, str], float] = {}
    for u in pieces:
        who = (u.speaker, u.role)
        done = reach.get(who, -math.inf)
        spoken = max(0.0, u.end_s - max(u.start_s, done))
        reach[who] = max(done, u.end_s)
        last = merged[-1] if merged else None
        if (last is not None and gap_s is not None and u.role != "unknown" and (last[0], last[1]) == who
                and u.start_s - last[3] <= gap_s):
            last[3] = max(last[3], u.end_s)
            last[4].append(u.text)
            last[5] += spoken
        else:
            merged.append([u.speaker, u.role, u.start_s, u.end_s, [u.text], spoken])
    return tuple(Utterance(speaker, start, end, " ".join(t for t in texts if t).strip(), role, round(spoken, 6))
                 for speaker, role, start, end, texts, spoken in merged)


def build_call(*, call_id: str, started_at: datetime, duration_s: float | None, title: str, rep: Rep,
               participants: tuple[Participant, ...], utterances: tuple[Utterance, ...],
               source_file: str, source_format: str, warnings: Sequence[str] = ()) -> Call:
    """Assemble a call; a missing duration is taken from the last turn's end."""
    if duration_s is None:
        duration_s = max((u.end_s for u in utterances), default=0.0)
    return Call(call_id=call_id, started_at=started_at, duration_s=float(duration_s), title=title, rep=rep,
                participants=participants, utterances=utterances, source_file=source_file,
                source_format=source_format, warnings=tuple(warnings))
