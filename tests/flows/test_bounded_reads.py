"""A GHL tag listing that never ends fails its location as ``upstream_contract`` and leaves Pleo as it was
(issue 15, item 3).

The listing may take 3 x the pages of the location's last good read, at least 10, at most the ceiling
(``GHL_PLEO_MAX_LISTING_PAGES``); released, the ceiling. The sandbox's ``endless`` fault sends a full page of new
ids every time with a count two pages ahead; it is given a ``times`` bound so the code before this change, which
followed it to the end, ended too (having created every endless tag and archived the real ones).
"""

from __future__ import annotations

import pytest

from tests.flows.harness import FlowRunner
from tests.pleo_checks import assert_pleo_matches_ghl, group_of
from tests.sandbox_client import writes

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=2, min_tags=150, max_tags=160)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=1000, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    runner = FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    assert runner.tags().errors == {}  # a first, complete sync: 2 pages each, the baseline
    sandbox.clear_requests()
    yield runner
    sandbox.clear_faults()


def pleo_tags(box, location_id: str) -> dict[str, tuple]:
    state = box.pleo_state()
    group = group_of(state, location_id)
    return {
        t["id"]: (t["code"], t["name"], t["archived"]) for t in state["tags"].values() if t["groupId"] == group["id"]
    }


def tag_pages_read(box, location_id: str) -> int:
    return sum(1 for e in box.exchanges() if e["route"] == TAGS and location_id in e["path"])


def test_a_listing_that_never_ends_fails_the_location_and_leaves_pleo_as_it_was(flows):
    box, loc, other = flows.box, flows.locations[0], flows.locations[1]
    before = pleo_tags(box, loc)
    box.fault(api="ghl", endpoint=TAGS, body_kind="endless", location=loc, times=11)
    result = flows.tags()
    assert result.kinds() == {loc: "upstream_contract"}
    assert "did not end after 10 pages (the limit: 3 x the 2 page(s) of its last good read" in str(result.errors[loc])
    assert tag_pages_read(box, loc) == 10  # the cost of the read is bounded: 10 pages, then nothing
    assert writes(box.requests()) == {} and pleo_tags(box, loc) == before  # nothing created, nothing archived
    row = flows.ledger(result)[loc]
    assert row["status"] == "failed" and row["error_kind"] == "upstream_contract"
    assert list(flows.warehouse.staging.iter_staged(loc, result.run_id)) == []  # its staged pages are gone
    assert flows.ledger(result)[other]["status"] == "success"
    box.clear_faults()
    assert flows.tags().errors == {}
    assert_pleo_matches_ghl(box)


def test_a_released_location_may_read_up_to_the_ceiling(flows, monkeypatch):
    box, loc = flows.box, flows.locations[1]
    before = pleo_tags(box, loc)
    monkeypatch.setenv("GHL_PLEO_MAX_LISTING_PAGES", "12")
    box.fault(api="ghl", endpoint=TAGS, body_kind="endless", location=loc, times=13)
    result = flows.tags(release=(loc,))
    assert result.kinds() == {loc: "upstream_contract"}
    assert "did not end after 12 pages (the limit: 12 pages, GHL_PLEO_MAX_LISTING_PAGES)" in str(result.errors[loc])
    assert tag_pages_read(box, loc) == 12
    assert writes(box.requests()) == {} and pleo_tags(box, loc) == before
