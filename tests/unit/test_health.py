"""The stale-sync check (one alert per stale period) on a real SQLite warehouse, and the seeded ledger the health
numbers (test_health_numbers.py) and the dashboard (test_dashboard.py) are tested on; the retention cleanup is
tested with the health store (tests/warehouse/test_health.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ghl_pleo.constants import SPEND_DAG_ID
from ghl_pleo.health import STATISTICS_DAG_ID, TAGS_DAG_ID, check_stale
from ghl_pleo.warehouse import Warehouse
from tests.warehouse.ledger_rows import add_row

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOURS = {TAGS_DAG_ID: 3.0, STATISTICS_DAG_ID: 36.0}


def seed(wh: Warehouse, now: datetime) -> None:
    """Tags: 20 runs in the last 24 h (run i lasts i seconds; runs 5 and 10 fail at L2), 5 failed runs 8 days
    ago; L3 last succeeded 5 h ago (stale). Statistics: L1 last succeeded 40 h ago (stale), L2 2 h ago."""
    for i in range(1, 21):
        start = now - timedelta(hours=21 - i)
        run = f"scheduled__{i:02d}"
        add_row(wh, TAGS_DAG_ID, run, "L1", start, i, synced=3, read=100, rejected=1, remaining=90 - i)
        add_row(
            wh,
            TAGS_DAG_ID,
            run,
            "L2",
            start,
            i / 2,
            "failed" if i in (5, 10) else "success",
            read=100,
            flags="schema_drift" if i == 7 else None,
            remaining=95,
        )
    for i in range(5):
        add_row(wh, TAGS_DAG_ID, f"old__{i}", "L1", now - timedelta(days=8, hours=i), 30, "failed")
    add_row(wh, TAGS_DAG_ID, "manual__dry", "L1", now - timedelta(minutes=30), 99, "failed", dry_run=1)
    add_row(wh, TAGS_DAG_ID, "scheduled__l3", "L3", now - timedelta(hours=5), 4)
    add_row(wh, TAGS_DAG_ID, "scheduled__l3b", "L3", now - timedelta(hours=2), 4, "failed")
    add_row(wh, STATISTICS_DAG_ID, "scheduled__s1", "L1", now - timedelta(hours=40), 12, synced=1)
    add_row(wh, STATISTICS_DAG_ID, "scheduled__s2", "L2", now - timedelta(hours=2), 8, "skipped")


@pytest.fixture()
def wh(tmp_path) -> Warehouse:
    return Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")


def test_a_stale_location_is_alerted_once_per_stale_period(wh):
    sent = []
    send = lambda subject, body: sent.append((subject, body)) or ["test"]  # noqa: E731
    add_row(wh, TAGS_DAG_ID, "r1", "L1", NOW - timedelta(hours=4), 5)
    add_row(wh, TAGS_DAG_ID, "r1", "L2", NOW - timedelta(hours=4), 5)
    add_row(wh, TAGS_DAG_ID, "r2", "L1", NOW - timedelta(hours=1), 5)
    add_row(wh, TAGS_DAG_ID, "r2", "L2", NOW - timedelta(hours=1), 5, "failed")
    add_row(wh, TAGS_DAG_ID, "r0", "L9", NOW - timedelta(hours=2), 5, "failed")  # never succeeded, known 2 h
    first = check_stale(wh, now=NOW, hours=HOURS, send=send)
    assert first["alerted"] == [f"{TAGS_DAG_ID}:L2"] and len(sent) == 1 and "location L2" in sent[0][1]
    for later in (0.5, 0.9):  # the next checks: still stale, no new alert
        assert check_stale(wh, now=NOW + timedelta(hours=later), hours=HOURS, send=send)["alerted"] == []
    assert len(sent) == 1
    never = check_stale(wh, now=NOW + timedelta(hours=1.1), hours=HOURS, send=send)  # L9: 3.1 h, never synced
    assert never["alerted"] == [f"{TAGS_DAG_ID}:L9"] and "location L9: never synced successfully" in sent[1][1]
    assert check_stale(wh, now=NOW + timedelta(hours=1.9), hours=HOURS, send=send)["alerted"] == []
    sent.pop()
    add_row(wh, TAGS_DAG_ID, "r3", "L1", NOW + timedelta(hours=6), 5)
    add_row(wh, TAGS_DAG_ID, "r3", "L2", NOW + timedelta(hours=6), 5)  # it syncs again: the period is over
    assert check_stale(wh, now=NOW + timedelta(hours=6, minutes=1), hours=HOURS, send=send)["recovered"] == 1
    again = check_stale(wh, now=NOW + timedelta(hours=10), hours=HOURS, send=send)  # and goes stale again
    assert f"{TAGS_DAG_ID}:L2" in again["alerted"] and len(sent) == 2


def test_a_location_without_a_spend_run_for_36_hours_is_stale(wh, monkeypatch):
    """The spend DAG is daily: by default (no hours given) a location is stale 36 h after its last spend run."""
    monkeypatch.delenv("GHL_PLEO_STALE_HOURS_SPEND", raising=False)
    sent = []
    add_row(wh, SPEND_DAG_ID, "s1", "L1", NOW - timedelta(hours=40), 5)
    add_row(wh, SPEND_DAG_ID, "s2", "L2", NOW - timedelta(hours=30), 5)
    found = check_stale(wh, now=NOW, send=lambda subject, body: sent.append(body) or ["test"])
    assert found["alerted"] == [f"{SPEND_DAG_ID}:L1"]
    assert f"{SPEND_DAG_ID} (stale after 36 h)" in sent[0] and "location L1" in sent[0]
    monkeypatch.setenv("GHL_PLEO_STALE_HOURS_SPEND", "24")
    assert check_stale(wh, now=NOW, send=lambda s, b: ["test"])["alerted"] == [f"{SPEND_DAG_ID}:L2"]
