"""A warehouse on each backend it runs on (the ``warehouse_url`` fixture: a SQLite file, a fresh PostgreSQL DB)."""

from __future__ import annotations

import pytest

from ghl_pleo.warehouse import Warehouse


@pytest.fixture
def wh(warehouse_url) -> Warehouse:
    w = Warehouse(warehouse_url)
    yield w
    w.db.dispose()
