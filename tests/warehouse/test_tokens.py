"""The agency OAuth state (stored as the caller encrypted it), on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ghl_pleo.warehouse import parse_ts

pytestmark = pytest.mark.integration


def test_a_company_without_tokens_has_no_row(wh):
    assert wh.tokens.load("C1") is None


def test_tokens_are_stored_by_compare_and_swap_on_the_generation_read_and_kept_per_company(wh):
    assert wh.tokens.swap("C1", None, "refresh-enc-1", "access-enc-1", 1000.5)
    assert not wh.tokens.swap("C1", None, "refresh-enc-late", "access-enc-late", 1001.0)  # a row exists by now
    assert wh.tokens.swap("C2", None, "refresh-enc-x", None, None)
    assert wh.tokens.swap("C1", 1, "refresh-enc-2", "access-enc-2", 2000.25)
    assert not wh.tokens.swap("C1", 1, "refresh-enc-stale", "access-enc-stale", 3000.0)  # generation 1 is gone
    assert wh.tokens.load("C1") == {
        "refresh_token_enc": "refresh-enc-2",
        "access_token_enc": "access-enc-2",
        "access_expires_at": 2000.25,
        "generation": 2,
    }
    assert wh.tokens.load("C2") == {
        "refresh_token_enc": "refresh-enc-x",
        "access_token_enc": None,
        "access_expires_at": None,
        "generation": 1,
    }
    rows = wh.db.query("SELECT company_id, refreshed_at FROM ghl_oauth_state ORDER BY company_id")
    assert [r["company_id"] for r in rows] == ["C1", "C2"] and all(parse_ts(r["refreshed_at"]) for r in rows)


def test_an_expiry_is_stored_exactly_to_the_millisecond(wh):
    """A 4-byte REAL rounds an epoch second in 2026 to a multiple of 128 s: an expired token looked valid."""
    expires_at = 1_795_000_129.123  # a float4 rounds it to 1_795_000_192: 63 s later
    wh.tokens.swap("C1", None, "r", "a", expires_at)
    assert wh.tokens.load("C1")["access_expires_at"] == expires_at


def test_re_encryption_rewrites_the_same_generation_only(wh):
    wh.tokens.swap("C1", None, "refresh-old-key", "access-old-key", 1000.0)
    assert wh.tokens.reencrypt("C1", 1, "refresh-old-key", "refresh-new-key", "access-new-key")
    row = wh.tokens.load("C1")
    assert (row["refresh_token_enc"], row["access_token_enc"], row["generation"]) == (
        "refresh-new-key",
        "access-new-key",
        1,
    )
    wh.tokens.swap("C1", 1, "refresh-2", "access-2", 2000.0)  # a refresh stored new tokens meanwhile
    assert not wh.tokens.reencrypt("C1", 1, "refresh-new-key", "refresh-late", "access-late")
    assert wh.tokens.load("C1")["refresh_token_enc"] == "refresh-2"


def test_a_row_written_before_the_exact_columns_counts_as_expired_generation_zero(wh):
    with wh.db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ghl_oauth_state (company_id, refresh_token_enc, access_token_enc, access_expires_at, "
                "refreshed_at) VALUES ('C1', 'r-legacy', 'a-legacy', 1795000065, '2026-11-01T00:00:00.000000Z')"
            )
        )
    assert wh.tokens.load("C1") == {
        "refresh_token_enc": "r-legacy",
        "access_token_enc": "a-legacy",
        "access_expires_at": None,
        "generation": 0,
    }
    assert wh.tokens.swap("C1", 0, "r-new", "a-new", 1.0) and wh.tokens.load("C1")["generation"] == 1
