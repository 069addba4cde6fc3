"""Spend into Pleo: each location group's metadata gains the spend keys (strings), merged into what Pleo holds
(other keys kept), written only where they differ, through the group-write pool. A backfill of older days never
replaces a newer window: a group whose ``spend_window`` ends after this run's day is left as it is."""

from __future__ import annotations

import logging
from datetime import date

from ghl_pleo.config import MappingConfig
from ghl_pleo.groups import ensure_groups, group_code
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.run_context import SyncRun
from ghl_pleo.spend_money import minor_to_decimal
from ghl_pleo.stats_metadata import merge_metadata, requests_between

log = logging.getLogger(__name__)
SPEND_KEYS = ("spend_7d", "spend_currency", "cost_per_1k_impressions_7d", "cost_per_engagement_7d", "spend_window")
BUDGET_KEYS = ("budget_monthly", "budget_used_pct", "budget_projected_month_end")


def spend_metadata(figures: dict, currency: str) -> dict[str, str]:
    """The owned keys as strings ('' where a figure is not known: no impressions, no projection yet)."""
    c, week = figures["counts"], figures["week"]
    out = {
        "spend_7d": c["spend_7d"],
        "spend_currency": currency,
        "cost_per_1k_impressions_7d": c["cost_per_1k_impressions_7d"] or "",
        "cost_per_engagement_7d": c["cost_per_engagement_7d"] or "",
        "spend_window": week["window"],
    }
    if figures["budget"] is not None:
        out.update(
            budget_monthly=str(minor_to_decimal(figures["budget"], currency)),
            budget_used_pct=c["budget_used_pct"] or "",
            budget_projected_month_end=c["budget_projected"] or "",
        )
    return out


def window_end(value: object) -> str:
    """The last day of a ``spend_window`` value (``2026-11-24..2026-11-30`` -> ``2026-11-30``); '' if none."""
    return value.rsplit("..", 1)[-1] if isinstance(value, str) and ".." in value else ""


def write_spend_metadata(run: SyncRun, pleo: PleoHook, config: MappingConfig, locations: list[dict], day: date) -> dict:
    """The spend keys of each location that synced in this run into its group's metadata (see the module)."""
    from ghl_pleo.flows.spend import companies, company_currency
    from ghl_pleo.flows.spend_locations import location_figures, month_spend

    synced = {
        r["location_id"] for r in run.warehouse.ledger.location_runs(run.dag_id, run.run_id) if r["status"] == "success"
    }
    wanted = [loc for loc in locations if loc["location_id"] in synced]
    if not wanted:
        return {"written": 0, "unchanged": 0, "newer": 0}
    currency = company_currency(pleo)
    company_of = {loc: c for c, locs in companies(pleo, config, wanted).items() for loc in locs}
    groups = {
        g["location_id"]: g["group"]
        for g in ensure_groups(run, pleo, config, wanted, rename=False, with_group=True, report_orphans=False)
    }
    counts = {"written": 0, "unchanged": 0, "newer": 0}
    months = {company: month_spend(run.warehouse, company, day) for company in set(company_of.values())}
    for loc in wanted:
        location_id = loc["location_id"]
        if location_id not in groups:
            continue
        month = months[company_of[location_id]]
        figures = location_figures(run.warehouse, config, month, location_id, currency, day)
        outcome = _write_one(run, pleo, groups[location_id], location_id, spend_metadata(figures, currency))
        counts[outcome] += 1
    log.info("Spend metadata: %s", counts)
    return counts


def _write_one(run: SyncRun, pleo: PleoHook, group: dict, location_id: str, owned: dict[str, str]) -> str:
    ledger = run.warehouse.ledger
    current = group.get("metadata") or {}
    held = window_end(current.get("spend_window"))
    if held > window_end(owned["spend_window"]):
        ledger.update_location_counts(run.dag_id, run.run_id, location_id, {"metadata_written": 0})
        run.event(
            location_id, "spend_window_newer", f"Pleo shows the newer spend window {current['spend_window']}: kept"
        )
        return "newer"
    merged = merge_metadata(current, owned)
    if merged is None:
        ledger.update_location_counts(run.dag_id, run.run_id, location_id, {"metadata_written": 0})
        return "unchanged"
    before_write = pleo.client.stats.as_dict()
    result = pleo.update_group({**group, "metadata": merged}, location_id=location_id)
    ledger.add_location_requests(
        run.dag_id, run.run_id, location_id, "pleo", requests_between(before_write, pleo.client.stats.as_dict())
    )
    run.change(
        location_id,
        "group_metadata",
        "update",
        code=group_code(location_id),
        pleo_id=result["id"],
        before={k: v for k, v in current.items() if k in owned} or None,
        after=owned,
    )
    ledger.update_location_counts(run.dag_id, run.run_id, location_id, {"metadata_written": 1})
    log.info("Location %s: group %s metadata now shows spend %s", location_id, result["id"], owned["spend_window"])
    return "written"
