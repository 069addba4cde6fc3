"""Sync state: what Pleo confirmed (``pleo_tags_pushed``, ``pleo_group_metadata_pushed``), the statistics history
(``ghl_statistics_daily``) and the field sets last seen per endpoint (``schema_fields``).

Each method is one transaction; a Pleo write's change-log row goes in the same one as its sync state.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import text

from ghl_pleo.warehouse.change_log import insert_changes
from ghl_pleo.warehouse.core import Database, utcnow
from ghl_pleo.warehouse.pending import clear_pending

STATISTICS_COLUMNS = [
    "location_id",
    "day",
    "stat_id",
    "window_start",
    "window_end",
    "profile_count",
    "batches",
    "metrics",
    "platforms",
    "run_id",
]


class SyncStateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # pushes ------------------------------------------------------------------------------
    def record_push(
        self,
        location_id: str,
        code: str,
        pleo_tag_id: str,
        name: str | None,
        archived: bool,
        action: str,
        run_id: str,
        change: dict | None = None,
    ) -> None:
        """Called only after Pleo confirmed the write; its change-log row goes in the same transaction.

        In a dry run (``change["dry_run"]``) only the change-log row is written: the sync state stays as Pleo is.
        """
        params = {
            "l": location_id,
            "c": code,
            "id": pleo_tag_id,
            "n": name,
            "a": int(archived),
            "act": action,
            "r": run_id,
            "at": utcnow(),
        }
        with self.db.begin() as conn:
            if not (change and change.get("dry_run")):
                conn.execute(text("DELETE FROM pleo_tags_pushed WHERE location_id = :l AND code = :c"), params)
                conn.execute(
                    text(
                        "INSERT INTO pleo_tags_pushed (location_id, code, pleo_tag_id, name, archived, "
                        "last_action, run_id, pushed_at) VALUES (:l, :c, :id, :n, :a, :act, :r, :at)"
                    ),
                    params,
                )
            if change:
                insert_changes(conn, [change])
            if action == "create":
                clear_pending(conn, location_id, "tag", code.casefold())

    def record_metadata_push(
        self, location_id: str, group_id: str, stat_id: str, metadata: dict, run_id: str, change: dict | None = None
    ) -> None:
        """What Pleo confirmed of a group's metadata, with its change-log row in the same transaction."""
        params = {
            "l": location_id,
            "g": group_id,
            "s": stat_id,
            "m": json.dumps(metadata, sort_keys=True),
            "r": run_id,
            "at": utcnow(),
        }
        with self.db.begin() as conn:
            if not (change and change.get("dry_run")):
                conn.execute(text("DELETE FROM pleo_group_metadata_pushed WHERE location_id = :l"), params)
                conn.execute(
                    text(
                        "INSERT INTO pleo_group_metadata_pushed (location_id, group_id, stat_id, metadata, "
                        "run_id, pushed_at) VALUES (:l, :g, :s, :m, :r, :at)"
                    ),
                    params,
                )
            if change:
                insert_changes(conn, [change])

    # statistics ----------------------------------------------------------------------------
    def save_statistics(self, row: dict) -> None:
        """Insert or replace the history row of one location and day."""
        with self.db.begin() as conn:
            conn.execute(text("DELETE FROM ghl_statistics_daily WHERE location_id = :location_id AND day = :day"), row)
            conn.execute(
                text(
                    "INSERT INTO ghl_statistics_daily (location_id, day, stat_id, window_start, window_end, "
                    "profile_count, batches, metrics, platforms, run_id, fetched_at) VALUES (:location_id, "
                    ":day, :stat_id, :window_start, :window_end, :profile_count, :batches, :metrics, "
                    ":platforms, :run_id, :fetched_at)"
                ),
                {**row, "fetched_at": utcnow()},
            )

    def statistics_history(self, location_ids: list[str] | None = None) -> pd.DataFrame:
        cols = STATISTICS_COLUMNS
        with self.db.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {', '.join(cols)} FROM ghl_statistics_daily ORDER BY location_id, day")
            ).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        if location_ids is not None:
            frame = frame[frame["location_id"].isin(location_ids)]
        return frame.reset_index(drop=True)

    # schema --------------------------------------------------------------------------------
    def schema_fields(self, endpoint: str, location_id: str) -> dict[str, set[str]] | None:
        with self.db.connect() as conn:
            rows = conn.execute(
                text("SELECT field, types FROM schema_fields WHERE endpoint = :e AND location_id = :l"),
                {"e": endpoint, "l": location_id},
            ).all()
        return {r[0]: set(json.loads(r[1])) for r in rows} if rows else None

    def save_schema_fields(self, endpoint: str, location_id: str, fields: dict[str, set[str]]) -> None:
        now = utcnow()
        rows = [
            {"e": endpoint, "l": location_id, "f": k, "t": json.dumps(sorted(v)), "at": now} for k, v in fields.items()
        ]
        with self.db.begin() as conn:
            conn.execute(
                text("DELETE FROM schema_fields WHERE endpoint = :e AND location_id = :l"),
                {"e": endpoint, "l": location_id},
            )
            if rows:
                conn.execute(
                    text(
                        "INSERT INTO schema_fields (endpoint, location_id, field, types, seen_at) "
                        "VALUES (:e, :l, :f, :t, :at)"
                    ),
                    rows,
                )
