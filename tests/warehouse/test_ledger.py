"""The run ledger, the change log, rejected records and events, on both backends (the health reads, stale alerts
and retention: test_health.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ghl_pleo.warehouse import change
from ghl_pleo.warehouse.ledger import drift_flags

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_pushes_and_ledger_rows_are_one_per_key_across_reruns(wh):
    for name in ("Old", "New"):
        wh.state.record_push("L1", "code1", "p1", name, False, "create", "run1")
    assert wh.db.query("SELECT name FROM pleo_tags_pushed WHERE location_id = 'L1'") == [{"name": "New"}]
    for attempt in (1, 2):
        wh.ledger.start_location_run("dag", "run1", "L1", attempt)
        wh.ledger.finish_location_run("dag", "run1", "L1", "success", {"read": 3, "active": 2}, {"ghl": {}})
    runs = wh.ledger.location_runs("dag", "run1")
    assert len(runs) == 1 and runs[0]["try_number"] == 2 and runs[0]["counts"]["read"] == 3
    rejected = pd.DataFrame(
        [{"location_id": "L1", "record_key": "k", "rule": "empty_name", "reason": "r", "raw_value": "\u200b"}]
    )
    wh.ledger.save_rejected("dag", "run1", "L1", "tag", rejected)
    wh.ledger.save_rejected("dag", "run1", "L1", "tag", rejected)
    assert len(wh.db.query("SELECT * FROM rejected_records")) == 1


FLAT = (
    "SELECT status, dry_run, duration_s, records_read, records_synced, records_rejected, requests_total, retries, "
    "min_ratelimit_remaining, drift_flags, error_kind FROM sync_location_runs WHERE run_id = :r"
)


def test_finishing_a_run_fills_the_flat_columns_the_dashboard_reads(wh):
    wh.ledger.start_location_run("dag", "run1", "L1", 1, dry_run=True)
    wh.ledger.log_changes(
        [change("dag", "run1", 1, "L1", "tag", "create", code=c) for c in ("a", "b")]
        + [change("dag", "run1", 1, "L2", "tag", "create", code="c")]
    )
    requests = {
        "ghl": {"total_requests": 5, "retries": 1, "min_ratelimit_remaining": 40},
        "pleo": {"total_requests": 3, "retries": 2, "min_ratelimit_remaining": 7},
        "note": "not a hook",
    }
    wh.ledger.finish_location_run(
        "dag",
        "run1",
        "L1",
        "failed",
        {"read": 9, "rejected": 2, "schema_drift": True},
        requests,
        error_kind="data_quality",
        error="gate failed",
    )
    row = wh.db.query(FLAT, {"r": "run1"})[0]
    assert row["duration_s"] is not None and 0 <= row["duration_s"] < 60
    assert {k: v for k, v in row.items() if k != "duration_s"} == {
        "status": "failed",
        "dry_run": 1,
        "records_read": 9,
        "records_synced": 2,
        "records_rejected": 2,
        "requests_total": 8,
        "retries": 3,
        "min_ratelimit_remaining": 7,
        "drift_flags": "schema_drift,quality_gate",
        "error_kind": "data_quality",
    }
    wh.ledger.start_location_run("dag", "run2", "L1", 1)
    wh.ledger.finish_location_run("dag", "run2", "L1", "success", {"profiles": 4, "rejected": True}, {})
    row = wh.db.query(FLAT, {"r": "run2"})[0]
    assert (
        row["records_read"],
        row["records_rejected"],
        row["requests_total"],
        row["min_ratelimit_remaining"],
        row["drift_flags"],
    ) == (4, None, 0, None, None)


def test_drift_flags_name_each_event_once():
    assert drift_flags({}, None) is None
    assert drift_flags({"archives_held": 3, "guard_released": 1}, "drift_guard") == "archive_guard,guard_released"
    assert drift_flags({"schema_drift": 1}, "schema_drift") == "schema_drift"
    assert drift_flags({}, "upstream_outage") is None


def test_later_counts_merge_into_the_row_and_recount_its_writes(wh):
    wh.ledger.update_location_counts("dag", "run1", "L1", {"metadata_written": 1})  # no row: nothing happens
    assert wh.ledger.location_runs("dag", "run1") == []
    wh.ledger.start_location_run("dag", "run1", "L1", 1)
    wh.ledger.finish_location_run("dag", "run1", "L1", "success", {"profiles": 2, "metadata_written": 0}, {})
    wh.ledger.log_changes([change("dag", "run1", 1, "L1", "group_metadata", "update")])
    wh.ledger.update_location_counts("dag", "run1", "L1", {"metadata_written": 1})
    assert wh.ledger.location_runs("dag", "run1")[0]["counts"] == {"profiles": 2, "metadata_written": 1}
    assert wh.db.query("SELECT records_synced FROM sync_location_runs") == [{"records_synced": 1}]


def test_the_latest_run_is_the_one_started_last(wh):
    runs = (
        ("r1", "success", False, 1),
        ("r2", "success", False, 2),
        ("r3", "failed", False, 3),
        ("r4", "success", True, 4),
        ("r5", "success", False, 5),
    )
    for run_id, status, dry, read in runs:
        wh.ledger.start_location_run("dag", run_id, "L1", 1, dry_run=dry)
        wh.ledger.finish_location_run("dag", run_id, "L1", status, {"read": read}, {})
    assert wh.ledger.latest_run_id("dag") == "r5" and wh.ledger.latest_run_id("other") is None


def test_events_are_one_per_kind_and_location(wh):
    wh.ledger.add_event("dag", "run1", "L2", "schema_drift", "first")
    wh.ledger.add_event("dag", "run1", "L1", "no_accounts", "x")
    wh.ledger.add_event("dag", "run1", "L2", "schema_drift", "second")
    wh.ledger.add_event("dag", "run2", "L1", "no_accounts", "other run")
    assert wh.ledger.events("dag", "run1") == [
        {"location_id": "L1", "event": "no_accounts", "detail": "x"},
        {"location_id": "L2", "event": "schema_drift", "detail": "second"},
    ]


def test_the_change_log_by_run_and_its_counts(wh):
    wh.ledger.log_changes([])
    wh.ledger.log_changes(
        [
            change("dag", "run1", 1, "L1", "tag", "create", code="a", at=NOW),
            change("dag", "run1", 1, "L1", "tag", "create", code="b", at=NOW + timedelta(seconds=1)),
            change(
                "dag",
                "run1",
                1,
                "L2",
                "tag",
                "rename",
                code="c",
                before={"name": "x"},
                after={"name": "y"},
                at=NOW + timedelta(seconds=2),
            ),
            change("dag", "run2", 1, "L1", "tag_group", "create", at=NOW - timedelta(seconds=1)),
            change("other", "run1", 1, "L1", "tag", "archive", at=NOW),
        ]
    )
    assert [c["code"] for c in wh.ledger.changes("dag", "run1")] == ["a", "b", "c"]
    assert [c["entity"] for c in wh.ledger.changes("dag")] == ["tag_group", "tag", "tag", "tag"]
    assert len(wh.ledger.changes()) == 5 and len(wh.ledger.changes(run_id="run1")) == 4
    renamed = wh.ledger.changes("dag", "run1")[2]
    assert (renamed["before"], renamed["after"], renamed["changed_at"]) == (
        {"name": "x"},
        {"name": "y"},
        "2026-11-27T12:00:02.000000Z",
    )
    counts = sorted((r["entity"], r["action"], int(r["n"])) for r in wh.ledger.change_counts("dag", "run1"))
    assert counts == [("tag", "create", 2), ("tag", "rename", 1)]


def test_error_streak_counts_the_latest_real_runs_that_failed_the_same_way(wh):
    from tests.warehouse.ledger_rows import add_row

    kind = "incomplete_read"
    add_row(wh, "dag", "r0", "L1", NOW - timedelta(hours=5), 1, "failed", error_kind=kind)
    add_row(wh, "dag", "r1", "L1", NOW - timedelta(hours=4), 1)  # a success breaks the streak
    for i in (3, 2, 1):
        add_row(wh, "dag", f"s{i}", "L1", NOW - timedelta(hours=i), 1, "failed", error_kind=kind)
    add_row(wh, "dag", "dry", "L1", NOW, 1, "failed", dry_run=1)  # dry runs do not count
    add_row(wh, "dag", "o1", "L2", NOW, 1, "failed")  # another location, another kind
    assert wh.ledger.error_streak("dag", "L1", kind) == 3
    assert wh.ledger.error_streak("dag", "L1", kind, limit=2) == 2
    assert wh.ledger.error_streak("dag", "L2", kind) == 0
    add_row(wh, "dag", "s0", "L1", NOW + timedelta(hours=1), 1, "failed")  # the newest failed otherwise
    assert wh.ledger.error_streak("dag", "L1", kind) == 0
