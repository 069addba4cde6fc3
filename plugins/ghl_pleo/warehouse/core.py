"""The warehouse's engine and DDL: one :class:`Database` per URL a process uses, and the timestamp format.

SQLAlchemy 2 Core with plain SQL from ``include/sql``, portable between SQLite (the embedded default) and
PostgreSQL. Only the stores (``staging``, ``state``, ``ledger``, ``tokens``, ``rate_slots``, ``leases``) run SQL
on it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from ghl_pleo.errors import ConfigurationError

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql"
CONN_ID = "ghl_pleo_db"
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # every timestamp the warehouse stores (ISO-8601 UTC, text: sorts as it reads)
_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.IGNORECASE)
# The URLs whose schema this process has applied: a task builds many Warehouses, the DDL runs once.
_applied: set[str] = set()
_applied_lock = threading.Lock()


def utcnow() -> str:
    return datetime.now(UTC).strftime(TS_FORMAT)


def parse_ts(value: str | None) -> datetime | None:
    if not isinstance(value, str) or not value:  # None, or NaN from a pandas column
        return None
    return datetime.strptime(value, TS_FORMAT).replace(tzinfo=UTC)


def warehouse_connection(conn_id: str = CONN_ID):
    """The warehouse's Airflow connection. There is no fallback: a missing connection is a configuration error
    naming it (a silent per-machine SQLite file would split the ledger, the sync state and the shared rate between
    machines without a word)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} (the warehouse) is not set. Create it: a postgres connection "
            f"(host, port, schema = database, login, password), a sqlite one (host = the file's path), or "
            f'AIRFLOW_CONN_{conn_id.upper()}=\'{{"conn_type": "generic", "extra": {{"sqlalchemy_url": '
            f'"sqlite:////path/to/ghl_pleo.db"}}}}\'; see the README.'
        ) from None


def warehouse_url(conn_id: str = CONN_ID) -> str:
    """The SQLAlchemy URL of the warehouse connection ``ghl_pleo_db`` (see :func:`connection_url`)."""
    return connection_url(warehouse_connection(conn_id), conn_id)


def sql_hook(conn, conn_id: str = CONN_ID):
    """The provider's SQL hook for a ``postgres`` or ``sqlite`` connection (None for ``extra.sqlalchemy_url``).

    The hook is given the connection itself, so it also works where only the server's secrets can read it (the
    api-server's health dashboard). PostgreSQL: the password comes from the password field (masked in the UI and
    logs; without one, libpq's PGPASSWORD), never parsed out of a URL; SQLAlchemy 2 gets ``postgresql+psycopg``.
    """
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return None
    if conn.conn_type in ("postgres", "postgresql"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=conn_id, connection=conn)
    if conn.conn_type == "sqlite":
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        class _Sqlite(SqliteHook):  # its get_uri reads the connection again by id: use the one given
            def get_connection(self, _conn_id):
                return conn

        return _Sqlite(sqlite_conn_id=conn_id, connection=conn)
    raise ConfigurationError(
        f"Connection {conn_id!r} (conn_type {conn.conn_type!r}) must be a postgres or sqlite connection, "
        f"or carry extra.sqlalchemy_url."
    )


def connection_url(conn, conn_id: str = CONN_ID) -> str:
    """The SQLAlchemy URL of an Airflow connection: ``extra.sqlalchemy_url`` as it is, else the URL of the
    provider's hook (:func:`sql_hook`)."""
    hook = sql_hook(conn, conn_id)
    if hook is None:
        return str(conn.extra_dejson["sqlalchemy_url"])
    if conn.conn_type == "sqlite":
        return hook.get_uri()
    return hook.sqlalchemy_url.render_as_string(hide_password=False)


def connection_database(conn, conn_id: str = CONN_ID) -> Database:
    """The warehouse :class:`Database` of an Airflow connection, its engine built by the provider's hook."""
    hook = sql_hook(conn, conn_id)
    url = connection_url(conn, conn_id)
    if hook is None:
        return Database(url)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    return Database(url, engine=hook.get_sqlalchemy_engine(engine_kwargs=kwargs))


class Database:
    """One engine on the warehouse at ``url`` (SQLite: WAL, a long busy timeout) and the query helpers."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        """``engine``: one already built for ``url`` (by a provider's hook); else one is created here."""
        self.url = url
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.engine: Engine = engine or create_engine(url, connect_args={"timeout": 60})

            @event.listens_for(self.engine, "connect")
            def _pragma(dbapi_conn, _record):  # WAL lets parallel location tasks read while one writes
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; commits skip an fsync each
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()
        else:
            self.engine = engine or create_engine(url, pool_pre_ping=True)

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden (for messages)."""
        return self.engine.url.render_as_string()

    def begin(self) -> AbstractContextManager[Connection]:
        """A connection in one transaction: committed when the block ends, rolled back on an exception."""
        return self.engine.begin()

    def connect(self) -> AbstractContextManager[Connection]:
        return self.engine.connect()

    def query(self, sql: str, params: dict | None = None) -> list[dict]:
        """A query's rows as dicts."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params or {}).mappings().all()]

    def frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """A query's rows as a DataFrame (tuples, not dicts: ~4x faster at hundreds of thousands of rows)."""
        with self.engine.connect() as conn:
            result = conn.execute(text(sql), params or {})
            columns = list(result.keys())
            return pd.DataFrame.from_records([tuple(r) for r in result.fetchall()], columns=columns)

    def dispose(self) -> None:
        self.engine.dispose()

    # schema ----------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Apply the schema unless this process already did for this URL (the DDL then runs once per process)."""
        with _applied_lock:
            if self.url not in _applied:
                self._run_ddl()
                _applied.add(self.url)

    def apply_schema(self) -> None:
        """Apply the schema now, whether or not this process already did (the DDL is idempotent)."""
        with _applied_lock:
            self._run_ddl()
            _applied.add(self.url)

    def _run_ddl(self) -> None:
        """Run every ``include/sql/*.sql`` file in name order (idempotent DDL).

        ``ALTER TABLE t ADD COLUMN c`` runs only where ``c`` is missing (SQLite has no ``IF NOT EXISTS`` for it).
        On PostgreSQL one advisory lock serialises tasks that apply it at the same moment.
        """
        postgres = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            if postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(727001)"))
            columns: dict[str, set[str]] = {}
            for path in sorted(SQL_DIR.glob("*.sql")):
                for statement in _statements(path.read_text(encoding="utf-8")):
                    added = _ADD_COLUMN.match(statement)
                    if added:
                        table, column = added.group(1), added.group(2)
                        if table not in columns:
                            columns[table] = {c["name"] for c in inspect(conn).get_columns(table)}
                        if column in columns[table]:
                            continue
                        columns[table].add(column)
                    try:
                        conn.execute(text(statement))
                    except OperationalError as exc:  # SQLite: another task added the column since we looked
                        if not (added and "duplicate column" in str(exc).lower()):
                            raise


def _statements(sql: str) -> Iterable[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    for stmt in "\n".join(lines).split(";"):
        if stmt.strip():
            yield stmt.strip()
