"""The warehouse's engine and include/sql on both backends it runs on (SQLite, the embedded default, and
PostgreSQL): the DDL, the schema applied once per process and URL, the query helpers, the facade."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from ghl_pleo.warehouse import Warehouse, core

pytestmark = pytest.mark.integration

TABLES = {
    "ghl_tag_pages",
    "sync_leases",
    "ghl_tag_details",
    "pleo_tags_pushed",
    "rejected_records",
    "sync_location_runs",
    "sync_run_events",
    "ghl_statistics_daily",
    "ghl_oauth_state",
    "ghl_pleo_rate_slots",
    "pleo_change_log",
    "stale_alerts",
}


def test_the_ddl_applies_twice_and_creates_every_table(wh):
    wh.apply_schema()
    assert TABLES <= set(inspect(wh.db.engine).get_table_names())
    ledger = {c["name"] for c in inspect(wh.db.engine).get_columns("sync_location_runs")}
    assert {"dry_run", "duration_s", "records_synced", "retries", "min_ratelimit_remaining", "drift_flags"} <= ledger


def test_a_warehouse_from_before_the_ledger_columns_is_upgraded_in_place(tmp_path):
    """An existing sync_location_runs without the ledger columns gets them (and keeps its rows); twice is a no-op."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    with create_engine(url).begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE sync_location_runs (dag_id TEXT NOT NULL, run_id TEXT NOT NULL, location_id "
                "TEXT NOT NULL, status TEXT NOT NULL, try_number INTEGER NOT NULL, started_at TEXT NOT "
                "NULL, finished_at TEXT, error_kind TEXT, error TEXT, counts TEXT, requests TEXT, "
                "PRIMARY KEY (dag_id, run_id, location_id))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sync_location_runs VALUES ('d', 'r', 'L', 'success', 1, "
                "'2026-11-01T00:00:00.000000Z', '2026-11-01T00:00:05.000000Z', NULL, NULL, '{}', '{}')"
            )
        )
    wh = Warehouse(url)
    wh.apply_schema()
    wh.apply_schema()
    rows = wh.db.query("SELECT run_id, dry_run, drift_flags FROM sync_location_runs")
    assert rows == [{"run_id": "r", "dry_run": 0, "drift_flags": None}]


@pytest.fixture
def ddl_runs(monkeypatch) -> list[str]:
    """The URLs the DDL ran for, in order (each run slowed down a little, to give a race its chance)."""
    runs: list[str] = []
    real = core.Database._run_ddl

    def counted(self):
        runs.append(self.url)
        time.sleep(0.05)
        real(self)

    monkeypatch.setattr(core.Database, "_run_ddl", counted)
    return runs


def test_the_schema_is_applied_once_per_process_and_url(tmp_path, ddl_runs):
    one, two = f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
    barrier = threading.Barrier(4)

    def build():
        barrier.wait()
        Warehouse(one)

    threads = [threading.Thread(target=build) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    Warehouse(one)
    assert ddl_runs == [one]
    assert "pleo_change_log" in inspect(Warehouse(two).db.engine).get_table_names()
    assert ddl_runs == [one, two]
    Warehouse(one).apply_schema()  # asked for explicitly: it runs again
    assert ddl_runs == [one, two, one]


def test_a_schema_that_failed_to_apply_is_tried_again_by_the_next_warehouse(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    real = core.Database._run_ddl
    monkeypatch.setattr(core.Database, "_run_ddl", lambda self: (_ for _ in ()).throw(RuntimeError("db down")))
    with pytest.raises(RuntimeError, match="db down"):
        Warehouse(url)
    monkeypatch.setattr(core.Database, "_run_ddl", real)
    assert Warehouse(url).db.query("SELECT COUNT(*) AS n FROM sync_location_runs") == [{"n": 0}]


def test_sql_dir_is_the_repository_include_sql():
    assert core.SQL_DIR.parts[-2:] == ("include", "sql")
    assert "006_ledger.sql" in {p.name for p in core.SQL_DIR.glob("*.sql")}


def test_sqlite_connections_use_wal_and_wait_for_the_write_lock(tmp_path):
    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    assert wh.db.query("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    assert wh.db.query("PRAGMA busy_timeout") == [{"timeout": 60000}]
    assert wh.db.query("PRAGMA synchronous") == [{"synchronous": 1}]  # NORMAL


def test_query_gives_dicts_and_frame_keeps_its_columns_when_empty(wh):
    assert wh.db.query("SELECT 1 AS one") == [{"one": 1}]
    empty = wh.db.frame("SELECT dag_id, run_id FROM sync_location_runs WHERE dag_id = :d", {"d": "none"})
    assert empty.empty and list(empty.columns) == ["dag_id", "run_id"]


def test_the_facade_shares_one_database_between_its_stores(wh):
    stores = [wh.staging, wh.state, wh.ledger, wh.tokens, wh.rate_slots]
    assert all(store.db is wh.db for store in stores)
    assert wh.db.url == wh.url


def test_the_package_exports_what_callers_import():
    import ghl_pleo.warehouse as warehouse

    for name in ("Warehouse", "change", "utcnow", "parse_ts", "TS_FORMAT", "warehouse_url", "CONN_ID"):
        assert hasattr(warehouse, name), name
    assert warehouse.CONN_ID == "ghl_pleo_db"


def test_timestamps_round_trip_and_parse_ts_takes_missing_values():
    stamp = core.utcnow()
    parsed = core.parse_ts(stamp)
    assert parsed.tzinfo is UTC and abs((datetime.now(UTC) - parsed).total_seconds()) < 5
    assert parsed.strftime(core.TS_FORMAT) == stamp
    assert core.parse_ts(None) is None and core.parse_ts(float("nan")) is None and core.parse_ts("") is None


def test_a_missing_warehouse_connection_is_a_configuration_error_naming_it(monkeypatch):
    """No silent per-machine SQLite file (issue 14, item 9)."""
    from ghl_pleo.errors import ConfigurationError
    from ghl_pleo.warehouse import warehouse_url

    monkeypatch.delenv("AIRFLOW_CONN_GHL_PLEO_DB", raising=False)
    with pytest.raises(ConfigurationError, match="ghl_pleo_db"):
        warehouse_url()
