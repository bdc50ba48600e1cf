"""The canonical call model every transcript format is read into.

Readers turn each format into these frozen dataclasses; everything downstream
(classification, scorecards) only ever sees this model, so a new format is one
new reader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ROLES = ("rep", "customer", "internal")


@dataclass(frozen=True)
class Rep:
    """The call's owner, identified by id or email (never by display name)."""

    id: str
    name: str
    email: str
    team: str | None = None
    manager: str | None = None


@dataclass(frozen=True)
class Participant:
    name: str
    email: str | None
    role: str  # one of ROLES


@dataclass(frozen=True)
class Utterance:
    """One speaker turn. ``speaker`` is the display name; ``role`` is resolved at read time."""

    speaker: str
    start_s: float
    end_s: float
    text: str
    role: str = "customer"


@dataclass(frozen=True)
class Call:
    call_id: str
    started_at: datetime  # timezone-aware, UTC
    duration_s: float
    title: str
    rep: Rep
    participants: tuple[Participant, ...]
    utterances: tuple[Utterance, ...]
    source_file: str = ""
    source_format: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)
