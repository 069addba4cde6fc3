"""A real Airflow on loopback for the benchmark: api-server, scheduler (LocalExecutor) and dag-processor.

Runs and inspects DAG runs through the public REST API (``/api/v2``), as a user
of the UI would. Metadata DB: SQLite in a fresh ``AIRFLOW_HOME``.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowStack:
    """Start with :meth:`start`, stop with :meth:`stop`; ``env`` is shared by every process (and its tasks)."""

    def __init__(
        self, home: Path, extra_env: dict[str, str], *, parallelism: int = 8, executor: str = "LocalExecutor"
    ) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
            **extra_env,
        }
        self.session = requests.Session()

    # processes ------------------------------------------------------------------------------
    def _airflow(self, *args: str, log: str | None = None) -> subprocess.Popen:
        out = open(self.home / (log or f"{args[0]}.log"), "ab")
        proc = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start(
        self, timeout: float = 180, components: tuple[str, ...] = ("api-server", "scheduler", "dag-processor")
    ) -> None:
        """Migrate the metadata DB, start ``components`` (a test of the UI or REST API alone needs only the
        api-server) and wait for the api-server's health; the session then carries a token."""
        self.home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.env,
            check=True,
            cwd=ROOT,
            stdout=open(self.home / "db-migrate.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        subprocess.run(
            [str(BIN / "airflow"), "pools", "set", "ghl_pleo_group_writes", "1", "group writes"],
            env=self.env,
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        for component in components:
            self._airflow(component)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting on a loaded machine
                pass
            self._check_alive()
            time.sleep(1)
        else:
            raise RuntimeError(f"api-server not healthy within {timeout:.0f} s; see {self.home}/api-server.log")
        token = requests.get(f"{self.url}/auth/token", timeout=10).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def pids(self) -> dict[str, int]:
        """Each started component's process id, by its command (``scheduler``, ``api-server``, ...)."""
        return {proc.args[1]: proc.pid for proc in self.procs if proc.poll() is None}

    @property
    def db_url(self) -> str:
        """The metadata DB's SQLAlchemy URL (SQLite in the home unless the environment sets one)."""
        return self.env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or f"sqlite:///{self.home / 'airflow.db'}"

    def start_celery_worker(self, name: str, concurrency: int, env: dict[str, str] | None = None) -> None:
        """One Celery worker (``airflow celery worker``) named ``name@host``, with its own extra environment."""
        out = open(self.home / f"worker-{name}.log", "ab")
        proc = subprocess.Popen(
            [
                str(BIN / "airflow"),
                "celery",
                "worker",
                "--concurrency",
                str(concurrency),
                "--celery-hostname",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            env={**self.env, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.procs.append(proc)

    def _check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(proc.args[1:])} exited with {proc.returncode}; see {self.home}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    # REST API -------------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> dict:
        resp = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        if not resp.ok:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else {}

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            resp = self.session.get(f"{self.url}/api/v2/dags/{dag_id}", timeout=10)
            if resp.ok:
                return
            self._check_alive()
            time.sleep(1)
        errors = self.api("GET", "/importErrors")
        raise RuntimeError(f"DAG {dag_id} not parsed within {timeout:.0f} s; import errors: {errors}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 3600) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            self._check_alive()
            time.sleep(1)
        raise RuntimeError(f"run {run_id} of {dag_id} did not finish within {timeout:.0f} s")

    def backfill(self, dag_id: str, from_date: str, to_date: str, max_active_runs: int | None = 1) -> dict:
        """A backfill over [from_date, to_date] (logical dates), ``max_active_runs`` runs at a time (1: one after
        another; None sends none, so Airflow's default applies: 10 at once, whatever the DAG's own limit)."""
        body = {"dag_id": dag_id, "from_date": from_date, "to_date": to_date, "reprocess_behavior": "completed"}
        if max_active_runs is not None:
            body["max_active_runs"] = max_active_runs
        return self.api("POST", "/backfills", json=body)

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def import_errors(self) -> list[dict]:
        return self.api("GET", "/importErrors")["import_errors"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})[
            "task_instances"
        ]
