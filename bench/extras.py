"""The benchmark's extras: the memory phase (one location, many tags) and the DAG files' parse time."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.phases import DAG_ID, airflow_env, log
from bench.stack import AirflowStack
from tests.sandbox_client import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def parse_times(repeat: int = 7) -> dict:
    """What each DAG file adds on top of ``import airflow.sdk``: both timed in one fresh interpreter, median of runs."""
    code = (
        "import sys, time, runpy; t = time.perf_counter(); import airflow.sdk; a = time.perf_counter() - t; "
        "t = time.perf_counter(); runpy.run_path(sys.argv[1]); print(a, time.perf_counter() - t)"
    )
    out: dict = {}
    bases = []
    for dag_file in sorted((ROOT / "dags").glob("*.py")):
        added = []
        for _ in range(repeat):
            proc = subprocess.run(
                [sys.executable, "-c", code, str(dag_file)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"},
                check=True,
            )
            base, extra = map(float, proc.stdout.strip().splitlines()[-1].split())
            bases.append(base)
            added.append(extra)
        out[dag_file.name] = {"added_s": round(statistics.median(added), 3), "max_s": round(max(added), 3)}
    out["airflow_sdk_import_s"] = round(statistics.median(bases), 3)
    return out


def memory_phase(workdir: Path, sizes: list[int], parallel: int) -> dict:
    """One location with N tags, full sync then a no-change re-sync; the task's peak RSS from the ledger.

    Memory is what is measured here, so the limits are lifted (burst limit and
    Pleo rate) and ``detail_level: basic`` keeps the Pleo writes to one per tag.
    """
    from ghl_pleo.warehouse import Warehouse

    mapping = workdir / "mapping-basic.yaml"
    text = (ROOT / "include" / "mapping.yaml").read_text().replace("detail_level: full", "detail_level: basic")
    mapping.write_text(text)
    results = {}
    for n in sizes:
        home = workdir / f"memory-{n}"
        home.mkdir(parents=True, exist_ok=True)
        box = Sandbox(
            home,
            config={
                "locations": 1,
                "min_tags": n,
                "max_tags": n,
                "pleo_rps": 0,
                "ghl_burst_limit": 1_000_000,
                "exchange_log": 0,
            },
            persist=False,
        )
        stack = None
        try:
            warehouse_url = f"sqlite:///{home / 'warehouse.db'}"
            env = {
                **airflow_env(box, warehouse_url, parallel, 100_000, burst_limit=1_000_000),
                "GHL_PLEO_MAPPING_FILE": str(mapping),
            }
            stack = AirflowStack(home / "airflow", env, parallelism=parallel + 2)
            stack.start()
            stack.wait_for_dag(DAG_ID)
            stack.unpause(DAG_ID)
            row = {}
            for phase in ("full", "no_change"):
                t0 = time.time()
                run_id = stack.trigger(DAG_ID)
                run = stack.wait_for_run(DAG_ID, run_id)
                ledger = Warehouse(warehouse_url).ledger.location_runs(DAG_ID, run_id)[0]
                row[phase] = {
                    "state": run["state"],
                    "read": ledger["counts"].get("read"),
                    "created": ledger["counts"].get("created"),
                    "start_rss_mb": ledger["counts"].get("start_rss_mb"),
                    "peak_rss_mb": ledger["counts"].get("peak_rss_mb"),
                    "wall_s": round(time.time() - t0, 1),
                }
                log(f"memory {n} tags, {phase}: {row[phase]}")
            results[str(n)] = row
        finally:
            if stack:
                stack.stop()
            box.stop()
    return results
