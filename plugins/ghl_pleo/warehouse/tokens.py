"""Agency OAuth state (``ghl_oauth_state``): per GHL company, the rotated refresh token and the current access
token, both already encrypted by the caller (:class:`~ghl_pleo.hooks.oauth.AgencyOAuth`), the access token's exact
expiry (integer epoch milliseconds) and a generation.

Every store of a new refresh token is a compare-and-swap on the generation the caller read: it succeeds only if
nobody stored another one since, so a slow host can never overwrite a newer refresh token with an older one.
The callers serialise refreshes with a lease (``sync_leases``); each method here is one short transaction.
"""

from __future__ import annotations

from sqlalchemy import text

from ghl_pleo.warehouse.core import Database, utcnow


def to_ms(epoch_s: float) -> int:
    return int(round(epoch_s * 1000))


class TokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, company_id: str) -> dict | None:
        """``refresh_token_enc``, ``access_token_enc``, ``access_expires_at`` (epoch seconds, exact to the
        millisecond; None when unknown) and ``generation`` of the company, or None."""
        rows = self.db.query(
            "SELECT refresh_token_enc, access_token_enc, access_expires_ms, COALESCE(generation, 0) AS generation "
            "FROM ghl_oauth_state WHERE company_id = :c",
            {"c": company_id},
        )
        if not rows:
            return None
        row = rows[0]
        ms = row.pop("access_expires_ms")
        return {
            **row,
            "access_expires_at": None if ms is None else int(ms) / 1000,
            "generation": int(row["generation"]),
        }

    def swap(
        self,
        company_id: str,
        generation: int | None,
        refresh_token_enc: str,
        access_token_enc: str | None,
        access_expires_at: float | None,
    ) -> bool:
        """Store a new refresh token (and access token) if the row is still at ``generation`` (None: no row yet).

        True when stored (the row is then at ``generation + 1``); False when another writer stored one first.
        """
        params = {
            "c": company_id,
            "r": refresh_token_enc,
            "a": access_token_enc,
            "ms": None if access_expires_at is None else to_ms(access_expires_at),
            "at": utcnow(),
            "g": generation or 0,
            "next": (generation or 0) + 1,
        }
        if generation is None:
            sql = (
                "INSERT INTO ghl_oauth_state (company_id, refresh_token_enc, access_token_enc, access_expires_ms, "
                "generation, refreshed_at) VALUES (:c, :r, :a, :ms, 1, :at) ON CONFLICT (company_id) DO NOTHING"
            )
        else:
            sql = (
                "UPDATE ghl_oauth_state SET refresh_token_enc = :r, access_token_enc = :a, access_expires_ms = :ms, "
                "access_expires_at = NULL, generation = :next, refreshed_at = :at "
                "WHERE company_id = :c AND COALESCE(generation, 0) = :g"
            )
        with self.db.begin() as conn:
            return conn.execute(text(sql), params).rowcount == 1

    def reencrypt(
        self,
        company_id: str,
        generation: int,
        old_refresh_enc: str,
        refresh_token_enc: str,
        access_token_enc: str | None,
    ) -> bool:
        """The same tokens under a newer key (after a key rotation). Nothing happens, and False is returned, when
        the row moved on meanwhile (a refresh stored new tokens, already under the newest key)."""
        with self.db.begin() as conn:
            return (
                conn.execute(
                    text(
                        "UPDATE ghl_oauth_state SET refresh_token_enc = :r, access_token_enc = :a "
                        "WHERE company_id = :c AND COALESCE(generation, 0) = :g AND refresh_token_enc = :old"
                    ),
                    {
                        "c": company_id,
                        "g": generation,
                        "old": old_refresh_enc,
                        "r": refresh_token_enc,
                        "a": access_token_enc,
                    },
                ).rowcount
                == 1
            )
