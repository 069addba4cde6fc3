"""Safety: an incomplete or odd answer never archives a live tag (issue 14, items 1 and 4).

A GHL listing that ends before its ``count`` (or whose ``count`` lies) holds the location's archives while
creates and renames go through, and fails the location as ``incomplete_read`` (retryable); a Pleo listing
whose paging breaks the contract is an ``upstream_contract`` error, never a short listing (which would make
us create duplicates); the same tag twice in a details answer is harmless."""

from __future__ import annotations

import pytest

from tests.flows.harness import FlowRunner
from tests.pleo_checks import assert_pleo_matches_ghl, live_codes
from tests.sandbox_client import writes

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"
DETAILS = "POST /social-media-posting/{locationId}/tags/details"
PLEO_TAGS = "GET /v0/tag-groups/{groupId}/tags"


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=2, min_tags=150, max_tags=160)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=1000, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    runner = FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    assert runner.tags().errors == {}  # a first, complete sync
    sandbox.clear_requests()
    yield runner
    sandbox.clear_faults()


def test_a_listing_that_stops_before_its_count_archives_nothing_but_writes_the_rest(flows):
    box, loc = flows.box, flows.locations[0]
    before = live_codes(box, loc)
    first_page = [t for t in box.ghl_tags(loc)[:100] if not t["deleted"]]
    box.edit_tag(loc, first_page[0]["_id"], tag="Renamed While Paging Broke")
    box.fault(api="ghl", endpoint=TAGS, body_kind="stops_early", after=100, location=loc)
    result = flows.tags()
    assert result.kinds() == {loc: "incomplete_read"}
    assert live_codes(box, loc) == before  # the ~50 tags not read are still live in Pleo
    renamed = [t for t in box.pleo_state()["tags"].values() if t["code"] == first_page[0]["_id"]]
    assert [t["name"] for t in renamed if not t["archived"]] == ["Renamed While Paging Broke"]
    row = flows.ledger(result)[loc]
    assert row["status"] == "failed" and row["error_kind"] == "incomplete_read"
    assert row["counts"]["archives_held"] >= 40 and row["counts"]["read"] == 100
    note = {
        e["event"]: e["detail"]
        for e in flows.warehouse.ledger.events(result.dag_id, result.run_id)
        if e["location_id"] == loc
    }["incomplete_read"]
    count = len(box.ghl_tags(loc))
    assert f"expected {count}" in note and "saw 100 distinct tags" in note
    assert flows.ledger(result)[flows.locations[1]]["status"] == "success"
    box.clear_faults()
    assert flows.tags().errors == {}
    assert_pleo_matches_ghl(box)


def test_a_count_that_lies_holds_archives_even_when_every_row_was_read(flows):
    box, loc = flows.box, flows.locations[1]
    gone = next(t for t in box.ghl_tags(loc) if not t["deleted"])
    box.remove_tag(loc, gone["_id"])  # really gone from GHL
    box.fault(api="ghl", endpoint=TAGS, body_kind="count_lies", location=loc)
    result = flows.tags()
    assert result.kinds() == {loc: "incomplete_read"}
    assert gone["_id"] in live_codes(box, loc)  # not archived on an answer that says 1,000 more exist
    box.clear_faults()
    box.clear_requests()
    assert flows.tags().errors == {}
    assert gone["_id"] not in live_codes(box, loc)
    assert writes(box.requests()) == {"Pleo PUT /v0/tags/{tagId}": 1}


@pytest.mark.parametrize("kind", ["odd_has_next", "empty_has_next"])
def test_a_pleo_listing_with_odd_paging_is_a_contract_error_and_creates_nothing(flows, kind):
    box, loc = flows.box, flows.locations[0]
    box.add_tag(loc, tag="Added Meanwhile", _id="c" * 24)
    box.fault(api="pleo", endpoint=PLEO_TAGS, body_kind=kind)
    result = flows.tags()
    assert result.kinds() == {loc: "upstream_contract", flows.locations[1]: "upstream_contract"}
    assert "hasNextPage" in str(result.errors[loc])
    assert writes(box.requests()) == {}  # no create from a listing we could not trust
    box.clear_faults()
    assert flows.tags().errors == {}
    assert_pleo_matches_ghl(box)


def test_the_same_tag_twice_in_a_details_answer_is_harmless(flows):
    box, loc = flows.box, flows.locations[0]
    for i in range(3):
        box.add_tag(loc, tag=f"New {i}", _id=f"{i:x}" * 24)
    box.fault(api="ghl", endpoint=DETAILS, body_kind="duplicate_ids")
    result = flows.tags()
    assert result.errors == {}
    assert {f"{i:x}" * 24 for i in range(3)} <= live_codes(box, loc)
    assert_pleo_matches_ghl(box)
    assert flows.ledger(result)[loc]["counts"]["detail_repeats"] == 2
    events = {(e["location_id"], e["event"]) for e in flows.warehouse.ledger.events(result.dag_id, result.run_id)}
    assert (loc, "duplicate_details") in events


def test_the_same_id_twice_in_the_ghl_listing_is_counted_noted_and_harmless(flows):
    box, loc = flows.box, flows.locations[1]
    box.add_tag(loc, tag="New While Repeating", _id="d" * 24)
    box.fault(api="ghl", endpoint=TAGS, body_kind="duplicate_ids", location=loc)  # 3 ids again on every page
    result = flows.tags()
    assert result.errors == {}
    assert_pleo_matches_ghl(box)
    counts = flows.ledger(result)[loc]["counts"]
    pages = -(-len(box.ghl_tags(loc)) // 100)
    assert counts["duplicates"] == 3 * pages and counts["read"] == len(box.ghl_tags(loc)) + 3 * pages
    events = {(e["location_id"], e["event"]) for e in flows.warehouse.ledger.events(result.dag_id, result.run_id)}
    assert (loc, "duplicate_rows") in events


def test_the_same_tag_twice_in_pleos_listing_never_archives_the_tag_we_keep(flows):
    box, loc = flows.box, flows.locations[0]
    before = live_codes(box, loc)
    box.fault(api="pleo", endpoint=PLEO_TAGS, body_kind="repeat_rows")  # two tags of each page sent twice
    result = flows.tags()
    assert result.errors == {}
    assert writes(box.requests()) == {}  # nothing to do: the repeats are the same tags
    assert live_codes(box, loc) == before
    assert_pleo_matches_ghl(box)
    assert flows.ledger(result)[loc]["counts"]["pleo_repeats"] >= 2
    events = {(e["location_id"], e["event"]) for e in flows.warehouse.ledger.events(result.dag_id, result.run_id)}
    assert (loc, "duplicate_pleo_rows") in events
