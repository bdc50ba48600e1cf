"""Pulling a day's calls from the vendors' APIs: Gong and Zoom.

This room talks to the network and to nothing else: it turns a day into the files a landing
zone would hold (``PulledFile``: a relative name and bytes, in the export shapes
``pipeline.transcripts`` already reads) and never opens storage. ``pipeline.pull`` writes them,
with the manifest that tells ``plan`` a day is complete.

Only this room imports an HTTP client (``tests/pipeline/test_layout.py``). Where it may
connect comes from the deployment (an Airflow connection or ``CALLSCORE_<SOURCE>_*``
variables); URLs that an API response names (Zoom's ``download_url``) are fetched only on the
hosts the deployment allows, so no response can send a worker, or its token, anywhere else.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from pipeline import SOURCES, ConfigError

__all__ = ["SOURCES", "PullResult", "PulledFile", "QuotaError", "Secret", "SourceConfigError", "SourceError",
           "day_window", "file_stem"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class SourceError(RuntimeError):
    """The source API failed (5xx after retries, a timeout, an unreadable response): the task fails
    and is retried; nothing is quarantined, because no input was read."""


class QuotaError(SourceError):
    """Going on would exhaust the source's daily request budget: the pull stops before it does."""


class SourceConfigError(ConfigError):
    """A source's credentials or settings are missing or refused (401/403): retrying cannot help."""


class Secret(str):
    """A credential: a ``str`` for the HTTP client, ``***`` wherever it is printed or logged."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class PulledFile:
    """One file for ``<landing>/<day>/<source>/``: ``rel`` is its name there."""

    rel: str
    data: bytes
    call_id: str


@dataclass
class PullResult:
    """What one source returned for one day.

    Attributes:
        files: the day's calls, each in one file (a Zoom call is a ``.vtt`` plus its ``.meta.json``).
        pending: ids of calls the source lists but whose transcript is not ready yet; the late-arrival
            re-check picks them up on a later night.
        window: the ``[from, to)`` time window asked for, ISO 8601 UTC.
        cursors: each paged endpoint and whether its pages ran out (all must, for a complete pull).
        requests: HTTP requests made (for the daily budget).
        warnings: things a reader of the manifest should know (a participant report not available).
    """

    source: str
    day: str
    files: list[PulledFile] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    window: dict[str, str] = field(default_factory=dict)
    cursors: dict[str, bool] = field(default_factory=dict)
    requests: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def call_ids(self) -> list[str]:
        return sorted({f.call_id for f in self.files})


def day_window(day: str) -> dict[str, str]:
    """The UTC day ``[day 00:00, day+1 00:00)`` a pull asks for, as ISO 8601 (``from``, ``to``)."""
    start = datetime.combine(date.fromisoformat(day), time.min, UTC)
    return {"from": f"{start:%Y-%m-%dT%H:%M:%SZ}", "to": f"{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"}


def file_stem(source: str, call_id: str) -> str:
    """A file name stem for a call, derived from the source's id and never able to leave its folder.

    Ids are the source's (untrusted) data: one that is not plain letters, digits, ``-`` and ``_``
    (Zoom's base64 meeting UUIDs hold ``/``, ``+`` and ``=``) is named by a hash of itself, which
    is just as stable, so a re-pull still replaces the same file.
    """
    if _SAFE_ID.match(call_id):
        return f"{source}-{call_id}"
    return f"{source}-h{hashlib.sha256(call_id.encode()).hexdigest()[:24]}"
