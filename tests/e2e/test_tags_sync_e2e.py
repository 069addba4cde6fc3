"""The tags DAG through Airflow (`airflow dags test`) against the sandbox, checked tag by tag in Pleo.

The tests in this module run in order and build on each other's state, as an
hourly schedule would: first sync, unchanged re-run, then small source changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from tests.e2e.runner import Runner
from tests.pleo_checks import SPECIAL, assert_pleo_matches_ghl, group_of, rename_delete_add
from tests.sandbox_client import writes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_tags_sync"
TAG_WRITES = ("Pleo POST /v0/tag-groups/{groupId}/tags", "Pleo PUT /v0/tags/{tagId}")
VALUE_WRITES = (
    "Pleo POST /v0/tags/{tagId}/dimensions/{dimensionId}",
    "Pleo PUT /v0/tags/{tagId}/dimensions/{dimensionId}",
)
DETAILS = "GHL POST /social-media-posting/{locationId}/tags/details"


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, tmp_path_factory):
    """A SQLite warehouse. The same DAG on a PostgreSQL warehouse runs in the ledger e2e (first sync, changes,
    targeted runs, with the change log checked write for write) and the scheduler e2e (the real scheduler)."""
    locations = sandbox.reset(locations=3, min_tags=40, max_tags=90)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    sandbox.clear_requests()
    return Runner(sandbox, tmp_path_factory.mktemp("e2e-tags"), locations, DAG_ID)


def count(requests: dict[str, int], keys) -> int:
    return sum(requests.get(k, 0) for k in keys)


def test_first_run_creates_every_group_and_tag(runner):
    box = runner.box
    box.clear_requests()
    out = runner.run()
    assert_pleo_matches_ghl(box)
    reqs = box.requests()
    live = sum(1 for loc in box.locations() for t in box.ghl_tags(loc["id"]) if not t["deleted"])
    rejected = sum(1 for v in SPECIAL.values() if v is None)
    assert reqs["Pleo POST /v0/tag-groups/{groupId}/tags"] == live - rejected
    assert reqs["Pleo POST /v0/tag-groups"] == 3
    assert "Run summary for ghl_pleo_tags_sync" in out and "TOTAL" in out
    wh = runner.warehouse()
    rej = wh.db.query("SELECT location_id, rule, raw_value FROM rejected_records")
    assert [(r["rule"], r["raw_value"]) for r in rej] == [("empty_name", "\u200b\t \u200e")]
    runs = wh.db.query("SELECT location_id, status, counts FROM sync_location_runs")
    assert len(runs) == 3 and {r["status"] for r in runs} == {"success"}
    for r in runs:
        c = json.loads(r["counts"])
        assert c["read"] == c["created"] + c["unchanged"] + c["rejected"] + c["duplicates"]


def test_unchanged_rerun_writes_nothing_and_fetches_no_details(runner):
    box = runner.box
    box.clear_requests()
    out = runner.run()
    reqs = box.requests()
    assert writes(reqs) == {}, writes(reqs)
    assert DETAILS not in reqs
    assert "(no changes)" in out
    assert_pleo_matches_ghl(box)


def test_one_rename_one_delete_one_add_make_exactly_three_tag_writes(runner):
    box = runner.box
    rename_delete_add(box, box.locations()[1]["id"], "Renamed Campaign", "Brand New Tag", "a" * 24)
    box.clear_requests()
    runner.run()
    reqs = box.requests()
    assert count(reqs, TAG_WRITES) == 3, writes(reqs)
    assert reqs["Pleo POST /v0/tag-groups/{groupId}/tags"] == 1 and reqs["Pleo PUT /v0/tags/{tagId}"] == 2
    # Dimension values, counted apart: the rename moved updatedAt (1 update); the new tag gets 4 values.
    assert count(reqs, VALUE_WRITES) == 5
    assert reqs[DETAILS] == 1
    assert_pleo_matches_ghl(box)


def test_gone_tags_manual_edits_and_duplicate_codes_are_corrected(runner):
    box = runner.box
    loc = box.locations()[2]["id"]
    live = [t for t in box.ghl_tags(loc) if not t["deleted"]]
    box.remove_tag(loc, live[0]["_id"])  # gone from the source
    state = box.pleo_state()
    group = group_of(state, loc)
    by_code = {t["code"]: t for t in state["tags"].values() if t["groupId"] == group["id"]}
    box._admin("PATCH", f"/pleo/tags/{by_code[live[1]['_id']]['id']}", json={"name": "Edited in Pleo"})
    box.pleo_add_tag(groupId=group["id"], code=live[2]["_id"].upper(), name=live[2]["tag"])  # same code, other case
    box.clear_requests()
    runner.run()
    reqs = box.requests()
    assert count(reqs, TAG_WRITES) == 3 and reqs["Pleo PUT /v0/tags/{tagId}"] == 3, writes(reqs)
    assert_pleo_matches_ghl(box)
    copies = [t for t in box.pleo_state()["tags"].values() if t["code"].casefold() == live[2]["_id"]]
    assert len(copies) == 2 and sum(not t["archived"] for t in copies) == 1


def test_a_tag_that_comes_back_is_unarchived(runner):
    box = runner.box
    loc = box.locations()[1]["id"]
    archived_in_pleo = {t["code"] for t in box.pleo_state()["tags"].values() if t["archived"]}
    back = next(t for t in box.ghl_tags(loc) if t["deleted"] and t["_id"] in archived_in_pleo)
    box.edit_tag(loc, back["_id"], deleted=False)
    box.clear_requests()
    runner.run()
    reqs = box.requests()
    assert count(reqs, TAG_WRITES) == 1 and reqs["Pleo PUT /v0/tags/{tagId}"] == 1, writes(reqs)
    tag = next(t for t in box.pleo_state()["tags"].values() if t["code"] == back["_id"])
    assert tag["archived"] is False
    assert_pleo_matches_ghl(box)


def test_a_failing_location_fails_the_run_by_name_and_the_rerun_converges(runner):
    box = runner.box
    bad = box.locations()[0]["id"]
    box.add_tag(bad, tag="Added during outage", _id="bbbbbbbbbbbbbbbbbbbbbbbb")
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=503, location=bad)
    ghl = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    ghl["extra"]["max_attempts"] = 2
    try:
        out = runner.run(expect_ok=False, AIRFLOW_CONN_GHL_DEFAULT=json.dumps(ghl))
    finally:
        box.clear_faults()
    assert f"FAILED: location {bad} (upstream_outage)" in out
    assert "1 of 3 locations failed" in out
    wh = runner.warehouse()
    rows = wh.db.query(
        "SELECT location_id, status, error_kind, try_number FROM sync_location_runs WHERE run_id = "
        "(SELECT run_id FROM sync_location_runs ORDER BY started_at DESC LIMIT 1)"
    )
    assert {r["location_id"]: r["status"] for r in rows}[bad] == "failed"
    assert max(r["try_number"] for r in rows if r["location_id"] == bad) == 3  # Airflow retried it twice
    box.clear_requests()
    runner.run()
    assert count(box.requests(), TAG_WRITES) == 1
    assert_pleo_matches_ghl(box)


def test_a_typod_location_id_writes_nothing_to_pleo_and_fails_on_its_first_try(runner):
    """Issue 17, item 1: an id GHL does not know, next to the valid ones, makes no Pleo request (no group is made
    from the location list) and fails its task on try 1 as a configuration error naming it; the others sync."""
    box = runner.box
    typo = "TypoLoc0000000000000X"
    box.clear_requests()
    ids = json.dumps([runner.locations[0], typo, *runner.locations[1:]])
    out = runner.run(expect_ok=False, AIRFLOW_VAR_GHL_LOCATION_IDS=ids)
    assert f"[configuration] unknown or inaccessible location {typo}: GHL answered HTTP 404" in out
    assert f"FAILED: location {typo} (configuration)" in out and "1 of 4 locations failed" in out
    pleo = [e for e in box.exchanges() if e["api"].lower() == "pleo"]
    assert pleo and not [e["path"] for e in pleo if typo in json.dumps([e["path"], e["query"], e["body"]])]
    assert f"ghl-social-{typo}" not in {g["code"] for g in box.pleo_state()["groups"].values()}
    rows = {
        r["location_id"]: r
        for r in runner.warehouse().db.query(
            "SELECT location_id, status, error_kind, try_number FROM sync_location_runs WHERE run_id = :r",
            {"r": runner.warehouse().ledger.latest_run_id(DAG_ID)},
        )
    }
    assert (rows[typo]["status"], rows[typo]["error_kind"], rows[typo]["try_number"]) == ("failed", "configuration", 1)
    assert {rows[loc]["status"] for loc in runner.locations} == {"success"}
    assert_pleo_matches_ghl(box)


def test_batches_a_retry_re_syncs_only_the_failed_location_and_airflow_keeps_one_row_per_batch(runner, airflow_db):
    """Issue 19: with two locations per task, three locations are two batch tasks. A location failing with an
    outage fails its batch; the batch's retries re-sync only it (its batch-mate's GHL reads happened once), the run
    fails naming it, and Airflow's metadata DB holds one task instance and at most one XCom row per batch."""
    box = runner.box
    first, bad, third = runner.locations
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=503, location=bad)
    ghl = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    ghl["extra"]["max_attempts"] = 1
    box.clear_requests()
    try:
        out = runner.run(expect_ok=False, AIRFLOW_CONN_GHL_DEFAULT=json.dumps(ghl), GHL_PLEO_LOCATIONS_PER_TASK="2")
    finally:
        box.clear_faults()
    assert f"FAILED: location {bad} (upstream_outage)" in out and "1 of 3 locations failed" in out
    assert f"1 of 2 location(s) of batch 1: {first}..{bad} (2) failed: {bad} (upstream_outage)" in out
    assert out.count(f"1 already synced in this run, skipped: {first}") == 2  # tries 2 and 3
    wh = runner.warehouse()
    (run_id,) = {r["run_id"] for r in wh.db.query("SELECT run_id FROM sync_location_runs ORDER BY started_at DESC")[:1]}
    rows = {r["location_id"]: r for r in wh.ledger.location_runs(DAG_ID, run_id)}
    tries = {k: (r["status"], r["try_number"]) for k, r in rows.items()}
    assert tries == {first: ("success", 1), bad: ("failed", 3), third: ("success", 1)}
    listings = [e["path"] for e in box.exchanges() if e["api"].lower() == "ghl" and e["path"].endswith("/tags")]
    seen = Counter(loc for path in listings for loc in (first, bad) if f"/{loc}/" in path)
    ghl_first = rows[first]["requests"]["ghl"]["requests"]
    assert seen[first] == sum(n for k, n in ghl_first.items() if k.endswith("/tags")) > 0  # read in try 1 only
    assert seen[bad] == 3  # one listing request per try
    validations = wh.validations.results(DAG_ID, run_id)
    assert sorted((v["validation_id"], v["locations"]) for v in validations) == [("batch1-try1", 1), ("batch2-try1", 1)]
    meta = sqlite3.connect(airflow_db / "airflow.db")
    tis = meta.execute(
        "SELECT map_index, rendered_map_index, try_number, state FROM task_instance WHERE dag_id = ? AND run_id = ? "
        "AND task_id = 'sync_locations' ORDER BY map_index",
        (DAG_ID, run_id),
    ).fetchall()
    assert tis == [(0, f"batch 1: {first}..{bad} (2)", 3, "failed"), (1, f"batch 2: {third} (1)", 1, "success")]
    xcoms = meta.execute(
        "SELECT map_index, COUNT(*) FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'sync_locations' "
        "GROUP BY map_index",
        (DAG_ID, run_id),
    ).fetchall()
    assert xcoms == [(1, 1)]  # the failed batch returned nothing; the other one row
