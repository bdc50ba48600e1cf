"""Transcript ingestion: formats, rep attribution and quarantine."""

from pipeline.transcripts.errors import Quarantined, TranscriptError
from pipeline.transcripts.model import Call, Participant, Rep, Utterance

__all__ = ["Call", "Participant", "Quarantined", "Rep", "TranscriptError", "Utterance"]
