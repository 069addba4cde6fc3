"""The run ledger, the change log, dry runs and targeted runs, through Airflow (`airflow dags test -c ...`)
against the sandbox, checked against what the sandbox's Pleo received, write for write.

The tests run in order and build on each other's state: a dry run of a first sync, the real first sync, a
dry run and the real run of a small change, a run limited to one location, a full refresh. The warehouse is
PostgreSQL here (the tags e2e module uses SQLite), so the ledger and change log are checked on the deployment's
database too.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tests.e2e.runner import Runner
from tests.pleo_checks import assert_pleo_matches_ghl, rename_delete_add
from tests.sandbox_client import writes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_tags_sync"
DETAILS = "GHL POST /social-media-posting/{locationId}/tags/details"


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, postgres, tmp_path_factory):
    url = postgres.new_database("ledger")
    locations = sandbox.reset(locations=3, min_tags=15, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    sandbox.clear_requests()
    return Runner(sandbox, tmp_path_factory.mktemp("e2e-ledger"), locations, DAG_ID, url)


def conf(**params) -> tuple[str, str]:
    return "-c", json.dumps(params)


def last_run_id(runner: Runner) -> str:
    return runner.warehouse().db.query("SELECT run_id FROM sync_location_runs ORDER BY started_at DESC LIMIT 1")[0][
        "run_id"
    ]


def plan_key(c: dict) -> tuple:
    """A change without Pleo's ids (a dry run cannot know the ids Pleo will give)."""
    return (c["location_id"], c["entity"], c["action"], c["code"], json.dumps(c["after"], sort_keys=True))


def request_of(c: dict) -> tuple[str, str]:
    """The Pleo request a change-log row stands for."""
    if c["entity"] == "tag_group":
        return ("POST", "/v0/tag-groups") if c["action"] == "create" else ("PUT", f"/v0/tag-groups/{c['pleo_id']}")
    if c["entity"] == "tag":
        return (
            ("POST", "/v0/tag-groups/{groupId}/tags")
            if c["action"] == "create"
            else ("PUT", f"/v0/tags/{c['pleo_id']}")
        )
    if c["entity"] == "dimension":
        return "POST", "/v0/tag-groups/{groupId}/dimensions"
    if c["entity"] == "dimension_value":
        return ("PUT" if c["action"] == "update" else "POST"), f"/v0/tags/{c['pleo_id'].replace('/', '/dimensions/')}"
    raise AssertionError(f"unknown entity {c['entity']}")


def received(box) -> list[tuple[str, str, dict]]:
    """Pleo writes the sandbox answered with success: (method, path with creates' parents generic, response)."""
    out = []
    for e in box.exchanges():
        if e["api"] != "pleo" or e["method"] == "GET" or "/aggregations/" in e["path"] or e["status"] >= 300:
            continue
        path = re.sub(r"^/v0/tag-groups/[^/]+/(tags|dimensions)$", r"/v0/tag-groups/{groupId}/\1", e["path"])
        out.append((e["method"], path, e["response"]))
    return out


def assert_change_log_is_what_pleo_received(runner: Runner, run_id: str) -> list[dict]:
    changes = runner.warehouse().ledger.changes(DAG_ID, run_id)
    got = received(runner.box)
    assert Counter(request_of(c) for c in changes) == Counter((m, p) for m, p, _ in got)
    created = {r["data"]["id"] for m, p, r in got if m == "POST" and "data" in (r or {}) and "id" in r["data"]}
    assert created == {c["pleo_id"] for c in changes if c["action"] == "create" and c["entity"] != "dimension_value"}
    return changes


def test_a_dry_run_of_the_first_sync_writes_nothing_and_prints_the_plan(runner):
    box = runner.box
    before = box.pleo_state()
    box.clear_requests()
    out = runner.run(*conf(dry_run=True))
    assert box.pleo_state() == before
    assert writes(box.requests()) == {}
    assert "DRY RUN" in out and "Plan (dry run): would create 3 tag groups;" in out
    wh = runner.warehouse()
    run_id = last_run_id(runner)
    rows = wh.db.query(
        "SELECT location_id, status, dry_run, records_synced FROM sync_location_runs WHERE run_id = :r", {"r": run_id}
    )
    assert len(rows) == 3 and all(r["status"] == "success" and r["dry_run"] == 1 for r in rows)
    assert wh.db.query("SELECT COUNT(*) AS n FROM pleo_tags_pushed")[0]["n"] == 0
    plan = wh.ledger.changes(DAG_ID, run_id)
    assert plan and all(c["dry_run"] == 1 for c in plan)
    live = sum(1 for loc in box.locations() for t in box.ghl_tags(loc["id"]) if not t["deleted"])
    assert sum(1 for c in plan if c["entity"] == "tag" and c["action"] == "create") == live - 1  # one is rejected


def test_the_real_run_does_exactly_the_plan_and_the_change_log_matches_pleo_write_for_write(runner):
    box = runner.box
    wh = runner.warehouse()
    plan = wh.ledger.changes(DAG_ID, last_run_id(runner))
    box.clear_requests()
    runner.run()
    assert_pleo_matches_ghl(box)
    run_id = last_run_id(runner)
    changes = assert_change_log_is_what_pleo_received(runner, run_id)
    assert all(c["dry_run"] == 0 for c in changes)
    assert Counter(map(plan_key, changes)) == Counter(map(plan_key, plan))
    # the ledger: one row per location, its writes and its GHL requests as the sandbox counted them
    traffic = box.traffic()
    rows = wh.db.query(
        "SELECT location_id, status, records_synced, records_read, requests FROM sync_location_runs WHERE run_id = :r",
        {"r": run_id},
    )
    assert len(rows) == 3
    for r in rows:
        assert r["status"] == "success"
        assert r["records_synced"] == sum(1 for c in changes if c["location_id"] == r["location_id"])
        assert r["records_read"] == len(box.ghl_tags(r["location_id"]))
        ghl = json.loads(r["requests"])["ghl"]["total_requests"]
        # plus the location-name lookup (GET /locations/{id}) that list_locations makes for each location
        assert ghl + 1 == traffic["by_location"][r["location_id"]], r["location_id"]


def test_a_dry_run_of_a_small_change_plans_it_and_the_real_run_then_does_the_same(runner):
    box = runner.box
    live = rename_delete_add(box, box.locations()[1]["id"], "Renamed For The Plan", "Planned New Tag", "b" * 24)
    before = box.pleo_state()
    box.clear_requests()
    out = runner.run(*conf(dry_run=True))
    assert box.pleo_state() == before and writes(box.requests()) == {}
    assert "Plan (dry run): would create 1, rename 1, archive 1 tags;" in out, out[-3000:]
    plan = runner.warehouse().ledger.changes(DAG_ID, last_run_id(runner))
    box.clear_requests()
    out = runner.run()
    changes = assert_change_log_is_what_pleo_received(runner, last_run_id(runner))
    assert Counter(map(plan_key, changes)) == Counter(map(plan_key, plan))
    renamed = [c for c in changes if c["action"] == "rename"]
    assert [(c["before"]["name"], c["after"]["name"]) for c in renamed] == [(live[0]["tag"], "Renamed For The Plan")]
    assert "Change log: create 1, rename 1, archive 1 tags;" in out
    assert_pleo_matches_ghl(box)


def test_the_locations_param_limits_a_run_to_those_locations(runner):
    box = runner.box
    first, second = box.locations()[0]["id"], box.locations()[2]["id"]
    for loc, name in ((first, "Only This One"), (second, "Not This One")):
        tag = next(t for t in box.ghl_tags(loc) if not t["deleted"] and t["tag"].isprintable())
        box.edit_tag(loc, tag["_id"], tag=name)
    box.clear_requests()
    runner.run(*conf(locations=[first]))
    run_id = last_run_id(runner)
    rows = runner.warehouse().db.query("SELECT location_id FROM sync_location_runs WHERE run_id = :r", {"r": run_id})
    assert [r["location_id"] for r in rows] == [first]
    assert set(box.traffic()["by_location"]) == {first}
    changes = assert_change_log_is_what_pleo_received(runner, run_id)
    assert {c["location_id"] for c in changes} == {first}
    names = {t["name"] for t in box.pleo_state()["tags"].values()}
    assert "Only This One" in names and "Not This One" not in names


def test_a_full_refresh_rereads_every_detail_and_catches_up_the_location_left_out(runner):
    box = runner.box
    box.clear_requests()
    out = runner.run(*conf(full_refresh=True))
    # an ordinary run asks details only for new or changed tags (the tags e2e checks that); this one for all
    asked = sum(
        len(json.loads(e["body"])["tagIds"]) if isinstance(e["body"], str) else len(e["body"]["tagIds"])
        for e in box.exchanges()
        if e["api"] == "ghl" and e["route"].endswith("/tags/details")
    )
    counts = [
        json.loads(r["counts"])
        for r in runner.warehouse().db.query(
            "SELECT counts FROM sync_location_runs WHERE run_id = :r", {"r": last_run_id(runner)}
        )
    ]
    assert len(counts) == 3
    assert asked == sum(c["read"] - c["rejected"] - c["duplicates"] for c in counts) > 60
    assert "Change log: rename 1 tags" in out  # only the location the last run left out had a change
    assert_pleo_matches_ghl(box)
