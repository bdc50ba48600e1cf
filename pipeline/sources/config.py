"""Source credentials and limits from an Airflow connection or ``CALLSCORE_<SOURCE>_*`` variables.

Secrets come only from the deployment: the DAG reads the ``callscore_gong`` / ``callscore_zoom``
connections (host, login, password, extra), the CLI the equivalent environment variables. Never
from DAG params, never written to a file or a log: they are :class:`~pipeline.sources.Secret`.

=========== =============================== =================================================
Field       Gong (``callscore_gong``)        Zoom (``callscore_zoom``)
=========== =============================== =================================================
host        API base, https://api.gong.io    API base, https://api.zoom.us/v2
login       access key                       client id
password    access key secret                client secret
extra       rate_per_s, daily_limit,         account_id (required), users, oauth_url,
            daily_reserve                    download_hosts, rate_per_s
=========== =============================== =================================================

Environment: ``CALLSCORE_GONG_BASE_URL``, ``CALLSCORE_GONG_ACCESS_KEY``, ``CALLSCORE_GONG_ACCESS_SECRET``;
``CALLSCORE_ZOOM_BASE_URL``, ``CALLSCORE_ZOOM_ACCOUNT_ID``, ``CALLSCORE_ZOOM_CLIENT_ID``,
``CALLSCORE_ZOOM_CLIENT_SECRET``, optional ``CALLSCORE_ZOOM_USERS`` (comma-separated),
``CALLSCORE_ZOOM_OAUTH_URL``, ``CALLSCORE_ZOOM_DOWNLOAD_HOSTS``; ``CALLSCORE_<SOURCE>_EXTRA`` (JSON) for the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from pipeline.sources import SOURCES, Secret, SourceConfigError
from pipeline.sources.gong import GongConfig
from pipeline.sources.zoom import ZoomConfig

CONNECTION_IDS = {s: f"callscore_{s}" for s in SOURCES}
DEFAULT_BASE = {"gong": "https://api.gong.io", "zoom": "https://api.zoom.us/v2"}


def _need(source: str, what: str, value: Any, where: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise SourceConfigError(f"the {source} source needs {what} ({where})")
    return text


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def _number(source: str, extra: Mapping[str, Any], key: str, default: float, kind: type = float) -> Any:
    value = extra.get(key, default)
    try:
        out = kind(value)
    except (TypeError, ValueError) as exc:
        raise SourceConfigError(f"the {source} source's {key} must be a number, got {value!r}") from exc
    if out < 0:
        raise SourceConfigError(f"the {source} source's {key} must not be negative, got {value!r}")
    return out


def from_connection(source: str, host: str | None, login: str | None, password: str | None,
                    extra: Mapping[str, Any] | None, where: str | None = None) -> GongConfig | ZoomConfig:
    """A source's config from connection fields (an Airflow ``Connection`` or the environment).

    Raises:
        SourceConfigError: an unknown source or a missing field, naming where to set it.
    """
    if source not in SOURCES:
        raise SourceConfigError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    where = where or f"connection {CONNECTION_IDS[source]}"
    extra = dict(extra or {})
    base = str(host or "").strip() or DEFAULT_BASE[source]
    if "://" not in base:
        base = f"https://{base}"
    if source == "gong":
        return GongConfig(base_url=base, access_key=_need(source, "an access key (login)", login, where),
                          access_secret=Secret(_need(source, "an access key secret (password)", password, where)),
                          rate_per_s=_number(source, extra, "rate_per_s", 3.0),
                          daily_limit=_number(source, extra, "daily_limit", 10_000, int),
                          daily_reserve=_number(source, extra, "daily_reserve", 200, int))
    return ZoomConfig(base_url=base, account_id=_need(source, "extra 'account_id'", extra.get("account_id"), where),
                      client_id=_need(source, "a client id (login)", login, where),
                      client_secret=Secret(_need(source, "a client secret (password)", password, where)),
                      oauth_url=str(extra.get("oauth_url") or "https://zoom.us/oauth/token"),
                      users=_list(extra.get("users")),
                      download_hosts=_list(extra.get("download_hosts")) or ("zoom.us",),
                      rate_per_s=_number(source, extra, "rate_per_s", 10.0),
                      daily_limit=_number(source, extra, "daily_limit", 0, int))


def from_env(source: str, env: Mapping[str, str] | None = None) -> GongConfig | ZoomConfig:
    """A source's config from ``CALLSCORE_<SOURCE>_*`` variables (the CLI's way in)."""
    env = os.environ if env is None else env
    prefix = f"CALLSCORE_{source.upper()}_"
    try:
        extra = json.loads(env.get(prefix + "EXTRA") or "{}")
    except json.JSONDecodeError as exc:
        raise SourceConfigError(f"{prefix}EXTRA is not JSON: {exc.msg}") from exc
    if not isinstance(extra, dict):
        raise SourceConfigError(f"{prefix}EXTRA must be a JSON object")
    if source == "gong":
        login, password = env.get(prefix + "ACCESS_KEY"), env.get(prefix + "ACCESS_SECRET")
    else:
        login, password = env.get(prefix + "CLIENT_ID"), env.get(prefix + "CLIENT_SECRET")
        for key in ("account_id", "users", "oauth_url", "download_hosts"):
            if env.get(prefix + key.upper()):
                extra[key] = env[prefix + key.upper()]
    return from_connection(source, env.get(prefix + "BASE_URL"), login, password, extra,
                           where=f"environment {prefix}*")
