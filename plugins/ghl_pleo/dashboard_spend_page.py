"""The "Spend vs social" page of the dashboard (``/ghl-pleo/spend``): the per-location table, an SVG chart of daily
spend (bars, left axis) against impressions (line, right axis) and the tag suggestions, largest first. Pure: takes
the document of :func:`ghl_pleo.dashboard_spend.spend_document`, returns text; no script, nothing loaded from
elsewhere. Amounts are shown as the document gives them (Decimal text in the currency's major unit).
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from decimal import Decimal

from ghl_pleo.dashboard_charts import Plot, _legend, _plot, _y_grid
from ghl_pleo.dashboard_page import _HEAD

SPEND_COLOR, IMPRESSIONS_COLOR = "#059669", "#7c3aed"
_STYLE = "<style>tr.over td{background:#fef3c7} td.num{text-align:right;font-variant-numeric:tabular-nums}</style>"


def _e(value: object) -> str:
    return "–" if value is None or value == "" else html.escape(str(value))


def _n(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _day_ts(day: str) -> float:
    """Noon UTC of a day: a day's bar sits in the middle of its day."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp() + 43200


def render_spend_page(doc: dict, location: str | None = None) -> str:
    """The page; ``location``: the chart's location (default: every location of the first currency, summed)."""
    head = _HEAD.replace("<title>GHL-Pleo health</title>", "<title>GHL-Pleo spend vs social</title>")
    head = head.replace("</head>", _STYLE + "</head>")
    return head + _header(doc) + _locations(doc) + _chart_section(doc, location) + _suggestions(doc) + "</body></html>"


def _header(doc: dict) -> str:
    budgets = (
        f'<p class="bad">Budgets not shown: {html.escape(doc["budgets_error"])}</p>' if doc["budgets_error"] else ""
    )
    as_of = doc["as_of"] or "no spend run yet"
    return f"""<h1>Spend vs social</h1>
<div class="muted">From the spend DAG's warehouse tables, as of {html.escape(as_of)} (the latest day a spend run
stored); generated {doc["generated_at"]}. Amounts in the company currency. <a href="api/spend">JSON</a> ·
<a href="./">Health</a></div>{budgets}
"""


def _locations(doc: dict) -> str:
    rows = "".join(_location_row(r) for r in doc["locations"])
    empty = '<tr><td colspan="11">no spend runs yet</td></tr>'
    windows = f"7 days {_e(doc['window_7d'])}, 30 days {_e(doc['window_30d'])}"
    return f"""<h2 id="spend-vs-social">Per location: {windows}</h2>
<table class="list" id="spend-locations"><thead><tr><th>location</th><th>currency</th><th>spend 7 days</th>
<th>spend 30 days</th><th>per 1,000 impressions (7 d)</th><th>per engagement (7 d)</th>
<th>days with both</th><th>month</th><th>spent this month</th><th>budget used</th><th>projected month end</th>
</tr></thead><tbody>{rows or empty}</tbody></table>
"""


def _location_row(r: dict) -> str:
    loc = html.escape(r["location_id"])
    budget = (
        f"{_e(r['budget_used_pct'])} % of {_e(r['budget_monthly'])}" if r["budget_monthly"] is not None else "no budget"
    )
    return (
        f'<tr class="{"over" if r["over_budget"] else ""}" data-location="{loc}">'
        f'<td class="mono"><a href="?location={loc}">{loc}</a></td><td>{_e(r["currency"])}</td>'
        f'<td class="num">{_e(r["spend_7d"])}</td><td class="num">{_e(r["spend_30d"])}</td>'
        f'<td class="num">{_e(r["cost_per_1k_impressions_7d"])}</td>'
        f'<td class="num">{_e(r["cost_per_engagement_7d"])}</td><td class="num">{r["days_used_7d"]}</td>'
        f'<td>{_e(r["month"])}</td><td class="num">{_e(r["spend_month"])}</td><td class="num">{budget}</td>'
        f'<td class="num{" bad" if r["over_budget"] else ""}">{_e(r["budget_projected_month_end"])}'
        f"{' OVER BUDGET' if r['over_budget'] else ''}</td></tr>"
    )


def _chart_section(doc: dict, location: str | None) -> str:
    """Daily spend against impressions over the last 30 days, for one location or all of one currency summed."""
    daily = doc["daily"]
    currencies = sorted({d["currency"] for d in daily})
    chosen = [d for d in daily if d["location_id"] == location] if location else daily
    currency = chosen[0]["currency"] if chosen else (currencies[0] if currencies else "")
    spend: dict[str, Decimal] = {}
    impressions: dict[str, int] = {}
    for d in chosen:
        if d["currency"] != currency:
            continue
        spend[d["day"]] = spend.get(d["day"], Decimal(0)) + Decimal(d["spend"])
        if d["impressions"] is not None:
            impressions[d["day"]] = impressions.get(d["day"], 0) + d["impressions"]
    who = f"location {location}" if location else f"all locations ({currency})" if currency else "all locations"
    title = f"Daily spend ({currency or '–'}) against impressions, {who}"
    x1 = _day_ts(doc["as_of"]) + 43200 if doc["as_of"] else 0.0
    return f"""<h2>Daily spend against impressions (30 days)</h2>
<div class="charts">{dual_chart(title, spend, impressions, x1 - 30 * 86400, x1)}</div>
"""


def dual_chart(
    title: str, spend: dict[str, Decimal], impressions: dict[str, int], x0: float, x1: float, width: int = 760
) -> str:
    """Spend per day as bars on the left axis, impressions per day as a line on the right axis."""
    height = 240
    series = [
        {"name": "spend", "color": SPEND_COLOR, "points": [(_day_ts(d), float(v)) for d, v in sorted(spend.items())]},
        {"name": "impressions", "color": IMPRESSIONS_COLOR, "points": []},
    ]
    left = _plot(series, x0, x1, None, [], width - 40, height)
    right = _plot([{"points": [(0, float(v)) for v in impressions.values()]}], x0, x1, None, [], width - 40, height)
    parts = [
        f'<svg class="chart" data-chart="spend-impressions" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left.left}" y="16" class="title">{html.escape(title)}</text>',
        *_y_grid(left, ""),
        *_day_labels(left),
        *_right_axis(right),
        *_spend_bars(left, spend),
        *_impressions_line(right, impressions),
        *_legend(left, series),
    ]
    if not spend and not impressions:
        parts.append(
            f'<text x="{left.left + left.pw / 2}" y="{left.top + left.ph / 2}" class="axis" text-anchor="middle">'
            "no spend in this window</text>"
        )
    return "".join(parts) + "</svg>"


def _day_labels(plot: Plot) -> list[str]:
    """The first, middle and last day of the window under the x axis."""
    out = []
    for i, anchor in ((0, "start"), (2, "middle"), (4, "end")):
        ts = min(plot.x0 + 43200 + (plot.span - 86400) * i / 4, plot.x1 - 43200)
        day = datetime.fromtimestamp(ts, UTC).strftime("%b %d")
        out.append(
            f'<text x="{plot.sx(ts):.1f}" y="{plot.height - 10}" class="axis" text-anchor="{anchor}">{day}</text>'
        )
    return out


def _right_axis(plot: Plot) -> list[str]:
    return [
        f'<text x="{plot.left + plot.pw + 4}" y="{plot.sy(plot.top_value * i / 4) + 4:.1f}" class="axis" '
        f'fill="{IMPRESSIONS_COLOR}">{plot.top_value * i / 4:,.0f}</text>'
        for i in range(5)
    ]


def _spend_bars(plot: Plot, spend: dict[str, Decimal]) -> list[str]:
    bw = max(2.0, min(18.0, plot.pw / 30 * 0.7))
    return [
        f'<rect class="bar" data-day="{day}" x="{plot.sx(_day_ts(day)) - bw / 2:.1f}" y="{plot.sy(float(v)):.1f}" '
        f'width="{bw:.1f}" height="{max(plot.sy(0) - plot.sy(float(v)), 0.5):.1f}" fill="{SPEND_COLOR}">'
        f"<title>{day}: spend {v}</title></rect>"
        for day, v in sorted(spend.items())
        if v  # a day without spend has no bar
    ]


def _impressions_line(plot: Plot, impressions: dict[str, int]) -> list[str]:
    pts = sorted((_day_ts(d), v) for d, v in impressions.items())
    if not pts:
        return []
    path = " ".join(f"{'M' if i == 0 else 'L'}{plot.sx(x):.1f},{plot.sy(y):.1f}" for i, (x, y) in enumerate(pts))
    dots = [
        f'<circle cx="{plot.sx(x):.1f}" cy="{plot.sy(y):.1f}" r="2.5" fill="{IMPRESSIONS_COLOR}"><title>'
        f"{datetime.fromtimestamp(x, UTC).date()}: {y:,} impressions</title></circle>"
        for x, y in pts
    ]
    return [f'<path d="{path}" fill="none" stroke="{IMPRESSIONS_COLOR}" stroke-width="1.5"/>', *dots]


def _suggestions(doc: dict) -> str:
    rows = "".join(
        f'<tr data-entry="{html.escape(s["entry_id"])}"><td>{_e(s["day"])}</td>'
        f'<td class="num">{_e(s["amount"])} {_e(s["currency"])}</td><td>{_e(s["note"])}</td>'
        f"<td>{', '.join(_e(c['tag_name']) + ' (' + _e(c['location_id']) + ')' for c in s['candidates'])}</td>"
        f'<td class="mono small">{html.escape(s["entry_id"])}{"/" + _e(s["split_id"]) if s["split_id"] else ""}'
        "</td></tr>"
        for s in doc["suggestions"]
    )
    return f"""<h2>Untagged spend whose note names a tag (largest first)</h2>
<p class="muted">Nothing is written to these expenses: tag them in Pleo and the next spend run within the lookback
counts them.</p>
<table class="list" id="spend-suggestions"><thead><tr><th>day</th><th>amount</th><th>note</th><th>suggested tags
</th><th>entry</th></tr></thead><tbody>{rows or '<tr><td colspan="5">none</td></tr>'}</tbody></table>
"""
