"""The archive guard's baseline, on both backends: the highest count of the location's good real runs since the
later of its last release (by a run that then succeeded) and the window's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ghl_pleo.warehouse import TS_FORMAT

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def finish(wh, run_id: str, read: int, age_days: float, status: str = "success", dry: bool = False, loc="L1"):
    wh.ledger.start_location_run("dag", run_id, loc, 1, dry_run=dry)
    wh.ledger.finish_location_run("dag", run_id, loc, status, {"read": read, "active": read - 1}, {})
    at = (NOW - timedelta(days=age_days)).strftime(TS_FORMAT)
    with wh.db.begin() as conn:
        conn.execute(text("UPDATE sync_location_runs SET finished_at = :at WHERE run_id = :r"), {"at": at, "r": run_id})


def release(wh, run_id: str, age_days: float, loc="L1"):
    wh.ledger.add_event("dag", run_id, loc, "archive_guard_released", "released by someone")
    at = (NOW - timedelta(days=age_days)).strftime(TS_FORMAT)
    with wh.db.begin() as conn:
        conn.execute(text("UPDATE sync_run_events SET created_at = :at WHERE run_id = :r"), {"at": at, "r": run_id})


def test_the_baseline_is_the_highest_good_real_run_in_the_window(wh):
    finish(wh, "old", 500, age_days=8)  # before the window
    finish(wh, "r1", 100, age_days=5)
    finish(wh, "r2", 75, age_days=4)
    finish(wh, "failed", 900, age_days=3, status="failed")
    finish(wh, "dry", 800, age_days=2, dry=True)
    finish(wh, "other-location", 700, age_days=2, loc="L2")
    finish(wh, "current", 600, age_days=1)  # this run's own earlier try is no baseline
    base = wh.guard.baseline("dag", "L1", "current", 7, now=NOW)
    assert (base["read"], base["active"], base["runs"]) == (100, 99, 2)
    assert wh.guard.baseline("dag", "L1", "current", 9, now=NOW)["read"] == 500
    assert wh.guard.baseline("dag", "L3", "current", 7, now=NOW) is None


def test_a_successful_release_starts_the_baseline_again_and_a_failed_one_does_not(wh):
    finish(wh, "r1", 100, age_days=5)
    release(wh, "r2", age_days=4)
    finish(wh, "r2", 40, age_days=4 - 1 / 24)  # the released run: finished after its release was noted
    finish(wh, "r3", 45, age_days=3)
    assert wh.guard.baseline("dag", "L1", "now", 7, now=NOW)["read"] == 45
    release(wh, "r4", age_days=2)
    finish(wh, "r4", 10, age_days=2 - 1 / 24, status="failed")  # its release did not end in a good sync
    assert wh.guard.baseline("dag", "L1", "now", 7, now=NOW)["read"] == 45
    assert wh.guard.last_release_at("dag", "L1", "now") == (NOW - timedelta(days=4)).strftime(TS_FORMAT)
