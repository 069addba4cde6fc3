"""Run a DAG through Airflow (`airflow dags test`) against the sandbox, with its own warehouse file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.sandbox_client import Sandbox, warehouse_env


class Runner:
    def __init__(
        self, box: Sandbox, workdir: Path, locations: list[str] | None, dag_id: str, warehouse_url: str | None = None
    ) -> None:
        self.box = box
        self.db = workdir / "warehouse.db"
        self.warehouse_url = warehouse_url or f"sqlite:///{self.db}"
        self.workdir = workdir
        self.locations = locations
        self.dag_id = dag_id
        self.runs = 0

    def env(self, **overrides) -> dict[str, str]:
        env = {
            **os.environ,
            **self.box.env(self.locations),
            **warehouse_env(self.warehouse_url),
            "GHL_PLEO_RETRY_DELAY_S": "1",
        }
        env.update(overrides)
        return env

    def run(self, *args: str, expect_ok: bool = True, **env) -> str:
        """``airflow dags test <dag> [logical date]``; returns the console output."""
        self.runs += 1
        log = self.workdir / f"run-{self.runs}.log"
        bin_dir = Path(sys.executable).parent
        with open(log, "w") as fh:
            proc = subprocess.run(
                [str(bin_dir / "airflow"), "dags", "test", self.dag_id, *args],
                env=self.env(**env),
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=600,
            )
        out = log.read_text(errors="replace")
        ok = proc.returncode == 0 and "state=success" in out
        assert ok == expect_ok, f"run {self.runs}: rc={proc.returncode}; see {log}\n{out[-3000:]}"
        return out

    def start(self, *args: str, **env) -> subprocess.Popen:
        """Start a run without waiting (its own process group, so a test can SIGKILL it mid-load)."""
        self.runs += 1
        log = open(self.workdir / f"run-{self.runs}.log", "w")
        bin_dir = Path(sys.executable).parent
        return subprocess.Popen(
            [str(bin_dir / "airflow"), "dags", "test", self.dag_id, *args],
            env=self.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def warehouse(self):
        from ghl_pleo.warehouse import Warehouse

        return Warehouse(self.warehouse_url)
