"""The health dashboard's HTML page: one function per section, and the series of its SVG charts (drawn by
:mod:`ghl_pleo.dashboard_charts`; no script, nothing loaded from elsewhere). Pure: takes the health document
(:func:`ghl_pleo.health.health`), returns text. The app and its routes are in :mod:`ghl_pleo.dashboard`.
"""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

from ghl_pleo.constants import SPEND_DAG_ID, STATISTICS_DAG_ID, TAGS_DAG_ID
from ghl_pleo.dashboard_charts import chart

COLORS = {TAGS_DAG_ID: "#2563eb", STATISTICS_DAG_ID: "#d97706", SPEND_DAG_ID: "#059669"}


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


def _s(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f} s"


def _n(v: Any) -> str:
    return "–" if v is None else f"{v:,}" if isinstance(v, int) else html.escape(str(v))


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _ago(hours: float | None) -> str:
    if hours is None:
        return ""
    if hours < 1:
        return f" ({hours * 60:.0f} min ago)"
    return f" ({hours:.1f} h ago)" if hours < 48 else f" ({hours / 24:.1f} days ago)"


def _short(dag_id: str) -> str:
    return dag_id.replace("ghl_pleo_", "").replace("_sync", "")


def _rate_class(rate: float | None) -> str:
    if rate is None:
        return ""
    return "good" if rate >= 0.99 else "warn" if rate >= 0.9 else "bad"


# the page --------------------------------------------------------------------------------------
_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GHL-Pleo health</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#111827;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:20px 0 8px} h3{font-size:14px;margin:0 0 6px}
.tabs a{padding:3px 10px;border:1px solid #d1d5db;border-radius:4px;text-decoration:none;color:#111827}
.tabs a.on{background:#111827;color:#fff} .muted{color:#6b7280} .mono{font-family:ui-monospace,monospace}
.small{font-size:11px} .cards{display:flex;gap:16px;flex-wrap:wrap}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:10px 12px} .card th{text-align:left;font-weight:500;
color:#4b5563;padding-right:8px} .card td{padding-right:16px}
.charts{display:grid;grid-template-columns:repeat(2,560px);gap:12px}
svg.chart{border:1px solid #e5e7eb;border-radius:6px;background:#fff} svg .title{font:600 12px sans-serif}
svg .axis{font:10px sans-serif;fill:#4b5563} svg .grid{stroke:#f3f4f6} svg .ref{stroke:#9ca3af;
stroke-dasharray:4 3}
table.list{border-collapse:collapse;width:100%} table.list th,table.list td{border-bottom:1px solid #e5e7eb;
padding:4px 8px;text-align:left} table.list th{background:#f9fafb}
tr.stale td{background:#fee2e2} td.bad{color:#b91c1c;font-weight:600} td.warn{color:#b45309;font-weight:600}
td.good{color:#047857}
</style></head><body>
"""


def render_page(doc: dict, window: str) -> str:
    """The whole page for one window (``24h``, ``7d`` or ``30d``) of the health document."""
    from ghl_pleo.health import WINDOWS

    now = _ts(doc["generated_at"]) or time.time()
    x0 = now - WINDOWS[window].total_seconds()
    stats = doc["windows"][window]
    runs = [r for r in doc["runs"] if (_ts(r["started_at"]) or 0) >= x0]
    dags = sorted(stats["dags"])
    charts = _charts_section(runs, stats, dags, window, x0, now)
    cards = _dags_section(stats, dags, window)
    locations = _locations_section(doc, stats, window)
    events = _events_section(doc, window, x0)
    return _HEAD + _header(doc, window, WINDOWS) + cards + charts + locations + events + "</body></html>"


def _header(doc: dict, window: str, windows: Any) -> str:
    """Title, where the numbers come from, the stale limits, links, the window tabs and the stale count."""
    tabs = " ".join(f'<a class="{"on" if w == window else ""}" href="?window={w}">{w}</a>' for w in windows)
    stale_n = len(doc["stale"])
    return f"""<h1>GHL-Pleo health</h1>
<div class="muted">From the warehouse ledger at {doc["generated_at"]}; dry runs excluded. Stale after
{", ".join(f"{_short(k)} {v:g} h" for k, v in doc["stale_after_hours"].items())}.
<a href="api/health">JSON</a> · <a href="data-docs/index.html">Data Docs</a> ·
<a href="spend">Spend vs social</a></div>
<p class="tabs">Window: {tabs} &nbsp; <span class="{"bad" if stale_n else ""}">{stale_n} stale location(s)</span></p>
"""


def _dags_section(stats: dict, dags: list[str], window: str) -> str:
    """One card of numbers per DAG."""
    cards = "".join(_dag_card(d, stats["dags"][d]) for d in dags)
    return f'<h2>Per DAG ({window})</h2><div class="cards">{cards}</div>\n'


def _dag_card(d: str, s: dict) -> str:
    drift = sum(s["drift_events"].values())
    return (
        f'<div class="card" data-dag="{d}"><h3>{d}</h3><table>'
        f'<tr><th>runs</th><td>{s["runs"]}</td><th>success rate</th><td class="{_rate_class(s["success_rate"])}">'
        f"{_pct(s['success_rate'])}</td></tr>"
        f"<tr><th>location runs</th><td>{s['location_runs']}</td><th>location success</th>"
        f'<td class="{_rate_class(s["location_success_rate"])}">{_pct(s["location_success_rate"])}</td></tr>'
        f"<tr><th>latency p50</th><td>{_s(s['latency_p50_s'])}</td><th>latency p95</th>"
        f"<td>{_s(s['latency_p95_s'])}</td></tr>"
        f"<tr><th>records synced / run</th><td>{_n(s['records_synced_per_run'])}</td><th>rejected share</th>"
        f"<td>{_pct(s['rejected_share'])} ({_n(s['records_rejected'])} of {_n(s['records_read'])})</td></tr>"
        f'<tr><th>drift / guard events</th><td class="{"warn" if drift else ""}">{drift}'
        f"{' (' + ', '.join(f'{k} {v}' for k, v in s['drift_events'].items()) + ')' if drift else ''}</td>"
        f"<th>lowest rate-limit remaining</th><td>{_n(s['min_ratelimit_remaining'])}"
        f" ({_n(s['retries'])} retries)</td></tr></table></div>"
    )


def _charts_section(runs: list[dict], stats: dict, dags: list[str], window: str, x0: float, now: float) -> str:
    """Success rate per hour (24h) or day, latency with the tags DAG's p50/p95, records synced, rate-limit headroom."""
    bucket = 3600 if window == "24h" else 86400
    success = _success_series(runs, dags, bucket, now)
    refs = _latency_refs(stats)
    charts = [
        chart(
            "success-rate",
            f"Run success rate per {'hour' if bucket == 3600 else 'day'} (%)",
            success,
            x0,
            now,
            kind="bar",
            y_max=100.0,
            unit="%",
        ),
        chart(
            "latency",
            "Run latency (s), start to last location done",
            _by_dag(runs, dags, "latency_s"),
            x0,
            now,
            refs=refs,
        ),
        chart(
            "records",
            "Records synced to Pleo per run (writes)",
            _by_dag(runs, dags, "records_synced"),
            x0,
            now,
            kind="bar",
        ),
        chart(
            "headroom", "Lowest X-RateLimit-Remaining per run", _by_dag(runs, dags, "min_ratelimit_remaining"), x0, now
        ),
    ]
    return f'<h2>Charts ({window})</h2><div class="charts">{"".join(charts)}</div>\n'


def _by_dag(runs: list[dict], dags: list[str], field: str, scale: float = 1.0) -> list[dict]:
    """One series per DAG: ``field`` of each run at its start."""
    return [
        {
            "name": _short(d),
            "color": COLORS.get(d, "#6b7280"),
            "points": [
                (_ts(r["started_at"]), None if r[field] is None else r[field] * scale) for r in runs if r["dag_id"] == d
            ],
        }
        for d in dags
    ]


def _success_series(runs: list[dict], dags: list[str], bucket: int, now: float) -> list[dict]:
    """One series per DAG: the % of finished runs that succeeded, per ``bucket`` seconds (at the bucket's middle)."""
    success = []
    for d in dags:
        buckets: dict[int, list[int]] = {}
        for r in runs:
            if r["dag_id"] == d and r["status"] != "running":
                b = int(min((_ts(r["started_at"]) // bucket) * bucket + bucket / 2, now))
                buckets.setdefault(b, []).append(int(r["status"] == "success"))
        success.append(
            {
                "name": _short(d),
                "color": COLORS.get(d, "#6b7280"),
                "points": [(b, 100.0 * sum(v) / len(v)) for b, v in sorted(buckets.items())],
            }
        )
    return success


def _latency_refs(stats: dict) -> list[tuple[str, float]]:
    """The tags DAG's p50 and p95 latency as reference lines (none before it has run)."""
    tags_stats = stats["dags"].get(TAGS_DAG_ID, {})
    if tags_stats.get("latency_p50_s") is None:
        return []
    return [
        (f"tags p50 {tags_stats['latency_p50_s']:.0f} s", tags_stats["latency_p50_s"]),
        (f"tags p95 {tags_stats['latency_p95_s']:.0f} s", tags_stats["latency_p95_s"]),
    ]


def _locations_section(doc: dict, stats: dict, window: str) -> str:
    """Per (DAG, location): the last successful sync (stale ones marked) and the window's numbers."""
    per_loc = {(r["dag_id"], r["location_id"]): r for r in stats["locations"]}
    rows = "".join(_location_row(f, per_loc.get((f["dag_id"], f["location_id"]), {})) for f in doc["freshness"])
    return f"""<h2>Locations: last successful sync, and the {window} window</h2>
<table class="list" id="locations"><thead><tr><th>DAG</th><th>location</th><th>last successful sync</th><th>runs</th>
<th>success</th><th>p50</th><th>p95</th><th>records synced</th><th>rejected</th><th>drift/guard</th>
<th>lowest remaining</th></tr></thead><tbody>{rows or '<tr><td colspan="11">no runs yet</td></tr>'}
</tbody></table>
"""


def _location_row(f: dict, r: dict) -> str:
    drift = sum((r.get("drift_events") or {}).values())
    age = f["hours_since_success"]
    return (
        f'<tr class="{"stale" if f["stale"] else ""}" data-location="{html.escape(f["location_id"])}">'
        f'<td>{_short(f["dag_id"])}</td><td class="mono">{html.escape(f["location_id"])}</td>'
        f"<td>{f['last_success_at'] or 'never'}{_ago(age)}"
        f"{' STALE (limit ' + format(f['stale_after_hours'], 'g') + ' h)' if f['stale'] else ''}</td>"
        f'<td>{_n(r.get("runs"))}</td><td class="{_rate_class(r.get("success_rate"))}">'
        f"{_pct(r.get('success_rate'))}</td><td>{_s(r.get('duration_p50_s'))}</td>"
        f"<td>{_s(r.get('duration_p95_s'))}</td><td>{_n(r.get('records_synced'))}</td>"
        f'<td>{_pct(r.get("rejected_share"))}</td><td class="{"warn" if drift else ""}">{drift}</td>'
        f"<td>{_n(r.get('min_ratelimit_remaining'))}</td></tr>"
    )


def _events_section(doc: dict, window: str, x0: float) -> str:
    """The drift and guard events that started in the window."""
    events = (
        "".join(
            f"<tr><td>{html.escape(e['at'] or '')}</td><td>{_short(e['dag_id'])}</td>"
            f'<td class="mono">{html.escape(e["location_id"])}</td><td>{html.escape(e["flags"])}</td>'
            f'<td>{html.escape(e["status"])}</td><td class="mono small">{html.escape(e["run_id"])}</td></tr>'
            for e in doc["drift_events"]
            if (_ts((e["at"] or "")[:19] + "Z") or 0) >= x0
        )
        or '<tr><td colspan="6">none in this window</td></tr>'
    )
    return f"""<h2>Drift and guard events ({window})</h2>
<table class="list" id="events"><thead><tr><th>at</th><th>DAG</th><th>location</th><th>flags</th><th>status</th>
<th>run</th></tr></thead><tbody>{events}</tbody></table>
"""
