"""One writer per unit of work (plugins/ghl_pleo/leases.py) on a real SQLite warehouse: a second run waits a
bounded time, then skips (tags) or fails retryably (statistics); a retry of a killed try of the same run takes the
lease over at once while another run is refused until it lapses; the lease is renewed while held and released
however the work ends; the summary shows a skipped location without failing the run."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ghl_pleo.errors import LockedError
from ghl_pleo.leases import LeaseSettings, acquire, leased, location_unit
from ghl_pleo.run_context import Hooks, SyncRun
from ghl_pleo.summary import run_summary
from ghl_pleo.warehouse import Warehouse

DAG = "ghl_pleo_tags_sync"
UNIT = location_unit(DAG, "L1")
NO_WAIT = LeaseSettings(ttl_s=300, wait_s=0)


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    return Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")


def sync_step(calls: list):
    def step(run, hooks, *args, **kwargs):
        calls.append((run.run.run_id, run.run.try_number, args, kwargs))
        run.counts["read"] = 3
        return {"location_id": run.location_id, "status": "success"}

    return step


def run_location(wh: Warehouse, run_id: str, step, *, try_number: int = 1, dry_run: bool = False, **kw) -> dict:
    run = SyncRun(wh, DAG, run_id, try_number, dry_run)
    with run.location("L1", Hooks()) as location_run:
        return leased(location_run, Hooks(), step, "arg", settings=kw.pop("settings", NO_WAIT), **kw)


def ledger(wh: Warehouse, run_id: str) -> dict:
    return wh.ledger.location_runs(DAG, run_id)[0]


def test_a_second_run_of_a_current_state_sync_skips_the_location_with_a_note_naming_the_holder(wh):
    holder = acquire(wh.leases, UNIT, f"{DAG}/run-a", settings=NO_WAIT)
    calls: list = []
    out = run_location(wh, "run-b", sync_step(calls), skip_when_locked=True)
    assert calls == [] and out["status"] == "skipped_locked" and out["holder"] == f"{DAG}/run-a"
    row = ledger(wh, "run-b")
    assert row["status"] == "skipped_locked" and row["error_kind"] is None
    (note,) = wh.ledger.events(DAG, "run-b")
    assert note["event"] == "locked" and f"{DAG}/run-a" in note["detail"]
    text, failed = run_summary(wh, DAG, "run-b", ["L1"])
    assert failed == [] and "skipped_locked" in text and f"{DAG}/run-a" in text
    head, line = text.splitlines()[1:3]
    assert line.startswith("L1") and len(line) == len(head)  # the status column is as wide as its widest value
    holder.release()
    assert run_location(wh, "run-b", sync_step(calls), skip_when_locked=True)["status"] == "success"
    assert ledger(wh, "run-b")["status"] == "success" and wh.leases.get(UNIT) is None


def test_dated_work_fails_retryably_naming_the_holder(wh):
    with acquire(wh.leases, UNIT, f"{DAG}/run-a", settings=NO_WAIT):
        with pytest.raises(LockedError) as raised:
            run_location(wh, "run-b", sync_step([]), skip_when_locked=False)
    assert raised.value.kind == "locked" and not raised.value.fail_fast and raised.value.holder == f"{DAG}/run-a"
    row = ledger(wh, "run-b")
    assert row["status"] == "failed" and row["error_kind"] == "locked" and f"{DAG}/run-a" in row["error"]


def test_a_dry_run_holding_the_location_does_not_make_a_real_run_skip_it(wh):
    """A dry run writes nothing to Pleo: skipping behind it would leave the location unsynced; retry instead."""
    with acquire(wh.leases, UNIT, f"{DAG}/dry", settings=NO_WAIT, dry_run=True):
        with pytest.raises(LockedError, match="a dry run"):
            run_location(wh, "real", sync_step([]), skip_when_locked=True)
        assert run_location(wh, "dry-2", sync_step([]), skip_when_locked=True, dry_run=True)["status"] == (
            "skipped_locked"
        )


def test_the_retry_of_a_killed_try_takes_the_lease_at_once_and_another_run_is_refused_until_it_lapses(wh):
    """Try 1 of run-a was SIGKILLed while syncing: its lease row stays (no release, no heartbeat)."""
    assert wh.leases.take(UNIT, f"{DAG}/run-a", "try-1", 300) is None  # taken, then the process died
    calls: list = []
    other = run_location(wh, "run-b", sync_step(calls), skip_when_locked=True)
    assert other["status"] == "skipped_locked" and calls == []  # not lapsed (300 s): another run stays out
    retry = run_location(wh, "run-a", sync_step(calls), try_number=2, skip_when_locked=True)
    assert retry["status"] == "success" and [c[:2] for c in calls] == [("run-a", 2)]
    assert ledger(wh, "run-a")["status"] == "success" and wh.leases.get(UNIT) is None  # released at the end
    wh.leases.take(UNIT, f"{DAG}/run-c", "dead", 60, now=datetime.now(UTC) - timedelta(seconds=61))  # lapsed
    assert run_location(wh, "run-b", sync_step(calls), skip_when_locked=True)["status"] == "success"


def test_a_waiting_run_takes_the_lease_once_the_holder_releases_it_within_the_wait(wh):
    holder = acquire(wh.leases, UNIT, f"{DAG}/run-a", settings=NO_WAIT)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the holder finishes while the other run waits
        slept.append(seconds)
        holder.release()

    lease = acquire(wh.leases, UNIT, f"{DAG}/run-b", settings=LeaseSettings(300, 60), sleep=sleep)
    assert slept == [2.0] and wh.leases.get(UNIT)["holder"] == f"{DAG}/run-b"
    lease.release()


def test_the_wait_is_bounded(wh):
    wh.leases.take(UNIT, f"{DAG}/run-a", "a", 300)
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with pytest.raises(LockedError, match="run-a"):
        acquire(wh.leases, UNIT, f"{DAG}/run-b", settings=LeaseSettings(300, 5), sleep=sleep, clock=lambda: now[0])
    assert sum(slept) == 5 and len(slept) == 10


def test_the_lease_is_renewed_while_held_and_released_when_the_work_fails(wh):
    expiries: list[str] = []

    def slow_step(run, hooks, *args, **kwargs):
        expiries.append(wh.leases.get(UNIT)["expires_at"])
        deadline = time.monotonic() + 30  # a hang guard, not a timing bound: the heartbeat comes every 0.1 s
        while wh.leases.get(UNIT)["expires_at"] == expiries[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        expiries.append(wh.leases.get(UNIT)["expires_at"])
        raise RuntimeError("Pleo went away")

    with pytest.raises(RuntimeError):
        run_location(wh, "run-a", slow_step, skip_when_locked=True, settings=LeaseSettings(0.3, 0))
    assert expiries[1] > expiries[0] and wh.leases.get(UNIT) is None
    assert ledger(wh, "run-a")["status"] == "failed"
