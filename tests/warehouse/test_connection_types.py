"""The warehouse connection ``ghl_pleo_db`` as Airflow's own connection types (issue 16, item 5): a postgres or
sqlite connection, its engine built by the provider's SQL hook, the password in the password field; the
``generic`` + ``extra.sqlalchemy_url`` form still works; the health dashboard's path (server-side secrets) too."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
from sqlalchemy.engine import make_url

from ghl_pleo.warehouse import Warehouse, core

pytestmark = pytest.mark.integration
HOSTILE = "p@ss:/w#rd%2F?&=ü 'x\""


def postgres_conn(url: str, password: str | None = None) -> str:
    u = make_url(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": u.host,
            "port": u.port,
            "schema": u.database,
            "login": u.username,
            **({"password": password} if password is not None else {}),
        }
    )


def ledger_round_trip(wh: Warehouse) -> None:
    wh.ledger.start_location_run("ghl_pleo_tags_sync", "run-1", "loc-1", 1, False)
    rows = wh.ledger.location_runs("ghl_pleo_tags_sync", "run-1")
    assert [r["location_id"] for r in rows] == ["loc-1"]


def test_a_postgres_connection_gets_its_engine_from_the_provider_hook(postgres, monkeypatch):
    url = postgres.new_database("conn")
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", postgres_conn(url))
    wh = Warehouse()
    assert wh.db.engine.dialect.name == "postgresql"
    assert wh.db.engine.url.drivername == "postgresql+psycopg"  # the hook's choice for SQLAlchemy 2
    assert wh.db.engine.url.database == make_url(url).database
    ledger_round_trip(wh)
    assert {"sync_location_runs", "pleo_change_log"} <= set(core.inspect(wh.db.engine).get_table_names())


def test_the_password_field_reaches_the_driver_exactly_and_never_shows_in_the_safe_url(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", postgres_conn("postgresql://wh@db.internal:5433/ghl_pleo", HOSTILE))
    url = make_url(core.warehouse_url())
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "wh",
        HOSTILE,
        "db.internal",
        5433,
        "ghl_pleo",
    )
    database = core.connection_database(core.warehouse_connection())
    assert database.engine.url.password == HOSTILE
    assert HOSTILE not in database.safe_url and "***" in database.safe_url


def test_a_sqlite_connection_names_the_file_and_the_warehouse_is_created_there(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    wh = Warehouse()
    ledger_round_trip(wh)
    assert path.exists() and wh.db.engine.dialect.name == "sqlite"
    assert urlparse(wh.url).path.endswith(str(path))


def test_the_generic_connection_with_a_sqlalchemy_url_still_works(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'old-style.db'}"
    conn = {"conn_type": "generic", "extra": {"sqlalchemy_url": url}}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", json.dumps(conn))
    wh = Warehouse()
    assert wh.url == url
    ledger_round_trip(wh)


def test_another_connection_type_is_a_configuration_error_naming_what_works(monkeypatch):
    from ghl_pleo.errors import ConfigurationError

    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", json.dumps({"conn_type": "mysql", "host": "db"}))
    with pytest.raises(ConfigurationError, match="postgres or sqlite"):
        Warehouse()


def test_the_dashboard_reads_a_postgres_connection_from_the_servers_secrets(postgres, monkeypatch):
    """In the api-server the Task SDK cannot read connections: the dashboard asks the server's secrets, and the
    engine still comes from the provider's hook (a plain postgres:// URL would be refused by SQLAlchemy 2)."""
    from ghl_pleo import dashboard
    from ghl_pleo.errors import ConfigurationError

    url = postgres.new_database("dash")
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_DB", postgres_conn(url))

    def sdk_unavailable(*_a, **_k):
        raise ConfigurationError("no Task SDK here")

    monkeypatch.setattr("ghl_pleo.warehouse.warehouse_connection", sdk_unavailable)
    monkeypatch.setattr(dashboard, "_warehouse", None)
    wh = dashboard.warehouse()
    assert wh.db.engine.url.drivername == "postgresql+psycopg"
    ledger_round_trip(wh)
    monkeypatch.setattr(dashboard, "_warehouse", None)
