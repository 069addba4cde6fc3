"""The dashboard's "Spend vs social" page and ``/api/spend`` (plugins/ghl_pleo/dashboard_spend.py and
dashboard_spend_page.py) on a real SQLite warehouse holding the spend DAG's tables: every number is checked against
the warehouse rows, computed here; then the page in Chromium (its screenshot is docs/spend-dashboard.png)."""

from __future__ import annotations

import socket
import threading
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
import pytest

from ghl_pleo.warehouse import Warehouse

COMPANY = "c0"
AS_OF = "2026-11-20"
# (location, tag, day) -> minor units (DKK): amounts whose float sums are not exact (0.10 + 0.20)
SPEND = {
    ("L1", "t1", "2026-10-15"): 50_000,  # older than 30 days: in no figure
    ("L1", "t1", "2026-10-25"): 1_999,  # in 30 days, last month
    ("L1", "t1", "2026-11-03"): 2_500,
    ("L1", "t2", "2026-11-03"): 10,
    ("L1", "t1", "2026-11-14"): 20,  # in the 7 days, without statistics
    ("L1", "t2", "2026-11-18"): 3_333,
    ("L1", "t1", "2026-11-20"): 4_101,
    ("L2", "t9", "2026-11-19"): 99_999,
}
IMPRESSIONS = {("L1", "2026-11-03"): 900, ("L1", "2026-11-18"): 7_000, ("L1", "2026-11-20"): 1_234, ("L2", AS_OF): 0}
ENGAGEMENTS = {("L1", "2026-11-18"): 70, ("L1", "2026-11-20"): 11}


def seed_spend(wh: Warehouse) -> None:
    daily = pd.DataFrame(
        [
            {"company_id": COMPANY, "location_id": loc, "tag_code": tag, "day": day, "currency": "DKK"}
            | {"amount_minor": amount, "entries": 1}
            for (loc, tag, day), amount in SPEND.items()
        ]
    )
    days = sorted({d for _, _, d in SPEND} | {d for _, d in IMPRESSIONS})
    social = []
    for loc, day in sorted({(loc, d) for loc, _, d in SPEND} | set(IMPRESSIONS)):
        spent = sum(a for (lo, _, d), a in SPEND.items() if (lo, d) == (loc, day))
        social.append(
            {"location_id": loc, "day": day, "currency": "DKK", "spend_minor": spent, "has_spend": spent != 0}
            | {"has_statistics": (loc, day) in IMPRESSIONS, "impressions": IMPRESSIONS.get((loc, day))}
            | {"reach": None, "engagements": ENGAGEMENTS.get((loc, day))}
        )
    suggestions = [
        {"entry_id": f"e{n}", "split_id": "", "day": AS_OF, "currency": "DKK", "amount_minor": amount}
        | {"note": note, "candidates": [{"location_id": "L1", "tag_code": "t1", "tag_name": "Summer"}]}
        | {"reason": "the note names Summer"}
        for n, (amount, note) in enumerate(
            [(150, "Coffee for the Summer shoot"), (-98_765, "Refund: Summer ads"), (2_001, "Summer flyers")]
        )
    ]
    wh.spend.replace_days(
        COMPANY, days, daily=daily, social=social, suggestions=suggestions, quarantine=[], run_id="manual__1"
    )


@pytest.fixture()
def client(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from ghl_pleo import dashboard

    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    seed_spend(wh)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('budgets: {L1: {monthly: "100.00"}}\n')
    monkeypatch.setenv("GHL_PLEO_MAPPING_FILE", str(mapping))
    monkeypatch.setenv("GHL_PLEO_DASHBOARD_PUBLIC", "1")
    monkeypatch.setattr(dashboard, "_warehouse", wh)
    dashboard._cache.clear()
    yield TestClient(dashboard.create_app())
    dashboard._cache.clear()


def dkk(minors: int) -> str:
    return str(Decimal(minors) / 100)


def test_the_spend_json_gives_the_warehouse_rows_figures_in_kroner(client):
    doc = client.get("/api/spend").json()
    assert doc["as_of"] == AS_OF and doc["window_7d"] == "2026-11-14..2026-11-20"
    l1, l2 = doc["locations"]
    assert (l1["location_id"], l2["location_id"]) == ("L1", "L2")

    def spent(loc: str, first: str) -> int:
        return sum(a for (lo, _, d), a in SPEND.items() if lo == loc and first <= d <= AS_OF)

    assert l1["spend_7d"] == dkk(spent("L1", "2026-11-14")) == "74.54"
    assert l1["spend_30d"] == dkk(spent("L1", "2026-10-22")) == "119.63"
    assert l1["spend_30d_minor"] == 11_963 and l2["spend_7d"] == "999.99"
    # the 7 days' cost uses only the days having both spend and statistics (11-18 and 11-20, not 11-14)
    both = 3_333 + 4_101
    assert l1["days_used_7d"] == 2 and l1["impressions_7d"] == 8_234 and l1["engagements_7d"] == 81
    per_1k = (Decimal(both) / 100 * 1000 / 8_234).quantize(Decimal("0.0001"))
    assert l1["cost_per_1k_impressions_7d"] == str(per_1k) == "9.0284"
    assert l1["cost_per_engagement_7d"] == str((Decimal(both) / 100 / 81).quantize(Decimal("0.0001")))
    assert l2["cost_per_1k_impressions_7d"] is None  # zero impressions: no cost, not a division by zero
    # the month: November's spend, its share of the 100.00 budget, and spend / 20 days x 30 days
    month = spent("L1", "2026-11-01")
    assert l1["month"] == "2026-11" and l1["spend_month"] == dkk(month) == "99.64"
    assert l1["budget_monthly"] == "100.00" and l1["budget_used_pct"] == "99.6"
    projected = (Decimal(month) * 30 / 20).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert l1["budget_projected_month_end"] == dkk(int(projected)) == "149.46" and l1["over_budget"] is True
    assert l2["budget_monthly"] is None and l2["over_budget"] is False
    chart = {(d["location_id"], d["day"]): (d["spend"], d["impressions"]) for d in doc["daily"]}
    assert chart[("L1", "2026-11-03")] == ("25.10", 900) and ("L1", "2026-10-15") not in chart
    assert [s["amount"] for s in doc["suggestions"]] == ["-987.65", "20.01", "1.50"]  # largest first


def test_the_spend_page_shows_the_table_the_chart_and_the_suggestions(client):
    page = client.get("/spend").text
    assert 'data-chart="spend-impressions"' in page and page.count('<rect class="bar"') == 6  # L1 and L2 days
    assert 'class="over" data-location="L1"' in page and "149.46 OVER BUDGET" in page and "99.6 % of 100.00" in page
    assert page.index('data-entry="e1"') < page.index('data-entry="e2"') < page.index('data-entry="e0"')
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    one = client.get("/spend?location=L2").text
    assert one.count('<rect class="bar"') == 1 and "location L2" in one
    assert 'href="spend"' in client.get("/").text  # linked from the health page


def test_a_budget_with_more_decimals_than_the_currency_is_named_on_the_page_not_a_server_error(
    client, tmp_path, monkeypatch
):
    from ghl_pleo import dashboard

    bad = tmp_path / "bad.yaml"
    bad.write_text('budgets: {L1: {monthly: "100.001"}}\n')
    monkeypatch.setenv("GHL_PLEO_MAPPING_FILE", str(bad))
    dashboard._cache.clear()
    answer = client.get("/api/spend")
    assert answer.status_code == 200
    doc = answer.json()
    assert "budgets.L1.monthly" in doc["budgets_error"] and "more decimals than DKK allows" in doc["budgets_error"]
    assert doc["locations"][0]["budget_monthly"] is None and doc["locations"][0]["spend_7d"] == "74.54"
    assert "Budgets not shown: Mapping file" in client.get("/spend").text


def test_spend_needs_read_access_to_the_spend_dag_the_health_page_does_not(client, monkeypatch):
    from airflow.api_fastapi import app as airflow_app

    from tests.auth_manager import DenySyncDagsAuthManager

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", DenySyncDagsAuthManager())
    monkeypatch.delenv("GHL_PLEO_DASHBOARD_PUBLIC")

    def get(path: str, user: str):
        return client.get(path, headers={"Authorization": f"Bearer {user}"})

    assert get("/api/health", "social").status_code == 200  # may read the tags and statistics DAGs
    for path in ("/api/spend", "/spend", "/spend/"):
        denied = get(path, "social")
        assert denied.status_code == 403 and "ghl_pleo_spend_sync" in denied.json()["detail"], path
    assert get("/api/spend", "reader").json()["as_of"] == AS_OF


@pytest.mark.slow  # starts Chromium
def test_the_spend_page_in_chromium_loads_nothing_else(client, browser, output_dir):
    import uvicorn

    from ghl_pleo import dashboard

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(dashboard.create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/spend"
        browser.wait_until(lambda d: server.started, "the dashboard server")
        browser.clear_requests()
        browser.open(url, css="#spend-suggestions")
        shot = browser.screenshot(output_dir / "spend-dashboard.png")
        assert "149.46 OVER BUDGET" in browser.text() and "rect" in browser.dom()
        assert shot.stat().st_size > 20_000
        loaded = [(r.resource_type, r.url, r.status) for r in browser.requests() if "favicon" not in r.url]
        assert loaded == [("Document", url, 200)]  # no script, nothing from elsewhere
    finally:
        server.should_exit = True
        thread.join(timeout=30)
