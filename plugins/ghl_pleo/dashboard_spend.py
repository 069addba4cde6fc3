"""The dashboard's "Spend vs social" numbers (``/ghl-pleo/api/spend``, drawn by :mod:`ghl_pleo.dashboard_spend_page`).

Read from the spend DAG's warehouse tables only, as of the latest day any spend run stored (``as_of``):

* per location: spend over the 7 and 30 days ending ``as_of`` (every day, from ``spend_vs_social_daily``); cost per
  1,000 impressions and per engagement over the 7 days that have both spend and statistics (``days_used_7d``, as
  the spend DAG writes them into Pleo); with a budget in
  the mapping file, the month's spend so far, the share of the budget used and the month-end projection (the spend
  flow's own functions: :mod:`ghl_pleo.spend_social`, :mod:`ghl_pleo.spend_budget`);
* the daily spend and impressions of the last 30 days (the chart);
* the tag suggestions for untagged spend, largest first.

Amounts are integer minor units in the warehouse; here they become text in the currency's major unit through
:class:`~decimal.Decimal` (``"1234.50"``), next to the ``*_minor`` integers, never floats.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.spend_budget import budget_minor, exceeds, project, used_pct
from ghl_pleo.spend_money import minor_to_decimal
from ghl_pleo.spend_social import seven_day
from ghl_pleo.warehouse import Warehouse

log = logging.getLogger("ghl_pleo.dashboard")
DAYS = 30


def _money(minors: int | None, currency: str) -> str | None:
    return None if minors is None else str(minor_to_decimal(int(minors), currency))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _config():
    """The mapping file (budgets, the projection's minimum days), or None and the reason it could not be read."""
    from ghl_pleo.config import load_mapping

    try:
        return load_mapping(), None
    except ConfigurationError as exc:
        log.warning("Spend dashboard without budgets: %s", exc)
        return None, str(exc)


def spend_document(warehouse: Warehouse, now: datetime | None = None) -> dict:
    """Everything the "Spend vs social" section shows, as JSON-ready data (see the module)."""
    now = now or datetime.now(UTC)
    store = warehouse.spend
    latest = warehouse.db.query("SELECT MAX(day) AS day FROM spend_vs_social_daily")
    as_of = latest[0]["day"] if latest and latest[0]["day"] else None
    config, config_error = _config()
    doc = {
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "as_of": as_of,
        "window_7d": None,
        "window_30d": None,
        "budgets_error": config_error,
        "locations": [],
        "daily": [],
        "suggestions": [_suggestion(s) for s in store.suggestions()],
    }
    if as_of is None:
        return doc
    end = date.fromisoformat(as_of)
    first_30, first_7 = (end - timedelta(days=DAYS - 1)).isoformat(), (end - timedelta(days=6)).isoformat()
    doc["window_7d"], doc["window_30d"] = f"{first_7}..{as_of}", f"{first_30}..{as_of}"
    rows = store.spend_vs_social(None, first_30, as_of)
    doc["daily"] = [
        {
            "location_id": r["location_id"],
            "day": r["day"],
            "currency": r["currency"],
            "spend": _money(r["spend_minor"], r["currency"]),
            "spend_minor": int(r["spend_minor"]),
            "impressions": r["impressions"],
        }
        for r in rows
    ]
    month = _month_spend(warehouse, end)
    by_key: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        by_key.setdefault((r["company_id"], r["location_id"], r["currency"]), []).append(r)
    for key in sorted(by_key, key=lambda k: (k[1], k[0], k[2])):
        mine, spent = by_key[key], month.get(key, 0)
        try:
            doc["locations"].append(_location(config or MappingConfig(), key, mine, spent, end, first_7))
        except ConfigurationError as exc:  # a budget with more decimals than the currency has
            doc["budgets_error"] = str(exc)
            doc["locations"].append(_location(MappingConfig(), key, mine, spent, end, first_7))
    return doc


def _month_spend(warehouse: Warehouse, end: date) -> dict[tuple[str, str, str], int]:
    """(company, location, currency) -> spend of ``end``'s month up to ``end`` (the spend store's rows, one read)."""
    month = warehouse.spend.spend_daily(None, end.replace(day=1).isoformat(), end.isoformat())
    sums = month.groupby(["company_id", "location_id", "currency"])["amount_minor"].sum()
    return {key: int(spent) for key, spent in sums.items()}


def _location(config, key: tuple[str, str, str], mine: list[dict], spent_month: int, end: date, first_7: str):
    """One location's figures (see the module) from its own rows: the spend flow's functions, no query."""
    company, location_id, currency = key
    spend_30 = sum(int(r["spend_minor"]) for r in mine)
    spend_7 = sum(int(r["spend_minor"]) for r in mine if r["day"] >= first_7)
    week = seven_day(mine, location_id, end.isoformat(), currency)
    projection = project(spent_month, end, config.spend.budget_min_days)
    budget = budget_minor(config.budgets, location_id, currency)
    over = exceeds(projection, budget)
    return {
        "company_id": company,
        "location_id": location_id,
        "currency": currency,
        "spend_7d": _money(spend_7, currency),
        "spend_7d_minor": spend_7,
        "spend_30d": _money(spend_30, currency),
        "spend_30d_minor": spend_30,
        "days_used_7d": week["days_used"],
        "spend_used_7d": _money(week["spend_minor"], currency),
        "impressions_7d": week["impressions"],
        "engagements_7d": week["engagements"],
        "cost_per_1k_impressions_7d": _text(week["cost_per_1k_impressions"]),
        "cost_per_engagement_7d": _text(week["cost_per_engagement"]),
        "month": projection.month,
        "spend_month": _money(projection.spent_minor, currency),
        "budget_monthly": _money(budget, currency),
        "budget_used_pct": _text(used_pct(spent_month, budget)) if budget is not None else None,
        "budget_projected_month_end": _money(projection.projected_minor, currency),
        "over_budget": over,
    }


def _suggestion(s: dict) -> dict:
    return {
        "company_id": s["company_id"],
        "entry_id": s["entry_id"],
        "split_id": s["split_id"],
        "day": s["day"],
        "currency": s["currency"],
        "amount": _money(s["amount_minor"], s["currency"]),
        "amount_minor": int(s["amount_minor"]),
        "note": s["note"],
        "candidates": s["candidates"],
        "reason": s["reason"],
    }
