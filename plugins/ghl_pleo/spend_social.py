"""Spend against social statistics: the ``spend_vs_social_daily`` rows, per-tag shares and seven-day figures.

Pure: daily spend (the ``pleo_spend_daily`` frame of :func:`ghl_pleo.spend_attribution.daily`) and daily statistics
(one dict per location and day with the totals of :func:`ghl_pleo.social_stats.combine_batches`: ``impressions``,
``reach``, ``likes``, ``comments``, ``shares``, any of them missing) go in; rows come out.

* Engagements = likes + comments + shares, only where all three are present (else None: a partial sum would
  understate them and flatter the cost per engagement).
* Cost per 1,000 impressions = spend x 1000 / impressions, cost per engagement = spend / engagements, in the
  currency's major units as :class:`~decimal.Decimal` rounded half-even to 4 places; None where the denominator is
  zero or missing (never a division by zero, never a float).
* Statistics have no tag dimension, so per tag only spend and its share of the location's spend are given.
* Seven-day figures use only the days that have both spend and statistics (a day without statistics would make the
  cost look higher, a day without spend lower) and say how many days that was.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from ghl_pleo.spend_money import minor_to_decimal

PLACES = Decimal("0.0001")
STAT_KEYS = ("impressions", "reach", "likes", "comments", "shares")


def _count(value: Any) -> int | None:
    """A statistics number as an int (GHL sends floats like ``1200.0``); None when missing, negative or fractional."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value) if float(value).is_integer() else None


def engagements(stats: dict) -> int | None:
    parts = [_count(stats.get(k)) for k in ("likes", "comments", "shares")]
    return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]


def ratio(spend_minor: int, currency: str, denominator: int | None, per: int = 1) -> Decimal | None:
    """Spend (major units) x ``per`` / ``denominator``, 4 places; None where the denominator is zero or missing."""
    if not denominator:
        return None
    return (minor_to_decimal(spend_minor, currency) * per / Decimal(denominator)).quantize(PLACES)


def _stats_by_key(stats: Iterable[dict]) -> dict[tuple[str, str], dict]:
    return {(str(s["location_id"]), str(s["day"])): s for s in stats}


def social_daily(spend: pd.DataFrame, stats: Iterable[dict], currency: str) -> list[dict]:
    """``spend_vs_social_daily`` rows, one per location and day having spend or statistics (spend 0 without entries)."""
    by_key = _stats_by_key(stats)
    totals: dict[tuple[str, str], int] = {}
    for (loc, day), amount in spend.groupby(["location_id", "day"])["amount_minor"].sum().items():
        totals[(str(loc), str(day))] = int(amount)
    rows = []
    for key in sorted(set(totals) | set(by_key)):
        s = by_key.get(key, {})
        amount, impressions, engaged = totals.get(key, 0), _count(s.get("impressions")), engagements(s)
        rows.append(
            {
                "location_id": key[0],
                "day": key[1],
                "currency": currency,
                "spend_minor": amount,
                "has_spend": key in totals,
                "has_statistics": key in by_key,
                **{k: _count(s.get(k)) for k in ("impressions", "reach")},
                "engagements": engaged,
                "cost_per_1k_impressions": ratio(amount, currency, impressions, 1000),
                "cost_per_engagement": ratio(amount, currency, engaged),
            }
        )
    return rows


def tag_shares(spend: pd.DataFrame) -> list[dict]:
    """Per location, day and tag: spend and its share of the location's spend that day (None where that is 0)."""
    if spend.empty:
        return []
    per_tag = spend.groupby(["location_id", "day", "tag_code"])["amount_minor"].sum()
    per_loc = spend.groupby(["location_id", "day"])["amount_minor"].sum()
    rows = []
    for (loc, day, tag), amount in per_tag.items():
        total = int(per_loc[(loc, day)])
        share = (Decimal(int(amount)) / Decimal(total)).quantize(PLACES) if total else None
        rows.append({"location_id": loc, "day": day, "tag_code": tag, "spend_minor": int(amount), "share": share})
    return rows


def seven_day(daily_rows: list[dict], location_id: str, end_day: str, currency: str, days: int = 7) -> dict:
    """The figures of ``days`` days ending ``end_day`` (included) over the days having both spend and statistics."""
    end = date.fromisoformat(end_day)
    span = {(end - timedelta(days=i)).isoformat() for i in range(days)}
    used = [
        r
        for r in daily_rows
        if r["location_id"] == location_id and r["day"] in span and r["has_spend"] and r["has_statistics"]
    ]
    spend = sum(r["spend_minor"] for r in used)
    impressions = None if any(r["impressions"] is None for r in used) else sum(r["impressions"] for r in used)
    engaged = None if any(r["engagements"] is None for r in used) else sum(r["engagements"] for r in used)
    return {
        "location_id": location_id,
        "window": f"{min(span)}..{end_day}",
        "days_used": len(used),
        "spend_minor": spend,
        "impressions": impressions,
        "engagements": engaged,
        "cost_per_1k_impressions": ratio(spend, currency, impressions, 1000),
        "cost_per_engagement": ratio(spend, currency, engaged),
    }
