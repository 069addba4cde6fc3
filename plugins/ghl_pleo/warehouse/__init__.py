"""The warehouse (connection ``ghl_pleo_db``): small stores over one :class:`Database`, behind :class:`Warehouse`.

``Warehouse(url)`` builds the engine, makes sure this process applied the schema for the URL (once per process),
and exposes the stores:

- ``db`` (:class:`Database`): the engine and query helpers; only the stores run SQL on it.
- ``staging`` (:class:`StagingStore`): staged tag pages and tag details.
- ``state`` (:class:`SyncStateStore`): what Pleo confirmed, the statistics history, the field sets seen.
- ``ledger`` (:class:`LedgerStore`): run ledger, change log, rejected records, events.
- ``guard`` (:class:`GuardStore`): the archive guard's baseline (highest recent count, last release).
- ``pending`` (:class:`PendingWriteStore`): Pleo creates sent but not yet confirmed.
- ``health`` (:class:`HealthStore`): the ledger's health reads, the stale alerts sent, retention.
- ``tokens`` (:class:`TokenStore`): the agency OAuth tokens (encrypted).
- ``rate_slots`` (:class:`RateSlotStore`): the shared request rates.
- ``leases`` (:class:`LeaseStore`): one writer per unit of work (a location's sync, the tag groups).
- ``spend`` (:class:`SpendStore`): daily spend, spend vs social, tag suggestions, quarantine, budget alerts.
- ``validations`` (:class:`ValidationStore`): batch GX validations and each location's outcome in them.
"""

from __future__ import annotations

from ghl_pleo.warehouse.change_log import change
from ghl_pleo.warehouse.core import (
    CONN_ID,
    TS_FORMAT,
    Database,
    connection_database,
    parse_ts,
    utcnow,
    warehouse_connection,
    warehouse_url,
)
from ghl_pleo.warehouse.guard import GuardStore
from ghl_pleo.warehouse.health import HealthStore
from ghl_pleo.warehouse.leases import LeaseStore
from ghl_pleo.warehouse.ledger import LedgerStore, drift_flags
from ghl_pleo.warehouse.pending import PendingWriteStore
from ghl_pleo.warehouse.rate_slots import RateSlotStore
from ghl_pleo.warehouse.spend import SpendStore
from ghl_pleo.warehouse.staging import StagingStore
from ghl_pleo.warehouse.state import SyncStateStore
from ghl_pleo.warehouse.tokens import TokenStore
from ghl_pleo.warehouse.validations import ValidationStore

__all__ = [
    "CONN_ID",
    "TS_FORMAT",
    "Database",
    "GuardStore",
    "HealthStore",
    "LeaseStore",
    "LedgerStore",
    "PendingWriteStore",
    "RateSlotStore",
    "SpendStore",
    "StagingStore",
    "SyncStateStore",
    "TokenStore",
    "ValidationStore",
    "Warehouse",
    "change",
    "drift_flags",
    "parse_ts",
    "utcnow",
    "warehouse_url",
]


class Warehouse:
    """The stores of the warehouse at ``url`` (default: :func:`warehouse_url`), sharing one engine."""

    def __init__(self, url: str | None = None, *, connection=None) -> None:
        """``url``: a SQLAlchemy URL; else ``connection`` (an Airflow connection), else ``ghl_pleo_db``'s, whose
        engine the provider's SQL hook builds (postgres, sqlite) unless it carries ``extra.sqlalchemy_url``."""
        if url is not None:
            self.db = Database(url)
        else:
            self.db = connection_database(connection or warehouse_connection())
        self.url = self.db.url
        self.db.ensure_schema()
        self.staging = StagingStore(self.db)
        self.state = SyncStateStore(self.db)
        self.ledger = LedgerStore(self.db)
        self.guard = GuardStore(self.db)
        self.pending = PendingWriteStore(self.db)
        self.health = HealthStore(self.db)
        self.tokens = TokenStore(self.db)
        self.rate_slots = RateSlotStore(self.db)
        self.leases = LeaseStore(self.db)
        self.spend = SpendStore(self.db)
        self.validations = ValidationStore(self.db)

    def apply_schema(self) -> None:
        """Apply the schema again (idempotent; constructing a Warehouse already made sure of it)."""
        self.db.apply_schema()
