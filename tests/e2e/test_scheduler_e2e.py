"""A real Airflow on PostgreSQL: scheduler (LocalExecutor), dag-processor and api-server on loopback.

Everything a user would do goes through the public REST API: unpause the DAGs,
create a three-day backfill of the statistics DAG and a manual run of the tags
DAG, wait for them. Then the outcome is checked where a user would look: the
run states, the api-server's import errors, the warehouse (on PostgreSQL too),
and the sandbox's Pleo, tag by tag.
"""
from __future__ import annotations

import time

import pytest

from bench.stack import AirflowStack
from tests.e2e.test_tags_sync_e2e import assert_pleo_matches_ghl
from tests.sandbox_client import warehouse_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TAGS, STATS = "ghl_pleo_tags_sync", "ghl_pleo_statistics_sync"
# A backfill's runs have these logical dates; with a data-interval timetable each run's window is that day.
DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]


@pytest.fixture(scope="module")
def stack(sandbox, postgres, tmp_path_factory):
    locations = sandbox.reset(locations=3, min_tags=30, max_tags=60)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    warehouse_url = postgres.new_database("wh")
    metadata_url = postgres.new_database("airflow")
    env = {**sandbox.env(locations),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
           **warehouse_env(warehouse_url),
           "GHL_PLEO_RETRY_DELAY_S": "2", "GHL_PLEO_DATA_DOCS_DIR": str(tmp_path_factory.mktemp("docs"))}
    s = AirflowStack(tmp_path_factory.mktemp("airflow-stack"), env, parallelism=6)
    s.warehouse_url = warehouse_url
    s.start()
    yield s
    s.stop()


def wait_all(stack: AirflowStack, dag_id: str, expected: int, timeout: float = 600) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = stack.dag_runs(dag_id)
        done = [r for r in runs if r["state"] in ("success", "failed")]
        if len(runs) >= expected and len(done) == len(runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"{dag_id}: runs not finished in {timeout:.0f} s: {[(r['dag_run_id'], r['state']) for r in runs]}")


def test_backfill_and_manual_run_through_the_rest_api_on_postgresql(stack, sandbox):
    from ghl_pleo.warehouse import Warehouse

    stack.wait_for_dag(TAGS)
    stack.wait_for_dag(STATS)
    assert stack.import_errors() == []
    for dag_id in (TAGS, STATS):
        stack.unpause(dag_id)
    backfill = stack.backfill(STATS, f"{DAYS[0]}T00:00:00Z", f"{DAYS[-1]}T00:00:00Z")
    run_id = stack.trigger(TAGS)
    tags_run = stack.wait_for_run(TAGS, run_id, timeout=600)
    assert tags_run["state"] == "success"
    assert_pleo_matches_ghl(sandbox)

    # Unpausing also lets the scheduler start the latest scheduled interval of each DAG: wait for every run.
    runs = wait_all(stack, STATS, expected=3)
    backfilled = [r for r in runs if r.get("backfill_id") == backfill["id"] or r["run_type"] == "backfill"]
    assert sorted(r["logical_date"][:10] for r in backfilled) == DAYS
    assert {r["state"] for r in runs} == {"success"}, [(r["dag_run_id"], r["state"]) for r in runs]
    wait_all(stack, TAGS, expected=1)
    assert {r["state"] for r in stack.dag_runs(TAGS)} == {"success"}

    wh = Warehouse(stack.warehouse_url)
    days = {r["day"] for r in wh.query("SELECT DISTINCT day FROM ghl_statistics_daily")}
    assert set(DAYS) <= days  # one history day per backfilled run
    per_day = wh.query("SELECT location_id, day, COUNT(*) AS n FROM ghl_statistics_daily GROUP BY location_id, day")
    assert {r["n"] for r in per_day} == {1}
    newest = max(days)
    groups = {g["code"][len("ghl-social-"):]: g for g in sandbox.pleo_state()["groups"].values()}
    with_stats = {r["location_id"] for r in wh.query("SELECT DISTINCT location_id FROM ghl_statistics_daily")}
    assert with_stats
    for loc in with_stats:
        assert groups[loc]["metadata"]["stat_id"] == f"{loc}-{newest.replace('-', '')}"
    assert stack.import_errors() == []


def test_the_ui_shows_the_tags_dag_and_its_runs(stack, output_dir):
    """Headless Chromium opens the api-server's UI page of the tags DAG (after the runs above) and saves a screenshot."""
    from tests.browser import rendered_dom, screenshot

    url = f"{stack.url}/dags/{TAGS}/runs"
    shot = screenshot(url, output_dir / "tags-dag-runs.png")
    dom = rendered_dom(url)
    runs = stack.dag_runs(TAGS)
    assert TAGS in dom, dom[-2000:]
    assert any(r["dag_run_id"] in dom for r in runs), dom[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
