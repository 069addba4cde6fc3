"""Runs that overlap, through a real scheduler (LocalExecutor, PostgreSQL for Airflow and the warehouse).

A backfill of the tags DAG with Airflow's default concurrency (10 runs at once, whatever the DAG's
``max_active_runs``), beside the scheduled run that unpausing starts, all syncing the same three locations from an
empty Pleo. The sandbox's delay switch holds every read of a location's Pleo tags (the start of its load) until a
run has met a location another run holds (or, without leases, until two runs load one location at once), so the
overlap is forced, not hoped for. One
writer per location: every run ends green, Pleo ends exactly right with one group per location and no code twice
(archived copies included), and the ledger shows the skips. Then a task killed inside its sync: its retry (same
run) takes the location's lease over at once, instead of waiting for it to lapse, and finishes the location.
"""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from bench.stack import AirflowStack
from tests.pleo_checks import assert_no_duplicate_codes, assert_pleo_matches_ghl
from tests.sandbox_client import warehouse_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TAGS = "ghl_pleo_tags_sync"
LISTING = "Pleo GET /v0/tag-groups/{groupId}/tags"  # a location's load starts with it
HELD = 3600  # seconds a Pleo tag listing is held (and Pleo's timeout): it is always released explicitly
FROM, TO = "2026-11-02T00:00:00Z", "2026-11-02T04:00:00Z"  # hourly logical dates: five backfill runs


@pytest.fixture(scope="module")
def stack(sandbox, postgres, tmp_path_factory):
    locations = sandbox.reset(locations=3, min_tags=20, max_tags=40)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0, delays={})
    sandbox.clear_faults()
    warehouse_url = postgres.new_database("wh")
    env = {
        **sandbox.env(locations, timeout_s=HELD),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.new_database("airflow"),
        **warehouse_env(warehouse_url),
        "GHL_PLEO_RETRY_DELAY_S": "2",
        "GHL_PLEO_LEASE_WAIT_S": "2",  # the TTL stays at its default (300 s): far longer than any wait here
        "GHL_PLEO_DATA_DOCS_DIR": str(tmp_path_factory.mktemp("docs")),
        "GHL_PLEO_HEALTH_SCHEDULE": "none",
    }
    s = AirflowStack(tmp_path_factory.mktemp("airflow-stack"), env, parallelism=8)
    s.warehouse_url = warehouse_url
    s.start()
    yield s
    sandbox.configure(delays={})
    s.stop()


def wait_for(what: str, condition, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout  # a hang guard only: each condition is met as soon as it can be
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(1)


def ledger(stack: AirflowStack) -> list[dict]:
    from ghl_pleo.warehouse import Warehouse

    return Warehouse(stack.warehouse_url).db.query(
        "SELECT run_id, location_id, status, try_number, error_kind FROM sync_location_runs WHERE dag_id = :d",
        {"d": TAGS},
    )


def leases(stack: AirflowStack) -> list[dict]:
    from ghl_pleo.warehouse import Warehouse

    return Warehouse(stack.warehouse_url).db.query("SELECT unit, holder FROM sync_leases")


def all_done(stack: AirflowStack) -> bool:
    runs = stack.dag_runs(TAGS)
    backfilled = [r for r in runs if r["run_type"] == "backfill"]
    return len(backfilled) >= 4 and all(r["state"] in ("success", "failed") for r in runs)


def test_a_backfill_at_default_concurrency_leaves_one_writer_per_location_and_pleo_exactly_right(stack, sandbox):
    stack.wait_for_dag(TAGS)
    assert stack.import_errors() == []
    sandbox.clear_requests()
    sandbox.configure(delays={LISTING: HELD})  # every load waits at its first read until released below
    try:
        stack.unpause(TAGS)  # the scheduled run of the latest hour starts too
        backfill = stack.backfill(TAGS, FROM, TO, max_active_runs=None)
        assert backfill["max_active_runs"] == 10  # Airflow's default, not the DAG's max_active_runs=1

        def met() -> bool:  # a run met a location another run holds; or (no leases) two runs load one location
            skips = [r for r in ledger(stack) if r["status"] == "skipped_locked"]
            return bool(skips) or sandbox.requests().get(LISTING, 0) > 3

        wait_for("a run meeting a location another run is syncing", met)
    finally:
        sandbox.configure(delays={})
    wait_for("every run of the tags DAG finished", lambda: all_done(stack))

    runs = stack.dag_runs(TAGS)
    assert {r["state"] for r in runs} == {"success"}, [(r["dag_run_id"], r["state"]) for r in runs]
    assert_pleo_matches_ghl(sandbox)
    assert_no_duplicate_codes(sandbox)  # one group per location; no code twice, archived copies included
    rows = ledger(stack)
    assert {r["status"] for r in rows} <= {"success", "skipped_locked"}, rows
    assert any(r["status"] == "skipped_locked" for r in rows)  # the runs did overlap on a location
    locations = {loc["id"] for loc in sandbox.locations()}
    for run in runs:  # every run has a row per location: it synced it, or another run was syncing it
        assert {r["location_id"] for r in rows if r["run_id"] == run["dag_run_id"]} == locations
    assert leases(stack) == []  # every lease was released


def test_a_task_killed_inside_its_sync_is_retried_and_the_retry_takes_the_location_over_at_once(stack, sandbox):
    """The killed try leaves its lease (300 s TTL): another run would wait 2 s and skip; its own retry must not."""
    location = sorted(loc["id"] for loc in sandbox.locations())[0]
    sandbox.add_tag(location, tag="Added before the kill", _id="k" * 24)
    sandbox.clear_requests()
    sandbox.configure(delays={LISTING: HELD})
    try:
        run_id = stack.trigger(TAGS, {"locations": [location]})
        wait_for("the sync inside its load", lambda: sandbox.requests().get(LISTING, 0) >= 1)
        (ti,) = [t for t in stack.task_instances(TAGS, run_id) if t["task_id"] == "sync_locations"]
        kill_task_process(ti["id"])
        wait_for("the killed try marked for retry", lambda: _retried(stack, run_id))
        assert [(x["unit"], x["holder"]) for x in leases(stack)] == [(f"{TAGS}:{location}", f"{TAGS}/{run_id}")]
    finally:
        sandbox.configure(delays={})
    assert stack.wait_for_run(TAGS, run_id, timeout=900)["state"] == "success"
    (row,) = [r for r in ledger(stack) if r["run_id"] == run_id]
    assert (row["location_id"], row["status"], row["try_number"]) == (location, "success", 2)
    assert_pleo_matches_ghl(sandbox)
    assert_no_duplicate_codes(sandbox)
    assert leases(stack) == []


def _retried(stack: AirflowStack, run_id: str) -> bool:
    (ti,) = [t for t in stack.task_instances(TAGS, run_id) if t["task_id"] == "sync_locations"]
    return ti["state"] == "up_for_retry" or ti["try_number"] >= 2


def kill_task_process(ti_id: str) -> None:
    """SIGKILL the process running the task instance (Airflow titles it ``airflow worker -- <ti id>``)."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if f"airflow worker -- {ti_id}" in " ".join(proc.info["cmdline"] or []):
            proc.send_signal(signal.SIGKILL)
            return
    raise AssertionError(f"no process runs task instance {ti_id}")
