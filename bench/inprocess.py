"""One location's tags sync in-process (no Airflow): a full sync, then a no-change re-sync, per size.

``python -m bench.inprocess --tags 2000,10000,100000``: for each size, a sandbox with one location of N tags (its
Pleo rate and GHL burst limit lifted, so the full sync is quick) and a SQLite warehouse; then each phase in a fresh
Python process (its memory is its own, as a task's is) running ``sync_location_tags`` with the real hooks through
the flow-test harness (``tests/flows/harness.py``), as a batch task syncs it (``run_batch``: the batch's one GX
validation; the Data Docs site is built once per run by ``summarize``, so not here). Measured per phase: wall
seconds, CPU seconds of that process (the sandbox's are not counted), the planning (``load_tags`` and
``load_dimensions`` less their writes: Pleo's reads, the plan of the tags and of the dimension values) in ms per
tag, and peak RSS (from the batch's start, as ``make bench`` reports it per batch). Then peak RSS growth from
10,000 to 100,000. Imports (Airflow's hooks, Great Expectations) are paid before the clock starts: "no Airflow
start-up".

``--detail`` sets the mapping's ``detail_level`` for every size; by default sizes up to ``--full-detail-max`` use
``full`` (four dimension values per tag: a full sync writes five times per tag) and larger ones ``basic`` (tags
only, as ``make bench``'s memory phase). ``--alone`` syncs the location outside a batch, as the flow tests do (GX
then writes Data Docs in the location's path, as every location did before batches). ``--profile DIR`` writes a
cProfile of each phase; ``--persist`` has the sandbox save its state to a file, as ``make sandbox``'s does. Prints a
table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
OUT = ROOT / "bench" / "results" / "inprocess.json"
PHASES = ("full", "no_change")
UNLIMITED = 10**9


def log(msg: str) -> None:
    print(f"[inprocess {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Timer:
    """Wall and main-thread CPU seconds spent inside wrapped functions (outermost calls only)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.depth = 0

    @contextmanager
    def timing(self):
        self.depth += 1
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.wall += time.perf_counter() - wall
                self.cpu += time.thread_time() - cpu

    def wrap(self, fn):
        def wrapped(*args, **kwargs):
            with self.timing():
                return fn(*args, **kwargs)

        return wrapped


def planning_timers() -> tuple[Timer, Timer]:
    """Timers around ``load_tags`` + ``load_dimensions`` and around their writes (``run_bounded``)."""
    from ghl_pleo.flows import tag_load
    from ghl_pleo.flows import tags as flow

    load, writes = Timer(), Timer()
    flow.load_tags = load.wrap(tag_load.load_tags)
    flow.load_dimensions = load.wrap(tag_load.load_dimensions)
    tag_load.run_bounded = writes.wrap(tag_load.run_bounded)
    return load, writes


class StepPeaks:
    """Peak RSS (MB) seen in each step of the flow: a thread samples ``/proc/self/statm`` every 20 ms while the
    wrapped steps name what is running."""

    STEPS = ("extract", "prepare_tags", "validate", "refresh_details", "load_tags", "load_dimensions")

    def __init__(self) -> None:
        self.step = "other"
        self.peaks: dict[str, float] = {}
        self.stop = threading.Event()
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(0.02):
            with open("/proc/self/statm", encoding="ascii") as fh:
                rss = int(fh.read().split()[1]) * self.page_mb
            self.peaks[self.step] = max(self.peaks.get(self.step, 0.0), round(rss, 1))

    def wrap(self, name: str, fn):
        def wrapped(*args, **kwargs):
            outer, self.step = self.step, name
            try:
                return fn(*args, **kwargs)
            finally:
                self.step = outer

        return wrapped

    def install(self) -> None:
        from ghl_pleo.flows import tags as flow

        for name in self.STEPS:
            setattr(flow, name, self.wrap(name, getattr(flow, name)))
        self.thread.start()


class _Box:
    """What the harness needs of a sandbox started by the parent process: its connections."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env

    def apply_env(self, monkeypatch, _locations=None) -> None:
        for key, value in self._env.items():
            monkeypatch.setenv(key, value)


def run_phase(phase: str, home: Path, env: dict[str, str], profile: Path | None) -> dict:
    """In a fresh process: one tags run of the sandbox's location; its figures."""
    import cProfile

    import great_expectations  # noqa: F401 - imported before the clock, as a warm task process would have it
    import pytest

    from ghl_pleo import memory
    from tests.flows.harness import FlowRunner

    load, writes = planning_timers()
    steps = StepPeaks()
    steps.install()
    mp = pytest.MonkeyPatch()
    try:
        runner = FlowRunner(_Box(env), home, mp, json.loads(env["AIRFLOW_VAR_GHL_LOCATION_IDS"]))
        runner.runs = PHASES.index(phase)  # run ids flow__001, flow__002 across the two processes
        prof = cProfile.Profile() if profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        # as a batch task syncs it (its GX validation, no Data Docs), or --alone (GX with Data Docs written)
        result = runner.tags(batched=env.get("BENCH_ALONE") != "1")
        if prof:
            prof.disable()
            prof.dump_stats(str(profile / f"{home.name}-{phase}.prof"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        steps.stop.set()
        mp.undo()
    if result.errors:
        raise RuntimeError(f"{phase}: {result.errors}")
    (counts,) = result.results.values()
    n = max(1, counts["read"])
    planning = load.wall - writes.wall
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "planning_s": round(planning, 3),
        "planning_cpu_s": round(load.cpu - writes.cpu, 3),
        "planning_ms_per_tag": round(1000 * planning / n, 4),
        "planning_cpu_ms_per_tag": round(1000 * (load.cpu - writes.cpu) / n, 4),
        "writes_s": round(writes.wall, 2),
        "read": counts["read"],
        "created": counts["created"],
        "unchanged": counts["unchanged"],
        "values_written": counts.get("values_written", 0),
        "start_rss_mb": counts["start_rss_mb"],
        "peak_rss_mb": memory.peak_rss_mb(),  # from the batch's start (run_batch resets it), as make bench reports it
        "peak_rss_by_step_mb": steps.peaks,
    }


def mapping_file(home: Path, detail: str) -> Path:
    path = home / f"mapping-{detail}.yaml"
    text = (ROOT / "include" / "mapping.yaml").read_text()
    path.write_text(text.replace("detail_level: full", f"detail_level: {detail}"))
    return path


def one_size(
    n: int, detail: str, workdir: Path, profile: str | None, persist: bool = False, alone: bool = False
) -> dict:
    """A sandbox with one location of ``n`` tags; the full sync and the re-sync, each in its own process."""
    from tests.sandbox_client import Sandbox, warehouse_env

    home = workdir / f"tags-{n}"
    home.mkdir(parents=True)
    box = Sandbox(
        home,
        config={"locations": 1, "min_tags": n, "max_tags": n, "pleo_rps": 0, "ghl_burst_limit": UNLIMITED},
        persist=persist,
    )
    try:
        box.configure(exchange_log=0)
        env = {
            **box.env(
                [loc["id"] for loc in box.locations()],
                ghl_extra={"burst_limit": UNLIMITED},
                max_requests_per_second=UNLIMITED,
                shared_rate=False,
            ),
            **warehouse_env(f"sqlite:///{home / 'warehouse.db'}"),
            "GHL_PLEO_MAPPING_FILE": str(mapping_file(home, detail)),
            "BENCH_ALONE": "1" if alone else "0",
        }
        out: dict = {"tags": n, "detail_level": detail, "path": "alone" if alone else "batch"}
        for phase in PHASES:
            cmd = [sys.executable, "-m", "bench.inprocess", "--phase", phase, "--home", str(home)]
            cmd += ["--env", json.dumps(env)] + (["--profile", profile] if profile else [])
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=child_env())
            if proc.returncode:
                raise RuntimeError(f"{n} tags, {phase} failed:\n{proc.stderr[-4000:]}")
            out[phase] = json.loads(proc.stdout.strip().splitlines()[-1])
            log(f"{n} tags, {phase}: {out[phase]}")
        return out
    finally:
        box.stop()


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}


def growth(sizes: dict[str, dict], low: str = "10000", high: str = "100000") -> dict | None:
    if low not in sizes or high not in sizes:
        return None
    return {
        phase: round(sizes[high][phase]["peak_rss_mb"] - sizes[low][phase]["peak_rss_mb"], 1)
        for phase in PHASES
        if sizes[high]["detail_level"] == sizes[low]["detail_level"]
    }


def print_table(results: dict) -> None:
    print(
        f"{'tags':>7} {'detail':<6} {'phase':<10} {'wall s':>8} {'CPU s':>7} {'plan ms/tag':>11} "
        f"{'plan CPU ms/tag':>15} {'peak MB':>8}"
    )
    for n, size in results["sizes"].items():
        for phase in PHASES:
            p = size[phase]
            print(
                f"{int(n):>7} {size['detail_level']:<6} {phase:<10} {p['wall_s']:>8} {p['cpu_s']:>7} "
                f"{p['planning_ms_per_tag']:>11} {p.get('planning_cpu_ms_per_tag', ''):>15} {p['peak_rss_mb']:>8}"
            )
    if results.get("peak_rss_growth_10k_100k_mb"):
        print(f"peak RSS growth 10,000 -> 100,000 tags (MB): {results['peak_rss_growth_10k_100k_mb']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", default="2000,10000,100000", help="comma list of one-location sizes")
    parser.add_argument("--detail", choices=("full", "basic"), help="detail_level for every size")
    parser.add_argument("--full-detail-max", type=int, default=2000, help="largest size run with detail_level full")
    parser.add_argument("--profile", help="directory for a cProfile of each phase")
    parser.add_argument(
        "--alone", action="store_true", help="sync the location alone (Data Docs written in the location's path)"
    )
    parser.add_argument("--persist", action="store_true", help="the sandbox saves its state to a file (make sandbox)")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        profile = Path(args.profile) if args.profile else None
        print(json.dumps(run_phase(args.phase, Path(args.home), json.loads(args.env), profile)))
        return
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ghl-pleo-inprocess-"))
    log(f"work dir {workdir}")
    sizes = {}
    for n in (int(s) for s in args.tags.split(",") if s.strip()):
        detail = args.detail or ("full" if n <= args.full_detail_max else "basic")
        sizes[str(n)] = one_size(n, detail, workdir, args.profile, args.persist, args.alone)
    results = {"machine": {"cpus": os.cpu_count()}, "sizes": sizes, "peak_rss_growth_10k_100k_mb": growth(sizes)}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    log(f"results written to {args.out}")


if __name__ == "__main__":
    main()
