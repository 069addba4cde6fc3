"""Agency OAuth against the sandbox: one refresh under concurrency, rotation kept encrypted, 401 refreshes once."""

from __future__ import annotations

import json
import threading

import pytest
from cryptography.fernet import Fernet

from ghl_pleo.errors import AuthenticationError, ConfigurationError
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.warehouse import Warehouse

pytestmark = pytest.mark.integration
OAUTH = {
    "client_id": "sbx-client",
    "client_secret": "sbx-client-secret-7f3a",
    "company_id": "SbxAgency0000000001",
    "refresh_token": "sbx-refresh-initial-0001",
}


@pytest.fixture
def box(sandbox, monkeypatch, tmp_path):
    sandbox.reset(locations=2, min_tags=5, max_tags=5)
    sandbox.clear_faults()
    monkeypatch.setenv(
        "AIRFLOW_CONN_GHL_DEFAULT",
        json.dumps({"conn_type": "http", "host": sandbox.ghl_url, "extra": {"oauth": OAUTH}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GHL_PLEO_DB",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": f"sqlite:///{tmp_path / 'wh.db'}"}}),
    )
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    return sandbox


def hook() -> GhlHook:
    return GhlHook(
        token_store=Warehouse().tokens,
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, jitter=0),
        sleep=lambda s: None,
    )


def test_parallel_workers_refresh_once(box):
    hooks = [hook() for _ in range(6)]
    barrier = threading.Barrier(len(hooks))
    tokens, errors = [], []

    def work(h):
        try:
            barrier.wait()
            tokens.append(h.oauth.agency_token())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(h,)) for h in hooks]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and len(set(tokens)) == 1
    assert box._admin("GET", "/oauth")["refreshes"] == 1


def test_expiry_makes_one_refresh_and_the_old_refresh_token_is_never_reused(box):
    loc = box.locations()[0]["id"]
    h = hook()
    assert list(h.iter_tag_pages(loc))
    box._admin("POST", "/oauth/expire")
    assert list(hook().iter_tag_pages(loc))  # a new worker: 401 -> new location token -> agency refresh
    state = box._admin("GET", "/oauth")
    assert state["refreshes"] == 2 and "sbx-refresh-initial-0001" not in state["valid_refresh"]
    row = hook().oauth.tokens.load(OAUTH["company_id"])
    assert row and "sbx-refresh" not in row["refresh_token_enc"]  # stored encrypted


def test_a_dead_refresh_token_is_an_authentication_error_with_what_to_do(box, monkeypatch):
    conn = json.loads(__import__("os").environ["AIRFLOW_CONN_GHL_DEFAULT"])
    conn["extra"]["oauth"]["refresh_token"] = "revoked-refresh-token-xyz"
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    with pytest.raises(AuthenticationError, match="Re-authorise the app") as err:
        hook().oauth.agency_token()
    assert "revoked-refresh-token-xyz" not in str(err.value)


def test_agency_oauth_without_the_warehouse_token_store_is_a_configuration_error(box):
    loc = box.locations()[0]["id"]
    with pytest.raises(ConfigurationError, match="token_store"):
        GhlHook(retry=RetryPolicy(max_attempts=1)).get_location(loc)
