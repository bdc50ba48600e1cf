"""The static report (``callscore report``) and the offline Data Docs.

A small warehouse is written directly (schema-conformant Parquet plus commit records), with
hostile rep ids, names and turn text, so the tests cover escaping and safe file names; an
"old" warehouse holds only the three core tables with the columns they had before intervals,
tiers' reasons and call types. The browser test opens every page in Debian's headless Chromium
(``make browser`` installs it) and fails on any console error or undrawn chart.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pipeline import LABELS
from pipeline.report.build import MARKER, build_report, rep_page_name
from pipeline.schemas import SCHEMAS
from pipeline.settings import Settings
from pipeline.warehouse import assets, commit, layout, storage

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "report-screenshots"
DAYS = ("2026-11-16", "2026-11-24")
EVIL_ID = "../../etc/<b>evil</b>"
EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_TEXT = "</script><script>alert('moment')</script> I'll send the ROI model Friday"
CUSTOMER_SECRET = "CUSTOMER-SECRET-4111"
REPS = [("rep_01", "Dana Whitfield", "Enterprise"), ("rep_02", "Lee Park", "SMB"), (EVIL_ID, EVIL_NAME, "SMB")]


def _default(field: pa.Field, day: str):
    if pa.types.is_timestamp(field.type):
        return datetime.fromisoformat(f"{day}T15:00:00+00:00").astimezone(UTC)
    if pa.types.is_floating(field.type):
        return 0.25
    if pa.types.is_integer(field.type):
        return 4
    if pa.types.is_boolean(field.type):
        return False
    return "x"


def _frame(table: str, day: str, rows: list[dict], drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of ``table`` with every schema column filled (given values win), less the ``drop`` columns."""
    schema = SCHEMAS[table]
    full = [{f.name: row.get(f.name, _default(f, day)) for f in schema} for row in rows]
    frame = pd.DataFrame(full, columns=schema.names)
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def _rows(day: str, i: int) -> dict[str, list[dict]]:
    calls, cards, moments, bench = [], [], [], []
    for n, (rep_id, name, team) in enumerate(REPS):
        base = {"rep_id": rep_id, "rep_name": name, "team": team}
        for c in range(2):
            calls.append({**base, "call_id": f"{day}-{n}-{c}", "call_type": ("discovery", "demo")[c],
                          "rep_utterances": 20, "knowledge_probing_turns": 4 + n + i, "trust_commitment_turns": 3,
                          "rapport_turns": 5, "other_turns": 8 - n - i, "rep_talk_ratio": 0.4 + 0.1 * n})
        shares = {"knowledge_probing_share": 0.2 + 0.1 * n, "trust_commitment_share": 0.15, "rapport_share": 0.25,
                  "other_share": 0.4 - 0.1 * n}
        cards.append({**base, **shares, **{f"{k}_lo": v - 0.1 for k, v in shares.items()},
                      **{f"{k}_hi": v + 0.1 for k, v in shares.items()}, "advisor_score": 40.0 + 20 * n,
                      "tier": ("insufficient_data", "knows_customer", "trusted_advisor")[n],
                      "tier_reason": f"advisor_score {40 + 20 * n} with probing share >= 0.2 <because>"})
        moments.append({"rep_id": rep_id, "kind": "best_commitment", "rank": 1, "call_id": f"{day}-{n}-0",
                        "utterance_index": 3, "start_s": 31.0, "text": EVIL_TEXT if n == 2 else f"turn of {name}",
                        "label": "trust_commitment", "probability": 0.91, "reason": "highest p(trust_commitment)"})
        for call_type in ("discovery", "demo"):
            bench.append({"rep_id": rep_id, "call_type": call_type, "calls": 1, "rep_talk_ratio": 0.5,
                          "peer_reps": 2, "peer_calls": 2, "peer_rep_talk_ratio": 0.6})
    utter = [{"call_id": f"{day}-0-0", "utterance_index": 0, "speaker_role": "customer", "rep_id": "rep_01",
              "text": f"my card is {CUSTOMER_SECRET}"}]
    drift = [{"scope": "overall", "team": None, "metric": "label_mix", "status": "alarm" if i else "ok",
              "reason": "chi-square p=0.001 < 0.01"}]
    review = [{"call_id": f"{day}-0-0", "utterance_index": 1, "rep_id": "rep_01", "text": "rep turn",
               "previous_customer_text": CUSTOMER_SECRET, "stratum": "low_margin", "rank": 1}]
    return {"utterances": utter, "calls": calls, "scorecards": cards, "coaching_moments": moments,
            "benchmarks": bench, "drift": drift, "review_queue": review}


def write_warehouse(root: Path, tables: tuple[str, ...] = tuple(SCHEMAS), drop: tuple[str, ...] = ()) -> str:
    """A published warehouse: versioned files, commit records and quarantine records, two days (a week apart)."""
    wh = str(root)
    for i, day in enumerate(DAYS):
        entries = {}
        for table, rows in _rows(day, i).items():
            if table not in tables:
                continue
            url = commit.version_url(wh, table, day, f"run-{i}")
            frame = _frame(table, day, rows, drop)
            if drop:  # an old day: the columns it had, no schema to conform to
                layout.write_parquet(frame, url)
            else:
                layout.write_frame(frame, table, url)
            entries[table] = {"file": url, "rows": len(frame)}
        commit.write_record(wh, day, {"day": day, "run_id": f"run-{i}", "version": f"run-{i}", "complete": True,
                                      "model_version": "minilm-test", "precision": "fp32", "quarantined": 1,
                                      "tables": entries})
        storage.write_jsonl(layout.quarantine_url(wh, day, "records.jsonl"),
                            [{"file": "crm/bad.json", "kind": ("invalid_json", "truncated")[i], "date": day}])
    return wh


@pytest.fixture
def site(tmp_path) -> tuple[Settings, Path]:
    wh = write_warehouse(tmp_path / "warehouse")
    docs = tmp_path / "docs"
    (docs / "static" / "images").mkdir(parents=True)
    (docs / "static" / "images" / "logo-long.png").write_bytes(b"")
    (docs / "index.html").write_text('<html><head><script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
                                     '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/'
                                     'bootstrap.min.css"/></head><body><table><tbody><tr><td>ok</td></tr></tbody>'
                                     '</table></body></html>')
    return Settings(warehouse=wh, data_docs=str(docs)), tmp_path / "report"


def _html(result) -> str:
    return "\n".join(Path(p).read_text() for p in result.pages)


def test_build_writes_every_page_with_charts(site):
    settings, out = site
    result = build_report(settings, str(out))
    assert result.index == str(out / "index.html")
    names = sorted(Path(p).relative_to(out).as_posix() for p in result.pages)
    assert names == sorted(["index.html", "health.html", *(f"reps/{rep_page_name(r)}" for r, _, _ in REPS)])
    assert result.charts >= 4 + 3 * 3 + 1
    for script in assets.VEGA_SCRIPTS:
        assert (out / "assets" / script).is_file()
    index = (out / "index.html").read_text()
    assert "Dana Whitfield" in index and "trusted_advisor" in index
    rep = (out / "reps" / rep_page_name("rep_01")).read_text()
    assert "turn of Dana Whitfield" in rep and "advisor_score 40 with probing share &gt;= 0.2 &lt;because&gt;" in rep
    health = (out / "health.html").read_text()
    assert 'id="drift-alarm"' in health and "minilm-test" in health and "invalid_json" in health
    assert (out / "datadocs" / "index.html").is_file() and 'href="datadocs/index.html"' in health
    assert "https://" not in (out / "datadocs" / "index.html").read_text()


def test_untrusted_text_is_escaped_and_never_chooses_a_path(site):
    settings, out = site
    result = build_report(settings, str(out))
    for page in result.pages:
        assert Path(page).resolve().is_relative_to(out.resolve())
    name = rep_page_name(EVIL_ID)
    assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{10}\.html", name)
    html = _html(result)
    assert EVIL_NAME not in html and "<b>evil</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(" not in html  # neither in table cells nor inside the charts' JSON


def test_customer_text_never_appears(site):
    settings, out = site
    assert CUSTOMER_SECRET not in _html(build_report(settings, str(out)))


def test_old_warehouse_without_insight_tables_or_new_columns(tmp_path):
    old = ("tier_reason", "call_type", *[f"{label}_share_{e}" for label in LABELS for e in ("lo", "hi")])
    wh = write_warehouse(tmp_path / "wh", tables=("utterances", "calls", "scorecards"), drop=old)
    result = build_report(Settings(warehouse=wh, data_docs=str(tmp_path / "none")), str(tmp_path / "out"))
    html = _html(result)
    assert "No coaching moments are published" in html and "No drift table is published" in html
    assert "No benchmarks table is published yet" in html and "all calls" in html
    assert "No Data Docs site was found" in html and result.charts > 0


def test_empty_warehouse_builds_a_page_saying_so(tmp_path):
    result = build_report(Settings(warehouse=str(tmp_path / "wh"), data_docs=str(tmp_path / "d")),
                          str(tmp_path / "out"))
    assert "Nothing is published in this warehouse yet" in Path(result.index).read_text()


def test_missing_assets_fail_naming_the_make_target(site, tmp_path, monkeypatch):
    settings, out = site
    monkeypatch.setenv("CALLSCORE_ASSETS_DIR", str(tmp_path / "no-assets"))
    with pytest.raises(assets.AssetsMissingError, match="make assets"):
        build_report(settings, str(out))
    assert not out.exists()


def test_refuses_a_folder_that_is_not_a_report_and_rebuilds_one(site, tmp_path):
    settings, out = site
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        build_report(settings, str(foreign))
    assert (foreign / "notes.txt").read_text() == "keep me"
    build_report(settings, str(out))
    stale = out / "reps" / "stale.html"
    stale.write_text("old")
    build_report(settings, str(out))
    assert (out / MARKER).is_file() and not stale.exists()


def test_cli_prints_the_index_url(site, capsys, monkeypatch):
    from pipeline.cli import main

    settings, out = site
    monkeypatch.setenv("CALLSCORE_DATA_DOCS", settings.data_docs)
    assert main(["report", "--warehouse", settings.warehouse, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (out / "index.html").as_uri()


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_asset_fetch_refuses_a_tarball_that_does_not_match_its_pin(tmp_path):
    import base64
    import hashlib

    data = _tarball({"build/x.js": b"console.log(1)"})
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    pkg = assets.Package("x", "1.0.0", good, "MIT", (("build/x.js", hashlib.sha256(b"console.log(1)").hexdigest()),))
    assert assets.extract(pkg, data, tmp_path) == [tmp_path / "x@1.0.0" / "build" / "x.js"]
    with pytest.raises(ValueError, match="does not match"):
        assets.extract(pkg, _tarball({"build/x.js": b"alert(1)"}), tmp_path / "bad")
    wrong_file = assets.Package("x", "1.0.0", good, "MIT", (("build/x.js", "0" * 64),))
    with pytest.raises(ValueError, match="does not match the pin"):
        assets.extract(wrong_file, data, tmp_path / "bad2")


def test_every_gx_template_url_has_a_local_copy():
    """Every external URL in GX's page templates is either rewritten or a link to click, not a load."""
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    html = "\n".join(p.read_text() for p in templates.glob("*.j2"))
    urls = set(re.findall(r"https?://[^\"'\s)]+", html))
    assert urls, "GX templates moved; update pipeline.warehouse.assets"
    left = set(re.findall(r"https?://[^\"'\s)]+", assets.localize_html(html, "")))
    # links to click stay; the image folder is a template variable whose rendered URLs the docs test covers
    assert all("greatexpectations.io" in u or u.endswith(".amazonaws.com/") for u in left), sorted(left)


def build_gx_docs(docs: Path) -> str | None:
    """A real GX 1.24 Data Docs site (one suite, one validation) built through ``datadocs.build``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    from pipeline.warehouse import datadocs

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(),
                               data_docs_sites=datadocs.site_config(docs),
                               progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False)
    ctx = gx.get_context(mode="ephemeral", project_config=config)
    batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    suite = ctx.suites.add(gx.ExpectationSuite(name="s"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=10))
    validation = ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    checkpoint = ctx.checkpoints.add(gx.Checkpoint(name="c", validation_definitions=[validation], actions=[]))
    checkpoint.run(batch_parameters={"dataframe": pd.DataFrame({"x": [1, 2, 3]})})
    return datadocs.build(ctx, docs)


def test_data_docs_built_by_gx_load_nothing_from_a_cdn(tmp_path):
    docs = tmp_path / "docs"
    assert build_gx_docs(docs) == str(docs / "index.html")
    pages = list(docs.rglob("*.html"))
    assert len(pages) >= 2
    cdn = re.compile(r"https?://(?!greatexpectations\.io)[^\"'\s)]+")
    for page in pages:
        html = page.read_text()
        assert not cdn.findall(html), (page, cdn.findall(html))
        assert assets.external_loads(html) == []
    for script in assets.VEGA_SCRIPTS:
        assert (docs / assets.VENDOR / script).is_file()


def _chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which("chromium") and Path("/usr/bin/chromedriver").is_file()):
        pytest.fail("Debian's chromium and chromium-driver are not installed: run `make browser`")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1800",
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):  # offline: no network
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)  # never Selenium Manager


def _open(driver, page: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page.as_uri())
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    charts = driver.find_elements(By.CSS_SELECTOR, ".chart")
    WebDriverWait(driver, 20).until(lambda d: all(c.find_elements(By.CSS_SELECTOR, "svg, canvas")
                                                  for c in d.find_elements(By.CSS_SELECTOR, ".chart")))
    return charts, [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_every_page_renders_offline_in_headless_chromium(site, tmp_path):
    settings, out = site
    assert build_gx_docs(tmp_path / "gx-docs")
    result = build_report(settings.with_(data_docs=str(tmp_path / "gx-docs")), str(out))
    shots = SCREENSHOTS
    shots.mkdir(parents=True, exist_ok=True)
    driver = _chromium()
    try:
        drawn = 0
        for page in map(Path, result.pages):
            charts, errors = _open(driver, page)
            assert errors == [], (page, errors)
            drawn += len(charts)
            assert driver.save_screenshot(str(shots / f"{page.stem}.png"))
        assert drawn == result.charts
        # the Data Docs copy: styled by the local Bootstrap, tables filled by the local jQuery + bootstrap-table
        from selenium.webdriver.common.by import By

        docs_pages = sorted((out / "datadocs").rglob("*.html"), key=lambda p: "static/vendor" in p.as_posix())
        for page in [p for p in docs_pages if "static/vendor" not in p.as_posix()]:
            _, errors = _open(driver, page)
            assert [e for e in errors if "favicon" not in e["message"]] == [], (page, errors)  # GX's own favicon path
            assert driver.execute_script("return typeof jQuery") == "function"
            assert driver.execute_script("return typeof vegaEmbed") == "function"
            font = driver.execute_script("return getComputedStyle(document.body).fontFamily")
            assert "apple-system" in font, page  # Bootstrap 4's font stack: the stylesheet loaded from the site
            assert driver.find_elements(By.CSS_SELECTOR, "table tbody tr"), page
        assert driver.save_screenshot(str(shots / "datadocs-index.png"))
    finally:
        driver.quit()
