"""The statistics flow: accounts -> v3 statistics per UTC day -> history row -> Pleo group metadata."""

from __future__ import annotations

import json
import logging

import pandas as pd

from ghl_pleo.batch_quality import validate
from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import APIError
from ghl_pleo.groups import ensure_groups, group_code
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.locations import raise_if_unknown
from ghl_pleo.quality import require, statistics_expectations
from ghl_pleo.run_context import Hooks, LocationRun, SyncRun
from ghl_pleo.social_stats import Window, combine_batches, fmt_ms, request_bodies, sanitize_results, stat_id
from ghl_pleo.stats_metadata import (
    merge_metadata,
    metrics_json,
    owned_metadata,
    record_frame,
    requests_between,
    statistics_frame,
)

log = logging.getLogger(__name__)


def fetch_location_statistics(
    run: LocationRun, hooks: Hooks, config: MappingConfig, window: Window, location: dict | None = None
) -> dict:
    """One location and one UTC day: accounts, statistics in batches of <= 100 profiles, one history row.

    A location with no connected accounts is recorded as skipped (not failed).
    Re-running a day replaces its history row (a dry run too: the history is the warehouse's, not Pleo's).
    Call it inside ``with run:`` (the run context closes the ledger row).
    """
    location_id, ghl, counts = run.location_id, hooks.ghl, run.counts
    counts["day"] = window.day
    try:
        accounts = ghl.accounts(location_id)
    except APIError as exc:  # a typo'd location id (``location``: the list's entry) fails as configuration
        raise_if_unknown(run, ghl, location, exc)
        raise
    profiles = list(
        dict.fromkeys(a["profileId"] for a in accounts if isinstance(a.get("profileId"), str) and a["profileId"])
    )
    counts["profiles"] = len(profiles)
    if not profiles:
        run.skip("no_accounts", "no connected social accounts: statistics skipped")
        log.warning("Location %s: no connected social accounts; skipped", location_id)
        return {"location_id": location_id, "status": "skipped"}
    bodies = request_bodies(profiles, window)
    results, problems = fetch_batches(run, ghl, bodies, window)
    record_problems(run, stat_id(location_id, window), problems)
    counts["rejected"] = sum(1 for p in problems if p["rule"] != "unknown_platform")
    combined = combine_batches(results)
    metrics = metrics_json(window, combined, config.metrics, config.defaults)
    present = present_metrics(run, config, metrics)
    frame = record_frame(location_id, window, metrics)
    gate = validate(run, "ghl_statistics", frame, statistics_expectations, present)
    counts["data_docs"] = gate.docs
    require(gate, f"Location {location_id} statistics {window.day}")
    run.warehouse.state.save_statistics(
        {
            "location_id": location_id,
            "day": window.day,
            "stat_id": stat_id(location_id, window),
            "window_start": fmt_ms(window.start),
            "window_end": fmt_ms(window.end),
            "profile_count": len(profiles),
            "batches": len(bodies),
            "metrics": metrics,
            "platforms": json.dumps(combined["platforms"], sort_keys=True),
            "run_id": run.run.run_id,
        }
    )
    totals = json.loads(metrics)["totals"]
    counts.update(batches=len(bodies), **totals)
    log.info("Location %s: %s totals %s", location_id, window.day, totals)
    return {"location_id": location_id, "status": "success", "batches": len(bodies)}


def present_metrics(run: LocationRun, config: MappingConfig, metrics: str) -> list[str]:
    """The configured metrics GHL's answer held (or that have a default): only these are validated. An absent
    metric is left out of ``metrics`` and noted, not taken for an invalid value."""
    totals = json.loads(metrics)["totals"]
    present = [m for m in config.metrics if m in totals]
    absent = [m for m in config.metrics if m not in totals]
    if absent:
        run.counts["absent_metrics"] = absent
        run.event("metrics_absent", f"GHL's answer held no {', '.join(absent)}: left out of the day's metrics")
        log.warning("Location %s: no %s in GHL's statistics; left out", run.location_id, ", ".join(absent))
    return present


def fetch_batches(run: LocationRun, ghl, bodies: list[dict], window: Window) -> tuple[list[dict], list[dict]]:
    """One statistics request per batch of profiles: the sanitized results, and the problems found in them."""
    results, problems = [], []
    for i, body in enumerate(bodies, 1):
        clean, found = sanitize_results(ghl.statistics(run.location_id, body))
        results.append(clean)
        problems.extend({**p, "path": f"batch {i} {p['path']}"} for p in found)
        log.info(
            "Location %s: statistics batch %d/%d (%d profiles) for %s",
            run.location_id,
            i,
            len(bodies),
            len(body["profileIds"]),
            window.day,
        )
    return results, problems


def record_problems(run: LocationRun, key: str, problems: list[dict]) -> None:
    """Bad metric values go to rejected_records (left out of the totals); unknown platforms are a warning."""
    rejected = [p for p in problems if p["rule"] != "unknown_platform"]
    frame = pd.DataFrame(
        [
            {
                "record_key": f"{key} {p['path']}",
                "rule": p["rule"],
                "reason": f"{p['path']} is {p['raw']}: left out of the totals",
                "raw_value": p["raw"],
            }
            for p in rejected
        ],
        columns=["record_key", "rule", "reason", "raw_value"],
    )
    run.warehouse.ledger.save_rejected(run.run.dag_id, run.run.run_id, run.location_id, "statistics", frame)
    for p in problems:
        log.warning("Location %s: statistics %s: %s (%s)", run.location_id, p["path"], p["raw"], p["rule"])
    unknown = sorted({p["raw"] for p in problems if p["rule"] == "unknown_platform"})
    if unknown:
        run.event("unknown_platform", f"platforms not in the vendor's list, loaded as is: {', '.join(unknown)}")


def write_statistics_metadata(run: SyncRun, pleo: PleoHook, config: MappingConfig, locations: list[dict]) -> dict:
    """Merge each location's newest statistics into its group's metadata (run inside the group-write pool).

    Reads the groups, merges only the keys this DAG owns into what was just
    read, and writes only groups whose metadata would change. Pleo always shows
    the newest day the warehouse holds, so a backfill of older days never moves
    it back. With a dry-run hook nothing is written; the change log holds the plan.
    """
    history = run.warehouse.state.statistics_history([loc["location_id"] for loc in locations])
    records = statistics_frame(history)
    if records.empty:
        log.info("No statistics in the warehouse for these locations; nothing to write")
        return {"written": 0, "unchanged": 0}
    wanted = [loc for loc in locations if loc["location_id"] in set(records["locationId"])]
    groups = {
        g["location_id"]: g
        # Only locations whose statistics GHL served (a location list alone never makes a group), so ``create``.
        for g in ensure_groups(
            run, pleo, config, wanted, rename=False, with_group=True, report_orphans=False, create=True
        )
    }
    written = unchanged = 0
    for rec in records.to_dict("records"):
        if _write_metadata(run, pleo, groups[rec["locationId"]]["group"], rec):
            written += 1
        else:
            unchanged += 1
    pleo_requests = pleo.client.stats.as_dict()["total_requests"]
    run.event(
        "*",
        "pleo_requests",
        f"write_metadata made {pleo_requests} Pleo requests ({written} metadata writes"
        f"{', planned only: dry run' if pleo.dry_run else ''})",
    )
    log.info("Group metadata: %d written, %d unchanged; Pleo requests %d", written, unchanged, pleo_requests)
    return {"written": written, "unchanged": unchanged}


def _write_metadata(run: SyncRun, pleo: PleoHook, group: dict, rec: dict) -> bool:
    """Write one group's metadata where it would change; its ledger row counts the write. True if written."""
    location_id = rec["locationId"]
    ledger = run.warehouse.ledger
    merged = merge_metadata(group.get("metadata"), owned_metadata(rec))
    if merged is None:
        ledger.update_location_counts(run.dag_id, run.run_id, location_id, {"metadata_written": 0})
        return False
    before_write = pleo.client.stats.as_dict()
    result = pleo.update_group({**group, "metadata": merged}, location_id=location_id)
    # The location's ledger row was closed by its fetch task: its Pleo requests count this write too.
    spent = requests_between(before_write, pleo.client.stats.as_dict())
    ledger.add_location_requests(run.dag_id, run.run_id, location_id, "pleo", spent)
    owned = set(owned_metadata(rec))
    before = {k: v for k, v in (group.get("metadata") or {}).items() if k in owned}
    row = run.change_row(
        location_id,
        "group_metadata",
        "update",
        code=group_code(location_id),
        pleo_id=result["id"],
        before=before or None,
        after={k: v for k, v in merged.items() if k in owned},
    )
    run.warehouse.state.record_metadata_push(
        location_id, result["id"], rec["statId"], result.get("metadata") or merged, run.run_id, change=row
    )
    ledger.update_location_counts(run.dag_id, run.run_id, location_id, {"metadata_written": 1})
    log.info("Location %s: group %s metadata now shows %s", location_id, result["id"], rec["statId"])
    return True
