"""The statistics DAG through Airflow for consecutive UTC days, a re-run and a backfill of an older day."""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.runner import Runner
from tests.sandbox_client import GHL_TOKEN, writes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_statistics_sync"
STATS = "GHL POST /social-media-posting/statistics"
GROUP_PUT = "Pleo PUT /v0/tag-groups/{groupId}"


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, tmp_path_factory):
    """SQLite warehouse here; the statistics DAG on a PostgreSQL warehouse runs in test_scheduler_e2e (a backfill)."""
    url = None
    locations = sandbox.reset(locations=3, min_tags=5, max_tags=5)  # the seed's last location has no accounts
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    return Runner(sandbox, tmp_path_factory.mktemp("e2e-stats"), locations, DAG_ID, url)


def vendor_totals(box, location_id: str, day: str) -> dict:
    """What GHL says for that day, asked directly (the test's own oracle)."""
    acc = requests.get(
        f"{box.ghl_url}/social-media-posting/{location_id}/accounts",
        headers={"Authorization": f"Bearer {GHL_TOKEN}", "Version": "2021-07-28"},
    ).json()
    body = {
        "profileIds": [a["profileId"] for a in acc["results"]["accounts"]],
        "currentRange": {"startDate": f"{day}T00:00:00.000Z", "endDate": f"{day}T23:59:59.999Z"},
    }
    res = requests.post(
        f"{box.ghl_url}/social-media-posting/statistics",
        params={"locationId": location_id},
        headers={"Authorization": f"Bearer {GHL_TOKEN}", "Version": "v3"},
        json=body,
    ).json()["results"]
    return {
        **res["totals"],
        "reach": res["breakdowns"]["reach"]["total"],
        "shares": sum(e["shares"] for e in res["breakdowns"]["engagement"].values()),
    }


def groups_by_location(box) -> dict[str, dict]:
    return {g["code"][len("ghl-social-") :]: g for g in box.pleo_state()["groups"].values()}


def test_three_consecutive_days_give_three_history_rows_and_pleo_shows_the_latest(runner):
    box = runner.box
    with_accounts, without = runner.locations[:2], runner.locations[2]
    box.clear_requests()
    out = runner.run("2026-11-02")
    # the profile batches: one statistics request per location with accounts
    assert box.requests()[STATS] == 2
    assert "Run summary for ghl_pleo_statistics_sync" in out and "impressions" in out
    # each location's Pleo requests include its metadata write, made by write_metadata (issue 17, item 7)
    lines = {x.split()[0]: x.split() for x in out.splitlines() if x.startswith(tuple(runner.locations))}
    assert {loc: lines[loc][-1] for loc in runner.locations} == {**dict.fromkeys(with_accounts, "1"), without: "0"}
    assert "%|" not in out and "DeprecationWarning" not in out and "[py.warnings]" not in out  # quiet (item 9)
    # someone adds their own key to a group; it must survive our writes
    gid = groups_by_location(box)[with_accounts[0]]["id"]
    meta = {**groups_by_location(box)[with_accounts[0]]["metadata"], "finance_owner": "ana"}
    box._admin("PATCH", f"/pleo/groups/{gid}", json={"metadata": meta})
    runner.run("2026-11-03")
    runner.run("2026-11-04")

    rows = runner.warehouse().db.query(
        "SELECT location_id, day, window_start, window_end, metrics FROM ghl_statistics_daily ORDER BY location_id, day"
    )
    assert [(r["location_id"], r["day"]) for r in rows] == [
        (loc, day) for loc in sorted(with_accounts) for day in ("2026-11-01", "2026-11-02", "2026-11-03")
    ]
    for r in rows:
        assert (r["window_start"], r["window_end"]) == (f"{r['day']}T00:00:00.000Z", f"{r['day']}T23:59:59.999Z")
        assert json.loads(r["metrics"])["totals"] == vendor_totals(box, r["location_id"], r["day"])
    per_day = {r["day"]: json.loads(r["metrics"])["totals"] for r in rows if r["location_id"] == with_accounts[0]}
    assert len({json.dumps(v, sort_keys=True) for v in per_day.values()}) == 3  # the numbers depend on the day

    groups = groups_by_location(box)
    for loc in with_accounts:
        md = groups[loc]["metadata"]
        assert md["stat_id"] == f"{loc}-20261103"
        assert md["stats_window"] == "2026-11-03T00:00:00.000Z/2026-11-03T23:59:59.999Z"
        assert md["stats_timestamp"] == "2026-11-03T23:59:59.999Z" and md["ghl_location_id"] == loc
        metrics = json.loads(md["metrics"])
        assert metrics["window"] == {"start": "2026-11-03T00:00:00.000Z", "end": "2026-11-03T23:59:59.999Z"}
        assert md["metrics"] == json.dumps(metrics, sort_keys=True, separators=(",", ":"))
    assert groups[with_accounts[0]]["metadata"]["finance_owner"] == "ana"
    assert "stat_id" not in groups.get(without, {}).get("metadata", {})
    skipped = runner.warehouse().db.query(
        "SELECT status FROM sync_location_runs WHERE location_id = :l", {"l": without}
    )
    assert {r["status"] for r in skipped} == {"skipped"}


def test_rerunning_the_first_day_replaces_its_row_and_changes_nothing_in_pleo(runner):
    box = runner.box
    before = runner.warehouse().db.query("SELECT location_id, day, metrics FROM ghl_statistics_daily ORDER BY 1, 2")
    box.clear_requests()
    runner.run("2026-11-02")
    assert writes(box.requests()) == {}
    after = runner.warehouse().db.query("SELECT location_id, day, metrics FROM ghl_statistics_daily ORDER BY 1, 2")
    assert after == before


def test_a_backfilled_older_day_fills_history_but_never_moves_pleo_back(runner):
    box = runner.box
    box.clear_requests()
    out = runner.run("2026-10-31")
    assert GROUP_PUT not in box.requests() and "(no changes)" in out
    days = {r["day"] for r in runner.warehouse().db.query("SELECT day FROM ghl_statistics_daily")}
    assert days == {"2026-10-30", "2026-11-01", "2026-11-02", "2026-11-03"}
    assert {
        g["metadata"].get("stat_id", "").rsplit("-", 1)[-1]
        for loc, g in groups_by_location(box).items()
        if loc in runner.locations[:2]
    } == {"20261103"}


def test_a_failed_metadata_write_fails_the_run_and_the_rerun_shows_the_day(runner):
    """Issue 14, item 5: Pleo refusing the group-metadata write must not end in a green run."""
    box = runner.box
    box.fault(api="pleo", endpoint="PUT /v0/tag-groups/{groupId}", status=400)
    try:
        out = runner.run("2026-11-05", expect_ok=False)
    finally:
        box.clear_faults()
    assert "task write_metadata failed" in out
    runner.run("2026-11-05")
    shown = {
        g["metadata"].get("stat_id", "").rsplit("-", 1)[-1]
        for loc, g in groups_by_location(box).items()
        if loc in runner.locations[:2]
    }
    assert shown == {"20261104"}
