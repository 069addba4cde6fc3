"""Shared fixtures. The Airflow home is a temporary folder, set before anything imports Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="ghl-pleo-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("AIRFLOW_VAR_GHL_LOCATION_IDS", None)
for key in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
    os.environ.pop(key)
# The warehouse has no fallback: tests that do not set their own share this one (set explicitly, as make does).
os.environ["AIRFLOW_CONN_GHL_PLEO_DB"] = json.dumps(
    {"conn_type": "generic", "extra": {"sqlalchemy_url": f"sqlite:///{_HOME / 'ghl_pleo.db'}"}}
)

from tests.sandbox_client import Sandbox  # noqa: E402

SPECS = ROOT.parent / "shared" / "specs"
# Airflow's own deprecations fail the test that meets them (removed in Airflow 4, or in a provider's next major).
AIRFLOW_DEPRECATIONS = (
    "error::airflow.exceptions.RemovedInAirflow4Warning",
    "error::airflow.exceptions.AirflowProviderDeprecationWarning",
)


def pytest_configure(config):
    """Add the Airflow warning filters now that AIRFLOW_HOME is the temporary one (importing the classes imports
    Airflow, which reads its configuration from AIRFLOW_HOME once)."""
    for line in AIRFLOW_DEPRECATIONS:
        config.addinivalue_line("filterwarnings", line)


OUTPUT = ROOT / "test-output"


@pytest.fixture(autouse=True)
def _fresh_airflow_fernet():
    """Airflow caches its Fernet per process; tests set ``AIRFLOW__CORE__FERNET_KEY`` per test, so forget it."""
    for name in ("airflow.sdk.crypto", "airflow.models.crypto"):
        module = sys.modules.get(name)
        if module is not None:
            module.get_fernet.cache_clear()
    yield


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """An initialised Airflow metadata DB (SQLite) with the group-write pool."""
    env = {**os.environ}
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [str(bin_dir / "airflow"), "pools", "set", "ghl_pleo_group_writes", "1", "group writes"],
        env=env,
        check=True,
        capture_output=True,
    )
    return airflow_home


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Sandbox:
    """One sandbox process for the session, seeded small; tests reset it to what they need."""
    box = Sandbox(
        tmp_path_factory.mktemp("sandbox"), config={"locations": 3, "min_tags": 40, "max_tags": 90, "pleo_rps": 0}
    )
    yield box
    box.stop()


@pytest.fixture(scope="session")
def specs() -> Path:
    if not (SPECS / "ghl").is_dir() or not (SPECS / "pleo").is_dir():
        pytest.skip(f"vendor OpenAPI documents not found at {SPECS} (../shared/specs beside the checkout)")
    return SPECS


@pytest.fixture
def output_dir(request) -> Path:
    path = OUTPUT / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser():
    """Headless Chromium through Selenium (``tests/browser.py``), quit after the test."""
    from tests.browser import open_browser

    with open_browser() as b:
        yield b


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (GHL_PLEO_TEST_PG_URL, or a local one started here)."""
    external = os.environ.get("GHL_PLEO_TEST_PG_URL")
    if external:
        yield type("External", (), {"url": external, "new_database": lambda self, prefix="t": external})()
        return
    from tests.pg import LocalPostgres

    server = LocalPostgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """The warehouse on each backend it must run on: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres").new_database("wh")
