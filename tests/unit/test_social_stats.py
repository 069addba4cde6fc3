"""Statistics: the day window, a full v3 payload, combining batches."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from ghl_pleo.social_stats import Window, combine_batches, request_bodies, stat_id
from ghl_pleo.stats_metadata import metrics_json
from tests.unit.stats_payloads import DAY, FULL


def test_the_window_is_the_utc_day_with_an_inclusive_end_and_the_day_before():
    assert DAY.as_range() == {"startDate": "2026-11-01T00:00:00.000Z", "endDate": "2026-11-01T23:59:59.999Z"}
    assert DAY.previous().as_range() == {"startDate": "2026-10-31T00:00:00.000Z", "endDate": "2026-10-31T23:59:59.999Z"}
    assert stat_id("L1", DAY) == "L1-20261101"


def test_an_empty_data_interval_is_refused():
    point = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="CronDataIntervalTimetable"):
        Window.for_interval(point, point)


def test_request_bodies_batch_profiles_by_100():
    bodies = request_bodies([f"p{i}" for i in range(230)] + ["p0"], DAY)
    assert [len(b["profileIds"]) for b in bodies] == [100, 100, 30]
    assert bodies[0]["currentRange"] == DAY.as_range() and bodies[0]["prevRange"] == DAY.previous().as_range()


def test_a_full_payload_flattens_to_totals_changes_and_platforms():
    combined = combine_batches([FULL])
    assert combined["totals"] == {
        "posts": 3,
        "likes": 40,
        "followers": 12,
        "impressions": 900,
        "comments": 7,
        "reach": 500,
        "shares": 5,
    }
    assert combined["change"] == {"posts": 50.0, "impressions": -10.0, "reach": 25.0}
    assert combined["platforms"] == [
        {"platform": "facebook", "posts": 1, "impressions": 400, "reach": 200, "likes": 10, "comments": 2, "shares": 1},
        {
            "platform": "instagram",
            "posts": 2,
            "impressions": 500,
            "reach": 300,
            "likes": 30,
            "comments": 5,
            "shares": 4,
        },
    ]


def test_missing_parts_are_left_out_not_invented():
    partial = {"totals": {"posts": 2}, "breakdowns": {"posts": {"total": 2}}}
    combined = combine_batches([partial])
    assert combined["totals"] == {"posts": 2} and combined["change"] == {"posts": None}
    doc = json.loads(metrics_json(DAY, combined, ["posts", "reach"], {}))
    assert doc["totals"] == {"posts": 2}
    assert json.loads(metrics_json(DAY, combined, ["posts", "reach"], {"reach": 0}))["totals"] == {
        "posts": 2,
        "reach": 0,
    }
    assert combine_batches([{}])["totals"] == {}


def test_two_batches_add_totals_and_recompute_changes_from_combined_numbers():
    a = copy.deepcopy(FULL)
    b = copy.deepcopy(FULL)
    # batch a: posts 3 now, 2 before (+50 %); batch b: posts 1 now, 4 before (-75 %)
    b["totals"]["posts"] = 1
    b["breakdowns"]["posts"] = {"total": 1, "totalChange": -75.0, "platforms": {"tiktok": {"value": 1, "change": -75}}}
    combined = combine_batches([a, b])
    assert combined["totals"]["posts"] == 4 and combined["totals"]["likes"] == 80
    assert combined["change"]["posts"] == round((4 - 6) / 6 * 100, 2)  # -33.33, not the average (-12.5)
    assert combined["change"]["impressions"] == -10.0
    assert {p["platform"] for p in combined["platforms"]} == {"facebook", "instagram", "tiktok"}


def test_a_change_that_cannot_be_recovered_is_none_not_guessed():
    a = {"breakdowns": {"reach": {"total": 0, "totalChange": -100.0}}}
    b = {"breakdowns": {"reach": {"total": 10, "totalChange": 0.0}}}
    assert combine_batches([a, b])["change"]["reach"] is None
