"""The run ledger's run-level rows: a run whose location list or ``ensure_groups`` failed has no location row, yet
it is in ``sync_location_runs`` as failed, under the location id :data:`RUN_ROW`, with the step's task id in its
counts and the step's error. The dashboard counts the run; location reads (summaries, freshness, the stale check,
per-location numbers) leave the row out. Mixed into :class:`ghl_pleo.warehouse.ledger.LedgerStore`.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from ghl_pleo.warehouse.core import Database

RUN_ROW = "*"


class RunRows:
    db: Database

    def step_failure(self, dag_id: str, run_id: str) -> dict | None:
        """The run's failed run-level step (``{task, error_kind, error, try_number}``), or None."""
        with self.db.connect() as conn:
            row = (
                conn.execute(
                    text(
                        "SELECT try_number, error_kind, error, counts FROM sync_location_runs WHERE dag_id = :d "
                        "AND run_id = :r AND location_id = :star AND status = 'failed'"
                    ),
                    {"d": dag_id, "r": run_id, "star": RUN_ROW},
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        task = (json.loads(row["counts"]) if row["counts"] else {}).get("task")
        return {"task": task, "error_kind": row["error_kind"], "error": row["error"], "try_number": row["try_number"]}

    def clear_step_failure(self, dag_id: str, run_id: str) -> None:
        """A run-level step that succeeded on a later try: its earlier try's failure row goes."""
        with self.db.begin() as conn:
            conn.execute(
                text("DELETE FROM sync_location_runs WHERE dag_id = :d AND run_id = :r AND location_id = :star"),
                {"d": dag_id, "r": run_id, "star": RUN_ROW},
            )

    def has_succeeded(self, dag_id: str, location_id: str, *, others: bool = False) -> bool:
        """Whether the location (``others``: any other location) ever synced for real in this DAG."""
        where = "location_id NOT IN (:l, :star)" if others else "location_id = :l"
        with self.db.connect() as conn:
            row = conn.execute(
                text(
                    f"SELECT 1 FROM sync_location_runs WHERE dag_id = :d AND {where} AND status = 'success' "
                    "AND dry_run = 0 LIMIT 1"
                ),
                {"d": dag_id, "l": location_id, "star": RUN_ROW},
            ).first()
        return row is not None
