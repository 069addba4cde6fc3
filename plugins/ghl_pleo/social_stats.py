"""Pure transforms for the statistics sync: the day window, request bodies, sanitizing and combining profile batches.

No Airflow, no network: each function is tested on hand-written payloads. What becomes of the combined
numbers (the ``metrics`` JSON, the statistics record, Pleo's group metadata) is in :mod:`ghl_pleo.stats_metadata`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Metric -> where it lives in a v3 ``results`` payload.
METRICS = ("posts", "likes", "followers", "impressions", "comments", "reach", "shares")
CHANGE_METRICS = ("posts", "impressions", "reach")  # the vendor gives a totalChange for these


def fmt_ms(ts: datetime) -> str:
    """``2026-11-01T23:59:59.999Z``: the form the vendor documents for ranges."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Window:
    """One UTC day: ``start`` inclusive, ``end`` = next midnight minus 1 ms (the vendor's ranges are inclusive)."""

    start: datetime
    end: datetime

    @classmethod
    def for_interval(cls, start: datetime, end: datetime) -> Window:
        # plain datetimes: pendulum's arithmetic trips over its own tz handling here
        start = datetime.fromtimestamp(start.timestamp(), tz=UTC)
        end = datetime.fromtimestamp(end.timestamp(), tz=UTC)
        if end <= start:
            raise ValueError(
                f"data interval {start.isoformat()} .. {end.isoformat()} is empty: the statistics DAG "
                f"needs a real window (CronDataIntervalTimetable)"
            )
        return cls(start, end - timedelta(milliseconds=1))

    def previous(self) -> Window:
        span = self.end - self.start + timedelta(milliseconds=1)
        return Window(self.start - span, self.start - timedelta(milliseconds=1))

    def as_range(self) -> dict[str, str]:
        return {"startDate": fmt_ms(self.start), "endDate": fmt_ms(self.end)}

    @property
    def day(self) -> str:
        return self.start.strftime("%Y-%m-%d")


def request_bodies(profile_ids: list[str], window: Window, batch: int = 100) -> list[dict]:
    """One v3 statistics request body per batch of at most ``batch`` profile ids."""
    ids = list(dict.fromkeys(p for p in profile_ids if isinstance(p, str) and p))
    return [
        {"profileIds": ids[i : i + batch], "currentRange": window.as_range(), "prevRange": window.previous().as_range()}
        for i in range(0, len(ids), batch)
    ]


def stat_id(location_id: str, window: Window) -> str:
    return f"{location_id}-{window.start.strftime('%Y%m%d')}"


KNOWN_PLATFORMS = {
    "facebook",
    "instagram",
    "linkedin",
    "google",
    "pinterest",
    "youtube",
    "tiktok",
    "twitter",
    "gmb",
    "threads",
    "bluesky",
}


def sanitize_results(results: Any) -> tuple[dict, list[dict]]:
    """Drop metric values that are not finite, non-negative numbers; report each with its path and rule.

    Changes (percentages) may be negative; counts may not. Unknown platforms are
    kept and reported (rule ``unknown_platform``, a warning, not a rejection).
    Returns a cleaned copy of ``results`` and the problems found.
    """
    import copy

    problems: list[dict] = []
    if not isinstance(results, dict):
        return {}, [{"path": "results", "raw": repr(results)[:200], "rule": "missing_envelope"}]
    clean = copy.deepcopy(results)

    def check(container: dict, key: str, path: str, signed: bool = False) -> None:
        if key not in container:
            return
        value = container[key]
        rule = None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            rule = "not_a_number"
        elif not math.isfinite(value):
            rule = "non_finite_metric"
        elif value < 0 and not signed:
            rule = "negative_metric"
        if rule:
            problems.append({"path": path, "raw": repr(value)[:200], "rule": rule})
            del container[key]

    totals = clean.get("totals")
    if isinstance(totals, dict):
        for k in list(totals):
            check(totals, k, f"totals.{k}")
    breakdowns = clean.get("breakdowns") if isinstance(clean.get("breakdowns"), dict) else {}
    for m in ("posts", "impressions", "reach"):
        b = breakdowns.get(m)
        if not isinstance(b, dict):
            continue
        check(b, "total", f"breakdowns.{m}.total")
        check(b, "totalChange", f"breakdowns.{m}.totalChange", signed=True)
        for p, item in (b.get("platforms") or {}).items() if isinstance(b.get("platforms"), dict) else ():
            if isinstance(item, dict):
                check(item, "value", f"breakdowns.{m}.platforms.{p}.value")
                check(item, "change", f"breakdowns.{m}.platforms.{p}.change", signed=True)
    engagement = breakdowns.get("engagement") if isinstance(breakdowns.get("engagement"), dict) else {}
    for p, item in engagement.items():
        if isinstance(item, dict):
            for k in ("likes", "comments", "shares"):
                check(item, k, f"breakdowns.engagement.{p}.{k}")
            check(item, "change", f"breakdowns.engagement.{p}.change", signed=True)
    seen = set(engagement)
    for m in ("posts", "impressions", "reach"):
        b = breakdowns.get(m)
        if isinstance(b, dict) and isinstance(b.get("platforms"), dict):
            seen |= set(b["platforms"])
    for p in sorted(seen - KNOWN_PLATFORMS):
        problems.append({"path": f"platform {p}", "raw": p, "rule": "unknown_platform"})
    return clean, problems


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _prev_from_change(cur: float | None, change: float | None) -> float | None:
    """The previous-period value behind a vendor percentage change, or None when it cannot be known."""
    if cur is None or change is None:
        return None
    factor = 1 + change / 100.0
    if factor <= 0:
        return None  # -100 %: the previous value is not recoverable from the current one
    if cur == 0:
        return 0.0 if change == 0 else None
    return cur / factor


def _change(cur: float | None, prev: float | None) -> float | None:
    if cur is None or prev is None:
        return None
    if prev == 0:
        return 0.0 if cur == 0 else None
    return round((cur - prev) / prev * 100.0, 2)


def batch_numbers(results: dict) -> dict[str, Any]:
    """Flatten one v3 ``results`` payload into current values, previous values (derived) and per-platform rows."""
    results = results if isinstance(results, dict) else {}
    totals = results.get("totals") if isinstance(results.get("totals"), dict) else {}
    breakdowns = results.get("breakdowns") if isinstance(results.get("breakdowns"), dict) else {}
    cur: dict[str, float] = {}
    prev: dict[str, float | None] = {}
    vendor_change: dict[str, float | None] = {}
    for m in ("posts", "likes", "followers", "impressions", "comments"):
        v = _num(totals.get(m))
        if v is not None:
            cur[m] = v
    for m in ("posts", "impressions", "reach"):
        b = breakdowns.get(m) if isinstance(breakdowns.get(m), dict) else {}
        total, change = _num(b.get("total")), _num(b.get("totalChange"))
        if m == "reach" and total is not None:
            cur["reach"] = total
        base = cur.get(m, total)
        if base is not None or change is not None:
            vendor_change[m] = change
            prev[m] = _prev_from_change(total if total is not None else base, change)
    platforms: list[dict] = []
    engagement = breakdowns.get("engagement") if isinstance(breakdowns.get("engagement"), dict) else {}
    shares = [_num(e.get("shares")) for e in engagement.values() if isinstance(e, dict)]
    if any(s is not None for s in shares):
        cur["shares"] = sum(s for s in shares if s is not None)
    names = set(engagement)
    for m in ("posts", "impressions", "reach"):
        b = breakdowns.get(m) if isinstance(breakdowns.get(m), dict) else {}
        if isinstance(b.get("platforms"), dict):
            names |= set(b["platforms"])
    for p in sorted(names):
        row: dict[str, Any] = {"platform": p}
        for m in ("posts", "impressions", "reach"):
            b = breakdowns.get(m) if isinstance(breakdowns.get(m), dict) else {}
            item = (b.get("platforms") or {}).get(p) if isinstance(b.get("platforms"), dict) else None
            row[m] = _num(item.get("value")) if isinstance(item, dict) else None
        e = engagement.get(p) if isinstance(engagement.get(p), dict) else {}
        for m in ("likes", "comments", "shares"):
            row[m] = _num(e.get(m))
        platforms.append(row)
    return {"cur": cur, "prev": prev, "vendor_change": vendor_change, "platforms": platforms}


def combine_batches(batches: list[dict]) -> dict[str, Any]:
    """Combine the results of several profile batches: totals are added, changes recomputed, never averaged.

    Returns ``{"totals": {...}, "change": {...}, "platforms": [...]}``. With a
    single batch the vendor's own changes are kept. A change is None when a
    batch's previous value cannot be recovered (a -100 % change).
    """
    parts = [batch_numbers(b) for b in batches]
    totals: dict[str, float] = {}
    for part in parts:
        for k, v in part["cur"].items():
            totals[k] = totals.get(k, 0.0) + v
    change: dict[str, float | None] = {}
    for m in CHANGE_METRICS:
        if not any(m in p["vendor_change"] for p in parts):
            continue
        if len(parts) == 1:
            change[m] = parts[0]["vendor_change"][m]
            continue
        prevs = [p["prev"].get(m) for p in parts if m in p["vendor_change"]]
        prev = None if any(x is None for x in prevs) else sum(prevs)
        change[m] = _change(totals.get(m), prev)
    plat: dict[str, dict] = {}
    for part in parts:
        for row in part["platforms"]:
            acc = plat.setdefault(row["platform"], {"platform": row["platform"]})
            for k, v in row.items():
                if k != "platform" and v is not None:
                    acc[k] = acc.get(k, 0.0) + v
    return {"totals": totals, "change": change, "platforms": [plat[k] for k in sorted(plat)]}
