"""Pull one day from one source: the client each source needs, with its limits and allowed hosts."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from pipeline.sources import PullResult, gong, zoom
from pipeline.sources.http import ApiClient, DailyBudget, RateLimiter


def pull(config: gong.GongConfig | zoom.ZoomConfig, day: str, budget: DailyBudget, *,
         limiter: RateLimiter | None = None, backoff_s: float = 1.0, max_wait_s: float = 300.0,
         transport: httpx.BaseTransport | None = None) -> PullResult:
    """Day ``day`` from the source ``config`` describes, within ``budget`` (updated in place).

    Args:
        limiter: share one between the pulls of one source in a process (a night pulls several
            days back to back; a fresh limiter per day would not know the last day's requests).
        transport: an httpx transport to talk through instead of the network (tests only).
    """
    limiter = limiter or RateLimiter(config.rate_per_s)
    if isinstance(config, gong.GongConfig):
        with ApiClient(config.base_url, config.authorization, limiter=limiter, budget=budget, backoff_s=backoff_s,
                       max_wait_s=max_wait_s, transport=transport) as client:
            return gong.pull(client, day)
    hosts = (urlsplit(config.oauth_url).hostname or "", *config.download_hosts)
    with ApiClient(config.base_url, config.basic, limiter=limiter, budget=budget, allowed_hosts=hosts,
                   backoff_s=backoff_s, max_wait_s=max_wait_s, transport=transport) as client:
        return zoom.pull(client, config, day)
