"""Build the static report site: team overview, one page per rep, data health.

The site is self-contained and works offline: its charts are Altair specs drawn by the pinned
Vega copies in its own ``assets/`` folder (``pipeline.warehouse.assets``), and the Great Expectations
Data Docs are copied into ``datadocs/`` with their CDN links pointed at local copies too.

Customer text appears only as the ``customer_text`` setting allows: the report never reads
``utterances.text`` nor the review queue's customer text; the only turn text it shows is a rep's
own turn from ``coaching_moments``, which the nightly run published already redacted per that
setting. Every value is HTML-escaped (Jinja2 autoescape), chart data is JSON-escaped, and rep
ids (untrusted input) never choose a path: a rep page is named by a slug plus a hash of the id.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline import LABELS
from pipeline.report import charts
from pipeline.report.data import TREND_LABELS, ReportData, load
from pipeline.settings import Settings
from pipeline.warehouse import assets

log = logging.getLogger(__name__)

MARKER = ".callscore-report"
"""Written into every built site: a folder holding it may be rebuilt (its old pages removed)."""
OWNED = ("index.html", "health.html", "reps", "assets", "datadocs")


@dataclass(frozen=True)
class ReportResult:
    """What a build wrote.

    Attributes:
        out_dir: the site's folder (absolute).
        index: the team overview page, the site's entry point.
        pages: every HTML page written by the report (Data Docs pages not counted).
        charts: how many charts the pages hold.
    """

    out_dir: str
    index: str
    pages: tuple[str, ...]
    charts: int

    @property
    def url(self) -> str:
        """The index as a ``file://`` URL, to open in a browser."""
        return Path(self.index).as_uri()


def rep_page_name(rep_id: str) -> str:
    """A rep page's file name: a readable slug of the id plus a hash of it, so no id can choose a path."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(rep_id).lower()).strip("-")[:40] or "rep"
    return f"{slug}-{hashlib.sha256(str(rep_id).encode()).hexdigest()[:10]}.html"


def _prepare(out: Path) -> None:
    """Make ``out`` an empty site folder, removing only what an earlier build wrote.

    Raises:
        ValueError: ``out`` is a file, or a non-empty folder that no build wrote (never emptied).
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"report folder {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ValueError(f"report folder {out} is not empty and holds no earlier report ({MARKER}); "
                         "choose an empty or new folder")
    for name in OWNED:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("built by callscore report; may be replaced by the next build\n")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "" if v is None or pd.isna(v) else f"{100 * float(v):.0f}%"
    env.filters["num"] = lambda v, d=1: "" if v is None or pd.isna(v) else f"{float(v):.{d}f}"
    env.filters["text"] = lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
    return env


class _Page:
    """Charts collected while a page's context is assembled."""

    def __init__(self) -> None:
        self.charts: list[dict[str, str]] = []

    def chart(self, chart: Any, caption: str = "") -> dict[str, str]:
        entry = {"id": f"chart-{len(self.charts) + 1}", "spec": charts.spec_json(chart), "caption": caption}
        self.charts.append(entry)
        return entry


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return charts.records(frame) if not frame.empty else []


def _interval_note(cards: pd.DataFrame) -> bool:
    return any(f"{label}_share_lo" in cards.columns and cards[f"{label}_share_lo"].notna().any() for label in LABELS)


def _index_context(data: ReportData, pages: dict[str, str]) -> tuple[dict[str, Any], _Page]:
    page = _Page()
    cards = data.latest_cards
    ctx: dict[str, Any] = {"reps": [], "charts": {}}
    if not cards.empty:
        ctx["reps"] = [{**row, "page": pages.get(row["rep_id"])} for row in _rows(cards)]
        ctx["charts"]["score"] = page.chart(charts.advisor_scores(cards))
        ctx["charts"]["shares"] = page.chart(charts.shares_with_intervals(cards, TREND_LABELS),
                                             "" if _interval_note(cards) else
                                             "These days were published before intervals: points only.")
    if not data.rep_totals.empty:
        ctx["charts"]["mix"] = page.chart(charts.label_mix(data.rep_totals))
    if not data.team_trend.empty:
        ctx["charts"]["trend"] = page.chart(charts.weekly_trend(data.team_trend, LABELS, "Label shares per week"))
    return ctx, page


def _rep_context(data: ReportData, rep: dict[str, Any]) -> tuple[dict[str, Any], _Page]:
    page = _Page()
    rep_id = rep["rep_id"]
    card = data.latest_cards[data.latest_cards.rep_id == rep_id] if not data.latest_cards.empty else pd.DataFrame()
    trend = data.rep_trend[data.rep_trend.rep_id == rep_id] if not data.rep_trend.empty else pd.DataFrame()
    talk = data.talk_ratio[data.talk_ratio.rep_id == rep_id] if not data.talk_ratio.empty else pd.DataFrame()
    moments = data.coaching[data.coaching.rep_id == rep_id] if not data.coaching.empty else pd.DataFrame()
    ctx: dict[str, Any] = {"rep": rep, "card": (_rows(card) or [None])[0], "charts": {},
                           "moments": _rows(moments), "has_coaching": "coaching_moments" in data.tables,
                           "benchmarks": "benchmarks" in data.tables}
    if not trend.empty:
        ctx["charts"]["trend"] = page.chart(charts.weekly_trend(trend, TREND_LABELS,
                                                                "Probing, commitment and rapport shares per week"))
    if not card.empty:
        ctx["charts"]["shares"] = page.chart(charts.shares_with_intervals(card, TREND_LABELS))
    if not talk.empty:
        ctx["charts"]["talk"] = page.chart(charts.talk_ratio(talk))
    return ctx, page


def _health_context(data: ReportData, datadocs: str | None) -> tuple[dict[str, Any], _Page]:
    page = _Page()
    days = []
    for record in data.records:
        tables = record.get("tables") if isinstance(record.get("tables"), dict) else {}
        days.append({"day": record.get("day"), "version": record.get("version") or record.get("run_id"),
                     "committed_at": record.get("committed_at"), "model_version": record.get("model_version"),
                     "precision": record.get("precision"), "quarantined": record.get("quarantined"),
                     "complete": record.get("complete", True),
                     "rows": ", ".join(f"{t} {v.get('rows')}" for t, v in tables.items() if isinstance(v, dict))})
    drift = _rows(data.drift)
    latest = days[-1] if days else None
    ctx: dict[str, Any] = {"days": list(reversed(days)), "latest": latest, "failed": data.failed_validations,
                           "quarantine": _rows(data.quarantine), "drift": drift, "has_drift": "drift" in data.tables,
                           "alarms": [d for d in drift if d.get("status") == "alarm"],
                           "review": _rows(data.review_counts), "has_review": "review_queue" in data.tables,
                           "datadocs": datadocs, "charts": {}}
    if not data.quarantine.empty:
        ctx["charts"]["quarantine"] = page.chart(charts.quarantine(data.quarantine))
    return ctx, page


def _copy_data_docs(settings: Settings, out: Path) -> str | None:
    """Copy the Data Docs site into ``out/datadocs`` with local assets; its index relative to ``out``, or None."""
    source = Path(settings.data_docs_dir())
    if not (source / "index.html").is_file():
        log.info("report: no Data Docs in %s; the health page says so", source)
        return None
    target = out / "datadocs"
    shutil.copytree(source, target, symlinks=False, ignore=shutil.ignore_patterns("*.tmp"))
    assets.localize_data_docs(target)  # a site built before the rewrite existed gets it here
    return "datadocs/index.html"


def build_report(settings: Settings, out_dir: str) -> ReportResult:
    """Build the report for ``settings.warehouse`` into ``out_dir`` (a local folder); return what was written.

    Raises:
        AssetsMissingError: the pinned Vega copies are not cached (run ``make assets``); nothing is written.
        ValueError: ``out_dir`` is a file or a non-empty folder that is not an earlier report.
    """
    out = Path(out_dir).expanduser().resolve()
    missing = [f for f in assets.missing() if f.startswith(("vega@", "vega-lite@", "vega-embed@"))]
    if missing:
        raise assets.AssetsMissingError(f"pinned chart scripts missing from {assets.cache_dir()}: "
                                        f"{', '.join(missing)}; run `{assets.MAKE_TARGET}` once, online")
    data = load(settings)
    _prepare(out)
    assets.copy_into(out / "assets", names=("vega", "vega-lite", "vega-embed"))
    datadocs = _copy_data_docs(settings, out)
    env = _environment()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reps = _rows(data.rep_totals) or [{"rep_id": r, "rep_name": None} for r in
                                      (data.latest_cards.rep_id if not data.latest_cards.empty else [])]
    names = {r["rep_id"]: rep_page_name(r["rep_id"]) for r in reps}
    common = {"generated": generated, "warehouse": settings.warehouse, "tables": data.tables,
              "scripts": assets.VEGA_SCRIPTS, "customer_text": settings.customer_text}
    written: list[Path] = []
    total = 0

    def render(template: str, path: Path, root: str, ctx: dict[str, Any], page: _Page) -> None:
        nonlocal total
        html = env.get_template(template).render(**common, **ctx, root=root, page_charts=page.charts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        written.append(path)
        total += len(page.charts)

    ctx, page = _index_context(data, {k: f"reps/{v}" for k, v in names.items()})
    render("index.html.j2", out / "index.html", "", ctx, page)
    for rep in reps:
        ctx, page = _rep_context(data, rep)
        render("rep.html.j2", out / "reps" / names[rep["rep_id"]], "../", ctx, page)
    ctx, page = _health_context(data, datadocs)
    render("health.html.j2", out / "health.html", "", ctx, page)
    log.info("report: %d page(s), %d chart(s) in %s", len(written), total, out)
    return ReportResult(out_dir=str(out), index=str(out / "index.html"), pages=tuple(str(p) for p in written),
                        charts=total)
