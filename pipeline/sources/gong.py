"""Gong: a day's calls from ``/v2/calls/extensive`` (with parties) and ``/v2/calls/transcript``.

What Gong documents (help.gong.io "API introduction", checked 2026-12-07) and this follows:

- Basic auth: ``base64(<access key>:<access key secret>)``; the base URL is per company
  (``https://api.gong.io`` or ``https://us-NNNN.api.gong.io``).
- Both endpoints are ``POST`` with ``filter.fromDateTime`` / ``filter.toDateTime`` (ISO 8601; calls
  that started in ``[from, to)``), return up to 100 records a page and, while more remain, a
  ``records.cursor`` that goes back **in the request body** of the next call. (A public connector
  once sent it in the query string, which Gong ignores: it read page one again and again.)
- 3 requests a second, 10,000 a day per company; past either, HTTP 429 with ``Retry-After``.

Each call is written as one file, ``gong/gong-<callId>.json``, holding the call's
``/v2/calls/extensive`` entry and its ``/v2/calls/transcript`` entry, the shape
``pipeline.transcripts.readers.read_gong`` reads. A call Gong lists without a transcript yet
(transcription takes a while after a call ends) is ``pending``: the late-arrival re-check
fetches it on a later night.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.sources import PulledFile, PullResult, Secret, SourceError, day_window, file_stem
from pipeline.sources.http import ApiClient, page_items

log = logging.getLogger(__name__)

EXTENSIVE = "/v2/calls/extensive"
TRANSCRIPT = "/v2/calls/transcript"
MAX_PAGES = 10_000  # a cursor that never ends is a server bug, not a day of calls


@dataclass(frozen=True)
class GongConfig:
    """A Gong connection: ``host`` = base URL, ``login`` = access key, ``password`` = secret."""

    base_url: str
    access_key: str
    access_secret: Secret
    rate_per_s: float = 3.0
    daily_limit: int = 10_000
    daily_reserve: int = 200  # left for other integrations sharing the company's budget

    def authorization(self) -> str:
        token = base64.b64encode(f"{self.access_key}:{self.access_secret.reveal()}".encode()).decode()
        return f"Basic {token}"


def pages(client: ApiClient, path: str, body: dict[str, Any], key: str) -> Iterator[list[Any]]:
    """Every page of a cursor-paged Gong ``POST``; the cursor goes back in the body.

    A 404 on the first page is Gong's "no calls in this window" answer, not an error.
    """
    cursor = None
    for n in range(MAX_PAGES):
        page_body = {**body, "cursor": cursor} if cursor else body
        response = client.request("POST", path, json=page_body, ok=(404,) if n == 0 else ())
        if response.status_code == 404:
            return
        doc, items = page_items(response, key, n + 1)
        yield items
        records = doc.get("records") if isinstance(doc.get("records"), dict) else {}
        next_cursor = records.get("cursor")
        if not next_cursor:
            return
        if next_cursor == cursor:
            raise SourceError(f"POST {path}: the server returned the same cursor twice")
        cursor = next_cursor
    raise SourceError(f"POST {path}: more than {MAX_PAGES} pages")


def pull(client: ApiClient, day: str) -> PullResult:
    """Day ``day``'s calls, one file each; calls without a transcript yet are ``pending``."""
    result = PullResult(source="gong", day=day, window=day_window(day))
    window = {"fromDateTime": result.window["from"], "toDateTime": result.window["to"]}  # Gong's filter names
    calls: dict[str, dict] = {}
    for page in pages(client, EXTENSIVE, {"filter": window, "contentSelector": {
            "exposedFields": {"parties": True}}}, "calls"):
        for entry in page:
            meta = entry.get("metaData") if isinstance(entry, dict) else None
            call_id = str(meta.get("id") or "") if isinstance(meta, dict) else ""
            if not call_id:
                raise SourceError(f"POST {EXTENSIVE}: a call without metaData.id")
            calls[call_id] = entry
    result.cursors[EXTENSIVE] = True
    transcripts: dict[str, dict] = {}
    for page in pages(client, TRANSCRIPT, {"filter": window}, "callTranscripts"):
        for entry in page:
            if isinstance(entry, dict) and entry.get("callId") is not None and entry.get("transcript"):
                transcripts[str(entry["callId"])] = entry
    result.cursors[TRANSCRIPT] = True
    for call_id in sorted(calls):
        if call_id not in transcripts:
            result.pending.append(call_id)
            continue
        doc = {"calls": [calls[call_id]], "callTranscripts": [transcripts[call_id]]}
        data = (json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n").encode()
        result.files.append(PulledFile(f"{file_stem('gong', call_id)}.json", data, call_id))
    extra = sorted(set(transcripts) - set(calls))
    if extra:  # a transcript in the window whose call the extensive pages did not list
        result.warnings.append(f"{len(extra)} transcript(s) without a call in {EXTENSIVE}: not written")
    result.requests = client.requests
    log.info("gong %s: %d call(s) with transcripts, %d pending, %d request(s)", day, len(result.files),
             len(result.pending), client.requests)
    return result
