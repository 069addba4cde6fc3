"""The statistics sync, step by step: accounts -> v3 statistics per day -> history -> Pleo group metadata."""
from __future__ import annotations

import json
import logging
from typing import Any

from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import GhlPleoError
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.quality import require, run_suite, statistics_expectations
from ghl_pleo.statistics import (
    Window,
    record_frame,
    sanitize_results,
    combine_batches,
    fmt_ms,
    merge_metadata,
    metrics_json,
    owned_metadata,
    request_bodies,
    stat_id,
    statistics_frame,
)
from ghl_pleo.sync import ensure_groups, group_code, request_stats
from ghl_pleo.warehouse import Warehouse, change

log = logging.getLogger("ghl_pleo.stats_sync")


def fetch_location_statistics(location_id: str, *, window: Window, ghl: GhlHook, warehouse: Warehouse,
                              config: MappingConfig, dag_id: str, run_id: str, try_number: int = 1,
                              dry_run: bool = False) -> dict:
    """One location and one UTC day: accounts, statistics in batches of <= 100 profiles, one history row.

    A location with no connected accounts is recorded as skipped (not failed).
    Re-running a day replaces its history row (a dry run too: the history is the warehouse's, not Pleo's).
    """
    warehouse.start_location_run(dag_id, run_id, location_id, try_number, dry_run=dry_run)
    counts: dict[str, Any] = {"day": window.day}
    try:
        accounts = ghl.accounts(location_id)
        profiles = list(dict.fromkeys(a["profileId"] for a in accounts if isinstance(a.get("profileId"), str)
                                      and a["profileId"]))
        counts["profiles"] = len(profiles)
        if not profiles:
            warehouse.add_event(dag_id, run_id, location_id, "no_accounts",
                                "no connected social accounts: statistics skipped")
            warehouse.finish_location_run(dag_id, run_id, location_id, "skipped", counts, request_stats(ghl=ghl))
            log.warning("Location %s: no connected social accounts; skipped", location_id)
            return {"location_id": location_id, "status": "skipped"}
        bodies = request_bodies(profiles, window)
        results, problems = [], []
        for i, body in enumerate(bodies, 1):
            clean, found = sanitize_results(ghl.statistics(location_id, body))
            results.append(clean)
            problems.extend({**p, "path": f"batch {i} {p['path']}"} for p in found)
            log.info("Location %s: statistics batch %d/%d (%d profiles) for %s", location_id, i, len(bodies),
                     len(body["profileIds"]), window.day)
        _record_problems(warehouse, dag_id, run_id, location_id, stat_id(location_id, window), problems)
        counts["rejected"] = sum(1 for p in problems if p["rule"] != "unknown_platform")
        combined = combine_batches(results)
        metrics = metrics_json(window, combined, config.metrics, config.defaults)
        gate = run_suite("ghl_statistics", record_frame(location_id, window, metrics),
                         statistics_expectations(config.metrics), run_name=f"{dag_id}-{run_id}-{location_id}")
        counts["data_docs"] = gate.docs
        require(gate, f"Location {location_id} statistics {window.day}")
        warehouse.save_statistics({
            "location_id": location_id, "day": window.day, "stat_id": stat_id(location_id, window),
            "window_start": fmt_ms(window.start), "window_end": fmt_ms(window.end), "profile_count": len(profiles),
            "batches": len(bodies), "metrics": metrics,
            "platforms": json.dumps(combined["platforms"], sort_keys=True), "run_id": run_id})
        counts.update(batches=len(bodies), **{k: v for k, v in json.loads(metrics)["totals"].items()})
        warehouse.finish_location_run(dag_id, run_id, location_id, "success", counts, request_stats(ghl=ghl))
        log.info("Location %s: %s totals %s", location_id, window.day, json.loads(metrics)["totals"])
        return {"location_id": location_id, "status": "success", "batches": len(bodies)}
    except Exception as exc:
        kind = exc.kind if isinstance(exc, GhlPleoError) else "internal"
        warehouse.finish_location_run(dag_id, run_id, location_id, "failed", counts, request_stats(ghl=ghl),
                                      error_kind=kind, error=str(exc)[:2000])
        raise


def _record_problems(warehouse: Warehouse, dag_id: str, run_id: str, location_id: str, key: str,
                     problems: list[dict]) -> None:
    """Bad metric values go to rejected_records (left out of the totals); unknown platforms are a warning."""
    import pandas as pd

    rejected = [p for p in problems if p["rule"] != "unknown_platform"]
    frame = pd.DataFrame([{"record_key": f"{key} {p['path']}", "rule": p["rule"],
                           "reason": f"{p['path']} is {p['raw']}: left out of the totals", "raw_value": p["raw"]}
                          for p in rejected], columns=["record_key", "rule", "reason", "raw_value"])
    warehouse.save_rejected(dag_id, run_id, location_id, "statistics", frame)
    for p in problems:
        log.warning("Location %s: statistics %s: %s (%s)", location_id, p["path"], p["raw"], p["rule"])
    unknown = sorted({p["raw"] for p in problems if p["rule"] == "unknown_platform"})
    if unknown:
        warehouse.add_event(dag_id, run_id, location_id, "unknown_platform",
                            f"platforms not in the vendor's list, loaded as is: {', '.join(unknown)}")


def write_statistics_metadata(pleo: PleoHook, locations: list[dict], *, warehouse: Warehouse, config: MappingConfig,
                              dag_id: str, run_id: str, try_number: int = 1) -> dict:
    """Merge each location's newest statistics into its group's metadata (run inside the group-write pool).

    Reads the groups, merges only the keys this DAG owns into what was just
    read, and writes only groups whose metadata would change. Pleo always shows
    the newest day the warehouse holds, so a backfill of older days never moves
    it back. With a dry-run hook nothing is written; the change log holds the plan.
    """
    history = warehouse.statistics_history([loc["location_id"] for loc in locations])
    records = statistics_frame(history)
    if records.empty:
        log.info("No statistics in the warehouse for these locations; nothing to write")
        return {"written": 0, "unchanged": 0}
    wanted = [loc for loc in locations if loc["location_id"] in set(records["locationId"])]
    groups = {g["location_id"]: g for g in ensure_groups(pleo, wanted, config, warehouse, dag_id, run_id,
                                                          rename=False, with_group=True, report_orphans=False,
                                                          try_number=try_number)}
    written = unchanged = 0
    for rec in records.to_dict("records"):
        location_id = rec["locationId"]
        group = groups[location_id]["group"]
        merged = merge_metadata(group.get("metadata"), owned_metadata(rec))
        if merged is None:
            unchanged += 1
            warehouse.update_location_counts(dag_id, run_id, location_id, {"metadata_written": 0})
            continue
        result = pleo.update_group({**group, "metadata": merged}, location_id=location_id)
        owned = set(owned_metadata(rec))
        before = {k: v for k, v in (group.get("metadata") or {}).items() if k in owned}
        warehouse.record_metadata_push(
            location_id, result["id"], rec["statId"], result.get("metadata") or merged, run_id,
            change=change(dag_id, run_id, try_number, location_id, "group_metadata", "update",
                          code=group_code(location_id), pleo_id=result["id"], before=before or None,
                          after={k: v for k, v in merged.items() if k in owned}, dry_run=pleo.dry_run))
        warehouse.update_location_counts(dag_id, run_id, location_id, {"metadata_written": 1})
        written += 1
        log.info("Location %s: group %s metadata now shows %s", location_id, result["id"], rec["statId"])
    pleo_requests = pleo.client.stats.as_dict()["total_requests"]
    warehouse.add_event(dag_id, run_id, "*", "pleo_requests",
                        f"write_metadata made {pleo_requests} Pleo requests ({written} metadata writes"
                        f"{', planned only: dry run' if pleo.dry_run else ''})")
    log.info("Group metadata: %d written, %d unchanged; Pleo requests %d", written, unchanged, pleo_requests)
    return {"written": written, "unchanged": unchanged}
