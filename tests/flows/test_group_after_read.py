"""Issue 17, item 1: a location's Pleo tag group is created only after its first successful GHL tag read, by the
location's own step, never from the location list alone; a typo'd location id writes nothing to Pleo and fails as
a configuration error naming it. Judged by what Pleo, its request log, the ledger and the summary hold."""

from __future__ import annotations

import json

import pytest

from tests.flows.harness import FlowRunner
from tests.pleo_checks import assert_pleo_matches_ghl

pytestmark = pytest.mark.integration
TYPO = "TypoLoc0000000000000X"  # a well-formed id the sandbox (GHL) does not know
GROUP_CREATE = "Pleo POST /v0/tag-groups"


@pytest.fixture
def box(sandbox):
    sandbox.reset(locations=2, min_tags=30, max_tags=40)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    sandbox.clear_requests()
    yield sandbox
    sandbox.clear_faults()


def group_codes(box) -> set[str]:
    return {g["code"] for g in box.pleo_state()["groups"].values()}


def pleo_exchanges_naming(box, location_id: str) -> list[str]:
    """Every Pleo request (path, query, body) or answer that names the location."""
    return [
        f"{e['method']} {e['path']}"
        for e in box.exchanges()
        if e["api"].lower() == "pleo" and location_id in json.dumps([e["path"], e["query"], e["body"], e["response"]])
    ]


def test_a_typod_location_writes_nothing_to_pleo_and_fails_as_configuration(box, tmp_path, monkeypatch):
    valid = [loc["id"] for loc in box.locations()]
    flows = FlowRunner(box, tmp_path, monkeypatch, [valid[0], TYPO, valid[1]])
    result = flows.tags()
    assert result.kinds() == {TYPO: "configuration"}, {k: str(v) for k, v in result.errors.items()}
    assert str(result.errors[TYPO]).startswith(f"unknown or inaccessible location {TYPO}: GHL answered HTTP 404")
    assert pleo_exchanges_naming(box, TYPO) == []
    assert f"ghl-social-{TYPO}" not in group_codes(box)
    assert_pleo_matches_ghl(box)  # both real locations synced, groups made after their reads
    ledger = flows.ledger(result)
    assert ledger[TYPO]["status"] == "failed" and ledger[TYPO]["error_kind"] == "configuration"
    assert ledger[TYPO]["requests"].get("pleo", {}).get("total_requests", 0) == 0
    assert {ledger[v]["counts"]["groups_created"] for v in valid} == {1}
    assert "Changes: 2 tag group writes, " in result.summary
    assert "create 2 tag groups" in result.summary


def test_a_location_whose_first_read_fails_gets_its_group_only_once_a_read_succeeds(box, tmp_path, monkeypatch):
    down, up = [loc["id"] for loc in box.locations()]
    flows = FlowRunner(box, tmp_path, monkeypatch, [down, up])
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=503, location=down)
    first = flows.tags()
    box.clear_faults()
    assert first.kinds() == {down: "upstream_outage"}  # an outage, not a typo: retried, and no group made
    assert group_codes(box) == {f"ghl-social-{up}"}
    box.clear_requests()
    second = flows.tags()
    assert second.errors == {}
    assert group_codes(box) == {f"ghl-social-{down}", f"ghl-social-{up}"}
    assert box.requests()[GROUP_CREATE] == 1
    creates = [c for c in flows.changes(second) if c["entity"] == "tag_group"]
    assert [(c["location_id"], c["action"]) for c in creates] == [(down, "create")]
    assert "Changes: 1 tag group writes, " in second.summary
    assert_pleo_matches_ghl(box)


def test_a_dry_run_plans_the_group_creates_and_sends_none(box, tmp_path, monkeypatch):
    flows = FlowRunner(box, tmp_path, monkeypatch, [loc["id"] for loc in box.locations()])
    result = flows.tags(dry_run=True)
    assert result.errors == {}
    assert GROUP_CREATE not in box.requests() and group_codes(box) == set()
    assert "Planned changes: 2 tag group writes, " in result.summary
    assert "would create 2 tag groups" in result.summary


def test_a_401_for_one_location_while_the_token_reads_others_is_that_location_not_the_token(box, tmp_path, monkeypatch):
    """GHL answers 401 ("the token does not have access to this location") for a location the token may not see:
    when the same token's other name lookups succeed in this run, that is the location's configuration."""
    hidden, visible = [loc["id"] for loc in box.locations()]
    for endpoint in ("GET /locations/{locationId}", "GET /social-media-posting/{locationId}/tags"):
        box.fault(api="ghl", endpoint=endpoint, status=401, location=hidden)
    result = FlowRunner(box, tmp_path, monkeypatch, [hidden, visible]).tags()
    assert result.kinds() == {hidden: "configuration"}, {k: str(v) for k, v in result.errors.items()}
    assert str(result.errors[hidden]).startswith(f"unknown or inaccessible location {hidden}: GHL answered HTTP 401")
    assert pleo_exchanges_naming(box, hidden) == []
    assert group_codes(box) == {f"ghl-social-{visible}"}


def test_a_401_for_every_location_is_the_token_refused(box, tmp_path, monkeypatch):
    ids = [loc["id"] for loc in box.locations()]
    for location in ids:
        for endpoint in ("GET /locations/{locationId}", "GET /social-media-posting/{locationId}/tags"):
            box.fault(api="ghl", endpoint=endpoint, status=401, location=location)
    result = FlowRunner(box, tmp_path, monkeypatch, ids).tags()
    assert result.kinds() == dict.fromkeys(ids, "authentication"), {k: str(v) for k, v in result.errors.items()}
    assert group_codes(box) == set()
