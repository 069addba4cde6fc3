"""How long the health dashboard takes to compute at agency scale: ``python -m bench.dashboard [--locations 500]
[--days 30]`` (with ``PYTHONPATH=plugins:.``). Seeds a SQLite ledger with one tags run per hour per location and
one statistics run per day, then times the health document (what ``/ghl-pleo/api/health`` returns), the page
render and the JSON encoding, and prints them. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from ghl_pleo.dashboard import render_page
from ghl_pleo.health import STATISTICS_DAG_ID, TAGS_DAG_ID, health
from ghl_pleo.warehouse import TS_FORMAT as FMT
from ghl_pleo.warehouse import Warehouse


def seed(wh: Warehouse, locations: int, days: int, now: datetime) -> int:
    rows = []
    for hour in range(days * 24):
        start = now - timedelta(hours=hour)
        for i in range(locations):
            rows.append(
                {
                    "d": TAGS_DAG_ID,
                    "r": f"scheduled__{hour}",
                    "l": f"Loc{i:017d}",
                    "s": "failed" if (hour * 7 + i) % 211 == 0 else "success",
                    "st": (start + timedelta(seconds=i % 60)).strftime(FMT),
                    "fi": (start + timedelta(seconds=i % 60 + 20)).strftime(FMT),
                    "dur": 20.0 + i % 7,
                    "rd": 200,
                    "sy": i % 3,
                    "rj": i % 2,
                    "mr": 80 + i % 20,
                    "df": "schema_drift" if (hour + i) % 5000 == 0 else None,
                }
            )
            if hour % 24 == 0:
                rows.append({**rows[-1], "d": STATISTICS_DAG_ID, "r": f"scheduled__d{hour // 24}", "sy": 1, "df": None})
    with wh.db.begin() as conn:  # seeding the ledger directly, as the tests do
        conn.execute(
            text(
                "INSERT INTO sync_location_runs (dag_id, run_id, location_id, status, try_number, started_at, "
                "finished_at, counts, requests, dry_run, duration_s, records_read, records_synced, records_rejected, "
                "requests_total, retries, min_ratelimit_remaining, drift_flags) VALUES (:d, :r, :l, :s, 1, :st, :fi, "
                "'{}', '{}', 0, :dur, :rd, :sy, :rj, 3, 0, :mr, :df)"
            ),
            rows,
        )
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        n = seed(wh, args.locations, args.days, now)
        print(
            f"seeded {n:,} ledger rows ({args.locations} locations x {args.days} days) in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        for attempt in (1, 2):
            t0 = time.perf_counter()
            doc = health(wh, now=now)
            t1 = time.perf_counter()
            page = render_page(doc, "30d")
            t2 = time.perf_counter()
            body = json.dumps(doc)
            t3 = time.perf_counter()
            print(
                f"run {attempt}: health document {t1 - t0:.2f} s, page (30d) {t2 - t1:.3f} s "
                f"({len(page) // 1024} KB), JSON {t3 - t2:.3f} s ({len(body) // 1024} KB)"
            )


if __name__ == "__main__":
    main()
