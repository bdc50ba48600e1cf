"""One typed settings object for every entry point.

Values come, in increasing priority, from the defaults below, ``CALLSCORE_*``
environment variables, and explicit overrides (CLI flags or DAG params). The
default landing zone, warehouse and model live under ``$CALLSCORE_HOME`` or else the
current directory (``pipeline.paths.home``), resolved when settings are built, so
``make run`` in a checkout needs no configuration at all and an installed wheel never
writes into ``site-packages``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from pipeline import AUTO, PRECISIONS, SOURCES, ConfigError, paths


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


def default_locations(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The default ``landing``, ``warehouse`` and ``model`` under :func:`pipeline.paths.home` for ``env``.

    Computed on each call rather than at import: the home is ``$CALLSCORE_HOME`` or the working
    directory of the process building the settings, which an import-time value would freeze.
    """
    var = paths.var_dir(env)
    return {"landing": str(var / "landing"), "warehouse": str(var / "warehouse"),
            "model": str(paths.artifacts_dir(env) / "current")}


def _convert(name: str, kind: str, raw: str) -> Any:
    try:
        return int(raw) if kind == "int" else float(raw) if kind == "float" else raw
    except ValueError as exc:
        raise ConfigError(f"CALLSCORE_{name.upper()} must be a {kind}, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Where data lives and how hard the pipeline may work.

    Attributes:
        landing: URL of the landing zone; one ``YYYY-MM-DD/`` folder per day. Default
            ``<home>/var/landing`` (:func:`default_locations`).
        warehouse: URL of the Parquet warehouse (tables, staging, quarantine). Default
            ``<home>/var/warehouse``.
        model: folder of the classifier used for nightly runs. Default ``<home>/models/artifacts/current``.
        roster: optional CSV ``rep_id,name,email,team,manager``; empty means none.
        shard_size: calls per classification shard (one mapped Airflow task each); a large day gets
            larger shards so that it never maps more than ``max_shards`` tasks.
        max_shards: the most shards (mapped ``classify`` tasks) a day is split into: below Airflow's
            ``max_map_length`` (1,024), and a bound on the metadata DB's task rows per run.
        max_file_bytes: files larger than this are quarantined unread.
        max_turn_words: a single cue, sentence run or Gong monologue longer than this marks a failed
            speaker separation (``turn_too_long``); merged turns may be longer (README: Inputs).
        merge_gap_s: consecutive cues of one speaker merge into one turn only across silences up to
            this long (README: Inputs).
        max_unknown_share: a call where speakers matching no participant hold more than this share
            of the talk is quarantined as ``unresolved_speakers``.
        max_quarantine_bytes: per day, copies of quarantined files stop at this many bytes; the
            records of further files stay and say the copy was skipped.
        threads: torch intra-op threads for inference; 0 means all cores.
        batch_size: utterances per forward pass.
        precision: inference precision, ``auto`` (chosen per machine at start-up from the model's
            measured quality and the CPU's bf16 units) or one of ``pipeline.PRECISIONS``.
        storage_options: JSON of fsspec options (e.g. S3 endpoint) for both URLs.
        data_docs: local folder where Great Expectations builds its Data Docs site; empty means
            ``_data_docs`` under a local warehouse, or under the user's cache for a remote one
            (see :meth:`data_docs_dir`), never inside the source checkout.
        report: local folder of the static HTML report (``callscore report``, the nightly DAG's last
            task); empty means ``_report`` beside the Data Docs site (see :meth:`report_dir`).
        scoring: optional JSON file overriding the advisor-score weights and tier thresholds.
        allowed_prefixes: comma-separated URL prefixes under which DAG params may place landing,
            warehouse, model or roster; empty (default) means params cannot choose storage at all.
            Read from the environment only, never from a param (SECURITY.md).
        quarantine_retention_days: quarantine copies and failed-validation snapshots of a day are
            removed by retention (``callscore gc``, the weekly maintenance DAG) this many days after it.
        docs_retention_days: Data Docs validation pages older than this are removed by retention.
        customer_text: what the published ``utterances`` table holds of customer speech: ``keep``,
            ``redact`` (default: customer names, emails, phone, card and long numbers replaced with
            typed placeholders, in rep turns too) or ``drop`` (customer turns' text emptied as well).
        sources: comma-separated APIs the nightly DAG pulls before planning (``gong``, ``zoom``); empty
            (default) means calls reach the landing zone by other means and no manifest is needed.
        late_days: each night's pull also re-checks this many earlier days for calls whose transcript
            arrived late, and re-scores a day whose calls changed.
    """

    landing: str = field(default_factory=lambda: default_locations()["landing"])
    warehouse: str = field(default_factory=lambda: default_locations()["warehouse"])
    model: str = field(default_factory=lambda: default_locations()["model"])
    roster: str = ""
    shard_size: int = 200
    max_shards: int = 500
    max_file_bytes: int = 25_000_000
    max_turn_words: int = 3_000
    merge_gap_s: float = 2.0
    max_unknown_share: float = 0.2
    max_quarantine_bytes: int = 500_000_000
    threads: int = 0
    batch_size: int = 64
    precision: str = AUTO  # per machine: bf16 on CPUs with bf16 units, int8 only if it met the bound (README)
    storage_options: str = ""
    data_docs: str = ""
    report: str = ""
    scoring: str = ""
    allowed_prefixes: str = ""
    quarantine_retention_days: int = 30
    docs_retention_days: int = 90
    customer_text: str = "redact"
    sources: str = ""
    late_days: int = 3

    def __post_init__(self) -> None:
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        if not 1 <= self.max_shards <= 1024:
            raise ValueError(f"max_shards must be between 1 and 1024 (Airflow's max_map_length), got {self.max_shards}")
        if self.max_file_bytes < 1 or self.max_turn_words < 1:
            raise ValueError("max_file_bytes and max_turn_words must be positive")
        if self.precision not in (AUTO, *PRECISIONS):
            raise ValueError(f"precision must be one of {', '.join((AUTO, *PRECISIONS))}, got {self.precision!r}")
        if self.batch_size < 1 or self.threads < 0:
            raise ValueError("batch_size must be >= 1 and threads >= 0")
        if not (math.isfinite(self.merge_gap_s) and 0 <= self.merge_gap_s <= 60):
            raise ValueError(f"merge_gap_s must be between 0 and 60 seconds, got {self.merge_gap_s}")
        if self.quarantine_retention_days < 0 or self.docs_retention_days < 0:
            raise ValueError("retention days must not be negative")
        if self.customer_text not in ("keep", "redact", "drop"):
            raise ValueError(f"customer_text must be keep, redact or drop, got {self.customer_text!r}")
        unknown = [s for s in self.source_list if s not in SOURCES]
        if unknown:
            raise ValueError(f"sources must be a comma-separated list of {', '.join(SOURCES)}, got {self.sources!r}")
        if not 0 <= self.late_days <= 31:
            raise ValueError(f"late_days must be between 0 and 31, got {self.late_days}")
        if not 0 <= self.max_unknown_share <= 1:
            raise ValueError(f"max_unknown_share must be between 0 and 1, got {self.max_unknown_share}")

    @property
    def source_list(self) -> list[str]:
        """The ``sources`` setting as names (``"gong, zoom"`` -> ``["gong", "zoom"]``); empty when none."""
        return [s.strip() for s in self.sources.split(",") if s.strip()]

    def data_docs_dir(self) -> str:
        """Where the Data Docs site is built: the setting, else derived from the warehouse.

        A local warehouse keeps its site beside its tables (``<warehouse>/_data_docs``); GX
        builds sites on a local disk only, so a remote warehouse's site goes to
        ``$XDG_CACHE_HOME/callscore/data_docs/<warehouse as a folder name>``.
        """
        if self.data_docs:
            return self.data_docs
        if "://" not in self.warehouse or self.warehouse.startswith("file://"):
            local = self.warehouse.removeprefix("file://")
            return str(Path(local).expanduser().resolve() / "_data_docs")
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return str(cache / "callscore" / "data_docs" / re.sub(r"[^A-Za-z0-9._-]+", "_", self.warehouse).strip("_"))

    def report_dir(self) -> str:
        """Where the HTML report is built: the setting, else ``_report`` beside the Data Docs site
        (``<warehouse>/_report`` for a local warehouse), so the report can link the Data Docs."""
        if self.report:
            return self.report
        return str(Path(self.data_docs_dir()).parent / "_report")

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CALLSCORE_<FIELD>`` variables, then explicit overrides.

        ``None`` overrides are ignored so CLI flags that were not given fall through. The default
        locations follow ``CALLSCORE_HOME`` in ``env`` too, not the process environment.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = dict(default_locations(env))
        for f in fields(cls):
            raw = env.get(f"CALLSCORE_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
