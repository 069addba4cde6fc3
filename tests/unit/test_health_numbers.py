"""The health numbers (plugins/ghl_pleo/health_numbers.py) on a seeded ledger: known success rates and
percentiles, per DAG, per location and per window, on a real SQLite warehouse seeded as in test_health.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ghl_pleo.health import STATISTICS_DAG_ID, TAGS_DAG_ID, health
from ghl_pleo.warehouse import Warehouse
from tests.unit.test_health import HOURS, NOW, seed
from tests.warehouse.ledger_rows import add_row


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


def test_a_location_another_run_was_syncing_is_neither_a_failure_nor_a_sync(wh):
    """``skipped_locked``: the run stays green and the location's success rate is not lowered by it; whether the
    location is fresh comes from the run that held it (here that run failed: no success at all)."""
    add_row(wh, TAGS_DAG_ID, "holder", "L1", NOW - timedelta(hours=2), 5, "failed")
    add_row(wh, TAGS_DAG_ID, "skipper", "L1", NOW - timedelta(hours=1), 1, "skipped_locked")
    add_row(wh, TAGS_DAG_ID, "skipper", "L2", NOW - timedelta(hours=1), 3)
    doc = health(wh, now=NOW, hours=HOURS)
    assert {r["run_id"]: r["status"] for r in doc["runs"]} == {"holder": "failed", "skipper": "success"}
    l1 = next(r for r in doc["windows"]["24h"]["locations"] if r["location_id"] == "L1")
    assert l1["runs"] == 2 and l1["failures"] == 1 and l1["success_rate"] == 0.5
    assert next(f for f in doc["freshness"] if f["location_id"] == "L1")["last_success_at"] is None


def test_a_run_whose_location_list_failed_counts_as_failed_and_hides_no_location(wh):
    """Issue 17, item 3: list_locations failed, so the run has only its run-level row (location id ``*``, written by
    the task as a real run does, through the run context): the dashboard counts it as a failed run of the DAG, no
    location is invented for it, and the locations synced before stay in the freshness table and the stale check."""
    from ghl_pleo.errors import ConfigurationError
    from ghl_pleo.health import check_stale
    from ghl_pleo.run_context import Hooks, SyncRun
    from ghl_pleo.warehouse.run_rows import RUN_ROW

    now = datetime.now(UTC)  # the run-level row is written at the real time, as a task writes it
    add_row(wh, TAGS_DAG_ID, "good", "L1", now - timedelta(hours=5), 4)
    add_row(wh, TAGS_DAG_ID, "good", "L2", now - timedelta(hours=5), 6)
    run = SyncRun(wh, TAGS_DAG_ID, "broken", 1)
    with pytest.raises(ConfigurationError), run.location(RUN_ROW, Hooks()) as row:
        row.counts["task"] = "list_locations"
        raise ConfigurationError("Mapping file /x.yaml: unknown key 'metrcs'")
    doc = health(wh, hours=HOURS)
    tags = doc["windows"]["24h"]["dags"][TAGS_DAG_ID]
    assert tags["runs"] == 2 and tags["runs_succeeded"] == 1 and tags["location_runs"] == 2
    assert {r["run_id"]: r["status"] for r in doc["runs"]} == {"good": "success", "broken": "failed"}
    assert {r["location_id"] for r in doc["windows"]["24h"]["locations"]} == {"L1", "L2"}
    assert {f["location_id"] for f in doc["freshness"]} == {"L1", "L2"}
    sent = []
    out = check_stale(wh, hours=HOURS, send=lambda subject, body: sent.append(body) or ["email"])
    assert out["checked"] == 2 and sent and "location L1" in sent[0] and "location *" not in sent[0]
    assert wh.ledger.step_failure(TAGS_DAG_ID, "broken") == {
        "task": "list_locations",
        "error_kind": "configuration",
        "error": "Mapping file /x.yaml: unknown key 'metrcs'",
        "try_number": 1,
    }
    assert wh.ledger.location_runs(TAGS_DAG_ID, "broken") == []
