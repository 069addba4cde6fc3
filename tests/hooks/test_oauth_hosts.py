"""Two hosts (OS processes with their own ``AIRFLOW_HOME``) share one PostgreSQL warehouse and refresh one agency's
token concurrently, round after round, against a token endpoint that refuses any refresh token used twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet

from tests.conftest import ROOT
from tests.hooks.oauth_env import connection, oauth_state
from tests.sandbox_client import warehouse_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROUNDS, PAUSE_S = 30, 0.25
TTL_S, MARGIN_S = 3.0, 1.0  # an access token lives 3 s and is refreshed in its last second


@pytest.fixture
def box(sandbox):
    sandbox.reset(locations=2, min_tags=5, max_tags=5)
    sandbox.clear_faults()
    sandbox.configure(oauth_ttl_s=TTL_S, oauth_expires_in=None)
    yield sandbox
    sandbox.configure(oauth_ttl_s=86399, oauth_expires_in=None)


def start_host(name: str, box, warehouse_url: str, key: str, tmp_path) -> subprocess.Popen:
    home = tmp_path / name
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__CORE__FERNET_KEY"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW_CONN_GHL_DEFAULT": connection(box, refresh_margin_s=MARGIN_S),
            "AIRFLOW__CORE__FERNET_KEY": key,
            "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}",
            **warehouse_env(warehouse_url),
        }
    )
    args = [str(ROUNDS), str(PAUSE_S), str(home / "ready"), str(tmp_path / "go")]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.hooks.oauth_host", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=open(home / "stderr.log", "w"),  # noqa: SIM115 - closed with the process
        text=True,
    )


def test_two_hosts_refresh_once_per_expiry_and_never_fail(box, postgres, tmp_path):
    url, key = postgres.new_database("hosts"), Fernet.generate_key().decode()
    hosts = [start_host(name, box, url, key, tmp_path) for name in ("host-a", "host-b")]
    while not all((tmp_path / name / "ready").exists() for name in ("host-a", "host-b")):
        assert all(h.poll() is None for h in hosts), [(tmp_path / n / "stderr.log").read_text()[-2000:] for n in "ab"]
        time.sleep(0.05)
    (tmp_path / "go").touch()
    reports = []
    for name, host in zip(("host-a", "host-b"), hosts, strict=True):
        out, _ = host.communicate(timeout=300)
        assert host.returncode == 0, (tmp_path / name / "stderr.log").read_text()[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    assert [r["failures"] for r in reports] == [[], []]
    log = oauth_state(box)["refresh_log"]
    assert oauth_state(box)["refreshes"] == len(log) >= 3  # 30 rounds of 0.25 s outlive several tokens
    assert log[0]["replaced_expires_at"] is None  # the first: the connection's refresh token
    # Every later refresh replaced a token that was due (in its last MARGIN_S): one refresh per expiry.
    early = [r for r in log[1:] if r["replaced_expires_at"] is None or r["at"] < r["replaced_expires_at"] - MARGIN_S]
    assert early == []
