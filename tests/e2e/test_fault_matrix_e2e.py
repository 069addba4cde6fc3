"""The fault matrix: each fault injected in the sandbox while the tags DAG runs through Airflow.

Every case asserts the run's outcome, how many requests the faulty endpoint cost,
and that Pleo ends exactly right (one active tag per live GHL tag, nothing lost).
Small backoffs come from the connections' extras, so the matrix runs in minutes.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.e2e.runner import Runner
from tests.pleo_checks import assert_pleo_matches_ghl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_tags_sync"
TAGS = "GET /social-media-posting/{locationId}/tags"
DETAILS = "POST /social-media-posting/{locationId}/tags/details"
CREATE = "POST /v0/tag-groups/{groupId}/tags"
_n = iter(range(10_000))


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, tmp_path_factory):
    locations = sandbox.reset(seed=5, locations=1, min_tags=30, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    r = Runner(sandbox, tmp_path_factory.mktemp("e2e-faults"), locations, DAG_ID)
    run(r)
    return r


def run(runner: Runner, expect_ok: bool = True, **ghl_extra) -> str:
    """One DAG run with small HTTP backoffs (and whatever GHL connection extras a case needs)."""
    ghl = json.loads(runner.box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    ghl["extra"].update({"backoff_base_s": 0.05, "max_attempts": 4, **ghl_extra})
    pleo = json.loads(runner.box.env()["AIRFLOW_CONN_PLEO_DEFAULT"])
    pleo["extra"].update({"backoff_base_s": 0.05})
    return runner.run(
        expect_ok=expect_ok, AIRFLOW_CONN_GHL_DEFAULT=json.dumps(ghl), AIRFLOW_CONN_PLEO_DEFAULT=json.dumps(pleo)
    )


def new_tag(runner: Runner) -> str:
    """One source change per case, so every run has a detail fetch and a create to do."""
    tag_id = f"{next(_n):024x}"
    runner.box.add_tag(runner.locations[0], tag=f"Fault case {tag_id[-4:]}", _id=tag_id)
    return tag_id


def faulty(runner: Runner, **fault) -> None:
    runner.box.clear_requests()
    runner.box.fault(**fault)


def count(runner: Runner, api: str, route: str) -> int:
    return runner.box.requests().get(f"{api} {route}", 0)


def finish(runner: Runner) -> None:
    runner.box.clear_faults()
    assert_pleo_matches_ghl(runner.box)


def failed_row(runner: Runner) -> dict:
    rows = runner.warehouse().db.query(
        "SELECT status, error_kind, try_number, error FROM sync_location_runs ORDER BY started_at DESC LIMIT 1"
    )
    return rows[0]


@pytest.mark.parametrize(
    "case, fault, tag_requests",
    [
        ("429 with Retry-After", {"status": 429, "retry_after": 1, "times": 2}, 3),
        ("429 without Retry-After", {"status": 429, "times": 2}, 3),
        ("429 with Retry-After: 0", {"status": 429, "retry_after": 0, "times": 2}, 3),
        ("500/502/503 burst", {"status": 502, "times": 3}, 4),
        ("connection reset", {"body_kind": "reset", "times": 1}, 2),
        ("truncated JSON", {"body_kind": "truncated", "times": 1}, 2),
        ("200 with an HTML body", {"body_kind": "html", "times": 1}, 2),
    ],
)
def test_transient_ghl_faults_are_ridden_out_inside_the_task(runner, case, fault, tag_requests):
    new_tag(runner)
    faulty(runner, api="ghl", endpoint=TAGS, **fault)
    run(runner)
    assert count(runner, "GHL", TAGS) == tag_requests, case
    assert count(runner, "Pleo", CREATE) == 1
    finish(runner)


def test_a_slow_reply_past_the_timeout_is_retried(runner):
    new_tag(runner)
    faulty(runner, api="ghl", endpoint=TAGS, delay_s=2.0, times=1)
    run(runner, timeout_s=0.7)
    assert count(runner, "GHL", TAGS) == 2
    time.sleep(1.5)
    finish(runner)


def test_a_429_storm_longer_than_the_retry_budget_fails_cleanly_and_a_later_run_finishes(runner):
    new_tag(runner)
    faulty(runner, api="ghl", endpoint=TAGS, status=429, retry_after=0)
    out = run(runner, expect_ok=False, max_attempts=3)
    row = failed_row(runner)
    assert row["error_kind"] == "rate_limit" and row["try_number"] == 3
    assert count(runner, "GHL", TAGS) == 3 * 3  # 3 HTTP tries in each of 3 task tries
    assert count(runner, "Pleo", CREATE) == 0 and "rate limit" in out
    runner.box.clear_faults()
    runner.box.clear_requests()
    run(runner)
    assert count(runner, "Pleo", CREATE) == 1
    finish(runner)


def test_a_lost_create_confirmation_is_not_duplicated_on_retry(runner):
    tag_id = new_tag(runner)
    faulty(runner, api="pleo", endpoint=CREATE, body_kind="reset_after", times=1)
    run(runner)
    assert count(runner, "Pleo", CREATE) == 1  # the create happened; it was never sent again
    assert count(runner, "Pleo", "GET /v0/tag-groups/{groupId}/tags") == 2  # the task retry re-read Pleo first
    copies = [t for t in runner.box.pleo_state()["tags"].values() if t["code"] == tag_id]
    assert len(copies) == 1
    # the write has its change-log row: found by the retry's re-read, logged in the try that sent it
    logged = [c for c in runner.warehouse().ledger.changes() if c["entity"] == "tag" and c["code"] == tag_id]
    assert [(c["action"], c["pleo_id"], c["try_number"], c["confirmed_on_reread"]) for c in logged] == [
        ("create", copies[0]["id"], 1, 1)
    ]
    finish(runner)


def test_a_5xx_on_a_create_is_retried_by_airflow_after_re_reading_pleo(runner):
    tag_id = new_tag(runner)
    faulty(runner, api="pleo", endpoint=CREATE, status=503, times=1)
    run(runner)
    assert count(runner, "Pleo", CREATE) == 2  # the refused one, then the real one
    assert len([t for t in runner.box.pleo_state()["tags"].values() if t["code"] == tag_id]) == 1
    finish(runner)


def test_a_401_mid_run_fails_at_once_and_the_next_run_converges(runner):
    new_tag(runner)
    faulty(runner, api="ghl", endpoint=DETAILS, status=401, times=1)
    out = run(runner, expect_ok=False)
    row = failed_row(runner)
    assert row["error_kind"] == "authentication" and row["try_number"] == 1  # no retry can fix a token
    assert count(runner, "GHL", DETAILS) == 1 and "runbook-authentication" in out
    runner.box.clear_faults()
    run(runner)
    finish(runner)


def test_someone_creating_the_same_code_between_read_and_write_leaves_one_active_tag(runner):
    tag_id = new_tag(runner)
    faulty(runner, api="pleo", endpoint=CREATE, body_kind="twin", times=1)
    run(runner)
    active = [t for t in runner.box.pleo_state()["tags"].values() if t["code"] == tag_id and not t["archived"]]
    assert len(active) == 2  # Pleo allowed the twin
    runner.box.clear_faults()
    runner.box.clear_requests()
    run(runner)
    active = [t for t in runner.box.pleo_state()["tags"].values() if t["code"] == tag_id and not t["archived"]]
    assert len(active) == 1 and count(runner, "Pleo", "PUT /v0/tags/{tagId}") == 1
    finish(runner)


def test_sigkill_in_the_middle_of_the_load_then_a_rerun_ends_exactly_right(runner):
    box = runner.box
    loc = runner.locations[0]
    for i in range(60):
        box.add_tag(loc, tag=f"Bulk {i}", _id=f"b{i:023x}")
    box.configure(pleo_rps=15)  # slow the load down so the kill lands inside it
    box.clear_requests()
    proc = runner.start(GHL_PLEO_LEASE_TTL_S="5")  # the killed run's lease lapses 5 s on; the rerun waits for that
    try:
        deadline = time.time() + 120
        while count(runner, "Pleo", CREATE) < 10 and time.time() < deadline:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        box.configure(pleo_rps=0)
    created_before_kill = count(runner, "Pleo", CREATE)
    assert 10 <= created_before_kill < 60
    run(runner)
    done = [e for e in box.exchanges() if e["route"] == CREATE and e["status"] == 200]
    assert len(done) == 60  # every tag created once in all (429s aside): none twice, none lost
    bulk = {f"b{i:023x}" for i in range(60)}
    codes = [t["code"] for t in box.pleo_state()["tags"].values() if t["code"] in bulk]
    assert len(codes) == len(set(codes)) == 60
    finish(runner)
