"""The agency-scale path through a real Airflow: scheduler + LocalExecutor + api-server, runs made over the REST API.

Runs the benchmark harness (``bench/run.py``) small: three locations in parallel
against the sandbox's real burst limit and a Pleo rate, a full sync, a no-change
re-sync and a 1% change. Asserts what a user of the
numbers would check: the requests made equal the minimum, a no-change run writes
nothing, the 1% run writes one tag per changed tag, and Pleo's rate was never
overrun. (Timing figures and the naive baseline are ``make bench``'s; they are not asserted.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_three_locations_in_parallel_make_exactly_the_minimum_requests(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--locations",
            "3",
            "--tags",
            "120",
            "--pleo-rps",
            "150",
            "--memory-tags",
            "",
            "--no-baseline",
            "--parse-repeat",
            "3",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    phases = r["phases"]
    for name, p in phases.items():
        assert p["state"] == "success" and p["locations_ok"] == 3, name
        assert p["ghl_requests"] + p["pleo_requests"] == p["minimum_requests"]["total"], (name, p["requests"])
        assert p["retries"] == 0, (name, "an HTTP retry means a 429 or an error: the limits were overrun")
        assert p["task_retries"] == 0, (name, "a task failed once and was retried by Airflow; see its log")
    full, same, pct = phases["full"], phases["no_change"], phases["one_percent"]
    assert full["tag_writes"] > 300 and full["value_writes"] == 4 * full["tag_writes"]
    assert same["pleo_writes"] == 0 and same["detail_calls"] == 0
    assert pct["changed_tags"] == 3 and pct["tag_writes"] == 3 and pct["value_writes"] == 3
    assert pct["detail_calls"] == 3  # one detail batch per location with a changed tag
    assert all(p["peak_rss_mb"] for p in phases.values())
    for dag_file in ("ghl_pleo_tags_sync.py", "ghl_pleo_statistics_sync.py"):
        assert r["parse"][dag_file]["added_s"] < 1.0, r["parse"]
