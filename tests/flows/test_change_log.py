"""The change log is complete (issue 14, item 8): every write counted has its row, and a create whose answer was
lost gets its row when a later try finds the tag in Pleo, marked as confirmed on re-read."""

from __future__ import annotations

import re

import pytest

from tests.flows.harness import FlowRunner
from tests.pleo_checks import assert_pleo_matches_ghl

pytestmark = pytest.mark.integration
CREATE = "POST /v0/tag-groups/{groupId}/tags"


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=2, min_tags=20, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=1000, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    runner = FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    assert runner.tags().errors == {}
    yield runner
    sandbox.clear_faults()


def test_a_create_whose_answer_was_lost_gets_its_row_when_the_retry_finds_it(flows):
    box, loc = flows.box, flows.locations[1]
    box.add_tag(loc, tag="Lost Answer", _id="e" * 24)
    box.fault(api="pleo", endpoint=CREATE, body_kind="reset_after", times=1)  # created; the answer never arrives
    first = flows.tags()
    assert set(first.errors) == {loc}
    assert [c for c in flows.changes(first) if c["entity"] == "tag"] == []  # no answer, no row yet
    retry = flows.tags(retry_of=first)
    assert retry.errors == {}
    copies = [t for t in box.pleo_state()["tags"].values() if t["code"] == "e" * 24]
    assert len(copies) == 1  # found, not created again
    rows = [c for c in flows.changes(retry) if c["entity"] == "tag"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["action"], row["code"], row["pleo_id"], row["confirmed_on_reread"]) == (
        "create",
        "e" * 24,
        copies[0]["id"],
        1,
    )
    assert row["try_number"] == 1 and row["after"] == {"name": "Lost Answer", "archived": False}
    pushed = flows.warehouse.db.query("SELECT pleo_tag_id FROM pleo_tags_pushed WHERE code = :c", {"c": "e" * 24})
    assert pushed == [{"pleo_tag_id": copies[0]["id"]}]
    assert flows.warehouse.db.query("SELECT * FROM pleo_pending_writes") == []
    assert flows.ledger(retry)[loc]["counts"]["confirmed_on_reread"] == 1
    assert "create 1 tags" in retry.summary
    assert_pleo_matches_ghl(box)


def test_a_create_that_never_reached_pleo_is_made_again_with_one_row(flows):
    box, loc = flows.box, flows.locations[0]
    box.add_tag(loc, tag="Refused Once", _id="f" * 24)
    box.fault(api="pleo", endpoint=CREATE, status=400, times=1)  # refused: nothing was created
    first = flows.tags()
    assert set(first.errors) == {loc}
    retry = flows.tags(retry_of=first)
    assert retry.errors == {}
    rows = [c for c in flows.changes(retry) if c["entity"] == "tag"]
    assert [(r["action"], r["confirmed_on_reread"], r["try_number"]) for r in rows] == [("create", 0, 2)]
    assert flows.warehouse.db.query("SELECT * FROM pleo_pending_writes") == []
    assert_pleo_matches_ghl(box)


def test_every_counted_write_has_its_change_log_row(flows):
    box = flows.box
    for loc in flows.locations:
        tags = [t for t in box.ghl_tags(loc) if not t["deleted"]]
        box.edit_tag(loc, tags[0]["_id"], tag="Renamed For The Log")
        box.remove_tag(loc, tags[1]["_id"])
        box.add_tag(loc, tag="Added For The Log", _id=loc[-4:].lower() * 6)
    result = flows.tags()
    assert result.errors == {}
    for loc, row in flows.ledger(result).items():
        logged = {}
        for c in flows.changes(result):
            if c["location_id"] == loc and c["entity"] == "tag":
                logged[c["action"]] = logged.get(c["action"], 0) + 1
        counts = row["counts"]
        counted = {
            "create": counts["created"],
            "rename": counts["renamed"],
            "archive": counts["archived"] + counts["gone"],
            "unarchive": counts["unarchived"],
            "archive_duplicate": counts["duplicates_archived"],
        }
        assert {k: v for k, v in counted.items() if v} == logged and logged["create"] == 1
        values = sum(1 for c in flows.changes(result) if c["location_id"] == loc and c["entity"] == "dimension_value")
        assert values == counts["values_written"] > 0


def test_a_group_create_whose_answer_was_lost_gets_its_row_on_the_next_read(sandbox, tmp_path, monkeypatch):
    locations = sandbox.reset(locations=1, min_tags=5, max_tags=5)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=1000, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    flows = FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    sandbox.fault(api="pleo", endpoint="POST /v0/tag-groups", body_kind="reset_after", times=1)
    first = flows.tags()  # the location's task created the group after its tag read; the answer never came
    assert re.search("(?i)connection|reset|aborted", str(first.errors[locations[0]]))
    result = flows.tags()
    assert result.errors == {}
    groups = [g for g in sandbox.pleo_state()["groups"].values() if g["code"] == f"ghl-social-{locations[0]}"]
    assert len(groups) == 1
    rows = [c for c in flows.warehouse.ledger.changes() if c["entity"] == "tag_group"]
    assert [(r["action"], r["pleo_id"], r["run_id"], r["confirmed_on_reread"]) for r in rows] == [
        ("create", groups[0]["id"], "flow__001", 1)
    ]
    assert flows.warehouse.db.query("SELECT * FROM pleo_pending_writes") == []
    assert_pleo_matches_ghl(sandbox)
