"""The canonical call model every transcript format is read into.

Readers turn each format into these frozen dataclasses; everything downstream
(classification, scorecards) only ever sees this model, so a new format is one
new reader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ROLES = ("rep", "customer", "internal")  # what a participant can be
SPEAKER_ROLES = (*ROLES, "unknown")  # a turn's speaker may also be nobody we can name (README: Inputs)


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
    """One speaker turn. ``speaker`` is the display name; ``role`` is resolved at read time.

    ``start_s``/``end_s`` span the turn, pauses included; ``spoken_s`` is the time the
    speaker actually spoke in it (the union of its cues or sentences, less anything
    already counted for the same speaker earlier in the call), which is what talk
    metrics add up. None means the turn is one piece: ``end_s - start_s``.
    """

    speaker: str
    start_s: float
    end_s: float
    text: str
    role: str = "customer"
    spoken_s: float | None = None

    @property
    def spoken(self) -> float:
        return self.end_s - self.start_s if self.spoken_s is None else self.spoken_s


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
    warnings: tuple[str, ...] = ()  # readable but suspicious (README: Inputs); published with the call
    extra: dict = field(default_factory=dict, compare=False, hash=False)
