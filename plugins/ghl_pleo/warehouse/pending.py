"""Pleo creates sent but not yet confirmed (``pleo_pending_writes``, include/sql/008_pending_writes.sql).

:meth:`PendingWriteStore.note` runs just before creates are sent; the transaction that records a create's answer
deletes its row (:func:`clear_pending`). A row left behind is a create whose answer was lost: the next read of
Pleo either finds the object (its change-log row, marked confirmed on re-read)
or not (the create never happened and is planned again); :meth:`PendingWriteStore.settle` records either.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from sqlalchemy import text

from ghl_pleo.warehouse.change_log import insert_changes
from ghl_pleo.warehouse.core import Database, utcnow

NOTE_CHUNK = 1000
COLUMNS = ("location_id", "entity", "code_key", "name", "dag_id", "run_id", "try_number", "sent_at")


def clear_pending(conn, location_id: str, entity: str, code_key: str) -> None:
    """Delete a pending row on ``conn``: in the transaction that records the write's answer."""
    conn.execute(
        text("DELETE FROM pleo_pending_writes WHERE location_id = :l AND entity = :e AND code_key = :k"),
        {"l": location_id, "e": entity, "k": code_key},
    )


class PendingWriteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def note(self, location_id: str, entity: str, items: Iterable[tuple[str, str | None]], run) -> None:
        """Record creates about to be sent: ``items`` are ``(code key, name)``; ``run`` gives dag, run and try.
        One transaction, written :data:`NOTE_CHUNK` rows at a time (100,000 creates are never 100,000 row dicts)."""
        source = iter(items)
        chunk = list(islice(source, NOTE_CHUNK))
        if not chunk:
            return
        now = utcnow()
        insert = text(
            f"INSERT INTO pleo_pending_writes ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
        )
        with self.db.begin() as conn:
            while chunk:
                rows = [
                    {
                        "location_id": location_id,
                        "entity": entity,
                        "code_key": key,
                        "name": name,
                        "dag_id": run.dag_id,
                        "run_id": run.run_id,
                        "try_number": run.try_number,
                        "sent_at": now,
                    }
                    for key, name in chunk
                ]
                for row in rows:
                    clear_pending(conn, location_id, entity, row["code_key"])
                conn.execute(insert, rows)
                chunk = list(islice(source, NOTE_CHUNK))

    def open_for(self, location_id: str, entity: str) -> list[dict]:
        with self.db.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    text(
                        f"SELECT {', '.join(COLUMNS)} FROM pleo_pending_writes WHERE location_id = :l AND "
                        "entity = :e ORDER BY code_key"
                    ),
                    {"l": location_id, "e": entity},
                ).mappings()
            ]

    def open_entity(self, entity: str) -> dict[str, list[dict]]:
        """Every pending row of one entity, by location (one read for a run-level step)."""
        with self.db.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {', '.join(COLUMNS)} FROM pleo_pending_writes WHERE entity = :e ORDER BY code_key"),
                {"e": entity},
            ).mappings()
            out: dict[str, list[dict]] = {}
            for r in rows:
                out.setdefault(r["location_id"], []).append(dict(r))
        return out

    def settle(self, location_id: str, entity: str, code_key: str, change: dict | None = None) -> None:
        """The write's answer is known: its change-log row (``change``; None when Pleo has no such object, so the
        create never happened) and the pending row's removal, in one transaction."""
        with self.db.begin() as conn:
            if change:
                insert_changes(conn, [change])
            clear_pending(conn, location_id, entity, code_key)
