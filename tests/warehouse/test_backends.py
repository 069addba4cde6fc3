"""The warehouse and include/sql on both backends it runs on: SQLite (embedded default) and PostgreSQL."""
from __future__ import annotations

import threading

import pandas as pd
import pytest
from sqlalchemy import inspect

from ghl_pleo.ratelimit import SharedRateLimiter
from ghl_pleo.warehouse import Warehouse

pytestmark = pytest.mark.integration

TABLES = {"ghl_tags_staged", "ghl_tag_details", "pleo_tags_pushed", "rejected_records", "sync_location_runs",
          "sync_run_events", "ghl_statistics_daily", "ghl_oauth_state", "ghl_pleo_rate_slots", "pleo_change_log",
          "stale_alerts"}


@pytest.fixture
def wh(warehouse_url) -> Warehouse:
    w = Warehouse(warehouse_url)
    w.apply_schema()
    yield w
    w.engine.dispose()


def test_the_ddl_applies_twice_and_creates_every_table(wh):
    wh.apply_schema()
    assert TABLES <= set(inspect(wh.engine).get_table_names())
    ledger = {c["name"] for c in inspect(wh.engine).get_columns("sync_location_runs")}
    assert {"dry_run", "duration_s", "records_synced", "retries", "min_ratelimit_remaining", "drift_flags"} <= ledger


def test_change_log_rows_are_written_with_the_sync_state_and_dry_runs_leave_the_state_alone(wh):
    from ghl_pleo.warehouse import change

    real = change("dag", "run1", 1, "L1", "tag", "create", code="t1", pleo_id="P1", after={"name": "A"})
    wh.record_push("L1", "t1", "P1", "A", False, "create", "run1", change=real)
    planned = change("dag", "run2", 1, "L1", "tag", "rename", code="t1", pleo_id="P1", before={"name": "A"},
                     after={"name": "B"}, dry_run=True)
    wh.record_push("L1", "t1", "P1", "B", False, "rename", "run2", change=planned)
    assert wh.query("SELECT name, run_id FROM pleo_tags_pushed") == [{"name": "A", "run_id": "run1"}]
    log = wh.changes("dag")
    assert [(c["run_id"], c["action"], c["dry_run"], c["after"]) for c in log] == [
        ("run1", "create", 0, {"name": "A"}), ("run2", "rename", 1, {"name": "B"})]
    assert log[1]["before"] == {"name": "A"}


def test_staged_pages_stream_back_in_read_order_byte_for_byte(wh):
    page1 = [{"_id": "a", "tag": "Café 🎉 👨\u200d👩\u200d👧", "extra": {"n": [1, None, True]}}, {"_id": "b", "tag": "<b>x</b>"}]
    page2 = [{"_id": "c", "tag": "ﺍﻟﻌﺮﺑﻴﺔ\u200f"}, "not an object"]
    wh.stage_page("L1", "run1", 2, page2)
    wh.stage_page("L1", "run1", 1, page1)
    wh.stage_page("L2", "run1", 1, [{"_id": "z"}])
    rows = list(wh.iter_staged("L1", chunk=1))
    assert [(r[1], r[2]) for r in rows] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert [r[3] for r in rows] == page1 + page2
    wh.clear_staged("L1")
    assert list(wh.iter_staged("L1")) == [] and len(list(wh.iter_staged("L2"))) == 1


def test_details_are_replaced_not_duplicated_and_read_per_batch(wh):
    wh.save_details("L1", [{"_id": "a", "v": 1}, {"_id": "b", "v": 1}], {"a": "fa", "b": "fb"})
    wh.save_details("L1", [{"_id": "a", "v": 2}], {"a": "fa2"})
    assert wh.detail_fingerprints("L1") == {"a": "fa2", "b": "fb"}
    got = wh.details_for("L1", ["a", "missing"])
    assert list(got["tag_id"]) == ["a"] and got["payload"][0] == {"_id": "a", "v": 2}
    assert wh.details_for("L1", []).empty


def test_pushes_and_ledger_rows_are_one_per_key_across_reruns(wh):
    for name in ("Old", "New"):
        wh.record_push("L1", "code1", "p1", name, False, "create", "run1")
    assert wh.query("SELECT name FROM pleo_tags_pushed WHERE location_id = 'L1'") == [{"name": "New"}]
    for attempt in (1, 2):
        wh.start_location_run("dag", "run1", "L1", attempt)
        wh.finish_location_run("dag", "run1", "L1", "success", {"read": 3, "active": 2}, {"ghl": {}})
    runs = wh.location_runs("dag", "run1")
    assert len(runs) == 1 and runs[0]["try_number"] == 2 and runs[0]["counts"]["read"] == 3
    assert wh.last_success_counts("dag", "L1", "run2")["active"] == 2
    rejected = pd.DataFrame([{"location_id": "L1", "record_key": "k", "rule": "empty_name", "reason": "r",
                              "raw_value": "\u200b"}])
    wh.save_rejected("dag", "run1", "L1", "tag", rejected)
    wh.save_rejected("dag", "run1", "L1", "tag", rejected)
    assert len(wh.query("SELECT * FROM rejected_records")) == 1


def test_the_shared_rate_hands_out_distinct_spaced_slots_to_concurrent_callers(wh):
    """Three threads (think: three task processes) reserving at once: no two slots closer than the interval."""
    limiter = SharedRateLimiter(wh.engine, 50, headroom=0.0, sleep=lambda s: None)
    slots: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        for _ in range(20):
            slot = limiter._reserve("pleo:test")
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=reserve) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert len(slots) == 60 and min(gaps) >= 0.02 - 1e-6  # epoch seconds in a double: ~1e-7 s resolution


def test_a_warehouse_from_before_the_ledger_columns_is_upgraded_in_place(tmp_path):
    """An existing sync_location_runs without the ledger columns gets them (and keeps its rows); twice is a no-op."""
    from sqlalchemy import create_engine, text

    from ghl_pleo.warehouse import Warehouse

    url = f"sqlite:///{tmp_path / 'old.db'}"
    with create_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE sync_location_runs (dag_id TEXT NOT NULL, run_id TEXT NOT NULL, location_id "
                          "TEXT NOT NULL, status TEXT NOT NULL, try_number INTEGER NOT NULL, started_at TEXT NOT "
                          "NULL, finished_at TEXT, error_kind TEXT, error TEXT, counts TEXT, requests TEXT, "
                          "PRIMARY KEY (dag_id, run_id, location_id))"))
        conn.execute(text("INSERT INTO sync_location_runs VALUES ('d', 'r', 'L', 'success', 1, "
                          "'2026-11-01T00:00:00.000000Z', '2026-11-01T00:00:05.000000Z', NULL, NULL, '{}', '{}')"))
    wh = Warehouse(url)
    wh.apply_schema()
    wh.apply_schema()
    rows = wh.query("SELECT run_id, dry_run, drift_flags FROM sync_location_runs")
    assert rows == [{"run_id": "r", "dry_run": 0, "drift_flags": None}]
