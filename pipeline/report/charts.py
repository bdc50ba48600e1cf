"""The report's charts: Vega-Lite specs built with Altair, drawn in the browser by the site's own Vega copy.

Specs carry their data inline (``alt.Data(values=...)``: small aggregates, no row limit to trip)
and explicit field types, so each chart is one self-contained JSON object in its page.
"""

from __future__ import annotations

import json
import math
from typing import Any

import altair as alt
import pandas as pd

from pipeline import LABELS

LABEL_COLORS = {"knowledge_probing": "#1f77b4", "trust_commitment": "#2ca02c", "rapport": "#ff7f0e",
                "other": "#9a9a9a"}
_SCALE = alt.Scale(domain=list(LABELS), range=[LABEL_COLORS[label] for label in LABELS])
WIDTH = 560


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: NaN and NA become null, numpy and dates become plain values."""
    rows = json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in rows]


def spec_json(chart: alt.TopLevelMixin) -> str:
    """The chart as JSON safe inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(chart.to_dict(), separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def advisor_scores(cards: pd.DataFrame) -> alt.Chart:
    """Reps by advisor score, coloured by tier."""
    data = alt.Data(values=records(cards[["rep_name", "rep_id", "advisor_score", "tier"]]))
    return alt.Chart(data, title="Advisor score (latest day per rep)").mark_bar().encode(
        x=alt.X("advisor_score:Q", title="advisor score", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("rep_name:N", sort="-x", title=None),
        color=alt.Color("tier:N", title="tier"),
        tooltip=["rep_name:N", "rep_id:N", "advisor_score:Q", "tier:N"],
    ).properties(width=WIDTH)


def shares_with_intervals(cards: pd.DataFrame, labels: tuple[str, ...]) -> alt.LayerChart:
    """Each rep's label shares as points with their Wilson 95% intervals as bars (when published)."""
    rows = []
    for card in records(cards):
        for label in labels:
            rows.append({"rep_name": card.get("rep_name") or card.get("rep_id"), "label": label,
                         "share": card.get(f"{label}_share"), "lo": card.get(f"{label}_share_lo"),
                         "hi": card.get(f"{label}_share_hi")})
    base = alt.Chart(alt.Data(values=rows), title="Shares with Wilson 95% intervals (latest day per rep)").encode(
        y=alt.Y("rep_name:N", title=None), yOffset=alt.YOffset("label:N"),
        color=alt.Color("label:N", scale=_SCALE, title="label"))
    rules = base.mark_rule(strokeWidth=2).encode(x=alt.X("lo:Q", title="share of rep turns"), x2="hi:Q")
    points = base.mark_point(filled=True, size=50).encode(
        x=alt.X("share:Q", scale=alt.Scale(domain=[0, 1])),
        tooltip=["rep_name:N", "label:N", "share:Q", "lo:Q", "hi:Q"])
    return alt.layer(rules, points).properties(width=WIDTH)


def label_mix(totals: pd.DataFrame) -> alt.Chart:
    """Per rep, the mix of labels over all published days (stacked to 100%)."""
    rows = [{"rep_name": r.get("rep_name") or r.get("rep_id"), "label": label, "turns": r.get(f"{label}_turns") or 0}
            for r in records(totals) for label in LABELS]
    return alt.Chart(alt.Data(values=rows), title="Label mix per rep (all published days)").mark_bar().encode(
        x=alt.X("sum(turns):Q", stack="normalize", title="share of rep turns"),
        y=alt.Y("rep_name:N", title=None),
        color=alt.Color("label:N", scale=_SCALE, title="label"),
        tooltip=["rep_name:N", "label:N", "turns:Q"],
    ).properties(width=WIDTH)


def weekly_trend(trend: pd.DataFrame, labels: tuple[str, ...], title: str) -> alt.Chart:
    """Label shares per week (lines with points, so a single week still shows)."""
    rows = [r for r in records(trend) if r.get("label") in labels]
    return alt.Chart(alt.Data(values=rows), title=title).mark_line(point=True).encode(
        x=alt.X("week:O", title="week starting"),
        y=alt.Y("share:Q", title="share of rep turns", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("label:N", scale=_SCALE, title="label"),
        tooltip=["week:O", "label:N", "share:Q", "turns:Q"],
    ).properties(width=WIDTH)


def talk_ratio(rows: pd.DataFrame) -> alt.Chart:
    """A rep's talk ratio beside their peers' on the same call type."""
    values = [{"call_type": r.get("call_type"), "who": who, "talk_ratio": r.get(key), "calls": r.get("calls")}
              for r in records(rows) for who, key in (("rep", "rep"), ("peers", "peers"))]
    return alt.Chart(alt.Data(values=values), title="Talk ratio against peers on the same call type").mark_bar().encode(
        x=alt.X("call_type:N", title="call type"), xOffset=alt.XOffset("who:N"),
        y=alt.Y("talk_ratio:Q", title="rep share of talk time", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("who:N", title=None, scale=alt.Scale(domain=["rep", "peers"], range=["#1f77b4", "#bbbbbb"])),
        tooltip=["call_type:N", "who:N", "talk_ratio:Q", "calls:Q"],
    ).properties(width=WIDTH)


def quarantine(counts: pd.DataFrame) -> alt.Chart:
    """Refused input files per day, stacked by kind."""
    return alt.Chart(alt.Data(values=records(counts)), title="Quarantined files per day").mark_bar().encode(
        x=alt.X("date:O", title="day"), y=alt.Y("files:Q", title="files"), color=alt.Color("kind:N", title="kind"),
        tooltip=["date:O", "kind:N", "files:Q"],
    ).properties(width=WIDTH)
