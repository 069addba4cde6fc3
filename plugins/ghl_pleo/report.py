"""Print a run summary from the warehouse: ``python -m ghl_pleo.report [--dag-id D] [--run-id R]``.

Without ``--run-id`` it prints the latest run of the DAG. Exit code 1 when a location failed.
"""

from __future__ import annotations

import argparse
import sys

from ghl_pleo.summary import TAGS_DAG_ID, run_summary
from ghl_pleo.warehouse import Warehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ghl_pleo.report", description=__doc__)
    parser.add_argument("--dag-id", default=TAGS_DAG_ID)
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    warehouse = Warehouse()
    run_id = args.run_id or warehouse.ledger.latest_run_id(args.dag_id)
    if not run_id:
        print(f"No runs of {args.dag_id} in the warehouse {warehouse.db.safe_url}")
        return 1
    text, failed = run_summary(warehouse, args.dag_id, run_id, [])
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
