"""The warehouse's health store: the ledger's health reads, the stale alerts sent and the retention, on both
backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from ghl_pleo.warehouse import TS_FORMAT, change
from tests.warehouse.ledger_rows import add_row

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TAGS_DAG_ID = "ghl_pleo_tags_sync"


def test_health_reads_leave_out_dry_runs_and_older_rows(wh):
    add_row(wh, TAGS_DAG_ID, "old", "L1", NOW - timedelta(days=40), 5)
    add_row(wh, TAGS_DAG_ID, "new", "L1", NOW - timedelta(hours=2), 5, "failed")
    add_row(wh, TAGS_DAG_ID, "dry", "L1", NOW - timedelta(hours=1), 5, dry_run=1)
    add_row(wh, TAGS_DAG_ID, "skip", "L2", NOW - timedelta(hours=3), 2, "skipped")
    runs = wh.health.runs_since(NOW - timedelta(days=30))
    assert sorted(runs["run_id"]) == ["new", "skip"] and "error_kind" in runs.columns
    last = {r.location_id: r for r in wh.health.last_successes().itertuples(index=False)}
    assert last["L1"].last_success_at == "2026-10-18T12:00:05.000000Z"
    assert last["L1"].first_seen_at == "2026-10-18T12:00:00.000000Z"
    assert last["L1"].last_run_at == "2026-11-27T10:00:00.000000Z"  # the dry run is not counted
    assert last["L2"].last_success_at == "2026-11-27T09:00:02.000000Z"


def test_stale_alerts_are_replaced_and_ended_in_one_go(wh):
    assert wh.health.stale_alerts() == {}
    wh.health.record_stale_alerts([("dag", "L1", "2026-11-01"), ("dag", "L2", "")], [])
    wh.health.record_stale_alerts([("dag", "L1", "2026-11-02")], [("dag", "L2"), ("dag", "L9")])
    assert wh.health.stale_alerts() == {("dag", "L1"): "2026-11-02"}


def test_cleanup_keeps_the_latest_success_per_location_and_recent_rows(wh):
    add_row(wh, TAGS_DAG_ID, "old-ok", "L1", NOW - timedelta(days=100), 5)
    add_row(wh, TAGS_DAG_ID, "older-ok", "L1", NOW - timedelta(days=120), 5)
    add_row(wh, TAGS_DAG_ID, "old-failed", "L1", NOW - timedelta(days=95), 5, "failed")
    add_row(wh, TAGS_DAG_ID, "recent", "L2", NOW - timedelta(days=3), 5)
    wh.ledger.log_changes(
        [
            change(TAGS_DAG_ID, "older-ok", 1, "L1", "tag", "create", code="x", at=NOW - timedelta(days=120)),
            change(TAGS_DAG_ID, "recent", 1, "L2", "tag", "create", code="y", at=NOW - timedelta(days=3)),
        ]
    )
    deleted = wh.health.cleanup(90, now=NOW)
    left = {r["run_id"] for r in wh.db.query("SELECT run_id FROM sync_location_runs")}
    assert left == {"old-ok", "recent"} and deleted["sync_location_runs"] == 2
    assert deleted["pleo_change_log"] == 1  # the 120-day-old change goes, the 3-day-old one stays
    assert [c["code"] for c in wh.ledger.changes()] == ["y"]
    assert wh.health.cleanup(1, now=NOW)["pleo_change_log"] == 1


def test_cleanup_removes_old_rejected_records_and_events_and_spares_sync_state(wh):
    old = NOW - timedelta(days=100)
    rejected = pd.DataFrame([{"record_key": "k", "rule": "r", "reason": "x", "raw_value": "v"}])
    wh.ledger.save_rejected("dag", "run1", "L1", "tag", rejected)
    wh.ledger.add_event("dag", "run1", "L1", "no_accounts", "x")
    wh.state.record_push("L1", "c", "p", "n", False, "create", "run1")
    recent = NOW - timedelta(days=3)
    with wh.db.begin() as conn:  # age the rejected record and the sync state; the event stays recent
        for table, column, at in (
            ("rejected_records", "rejected_at", old),
            ("pleo_tags_pushed", "pushed_at", old),
            ("sync_run_events", "created_at", recent),
        ):
            conn.execute(text(f"UPDATE {table} SET {column} = :t"), {"t": at.strftime(TS_FORMAT)})
    deleted = wh.health.cleanup(90, now=NOW)
    assert deleted["rejected_records"] == 1 and deleted["sync_run_events"] == 0  # the event is 3 days old
    assert len(wh.db.query("SELECT * FROM pleo_tags_pushed")) == 1
    assert wh.health.cleanup(90, now=recent + timedelta(days=91))["sync_run_events"] == 1


def test_cleanup_removes_staged_pages_a_killed_try_left_after_a_day_and_keeps_a_running_reads(wh):
    """A finished read drops its own pages; a try killed mid-read leaves them: they go by age, a running read's
    (minutes old) stay, whatever the ledger retention."""
    wh.staging.stage_page("L1", "killed-run", 1, [{"_id": "a"}, {"_id": "b"}])
    wh.staging.stage_page("L1", "running-run", 1, [{"_id": "a"}])
    with wh.db.begin() as conn:
        for run_id, age in (("killed-run", timedelta(days=1, minutes=1)), ("running-run", timedelta(minutes=5))):
            conn.execute(
                text("UPDATE ghl_tag_pages SET fetched_at = :t WHERE run_id = :r"),
                {"t": (NOW - age).strftime(TS_FORMAT), "r": run_id},
            )
    assert wh.health.cleanup(90, now=NOW)["ghl_tag_pages"] == 2
    assert [r["run_id"] for r in wh.db.query("SELECT run_id FROM ghl_tag_pages")] == ["running-run"]
