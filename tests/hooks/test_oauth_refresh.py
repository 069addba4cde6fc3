"""Agency OAuth refresh against the sandbox: answers with a broken ``expires_in``, refresh tokens rotated by another
host, refresh tokens GHL really refuses, and expiry times kept exactly (PostgreSQL)."""

from __future__ import annotations

import time

import pytest
import requests
from cryptography.fernet import Fernet

from ghl_pleo.errors import AuthenticationError
from ghl_pleo.hooks.oauth import DEFAULT_LIFETIME_S, MAX_LIFETIME_S
from ghl_pleo.hooks.token_cipher import TokenCipher
from tests.hooks.oauth_env import COMPANY, FIRST_REFRESH, OAUTH, hook, oauth_state, use_oauth

pytestmark = pytest.mark.integration


@pytest.fixture
def box(sandbox):
    sandbox.reset(locations=2, min_tags=5, max_tags=5)
    sandbox.clear_faults()
    sandbox.configure(oauth_ttl_s=86399, oauth_expires_in=None)
    yield sandbox
    sandbox.configure(oauth_ttl_s=86399, oauth_expires_in=None)


@pytest.fixture
def key(box, monkeypatch, tmp_path) -> str:
    return use_oauth(monkeypatch, box, f"sqlite:///{tmp_path / 'wh.db'}")


def stored(key: str) -> dict:
    """The company's row, decrypted with ``key``."""
    row = hook().oauth.tokens.load(COMPANY)
    plain = Fernet(key.encode())
    return {
        "refresh": plain.decrypt(row["refresh_token_enc"].encode()).decode(),
        "access": plain.decrypt(row["access_token_enc"].encode()).decode() if row["access_token_enc"] else None,
        "expires_at": row["access_expires_at"],
        "generation": row["generation"],
    }


def rotate_elsewhere(box, refresh_token: str) -> dict:
    """Another host trades ``refresh_token`` at GHL (the sandbox), as a worker outside this process would."""
    form = {**{k: OAUTH[k] for k in ("client_id", "client_secret")}, "grant_type": "refresh_token"}
    resp = requests.post(f"{box.ghl_url}/oauth/token", data={**form, "refresh_token": refresh_token}, timeout=10)
    resp.raise_for_status()
    return resp.json()


@pytest.mark.parametrize("expires_in", ["soon", -1, 1e12, "missing", None])
def test_a_malformed_or_missing_expires_in_never_costs_the_new_refresh_token(box, key, expires_in):
    box.configure(oauth_expires_in=expires_in)  # None: the real lifetime (86399 s), for comparison
    before = time.time()
    h = hook()
    loc = box.locations()[0]["id"]
    assert h.oauth.agency_token()
    row = stored(key)
    assert oauth_state(box)["valid_refresh"] == [row["refresh"]]  # the store holds the one GHL issued
    expected = {"soon": DEFAULT_LIFETIME_S, -1: DEFAULT_LIFETIME_S, 1e12: MAX_LIFETIME_S, "missing": DEFAULT_LIFETIME_S}
    lifetime = expected.get(expires_in, 86399)
    assert before + lifetime <= row["expires_at"] <= time.time() + lifetime  # not "expired at once"
    assert list(hook().iter_tag_pages(loc))  # the next worker's call works (a location token, same answers)
    assert list(h.iter_tag_pages(loc))
    assert oauth_state(box)["refreshes"] == 1  # no refresh until the assumed lifetime is over


@pytest.mark.parametrize("other_host_stored_an_access_token", [True, False])
def test_a_refresh_token_another_host_rotated_meanwhile_is_read_again_and_used(
    box, key, monkeypatch, other_host_stored_an_access_token
):
    h = hook()
    first = h.oauth.agency_token()
    row = stored(key)
    real_request = h.oauth.client.request

    def another_host_rotates_first(method, endpoint, **kwargs):
        """Between this worker's read of the store and its request, another host rotates the token and stores it."""
        if endpoint == "/oauth/token" and kwargs["data"]["refresh_token"] == row["refresh"]:
            answer = rotate_elsewhere(box, row["refresh"])
            cipher = TokenCipher()
            access = answer["access_token"] if other_host_stored_an_access_token else None
            assert h.oauth.tokens.swap(
                COMPANY,
                row["generation"],
                cipher.encrypt(answer["refresh_token"]),
                cipher.encrypt(access) if access else None,
                time.time() + answer["expires_in"] if access else None,
            )
        return real_request(method, endpoint, **kwargs)

    monkeypatch.setattr(h.oauth.client, "request", another_host_rotates_first)
    token = h.oauth.agency_token(force=True, stale=first)  # GHL answered 401 to the first token
    refreshes = oauth_state(box)["refreshes"]
    if other_host_stored_an_access_token:
        assert token == stored(key)["access"] and refreshes == 2  # its token is used: no refresh of our own
    else:
        assert token == stored(key)["access"] and refreshes == 3  # its refresh token is used, once
    assert oauth_state(box)["valid_refresh"] == [stored(key)["refresh"]]
    assert h.get_location(box.locations()[0]["id"])


def test_a_refresh_token_that_is_really_refused_fails_as_authentication_without_a_token_in_the_message(box, key):
    h = hook()
    first = h.oauth.agency_token()
    spent = stored(key)["refresh"]
    rotate_elsewhere(box, spent)  # a host rotated it and lost the answer: the stored token is dead for good
    box.clear_requests()
    with pytest.raises(AuthenticationError, match="Re-authorise the app") as err:
        h.oauth.agency_token(force=True, stale=first)
    assert err.value.kind == "authentication" and err.value.status == 401
    assert spent not in str(err.value) and FIRST_REFRESH not in str(err.value)
    # the stored token, then the connection's (an operator may have re-authorised): both refused, nothing retried
    assert box.requests() == {"GHL POST /oauth/token": 2}
    assert stored(key)["refresh"] == spent  # nothing was overwritten


def test_a_new_refresh_token_put_in_the_connection_replaces_a_dead_stored_one(box, key, monkeypatch, tmp_path):
    h = hook()
    first = h.oauth.agency_token()
    reinstalled = rotate_elsewhere(box, stored(key)["refresh"])["refresh_token"]  # the stored one is dead now
    use_oauth(monkeypatch, box, f"sqlite:///{tmp_path / 'wh.db'}", key, refresh_token=reinstalled)
    assert hook().oauth.agency_token(force=True, stale=first)
    assert oauth_state(box)["valid_refresh"] == [stored(key)["refresh"]] and stored(key)["generation"] == 2


def test_on_postgresql_an_expired_access_token_is_not_taken_for_a_valid_one(box, postgres, monkeypatch):
    """Stored as a 4-byte REAL, an expiry of 1_795_000_129.123 became 1_795_000_192: 61 s after it had passed, the
    token still looked good for more than the 30 s margin."""
    use_oauth(monkeypatch, box, postgres.new_database("oauth"))
    box.configure(oauth_ttl_s=129.123)
    now = [1_795_000_000.0]
    h = hook()
    h.oauth.clock = lambda: now[0]
    h.oauth.agency_token()  # expires at 1_795_000_129.123
    now[0] = 1_795_000_130.5  # expired 1.4 s ago
    h.oauth.agency_token()
    assert oauth_state(box)["refreshes"] == 2


def test_the_refresh_margin_is_a_setting(box, monkeypatch, tmp_path):
    """With 20 s tokens the default 30 s margin would refresh at every call; extra.oauth.refresh_margin_s is 5."""
    use_oauth(monkeypatch, box, f"sqlite:///{tmp_path / 'wh.db'}", refresh_margin_s=5)
    box.configure(oauth_ttl_s=20)
    first = hook().oauth.agency_token()
    assert hook().oauth.agency_token() == first and oauth_state(box)["refreshes"] == 1
