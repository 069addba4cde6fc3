"""Shared by the agency OAuth hook tests: the connection, a warehouse, a fernet key, and a hook per "worker"."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet

from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.warehouse import Warehouse

COMPANY = "SbxAgency0000000001"
FIRST_REFRESH = "sbx-refresh-initial-0001"
OAUTH = {
    "client_id": "sbx-client",
    "client_secret": "sbx-client-secret-7f3a",
    "company_id": COMPANY,
    "refresh_token": FIRST_REFRESH,
}


def connection(sandbox, **oauth) -> str:
    """``AIRFLOW_CONN_GHL_DEFAULT`` with agency OAuth (``oauth`` overrides the settings)."""
    return json.dumps({"conn_type": "http", "host": sandbox.ghl_url, "extra": {"oauth": {**OAUTH, **oauth}}})


def use_oauth(monkeypatch, sandbox, warehouse_url: str, fernet_key: str | None = None, **oauth) -> str:
    """Point the process at the sandbox with agency OAuth, a warehouse and a fernet key; returns the key."""
    key = fernet_key or Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", connection(sandbox, **oauth))
    monkeypatch.setenv(
        "AIRFLOW_CONN_GHL_PLEO_DB", json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": warehouse_url}})
    )
    set_fernet_key(monkeypatch, key)
    return key


def set_fernet_key(monkeypatch, value: str) -> None:
    """Airflow's ``[core] fernet_key`` as a worker started now would see it (Airflow caches it per process)."""
    from airflow.sdk.crypto import get_fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", value)
    get_fernet.cache_clear()


def hook() -> GhlHook:
    """A new worker's hook: nothing cached but what the warehouse holds."""
    return GhlHook(
        token_store=Warehouse().tokens,
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, jitter=0),
        sleep=lambda s: None,
    )


def oauth_state(sandbox) -> dict:
    """The sandbox's OAuth counters: refreshes, valid refresh tokens, the refresh log."""
    return sandbox._admin("GET", "/oauth")
