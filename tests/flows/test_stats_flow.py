"""The statistics flow end to end without Airflow: a UTC day's statistics into the history, the newest day into
each Pleo group's metadata; a location without accounts is skipped, not failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.flows.harness import FlowRunner

pytestmark = pytest.mark.integration
GROUP_PUT = "Pleo PUT /v0/tag-groups/{groupId}"


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=3, min_tags=5, max_tags=5)  # the seed's last location has no accounts
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    sandbox.clear_requests()
    return FlowRunner(sandbox, tmp_path, monkeypatch, locations)


def metadata(box) -> dict[str, dict]:
    return {g["code"][len("ghl-social-") :]: g.get("metadata") or {} for g in box.pleo_state()["groups"].values()}


def test_a_day_is_stored_and_shown_in_pleo_and_the_newest_day_stays_shown(flows):
    box = flows.box
    with_accounts, without = flows.locations[:2], flows.locations[2]
    day2 = flows.statistics(datetime(2026, 11, 2, tzinfo=UTC))
    assert day2.errors == {} and day2.failed == []
    ledger = flows.ledger(day2)
    assert ledger[without]["status"] == "skipped" and {ledger[x]["status"] for x in with_accounts} == {"success"}
    shown = metadata(box)
    assert {shown[x]["stat_id"] for x in with_accounts} == {f"{x}-20261102" for x in with_accounts}
    assert without not in shown or "stat_id" not in shown[without]
    flows.statistics(datetime(2026, 11, 3, tzinfo=UTC))
    box.clear_requests()
    older = flows.statistics(datetime(2026, 11, 1, tzinfo=UTC))  # a backfill of an older day
    assert older.errors == {} and box.requests().get(GROUP_PUT, 0) == 0
    assert {metadata(box)[x]["stat_id"] for x in with_accounts} == {f"{x}-20261103" for x in with_accounts}
    days = flows.warehouse.state.statistics_history(with_accounts)
    assert sorted(days["day"].unique()) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert len(days) == 6


def test_a_dry_run_stores_the_day_but_writes_nothing_to_pleo(flows):
    box = flows.box
    plan = flows.statistics(datetime(2026, 11, 2, tzinfo=UTC), dry_run=True)
    assert plan.errors == {}
    assert box.requests().get(GROUP_PUT, 0) == 0
    assert all(c["dry_run"] for c in flows.changes(plan)) and flows.changes(plan)
    assert all("stat_id" not in m for m in metadata(box).values())


def test_a_day_without_breakdowns_is_stored_without_reach_not_failed(flows):
    """GHL may leave out ``breakdowns`` (reach, engagement): absent is not invalid (issue 14, item 6)."""
    box = flows.box
    with_accounts = flows.locations[:2]
    box.fault(api="ghl", endpoint="POST /social-media-posting/statistics", body_kind="no_breakdowns")
    result = flows.statistics(datetime(2026, 11, 2, tzinfo=UTC))
    box.clear_faults()
    assert result.errors == {} and result.failed == []
    ledger = flows.ledger(result)
    assert {ledger[x]["status"] for x in with_accounts} == {"success"}
    assert set(ledger[with_accounts[0]]["counts"]["absent_metrics"]) >= {"reach", "shares"}
    days = flows.warehouse.state.statistics_history(with_accounts)
    totals = [json.loads(m)["totals"] for m in days["metrics"]]
    assert all("reach" not in t and "shares" not in t and t["impressions"] >= 0 for t in totals)
    assert {metadata(box)[x]["stat_id"] for x in with_accounts} == {f"{x}-20261102" for x in with_accounts}


def test_the_summary_counts_each_locations_metadata_write_as_a_pleo_request(flows):
    """The metadata is written by a later task than the location's fetch: its Pleo request still shows in the
    location's "Pleo req" column and the ledger's request totals (issue 17, item 7)."""
    with_accounts = flows.locations[:2]
    day = flows.statistics(datetime(2026, 11, 2, tzinfo=UTC))
    assert day.errors == {} and flows.box.requests().get(GROUP_PUT, 0) == 2
    lines = {line.split()[0]: line.split() for line in day.summary.splitlines() if line.split()}
    assert lines["location"][-1] == "req" and lines["location"][-2] == "Pleo"
    for location_id in with_accounts:
        assert lines[location_id][-1] == "1", day.summary  # the one PUT of its group's metadata
        assert flows.ledger(day)[location_id]["requests"]["pleo"]["total_requests"] == 1
    assert lines["TOTAL"][-1] == "2"
    rows = flows.warehouse.db.query(
        "SELECT location_id, requests_total FROM sync_location_runs WHERE run_id = :r", {"r": day.run_id}
    )
    ghl = {loc: flows.ledger(day)[loc]["requests"]["ghl"]["total_requests"] for loc in with_accounts}
    assert {r["location_id"]: r["requests_total"] for r in rows if r["location_id"] in ghl} == {
        loc: n + 1 for loc, n in ghl.items()
    }
