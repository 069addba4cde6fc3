"""The health numbers on a seeded ledger (known success rates and percentiles) and the stale-sync check (one alert
per stale period), on a real SQLite warehouse. The dashboard serving them is tested in test_dashboard.py; the
retention cleanup with the health store (tests/warehouse/test_health.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ghl_pleo.health import STATISTICS_DAG_ID, TAGS_DAG_ID, check_stale, health
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


def test_success_rates_and_percentiles_on_a_seeded_ledger(wh):
    seed(wh, NOW)
    doc = health(wh, now=NOW, hours=HOURS)
    tags = doc["windows"]["24h"]["dags"][TAGS_DAG_ID]
    # 20 runs + L3's two runs; runs 5, 10 and L3's last one failed; the dry run is not counted
    assert tags["runs"] == 22 and tags["runs_succeeded"] == 19
    assert tags["success_rate"] == round(19 / 22, 4)
    assert tags["location_runs"] == 42 and tags["location_success_rate"] == round(39 / 42, 4)
    # run latencies: 1..20 s and 4, 4 (L3): p50 and p95 with linear interpolation
    lat = sorted(list(range(1, 21)) + [4, 4])
    assert tags["latency_p50_s"] == pytest.approx((lat[10] + lat[11]) / 2)
    assert tags["latency_p95_s"] == pytest.approx(lat[19] + 0.95 * (lat[20] - lat[19]))
    assert tags["records_synced"] == 60 and tags["records_synced_per_run"] == pytest.approx(60 / 22, abs=0.01)
    assert tags["rejected_share"] == round(20 / 4000, 4)
    assert tags["drift_events"] == {"schema_drift": 1}
    assert tags["min_ratelimit_remaining"] == 70
    week = doc["windows"]["30d"]["dags"][TAGS_DAG_ID]
    assert week["runs"] == 27 and week["success_rate"] == round(19 / 27, 4)
    assert doc["windows"]["7d"]["dags"][TAGS_DAG_ID]["runs"] == 22
    loc1 = next(
        r for r in doc["windows"]["24h"]["locations"] if r["location_id"] == "L1" and r["dag_id"] == TAGS_DAG_ID
    )
    assert loc1["success_rate"] == 1.0 and loc1["duration_p50_s"] == 10.5 and loc1["records_synced"] == 60
    stale = {(f["dag_id"], f["location_id"]) for f in doc["stale"]}
    assert stale == {(TAGS_DAG_ID, "L3"), (STATISTICS_DAG_ID, "L1")}


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
