"""``make bench``: the tags sync at agency scale, through a real Airflow, against the sandbox's real limits.

Starts a sandbox (L locations x T tags, GHL burst limit per location, a Pleo
rate) and an Airflow (api-server, scheduler with LocalExecutor, dag-processor),
then runs ``ghl_pleo_tags_sync`` three times through the REST API: a full first
sync, a no-change re-sync and a sync after 1% of the tags changed. After each,
the naive baseline (one location after another, every tag and value re-pushed)
runs the same phase against a second sandbox with the same data and limits.
Then the memory phase: one location with 10,000 tags (``--memory-tags
10000,100000`` adds the 100,000-tag run). Finally the parse time of each DAG file.
Defaults (10 locations x 100 tags) take about 8 minutes on 2 cores.

Per phase it also measures what the run cost Airflow (``bench/measure.py``): the
CPU-seconds of the scheduler, its executor workers and task processes, the
dag-processor and the api-server (not the sandbox's), CPU ms per location, the
task instances and XCom rows the run left in the metadata DB, and each task's
peak RSS. ``--fast-setup`` reaches agency size (``--locations 500``): the first
full sync runs with the Pleo rate lifted (in the sandbox and the client) and is
reported as ``setup``, not measured against the limits; then the sandbox's rate
is set back (``PUT /_admin/config``), Airflow restarts with the measured limits
and only the no-change and 1% phases are measured.

Prints a table and writes everything as JSON (``--out``). Flags scale it up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bench.cli import parse_args  # noqa: E402
from bench.extras import memory_phase, parse_times  # noqa: E402
from bench.measure import StackMeter, idle_cpu  # noqa: E402
from bench.phases import (  # noqa: E402
    DAG_ID,
    airflow_env,
    airflow_phase,
    change_tags,
    connections,
    log,
    minimum_requests,
    naive_phase,
)
from bench.report import print_table  # noqa: E402
from bench.stack import AirflowStack  # noqa: E402
from tests.sandbox_client import Sandbox  # noqa: E402

UNLIMITED_RPS = 100_000.0  # the client's Pleo rate while --fast-setup's first sync runs (the sandbox: 0, none)


class Bench:
    """The sandbox, the Airflow stack on it (restartable with other limits) and the meter on that stack."""

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        self.workdir, self.args = workdir, args
        self.warehouse_url = f"sqlite:///{workdir / 'warehouse.db'}"
        config = {
            "locations": args.locations,
            "min_tags": args.tags,
            "max_tags": args.tags,
            "pleo_rps": args.pleo_rps,
            "ghl_burst_limit": args.burst_limit,
            "ghl_burst_window_s": args.burst_window,
            "exchange_log": 0,
        }
        if args.detail != "full":  # every process (Airflow's, the tasks', the minimum's count) reads this mapping
            mapping = workdir / "mapping.yaml"
            text = (ROOT / "include" / "mapping.yaml").read_text()
            mapping.write_text(text.replace("detail_level: full", f"detail_level: {args.detail}"))
            os.environ["GHL_PLEO_MAPPING_FILE"] = str(mapping)
        (workdir / "a").mkdir()
        self.box = Sandbox(workdir / "a", config=config, persist=False)
        self.naive_box = None
        if not args.no_baseline:
            (workdir / "b").mkdir()
            self.naive_box = Sandbox(workdir / "b", config=config, persist=False)
        self.stack: AirflowStack | None = None
        self.meter: StackMeter | None = None

    def start_airflow(
        self, pleo_rps: float, shared: bool = True, code: Path = ROOT, extra: dict[str, str] | None = None
    ) -> None:
        """(Re)start Airflow in the same home with the client's Pleo rate ``pleo_rps``; the sandbox's follows
        (0, none, when lifted). ``code``: the checkout whose DAGs and plugins Airflow runs."""
        self.stop_airflow()
        a = self.args
        self.box.configure(pleo_rps=0 if pleo_rps == UNLIMITED_RPS else pleo_rps)
        env = airflow_env(
            self.box,
            self.warehouse_url,
            a.parallel,
            pleo_rps,
            shared=shared,
            burst_limit=a.burst_limit,
            burst_window=a.burst_window,
            rate_headroom=a.pleo_headroom,
        )
        if code != ROOT:
            env |= {
                "AIRFLOW__CORE__DAGS_FOLDER": str(code / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(code / "plugins"),
                "PYTHONPATH": f"{code / 'plugins'}:{code}",
            }
        self.stack = AirflowStack(self.workdir / "airflow", env | (extra or {}), parallelism=a.parallel + 2)
        self.stack.start()
        self.stack.wait_for_dag(DAG_ID)
        self.stack.unpause(DAG_ID)
        self.meter = StackMeter(self.stack.pids())

    def stop_airflow(self) -> None:
        if self.meter:
            self.meter.stop()
        if self.stack:
            self.stack.stop()
        self.stack = self.meter = None

    def stop(self) -> None:
        self.stop_airflow()
        self.box.stop()
        if self.naive_box:
            self.naive_box.stop()

    def naive_env(self) -> dict[str, str]:
        a = self.args
        return {
            **os.environ,
            **connections(
                self.naive_box, a.pleo_rps, shared=False, burst_limit=a.burst_limit, burst_window=a.burst_window
            ),
            "AIRFLOW_HOME": str(self.workdir / "naive-home"),
            "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        }


def run_phase(bench: Bench, phase: str, changed: dict[str, int]) -> dict:
    args = bench.args
    minimum = minimum_requests(bench.box, phase, changed, dims=4)
    log(f"phase {phase}: Airflow run ...")
    result = airflow_phase(bench.stack, bench.box, bench.warehouse_url, args, bench.meter)
    result["minimum_requests"] = minimum
    result["changed_tags"] = sum(changed.values()) if phase == "one_percent" else 0
    cpu = result["cpu"]
    log(
        f"phase {phase}: {result['state']} in {result['wall_s']} s (floor {result['floor_s']} s); requests GHL "
        f"{result['ghl_requests']} Pleo {result['pleo_requests']} (minimum {minimum['total']}); Pleo writes "
        f"{result['pleo_writes']}; CPU {cpu['total_s']} s ({cpu['ms_per_location']} ms/location); TIs "
        f"{result['task_instances']}, XCom rows {result['xcom_rows']}; peak RSS {result['peak_rss_mb']} MB"
    )
    return result


def run_phases(bench: Bench, results: dict) -> None:
    args = bench.args
    phases = ["full", "no_change", "one_percent"]
    if args.fast_setup:
        log("setup: the first full sync with the Pleo rate lifted (not measured against the limits)")
        bench.start_airflow(UNLIMITED_RPS, shared=False)
        results["setup"] = {**run_phase(bench, "full", {}), "limits_lifted": True}
        phases.remove("full")
    log(
        f"Airflow (LocalExecutor, {args.parallel} parallel) on the sandbox: {args.locations} locations x "
        f"{args.tags} tags, burst {args.burst_limit}/{args.burst_window:g}s, Pleo {args.pleo_rps:g} req/s"
    )
    bench.start_airflow(args.pleo_rps)
    if args.fast_setup:
        warm_up(bench)
    if args.idle_seconds > 0:
        results["idle_cpu_per_s"] = idle_cpu(bench.meter, args.idle_seconds)
        log(f"idle stack: {results['idle_cpu_per_s']} CPU-s per s")
    locations = [loc["id"] for loc in bench.box.locations()]
    changed: dict[str, int] = {}
    for phase in phases:
        if phase == "one_percent":
            changed = change_tags([b for b in (bench.box, bench.naive_box) if b], args.change)
            log(f"changed {sum(changed.values())} tags ({args.change:.0%} per location)")
        results["phases"][phase] = run_phase(bench, phase, changed)
        if bench.naive_box:
            log(f"phase {phase}: naive baseline ...")
            base = naive_phase(bench.naive_box, bench.naive_env(), locations, args)
            results["baseline"][phase] = base
            log(f"phase {phase}: naive {base['wall_s']} s, Pleo writes {base['pleo_writes']}")
    for n in [int(v) for v in args.sweep_batch.split(",") if v.strip()]:
        log(f"sweep: GHL_PLEO_LOCATIONS_PER_TASK={n}, Airflow restarted")
        bench.start_airflow(args.pleo_rps, extra={"GHL_PLEO_LOCATIONS_PER_TASK": str(n)})
        warm_up(bench)
        results["phases"][f"no_change@{n}"] = run_phase(bench, "no_change", {})
    if args.before_root:
        run_before(bench, results)


def warm_up(bench: Bench) -> None:
    """The restarted stack is cold (the api-server's first requests cost it seconds of CPU); an hourly run
    meets a warm one: a no-change run of one location first, not measured."""
    first = bench.box.locations()[0]["id"]
    bench.stack.wait_for_run(DAG_ID, bench.stack.trigger(DAG_ID, {"locations": [first]}))
    log("warm-up: a one-location run on the restarted Airflow (not measured)")


def run_before(bench: Bench, results: dict) -> None:
    """The same no-change and 1% phases on the older checkout, over the same sandbox and warehouse: before and
    after measured on the same data, one setup for both."""
    code = Path(bench.args.before_root).resolve()
    log(f"before: Airflow restarted on {code}")
    bench.start_airflow(bench.args.pleo_rps, code=code)
    warm_up(bench)
    results["phases"]["before:no_change"] = run_phase(bench, "no_change", {})
    changed = change_tags([bench.box], bench.args.change, stamp="2026-11-21T10:00:00.000Z")
    log(f"before: changed {sum(changed.values())} tags ({bench.args.change:.0%} per location)")
    results["phases"]["before:one_percent"] = run_phase(bench, "one_percent", changed)


def main() -> None:
    args = parse_args(__doc__)
    workdir = Path(tempfile.mkdtemp(prefix="ghl-pleo-bench-"))
    log(f"work dir {workdir}")
    results: dict = {
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": {"cpus": os.cpu_count()},
        "phases": {},
        "baseline": {},
    }
    bench = Bench(workdir, args)
    try:
        run_phases(bench, results)
    finally:
        bench.stop()
    sizes = [int(s) for s in args.memory_tags.split(",") if s.strip()]
    if sizes:
        log(f"memory phase: one location with {sizes} tags")
        results["memory"] = memory_phase(workdir, sizes, args.parallel)
    if args.parse_repeat > 0:
        log("parse time of the DAG files")
        results["parse"] = parse_times(args.parse_repeat)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print_table(results)
    log(f"results written to {out}")


if __name__ == "__main__":
    main()
