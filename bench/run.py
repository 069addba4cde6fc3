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

Prints a table and writes everything as JSON (``--out``). Flags scale it up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bench.stack import AirflowStack  # noqa: E402
from tests.sandbox_client import Sandbox, warehouse_env  # noqa: E402

DAG_ID = "ghl_pleo_tags_sync"
TAG_WRITES = ("Pleo POST /v0/tag-groups/{groupId}/tags", "Pleo PUT /v0/tags/{tagId}")
VALUE_WRITES = (
    "Pleo POST /v0/tags/{tagId}/dimensions/{dimensionId}",
    "Pleo PUT /v0/tags/{tagId}/dimensions/{dimensionId}",
)
GROUP_WRITES = ("Pleo POST /v0/tag-groups", "Pleo PUT /v0/tag-groups/{groupId}")
DIMENSION_CREATES = ("Pleo POST /v0/tag-groups/{groupId}/dimensions",)
DETAILS = "GHL POST /social-media-posting/{locationId}/tags/details"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def connections(
    box: Sandbox,
    pleo_rps: float,
    *,
    shared: bool = True,
    burst_limit: int = 100,
    burst_window: float = 10.0,
    locations: list[str] | None = None,
) -> dict[str, str]:
    return box.env(
        locations,
        ghl_extra={"burst_limit": burst_limit, "burst_window_s": burst_window, "burst_margin_s": 0.05},
        max_requests_per_second=pleo_rps,
        shared_rate=shared,
    )


def airflow_env(box: Sandbox, warehouse_url: str, parallel: int, pleo_rps: float, **limits) -> dict[str, str]:
    """Everything the benchmark's Airflow and its tasks need: connections, the locations, manual runs only."""
    return {
        **connections(box, pleo_rps, locations=[loc["id"] for loc in box.locations()], **limits),
        **warehouse_env(warehouse_url),
        "GHL_PLEO_TAGS_SCHEDULE": "none",
        "GHL_PLEO_RETRY_DELAY_S": "5",
        "GHL_PLEO_MAX_PARALLEL_LOCATIONS": str(parallel),
    }


def counts_of(traffic: dict, keys: tuple[str, ...]) -> int:
    return sum(traffic["requests"].get(k, 0) for k in keys)


def floor_s(traffic: dict, burst_limit: int, burst_window: float, pleo_rps: float) -> dict:
    """The least time the limits allow for these requests: GHL per location, Pleo overall."""
    ghl = max((((n - 1) // burst_limit) * burst_window for n in traffic["by_location"].values() if n > 0), default=0.0)
    pleo_n = sum(v for k, v in traffic["requests"].items() if k.startswith("Pleo "))
    pleo = (pleo_n - 1) / pleo_rps if pleo_n > 0 and pleo_rps > 0 else 0.0
    return {"ghl_s": round(ghl, 2), "pleo_s": round(pleo, 2), "floor_s": round(max(ghl, pleo), 2)}


def summarize_traffic(traffic: dict) -> dict:
    req = traffic["requests"]
    span = traffic.get("span") or {}
    starts = [v[0] for v in span.values()]
    ends = [v[1] for v in span.values()]
    return {
        "requests": dict(sorted(req.items())),
        "ghl_requests": sum(v for k, v in req.items() if k.startswith("GHL ")),
        "pleo_requests": sum(v for k, v in req.items() if k.startswith("Pleo ")),
        "pleo_writes": counts_of(traffic, TAG_WRITES + VALUE_WRITES + GROUP_WRITES + DIMENSION_CREATES),
        "tag_writes": counts_of(traffic, TAG_WRITES),
        "value_writes": counts_of(traffic, VALUE_WRITES),
        "detail_calls": req.get(DETAILS, 0),
        "api_span_s": round(max(ends) - min(starts), 2) if starts else 0.0,
    }


def minimum_requests(box: Sandbox, phase: str, changed: dict[str, int], dims: int) -> dict:
    """The fewest requests the phase needs, from the sandbox's GHL data and the mapping's rules."""
    import pandas as pd

    from ghl_pleo.config import load_mapping
    from ghl_pleo.transform import dimension_values, prepare_tags

    config = load_mapping()
    ghl = pleo = 0
    for loc in box.locations():
        tags = box.ghl_tags(loc["id"])
        frame = pd.DataFrame(
            [
                {"location_id": loc["id"], "page_no": 1 + i // 100, "position": i % 100, "payload": t}
                for i, t in enumerate(tags)
            ],
            columns=["location_id", "page_no", "position", "payload"],
        )
        prepared = prepare_tags(frame, config)
        details = pd.DataFrame([{"tag_id": t["_id"], "payload": t} for t in tags], columns=["tag_id", "payload"])
        valid, active = len(prepared.tags), int((~prepared.tags["archived"]).sum())
        values = len(dimension_values(prepared.tags, details, config))
        pages = max(1, math.ceil(len(tags) / 100))
        held_pages = max(1, math.ceil(active / 100))
        if phase == "full":
            ghl += 1 + pages + math.ceil(valid / 100)
            # its task's group listing (under the lease, after its GHL read; one page while the company has fewer
            # groups than a page holds), group create, tag page, dimension list, creates, values
            pleo += 1 + 1 + 1 + 1 + dims + active + values
        elif phase == "no_change":
            ghl += 1 + pages
            pleo += held_pages + 1 + math.ceil(active / 100)  # tag pages, dimension list, aggregation reads
        else:
            c = changed.get(loc["id"], 0)
            ghl += 1 + pages + math.ceil(c / 100)
            pleo += held_pages + 1 + math.ceil(active / 100) + 2 * c  # + a rename and an updatedAt value each
    return {"ghl": ghl, "pleo": pleo + 1, "total": ghl + pleo + 1}  # + the one group listing


def change_tags(boxes: list[Sandbox], share: float) -> dict[str, int]:
    """Rename ``share`` of each location's live tags, identically in every sandbox."""
    changed: dict[str, int] = {}
    for loc in boxes[0].locations():
        tags = [t for t in boxes[0].ghl_tags(loc["id"])[10:] if not t.get("deleted")]
        n = max(1, round(len(tags) * share))
        step = max(1, len(tags) // n)
        picked = tags[::step][:n]
        for box in boxes:
            for t in picked:
                box.edit_tag(loc["id"], t["_id"], tag=f"{t['tag']} (renamed)", updatedAt="2026-11-20T10:00:00.000Z")
        changed[loc["id"]] = len(picked)
    return changed


def _iso(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def airflow_phase(stack: AirflowStack, box: Sandbox, warehouse_url: str, args, conf: dict | None = None) -> dict:
    from ghl_pleo.warehouse import Warehouse

    box.clear_requests()
    run_id = stack.trigger(DAG_ID, conf)
    run = stack.wait_for_run(DAG_ID, run_id)
    traffic = box.traffic()
    ledger = Warehouse(warehouse_url).ledger.location_runs(DAG_ID, run_id)
    tis = stack.task_instances(DAG_ID, run_id)
    syncs = [ti for ti in tis if ti["task_id"] == "sync_location"]
    sync_start = min((_iso(ti["start_date"]) for ti in syncs if ti.get("start_date")), default=None)
    sync_end = max((_iso(ti["end_date"]) for ti in syncs if ti.get("end_date")), default=None)
    out = {
        "state": run["state"],
        "run_id": run_id,
        "wall_s": round(_iso(run["end_date"]) - _iso(run["start_date"]), 2),
        "sync_tasks_s": round(sync_end - sync_start, 2) if sync_start and sync_end else None,
        **summarize_traffic(traffic),
        **floor_s(traffic, args.burst_limit, args.burst_window, args.pleo_rps),
        "peak_rss_mb": max((r["counts"].get("peak_rss_mb") or 0 for r in ledger), default=None),
        "locations_ok": sum(1 for r in ledger if r["status"] == "success"),
        "task_retries": sum(max(0, (ti.get("try_number") or 1) - 1) for ti in tis),
        "retries": sum((r["requests"].get(api) or {}).get("retries", 0) for r in ledger for api in ("ghl", "pleo")),
        "min_ratelimit_remaining": min(
            (
                (r["requests"].get("ghl") or {}).get("min_ratelimit_remaining")
                for r in ledger
                if (r["requests"].get("ghl") or {}).get("min_ratelimit_remaining") is not None
            ),
            default=None,
        ),
    }
    out["wall_over_floor"] = round(out["wall_s"] / out["floor_s"], 2) if out["floor_s"] else None
    out["span_over_floor"] = round(out["api_span_s"] / out["floor_s"], 2) if out["floor_s"] else None
    return out


def naive_phase(box: Sandbox, env: dict[str, str], locations: list[str], args) -> dict:
    box.clear_requests()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.naive", json.dumps(locations)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"naive baseline failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    traffic = box.traffic()
    out = {
        "wall_s": result["wall_s"],
        "peak_rss_mb": result["peak_rss_mb"],
        **summarize_traffic(traffic),
        **floor_s(traffic, args.burst_limit, args.burst_window, args.pleo_rps),
    }
    out["wall_over_floor"] = round(out["wall_s"] / out["floor_s"], 2) if out["floor_s"] else None
    return out


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locations", type=int, default=10)
    parser.add_argument("--tags", type=int, default=100, help="tags per location")
    parser.add_argument("--parallel", type=int, default=8, help="locations synced at once (LocalExecutor slots)")
    parser.add_argument("--pleo-rps", type=float, default=100.0, help="the Pleo rate (sandbox and client)")
    parser.add_argument("--burst-limit", type=int, default=100, help="GHL requests per window per location")
    parser.add_argument("--burst-window", type=float, default=10.0, help="GHL burst window, seconds")
    parser.add_argument("--change", type=float, default=0.01, help="share of tags changed in the third phase")
    parser.add_argument(
        "--memory-tags",
        default="10000",
        help="comma list of one-location sizes, e.g. 10000,100000 (the 100,000 run takes ~7 min); '' skips",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument("--parse-repeat", type=int, default=7, help="fresh interpreters per DAG file for parse time")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ghl-pleo-bench-"))
    log(f"work dir {workdir}")
    results: dict = {
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": {"cpus": os.cpu_count()},
        "phases": {},
        "baseline": {},
    }
    sandbox_config = {
        "locations": args.locations,
        "min_tags": args.tags,
        "max_tags": args.tags,
        "pleo_rps": args.pleo_rps,
        "ghl_burst_limit": args.burst_limit,
        "ghl_burst_window_s": args.burst_window,
        "exchange_log": 0,
    }
    (workdir / "a").mkdir()
    (workdir / "b").mkdir()
    box = Sandbox(workdir / "a", config=sandbox_config, persist=False)
    naive_box = None if args.no_baseline else Sandbox(workdir / "b", config=sandbox_config, persist=False)
    stack = None
    try:
        locations = [loc["id"] for loc in box.locations()]
        warehouse_url = f"sqlite:///{workdir / 'warehouse.db'}"
        env = airflow_env(
            box,
            warehouse_url,
            args.parallel,
            args.pleo_rps,
            burst_limit=args.burst_limit,
            burst_window=args.burst_window,
        )
        naive_env = None
        if naive_box:
            naive_env = {
                **os.environ,
                **connections(
                    naive_box, args.pleo_rps, shared=False, burst_limit=args.burst_limit, burst_window=args.burst_window
                ),
                "AIRFLOW_HOME": str(workdir / "naive-home"),
                "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
            }
        log(
            f"starting Airflow (LocalExecutor, {args.parallel} parallel locations) and the sandbox: "
            f"{args.locations} locations x {args.tags} tags, burst {args.burst_limit}/{args.burst_window:g}s, "
            f"Pleo {args.pleo_rps:g} req/s"
        )
        stack = AirflowStack(workdir / "airflow", env, parallelism=args.parallel + 2)
        stack.start()
        stack.wait_for_dag(DAG_ID)
        stack.unpause(DAG_ID)
        dims = 4
        changed: dict[str, int] = {}
        for phase in ("full", "no_change", "one_percent"):
            if phase == "one_percent":
                changed = change_tags([b for b in (box, naive_box) if b], args.change)
                log(f"changed {sum(changed.values())} tags ({args.change:.0%} per location)")
            minimum = minimum_requests(box, phase, changed, dims)
            log(f"phase {phase}: Airflow run ...")
            result = airflow_phase(stack, box, warehouse_url, args)
            result["minimum_requests"] = minimum
            result["changed_tags"] = sum(changed.values()) if phase == "one_percent" else 0
            results["phases"][phase] = result
            log(
                f"phase {phase}: {result['state']} in {result['wall_s']} s (floor {result['floor_s']} s, "
                f"wall/floor {result['wall_over_floor']}); requests GHL {result['ghl_requests']} "
                f"Pleo {result['pleo_requests']} (minimum {minimum['total']}); Pleo writes {result['pleo_writes']}, "
                f"detail calls {result['detail_calls']}, peak RSS {result['peak_rss_mb']} MB"
            )
            if naive_box:
                log(f"phase {phase}: naive baseline ...")
                base = naive_phase(naive_box, naive_env, locations, args)
                results["baseline"][phase] = base
                log(
                    f"phase {phase}: naive {base['wall_s']} s, requests {base['ghl_requests'] + base['pleo_requests']}"
                    f", Pleo writes {base['pleo_writes']}"
                )
    finally:
        if stack:
            stack.stop()
        box.stop()
        if naive_box:
            naive_box.stop()

    sizes = [int(s) for s in args.memory_tags.split(",") if s.strip()]
    if sizes:
        log(f"memory phase: one location with {sizes} tags")
        results["memory"] = memory_phase(workdir, sizes, args.parallel)
    log("parse time of the DAG files")
    results["parse"] = parse_times(args.parse_repeat)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print_table(results)
    log(f"results written to {out}")


def print_table(r: dict) -> None:
    print()
    print(
        f"{'phase':<12} {'who':<8} {'wall s':>8} {'span s':>7} {'floor s':>8} {'wall/fl':>8} {'requests':>9} "
        f"{'minimum':>8} {'Pleo wr':>8} {'tag wr':>7} {'value wr':>8} {'details':>7} {'peak MB':>8}"
    )
    for phase, p in r["phases"].items():
        rows = [("airflow", p)] + ([("naive", r["baseline"][phase])] if phase in r["baseline"] else [])
        for who, x in rows:
            print(
                f"{phase:<12} {who:<8} {x['wall_s']:>8} {x['api_span_s']:>7} {x['floor_s']:>8} "
                f"{str(x['wall_over_floor']):>8} {x['ghl_requests'] + x['pleo_requests']:>9} "
                f"{p['minimum_requests']['total'] if who == 'airflow' else '':>8} {x['pleo_writes']:>8} "
                f"{x['tag_writes']:>7} {x['value_writes']:>8} {x['detail_calls']:>7} {str(x['peak_rss_mb']):>8}"
            )
    if r.get("memory"):
        print()
        for n, m in r["memory"].items():
            print(
                f"memory {int(n):>7} tags: full peak {m['full']['peak_rss_mb']} MB "
                f"(task start {m['full']['start_rss_mb']} MB), no-change peak {m['no_change']['peak_rss_mb']} MB"
            )
    print()
    print(
        f"parse: import airflow.sdk {r['parse']['airflow_sdk_import_s']} s; "
        + "; ".join(f"{k} adds {v['added_s']} s" for k, v in r["parse"].items() if isinstance(v, dict))
    )


if __name__ == "__main__":
    main()
