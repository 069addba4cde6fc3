"""Agency OAuth tokens under Airflow's own Fernet: several keys (rotation), every config source, no key, a lost key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.warehouse import Warehouse
from tests.hooks.oauth_env import COMPANY, hook, oauth_state, set_fernet_key, use_oauth

pytestmark = pytest.mark.integration
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def box(sandbox, monkeypatch, tmp_path):
    sandbox.reset(locations=2, min_tags=5, max_tags=5)
    sandbox.clear_faults()
    sandbox.configure(oauth_ttl_s=86399, oauth_expires_in=None)
    use_oauth(monkeypatch, sandbox, f"sqlite:///{tmp_path / 'wh.db'}", OLD)
    return sandbox


def row() -> dict | None:
    return Warehouse().tokens.load(COMPANY)


def readable_with(key: str) -> bool:
    """Both stored tokens decrypt with ``key`` alone."""
    r, f = row(), Fernet(key.encode())
    try:
        f.decrypt(r["refresh_token_enc"].encode()), f.decrypt(r["access_token_enc"].encode())
    except InvalidToken:
        return False
    return True


def test_rotating_to_new_old_keeps_syncing_and_re_encrypts_the_row_with_the_new_key(box, monkeypatch):
    loc = box.locations()[0]["id"]
    assert list(hook().iter_tag_pages(loc))  # written under the old key
    assert readable_with(OLD) and not readable_with(NEW)

    set_fernet_key(monkeypatch, f"{NEW},{OLD}")  # step 1 of the rotation, on every component
    assert list(hook().iter_tag_pages(loc))
    assert readable_with(NEW) and not readable_with(OLD)  # re-encrypted on read, with the newest key

    set_fernet_key(monkeypatch, NEW)  # step 2: the old key is dropped
    h = hook()
    assert list(h.iter_tag_pages(loc)) and h.search_locations()
    assert oauth_state(box)["refreshes"] == 1  # the same tokens all along: a rotation costs no refresh


def test_keys_from_a_command_are_used_like_airflow_uses_them(box, monkeypatch):
    from airflow.sdk.crypto import get_fernet

    monkeypatch.delenv("AIRFLOW__CORE__FERNET_KEY")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY_CMD", f"echo {NEW},{OLD}")
    get_fernet.cache_clear()
    assert hook().oauth.agency_token()
    assert readable_with(NEW)


def test_without_a_fernet_key_no_token_is_stored_and_it_is_a_configuration_error(box, monkeypatch):
    from airflow.sdk.crypto import get_fernet

    set_fernet_key(monkeypatch, "")
    assert get_fernet().is_encrypted is False  # what Airflow hands back without a key: it would store plain text
    box.clear_requests()
    with pytest.raises(ConfigurationError, match=r"\[core\] fernet_key") as err:
        hook().oauth.agency_token()
    assert err.value.kind == "configuration" and "AIRFLOW__CORE__FERNET_KEY" in str(err.value)
    assert box.requests() == {} and row() is None  # nothing was refreshed, nothing stored


def test_a_malformed_fernet_key_is_a_configuration_error(box, monkeypatch):
    set_fernet_key(monkeypatch, f"{NEW},not-a-fernet-key")
    with pytest.raises(ConfigurationError, match=r"not a valid comma-separated list of Fernet keys"):
        hook().oauth.agency_token()


def test_a_row_no_configured_key_can_read_is_a_configuration_error_naming_the_setting(box, monkeypatch):
    first = hook().oauth.agency_token()
    set_fernet_key(monkeypatch, NEW)  # the old key dropped before the row was re-encrypted
    box.clear_requests()
    with pytest.raises(ConfigurationError) as err:
        hook().oauth.agency_token()
    message = str(err.value)
    assert err.value.kind == "configuration"
    assert "[core] fernet_key" in message and "AIRFLOW__CORE__FERNET_KEY" in message and "ghl_oauth_state" in message
    assert first not in message and box.requests() == {}  # no refresh with the connection's (spent) token
    set_fernet_key(monkeypatch, f"{NEW},{OLD}")  # the fix the message names
    assert hook().oauth.agency_token() == first
