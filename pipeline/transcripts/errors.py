"""Why an input was refused: the vocabulary of quarantine records."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Every reason a file or call can be quarantined. Documented in the README.
KINDS = (
    "invalid_utf8",
    "invalid_json",
    "truncated",
    "invalid_vtt",
    "invalid_schema",
    "unknown_format",
    "empty_transcript",
    "no_rep",
    "rep_silent",
    "ambiguous_speaker",
    "unresolved_speakers",
    "bad_timestamps",
    "turn_too_long",
    "duplicate_call_id",
    "duplicate_call_id_previous_day",
    "file_too_large",
    "missing_sidecar",
    "orphan_sidecar",
    "reader_error",
    "unsafe_name",
    "erased",  # on the suppression list of an erasure request (callscore erase): recorded, never copied
)


class TranscriptError(ValueError):
    """A transcript (or one call inside it) cannot be read into the canonical model."""

    def __init__(self, kind: str, message: str, location: str | None = None, call_id: str | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown quarantine kind {kind!r}")
        super().__init__(f"{kind}: {message}" + (f" (at {location})" if location else ""))
        self.kind = kind
        self.message = message
        self.location = location
        self.call_id = call_id


@dataclass(frozen=True)
class Quarantined:
    """One refused input: a whole file, or one call of a multi-call file."""

    file: str
    kind: str
    message: str
    location: str | None = None
    call_id: str | None = None

    @classmethod
    def from_error(cls, file: str, err: TranscriptError) -> Quarantined:
        return cls(file=file, kind=err.kind, message=err.message, location=err.location, call_id=err.call_id)

    def to_dict(self) -> dict:
        return asdict(self)
