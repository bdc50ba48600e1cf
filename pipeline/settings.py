"""One typed settings object for every entry point.

Values come, in increasing priority, from the defaults below, ``CALLSCORE_*``
environment variables, and explicit overrides (CLI flags or DAG params). The
defaults run the whole pipeline inside the repository on the bundled sample, so a
newcomer needs no configuration at all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from pipeline import AUTO, PRECISIONS, ConfigError
from pipeline.paths import ARTIFACTS_DIR, DEFAULT_VAR


def parse_day(value: str | date) -> str:
    """Normalise a partition day to ``YYYY-MM-DD``, saying what is wrong with a bad one.

    Raises:
        ConfigError: not in ``YYYY-MM-DD`` form, or in that form but not a calendar date
            (``2026-13-45``): the two are told apart so the message points at the real mistake.
    """
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ConfigError(f"day must be YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ConfigError(f"day {text} is YYYY-MM-DD but not a calendar date ({exc})") from exc


@dataclass(frozen=True)
class Settings:
    """Where data lives and how hard the pipeline may work.

    Attributes:
        landing: URL of the landing zone; one ``YYYY-MM-DD/`` folder per day.
        warehouse: URL of the Parquet warehouse (tables, staging, quarantine).
        model: folder of the classifier used for nightly runs.
        roster: optional CSV ``rep_id,name,email,team,manager``; empty means none.
        shard_size: calls per classification shard (one mapped Airflow task each).
        max_file_bytes: files larger than this are quarantined unread.
        max_turn_words: a turn longer than this marks a broken transcript (see README).
        threads: torch intra-op threads for inference; 0 means all cores.
        batch_size: utterances per forward pass.
        precision: inference precision, ``auto`` (chosen per machine at start-up from the model's
            measured quality and the CPU's bf16 units) or one of ``pipeline.PRECISIONS``.
        storage_options: JSON of fsspec options (e.g. S3 endpoint) for both URLs.
        data_docs: local folder where Great Expectations builds its Data Docs site.
        scoring: optional JSON file overriding the advisor-score weights and tier thresholds.
    """

    landing: str = str(DEFAULT_VAR / "landing")
    warehouse: str = str(DEFAULT_VAR / "warehouse")
    model: str = str(ARTIFACTS_DIR / "current")
    roster: str = ""
    shard_size: int = 200
    max_file_bytes: int = 25_000_000
    max_turn_words: int = 3_000
    threads: int = 0
    batch_size: int = 64
    precision: str = AUTO  # per machine: bf16 on CPUs with bf16 units, int8 only if it met the bound (README)
    storage_options: str = ""
    data_docs: str = str(DEFAULT_VAR / "data_docs")
    scoring: str = ""

    def __post_init__(self) -> None:
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        if self.max_file_bytes < 1 or self.max_turn_words < 1:
            raise ValueError("max_file_bytes and max_turn_words must be positive")
        if self.precision not in (AUTO, *PRECISIONS):
            raise ValueError(f"precision must be one of {', '.join((AUTO, *PRECISIONS))}, got {self.precision!r}")
        if self.batch_size < 1 or self.threads < 0:
            raise ValueError("batch_size must be >= 1 and threads >= 0")

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CALLSCORE_<FIELD>`` variables, then explicit overrides.

        ``None`` overrides are ignored so CLI flags that were not given fall through.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"CALLSCORE_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = int(raw) if f.type == "int" else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
