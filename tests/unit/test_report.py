"""The report CLI (``make report``, ``python -m ghl_pleo.report``): its help, an unknown run id, and finding the
warehouse ``make run`` wrote by itself (issue 17, item 7)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ghl_pleo.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "ghl_pleo_tags_sync"


def _warehouse_with_runs(path: Path) -> None:
    wh = Warehouse(f"sqlite:///{path}")
    for run_id, read in (("manual__older", 3), ("manual__newest", 7)):
        wh.ledger.start_location_run(DAG_ID, run_id, "L1", 1)
        wh.ledger.finish_location_run(DAG_ID, run_id, "L1", "success", {"read": read}, {})


def _report(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ghl_pleo.report", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _env(tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "wh.db"
    _warehouse_with_runs(db)
    url = f"sqlite:///{db}"
    conn = '{"conn_type": "generic", "extra": {"sqlalchemy_url": "' + url + '"}}'
    return {**os.environ, "AIRFLOW_CONN_GHL_PLEO_DB": conn, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}


def test_help_describes_every_option(tmp_path):
    out = _report("--help", env=_env(tmp_path))
    assert out.returncode == 0
    options = out.stdout.split("options:", 1)[1]
    # each option's entry: the flag (and its value name), then a description on the same or the next lines
    entries = re.split(r"\n  (?=-)", "\n" + options.strip("\n"))
    described = {}
    for entry in filter(None, (e.strip() for e in entries)):
        flags = re.findall(r"--[a-z-]+", entry.split("  ", 1)[0])
        text = entry.split("  ", 1)[1].strip() if "  " in entry else ""
        for flag in flags:
            described[flag] = text
    assert {"--dag-id", "--run-id", "--list", "--limit", "--help"} <= set(described), out.stdout
    for flag, text in described.items():
        assert len(text.split()) >= 3, f"{flag} has no description: {out.stdout}"
    assert "ghl_pleo_statistics_sync" in described["--dag-id"] and "latest run" in described["--run-id"]


def test_an_unknown_run_id_is_an_error_that_says_how_to_list_the_runs(tmp_path):
    env = _env(tmp_path)
    out = _report("--run-id", "manual__typo", env=env)
    assert out.returncode == 1
    assert "Unknown run id 'manual__typo'" in out.stderr and "--list" in out.stderr, out.stderr
    assert "Run summary" not in out.stdout
    listed = _report("--list", env=env)
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["manual__newest", "manual__older"]


def test_make_report_prints_the_last_run_from_the_warehouse_make_run_uses(tmp_path):
    """``make report`` finds the warehouse by itself: scripts/env.sh's, in the Airflow home ``make run`` uses."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    _warehouse_with_runs(home / "ghl_pleo.db")  # where scripts/env.sh puts the warehouse of `make run`
    env = {k: v for k, v in os.environ.items() if k not in ("AIRFLOW_CONN_GHL_PLEO_DB", "PYTHONPATH")}
    env["AIRFLOW_HOME"] = str(home)
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "report"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Run summary for {DAG_ID} manual__newest" in out.stdout
    [line] = [x for x in out.stdout.splitlines() if x.startswith("L1 ")]
    assert line.split()[:3] == ["L1", "success", "7"]
