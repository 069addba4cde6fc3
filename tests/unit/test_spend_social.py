"""Spend against social statistics: engagements, costs per 1,000 impressions and per engagement, seven days."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from ghl_pleo.spend_attribution import DAILY_COLUMNS
from ghl_pleo.spend_social import seven_day, social_daily, tag_shares


def spend_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "company_id": "C",
                "location_id": loc,
                "tag_code": t,
                "day": d,
                "currency": "EUR",
                "amount_minor": a,
                "entries": 1,
            }
            for loc, t, d, a in rows
        ],
        columns=DAILY_COLUMNS,
    )


STATS = [
    {
        "location_id": "L1",
        "day": "2026-11-30",
        "impressions": 8000.0,
        "reach": 5000.0,
        "likes": 10.0,
        "comments": 5.0,
        "shares": 5.0,
    },
    {"location_id": "L1", "day": "2026-11-29", "impressions": 0.0, "reach": 0.0, "likes": 1.0, "comments": 2.0},
    {"location_id": "L1", "day": "2026-11-28", "impressions": 1000.0, "likes": 0, "comments": 0, "shares": 0},
]


def by_day(rows):
    return {r["day"]: r for r in rows}


def test_costs_are_exact_decimals_and_engagements_need_all_three():
    spend = spend_frame(
        [("L1", "a", "2026-11-30", 1000), ("L1", "b", "2026-11-30", 2000), ("L1", "a", "2026-11-29", 5)]
    )
    rows = by_day(social_daily(spend, STATS, "EUR"))
    day = rows["2026-11-30"]
    assert day["spend_minor"] == 3000 and day["impressions"] == 8000 and day["engagements"] == 20
    assert day["cost_per_1k_impressions"] == Decimal("3.7500")  # 30.00 EUR x 1000 / 8000
    assert day["cost_per_engagement"] == Decimal("1.5000")
    assert isinstance(day["cost_per_1k_impressions"], Decimal)
    missing_shares = rows["2026-11-29"]
    assert missing_shares["engagements"] is None and missing_shares["cost_per_engagement"] is None
    assert missing_shares["cost_per_1k_impressions"] is None  # zero impressions


def test_zero_engagements_and_days_without_spend_or_statistics():
    rows = by_day(social_daily(spend_frame([("L1", "a", "2026-11-27", 700)]), STATS, "EUR"))
    assert rows["2026-11-28"]["engagements"] == 0 and rows["2026-11-28"]["cost_per_engagement"] is None
    assert rows["2026-11-28"]["spend_minor"] == 0 and rows["2026-11-28"]["cost_per_1k_impressions"] == Decimal(0)
    assert rows["2026-11-27"]["impressions"] is None and rows["2026-11-27"]["cost_per_1k_impressions"] is None


def test_per_tag_spend_and_share_of_the_location():
    spend = spend_frame(
        [("L1", "a", "2026-11-30", 1000), ("L1", "b", "2026-11-30", 2000), ("L1", "a", "2026-11-29", 5)]
    )
    shares = {(r["day"], r["tag_code"]): r["share"] for r in tag_shares(spend)}
    assert shares == {
        ("2026-11-30", "a"): Decimal("0.3333"),
        ("2026-11-30", "b"): Decimal("0.6667"),
        ("2026-11-29", "a"): Decimal(1),
    }
    refunded = spend_frame([("L1", "a", "2026-11-30", 500), ("L1", "b", "2026-11-30", -500)])
    assert [r["share"] for r in tag_shares(refunded)] == [None, None]


def test_seven_days_use_only_days_with_both_spend_and_statistics():
    spend = spend_frame(
        [
            ("L1", "a", "2026-11-30", 3000),
            ("L1", "a", "2026-11-28", 1000),
            ("L1", "a", "2026-11-27", 99999),
            ("L1", "a", "2026-11-23", 50000),
        ]  # 11-27 has no statistics; 11-23 is outside the seven days
    )
    stats = STATS + [{"location_id": "L1", "day": "2026-11-23", "impressions": 1.0}]
    figures = seven_day(social_daily(spend, stats, "EUR"), "L1", "2026-11-30", "EUR")
    assert figures["days_used"] == 2 and figures["window"] == "2026-11-24..2026-11-30"
    assert figures["spend_minor"] == 4000 and figures["impressions"] == 9000 and figures["engagements"] == 20
    assert figures["cost_per_1k_impressions"] == Decimal("4.4444") and figures["cost_per_engagement"] == Decimal(
        "2.0000"
    )


def test_seven_days_without_any_usable_day():
    figures = seven_day([], "L1", "2026-11-30", "EUR")
    assert figures["days_used"] == 0 and figures["spend_minor"] == 0
    assert figures["cost_per_1k_impressions"] is None and figures["cost_per_engagement"] is None
