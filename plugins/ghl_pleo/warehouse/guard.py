"""The archive guard's baseline (read from the ledger, ``sync_location_runs`` and ``sync_run_events``).

The volume guard compares a location's tag count with the *highest* count of its successful runs since the later
of its last released guard and ``days`` ago: a slow erosion (four drops of 25 % in a row) is measured against the
count before the first drop, and a drop someone released is the new starting point.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from ghl_pleo.warehouse.core import TS_FORMAT, Database

RELEASE_EVENT = "archive_guard_released"
BASELINE_KEYS = ("read", "active")


class GuardStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def last_release_at(self, dag_id: str, location_id: str, exclude_run_id: str) -> str | None:
        """When the location's guard was last released by a run that then synced successfully."""
        with self.db.connect() as conn:
            return conn.execute(
                text(
                    "SELECT MAX(e.created_at) FROM sync_run_events e JOIN sync_location_runs s ON "
                    "s.dag_id = e.dag_id AND s.run_id = e.run_id AND s.location_id = e.location_id "
                    "WHERE e.dag_id = :d AND e.location_id = :l AND e.event = :e AND e.run_id <> :r "
                    "AND s.status = 'success' AND s.dry_run = 0"
                ),
                {"d": dag_id, "l": location_id, "e": RELEASE_EVENT, "r": exclude_run_id},
            ).scalar()

    def baseline(
        self, dag_id: str, location_id: str, exclude_run_id: str, days: float, now: datetime | None = None
    ) -> dict | None:
        """``{"read": max, "active": max, "runs": n, "since": ts}`` over the location's successful real runs
        (not ``exclude_run_id``) finished since the later of its last release and ``days`` ago; None without any."""
        window = ((now or datetime.now(UTC)) - timedelta(days=days)).strftime(TS_FORMAT)
        release = self.last_release_at(dag_id, location_id, exclude_run_id)
        since = max(window, release) if release else window
        with self.db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT counts FROM sync_location_runs WHERE dag_id = :d AND location_id = :l AND "
                    "status = 'success' AND dry_run = 0 AND run_id <> :r AND finished_at >= :since"
                ),
                {"d": dag_id, "l": location_id, "r": exclude_run_id, "since": since},
            ).scalars()
            counts = [json.loads(c) for c in rows if c]
        if not counts:
            return None
        out: dict = {"runs": len(counts), "since": since}
        for key in BASELINE_KEYS:
            values = [c[key] for c in counts if isinstance(c.get(key), int) and not isinstance(c.get(key), bool)]
            out[key] = max(values) if values else None
        return out
