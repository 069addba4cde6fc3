"""The change log's rows (``pleo_change_log``, include/sql/006_ledger.sql): :func:`change` builds one and
:func:`insert_changes` inserts them on the caller's connection, so that a write's change-log row commits with it
(in the ledger's and the sync state's transactions). Reading the change log is the ledger store's
(:mod:`ghl_pleo.warehouse.ledger`).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text

from ghl_pleo.warehouse.core import TS_FORMAT, utcnow


def change(
    dag_id: str,
    run_id: str,
    try_number: int,
    location_id: str,
    entity: str,
    action: str,
    *,
    code: str | None = None,
    pleo_id: str | None = None,
    before: Any = None,
    after: Any = None,
    dry_run: bool = False,
    at: datetime | None = None,
) -> dict:
    """One change-log row (see include/sql/006_ledger.sql), stamped ``at`` (default: now)."""
    return {
        "change_id": uuid.uuid4().hex,
        "dag_id": dag_id,
        "run_id": run_id,
        "try_number": try_number,
        "location_id": location_id,
        "entity": entity,
        "code": code,
        "pleo_id": pleo_id,
        "action": action,
        "before_value": None if before is None else json.dumps(before, sort_keys=True, ensure_ascii=False),
        "after_value": None if after is None else json.dumps(after, sort_keys=True, ensure_ascii=False),
        "dry_run": int(bool(dry_run)),
        "changed_at": at.strftime(TS_FORMAT) if at else utcnow(),
        "confirmed_on_reread": 0,
    }


def insert_changes(conn, changes: list[dict]) -> None:
    """Insert :func:`change` rows on ``conn``: in the caller's transaction, beside the write they record."""
    conn.execute(
        text(
            "INSERT INTO pleo_change_log (change_id, dag_id, run_id, try_number, location_id, entity, "
            "code, pleo_id, action, before_value, after_value, dry_run, changed_at, confirmed_on_reread) VALUES "
            "(:change_id, :dag_id, :run_id, :try_number, :location_id, :entity, :code, :pleo_id, :action, "
            ":before_value, :after_value, :dry_run, :changed_at, :confirmed_on_reread)"
        ),
        [{"confirmed_on_reread": 0, **c} for c in changes],
    )
