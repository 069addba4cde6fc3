"""The run ledger (include/sql/006_ledger.sql): one row per run and location (``sync_location_runs``), the
change log (``pleo_change_log``; its rows are built in :mod:`ghl_pleo.warehouse.change_log`), rejected records
and run notes (``sync_run_events``). Each method is one transaction. The health reads of the ledger, the stale
alerts and the retention are in :mod:`ghl_pleo.warehouse.health`.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import text

from ghl_pleo.warehouse.change_log import insert_changes
from ghl_pleo.warehouse.core import Database, parse_ts, utcnow
from ghl_pleo.warehouse.ledger_requests import LaterRequests
from ghl_pleo.warehouse.run_rows import RUN_ROW, RunRows

# A ledger row's Pleo writes: its change-log rows (bound as :d, :r, :l).
RECORDS_SYNCED = "(SELECT COUNT(*) FROM pleo_change_log c WHERE c.dag_id = :d AND c.run_id = :r AND c.location_id = :l)"
DRIFT_KINDS = {"schema_drift": "schema_drift", "data_quality": "quality_gate", "drift_guard": "archive_guard"}


class LedgerStore(LaterRequests, RunRows):
    def __init__(self, db: Database) -> None:
        self.db = db

    # location runs -----------------------------------------------------------------------
    def start_location_run(
        self, dag_id: str, run_id: str, location_id: str, try_number: int, dry_run: bool = False
    ) -> None:
        params = {"d": dag_id, "r": run_id, "l": location_id, "t": try_number, "at": utcnow(), "dry": int(dry_run)}
        with self.db.begin() as conn:
            conn.execute(
                text("DELETE FROM sync_location_runs WHERE dag_id = :d AND run_id = :r AND location_id = :l"), params
            )
            conn.execute(
                text(
                    "INSERT INTO sync_location_runs (dag_id, run_id, location_id, status, try_number, "
                    "started_at, dry_run) VALUES (:d, :r, :l, 'running', :t, :at, :dry)"
                ),
                params,
            )

    def finish_location_run(
        self,
        dag_id: str,
        run_id: str,
        location_id: str,
        status: str,
        counts: dict,
        requests: dict,
        error_kind: str | None = None,
        error: str | None = None,
    ) -> None:
        """Close the ledger row: status, counts, requests, and the flat columns the dashboard aggregates."""
        key = {"d": dag_id, "r": run_id, "l": location_id}
        finished = utcnow()
        hooks = [v for v in requests.values() if isinstance(v, dict)]
        remaining = [h["min_ratelimit_remaining"] for h in hooks if h.get("min_ratelimit_remaining") is not None]
        with self.db.begin() as conn:
            started = conn.execute(
                text(
                    "SELECT started_at FROM sync_location_runs WHERE dag_id = :d AND run_id = :r AND location_id = :l"
                ),
                key,
            ).scalar()
            conn.execute(
                text(
                    "UPDATE sync_location_runs SET status = :s, finished_at = :at, counts = :c, requests = :q, "
                    "error_kind = :ek, error = :e, duration_s = :dur, records_read = :rd, records_rejected = :rj, "
                    "requests_total = :rt, retries = :rr, min_ratelimit_remaining = :mr, drift_flags = :df, "
                    f"records_synced = {RECORDS_SYNCED} WHERE dag_id = :d AND run_id = :r AND location_id = :l"
                ),
                {
                    **key,
                    "s": status,
                    "at": finished,
                    "c": json.dumps(counts, sort_keys=True),
                    "q": json.dumps(requests, sort_keys=True),
                    "ek": error_kind,
                    "e": error,
                    "dur": _seconds_between(started, finished),
                    "rd": _int(counts.get("read", counts.get("profiles"))),
                    "rj": _int(counts.get("rejected")),
                    "rt": sum(int(h.get("total_requests") or 0) for h in hooks),
                    "rr": sum(int(h.get("retries") or 0) for h in hooks),
                    "mr": min(remaining) if remaining else None,
                    "df": drift_flags(counts, error_kind),
                },
            )

    def location_runs(self, dag_id: str, run_id: str) -> list[dict]:
        with self.db.connect() as conn:
            rows = (
                conn.execute(
                    text(
                        "SELECT location_id, status, try_number, started_at, finished_at, error_kind, "
                        "error, counts, requests, dry_run FROM sync_location_runs WHERE dag_id = :d AND "
                        "run_id = :r AND location_id <> :star ORDER BY location_id"
                    ),
                    {"d": dag_id, "r": run_id, "star": RUN_ROW},
                )
                .mappings()
                .all()
            )
        out = []
        for r in rows:
            item = dict(r)
            item["counts"] = json.loads(item["counts"]) if item["counts"] else {}
            item["requests"] = json.loads(item["requests"]) if item["requests"] else {}
            out.append(item)
        return out

    def error_streak(self, dag_id: str, location_id: str, kind: str, limit: int = 3) -> int:
        """How many of the location's latest real runs (newest first, up to ``limit``) failed with ``kind``
        (a run that skipped the location because another run held it does not break the streak)."""
        with self.db.connect() as conn:
            kinds = conn.execute(
                text(
                    "SELECT error_kind FROM sync_location_runs WHERE dag_id = :d AND location_id = :l AND "
                    "dry_run = 0 AND status NOT IN ('running', 'skipped_locked') ORDER BY started_at DESC LIMIT :n"
                ),
                {"d": dag_id, "l": location_id, "n": limit},
            ).scalars()
            streak = 0
            for k in kinds:
                if k != kind:
                    break
                streak += 1
        return streak

    def update_location_counts(self, dag_id: str, run_id: str, location_id: str, extra: dict) -> None:
        """Merge ``extra`` into a ledger row's counts (a later task adding to what the location task recorded)."""
        key = {"d": dag_id, "r": run_id, "l": location_id}
        with self.db.begin() as conn:
            row = conn.execute(
                text("SELECT counts FROM sync_location_runs WHERE dag_id = :d AND run_id = :r AND location_id = :l"),
                key,
            ).first()
            if row is None:
                return
            counts = {**(json.loads(row[0]) if row[0] else {}), **extra}
            conn.execute(
                text(
                    f"UPDATE sync_location_runs SET counts = :c, records_synced = {RECORDS_SYNCED} "
                    "WHERE dag_id = :d AND run_id = :r AND location_id = :l"
                ),
                {**key, "c": json.dumps(counts, sort_keys=True)},
            )

    def latest_run_id(self, dag_id: str) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute(
                text("SELECT run_id FROM sync_location_runs WHERE dag_id = :d ORDER BY started_at DESC LIMIT 1"),
                {"d": dag_id},
            ).first()
        return row[0] if row else None

    # events --------------------------------------------------------------------------------
    def add_event(self, dag_id: str, run_id: str, location_id: str, event_name: str, detail: str) -> None:
        params = {"d": dag_id, "r": run_id, "l": location_id, "e": event_name, "x": detail, "at": utcnow()}
        with self.db.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM sync_run_events WHERE dag_id = :d AND run_id = :r AND location_id = :l AND event = :e"
                ),
                params,
            )
            conn.execute(
                text(
                    "INSERT INTO sync_run_events (dag_id, run_id, location_id, event, detail, created_at) "
                    "VALUES (:d, :r, :l, :e, :x, :at)"
                ),
                params,
            )

    def events(self, dag_id: str, run_id: str) -> list[dict]:
        with self.db.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    text(
                        "SELECT location_id, event, detail FROM sync_run_events WHERE dag_id = :d AND run_id = :r "
                        "ORDER BY location_id, event"
                    ),
                    {"d": dag_id, "r": run_id},
                )
                .mappings()
                .all()
            ]

    # change log ----------------------------------------------------------------------------
    def log_changes(self, changes: list[dict]) -> None:
        """Change-log rows of writes that keep no other sync state (groups, dimensions, dimension values)."""
        if changes:
            with self.db.begin() as conn:
                insert_changes(conn, changes)

    def changes(self, dag_id: str | None = None, run_id: str | None = None) -> list[dict]:
        """The change log (of one run, or all), oldest first; before/after parsed."""
        where, params = [], {}
        if dag_id:
            where.append("dag_id = :d")
            params["d"] = dag_id
        if run_id:
            where.append("run_id = :r")
            params["r"] = run_id
        rows = self.db.query(
            "SELECT dag_id, run_id, try_number, location_id, entity, code, pleo_id, action, "
            "before_value, after_value, dry_run, changed_at, confirmed_on_reread FROM pleo_change_log"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY changed_at, change_id",
            params,
        )
        for r in rows:
            r["before"] = json.loads(r.pop("before_value")) if r["before_value"] else None
            r["after"] = json.loads(r.pop("after_value")) if r["after_value"] else None
        return rows

    def change_counts(self, dag_id: str, run_id: str) -> list[dict]:
        """``{"entity", "action", "n"}`` per entity and action in one run's change log."""
        return self.db.query(
            "SELECT entity, action, COUNT(*) AS n FROM pleo_change_log WHERE dag_id = :d AND "
            "run_id = :r GROUP BY entity, action",
            {"d": dag_id, "r": run_id},
        )

    # rejected ------------------------------------------------------------------------------
    def save_rejected(self, dag_id: str, run_id: str, location_id: str, entity: str, rejected: pd.DataFrame) -> None:
        now = utcnow()
        rows = [
            {
                "d": dag_id,
                "r": run_id,
                "l": location_id,
                "e": entity,
                "k": str(r.record_key),
                "rule": r.rule,
                "reason": r.reason,
                "raw": r.raw_value,
                "at": now,
            }
            for r in rejected.itertuples(index=False)
        ]
        with self.db.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM rejected_records WHERE dag_id = :d AND run_id = :r AND location_id = :l "
                    "AND entity = :e"
                ),
                {"d": dag_id, "r": run_id, "l": location_id, "e": entity},
            )
            if rows:
                conn.execute(
                    text(
                        "INSERT INTO rejected_records (dag_id, run_id, location_id, entity, record_key, "
                        "rule, reason, raw_value, rejected_at) VALUES (:d, :r, :l, :e, :k, :rule, :reason, "
                        ":raw, :at)"
                    ),
                    rows,
                )


def drift_flags(counts: dict, error_kind: str | None) -> str | None:
    """Comma-separated drift and guard events of one location's run (None when there were none)."""
    flags = []
    if counts.get("schema_drift"):
        flags.append("schema_drift")
    if counts.get("archives_held"):
        flags.append("archive_guard")
    if counts.get("guard_released"):
        flags.append("guard_released")
    if error_kind in DRIFT_KINDS:
        flags.append(DRIFT_KINDS[error_kind])
    return ",".join(dict.fromkeys(flags)) or None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _seconds_between(start: str | None, end: str) -> float | None:
    begun = parse_ts(start)
    return round((parse_ts(end) - begun).total_seconds(), 3) if begun else None
