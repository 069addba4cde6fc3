"""Sync state: what Pleo confirmed (with its change-log row in the same transaction), the statistics history and
the field sets seen, on both backends."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import IntegrityError

from ghl_pleo.warehouse import change

pytestmark = pytest.mark.integration


def test_change_log_rows_are_written_with_the_sync_state_and_dry_runs_leave_the_state_alone(wh):
    real = change("dag", "run1", 1, "L1", "tag", "create", code="t1", pleo_id="P1", after={"name": "A"})
    wh.state.record_push("L1", "t1", "P1", "A", False, "create", "run1", change=real)
    planned = change(
        "dag",
        "run2",
        1,
        "L1",
        "tag",
        "rename",
        code="t1",
        pleo_id="P1",
        before={"name": "A"},
        after={"name": "B"},
        dry_run=True,
    )
    wh.state.record_push("L1", "t1", "P1", "B", False, "rename", "run2", change=planned)
    assert wh.db.query("SELECT name, run_id FROM pleo_tags_pushed") == [{"name": "A", "run_id": "run1"}]
    log = wh.ledger.changes("dag")
    assert [(c["run_id"], c["action"], c["dry_run"], c["after"]) for c in log] == [
        ("run1", "create", 0, {"name": "A"}),
        ("run2", "rename", 1, {"name": "B"}),
    ]
    assert log[1]["before"] == {"name": "A"}


def test_a_push_whose_change_row_fails_leaves_no_sync_state(wh):
    """One transaction: when the change-log row cannot be written, the pushed state is rolled back with it."""
    first = change("dag", "run1", 1, "L1", "tag", "create", code="t1", after={"name": "A"})
    wh.state.record_push("L1", "t1", "P1", "A", False, "create", "run1", change=first)
    with pytest.raises(IntegrityError):  # the same change_id again
        wh.state.record_push("L1", "t1", "P1", "B", False, "rename", "run2", change=first)
    assert wh.db.query("SELECT name, last_action FROM pleo_tags_pushed") == [{"name": "A", "last_action": "create"}]
    meta = change("dag", "run1", 1, "L1", "group_metadata", "update", after={"k": 1})
    wh.state.record_metadata_push("L1", "G1", "S1", {"k": 1}, "run1", change=meta)
    with pytest.raises(IntegrityError):
        wh.state.record_metadata_push("L1", "G1", "S2", {"k": 2}, "run2", change=meta)
    assert wh.db.query("SELECT stat_id FROM pleo_group_metadata_pushed") == [{"stat_id": "S1"}]


def test_group_metadata_is_one_row_per_location_and_a_dry_run_only_logs(wh):
    wh.state.record_metadata_push("L1", "G1", "S1", {"b": 2, "a": 1}, "run1")
    wh.state.record_metadata_push("L1", "G1", "S2", {"a": 3}, "run2")
    planned = change("dag", "run3", 1, "L1", "group_metadata", "update", after={"a": 4}, dry_run=True)
    wh.state.record_metadata_push("L1", "G1", "S3", {"a": 4}, "run3", change=planned)
    rows = wh.db.query("SELECT location_id, group_id, stat_id, metadata, run_id FROM pleo_group_metadata_pushed")
    assert rows == [{"location_id": "L1", "group_id": "G1", "stat_id": "S2", "metadata": '{"a": 3}', "run_id": "run2"}]
    assert [(c["run_id"], c["dry_run"]) for c in wh.ledger.changes()] == [("run3", 1)]


def stats_row(location_id: str, day: str, profiles: int) -> dict:
    return {
        "location_id": location_id,
        "day": day,
        "stat_id": f"{location_id}-{day}",
        "window_start": f"{day}T00",
        "window_end": f"{day}T23",
        "profile_count": profiles,
        "batches": 1,
        "metrics": json.dumps({"p": profiles}),
        "platforms": "[]",
        "run_id": "run1",
    }


def test_statistics_are_one_row_per_location_and_day_and_filtered_by_location(wh):
    wh.state.save_statistics(stats_row("L2", "2026-11-02", 1))
    wh.state.save_statistics(stats_row("L1", "2026-11-02", 2))
    wh.state.save_statistics(stats_row("L1", "2026-11-01", 3))
    wh.state.save_statistics(stats_row("L1", "2026-11-02", 4))  # re-running a day replaces it
    history = wh.state.statistics_history()
    assert list(zip(history["location_id"], history["day"], history["profile_count"], strict=True)) == [
        ("L1", "2026-11-01", 3),
        ("L1", "2026-11-02", 4),
        ("L2", "2026-11-02", 1),
    ]
    only = wh.state.statistics_history(["L2"])
    assert list(only["location_id"]) == ["L2"] and list(only.index) == [0]
    assert wh.state.statistics_history([]).empty


def test_schema_fields_are_replaced_per_endpoint_and_location(wh):
    assert wh.state.schema_fields("tags", "L1") is None
    wh.state.save_schema_fields("tags", "L1", {"name": {"str"}, "count": {"int", "null"}})
    wh.state.save_schema_fields("tags", "L2", {"other": {"str"}})
    wh.state.save_schema_fields("tags", "L1", {"name": {"str", "null"}})
    assert wh.state.schema_fields("tags", "L1") == {"name": {"str", "null"}}
    assert wh.state.schema_fields("tags", "L2") == {"other": {"str"}}
    wh.state.save_schema_fields("tags", "L2", {})
    assert wh.state.schema_fields("tags", "L2") is None
