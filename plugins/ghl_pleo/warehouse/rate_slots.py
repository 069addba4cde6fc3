"""Shared request rates (``ghl_pleo_rate_slots``): one row per key holding the earliest time (epoch seconds) the
next request may go; :meth:`RateSlotStore.reserve` takes the next free slot atomically (GCRA)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text

from ghl_pleo.warehouse.core import Database


class RateSlotStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: set[str] = set()  # keys whose row this store has made sure of

    def reserve(self, key: str, interval_s: float, clock: Callable[[], float] = time.time) -> float:
        """Reserve the next slot for ``key`` and return its time (epoch seconds; may be now or in the past).

        One transaction: the key's row is created if missing, then ``next_at`` moves to
        ``max(next_at, now) + interval_s`` and the slot is where it started. ``clock`` is read inside the
        transaction, after the row exists, so "now" is as late as it can be.
        """
        with self.db.begin() as conn:
            if key not in self._known:
                conn.execute(
                    text(
                        "INSERT INTO ghl_pleo_rate_slots (rate_key, next_at) VALUES (:k, 0) "
                        "ON CONFLICT (rate_key) DO NOTHING"
                    ),
                    {"k": key},
                )
            now = clock()
            next_at = conn.execute(
                text(
                    "UPDATE ghl_pleo_rate_slots SET next_at = (CASE WHEN next_at > :now THEN next_at ELSE :now END)"
                    " + :i WHERE rate_key = :k RETURNING next_at"
                ),
                {"now": now, "i": interval_s, "k": key},
            ).scalar_one()
        # Known only once committed: until then another thread's UPDATE cannot see the row (PostgreSQL), and a
        # rolled-back INSERT leaves none.
        self._known.add(key)
        return float(next_at) - interval_s
