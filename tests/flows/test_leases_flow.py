"""One writer per location, in the flows without Airflow: a run that finds a location another run is syncing
skips it (``skipped_locked``) instead of writing the same tags again, and each run stages, reads and clears only its
own pages. The sandbox's delay switch holds the first run inside its GHL read (and so inside its lease) until the
second run has come and gone."""

from __future__ import annotations

import re
import threading
import time

import pytest

from ghl_pleo.constants import STATISTICS_DAG_ID, TAGS_DAG_ID
from ghl_pleo.errors import LockedError
from ghl_pleo.leases import GROUPS_UNIT, LeaseSettings, acquire
from tests.flows.harness import FlowResult, FlowRunner
from tests.pleo_checks import assert_no_duplicate_codes, assert_pleo_matches_ghl
from tests.sandbox_client import writes

pytestmark = pytest.mark.integration
TAGS = "GHL GET /social-media-posting/{locationId}/tags"
HELD = 600  # seconds a tag listing is held: far longer than the test needs; it is released explicitly


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=1, min_tags=20, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0, delays={})
    sandbox.clear_faults()
    sandbox.clear_requests()
    monkeypatch.setenv("GHL_PLEO_LEASE_WAIT_S", "0.5")
    yield FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    sandbox.configure(delays={})


def wait_for(what: str, condition) -> None:
    deadline = time.monotonic() + 120  # a hang guard only: every condition here is met as soon as it can be
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def test_a_run_finding_a_location_being_synced_skips_it_and_only_the_holder_writes_pleo(flows):
    box, location_id = flows.box, flows.locations[0]
    other_run = [{"_id": "f" * 24, "tag": "Staged by another run", "deleted": False}]
    flows.warehouse.staging.stage_page(location_id, "another-run", 1, other_run)  # another run's read in progress
    second: dict[str, FlowResult | bool] = {}

    def second_run() -> None:
        wait_for("the first run inside its GHL read", lambda: box.requests().get(TAGS, 0) >= 1)
        try:
            second["result"] = flows.tags(only=[location_id])
        finally:
            second["done"] = True

    def release() -> None:  # once the second run is done, or is reading the location too (then no lease held it)
        wait_for("the second run done", lambda: "done" in second or box.requests().get(TAGS, 0) >= 2)
        box.configure(delays={})

    box.configure(delays={TAGS: HELD})  # every GHL tag listing is held until released
    helpers = [threading.Thread(target=second_run), threading.Thread(target=release)]
    for helper in helpers:
        helper.start()
    first = flows.tags(only=[location_id])
    for helper in helpers:
        helper.join()

    skipped = second["result"]
    assert first.errors == {} and skipped.errors == {} and first.failed == skipped.failed == []
    assert flows.ledger(first)[location_id]["status"] == "success"
    assert flows.ledger(skipped)[location_id]["status"] == "skipped_locked"
    notes = flows.warehouse.ledger.events(TAGS_DAG_ID, skipped.run_id)
    assert [n["event"] for n in notes] == ["locked"] and f"{TAGS_DAG_ID}/{first.run_id}" in notes[0]["detail"]
    assert "skipped_locked" in skipped.summary and flows.changes(skipped) == []
    assert box.requests()[TAGS] == 1  # the second run never read the location
    assert len(flows.changes(first)) == sum(writes(box.requests()).values())
    assert_pleo_matches_ghl(box)
    assert_no_duplicate_codes(box)
    assert flows.warehouse.db.query("SELECT unit FROM sync_leases") == []  # every lease was released
    staged = flows.warehouse.db.query("SELECT run_id, tag_id FROM ghl_tag_pages")
    assert staged == [{"run_id": "another-run", "tag_id": "f" * 24}]  # its own pages dropped, the other's kept


def test_tag_groups_are_read_and_written_by_one_run_at_a_time(flows):
    """While another run (here the statistics DAG's) holds the tag groups, a run neither lists nor creates them: it
    fails retryably, naming that run; once released, the groups are created once."""
    box, holder = flows.box, f"{STATISTICS_DAG_ID}/scheduled__2026-11-27T00:00:00+00:00"
    other = acquire(flows.warehouse.leases, GROUPS_UNIT, holder, settings=LeaseSettings(ttl_s=300, wait_s=0))
    with pytest.raises(LockedError, match=re.escape(holder)):
        flows.tags()
    assert box.pleo_state()["groups"] == {} and not [k for k in box.requests() if k.startswith("Pleo")]
    other.release()
    assert flows.tags().failed == []
    assert_pleo_matches_ghl(box)
    assert_no_duplicate_codes(box)
