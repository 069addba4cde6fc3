"""The agency OAuth state (stored as the caller encrypted it), on both backends."""

from __future__ import annotations

import pytest

from ghl_pleo.warehouse import parse_ts

pytestmark = pytest.mark.integration


def test_a_company_without_tokens_has_no_row(wh):
    assert wh.tokens.load("C1") is None


def test_tokens_are_saved_replaced_and_kept_per_company(wh):
    wh.tokens.save("C1", "refresh-enc-1", "access-enc-1", 1000.5)
    wh.tokens.save("C2", "refresh-enc-x", "access-enc-x", 7.0)
    wh.tokens.save("C1", "refresh-enc-2", "access-enc-2", 2000.25)
    assert wh.tokens.load("C1") == {
        "refresh_token_enc": "refresh-enc-2",
        "access_token_enc": "access-enc-2",
        "access_expires_at": 2000.25,
    }
    assert wh.tokens.load("C2")["refresh_token_enc"] == "refresh-enc-x"
    rows = wh.db.query("SELECT company_id, refreshed_at FROM ghl_oauth_state ORDER BY company_id")
    assert [r["company_id"] for r in rows] == ["C1", "C2"] and all(parse_ts(r["refreshed_at"]) for r in rows)
