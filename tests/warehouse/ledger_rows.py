"""Seeding the run ledger directly (a row as a finished run would leave it), for the ledger and health tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from ghl_pleo.warehouse import TS_FORMAT, Warehouse


def ts(dt: datetime) -> str:
    return dt.strftime(TS_FORMAT)


def add_row(
    wh: Warehouse,
    dag_id: str,
    run_id: str,
    location_id: str,
    start: datetime,
    seconds: float,
    status: str = "success",
    *,
    synced: int = 0,
    read: int = 0,
    rejected: int = 0,
    flags: str | None = None,
    remaining: int | None = None,
    retries: int = 0,
    dry_run: int = 0,
    error_kind: str | None = None,
) -> None:
    with wh.db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sync_location_runs (dag_id, run_id, location_id, status, try_number, started_at, "
                "finished_at, counts, requests, dry_run, duration_s, records_read, records_synced, records_rejected, "
                "requests_total, retries, min_ratelimit_remaining, drift_flags, error_kind) VALUES (:d, :r, :l, :s, 1, "
                ":st, :fi, '{}', '{}', :dry, :dur, :rd, :sy, :rj, 1, :rr, :mr, :df, :ek)"
            ),
            {
                "d": dag_id,
                "r": run_id,
                "l": location_id,
                "s": status,
                "st": ts(start),
                "fi": ts(start + timedelta(seconds=seconds)),
                "dry": dry_run,
                "dur": seconds,
                "rd": read,
                "sy": synced,
                "rj": rejected,
                "rr": retries,
                "mr": remaining,
                "df": flags,
                "ek": error_kind or ("upstream_outage" if status == "failed" else None),
            },
        )
