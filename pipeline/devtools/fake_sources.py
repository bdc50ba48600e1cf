"""Fake Gong and Zoom API servers, for the tests and ``make demo-pull``.

Real Gong and Zoom cannot be reached from CI (no network, no accounts), so these local HTTP
servers implement the documented behaviour the pull depends on, and nothing more:

- **Gong**: Basic auth; ``POST /v2/calls/extensive`` and ``POST /v2/calls/transcript`` filtered by
  ``filter.fromDateTime``/``toDateTime``, ``page_size`` records a page (100, as Gong) with
  ``records.cursor``, read **from the body only** (a cursor in the query string is ignored and page
  one comes back, as from Gong); 404 when no call matches; HTTP 429 with ``Retry-After`` past
  ``rate_per_s`` requests in a second and once the ``daily_quota`` is spent.
- **Zoom**: ``POST /oauth/token`` (account credentials, Basic client id/secret) issuing bearer tokens;
  ``GET /v2/users``, ``/v2/users/{id}``, ``/v2/users/{id}/recordings`` (``next_page_token``),
  ``/v2/report/meetings/{uuid}/participants`` and a transcript download that needs the token.

The response shapes follow Gong's and Zoom's documentation (field names and nesting); the calls in
them are the sample generator's (``pipeline.devtools.sample``). Faults are switches a test flips:
``storm`` (the next N requests get 429), ``fail_next`` (the next N get 500), ``hidden`` (calls whose
transcript is not ready yet).
"""

from __future__ import annotations

import base64
import collections
import json
import math
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.devtools import sample


@dataclass
class Fault:
    """Switches shared by both fakes, and the log of what they saw."""

    rate_per_s: int = 3
    daily_quota: int = 10_000
    storm: int = 0  # the next N requests answer 429 (Retry-After: 1)
    fail_next: int = 0  # the next N requests answer 500
    used: int = 0
    log: list[dict] = field(default_factory=list)
    _recent: collections.deque = field(default_factory=collections.deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, path: str) -> tuple[int, dict[str, str]] | None:
        """An error status and headers for this request, or None to serve it."""
        with self.lock:
            now = time.monotonic()
            self.log.append({"t": now, "path": path})
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            self._recent.append(now)
            if self.used >= self.daily_quota:
                midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
                return 429, {"Retry-After": str(math.ceil((midnight - datetime.now(UTC)).total_seconds()))}
            self.used += 1
            if self.storm > 0:
                self.storm -= 1
                return 429, {"Retry-After": "1"}
            if len(self._recent) > self.rate_per_s:
                return 429, {"Retry-After": "1"}
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, {}
        return None

    def max_per_second(self) -> int:
        """The most requests seen in any one-second window."""
        times = [e["t"] for e in self.log]
        best, j = 0, 0
        for i, t in enumerate(times):
            while t - times[j] >= 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet: the fault log records requests
        pass

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
               raw: bytes | None = None, ctype: str = "application/json") -> None:
        data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return None

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        denied = self.server.fault.admit(parts.path)
        if denied:
            status, headers = denied
            self._reply(status, {"errors": ["rate limited" if status == 429 else "internal error"]}, headers)
            return
        status, body, headers, raw, ctype = self.server.app.handle(method, unquote(parts.path), parse_qs(parts.query),
                                                                     self.headers, self._body() if method == "POST"
                                                                     else None)
        self._reply(status, body, headers, raw, ctype)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: Any, fault: Fault):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app, self.fault = app, fault


Reply = tuple[int, Any, dict[str, str], bytes | None, str]


def _ok(body: Any) -> Reply:
    return 200, body, {}, None, "application/json"


def _err(status: int, message: str) -> Reply:
    return status, {"errors": [message]}, {}, None, "application/json"


def _basic(headers: Any) -> tuple[str, str]:
    value = headers.get("Authorization") or ""
    if not value.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


class FakeGong:
    """Gong's two call endpoints over a list of sample calls."""

    def __init__(self, access_key: str, secret: str, page_size: int = 100):
        self.access_key, self.secret, self.page_size = access_key, secret, page_size
        self.calls: dict[str, tuple[dict, dict]] = {}  # id -> (extensive entry, transcript entry)
        self.hidden: set[str] = set()  # listed, transcript not ready yet
        self.cursor_in_query = 0  # requests that put a cursor in the query string (the connector bug)

    def add(self, extensive: dict, transcript: dict) -> None:
        self.calls[str(extensive["metaData"]["id"])] = (extensive, transcript)

    def handle(self, method: str, path: str, query: dict, headers: Any, body: Any) -> Reply:
        if _basic(headers) != (self.access_key, self.secret):
            return _err(401, "unauthorized")
        if method != "POST" or path not in ("/v2/calls/extensive", "/v2/calls/transcript"):
            return _err(404, "not found")
        if "cursor" in query:
            self.cursor_in_query += 1  # ignored, as by Gong
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            return _err(400, "filter is required")
        lo, hi = body["filter"].get("fromDateTime"), body["filter"].get("toDateTime")
        try:
            lo_t = datetime.fromisoformat(lo.replace("Z", "+00:00"))
            hi_t = datetime.fromisoformat(hi.replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            return _err(400, "fromDateTime/toDateTime must be ISO-8601")
        ids = sorted(i for i, (e, _) in self.calls.items()
                     if lo_t <= datetime.fromisoformat(e["metaData"]["started"].replace("Z", "+00:00")) < hi_t)
        transcripts = path.endswith("transcript")
        if transcripts:
            ids = [i for i in ids if i not in self.hidden]
        if not ids:
            return _err(404, "No calls found corresponding to the provided filters")
        start = 0
        if body.get("cursor"):
            try:
                start = int(base64.b64decode(body["cursor"]).decode().split(":")[1])
            except (ValueError, IndexError):
                return _err(400, "invalid cursor")
        chunk = ids[start:start + self.page_size]
        records = {"totalRecords": len(ids), "currentPageSize": len(chunk),
                   "currentPageNumber": start // self.page_size}
        if start + self.page_size < len(ids):
            records["cursor"] = base64.b64encode(f"{secrets.token_hex(4)}:{start + self.page_size}".encode()).decode()
        key = "callTranscripts" if transcripts else "calls"
        items = [self.calls[i][1 if transcripts else 0] for i in chunk]
        return _ok({"requestId": secrets.token_hex(8), "records": records, key: items})


class FakeZoom:
    """Zoom's OAuth token endpoint, users, recordings, participant reports and transcript downloads."""

    def __init__(self, account_id: str, client_id: str, secret: str, page_size: int = 300):
        self.account_id, self.client_id, self.secret, self.page_size = account_id, client_id, secret, page_size
        self.base = ""  # set when served: download URLs point here
        self.tokens: set[str] = set()
        self.users: dict[str, dict] = {}
        self.meetings: list[dict] = []  # {"user", "meeting" (without recording_files), "vtt", "participants"}
        self.hidden: set[str] = set()  # meeting uuids whose transcript is still processing
        self.no_report: set[str] = set()  # meeting uuids without a participant report
        self.downloads_without_token = 0
        self.download_url: dict[str, str] = {}  # uuid -> a download_url to announce instead of ours

    def add(self, user: dict, meeting: dict, vtt: bytes, participants: list[dict]) -> None:
        self.users.setdefault(user["id"], user)
        self.meetings.append({"user": user["id"], "meeting": meeting, "vtt": vtt, "participants": participants})

    def _recording(self, m: dict) -> dict:
        meeting = dict(m["meeting"])
        uuid = meeting["uuid"]
        file_id = base64.urlsafe_b64encode(uuid.encode()).decode().rstrip("=")
        status = "processing" if uuid in self.hidden else "completed"
        meeting["recording_files"] = [
            {"id": f"mp4-{file_id}", "meeting_id": uuid, "recording_start": meeting["start_time"],
             "file_type": "MP4", "file_extension": "MP4", "status": "completed", "recording_type": "shared_screen",
             "download_url": f"{self.base}/rec/download/mp4-{file_id}"},
            {"id": f"vtt-{file_id}", "meeting_id": uuid, "recording_start": meeting["start_time"],
             "file_type": "TRANSCRIPT", "file_extension": "VTT", "file_size": len(m["vtt"]), "status": status,
             "recording_type": "audio_transcript",
             **({} if status != "completed" else {"download_url": self.download_url.get(
                 uuid, f"{self.base}/rec/download/vtt-{file_id}")})}]
        return meeting

    def _page(self, items: list, query: dict, key: str, extra: dict | None = None) -> Reply:
        size = min(int((query.get("page_size") or [self.page_size])[0]), self.page_size)
        token = (query.get("next_page_token") or [""])[0]
        start = int(base64.b64decode(token).decode()) if token else 0
        chunk = items[start:start + size]
        nxt = base64.b64encode(str(start + size).encode()).decode() if start + size < len(items) else ""
        return _ok({**(extra or {}), "page_size": size, "total_records": len(items), "next_page_token": nxt,
                    key: chunk})

    def handle(self, method: str, path: str, query: dict, headers: Any, body: Any) -> Reply:
        if path == "/oauth/token":
            if method != "POST" or _basic(headers) != (self.client_id, self.secret):
                return _err(401, "invalid client")
            if query.get("grant_type") != ["account_credentials"] or query.get("account_id") != [self.account_id]:
                return _err(400, "unsupported grant type or account")
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            return _ok({"access_token": token, "token_type": "bearer", "expires_in": 3600,
                        "scope": "cloud_recording:read:list_user_recordings:admin "
                                 "report:read:list_meeting_participants:admin"})
        bearer = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            if path.startswith("/rec/download/"):
                self.downloads_without_token += 1
            return _err(401, "Invalid access token.")
        if path.startswith("/rec/download/"):
            file_id = path.rsplit("/", 1)[1].removeprefix("vtt-")
            for m in self.meetings:
                uuid = m["meeting"]["uuid"]
                if base64.urlsafe_b64encode(uuid.encode()).decode().rstrip("=") == file_id and uuid not in self.hidden:
                    return 200, None, {}, m["vtt"], "text/vtt"
            return _err(404, "file not found")
        parts = path.strip("/").split("/")
        if parts[:2] == ["v2", "users"] and len(parts) == 2:
            return self._page(sorted(self.users.values(), key=lambda u: u["id"]), query, "users")
        if parts[:2] == ["v2", "users"] and len(parts) == 3:
            user = self.users.get(parts[2])
            return _ok(user) if user else _err(404, "User does not exist")
        if parts[:2] == ["v2", "users"] and parts[3:] == ["recordings"]:
            day_from, day_to = (query.get("from") or [""])[0], (query.get("to") or [""])[0]
            mine = [self._recording(m) for m in self.meetings if m["user"] == parts[2]
                    and day_from <= m["meeting"]["start_time"][:10] <= day_to]
            return self._page(mine, query, "meetings", {"from": day_from, "to": day_to})
        if parts[:3] == ["v2", "report", "meetings"] and parts[-1] == "participants":
            uuid = unquote("/".join(parts[3:-1]))  # the client encodes twice where Zoom says to
            for m in self.meetings:
                if m["meeting"]["uuid"] in (uuid, unquote(uuid)):
                    if m["meeting"]["uuid"] in self.no_report:
                        return _err(400, "Only available for Paid or ZMP account")
                    return self._page(m["participants"], query, "participants")
            return _err(404, "Meeting does not exist")
        return _err(404, "not found")


class FakeSources:
    """Both fakes on 127.0.0.1, with sample calls for ``days``; a context manager.

    Gong gets the sample's Gong-format calls, Zoom the rest (rendered as Zoom VTT, the rep as
    host). Credentials are random per instance; ``connection(source)`` gives the Airflow
    connection (JSON) and ``env(source)`` the CLI variables that reach them.
    """

    def __init__(self, days: list[str], calls_per_day: int = 12, seed: int = 7, gong_page_size: int = 100,
                 rate_per_s: int = 3, daily_quota: int = 10_000):
        self.fault = Fault(rate_per_s=rate_per_s, daily_quota=daily_quota)  # Gong's limits
        self.zoom_fault = Fault(rate_per_s=rate_per_s * 3)  # Zoom's "medium" endpoints allow more a second
        self.gong = FakeGong(f"gk-{secrets.token_hex(6)}", f"gs-{secrets.token_hex(16)}", page_size=gong_page_size)
        self.zoom = FakeZoom(f"acct-{secrets.token_hex(4)}", f"zc-{secrets.token_hex(6)}",
                             f"zs-{secrets.token_hex(16)}")
        self.by_day: dict[str, list[str]] = {}
        for day in days:
            self.add_day(day, calls_per_day, seed)
        self._servers: list[_Server] = []

    def add_day(self, day: str, n: int, seed: int) -> None:
        rng = random.Random(f"fake:{seed}:{day}")
        ids = []
        for fmt, call in sample._plan_day(date.fromisoformat(day), n, seed):
            if fmt == "gong":
                extensive, transcript = sample._gong_call(call, rng)
                self.gong.add(extensive, transcript)
                ids.append(call["call_id"])
            else:
                ids.append(self._add_zoom(call, rng))
        self.by_day[day] = ids

    def _add_zoom(self, call: dict, rng: random.Random) -> str:
        rep = call["rep"]
        user = {"id": "u" + base64.urlsafe_b64encode(rep["email"].encode()).decode()[:21],
                "first_name": rep["name"].split()[0], "last_name": " ".join(rep["name"].split()[1:]),
                "display_name": rep["name"], "email": rep["email"], "type": 2, "status": "active"}
        uuid = base64.b64encode(rng.randbytes(16)).decode()
        if not self.zoom.meetings:  # Zoom says: a UUID that starts with "/" or holds "//" is encoded twice
            uuid = "/" + uuid[1:8] + "//" + uuid[10:]
        meeting = {"uuid": uuid, "id": rng.randrange(10**10, 10**11), "account_id": self.zoom.account_id,
                   "host_id": user["id"], "topic": call["title"], "type": 2, "start_time": call["started_at"],
                   "timezone": "UTC", "duration": math.ceil(call["duration_s"] / 60), "recording_count": 2}
        start = datetime.fromisoformat(call["started_at"].replace("Z", "+00:00"))
        participants = [{"id": secrets.token_hex(6), "user_id": str(rng.randrange(10**7, 10**8)), "name": p["name"],
                         "user_email": p["email"] if rng.random() < 0.9 else "",
                         "join_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration": round(call["duration_s"])}
                        for p in call["participants"]]
        turns, last = [], 0.0
        for u in sorted(call["utterances"], key=lambda u: u["start"]):  # Zoom's cues never go back in time
            start = max(u["start"], last)
            turns.append({**u, "start": start, "end": max(u["end"], start + 0.2)})
            last = turns[-1]["end"]
        self.zoom.add(user, meeting, sample._vtt({**call, "utterances": turns}, rng, "zoom"), participants)
        return uuid

    # serving ------------------------------------------------------------------------------------
    def __enter__(self) -> FakeSources:
        for app, fault in ((self.gong, self.fault), (self.zoom, self.zoom_fault)):
            server = _Server(app, fault)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        self.zoom.base = self.url("zoom")
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def url(self, source: str) -> str:
        host, port = self._servers[0 if source == "gong" else 1].server_address[:2]
        return f"http://{host}:{port}"

    def connection(self, source: str, **extra: Any) -> dict[str, Any]:
        """The Airflow connection (``AIRFLOW_CONN_CALLSCORE_<SOURCE>`` JSON) for one fake."""
        if source == "gong":
            return {"conn_type": "http", "host": self.url("gong"), "login": self.gong.access_key,
                    "password": self.gong.secret, "extra": {"rate_per_s": self.fault.rate_per_s, **extra}}
        return {"conn_type": "http", "host": self.url("zoom") + "/v2", "login": self.zoom.client_id,
                "password": self.zoom.secret,
                "extra": {"account_id": self.zoom.account_id, "oauth_url": self.url("zoom") + "/oauth/token",
                          "rate_per_s": self.zoom_fault.rate_per_s, **extra}}

    def secrets(self) -> list[str]:
        return [self.gong.secret, self.zoom.secret, *self.zoom.tokens]

    def env(self, source: str, **extra: Any) -> dict[str, str]:
        """``CALLSCORE_<SOURCE>_*`` variables for ``callscore pull``."""
        conn = self.connection(source, **extra)
        if source == "gong":
            return {"CALLSCORE_GONG_BASE_URL": conn["host"], "CALLSCORE_GONG_ACCESS_KEY": conn["login"],
                    "CALLSCORE_GONG_ACCESS_SECRET": conn["password"], "CALLSCORE_GONG_EXTRA": json.dumps(conn["extra"])}
        return {"CALLSCORE_ZOOM_BASE_URL": conn["host"], "CALLSCORE_ZOOM_CLIENT_ID": conn["login"],
                "CALLSCORE_ZOOM_CLIENT_SECRET": conn["password"], "CALLSCORE_ZOOM_EXTRA": json.dumps(conn["extra"])}


def demo(days: list[str], out: str, calls_per_day: int = 12) -> int:
    """``make demo-pull``: the nightly DAG pulls from the fakes, night after night, with one late call.

    Runs ``airflow dags test callscore_nightly`` once per day with the fakes as the
    ``callscore_gong``/``callscore_zoom`` connections (passed as ``AIRFLOW_CONN_*`` to the Airflow
    process only). On the first night one Gong transcript is not ready; it appears before the
    second, whose run re-checks the first day and re-scores it.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(out).resolve()
    (root / "landing").mkdir(parents=True, exist_ok=True)
    sample.write_roster(str(root / "landing" / "roster.csv"))
    airflow = str(Path(sys.executable).parent / "airflow")
    with FakeSources(days, calls_per_day=calls_per_day) as fk:
        late = sorted(i for i in fk.gong.calls if fk.gong.calls[i][0]["metaData"]["started"].startswith(days[0]))
        fk.gong.hidden.update(late[:1])
        env = {**os.environ, "CALLSCORE_LANDING": str(root / "landing"), "CALLSCORE_WAREHOUSE": str(root / "warehouse"),
               "CALLSCORE_ROSTER": str(root / "landing" / "roster.csv"), "CALLSCORE_SOURCES": "gong,zoom",
               "CALLSCORE_LATE_DAYS": "1",
               **{f"AIRFLOW_CONN_CALLSCORE_{s.upper()}": json.dumps(fk.connection(s)) for s in ("gong", "zoom")}}
        for n, day in enumerate(days):
            if n == 1:
                fk.gong.hidden.clear()  # the late transcript arrives during the second day
            log = root / f"dags-test-{day}.log"
            print(f"night {n + 1}: airflow dags test callscore_nightly (day {day}), pulling from the fake Gong and "
                  f"Zoom at {fk.url('gong')} and {fk.url('zoom')} ...", flush=True)
            with log.open("w") as fh:
                code = subprocess.run([airflow, "dags", "test", "callscore_nightly", "-c", json.dumps({"day": day})],
                                      env=env, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
            text = log.read_text()
            if code or "state=success" not in text:
                print(text[-4000:])
                print(f"the run for {day} failed; its log: {log}")
                return 1
            for line in text.splitlines():
                if "pulled " in line or "calls added late" in line or "re-scored" in line:
                    print("   ", line.split(" - ", 1)[-1][:200])
        manifests = sorted((root / "landing").glob("*/*/_manifest.json"))
        print(f"{len(manifests)} manifests, e.g. {manifests[0]}" if manifests else "no manifests")
        print(f"Gong requests served: {len(fk.fault.log)} (most in one second: {fk.fault.max_per_second()}); "
              f"Zoom: {len(fk.zoom_fault.log)}")
    return subprocess.run([str(Path(sys.executable).parent / "callscore"), "summary"], env=env,
                          check=False).returncode


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="make demo-pull: the nightly DAG against fake Gong and Zoom APIs")
    parser.add_argument("--days", default="2026-11-23,2026-11-24")
    parser.add_argument("--out", default="var/demo-pull")
    parser.add_argument("--calls-per-day", type=int, default=12)
    a = parser.parse_args()
    sys.exit(demo([d.strip() for d in a.days.split(",")], a.out, a.calls_per_day))
