"""One HTTP client for every source: client-side rate limits, a daily budget, retries, allowed hosts.

Vendors publish their limits (Gong: 3 requests a second and 10,000 a day, then HTTP 429 with
``Retry-After``); a client that keeps under them never sees a 429 in normal operation, and one
that honours ``Retry-After`` recovers when it does (another integration shares the budget).
Server errors are retried with exponential backoff; what cannot succeed on retry (401/403, a
4xx) is raised at once.

Logs carry the method, the host and the path only: never headers (credentials), query strings
(Zoom's tokens can ride in one) or bodies (transcripts).
"""

from __future__ import annotations

import collections
import email.utils
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.sources import QuotaError, SourceConfigError, SourceError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})


class RateLimiter:
    """At most ``per_second`` requests in any one-second window (a sliding log of send times)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if per_second <= 0:
            raise SourceConfigError(f"a rate limit must be positive, got {per_second}")
        self.per_second = per_second
        self._burst = max(1, int(per_second))
        # 3/s: 3 sends per 1.05 s; 0.5/s: 1 per 2.05 s. The margin absorbs network jitter: the server
        # counts arrivals, and a request that left late can arrive close behind its successor.
        self._window = self._burst / per_second + 0.05
        self._sent: collections.deque[float] = collections.deque()
        self._clock, self._sleep = clock, sleep

    def acquire(self) -> None:
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= self._window:
                self._sent.popleft()
            if len(self._sent) < self._burst:
                self._sent.append(now)
                return
            self._sleep(self._window - (now - self._sent[0]) + 0.001)

    def pause(self, seconds: float) -> None:
        """Wait before the next send (``Retry-After``, backoff); the sends before it still count."""
        self._sleep(seconds)


@dataclass
class DailyBudget:
    """Requests a source allows per UTC day, less a reserve kept for other integrations.

    ``used`` starts from the count this deployment recorded earlier the same UTC day
    (``pipeline.pull`` keeps that ledger), so two pulls in one day share one budget.
    """

    limit: int  # 0: the source publishes no daily limit
    reserve: int = 0
    used: int = 0
    utc_day: str = ""

    def take(self, what: str) -> None:
        today = datetime.now(UTC).date().isoformat()
        if self.utc_day != today:  # the vendor's day turned over: a new budget
            self.utc_day, self.used = today, 0
        if self.limit and self.used + 1 > self.limit - self.reserve:
            raise QuotaError(f"stopping before {what}: {self.used} of the source's {self.limit} requests for "
                             f"{today} (UTC) are used and {self.reserve} are kept in reserve; the pull resumes "
                             "when the budget renews (next UTC day) or the limit is raised (connection extra "
                             "'daily_limit')")
        self.used += 1


def retry_after_s(value: str | None, default: float) -> float:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP date; ``default`` if absent."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def host_allowed(url: str, hosts: Iterable[str]) -> bool:
    """``url`` is http(s) on one of ``hosts`` (``zoom.us`` also allows its subdomains, ``*.zoom.us``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        return False
    name = parts.hostname.lower()
    return any(name == h or name.endswith("." + h) for h in (h.lower().lstrip("*.") for h in hosts if h))


class ApiClient:
    """Rate-limited, budgeted, retrying requests to one API; redirects only to allowed hosts.

    Args:
        base_url: the API root from the deployment (``https://api.gong.io``).
        auth: returns the ``Authorization`` header value; called per request so a token can renew.
        allowed_hosts: hosts a request or redirect may go to; the base URL's host is always allowed.
        max_wait_s: the longest ``Retry-After`` obeyed; a longer one (a daily quota hit) fails the
            pull with a clear error instead of sleeping for hours.
    """

    MAX_THROTTLES = 50  # 429s obeyed for one request before the pull gives up

    def __init__(self, base_url: str, auth: Callable[[], str], *, limiter: RateLimiter, budget: DailyBudget,
                 allowed_hosts: Iterable[str] = (), attempts: int = 5, backoff_s: float = 1.0,
                 max_wait_s: float = 300.0, timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None):
        if not host_allowed(base_url, [urlsplit(base_url).hostname or ""]):
            raise SourceConfigError(f"API base URL must be http(s)://host[/path], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.limiter, self.budget = limiter, budget
        self.hosts = (urlsplit(base_url).hostname or "", *allowed_hosts)
        self.attempts, self.backoff_s, self.max_wait_s = attempts, backoff_s, max_wait_s
        self.requests = 0
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines print whole URLs, query included
        # No proxies or netrc from the environment, no automatic redirects: each hop is checked here.
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(f"{method} {_where(response.request.url)} answered {response.status_code} with a body "
                              "that is not JSON") from exc

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                auth: Callable[[], str] | None = None, ok: Iterable[int] = ()) -> httpx.Response:
        """Send one logical request; its retries, waits and redirects included.

        Args:
            ok: error statuses the caller handles itself (a missing report is not a failed pull).

        Raises:
            SourceConfigError: 401/403, or a URL or redirect to a host that is not allowed.
            QuotaError: the daily budget would run out, or the server asks for a wait past ``max_wait_s``.
            SourceError: 5xx or network errors after every attempt, or another 4xx.
        """
        url = self.url(path)
        auth = auth or self.auth
        ok = set(ok)
        failures = throttles = 0
        while True:
            response, failure = self._send(method, url, json, params, auth)
            if response is not None:
                status = response.status_code
                if status < 400 or status in ok:
                    return response
                if status in (401, 403):
                    raise SourceConfigError(f"{method} {_where(url)} was refused ({status}): check the connection's "
                                            "credentials and scopes")
                if status == 429:
                    throttles += 1
                    wait = retry_after_s(response.headers.get("retry-after"), self.backoff_s * 2 ** min(throttles, 6))
                    if wait > self.max_wait_s:
                        raise QuotaError(f"{method} {_where(url)}: the source asks to wait {wait:.0f} s (its daily "
                                         f"quota is probably spent); not waiting past {self.max_wait_s:.0f} s")
                    if throttles > self.MAX_THROTTLES:
                        raise SourceError(f"{method} {_where(url)}: still throttled (429) after {throttles - 1} waits")
                    log.warning("%s %s: 429, waiting %.1f s as Retry-After asks", method, _where(url), wait)
                    self.limiter.pause(wait)
                    continue
                if status not in RETRY_STATUSES:
                    raise SourceError(f"{method} {_where(url)} answered {status}")
                failure = f"HTTP {status}"
            failures += 1
            if failures >= self.attempts:
                raise SourceError(f"{method} {_where(url)} failed {failures} times, the last with {failure}")
            delay = self.backoff_s * 2 ** (failures - 1)
            log.warning("%s %s: %s, retry %d/%d in %.1f s", method, _where(url), failure, failures,
                        self.attempts - 1, delay)
            self.limiter.pause(delay)

    def _send(self, method: str, url: str, json: Any, params: dict | None,
              auth: Callable[[], str]) -> tuple[httpx.Response | None, str]:
        """One attempt, following up to 3 redirects, each to an allowed host only."""
        for _ in range(4):
            if not host_allowed(url, self.hosts):
                raise SourceConfigError(f"refusing to fetch {_where(url)}: the host is not the API's or one the "
                                        "connection allows (extra 'download_hosts')")
            self.budget.take(f"{method} {_where(url)}")
            self.limiter.acquire()
            self.requests += 1
            try:
                response = self._http.request(method, url, json=json, params=params,
                                              headers={"Authorization": auth(), "Accept": "application/json"})
            except httpx.TransportError as exc:
                return None, type(exc).__name__
            if response.status_code not in (301, 302, 303, 307, 308) or "location" not in response.headers:
                return response, ""
            url = str(response.url.join(response.headers["location"]))
            if response.status_code == 303:
                method, json, params = "GET", None, None
        raise SourceError(f"{method} {_where(url)}: more than 3 redirects")


def page_items(response: httpx.Response, key: str, page_no: int) -> tuple[dict, list]:
    """A paged response's JSON document and its list of ``key`` items.

    Raises:
        SourceError: the body is not a JSON object holding a ``key`` list (a broken or changed API).
    """
    where = f"{response.request.method} {_where(response.request.url)} page {page_no}"
    try:
        doc = response.json()
    except ValueError as exc:
        raise SourceError(f"{where}: the body is not JSON") from exc
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SourceError(f"{where}: no {key!r} list in the response")
    return doc, items


def _where(url: str | httpx.URL) -> str:
    """Host and path of a URL: what logs and errors may show (no query string, no credentials)."""
    parts = urlsplit(str(url))
    return f"{parts.hostname}{parts.path}"
