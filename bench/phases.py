"""The benchmark's phases: the Airflow run and the naive baseline, their traffic, the floor the limits set and
the fewest requests a phase needs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.measure import StackMeter, cpu_delta, metadata_counts, settle
from bench.stack import AirflowStack
from tests.sandbox_client import Sandbox, warehouse_env

ROOT = Path(__file__).resolve().parents[1]
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
    rate_headroom: float = 0.05,
) -> dict[str, str]:
    return box.env(
        locations,
        ghl_extra={"burst_limit": burst_limit, "burst_window_s": burst_window, "burst_margin_s": 0.05},
        max_requests_per_second=pleo_rps,
        shared_rate=shared,
        rate_headroom=rate_headroom,
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
        # With dimensions (detail_level full): a dimension list and the aggregation reads (100 tags each).
        dim_reads = 1 + math.ceil(active / 100) if config.active_dimensions else 0
        if phase == "full":
            ghl += 1 + pages + math.ceil(valid / 100)
            # its task's group listing (under the lease, after its GHL read; one page while the company has fewer
            # groups than a page holds), group create, tag page, dimension list, creates, values
            pleo += 1 + 1 + 1 + ((1 + dims) if config.active_dimensions else 0) + active + values
        elif phase == "no_change":
            ghl += 1 + pages
            pleo += held_pages + dim_reads  # tag pages (and the dimension reads)
        else:
            c = changed.get(loc["id"], 0)
            ghl += 1 + pages + math.ceil(c / 100)
            # + a rename each (and its updatedAt value)
            pleo += held_pages + dim_reads + (2 if config.active_dimensions else 1) * c
    return {"ghl": ghl, "pleo": pleo + 1, "total": ghl + pleo + 1}  # + the one group listing


def change_tags(boxes: list[Sandbox], share: float, stamp: str = "2026-11-20T10:00:00.000Z") -> dict[str, int]:
    """Rename ``share`` of each location's live tags, identically in every sandbox (``stamp``: their updatedAt)."""
    changed: dict[str, int] = {}
    for loc in boxes[0].locations():
        tags = [t for t in boxes[0].ghl_tags(loc["id"])[10:] if not t.get("deleted")]
        n = max(1, round(len(tags) * share))
        step = max(1, len(tags) // n)
        picked = tags[::step][:n]
        for box in boxes:
            for t in picked:
                box.edit_tag(loc["id"], t["_id"], tag=f"{t['tag']} (renamed)", updatedAt=stamp)
        changed[loc["id"]] = len(picked)
    return changed


def _iso(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def airflow_phase(stack: AirflowStack, box: Sandbox, warehouse_url: str, args, meter: StackMeter) -> dict:
    """One run through the REST API: its traffic, the ledger's view, and what it cost Airflow (CPU of the
    stack's processes, task instances, XCom rows, each task's peak RSS)."""
    from ghl_pleo.warehouse import Warehouse

    box.clear_requests()
    settle(meter)
    meter.task_peaks.clear()
    cpu_before = meter.cpu()
    run_id = stack.trigger(DAG_ID)
    run = stack.wait_for_run(DAG_ID, run_id)
    settle(meter)
    cpu_after = meter.cpu()
    traffic = box.traffic()
    ledger = Warehouse(warehouse_url).ledger.location_runs(DAG_ID, run_id)
    tis = stack.task_instances(DAG_ID, run_id)
    out = {
        "state": run["state"],
        "run_id": run_id,
        "wall_s": round(_iso(run["end_date"]) - _iso(run["start_date"]), 2),
        "sync_tasks_s": _sync_span(tis),
        "cpu": cpu_delta(cpu_before, cpu_after, len(ledger)),
        **metadata_counts(stack.db_url, DAG_ID, run_id, dict(meter.task_peaks)),
        **summarize_traffic(traffic),
        **floor_s(traffic, args.burst_limit, args.burst_window, args.pleo_rps),
        **_ledger_figures(ledger),
        "task_retries": sum(max(0, (ti.get("try_number") or 1) - 1) for ti in tis),
    }
    out["wall_over_floor"] = round(out["wall_s"] / out["floor_s"], 2) if out["floor_s"] else None
    out["span_over_floor"] = round(out["api_span_s"] / out["floor_s"], 2) if out["floor_s"] else None
    return out


def _sync_span(tis: list[dict]) -> float | None:
    """First start to last end of the sync tasks (``sync_location`` per location, or one per batch)."""
    syncs = [ti for ti in tis if ti["task_id"].startswith("sync_location")]
    start = min((_iso(ti["start_date"]) for ti in syncs if ti.get("start_date")), default=None)
    end = max((_iso(ti["end_date"]) for ti in syncs if ti.get("end_date")), default=None)
    return round(end - start, 2) if start and end else None


def _ledger_figures(ledger: list[dict]) -> dict:
    ghl = [r["requests"].get("ghl") or {} for r in ledger]
    return {
        "peak_rss_mb": max((r["counts"].get("peak_rss_mb") or 0 for r in ledger), default=None),
        "locations": len(ledger),
        "locations_ok": sum(1 for r in ledger if r["status"] == "success"),
        "retries": sum((r["requests"].get(api) or {}).get("retries", 0) for r in ledger for api in ("ghl", "pleo")),
        "min_ratelimit_remaining": min(
            (g["min_ratelimit_remaining"] for g in ghl if g.get("min_ratelimit_remaining") is not None), default=None
        ),
    }


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
