"""Zoom: a day's cloud-recording transcripts, with the host as the rep.

What Zoom documents and this follows:

- Server-to-Server OAuth: ``POST https://zoom.us/oauth/token?grant_type=account_credentials&account_id=..``
  with Basic ``client_id:client_secret`` returns an ``access_token`` (``expires_in`` 3600 s), sent as
  ``Authorization: Bearer``. It is renewed a minute before it expires, and once on a 401.
- ``GET /users/{userId}/recordings?from=D&to=D&page_size=300``, paged with ``next_page_token``;
  each meeting lists ``recording_files``, the transcript being ``file_type == "TRANSCRIPT"``
  (a WebVTT file), fetched from its ``download_url`` with the bearer token.
- ``GET /report/meetings/{uuid}/participants`` (paged the same way; a UUID that starts with ``/`` or
  holds ``//`` is URL-encoded twice) lists who joined. It needs a paid plan and the report scope:
  where it is refused, the call lists the host and the speakers the VTT names.

Per meeting this writes ``zoom/zoom-<uuid>.vtt`` and the ``.meta.json`` sidecar the VTT reader
needs (call id, start, duration, title, rep = host, participants with roles: the host's email
domain is internal, others are customers).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pipeline.sources import PulledFile, PullResult, Secret, SourceConfigError, SourceError, day_window, file_stem
from pipeline.sources.http import ApiClient, page_items

log = logging.getLogger(__name__)

MAX_PAGES = 1_000
_SPEAKER = re.compile(r"^\s*([^:\n<>]{1,60}?):\s", re.MULTILINE)


@dataclass(frozen=True)
class ZoomConfig:
    """A Zoom Server-to-Server OAuth app: ``host`` = API base, ``login``/``password`` = client id/secret,
    extra ``account_id``, optional ``users`` (whose recordings to read; default every active user),
    ``oauth_url`` and ``download_hosts``."""

    base_url: str
    account_id: str
    client_id: str
    client_secret: Secret
    oauth_url: str = "https://zoom.us/oauth/token"
    users: tuple[str, ...] = ()
    download_hosts: tuple[str, ...] = ("zoom.us",)
    rate_per_s: float = 10.0
    daily_limit: int = 0  # Zoom limits per endpoint family; no single daily figure to guard
    daily_reserve: int = 0

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret.reveal()}".encode()).decode()


@dataclass
class Token:
    """The bearer token, renewed before it expires."""

    config: ZoomConfig
    client: ApiClient
    value: Secret = field(default_factory=lambda: Secret(""))
    expires: float = 0.0

    def header(self) -> str:
        if not self.value.reveal() or time.monotonic() > self.expires - 60:
            self.renew()
        return f"Bearer {self.value.reveal()}"

    def renew(self) -> None:
        url = f"{self.config.oauth_url}?grant_type=account_credentials&account_id={quote(self.config.account_id)}"
        doc = self.client.json("POST", url, auth=self.config.basic)
        if not isinstance(doc, dict) or not doc.get("access_token"):
            raise SourceConfigError("the Zoom token endpoint returned no access_token: check account_id and the app")
        self.value = Secret(str(doc["access_token"]))
        self.expires = time.monotonic() + float(doc.get("expires_in") or 3600)


def _paged(client: ApiClient, token: Token, path: str, key: str, params: dict[str, Any],
           ok: tuple[int, ...] = ()) -> Iterator[list[Any]] | None:
    """Every page of a ``next_page_token``-paged GET; ``None`` when the first page is one of ``ok``."""
    pages: list[list[Any]] = []
    next_token = ""
    for n in range(MAX_PAGES):
        query = {**params, **({"next_page_token": next_token} if next_token else {})}
        response = client.request("GET", path, params=query, auth=token.header, ok=(*ok, 401))
        if response.status_code == 401:  # the token was revoked or expired early: renew once
            token.renew()
            response = client.request("GET", path, params=query, auth=token.header, ok=ok)
        if response.status_code in ok:
            return None if n == 0 else iter(pages)
        doc, items = page_items(response, key, n + 1)
        pages.append(items)
        next_token = str(doc.get("next_page_token") or "")
        if not next_token:
            return iter(pages)
    raise SourceError(f"GET {path}: more than {MAX_PAGES} pages")


def meeting_path_id(uuid: str) -> str:
    """A meeting UUID as a path segment: encoded twice when it starts with ``/`` or holds ``//``."""
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


def _users(client: ApiClient, token: Token, config: ZoomConfig) -> list[str]:
    if config.users:
        return list(config.users)
    pages = _paged(client, token, "/users", "users", {"status": "active", "page_size": 300})
    return [str(u["id"]) for page in pages or [] for u in page if isinstance(u, dict) and u.get("id")]


def pull(client: ApiClient, config: ZoomConfig, day: str) -> PullResult:
    """Day ``day``'s meetings with a transcript; meetings whose transcript is still processing are ``pending``."""
    token = Token(config, client)
    result = PullResult(source="zoom", day=day, window=day_window(day))
    people: dict[str, dict] = {}
    users = _users(client, token, config)
    if not config.users:
        result.cursors["/users"] = True
    for user in users:
        path = f"/users/{quote(user, safe='@')}/recordings"
        for page in _paged(client, token, path, "meetings", {"from": day, "to": day, "page_size": 300}) or []:
            for meeting in page:
                if not isinstance(meeting, dict) or not _on_day(meeting.get("start_time"), day):
                    continue
                _meeting(client, token, config, meeting, people, result)
    result.cursors["/users/{userId}/recordings"] = True  # for every user: each one's pages ran out
    result.requests = client.requests
    log.info("zoom %s: %d meeting(s) with transcripts, %d pending, %d request(s)", day, len(result.files) // 2,
             len(result.pending), client.requests)
    return result


def _on_day(start: Any, day: str) -> bool:
    try:
        when = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError:
        return False
    return when.astimezone(UTC).date().isoformat() == day


def _meeting(client: ApiClient, token: Token, config: ZoomConfig, meeting: dict, people: dict[str, dict],
             result: PullResult) -> None:
    uuid = str(meeting.get("uuid") or meeting.get("id") or "")
    if not uuid:
        raise SourceError("a recording without a meeting uuid")
    files = [f for f in meeting.get("recording_files") or [] if isinstance(f, dict)
             and str(f.get("file_type", "")).upper() == "TRANSCRIPT"]
    ready = [f for f in files if str(f.get("status", "completed")).lower() == "completed" and f.get("download_url")]
    stem = file_stem("zoom", uuid.replace("+", "-").replace("/", "_").rstrip("="))  # base64 -> its URL-safe twin
    if not ready:
        result.pending.append(stem)
        return
    vtt = client.request("GET", str(ready[0]["download_url"]), auth=token.header).content
    host = _host(client, token, str(meeting.get("host_id") or ""), people)
    participants = _participants(client, token, uuid, host, result)
    if participants is None:  # no report: the host, and whoever the transcript names
        names = sorted({n.strip() for n in _SPEAKER.findall(vtt.decode("utf-8", "replace"))} - {host["name"]})
        participants = [{"name": n, "email": None, "role": "customer"} for n in names]
    sidecar = {"call_id": stem, "started_at": meeting.get("start_time"),
               "duration_s": float(meeting["duration"]) * 60 if meeting.get("duration") is not None else None,
               "title": str(meeting.get("topic") or ""),
               "rep": {"id": host["id"], "name": host["name"], "email": host["email"]},
               "participants": [{"name": host["name"], "email": host["email"], "role": "rep"}, *participants],
               "source": {"system": "zoom", "meeting_id": meeting.get("id"), "uuid": uuid}}
    result.files.append(PulledFile(f"{stem}.vtt", vtt, stem))
    result.files.append(PulledFile(f"{stem}.meta.json",
                                   (json.dumps(sidecar, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode(),
                                   stem))


def _host(client: ApiClient, token: Token, host_id: str, people: dict[str, dict]) -> dict:
    if host_id not in people:
        doc = client.json("GET", f"/users/{quote(host_id, safe='')}", auth=token.header)
        name = " ".join(p for p in (doc.get("first_name"), doc.get("last_name")) if p) or doc.get("display_name") \
            or host_id
        people[host_id] = {"id": host_id, "name": str(name).strip(), "email": str(doc.get("email") or "").lower()}
    return people[host_id]


def _participants(client: ApiClient, token: Token, uuid: str, host: dict, result: PullResult) -> list[dict] | None:
    pages = _paged(client, token, f"/report/meetings/{meeting_path_id(uuid)}/participants", "participants",
                   {"page_size": 300}, ok=(400, 404))
    if pages is None:
        result.warnings.append("a meeting had no participant report: its participants are the speakers its "
                               "transcript names")
        return None
    domain = host["email"].rpartition("@")[2]
    seen: dict[str, dict] = {}
    for page in pages:
        for p in page:
            if not isinstance(p, dict):
                continue
            name = str(p.get("name") or "").strip()
            email = str(p.get("user_email") or "").strip().lower() or None
            if not name or (email and email == host["email"]) or name == host["name"]:
                continue  # the host is the rep, listed once
            role = "internal" if email and domain and email.rpartition("@")[2] == domain else "customer"
            seen.setdefault(email or name, {"name": name, "email": email, "role": role})  # rejoins repeat a person
    return list(seen.values())
