"""Agency OAuth state (``ghl_oauth_state``): per GHL company, the rotated refresh token and the current access
token, both already encrypted by the caller (:class:`~ghl_pleo.hooks.oauth.AgencyOAuth`). Refreshes are
serialised by the caller's lock; each method here is one transaction."""

from __future__ import annotations

from sqlalchemy import text

from ghl_pleo.warehouse.core import Database, utcnow


class TokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, company_id: str) -> dict | None:
        """``refresh_token_enc``, ``access_token_enc``, ``access_expires_at`` of the company, or None."""
        rows = self.db.query(
            "SELECT refresh_token_enc, access_token_enc, access_expires_at FROM ghl_oauth_state WHERE company_id = :c",
            {"c": company_id},
        )
        return rows[0] if rows else None

    def save(self, company_id: str, refresh_token_enc: str, access_token_enc: str, access_expires_at: float) -> None:
        """Replace the company's row (stamped ``refreshed_at`` now)."""
        params = {
            "c": company_id,
            "r": refresh_token_enc,
            "a": access_token_enc,
            "e": access_expires_at,
            "at": utcnow(),
        }
        with self.db.begin() as conn:
            conn.execute(text("DELETE FROM ghl_oauth_state WHERE company_id = :c"), params)
            conn.execute(
                text(
                    "INSERT INTO ghl_oauth_state (company_id, refresh_token_enc, access_token_enc, "
                    "access_expires_at, refreshed_at) VALUES (:c, :r, :a, :e, :at)"
                ),
                params,
            )
