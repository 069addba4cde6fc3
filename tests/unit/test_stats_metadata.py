"""Statistics metadata: the byte-stable metrics JSON, the newest day per location, metadata merges."""

from __future__ import annotations

import copy

import pandas as pd

from ghl_pleo.social_stats import combine_batches
from ghl_pleo.stats_metadata import merge_metadata, metrics_json, owned_metadata, statistics_frame
from tests.unit.stats_payloads import DAY, FULL


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
