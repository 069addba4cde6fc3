"""The agency-scale path through a real Airflow: scheduler + LocalExecutor + api-server, runs made over the REST API.

Runs the benchmark harness (``bench/run.py``) small: three locations in parallel
against the sandbox's real burst limit and a Pleo rate, a full sync, a no-change
re-sync and a 1% change. Asserts what a user of the
numbers would check: the requests made equal the minimum, a no-change run writes
nothing, the 1% run writes one tag per changed tag, and Pleo's rate was never
overrun. (Timing figures and the naive baseline are ``make bench``'s; they are not asserted.)
The bench smoke runs it the agency-size way (``--fast-setup``) and checks what it
counts: the minimum requests, no writes when nothing changed, the task instances,
XCom rows, CPU and peak RSS of each run; never timings.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run_bench(out, *args: str) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            *args,
            "--memory-tags",
            "",
            "--no-baseline",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_three_locations_in_parallel_make_exactly_the_minimum_requests(tmp_path):
    # The client keeps 30% of Pleo's rate free, not the default 5%: on a busy 2-core machine a request can leave
    # (or the sandbox can handle it) over 50 ms after its slot, so 5% would let a late request and an on-time one
    # land in the same second of the sandbox's window and be refused. The test is of the requests made, not of
    # the headroom, which the rate-limit tests cover.
    r = run_bench(
        tmp_path / "bench.json",
        *("--locations", "3", "--tags", "120", "--pleo-rps", "150", "--pleo-headroom", "0.3", "--parse-repeat", "3"),
    )
    phases = r["phases"]
    for name, p in phases.items():
        assert p["state"] == "success" and p["locations_ok"] == 3, name
        # Messages as text: pytest shortens a dict in a message, and the request counts are the diagnosis.
        said = f"{name}: {json.dumps(p['requests'])}"
        assert p["retries"] == 0, f"an HTTP retry (a 429 or an error: the limits were overrun) in {said}"
        assert p["ghl_requests"] + p["pleo_requests"] == p["minimum_requests"]["total"], said
        assert p["task_retries"] == 0, (name, "a task failed once and was retried by Airflow; see its log")
        assert p["task_instances"] >= 4 and 0 < p["xcom_rows"] <= p["task_instances"], name
    full, same, pct = phases["full"], phases["no_change"], phases["one_percent"]
    assert full["tag_writes"] > 300 and full["value_writes"] == 4 * full["tag_writes"]
    assert same["pleo_writes"] == 0 and same["detail_calls"] == 0
    assert pct["changed_tags"] == 3 and pct["tag_writes"] == 3 and pct["value_writes"] == 3
    assert pct["detail_calls"] == 3  # one detail batch per location with a changed tag
    assert all(p["peak_rss_mb"] for p in phases.values())
    for dag_file in ("ghl_pleo_tags_sync.py", "ghl_pleo_statistics_sync.py"):
        assert r["parse"][dag_file]["added_s"] < 1.0, r["parse"]


def test_bench_smoke_at_agency_size_setup_counts_what_each_run_cost_airflow(tmp_path):
    """``--fast-setup``: the first sync with Pleo's rate lifted, then the measured limits; each measured run
    makes the minimum requests, writes nothing when nothing changed, and its cost is counted."""
    r = run_bench(
        tmp_path / "smoke.json",
        "--locations",
        "2",
        "--tags",
        "20",
        "--fast-setup",
        "--parse-repeat",
        "0",
        "--idle-seconds",
        "2",
    )
    setup, phases = r["setup"], r["phases"]
    assert set(phases) == {"no_change", "one_percent"}, "the full phase is the unmeasured setup"
    assert setup["limits_lifted"] and setup["tag_writes"] > 30 and setup["value_writes"] == 4 * setup["tag_writes"]
    for name, p in {"setup": setup, **phases}.items():
        assert p["state"] == "success" and p["locations_ok"] == 2, name
        assert p["ghl_requests"] + p["pleo_requests"] == p["minimum_requests"]["total"], (name, p["requests"])
        # Counted from the metadata DB and the process tree, whatever the DAG's task ids (one per location or
        # one per batch): every task left a task instance, the sync's tasks used CPU and had a peak RSS.
        assert p["task_instances"] == sum(p["task_instances_by_task"].values()) >= 4, (name, p)
        assert any(t.startswith("sync_location") for t in p["task_instances_by_task"]), name
        assert 0 < p["xcom_rows"] <= p["task_instances"], (name, p["xcom_rows_by_task"])
        assert p["cpu"]["executor_and_tasks_s"] > 0 and p["cpu"]["total_s"] >= p["cpu"]["executor_and_tasks_s"]
        assert p["cpu"]["ms_per_location"] > 0, name
        # Peak RSS: each sync task reports its own (VmHWM, in the ledger); the bench's sampler may miss a task
        # that ends between two samples, but what it did see is a whole Airflow task process, not a stray one.
        assert p["peak_rss_mb"] > 50, (name, p["peak_rss_mb"])
        assert all(mb > 50 for mb in p["task_peak_rss_mb"].values()), (name, p["task_peak_rss_mb"])
    assert phases["no_change"]["pleo_writes"] == 0 and phases["no_change"]["detail_calls"] == 0
    assert phases["one_percent"]["changed_tags"] == 2 and phases["one_percent"]["tag_writes"] == 2
