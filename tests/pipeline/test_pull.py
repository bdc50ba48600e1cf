"""Pulling calls from Gong and Zoom, against local fake servers (tests/README.md says why fakes).

The fakes (``pipeline.devtools.fake_sources``) implement the documented behaviour: cursor paging
in the POST body, 429 with ``Retry-After`` past 3 requests a second, a daily quota, a token
endpoint, a transcript download that needs the bearer token.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import ConfigError
from pipeline.devtools.fake_sources import FakeSources
from pipeline.pull import pull_day, pull_recent, rescore_late
from pipeline.settings import Settings
from pipeline.sources import QuotaError, Secret, SourceConfigError, SourceError, config, file_stem
from pipeline.sources.http import DailyBudget, RateLimiter, host_allowed, retry_after_s
from pipeline.transcripts.ingest import iter_day
from pipeline.warehouse import landing, storage
from tests.pipeline.test_s3 import s3_endpoint  # noqa: F401 - the moto S3 server fixture

D1, D2 = "2026-11-22", "2026-11-23"


def _utc_today() -> str:
    """The UTC day the request ledger and the daily budget count in."""
    return datetime.now(UTC).date().isoformat()


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(landing=str(tmp_path / "landing"), warehouse=str(tmp_path / "warehouse"), sources="gong,zoom",
                    late_days=kw.pop("late_days", 1), data_docs=str(tmp_path / "docs"), **kw)


def _cfg(fk: FakeSources, source: str, **extra):
    return config.from_env(source, fk.env(source, **extra))


def _gong_ids(fk: FakeSources, day: str) -> list[str]:
    return sorted(i for i in fk.gong.calls if fk.gong.calls[i][0]["metaData"]["started"].startswith(day))


@pytest.fixture
def fakes():
    with FakeSources([D1, D2], calls_per_day=12, gong_page_size=2) as fk:
        yield fk


# ------------------------------------------------------------------------------------------------
# the limiter, the budget, the headers
# ------------------------------------------------------------------------------------------------

def test_rate_limiter_never_sends_more_than_its_rate_in_any_second():
    now = [0.0]
    sent = []
    limiter = RateLimiter(3, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(20):
        limiter.acquire()
        sent.append(now[0])
    assert all(sum(1 for t in sent if a <= t < a + 1.0) <= 3 for a in sent)
    assert sent[-1] >= 6.0  # 20 requests at 3 a second take at least six seconds


def test_budget_stops_before_the_limit_and_names_the_setting():
    budget = DailyBudget(limit=10, reserve=2, used=7)
    budget.utc_day = _utc_today()
    budget.take("x")
    with pytest.raises(QuotaError, match="daily_limit"):
        budget.take("POST /v2/calls/extensive")
    assert budget.used == 8


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_s("7", 1.0) == 7.0
    assert retry_after_s(None, 1.5) == 1.5
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", 2.0) == 0.0  # in the past: go now
    assert retry_after_s("soon", 2.0) == 2.0


@pytest.mark.parametrize("url,ok", [("https://api.zoom.us/rec/x", True), ("https://zoom.us/x", True),
                                    ("https://evilzoom.us/x", False), ("http://169.254.169.254/latest", False),
                                    ("file:///etc/passwd", False), ("https://user:pw@zoom.us/x", False)])
def test_only_allowed_hosts(url, ok):
    assert host_allowed(url, ["zoom.us"]) is ok


def test_a_page_that_is_not_the_documented_shape_fails_the_pull():
    import httpx

    from pipeline.sources.http import page_items

    req = httpx.Request("POST", "https://api.gong.io/v2/calls/extensive?x=secret-token")
    with pytest.raises(SourceError, match="extensive page 1: the body is not JSON") as err:
        page_items(httpx.Response(200, content=b"<html>maintenance</html>", request=req), "calls", 1)
    assert "secret-token" not in str(err.value)  # errors show host and path, never the query
    with pytest.raises(SourceError, match="page 2: no 'calls' list"):
        page_items(httpx.Response(200, json={"records": {}}, request=req), "calls", 2)


def test_secrets_print_as_stars():
    cfg = config.from_connection("gong", "https://api.gong.io", "key", "s3cr3t-value", {})
    assert "s3cr3t-value" not in repr(cfg) and "s3cr3t-value" not in str(cfg)
    assert cfg.access_secret.reveal() == "s3cr3t-value" and str(Secret("x")) == "***"


@pytest.mark.parametrize("source,fields,match", [
    ("gong", {"host": "", "login": "", "password": "p"}, "access key"),
    ("zoom", {"host": "", "login": "c", "password": "p"}, "account_id"),
    ("slack", {"host": "", "login": "c", "password": "p"}, "unknown source"),
])
def test_missing_credentials_are_config_errors(source, fields, match):
    with pytest.raises(SourceConfigError, match=match):
        config.from_connection(source, fields["host"], fields["login"], fields["password"], {})


def test_sources_setting_is_checked():
    with pytest.raises(ValueError, match="sources"):
        Settings(sources="gong,slack")


def test_file_names_never_come_from_raw_ids():
    assert file_stem("gong", "7261122000015235681") == "gong-7261122000015235681"
    for hostile in ("../../etc/passwd", "a/b", "x\x00", "", "." * 3):
        stem = file_stem("gong", hostile)
        assert stem.startswith("gong-h") and "/" not in stem and "." not in stem


# ------------------------------------------------------------------------------------------------
# Gong
# ------------------------------------------------------------------------------------------------

def test_gong_day_over_several_pages_lands_one_file_per_call(tmp_path, fakes):
    settings = _settings(tmp_path)
    manifest = pull_day(settings, "gong", D1, _cfg(fakes, "gong"))
    ids = _gong_ids(fakes, D1)
    assert len(ids) >= 3, "the fixture must span several pages of 2"
    assert manifest["complete"] and manifest["calls"] == ids
    assert manifest["cursors_exhausted"] == {"/v2/calls/extensive": True, "/v2/calls/transcript": True}
    assert manifest["window"] == {"from": f"{D1}T00:00:00Z", "to": f"{D2}T00:00:00Z"}
    assert fakes.gong.cursor_in_query == 0, "the cursor must go back in the POST body"
    pages = sum(1 for e in fakes.fault.log if e["path"] == "/v2/calls/extensive")
    assert pages == math.ceil(len(ids) / 2)
    folder = tmp_path / "landing" / D1 / "gong"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(f"gong-{i}.json" for i in ids), "_manifest.json"])
    doc = json.loads((folder / f"gong-{ids[0]}.json").read_text())
    assert [c["metaData"]["id"] for c in doc["calls"]] == [ids[0]] and len(doc["callTranscripts"]) == 1


def test_pulled_day_reads_cleanly_and_the_manifest_is_not_input(tmp_path, fakes):
    settings = _settings(tmp_path)
    for source in ("gong", "zoom"):
        pull_day(settings, source, D1, _cfg(fakes, source))
    items = list(iter_day(storage.landing_day(settings.landing, D1), max_file_bytes=10**8, max_turn_words=3000))
    assert [i.quarantined for i in items if i.quarantined] == []
    assert len(items) == len(fakes.by_day[D1])


def test_a_429_storm_and_a_500_still_finish_within_the_limits(tmp_path, fakes, caplog):
    fakes.fault.storm, fakes.fault.fail_next = 5, 1
    with caplog.at_level(logging.WARNING):
        manifest = pull_day(_settings(tmp_path), "gong", D1, _cfg(fakes, "gong"), backoff_s=0.2)
    assert manifest["complete"] and manifest["calls"] == _gong_ids(fakes, D1)
    assert fakes.fault.max_per_second() <= 3, "the client sent faster than the documented 3 a second"
    assert caplog.text.count("429, waiting 1.0 s as Retry-After asks") >= 5
    assert "HTTP 500, retry 1/4" in caplog.text


def test_quota_guard_stops_before_the_budget_runs_out_and_plan_refuses_the_day(tmp_path, fakes):
    settings = _settings(tmp_path)
    cfg = _cfg(fakes, "gong", daily_limit=4, daily_reserve=1)
    with pytest.raises(QuotaError, match="3 of the source's 4 requests"):
        pull_day(settings, "gong", D1, cfg)
    assert fakes.fault.used == 3, "the guard must stop before the server's quota answers"
    assert landing.read_manifest(settings.landing, D1, "gong")["complete"] is False
    served = len(fakes.fault.log)
    with pytest.raises(QuotaError):  # the ledger remembers the day's requests across pulls
        pull_day(settings, "gong", D1, cfg)
    assert len(fakes.fault.log) == served
    from pipeline.run import check_pulled

    with pytest.raises(ConfigError, match=r"gong: pull incomplete .*callscore pull --source gong"):
        check_pulled(settings, D1)


def test_a_spent_server_quota_fails_with_a_clear_error_instead_of_sleeping(tmp_path, fakes):
    fakes.fault.daily_quota = 2
    with pytest.raises(QuotaError, match="daily quota"):
        pull_day(_settings(tmp_path), "gong", D1, _cfg(fakes, "gong"))


def test_refused_credentials_fail_at_once_without_the_secret(tmp_path, fakes):
    env = {**fakes.env("gong"), "CALLSCORE_GONG_ACCESS_SECRET": "wrong-secret-123"}
    with pytest.raises(SourceConfigError, match=r"refused \(401\)") as err:
        pull_day(_settings(tmp_path), "gong", D1, config.from_env("gong", env))
    assert "wrong-secret-123" not in str(err.value)


def test_a_repull_changes_nothing(tmp_path, fakes):
    settings = _settings(tmp_path)
    first = pull_day(settings, "gong", D1, _cfg(fakes, "gong"))
    folder = tmp_path / "landing" / D1 / "gong"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir() if p.name != "_manifest.json"}
    again = pull_day(settings, "gong", D1, _cfg(fakes, "gong"), recheck=True)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir() if p.name != "_manifest.json"}
    assert after == before
    assert again["calls"] == first["calls"] and again["added_calls"] == [] and again["updated_calls"] == []
    assert again["counts"]["unchanged"] == len(before) and not again["needs_rescore"]


def test_a_hostile_call_id_cannot_choose_a_path(tmp_path, fakes):
    entry, transcript = fakes.gong.calls[_gong_ids(fakes, D1)[0]]
    evil = json.loads(json.dumps(entry))
    evil["metaData"]["id"] = "../../../outside"
    fakes.gong.add(evil, {**transcript, "callId": "../../../outside"})
    manifest = pull_day(_settings(tmp_path), "gong", D1, _cfg(fakes, "gong"))
    assert "../../../outside" in manifest["calls"]
    assert (tmp_path / "landing" / D1 / "gong" / f"{file_stem('gong', '../../../outside')}.json").is_file()
    assert not (tmp_path / "outside.json").exists() and not (tmp_path / "landing" / "outside.json").exists()


# ------------------------------------------------------------------------------------------------
# Zoom
# ------------------------------------------------------------------------------------------------

def test_zoom_token_download_and_sidecar(tmp_path, fakes):
    settings = _settings(tmp_path)
    manifest = pull_day(settings, "zoom", D1, _cfg(fakes, "zoom"))
    zoom_calls = [m for m in fakes.zoom.meetings if m["meeting"]["start_time"].startswith(D1)]
    assert manifest["complete"] and manifest["counts"]["calls"] == len(zoom_calls) > 0
    assert manifest["window"] == {"from": f"{D1}T00:00:00Z", "to": f"{D2}T00:00:00Z"}  # the same UTC day as Gong's
    assert fakes.zoom.downloads_without_token == 0 and fakes.zoom.tokens
    slashed = next(m["meeting"]["uuid"] for m in fakes.zoom.meetings if m["meeting"]["uuid"].startswith("/"))
    stem = file_stem("zoom", slashed.replace("+", "-").replace("/", "_").rstrip("="))
    side = json.loads((tmp_path / "landing" / D1 / "zoom" / f"{stem}.meta.json").read_text())
    host = next(m for m in fakes.zoom.meetings if m["meeting"]["uuid"] == slashed)
    assert side["rep"]["email"] == fakes.zoom.users[host["user"]]["email"]
    assert side["participants"][0]["role"] == "rep" and len(side["participants"]) >= 2  # the report was read
    assert manifest["warnings"] == []


def test_zoom_without_a_participant_report_uses_the_speakers(tmp_path, fakes):
    meeting = next(m for m in fakes.zoom.meetings if m["meeting"]["start_time"].startswith(D1))
    fakes.zoom.no_report.add(meeting["meeting"]["uuid"])
    settings = _settings(tmp_path)
    manifest = pull_day(settings, "zoom", D1, _cfg(fakes, "zoom"))
    assert any("no participant report" in w for w in manifest["warnings"])
    items = list(iter_day(storage.landing_day(settings.landing, D1), max_file_bytes=10**8, max_turn_words=3000))
    assert [i.quarantined for i in items if i.quarantined] == []


def test_zoom_download_url_on_another_host_is_refused(tmp_path, fakes):
    meeting = next(m for m in fakes.zoom.meetings if m["meeting"]["start_time"].startswith(D1))
    fakes.zoom.download_url[meeting["meeting"]["uuid"]] = "http://169.254.169.254/latest/meta-data/iam"
    with pytest.raises(SourceConfigError, match=r"169\.254\.169\.254"):
        pull_day(_settings(tmp_path), "zoom", D1, _cfg(fakes, "zoom"))


def test_zoom_transcript_still_processing_is_pending(tmp_path, fakes):
    meeting = next(m for m in fakes.zoom.meetings if m["meeting"]["start_time"].startswith(D1))
    fakes.zoom.hidden.add(meeting["meeting"]["uuid"])
    manifest = pull_day(_settings(tmp_path), "zoom", D1, _cfg(fakes, "zoom"))
    assert len(manifest["pending"]) == 1 and manifest["pending"][0] not in manifest["calls"]


def test_server_errors_past_the_retries_fail_the_pull(tmp_path, fakes):
    fakes.zoom_fault.fail_next = 10
    with pytest.raises(SourceError, match="failed 5 times"):
        pull_day(_settings(tmp_path), "zoom", D1, _cfg(fakes, "zoom"), backoff_s=0.01)


# ------------------------------------------------------------------------------------------------
# late arrivals, end to end through the commit path; secrets
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_late_call_is_picked_up_the_next_night_and_rescored(tmp_path, fakes, model_dir, caplog):
    from pipeline.run import run_day
    from pipeline.warehouse.query import query

    settings = _settings(tmp_path, model=str(model_dir))
    late = _gong_ids(fakes, D1)[0]
    fakes.gong.hidden.add(late)  # listed by Gong, transcript not ready on the first night
    night1 = {s: pull_recent(settings, s, D1, _cfg(fakes, s)) for s in ("gong", "zoom")}
    assert night1["gong"]["days"][D1]["pending"] == [late]
    run_day(settings, D1)
    published = query(settings.warehouse, f"SELECT call_id FROM calls WHERE date = '{D1}'")["call_id"].tolist()
    assert late not in published and len(published) == len(fakes.by_day[D1]) - 1

    fakes.gong.hidden.clear()  # the transcript arrives during the day
    with caplog.at_level(logging.INFO, logger="pipeline"):
        night2 = {s: pull_recent(settings, s, D2, _cfg(fakes, s)) for s in ("gong", "zoom")}
        assert night2["gong"]["rescore"] == [D1] and night2["zoom"]["rescore"] == []
        run_day(settings, D2)
        rescored = rescore_late(settings, D2)
    assert [(r["day"], r["added_calls"], r["calls"]) for r in rescored] == [(D1, [late], len(fakes.by_day[D1]))]
    assert f"gong {D1}: calls added late: {late}" in caplog.text
    published = query(settings.warehouse, f"SELECT call_id FROM calls WHERE date = '{D1}'")["call_id"].tolist()
    assert late in published
    assert rescore_late(settings, D2) == [], "a re-scored day is re-scored once"


def test_secrets_never_reach_logs_files_or_output(tmp_path, fakes):
    settings = _settings(tmp_path)
    env = {**os.environ, **fakes.env("gong"), **fakes.env("zoom"), "CALLSCORE_LANDING": settings.landing,
           "CALLSCORE_WAREHOUSE": settings.warehouse, "CALLSCORE_LATE_DAYS": "1"}
    fakes.fault.storm = 2  # warnings get logged too
    outs = [subprocess.run([sys.executable, "-m", "pipeline.cli", "-v", "pull", "--source", s, "--date", D1],
                           capture_output=True, text=True, env=env, timeout=300) for s in ("gong", "zoom")]
    assert [o.returncode for o in outs] == [0, 0], outs[0].stderr[-2000:] + outs[1].stderr[-2000:]
    assert json.loads(outs[0].stdout)["days"][D1]["counts"]["calls"] == len(_gong_ids(fakes, D1))
    text = "".join(o.stdout + o.stderr for o in outs)
    assert "DEBUG" in text  # the logs really were verbose
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in fakes.secrets():
        assert secret not in text and secret.encode() not in stored




def test_pull_into_an_s3_landing_zone(s3_endpoint, fakes):  # noqa: F811
    opts = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    settings = Settings(landing="s3://callscore-test/pulled", warehouse="s3://callscore-test/pull-wh",
                        sources="gong", late_days=0, storage_options=opts)
    first = pull_day(settings, "gong", D1, _cfg(fakes, "gong"))
    again = pull_day(settings, "gong", D1, _cfg(fakes, "gong"))
    assert again["counts"]["unchanged"] == first["counts"]["files"] == len(_gong_ids(fakes, D1))
    fs, _ = storage.filesystem("s3://callscore-test", opts)
    assert sorted(k.rsplit("/", 1)[1] for k in fs.find(f"callscore-test/pulled/{D1}/gong")) == sorted(
        [*(f"gong-{i}.json" for i in _gong_ids(fakes, D1)), "_manifest.json"])
    assert landing.requests_used(settings.warehouse, "gong", _utc_today(), opts) > 0
    items = list(iter_day(storage.landing_day(settings.landing, D1, opts), max_file_bytes=10**8,
                          max_turn_words=3000))
    assert len(items) == len(_gong_ids(fakes, D1)) and all(i.call for i in items)
