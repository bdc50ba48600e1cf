"""Pieces shared by the format readers: timestamps, rep and speaker resolution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pipeline.transcripts.errors import TranscriptError
from pipeline.transcripts.model import ROLES, Call, Participant, Rep, Utterance


def parse_time(value: Any, field: str, call_id: str | None = None) -> datetime:
    """Parse an ISO-8601 instant into an aware UTC datetime (naive values are taken as UTC)."""
    if not isinstance(value, str) or not value:
        raise TranscriptError("invalid_schema", f"{field} must be an ISO-8601 string", call_id=call_id)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TranscriptError("invalid_schema", f"{field} {value!r} is not ISO-8601", call_id=call_id) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def number(value: Any, field: str, location: str | None = None, call_id: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranscriptError("invalid_schema", f"{field} must be a number, got {value!r}", location, call_id)
    return float(value)


def text_field(obj: Mapping, key: str, call_id: str | None = None, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise TranscriptError("invalid_schema", f"missing or empty {key!r}", call_id=call_id)
    return value.strip()


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


def speaker_roles(participants: Sequence[Participant], call_id: str | None) -> dict[str, str]:
    """Map display names to roles; a name shared by people of different roles is ambiguous.

    Transcripts name speakers by display name only, so when the rep and a customer
    share a name their turns cannot be told apart: such names map to ``None`` and
    any turn spoken under them quarantines the call (unless it carries an email).
    """
    roles: dict[str, str | None] = {}
    for p in participants:
        key = p.name.casefold()
        if key in roles and roles[key] != p.role:
            roles[key] = None
        else:
            roles[key] = p.role
    return roles  # type: ignore[return-value]


def resolve_role(speaker: str, email: str | None, participants: Sequence[Participant],
                 roles: Mapping[str, str | None], location: str, call_id: str | None) -> str:
    if email:
        for p in participants:
            if p.email and p.email == email.strip().lower():
                return p.role
    role = roles.get(speaker.casefold(), "customer")
    if role is None:
        raise TranscriptError(
            "ambiguous_speaker",
            f"speaker {speaker!r} names both the rep and another participant; add speaker emails",
            location, call_id)
    return role


def merge_turns(turns: Sequence[Utterance]) -> tuple[Utterance, ...]:
    """Join consecutive pieces of the same speaker into one turn (VTT cues, split lines)."""
    merged: list[Utterance] = []
    for u in turns:
        if merged and merged[-1].speaker == u.speaker and merged[-1].role == u.role:
            prev = merged[-1]
            merged[-1] = Utterance(prev.speaker, prev.start_s, max(prev.end_s, u.end_s),
                                   f"{prev.text} {u.text}".strip(), prev.role)
        else:
            merged.append(u)
    return tuple(merged)


def build_call(*, call_id: str, started_at: datetime, duration_s: float | None, title: str, rep: Rep,
               participants: tuple[Participant, ...], utterances: tuple[Utterance, ...],
               source_file: str, source_format: str) -> Call:
    """Assemble a call; a missing duration is taken from the last turn's end."""
    if duration_s is None:
        duration_s = max((u.end_s for u in utterances), default=0.0)
    return Call(call_id=call_id, started_at=started_at, duration_s=float(duration_s), title=title, rep=rep,
                participants=participants, utterances=utterances, source_file=source_file,
                source_format=source_format)
