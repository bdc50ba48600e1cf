"""Writing pulled calls into the landing zone, and the manifests that say a day is complete.

A pull writes ``<landing>/<day>/<source>/<file>`` per call, each object replaced whole (a
re-pull of unchanged content writes nothing), then ``_manifest.json`` last. While a pull is in
progress the manifest says ``complete: false``, so ``plan`` never reads a half-pulled day.
The request ledger (``<warehouse>/_pull/<source>/usage/<utc day>.json``) lets every pull of one
UTC day share the source's daily budget.
"""

from __future__ import annotations

from typing import Any

from pipeline import MANIFEST_NAME, relpath_problem
from pipeline.warehouse import storage


def source_folder(landing: str, day: str, source: str) -> str:
    return storage.child(landing, f"{day}/{source}")


def manifest_url(landing: str, day: str, source: str) -> str:
    return storage.child(landing, f"{day}/{source}/{MANIFEST_NAME}")


def read_manifest(landing: str, day: str, source: str, storage_options: str | dict | None = None
                  ) -> dict[str, Any] | None:
    """The source's manifest for the day, or None when it was never pulled."""
    url = manifest_url(landing, day, source)
    try:
        doc = storage.retrying(f"manifest {url}", lambda: storage.read_json(url, storage_options))
    except FileNotFoundError:
        return None
    return doc if isinstance(doc, dict) else None


def write_manifest(landing: str, day: str, source: str, manifest: dict[str, Any],
                   storage_options: str | dict | None = None) -> None:
    storage.write_json(manifest_url(landing, day, source), manifest, storage_options)


def write_call_file(landing: str, day: str, source: str, rel: str, data: bytes,
                    storage_options: str | dict | None = None) -> str:
    """Write one pulled file unless the same bytes are there: ``added``, ``updated`` or ``unchanged``.

    Raises:
        ValueError: ``rel`` could leave the source's folder (the sources name files from hashes
            and safe ids, so this is a bug guard, not input handling).
    """
    why = relpath_problem(rel)
    if why or "/" in rel or rel == MANIFEST_NAME:
        raise ValueError(f"refusing to write pulled file {rel!r}: {why or 'not a plain file name'}")
    url = storage.child(source_folder(landing, day, source), rel)
    try:
        old = storage.retrying(f"landing file {url}", lambda: storage.read_bytes(*storage.filesystem(url,
                                                                                                  storage_options)))
    except FileNotFoundError:
        old = None
    if old == data:
        return "unchanged"
    storage.write_bytes_atomic(url, data, storage_options)
    return "added" if old is None else "updated"


def incomplete_sources(landing: str, day: str, sources: list[str], storage_options: str | dict | None = None
                       ) -> dict[str, str]:
    """Sources whose manifest for ``day`` is missing or not complete, each with why."""
    out = {}
    for source in sources:
        manifest = read_manifest(landing, day, source, storage_options)
        if manifest is None:
            out[source] = "never pulled (no manifest)"
        elif manifest.get("complete") is not True:
            out[source] = f"pull incomplete (started {manifest.get('started_at', '?')})"
    return out


def ledger_url(warehouse: str, source: str, utc_day: str) -> str:
    return storage.child(warehouse, f"_pull/{source}/usage/{utc_day}.json")


def requests_used(warehouse: str, source: str, utc_day: str, storage_options: str | dict | None = None) -> int:
    url = ledger_url(warehouse, source, utc_day)
    try:
        doc = storage.retrying(f"ledger {url}", lambda: storage.read_json(url, storage_options))
    except FileNotFoundError:
        return 0
    return int(doc.get("used", 0)) if isinstance(doc, dict) else 0


def record_requests(warehouse: str, source: str, utc_day: str, used: int,
                    storage_options: str | dict | None = None) -> None:
    storage.write_json(ledger_url(warehouse, source, utc_day), {"source": source, "utc_day": utc_day, "used": used},
                       storage_options)
