"""CeleryExecutor for real: Redis broker, PostgreSQL metadata and result backend, two workers of concurrency 2.

The tags DAG runs over 20 locations; the result must be right in Pleo, and the
mapped location tasks must have run on both workers (each reports its own name
as the task instance's hostname).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter

import pytest

from bench.stack import AirflowStack
from tests.pleo_checks import assert_pleo_matches_ghl
from tests.sandbox_client import free_port, warehouse_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TAGS = "ghl_pleo_tags_sync"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not installed: `make test` installs it (Debian package redis-server).")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=open(workdir / "redis.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        if (
            subprocess.run(
                [shutil.which("redis-cli") or "redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            == "PONG"
        ):
            break
        time.sleep(0.2)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def celery_stack(sandbox, postgres, redis_url, tmp_path_factory):
    locations = sandbox.reset(locations=20, min_tags=15, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    metadata = postgres.new_database("airflow")
    env = {
        **sandbox.env(locations),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,  # db+postgresql+psycopg2://
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.worker_name.name",
        **warehouse_env(postgres.new_database("wh")),
        "GHL_PLEO_TAGS_SCHEDULE": "none",
        "GHL_PLEO_RETRY_DELAY_S": "2",
        "GHL_PLEO_DATA_DOCS_DIR": str(tmp_path_factory.mktemp("docs")),
    }
    stack = AirflowStack(tmp_path_factory.mktemp("celery-stack"), env, parallelism=8, executor="CeleryExecutor")
    stack.start()
    for name in ("worker-a", "worker-b"):
        stack.start_celery_worker(name, concurrency=2, env={"GHL_PLEO_TEST_WORKER": name})
    yield stack
    stack.stop()


def test_twenty_locations_spread_over_two_celery_workers(celery_stack, sandbox):
    stack = celery_stack
    stack.wait_for_dag(TAGS)
    stack.unpause(TAGS)
    run = stack.wait_for_run(TAGS, stack.trigger(TAGS), timeout=900)
    assert run["state"] == "success"
    assert_pleo_matches_ghl(sandbox)
    tis = stack.task_instances(TAGS, run["dag_run_id"])
    syncs = [ti for ti in tis if ti["task_id"] == "sync_location"]
    assert len(syncs) == 20 and {ti["state"] for ti in syncs} == {"success"}
    by_worker = Counter(ti["hostname"] for ti in syncs)
    assert set(by_worker) == {"worker-a", "worker-b"}, by_worker
    print(f"sync_location tasks per worker: {dict(by_worker)}")
