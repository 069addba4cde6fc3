"""The archive guard's baseline cannot be eroded or skipped (issue 14, item 2).

The volume guard compares with the highest count of the location's good runs since the later of its last
release and ``quality.volume_baseline_days``; with no such run, Pleo's live tags in the group are the baseline;
and more than ``quality.max_archives_per_run`` archives in one run are held until released. Judged by what Pleo
and the ledger hold afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from ghl_pleo.config import DEFAULT_MAPPING_FILE
from tests.flows.harness import FlowRunner
from tests.pleo_checks import assert_pleo_matches_ghl, group_of, live_codes

pytestmark = pytest.mark.integration


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=2, min_tags=40, max_tags=40)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=1000, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    for loc in locations:  # every seeded tag live, so the counts below are exact
        for tag in sandbox.ghl_tags(loc):
            if tag["deleted"]:
                sandbox.edit_tag(loc, tag["_id"], deleted=False)
    runner = FlowRunner(sandbox, tmp_path / "first", monkeypatch, locations)
    assert runner.tags().errors == {}  # a first, complete sync: 40 live tags per location in Pleo
    yield runner
    sandbox.clear_faults()


def remove(box, location_id: str, n: int) -> list[str]:
    """Remove ``n`` live tags from GHL (gone from the listing, as a drop in the source would look)."""
    gone = [t["_id"] for t in box.ghl_tags(location_id) if not t["deleted"]][:n]
    for tag_id in gone:
        box.remove_tag(location_id, tag_id)
    return gone


def events(flows: FlowRunner, result, location_id: str) -> dict[str, str]:
    rows = flows.warehouse.ledger.events(result.dag_id, result.run_id)
    return {e["event"]: e["detail"] for e in rows if e["location_id"] == location_id}


def test_a_slow_erosion_is_measured_against_the_highest_recent_count(flows):
    box, loc = flows.box, flows.locations[0]
    remove(box, loc, 10)  # 40 -> 30: a 25 % drop, under the 30 % threshold
    assert flows.tags().errors == {}
    assert len(live_codes(box, loc)) == 30
    remove(box, loc, 8)  # 30 -> 22: 27 % below the last run, but 45 % below the highest (40)
    result = flows.tags()
    assert result.kinds() == {loc: "drift_guard"}
    assert len(live_codes(box, loc)) == 30  # nothing archived
    row = flows.ledger(result)[loc]
    assert row["counts"]["archives_held"] == 8
    assert "dropped 45% from 40 to 22" in row["error"] and "highest of 2 good run(s)" in row["error"]


def test_a_release_is_noted_with_who_and_when_and_the_released_count_is_the_new_baseline(flows):
    box, loc = flows.box, flows.locations[0]
    remove(box, loc, 25)  # 40 -> 15
    assert flows.tags().kinds() == {loc: "drift_guard"}
    released = flows.tags(release=(loc,), released_by="alice@example.com")
    assert released.errors == {}
    assert_pleo_matches_ghl(box)
    note = events(flows, released, loc)["archive_guard_released"]
    assert "released by alice@example.com at 20" in note and "dropped 62% from 40 to 15" in note
    assert flows.ledger(released)[loc]["counts"]["guard_released"] == 1
    quiet = flows.tags()  # the release is the new start: 15 is no drop against the released run
    assert quiet.errors == {}
    assert "archive_guard_released" not in events(flows, quiet, loc)


def test_the_baseline_only_looks_back_the_configured_days(flows):
    box, loc = flows.box, flows.locations[0]
    remove(box, loc, 10)
    assert flows.tags().errors == {}  # 30, within the threshold
    remove(box, loc, 8)  # 22: 45 % below the 40 of the first run, 27 % below the 30 of the second
    later = datetime.now(UTC) + timedelta(days=6, hours=23)
    assert flows.tags(now=later).kinds() == {loc: "drift_guard"}  # both good runs are in the last 7 days
    # Eight days on, neither run is in the window: Pleo's 30 live tags are the baseline, and 22 is no drop.
    assert flows.tags(now=datetime.now(UTC) + timedelta(days=8)).errors == {}
    assert_pleo_matches_ghl(box)


def test_with_no_history_pleos_live_tags_are_the_baseline(flows, tmp_path, monkeypatch):
    box, loc = flows.box, flows.locations[1]
    restored = FlowRunner(box, tmp_path / "restored", monkeypatch, flows.locations)  # a new, empty warehouse
    before = live_codes(box, loc)
    remove(box, loc, 30)  # GHL answers with 10 of the 40 tags Pleo holds live
    result = restored.tags()
    assert result.kinds() == {loc: "drift_guard"}
    assert live_codes(box, loc) == before  # nothing archived
    row = restored.ledger(result)[loc]
    assert "the live tags in the Pleo group" in row["error"] and "dropped 75% from 40 to 10" in row["error"]
    assert restored.ledger(result)[flows.locations[0]]["status"] == "success"


def limit_archives(tmp_path, monkeypatch, n: int) -> None:
    mapping = yaml.safe_load(DEFAULT_MAPPING_FILE.read_text())
    mapping["quality"]["max_archives_per_run"] = n
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping))
    monkeypatch.setenv("GHL_PLEO_MAPPING_FILE", str(path))


def test_more_archives_than_the_limit_are_held_until_released(flows, tmp_path, monkeypatch):
    limit_archives(tmp_path, monkeypatch, 5)
    box, loc = flows.box, flows.locations[1]
    gone = remove(box, loc, 8)  # a 20 % drop passes the volume guard, but 8 archives > 5
    result = flows.tags()
    assert result.kinds() == {loc: "drift_guard"}
    assert set(gone) <= live_codes(box, loc)
    assert "8 tags would be archived, more than quality.max_archives_per_run (5)" in flows.ledger(result)[loc]["error"]
    assert flows.tags(release=(loc,), released_by="bob").errors == {}
    assert not set(gone) & live_codes(box, loc)
    assert_pleo_matches_ghl(box)


def test_duplicate_clean_ups_do_not_count_towards_the_archive_limit(flows, tmp_path, monkeypatch):
    limit_archives(tmp_path, monkeypatch, 0)
    box, loc = flows.box, flows.locations[1]
    group = group_of(box.pleo_state(), loc)
    for tag in box.ghl_tags(loc)[:3]:  # a second active copy of three codes, made by hand in Pleo
        box.pleo_add_tag(groupId=group["id"], code=tag["_id"], name=tag["tag"] + " copy")
    result = flows.tags()
    assert result.errors == {}
    assert flows.ledger(result)[loc]["counts"]["duplicates_archived"] == 3
    assert_pleo_matches_ghl(box)
