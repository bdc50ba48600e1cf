"""Where erasure keeps its state: the salt, the suppression list, the participant index, the audit trail.

``_private/salt`` is made once per warehouse (one exclusive create, so concurrent runs agree)
and never leaves it. ``_private/suppressed/<hash>.json`` holds one object per erased subject, so
two requests never race on one file. ``_index/date=D.jsonl`` is each published day's call ids
with their participants' hashed emails, written by publish. ``_audit/erasure/<id>.json`` is one
record per erasure.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pipeline.warehouse import storage


def salt(warehouse: str, storage_options: Any = None) -> str:
    url = storage.join(warehouse, "_private", "salt")
    if not storage.exists(url, storage_options):
        storage.create_exclusive(url, secrets.token_hex(32).encode(), storage_options)
    return storage.read_text(url, storage_options).strip()


def suppressed(warehouse: str, storage_options: Any = None) -> frozenset[str]:
    folder = storage.join(warehouse, "_private", "suppressed")
    return frozenset(rel.removesuffix(".json") for _, rel in storage.iter_files(folder, storage_options)
                     if rel.endswith(".json"))


def suppress(warehouse: str, digest: str, kind: str, storage_options: Any = None) -> None:
    storage.write_json(storage.join(warehouse, "_private", "suppressed", f"{digest}.json"),
                       {"kind": kind, "since": datetime.now(UTC).isoformat(timespec="seconds")}, storage_options)


def index_url(warehouse: str, day: str) -> str:
    return storage.join(warehouse, "_index", f"date={day}.jsonl")


def audit_url(warehouse: str, erasure_id: str) -> str:
    return storage.join(warehouse, "_audit", "erasure", f"{erasure_id}.json")
