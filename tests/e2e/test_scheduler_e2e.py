"""A real Airflow on PostgreSQL: scheduler (LocalExecutor), dag-processor and api-server on loopback.

Everything a user would do goes through the public REST API: unpause the DAGs,
create a three-day backfill of the statistics DAG and a manual run of the tags
DAG, wait for them. Then the outcome is checked where a user would look: the
run states, the api-server's import errors, the warehouse (on PostgreSQL too),
and the sandbox's Pleo, tag by tag. Then the health side, also through the api-server: the dashboard plugin
(JSON, page, Data Docs, screenshots of it inside the Airflow UI by Chromium through Selenium; the Data Docs
rendered in a Chromium that may reach nothing but loopback) and the health
DAG's stale alert (tags are stale after 0.002 h here, so the locations that just synced go stale within seconds).
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import requests

from bench.stack import AirflowStack
from tests.pleo_checks import assert_pleo_matches_ghl
from tests.receivers import SmtpReceiver
from tests.sandbox_client import warehouse_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TAGS, STATS, HEALTH = "ghl_pleo_tags_sync", "ghl_pleo_statistics_sync", "ghl_pleo_health"
STALE_AFTER_H = 0.002  # 7.2 s
# A backfill's runs have these logical dates; with a data-interval timetable each run's window is that day.
DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]


@pytest.fixture(scope="module")
def smtp():
    receiver = SmtpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def stack(sandbox, postgres, smtp, tmp_path_factory):
    locations = sandbox.reset(locations=3, min_tags=30, max_tags=60)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    warehouse_url = postgres.new_database("wh")
    metadata_url = postgres.new_database("airflow")
    env = {
        **sandbox.env(locations),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        **warehouse_env(warehouse_url),
        "GHL_PLEO_RETRY_DELAY_S": "2",
        "GHL_PLEO_DATA_DOCS_DIR": str(tmp_path_factory.mktemp("docs")),
        "GHL_PLEO_STALE_HOURS_TAGS": str(STALE_AFTER_H),
        "GHL_PLEO_HEALTH_SCHEDULE": "none",
        "AIRFLOW_CONN_GHL_PLEO_SMTP": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                # The test's receiver speaks plain SMTP: both of the provider hook's TLS modes off.
                "extra": {
                    "from_email": "ghl-pleo@example.com",
                    "to": ["oncall@example.com"],
                    "disable_ssl": True,
                    "disable_tls": True,
                },
            }
        ),
    }
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
    raise AssertionError(
        f"{dag_id}: runs not finished in {timeout:.0f} s: {[(r['dag_run_id'], r['state']) for r in runs]}"
    )


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
    days = {r["day"] for r in wh.db.query("SELECT DISTINCT day FROM ghl_statistics_daily")}
    assert set(DAYS) <= days  # one history day per backfilled run
    per_day = wh.db.query("SELECT location_id, day, COUNT(*) AS n FROM ghl_statistics_daily GROUP BY location_id, day")
    assert {r["n"] for r in per_day} == {1}
    newest = max(days)
    groups = {g["code"][len("ghl-social-") :]: g for g in sandbox.pleo_state()["groups"].values()}
    with_stats = {r["location_id"] for r in wh.db.query("SELECT DISTINCT location_id FROM ghl_statistics_daily")}
    assert with_stats
    for loc in with_stats:
        assert groups[loc]["metadata"]["stat_id"] == f"{loc}-{newest.replace('-', '')}"
    assert stack.import_errors() == []


def xcom_rows(stack: AirflowStack, dag_id: str, run_id: str) -> Counter:
    """XCom rows per (task, map index) of one run, as the REST API lists them."""
    rows = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/~/xcomEntries", params={"limit": 1000})[
        "xcom_entries"
    ]
    return Counter((r["task_id"], r["map_index"]) for r in rows)


def test_each_task_of_a_run_leaves_at_most_one_xcom_row_per_map_index(stack):
    """Lean XCom: a batch task returns its counts as one row (a ``-> dict`` task would push one row per key too,
    that nobody reads). Counted through the REST API after the runs above."""
    for dag_id, mapped in ((TAGS, "sync_locations"), (STATS, "fetch_statistics")):
        run = next(r for r in stack.dag_runs(dag_id) if r["state"] == "success")
        rows = xcom_rows(stack, dag_id, run["dag_run_id"])
        print(dag_id, "XCom rows per (task, map index):", dict(sorted(rows.items())))
        assert rows and max(rows.values()) == 1, rows
        # the 3 locations spread over the 2 batch tasks that run at once (2 + 1), one row each
        assert sorted(i for (t, i) in rows if t == mapped) == [0, 1]


def test_the_ui_shows_the_tags_dag_and_its_runs(stack, browser, output_dir):
    """Chromium (Selenium) logs into the api-server's UI, opens the tags DAG's runs page (after the runs above),
    waits for a run to show and saves a screenshot; the page read the runs from the REST API."""
    runs = stack.dag_runs(TAGS)
    browser.login_airflow(stack.url)
    browser.open(f"{stack.url}/dags/{TAGS}/runs")
    browser.wait_until(lambda d: any(r["dag_run_id"] in d.page_source for r in runs), "a run id of the tags DAG")
    shot = browser.screenshot(output_dir / "tags-dag-runs.png")
    dom = browser.dom()
    assert TAGS in dom, dom[-2000:]
    assert any(r["dag_run_id"] in dom for r in runs), dom[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    runs_api = browser.requested(f"/api/v2/dags/{TAGS}/dagRuns")
    assert runs_api and {r.status for r in runs_api} == {200}, [(r.url, r.status) for r in browser.requests()]


def test_the_health_dag_alerts_a_stale_location_once_not_on_every_check(stack, smtp):
    """Tags go stale 7.2 s after their last success here: the first check alerts, the next two do not."""
    stack.wait_for_dag(HEALTH)
    stack.unpause(HEALTH)  # its schedule is off in this stack: only the runs triggered here
    time.sleep(STALE_AFTER_H * 3600 + 1)
    for _ in range(3):
        run = stack.wait_for_run(HEALTH, stack.trigger(HEALTH), timeout=300)
        assert run["state"] == "success"
    stale_mails = [m for m in smtp.messages if "not synced within the stale limit" in m["Subject"]]
    assert len(stale_mails) == 1, [m["Subject"] for m in smtp.messages]
    body = stale_mails[0].get_payload(decode=True).decode()
    locations = _ledger_locations(stack)
    assert len(locations) == 3
    assert all(f"location {loc}" in body for loc in locations) and "ghl_pleo_tags_sync" in body
    assert STATS not in body.split("What to do")[0]  # statistics ran minutes ago: 36 h is far off


def _ledger_locations(stack) -> list[str]:
    from ghl_pleo.warehouse import Warehouse

    rows = Warehouse(stack.warehouse_url).db.query(
        "SELECT DISTINCT location_id FROM sync_location_runs WHERE dag_id = :d", {"d": TAGS}
    )
    return sorted(r["location_id"] for r in rows)


def test_the_health_dashboard_is_in_the_airflow_ui_with_charts_and_the_location_table(stack, browser, output_dir):
    """The plugin through the api-server: JSON for monitors, Data Docs, and the page, screenshotted by Chromium
    (Selenium) on its own and inside the Airflow UI (Browse > GHL-Pleo health), with the requests each made."""

    plugins = stack.api("GET", "/plugins")["plugins"]
    ours = next(p for p in plugins if p["name"] == "ghl_pleo_health")
    assert ours["external_views"][0]["url_route"] == "ghl-pleo-health"
    forged = requests.get(f"{stack.url}/ghl-pleo/api/health", headers={"Authorization": "Bearer forged"}, timeout=60)
    assert forged.status_code in (401, 403)  # the token is checked by Airflow's auth manager
    doc = requests.get(f"{stack.url}/ghl-pleo/api/health", timeout=60).json()
    tags = doc["windows"]["24h"]["dags"][TAGS]
    assert tags["runs"] >= 1 and tags["success_rate"] == 1.0 and tags["latency_p50_s"] > 0
    assert doc["windows"]["24h"]["dags"][STATS]["runs"] >= 3  # the three backfilled days and the scheduled run
    locations = _ledger_locations(stack)
    assert {f["location_id"] for f in doc["stale"] if f["dag_id"] == TAGS} == set(locations)
    docs = requests.get(f"{stack.url}/ghl-pleo/data-docs/index.html", timeout=60)
    assert docs.status_code == 200 and "Data Docs created by Great Expectations" in docs.text
    assert "ghl_tags" in docs.text or "ghl_statistics" in docs.text  # the site's index lists the latest validation

    browser.login_airflow(stack.url)
    browser.clear_requests()
    page_url = f"{stack.url}/ghl-pleo/?window=24h"
    browser.open(page_url, css="#locations")
    browser.wait_until(lambda d: len(d.find_elements("css selector", "svg.chart")) == 4, "four charts")
    shot = browser.screenshot(output_dir / "health-dashboard.png")
    dom = browser.dom()
    assert dom.count('<svg class="chart"') == 4, dom[:2000]
    assert 'data-chart="latency"' in dom and "<circle" in dom  # points drawn, not an empty chart
    assert 'id="locations"' in dom and all(f'data-location="{loc}"' in dom for loc in locations)
    assert all(f'class="stale" data-location="{loc}"' in dom for loc in locations)
    assert shot.stat().st_size > 20_000
    loaded = [(r.resource_type, r.url, r.status) for r in browser.requests() if "favicon" not in r.url]
    assert loaded == [("Document", page_url, 200)]  # the page has no script and loads nothing else

    in_ui = f"{stack.url}/plugin/ghl-pleo-health"
    browser.clear_requests()
    frame = browser.open(in_ui).wait_for("iframe[src*='/ghl-pleo/']")
    browser.driver.switch_to.frame(frame)  # wait for the dashboard inside the UI, not just for the frame
    browser.wait_for("svg.chart")
    browser.driver.switch_to.default_content()
    ui_shot = browser.screenshot(output_dir / "health-dashboard-in-airflow-ui.png")
    ui_dom = browser.dom()
    assert "/ghl-pleo/" in ui_dom and "<iframe" in ui_dom, ui_dom[-2000:]
    assert ui_shot.stat().st_size > 20_000
    framed = [r for r in browser.requested("/ghl-pleo/") if r.resource_type == "Document"]
    assert framed and {r.status for r in framed} == {200}, [(r.url, r.status) for r in browser.requests()]


def test_data_docs_render_offline_and_load_nothing_from_outside(stack, output_dir):
    """The Data Docs the runs above wrote, through the dashboard in a Chromium that reaches only this machine
    (every other host blocked, each attempt counted): the site's index and the latest validation page render with
    their libraries (jQuery, Bootstrap's tables, Vega, Font Awesome's icons) served from the site itself."""
    from pathlib import Path

    from tests.browser import open_browser

    docs = Path(stack.env["GHL_PLEO_DATA_DOCS_DIR"])
    latest = max(docs.glob("validations/**/*.html"), key=lambda p: p.stat().st_mtime)
    base = f"{stack.url}/ghl-pleo/data-docs/"
    with open_browser(offline=True) as b:
        b.login_airflow(stack.url)
        b.clear_requests()
        b.open(base + "index.html")  # returns once the page has loaded (what it could)
        outside = b.outside()
        assert outside == [], f"{len(outside)} requests to other hosts: {[r.url for r in outside]}"
        b.wait_for("div.bootstrap-table")  # drawn by bootstrap-table (jQuery)
        index_dom = b.dom()
        b.open(base + latest.relative_to(docs).as_posix(), css="div.bootstrap-table", text="Expectation Suite")
        libraries = b.driver.execute_script(
            "return [window.jQuery && jQuery.fn.jquery, typeof jQuery.fn.bootstrapTable, typeof jQuery.fn.tooltip,"
            " typeof window.vegaEmbed]"
        )
        icons = b.driver.execute_async_script(
            "document.fonts.load('900 1em \"Font Awesome 6 Free\"').then(f => arguments[0](f.length),"
            " e => arguments[0](String(e)))"
        )
        shot = b.screenshot(output_dir / "data-docs-offline.png")
        text, outside, made = b.text(), b.outside(), b.requests()
    assert outside == [], [r.url for r in outside]  # not one attempt to reach a CDN or GX's bucket
    assert "Validation Results" in index_dom and ("ghl_tags" in index_dom or "ghl_statistics" in index_dom)
    assert libraries == ["3.7.1", "function", "function", "function"]  # jQuery, bootstrap-table, Bootstrap, Vega
    assert icons == 1  # Font Awesome's font loaded from the site
    assert "Evaluated Expectations" in text and "Success Percent" in text
    vendored = [r for r in made if "/data-docs/static/vendor/" in r.url]
    assert vendored and {r.status for r in vendored} == {200}, [(r.url, r.status) for r in vendored]
    assert shot.stat().st_size > 20_000
