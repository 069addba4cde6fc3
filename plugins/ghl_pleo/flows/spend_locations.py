"""Each location of a company after its spend read: its figures (seven days of spend against social, the month's
budget), its ledger row and summary counts, and the budget alert (current month only, once per location and
month, remembered in ``spend_budget_alerts``)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ghl_pleo.config import MappingConfig
from ghl_pleo.run_context import Hooks, LocationRun, SyncRun
from ghl_pleo.spend_budget import alert_text, budget_minor, project, should_alert, used_pct
from ghl_pleo.spend_money import minor_to_decimal
from ghl_pleo.spend_social import seven_day
from ghl_pleo.warehouse import Warehouse

if TYPE_CHECKING:
    from ghl_pleo.flows.spend import SpendWindow
    from ghl_pleo.spend_attribution import Attribution

log = logging.getLogger(__name__)
_NO_SPEND = pd.DataFrame({"tag_code": pd.Series(dtype=str), "amount_minor": pd.Series(dtype="int64")})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def month_spend(warehouse: Warehouse, company: str, day: date) -> dict[str, pd.DataFrame]:
    """The company's ``pleo_spend_daily`` rows from the first of ``day``'s month to ``day``, per location: one read
    for all of the company's locations (a location with no spend has no key)."""
    month = warehouse.spend.spend_daily(company, day.replace(day=1).isoformat(), day.isoformat())
    return {str(location_id): rows for location_id, rows in month.groupby("location_id", sort=False)}


def location_figures(
    warehouse: Warehouse,
    config: MappingConfig,
    month: dict[str, pd.DataFrame],
    location_id: str,
    currency: str,
    day: date,
) -> dict:
    """The location's seven days ending ``day`` (spend vs social, from the warehouse) and its month's budget
    (``month``: :func:`month_spend` of its company)."""
    first = (day - timedelta(days=6)).isoformat()
    week = seven_day(
        warehouse.spend.spend_vs_social(location_id, first, day.isoformat()), location_id, day.isoformat(), currency
    )
    month = month.get(location_id, _NO_SPEND)
    spent = int(month["amount_minor"].sum())
    projection = project(spent, day, config.spend.budget_min_days)
    budget = budget_minor(config.budgets, location_id, currency)
    return {
        "week": week,
        "projection": projection,
        "budget": budget,
        "top_tags": [(str(t), int(a)) for t, a in month.groupby("tag_code")["amount_minor"].sum().items()],
        "counts": {
            "spend_7d": str(minor_to_decimal(week["spend_minor"], currency)),
            "impressions_7d": week["impressions"],
            "cost_per_1k_impressions_7d": _text(week["cost_per_1k_impressions"]),
            "cost_per_engagement_7d": _text(week["cost_per_engagement"]),
            "days_used_7d": week["days_used"],
            "spend_month": str(minor_to_decimal(spent, currency)),
            "budget_used_pct": _text(used_pct(spent, budget)) if budget is not None else None,
            "budget_projected": _text(
                None if projection.projected_minor is None else minor_to_decimal(projection.projected_minor, currency)
            ),
        },
    }


def close_locations(
    run: SyncRun,
    config: MappingConfig,
    company: str,
    currency: str,
    location_ids: list[str],
    window: SpendWindow,
    today: date,
    found: Attribution,
    found_suggestions: list[dict],
    docs: str | None,
) -> None:
    """One ledger row per location: its counts for the summary; then its budget alert if one is due."""
    month = month_spend(run.warehouse, company, window.day)
    for location_id in location_ids:
        with run.location(location_id, Hooks()) as loc_run:
            figures = location_figures(run.warehouse, config, month, location_id, currency, window.day)
            mine = [p for p in found.attributed if p["location_id"] == location_id]
            day_spend = sum(p["amount_minor"] for p in mine if p["day"] == window.day.isoformat())
            loc_run.counts.update(
                day=window.day.isoformat(),
                window=window.label(),
                currency=currency,
                read=len(mine),
                spend_day=str(minor_to_decimal(day_spend, currency)),
                suggestions=sum(
                    1 for s in found_suggestions if any(c["location_id"] == location_id for c in s["candidates"])
                ),
                data_docs=docs,
                **figures["counts"],
            )
            budget_alert(loc_run, company, currency, window.day, today, figures)


def budget_alert(run: LocationRun, company: str, currency: str, day: date, today: date, figures: dict) -> bool:
    """Send the budget alert when the projection exceeds the budget (current month, once per location and
    month). A dry run only notes it. True when sent."""
    from ghl_pleo.alert_channels import deliver

    projection, budget, store = figures["projection"], figures["budget"], run.warehouse.spend
    already = store.alerted(run.location_id, projection.month)
    if not should_alert(projection, budget, today=today, already_alerted=already, run_day=day):
        return False
    text = alert_text(run.location_id, projection, budget, currency, figures["top_tags"])
    if run.run.dry_run:
        run.event("budget_alert_planned", f"dry run: a budget alert would be sent:\n{text}")
        return False
    row = {
        "location_id": run.location_id,
        "month": projection.month,
        "company_id": company,
        "currency": currency,
        "spent_minor": projection.spent_minor,
        "projected_minor": projection.projected_minor,
        "budget_minor": budget,
        "run_id": run.run.run_id,
    }
    if not store.record_alert(row):  # another run remembered it first
        return False
    channels = deliver(
        f"[ghl-pleo] Budget: location {run.location_id} projected over its {projection.month} budget", text
    )
    run.counts["budget_alert"] = ",".join(channels) or "no channel"
    run.event("budget_alert", f"budget alert sent ({', '.join(channels) or 'no channel configured'}): {text}")
    log.warning("Location %s: budget alert for %s sent through %s", run.location_id, projection.month, channels)
    return True
