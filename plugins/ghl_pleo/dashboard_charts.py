"""The dashboard's SVG charts: :func:`chart` draws one (line or bar) from series of ``(epoch seconds, value)``
points, with a grid, axis labels, reference lines and a legend. Pure and knows nothing of the health document:
:mod:`ghl_pleo.dashboard_page` builds the series and places the charts.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 30  # the margins around the plot area


@dataclass(frozen=True)
class Plot:
    """The plot area of a chart (inside the margins) and its scales: x in epoch seconds, y from 0 to ``top_value``."""

    x0: float
    x1: float
    span: float
    top_value: float
    pw: int
    ph: int
    height: int
    left: int = LEFT
    top: int = TOP

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / self.span * self.pw

    def sy(self, y: float) -> float:
        return self.top + self.ph - (y / self.top_value) * self.ph if self.top_value else self.top + self.ph


def chart(
    name: str,
    title: str,
    series: list[dict],
    x0: float,
    x1: float,
    *,
    kind: str = "line",
    y_max: float | None = None,
    unit: str = "",
    refs: list[tuple[str, float]] | None = None,
    width: int = 560,
    height: int = 220,
) -> str:
    """A small SVG chart. ``series``: ``[{"name", "color", "points": [(epoch seconds, value)]}]``."""
    plot = _plot(series, x0, x1, y_max, refs or [], width, height)
    parts = [
        f'<svg class="chart" data-chart="{name}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{plot.left}" y="16" class="title">{html.escape(title)}</text>',
    ]
    parts += _y_grid(plot, unit)
    parts += _x_labels(plot)
    n_series = max(len(series), 1)
    for k, s in enumerate(series):
        pts = [(x, y) for x, y in s["points"] if y is not None and x0 <= x <= x1]
        if kind == "bar":
            parts += _bars(plot, s, pts, k, n_series, unit)
        elif pts:
            parts += _line(plot, s, pts, unit)
    parts += _ref_lines(plot, refs or [])
    parts += _legend(plot, series)
    if not any(s["points"] for s in series):
        parts.append(
            f'<text x="{plot.left + plot.pw / 2}" y="{plot.top + plot.ph / 2}" class="axis" text-anchor="middle">'
            f"no runs in this window</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _plot(
    series: list[dict],
    x0: float,
    x1: float,
    y_max: float | None,
    refs: list[tuple[str, float]],
    width: int,
    height: int,
) -> Plot:
    """The scales: y up to ``y_max``, else 10 % above the highest value or reference (at least 1.1)."""
    values = [y for s in series for _, y in s["points"] if y is not None] + [v for _, v in refs]
    top_value = y_max if y_max is not None else max(values + [1.0]) * 1.1
    return Plot(
        x0=x0,
        x1=x1,
        span=max(x1 - x0, 1.0),
        top_value=top_value,
        pw=width - LEFT - RIGHT,
        ph=height - TOP - BOTTOM,
        height=height,
    )


def _y_grid(plot: Plot, unit: str) -> list[str]:
    """Five grid lines from 0 to the top, with their y labels."""
    parts = []
    for i in range(5):
        y = plot.top_value * i / 4
        label = f"{y:.0f}" if plot.top_value >= 4 else f"{y:.1f}"
        parts.append(
            f'<line x1="{plot.left}" x2="{plot.left + plot.pw}" y1="{plot.sy(y):.1f}" y2="{plot.sy(y):.1f}" '
            f'class="grid"/><text x="{plot.left - 4}" y="{plot.sy(y) + 4:.1f}" class="axis" text-anchor="end">'
            f"{label}{unit}</text>"
        )
    return parts


def _x_labels(plot: Plot) -> list[str]:
    """The x labels: start, middle and end of the window."""
    parts = []
    for i, anchor in ((0, "start"), (2, "middle"), (4, "end")):
        ts = plot.x0 + plot.span * i / 4
        parts.append(
            f'<text x="{plot.sx(ts):.1f}" y="{plot.height - 10}" class="axis" text-anchor="{anchor}">'
            f"{_fmt_x(ts)}</text>"
        )
    return parts


def _bars(plot: Plot, s: dict, pts: list[tuple[float, float]], k: int, n_series: int, unit: str) -> list[str]:
    """Series ``k`` of ``n_series`` as bars, side by side with the other series' bars at the same x."""
    parts = []
    bw = max(2.0, min(18.0, plot.pw / max(len(pts), 1) * 0.8 / n_series))
    for x, y in pts:
        bx = min(max(plot.sx(x) - bw * n_series / 2 + k * bw, plot.left), plot.left + plot.pw - bw)
        parts.append(
            f'<rect class="bar" x="{bx:.1f}" y="{plot.sy(y):.1f}" width="{bw:.1f}" '
            f'height="{max(plot.sy(0) - plot.sy(y), 0.5):.1f}" fill="{s["color"]}"><title>'
            f"{html.escape(s['name'])}: {y:g}{unit}</title></rect>"
        )
    return parts


def _line(plot: Plot, s: dict, pts: list[tuple[float, float]], unit: str) -> list[str]:
    """A series as a line through its points, each a dot with its value as a tooltip."""
    path = " ".join(f"{'M' if i == 0 else 'L'}{plot.sx(x):.1f},{plot.sy(y):.1f}" for i, (x, y) in enumerate(pts))
    return [f'<path d="{path}" fill="none" stroke="{s["color"]}" stroke-width="1.5"/>'] + [
        f'<circle cx="{plot.sx(x):.1f}" cy="{plot.sy(y):.1f}" r="2.5" fill="{s["color"]}"><title>'
        f"{html.escape(s['name'])}: {y:g}{unit}</title></circle>"
        for x, y in pts
    ]


def _ref_lines(plot: Plot, refs: list[tuple[str, float]]) -> list[str]:
    """Dashed horizontal reference lines, labelled at the right."""
    return [
        f'<line x1="{plot.left}" x2="{plot.left + plot.pw}" y1="{plot.sy(value):.1f}" y2="{plot.sy(value):.1f}" '
        f'class="ref"/><text x="{plot.left + plot.pw - 2}" y="{plot.sy(value) - 3:.1f}" class="axis" '
        f'text-anchor="end">{html.escape(label)}</text>'
        for label, value in refs
    ]


def _legend(plot: Plot, series: list[dict]) -> list[str]:
    """A swatch and name per series, top right, beside the title."""
    parts = []
    legend_x = plot.left + plot.pw - sum(18 + 6 * len(s["name"]) for s in series)
    for s in series:
        parts.append(
            f'<rect x="{legend_x}" y="7" width="9" height="9" fill="{s["color"]}"/>'
            f'<text x="{legend_x + 12}" y="15" class="axis">{html.escape(s["name"])}</text>'
        )
        legend_x += 18 + 6 * len(s["name"])
    return parts


def _fmt_x(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%b %d %H:%M")
