"""Print a run summary from the warehouse: ``make report`` (``REPORT_ARGS="--run-id R"``), or
``python -m ghl_pleo.report`` with the environment of ``make run`` (scripts/env.sh names the warehouse).

Without --run-id it prints the latest run of the DAG. Exit code 1 when a location failed or the run is unknown.
"""

from __future__ import annotations

import argparse
import sys

from ghl_pleo.constants import SPEND_DAG_ID, SYNC_DAG_IDS
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.summary import TAGS_DAG_ID, run_summary
from ghl_pleo.warehouse import Warehouse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ghl_pleo.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dag-id",
        default=TAGS_DAG_ID,
        help=f"the DAG whose run to show: {', '.join((*SYNC_DAG_IDS, SPEND_DAG_ID))} (default: %(default)s)",
    )
    p.add_argument(
        "--run-id",
        help="the Airflow run id to show (e.g. manual__2026-11-02T10:00:00+00:00); default: the DAG's latest run",
    )
    p.add_argument(
        "--list", action="store_true", help="list the DAG's latest runs in the warehouse (newest first) and exit"
    )
    p.add_argument("--limit", type=int, default=20, help="how many runs --list shows (default: %(default)s)")
    return p


def recent_runs(warehouse: Warehouse, dag_id: str, limit: int) -> list[dict]:
    """The DAG's runs in the ledger, newest first: run id, when it started, its locations and failures."""
    return warehouse.db.query(
        "SELECT run_id, MIN(started_at) AS started_at, COUNT(*) AS locations, "
        "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed FROM sync_location_runs "
        "WHERE dag_id = :d GROUP BY run_id ORDER BY MIN(started_at) DESC LIMIT :n",
        {"d": dag_id, "n": limit},
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        warehouse = Warehouse()
    except ConfigurationError as exc:
        print(f"{exc}\n`make report` sets it as `make run` does (scripts/env.sh).", file=sys.stderr)
        return 1
    if args.list:
        runs = recent_runs(warehouse, args.dag_id, args.limit)
        for r in runs:
            print(f"{r['run_id']}  started {r['started_at']}  {r['locations']} locations, {r['failed']} failed")
        if not runs:
            print(f"No runs of {args.dag_id} in the warehouse {warehouse.db.safe_url}")
        return 0
    run_id = args.run_id or warehouse.ledger.latest_run_id(args.dag_id)
    if not run_id:
        print(f"No runs of {args.dag_id} in the warehouse {warehouse.db.safe_url}", file=sys.stderr)
        return 1
    if not warehouse.ledger.location_runs(args.dag_id, run_id):
        print(
            f"Unknown run id {run_id!r}: no run of {args.dag_id} with that id in the warehouse "
            f"{warehouse.db.safe_url}; list its runs with `make report REPORT_ARGS='--list --dag-id {args.dag_id}'`",
            file=sys.stderr,
        )
        return 1
    text, failed = run_summary(warehouse, args.dag_id, run_id, [])
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
