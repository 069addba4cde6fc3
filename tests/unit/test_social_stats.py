"""Statistics: the day window, a full v3 payload, combining batches, byte-stable metadata merges."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from ghl_pleo.social_stats import (
    Window,
    combine_batches,
    merge_metadata,
    metrics_json,
    owned_metadata,
    request_bodies,
    stat_id,
    statistics_frame,
)

UTC = UTC
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


def test_metrics_json_is_compact_sorted_and_byte_stable():
    one = metrics_json(DAY, combine_batches([FULL]), ["posts", "likes", "reach"], {})
    two = metrics_json(DAY, combine_batches([copy.deepcopy(FULL)]), ["reach", "likes", "posts"], {})
    assert one == two
    assert one == (
        '{"change":{"posts":50,"reach":25},"totals":{"likes":40,"posts":3,"reach":500},'
        '"window":{"end":"2026-11-01T23:59:59.999Z","start":"2026-11-01T00:00:00.000Z"}}'
    )


def history(*days):
    return pd.DataFrame(
        [
            {
                "location_id": "L1",
                "day": d,
                "stat_id": f"L1-{d.replace('-', '')}",
                "window_start": f"{d}T00:00:00.000Z",
                "window_end": f"{d}T23:59:59.999Z",
                "metrics": "{}",
            }
            for d in days
        ]
    )


def test_pleo_gets_the_newest_day_the_warehouse_holds():
    frame = statistics_frame(history("2026-11-03", "2026-11-01", "2026-11-02"))
    assert frame[["statId", "locationId", "timestamp"]].to_dict("records") == [
        {"statId": "L1-20261103", "locationId": "L1", "timestamp": "2026-11-03T23:59:59.999Z"}
    ]


def test_metadata_merge_keeps_foreign_keys_and_is_a_no_op_when_unchanged():
    rec = statistics_frame(history("2026-11-01")).to_dict("records")[0]
    owned = owned_metadata(rec)
    assert owned == {
        "metrics": "{}",
        "stat_id": "L1-20261101",
        "stats_window": "2026-11-01T00:00:00.000Z/2026-11-01T23:59:59.999Z",
        "stats_timestamp": "2026-11-01T23:59:59.999Z",
        "ghl_location_id": "L1",
    }
    merged = merge_metadata({"finance_owner": "ana", "stat_id": "old"}, owned)
    assert merged["finance_owner"] == "ana" and merged["stat_id"] == "L1-20261101"
    assert merge_metadata(merged, owned) is None
