"""The spend flow without Airflow, against the sandbox: an incomplete read replaces no day, and a budget alert goes
out once per location and month, through the real alert channel (an SMTP receiver)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from ghl_pleo.config import load_mapping
from ghl_pleo.constants import SPEND_DAG_ID
from ghl_pleo.errors import IncompleteReadError
from ghl_pleo.flows.spend import SpendWindow, sync_spend
from tests.flows.harness import FlowRunner
from tests.receivers import SmtpReceiver, mail_text

pytestmark = pytest.mark.integration
SEARCH = "POST /v1/accounting-entries:search"


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch) -> FlowRunner:
    locations = sandbox.reset(locations=2, min_tags=3, max_tags=3)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    runner = FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    sandbox.apply_env(monkeypatch, locations, currency="DKK")
    budgeted = sorted(locations)[0]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(f'budgets: {{"{budgeted}": {{monthly: "1.00"}}}}\nspend: {{budget_min_days: 1}}\n')
    monkeypatch.setenv("GHL_PLEO_MAPPING_FILE", str(mapping))
    assert runner.tags().errors == {}
    runner.budgeted = budgeted
    return runner


def spend(flows: FlowRunner, day: date, today: date, lookback: int = 1) -> dict:
    run = flows._run(SPEND_DAG_ID, False)
    hooks = flows.hooks()
    locations = flows._locations(hooks, None)
    flows.last_run = run
    return sync_spend(run, hooks.pleo, load_mapping(), locations, SpendWindow(day, lookback), today)


def rows(flows: FlowRunner) -> list[tuple]:
    frame = flows.warehouse.spend.spend_daily()
    return sorted(frame[["location_id", "tag_code", "day", "amount_minor"]].itertuples(index=False, name=None))


def test_an_incomplete_read_replaces_no_day_and_fails_every_location_of_the_company(flows):
    box, day = flows.box, date(2026, 11, 1)
    box._admin("POST", "/pleo/entries/generate", json={"start": day.isoformat(), "currency": "DKK"})
    spend(flows, day, today=date(2026, 12, 2))
    before = rows(flows)
    assert before and {r[2] for r in before} == {"2026-11-01"}
    box._admin("DELETE", "/pleo/entries")  # every entry gone: a whole read would empty the day
    box.fault(api="pleo", endpoint=SEARCH, body_kind="empty_has_next")
    with pytest.raises(IncompleteReadError):
        spend(flows, day, today=date(2026, 12, 2))
    assert rows(flows) == before
    ledger = flows.warehouse.ledger.location_runs(SPEND_DAG_ID, flows.last_run.run_id)
    assert {(r["status"], r["error_kind"]) for r in ledger} == {("failed", "incomplete_read")}
    assert len(ledger) == len(flows.locations)
    box.clear_faults()
    spend(flows, day, today=date(2026, 12, 2))
    assert rows(flows) == []  # the whole read of an empty day replaces it


def test_a_budget_alert_for_the_current_month_is_sent_once_per_location_and_month(flows, monkeypatch):
    box, today = flows.box, datetime.now(UTC).date()
    box._admin("POST", "/pleo/entries/generate", json={"start": today.isoformat(), "currency": "DKK"})
    smtp = SmtpReceiver()
    extra = {"from_email": "ghl-pleo@example.com", "to": ["finance@example.com"], "disable_ssl": True,
             "disable_tls": True}  # fmt: skip
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_SMTP", json.dumps(conn))
    try:
        spend(flows, today, today=today)
        spend(flows, today, today=today)  # the next run: the same month, already alerted
    finally:
        smtp.stop()
    (mail,) = smtp.messages
    text = mail_text(mail)
    assert f"Location {flows.budgeted} is projected to overrun its {today:%Y-%m} budget." in text
    assert "budget: 1.00 DKK" in text and "Tags that spent most:" in text
    alerts = flows.warehouse.db.query("SELECT location_id, month FROM spend_budget_alerts")
    assert alerts == [{"location_id": flows.budgeted, "month": f"{today:%Y-%m}"}]


def test_the_company_month_is_read_once_and_each_location_gets_its_own_spend(flows, monkeypatch):
    """500 locations of one company are one read of the month's rows, not 500; each location's month spend is the
    sum of its own warehouse rows (none of another location's)."""
    from ghl_pleo.warehouse.spend import SpendStore

    box, day = flows.box, date(2026, 11, 3)
    box._admin("POST", "/pleo/entries/generate", json={"start": "2026-11-02", "days": 2, "currency": "DKK"})
    reads: list[tuple] = []
    real = SpendStore.spend_daily

    def counted(self, company_id=None, start="", end="9999"):
        reads.append((company_id, start, end))
        return real(self, company_id, start, end)

    monkeypatch.setattr(SpendStore, "spend_daily", counted)
    spend(flows, day, today=date(2026, 12, 2), lookback=1)
    assert len(reads) == 1 and reads[0][1:] == ("2026-11-01", "2026-11-03"), reads
    daily = real(flows.warehouse.spend)
    ledger = flows.warehouse.ledger.location_runs(SPEND_DAG_ID, flows.last_run.run_id)
    assert len(ledger) == len(flows.locations) >= 2
    spent = {r["location_id"]: r["counts"]["spend_month"] for r in ledger}
    for location_id in flows.locations:
        minor = int(daily.loc[daily["location_id"] == location_id, "amount_minor"].sum())
        assert spent[location_id] == f"{minor / 100:.2f}", (location_id, spent)
    assert len(set(spent.values())) == len(spent), "two locations with the same spend: the test proves less"
