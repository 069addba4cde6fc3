"""GHL social statistics: deterministic daily numbers per account, summed over v2's last 7 days or v3's ranges."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.state import SandboxState, utcnow

PLATFORMS = ["facebook", "instagram", "linkedin", "google", "pinterest", "youtube", "tiktok"]
CURRENT = ("posts", "likes", "followers", "impressions", "comments", "reach", "shares")
PREVIOUS = ("posts", "impressions", "reach", "likes", "comments", "shares")
GENDERS = ("male", "female", "unknown")
AGES = ("13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")


class Invalid(Exception):
    """The request body is not acceptable (the route answers 422 with this message)."""


def _parse_dt(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be an ISO 8601 date-time string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise Invalid(f"{field} must be an ISO 8601 date-time string") from None


def _daily(profile: str, platform: str, metric: str, day: str) -> int:
    digest = hashlib.sha256(f"{profile}|{platform}|{metric}|{day}".encode()).digest()
    scale = {"posts": 4, "likes": 60, "followers": 30, "impressions": 900, "comments": 15, "reach": 500, "shares": 10}[
        metric
    ]
    return int.from_bytes(digest[:4], "big") % (scale + 1)


def _window_sum(accounts: list[dict], metric: str, start: datetime, end: datetime) -> dict[str, int]:
    out: dict[str, int] = {}
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= end:
        for acc in accounts:
            out[acc["platform"]] = out.get(acc["platform"], 0) + _daily(
                acc["profileId"], acc["platform"], metric, day.strftime("%Y-%m-%d")
            )
        day += timedelta(days=1)
    return out


def _change(cur: float, prev: float) -> float:
    return round((cur - prev) / prev * 100, 2) if prev else 0.0


def _accounts(state: SandboxState, location_id: str, body: Any, v3: bool) -> list[dict]:
    """The location's accounts the body asks for, after checking ``profileIds`` and ``platforms``."""
    if not isinstance(body, dict) or not isinstance(body.get("profileIds"), list) or not body["profileIds"]:
        raise Invalid("profileIds must contain at least 1 elements")
    if v3 and len(body["profileIds"]) > 100:
        raise Invalid("profileIds must contain no more than 100 elements")
    platforms = body.get("platforms")
    if platforms is not None and (not isinstance(platforms, list) or any(p not in PLATFORMS for p in platforms)):
        raise Invalid(f"platforms must be a subset of {PLATFORMS}")
    with state.lock:
        return [
            a
            for a in state.ghl["accounts"].get(location_id, [])
            if a["profileId"] in set(body["profileIds"]) and (not platforms or a["platform"] in platforms)
        ]


def _ranges(body: dict, v3: bool) -> tuple[datetime, datetime, datetime, datetime]:
    """(start, end, previous start, previous end): v3's ``currentRange``/``prevRange``, else the last 7 days."""
    if v3 and "currentRange" in body:
        cr = body["currentRange"] or {}
        start, end = (
            _parse_dt(cr.get("startDate"), "currentRange.startDate"),
            _parse_dt(cr.get("endDate"), "currentRange.endDate"),
        )
        if end < start:
            raise Invalid("currentRange.endDate must not be before startDate")
        if "prevRange" in body:
            pr = body["prevRange"] or {}
            return (
                start,
                end,
                _parse_dt(pr.get("startDate"), "prevRange.startDate"),
                _parse_dt(pr.get("endDate"), "prevRange.endDate"),
            )
        span = end - start
        return start, end, start - span - timedelta(milliseconds=1), start - timedelta(milliseconds=1)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=7), today - timedelta(milliseconds=1)
    return start, end, start - timedelta(days=7), start - timedelta(milliseconds=1)


def _breakdowns(cur: dict, prev: dict, plats: list[str]) -> dict:
    def breakdown(metric: str) -> dict:
        total, ptotal = sum(cur[metric].values()), sum(prev[metric].values())
        return {
            "total": total,
            "totalChange": _change(total, ptotal),
            "platforms": {
                p: {"value": cur[metric].get(p, 0), "change": _change(cur[metric].get(p, 0), prev[metric].get(p, 0))}
                for p in plats
            },
        }

    def engaged(numbers: dict, p: str) -> int:
        return numbers["likes"].get(p, 0) + numbers["comments"].get(p, 0) + numbers["shares"].get(p, 0)

    return {
        "posts": breakdown("posts"),
        "impressions": breakdown("impressions"),
        "reach": breakdown("reach"),
        "engagement": {
            p: {
                "likes": cur["likes"].get(p, 0),
                "comments": cur["comments"].get(p, 0),
                "shares": cur["shares"].get(p, 0),
                "change": _change(engaged(cur, p), engaged(prev, p)),
            }
            for p in plats
        },
    }


def statistics(state: SandboxState, location_id: str, body: Any, v3: bool) -> tuple[int, dict]:
    """The statistics answer: v2 201 (last 7 days), v3 200 (ranges). Raises ``Invalid`` for a bad body."""
    accounts = _accounts(state, location_id, body, v3)
    start, end, pstart, pend = _ranges(body, v3)
    cur = {m: _window_sum(accounts, m, start, end) for m in CURRENT}
    prev = {m: _window_sum(accounts, m, pstart, pend) for m in PREVIOUS}
    plats = sorted({a["platform"] for a in accounts})
    days = max(1, min(7, (end - start).days + 1))
    results = {
        "dayRange": [(start + timedelta(days=d)).strftime("%a") for d in range(days)],
        "totals": {m: sum(cur[m].values()) for m in ("posts", "likes", "followers", "impressions", "comments")},
        "postPerformance": {
            "posts": {p: [0] * days for p in plats},
            "impressions": [0] * days,
            "likes": [0] * days,
            "comments": [0] * days,
        },
        "breakdowns": _breakdowns(cur, prev, plats),
        "platformTotals": {
            m: {p: {"total": cur[m].get(p, 0), "series": [0] * days} for p in plats}
            for m in ("impressions", "followers", "likes")
        },
        "demographics": {
            "gender": {"totals": {g: {"total": 0, "percentage": 0} for g in GENDERS}},
            "age": {"totals": dict.fromkeys(AGES, 0)},
        },
    }
    trace = str(uuid.UUID(bytes=hashlib.md5(json.dumps(body, sort_keys=True).encode()).digest()))
    return (200 if v3 else 201), {"results": results, "message": "Analytics Built Successfully", "traceId": trace}
