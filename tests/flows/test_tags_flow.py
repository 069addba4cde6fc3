"""The tags flow end to end without Airflow: sandbox over HTTP, a SQLite warehouse, real GX; judged by what
Pleo and the ledger hold afterwards."""

from __future__ import annotations

import pytest

from tests.flows.harness import FlowRunner
from tests.pleo_checks import SPECIAL, assert_pleo_matches_ghl, rename_delete_add
from tests.sandbox_client import writes

pytestmark = pytest.mark.integration
TAG_WRITES = ("Pleo POST /v0/tag-groups/{groupId}/tags", "Pleo PUT /v0/tags/{tagId}")


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=3, min_tags=30, max_tags=45)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    sandbox.clear_requests()
    yield FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    sandbox.clear_faults()


def tag_writes(box) -> int:
    return sum(box.requests().get(k, 0) for k in TAG_WRITES)


def test_first_sync_makes_pleo_match_ghl_with_a_ledger_row_and_a_change_row_per_write(flows):
    box = flows.box
    result = flows.tags()
    assert result.errors == {} and result.failed == []
    assert_pleo_matches_ghl(box)
    ledger = flows.ledger(result)
    assert set(ledger) == set(flows.locations) and {r["status"] for r in ledger.values()} == {"success"}
    for row in ledger.values():
        c = row["counts"]
        assert c["read"] == c["created"] + c["unchanged"] + c["rejected"] + c["duplicates"]
    # every Pleo write has its change-log row, and nothing else does
    assert len(flows.changes(result)) == sum(writes(box.requests()).values())
    live = sum(1 for loc in box.locations() for t in box.ghl_tags(loc["id"]) if not t["deleted"])
    rejected = sum(1 for v in SPECIAL.values() if v is None)
    assert box.requests()["Pleo POST /v0/tag-groups/{groupId}/tags"] == live - rejected
    assert "Run summary for ghl_pleo_tags_sync" in result.summary


def test_a_rerun_writes_nothing_and_changes_are_written_exactly(flows):
    box = flows.box
    flows.tags()
    box.clear_requests()
    again = flows.tags()
    assert again.errors == {} and writes(box.requests()) == {} and flows.changes(again) == []
    rename_delete_add(box, flows.locations[1], "Renamed Campaign", "Brand New Tag", "a" * 24)
    box.clear_requests()
    changed = flows.tags()
    assert changed.errors == {} and tag_writes(box) == 3
    assert sorted(c["action"] for c in flows.changes(changed) if c["entity"] == "tag") == [
        "archive",
        "create",
        "rename",
    ]
    assert_pleo_matches_ghl(box)


def test_a_failing_location_closes_its_ledger_row_as_failed_and_the_rerun_converges(flows):
    box = flows.box
    bad = flows.locations[0]
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=503, location=bad)
    result = flows.tags()
    box.clear_faults()
    assert result.kinds() == {bad: "upstream_outage"}
    ledger = flows.ledger(result)
    assert ledger[bad]["status"] == "failed" and ledger[bad]["error_kind"] == "upstream_outage"
    assert {ledger[loc]["status"] for loc in flows.locations[1:]} == {"success"}
    assert [f["location_id"] for f in result.failed] == [bad]
    assert flows.tags().errors == {}
    assert_pleo_matches_ghl(box)


def test_a_dry_run_writes_nothing_and_plans_what_the_real_run_then_does(flows):
    box = flows.box
    plan = flows.tags(dry_run=True)
    assert plan.errors == {} and writes(box.requests()) == {}
    planned = flows.changes(plan)
    assert planned and all(c["dry_run"] for c in planned)
    box.clear_requests()
    real = flows.tags()
    done = flows.changes(real)
    assert len(done) == len(planned) == sum(writes(box.requests()).values())
    key = lambda c: (c["location_id"], c["entity"], c["code"], c["action"])  # noqa: E731
    assert sorted(map(key, done)) == sorted(map(key, planned))


def test_a_group_pleo_refuses_for_one_location_fails_that_location_alone(flows):
    """Issue 14, item 5: one location's own group failure in ensure_groups does not stop the others."""
    box = flows.box
    box.fault(api="pleo", endpoint="POST /v0/tag-groups", status=400, times=1)  # the first group create
    result = flows.tags()
    box.clear_faults()
    ledger = flows.ledger(result)
    failed = [loc for loc, row in ledger.items() if row["status"] == "failed"]
    assert len(failed) == 1 and ledger[failed[0]]["error_kind"] == "upstream_contract"
    assert {row["status"] for loc, row in ledger.items() if loc != failed[0]} == {"success"}
    assert [f["location_id"] for f in result.failed] == failed
    assert flows.tags().errors == {}
    assert_pleo_matches_ghl(box)


def test_an_over_long_id_or_creator_is_quarantined_with_its_reason_and_the_rest_syncs(flows):
    box = flows.box
    box.add_tag(flows.locations[1], tag="Long Creator", _id="a1" * 12, createdBy="x" * 300)
    box.add_tag(flows.locations[2], tag="Long Id", _id="b" * 80)
    result = flows.tags()
    assert result.errors == {}
    rejected = flows.warehouse.db.query(
        "SELECT location_id, record_key, rule FROM rejected_records WHERE run_id = :r AND rule LIKE '%too_long'",
        {"r": result.run_id},
    )
    assert {(r["location_id"], r["record_key"], r["rule"]) for r in rejected} == {
        (flows.locations[1], "a1" * 12, "value_too_long"),
        (flows.locations[2], "b" * 80, "id_too_long"),
    }
    codes = {t["code"] for t in box.pleo_state()["tags"].values()}
    assert "a1" * 12 not in codes and "b" * 80 not in codes
    assert flows.ledger(result)[flows.locations[2]]["counts"]["rejected"] == 1
