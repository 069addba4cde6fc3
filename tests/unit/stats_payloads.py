"""Statistics payloads shared by test_social_stats.py and test_stats_metadata.py: a UTC day, a full v3 payload."""

from __future__ import annotations

from datetime import UTC, datetime

from ghl_pleo.social_stats import Window

DAY = Window.for_interval(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
FULL = {  # every part of a v3 results payload, two platforms
    "dayRange": ["Sun"],
    "totals": {"posts": 3, "likes": 40, "followers": 12, "impressions": 900, "comments": 7},
    "postPerformance": {
        "posts": {"facebook": [1], "instagram": [2]},
        "impressions": [900],
        "likes": [40],
        "comments": [7],
    },
    "breakdowns": {
        "posts": {
            "total": 3,
            "totalChange": 50.0,
            "platforms": {"facebook": {"value": 1, "change": 0}, "instagram": {"value": 2, "change": 100}},
        },
        "impressions": {
            "total": 900,
            "totalChange": -10.0,
            "platforms": {"facebook": {"value": 400, "change": 0}, "instagram": {"value": 500, "change": 0}},
        },
        "reach": {
            "total": 500,
            "totalChange": 25.0,
            "platforms": {"facebook": {"value": 200, "change": 0}, "instagram": {"value": 300, "change": 0}},
        },
        "engagement": {
            "facebook": {"likes": 10, "comments": 2, "shares": 1, "change": 5},
            "instagram": {"likes": 30, "comments": 5, "shares": 4, "change": -5},
        },
    },
    "platformTotals": {"impressions": {"facebook": {"total": 400, "series": [400]}}},
    "demographics": {"gender": {"totals": {"male": {"total": 1, "percentage": 100}}}},
}
