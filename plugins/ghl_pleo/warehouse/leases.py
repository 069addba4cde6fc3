"""Leases (``sync_leases``): one row per unit of work, naming the run that may write it until ``expires_at``.

Each method is one short transaction; none is held while the holder talks to an API. Times are the warehouse's
text timestamps (:data:`~ghl_pleo.warehouse.core.TS_FORMAT`), compared as text: they sort as they read. The
waiting, the heartbeat thread and the error for a unit that stays taken are in :mod:`ghl_pleo.leases`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from ghl_pleo.warehouse.core import TS_FORMAT, Database

COLUMNS = "unit, holder, token, dry_run, acquired_at, heartbeat_at, expires_at"


def _ts(now: datetime | None, plus_s: float = 0.0) -> str:
    return ((now or datetime.now(UTC)) + timedelta(seconds=plus_s)).strftime(TS_FORMAT)


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(
        self, unit: str, holder: str, token: str, ttl_s: float, *, dry_run: bool = False, now: datetime | None = None
    ) -> dict | None:
        """Take ``unit`` for ``holder`` under ``token``, for ``ttl_s``; None when taken, else the row that holds it.

        It is taken when no row exists, when the row has lapsed, or when ``holder`` already holds it (re-entrant:
        the retry of a killed try of the same run takes over at once, under its new token). One statement: an
        insert whose conflict updates the row only under those conditions, so two takers never both win.
        """
        params = {
            "u": unit,
            "h": holder,
            "t": token,
            "dry": int(dry_run),
            "now": _ts(now),
            "exp": _ts(now, ttl_s),
        }
        with self.db.begin() as conn:
            won = conn.execute(
                text(
                    f"INSERT INTO sync_leases ({COLUMNS}) VALUES (:u, :h, :t, :dry, :now, :now, :exp) "
                    "ON CONFLICT (unit) DO UPDATE SET holder = excluded.holder, token = excluded.token, "
                    "dry_run = excluded.dry_run, acquired_at = excluded.acquired_at, "
                    "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at "
                    "WHERE sync_leases.holder = excluded.holder OR sync_leases.expires_at < excluded.acquired_at "
                    "RETURNING token"
                ),
                params,
            ).first()
            if won is not None:
                return None
            row = conn.execute(text(f"SELECT {COLUMNS} FROM sync_leases WHERE unit = :u"), params).mappings().first()
        return dict(row) if row else {"unit": unit, "holder": "?", "expires_at": params["now"], "dry_run": 0}

    def renew(self, unit: str, holder: str, token: str, ttl_s: float, now: datetime | None = None) -> bool:
        """Push the lease's expiry ``ttl_s`` past now (a heartbeat). False when it is no longer this token's."""
        with self.db.begin() as conn:
            return (
                conn.execute(
                    text(
                        "UPDATE sync_leases SET heartbeat_at = :now, expires_at = :exp "
                        "WHERE unit = :u AND holder = :h AND token = :t"
                    ),
                    {"u": unit, "h": holder, "t": token, "now": _ts(now), "exp": _ts(now, ttl_s)},
                ).rowcount
                == 1
            )

    def release(self, unit: str, holder: str, token: str) -> bool:
        """Give the lease up. Only its holder, under the token it took it with, can; False if that is not so."""
        with self.db.begin() as conn:
            return (
                conn.execute(
                    text("DELETE FROM sync_leases WHERE unit = :u AND holder = :h AND token = :t"),
                    {"u": unit, "h": holder, "t": token},
                ).rowcount
                == 1
            )

    def get(self, unit: str) -> dict | None:
        rows = self.db.query(f"SELECT {COLUMNS} FROM sync_leases WHERE unit = :u", {"u": unit})
        return rows[0] if rows else None
