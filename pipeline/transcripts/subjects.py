"""Who a call is about, as salted hashes: what erasure requests name and ingest honours.

A subject is a participant's email or a call id. Only its salted sha256 is ever stored (the
participant index, the suppression list, audit records), so none of those files is personal
data to whoever lacks the warehouse's salt. Pure: the salt and the listed hashes come from
``pipeline.warehouse.privacy``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline import ConfigError
from pipeline.transcripts.model import Call

SUBJECT_KINDS = ("email", "call_id")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise(kind: str, value: str) -> str:
    """The subject as hashed: emails trimmed and lower-cased, call ids trimmed.

    Raises:
        ConfigError: an unknown kind, or a value that is empty or not an email.
    """
    if kind not in SUBJECT_KINDS:
        raise ConfigError(f"erase what? kind must be one of {SUBJECT_KINDS}, got {kind!r}")
    value = (value or "").strip()
    if not value:
        raise ConfigError(f"--{kind.replace('_', '-')} is empty")
    if kind == "email":
        value = value.lower()
        if not _EMAIL.match(value):
            raise ConfigError(f"--email needs an email address, got {value!r}")
    return value


def subject_hash(salt: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{salt}\x00{kind}\x00{normalise(kind, value)}".encode()).hexdigest()


def call_subjects(call: Call, salt: str) -> list[str]:
    """Every hash that names this call: its id and each participant's email (the rep's too)."""
    emails = {p.email.strip().lower() for p in call.participants if p.email}
    if call.rep.email:
        emails.add(call.rep.email.strip().lower())
    return [subject_hash(salt, "call_id", call.call_id),
            *sorted(subject_hash(salt, "email", e) for e in emails if _EMAIL.match(e))]


def index_rows(calls: Iterable[Call], salt: str) -> list[dict]:
    """The participant index of published calls: each call id with its subjects' hashes."""
    return [{"call_id": c.call_id, "subjects": call_subjects(c, salt)} for c in calls]


@dataclass(frozen=True)
class Suppression:
    """What a run needs to honour erasures: the warehouse's salt and the listed hashes."""

    salt: str
    hashes: frozenset[str]

    def covers(self, call: Call) -> bool:
        return bool(self.hashes) and any(h in self.hashes for h in call_subjects(call, self.salt))
