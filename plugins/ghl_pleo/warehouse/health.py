"""What the health DAG and the dashboard keep in the warehouse: the ledger read for the health numbers
(``sync_location_runs``), the stale periods already alerted (``stale_alerts``) and the retention of the ledger,
change log, rejected records, run notes and leftover staged pages. Each method is one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import text

from ghl_pleo.warehouse.core import TS_FORMAT, Database, utcnow
from ghl_pleo.warehouse.run_rows import RUN_ROW

# The ledger's numeric columns (what the health numbers add up), and every column they are computed from.
NUMERIC_COLUMNS = [
    "duration_s",
    "records_read",
    "records_synced",
    "records_rejected",
    "requests_total",
    "retries",
    "min_ratelimit_remaining",
]
LEDGER_COLUMNS = [
    "dag_id",
    "run_id",
    "location_id",
    "status",
    "started_at",
    "finished_at",
    *NUMERIC_COLUMNS,
    "drift_flags",
    "error_kind",
]


# Staged tag pages older than this belong to a try that was killed and never retried (see cleanup).
STAGED_PAGES_MAX_AGE = timedelta(days=1)


class HealthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # health reads --------------------------------------------------------------------------
    def runs_since(self, since: datetime) -> pd.DataFrame:
        """Real (not dry) ledger rows started since ``since``: the :data:`LEDGER_COLUMNS`, as stored."""
        return self.db.frame(
            f"SELECT {', '.join(LEDGER_COLUMNS)} FROM sync_location_runs WHERE dry_run = 0 AND started_at >= :s",
            {"s": since.strftime(TS_FORMAT)},
        )

    def last_successes(self) -> pd.DataFrame:
        """Per DAG and location: the last successful real sync, the first time it was seen, the last start.

        A ``skipped_locked`` row is no sync: the run that held the location has its own row (fresh if it synced).
        A run-level failure row (:data:`RUN_ROW`: the location list or ensure_groups failed) is no location: the
        locations keep their own rows, so a run that failed before any of them started hides none of them."""
        return self.db.frame(
            "SELECT dag_id, location_id, MAX(CASE WHEN status IN ('success', 'skipped') THEN finished_at END) "
            "AS last_success_at, MIN(started_at) AS first_seen_at, MAX(started_at) AS last_run_at "
            "FROM sync_location_runs WHERE dry_run = 0 AND location_id <> :star GROUP BY dag_id, location_id",
            {"star": RUN_ROW},
        )

    # stale alerts --------------------------------------------------------------------------
    def stale_alerts(self) -> dict[tuple[str, str], str]:
        """(dag, location) -> the last success an alert was already sent for ("" when it never succeeded)."""
        return {
            (r["dag_id"], r["location_id"]): r["last_success_at"]
            for r in self.db.query("SELECT dag_id, location_id, last_success_at FROM stale_alerts")
        }

    def record_stale_alerts(self, alerted: list[tuple[str, str, str]], ended: list[tuple[str, str]]) -> None:
        """In one transaction: a new stale period ``(dag, location, last success)`` replaces its row; an ended
        one ``(dag, location)`` loses it."""
        with self.db.begin() as conn:
            for dag_id, location_id in [(d, loc) for d, loc, _ in alerted] + ended:
                conn.execute(
                    text("DELETE FROM stale_alerts WHERE dag_id = :d AND location_id = :l"),
                    {"d": dag_id, "l": location_id},
                )
            for dag_id, location_id, last_success_at in alerted:
                conn.execute(
                    text(
                        "INSERT INTO stale_alerts (dag_id, location_id, last_success_at, alerted_at) "
                        "VALUES (:d, :l, :s, :at)"
                    ),
                    {"d": dag_id, "l": location_id, "s": last_success_at, "at": utcnow()},
                )

    # retention -----------------------------------------------------------------------------
    def cleanup(self, retention_days: float, now: datetime | None = None) -> dict[str, int]:
        """Delete ledger, change-log, rejected-record, event and validation rows older than ``retention_days``.

        Each DAG's latest successful (real) run per location is kept whatever its age: it is the baseline of the
        volume guard and of the stale-sync check. Sync state (what Pleo holds, statistics history) is never touched.
        Staged tag pages a killed try left behind (a finished read drops its own) go after
        :data:`STAGED_PAGES_MAX_AGE`, or the retention if shorter: no try outlives its 50-minute timeout.
        """
        now = now or datetime.now(UTC)
        cut = (now - timedelta(days=retention_days)).strftime(TS_FORMAT)
        staged_cut = (now - min(timedelta(days=retention_days), STAGED_PAGES_MAX_AGE)).strftime(TS_FORMAT)
        deleted = {}
        with self.db.begin() as conn:
            deleted["ghl_tag_pages"] = conn.execute(
                text("DELETE FROM ghl_tag_pages WHERE fetched_at < :cut"), {"cut": staged_cut}
            ).rowcount
            deleted["sync_location_runs"] = conn.execute(
                text(
                    "DELETE FROM sync_location_runs WHERE started_at < :cut "
                    "AND NOT (status = 'success' AND dry_run = 0 AND finished_at = ("
                    "SELECT MAX(s.finished_at) FROM sync_location_runs s WHERE s.dag_id = "
                    "sync_location_runs.dag_id AND s.location_id = sync_location_runs.location_id AND "
                    "s.status = 'success' AND s.dry_run = 0))"
                ),
                {"cut": cut},
            ).rowcount
            for table, column in (
                ("pleo_change_log", "changed_at"),
                ("rejected_records", "rejected_at"),
                ("sync_run_events", "created_at"),
                ("quality_validations", "created_at"),
                ("quality_location_results", "created_at"),
            ):
                deleted[table] = conn.execute(text(f"DELETE FROM {table} WHERE {column} < :cut"), {"cut": cut}).rowcount
        return deleted
