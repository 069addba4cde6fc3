"""Monthly budgets per location: month-end projection, the alert decision and the alert text (all pure).

Budgets come from the mapping file (``budgets: {<locationId>: {monthly: "5000.00"}}``, parsed as decimals by
:mod:`ghl_pleo.config`) in the company currency; :func:`budget_minor` turns one into minor units once the
currency is known (more decimals than the currency allows is a configuration error, not a rounding).

Projection = month-to-date spend / elapsed days (the run's day included) x days in the month. Too few days make a
wild projection (one big purchase on the 1st would "project" thirty of them), so nothing is projected before the
5th elapsed day (``min_days``, configurable). An alert is sent when the projection exceeds the budget, for the
current month only (a backfill of a past month never alerts: the month is over) and once per location and month;
"already alerted" is state the caller keeps (a table) and passes in.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.spend_money import MoneyError, decimal_to_minor, format_minor

MIN_DAYS = 5


def budget_minor(budgets: dict, location_id: str, currency: str) -> int | None:
    """The monthly budget of a location in minor units of ``currency``, or None when it has none."""
    monthly = budgets.get(location_id)
    if monthly is None:
        return None
    try:
        return decimal_to_minor(str(monthly), currency)
    except MoneyError as exc:
        raise ConfigurationError(f"Mapping file: key 'budgets.{location_id}.monthly': {exc}.") from None


@dataclass(frozen=True)
class Projection:
    """Month-to-date spend and, from ``min_days`` elapsed days on, the projected month-end spend (minor units)."""

    month: str  # 2026-11
    elapsed_days: int
    days_in_month: int
    spent_minor: int
    projected_minor: int | None


def project(spent_minor: int, run_day: date, min_days: int = MIN_DAYS) -> Projection:
    """Spend so far / elapsed days (``run_day`` included) x days in the month; None before ``min_days`` days."""
    days_in_month = calendar.monthrange(run_day.year, run_day.month)[1]
    elapsed = run_day.day
    projected = None
    if elapsed >= min_days:
        exact = Decimal(spent_minor) * days_in_month / elapsed
        projected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return Projection(run_day.strftime("%Y-%m"), elapsed, days_in_month, spent_minor, projected)


def exceeds(projection: Projection, budget: int | None) -> bool:
    return budget is not None and projection.projected_minor is not None and projection.projected_minor > budget


def should_alert(
    projection: Projection, budget: int | None, *, today: date, already_alerted: bool, run_day: date
) -> bool:
    """Alert when the projection exceeds the budget, the run's month is ``today``'s month, and not alerted yet."""
    current = (run_day.year, run_day.month) == (today.year, today.month)
    return current and not already_alerted and exceeds(projection, budget)


def used_pct(spent_minor: int, budget: int) -> Decimal | None:
    """Spend so far as a percentage of the budget, one decimal (None for a zero budget)."""
    if budget <= 0:
        return None
    return (Decimal(spent_minor) * 100 / Decimal(budget)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def alert_text(
    location: str, projection: Projection, budget: int, currency: str, top_tags: list[tuple[str, int]], top: int = 3
) -> str:
    """The alert: spend so far, projection, budget, and the tags that spent most (largest first)."""
    projected = projection.projected_minor if projection.projected_minor is not None else projection.spent_minor
    tags = sorted(top_tags, key=lambda t: (-t[1], t[0]))[:top]
    lines = [
        f"Location {location} is projected to overrun its {projection.month} budget.",
        f"Spent so far: {format_minor(projection.spent_minor, currency)} in {projection.elapsed_days} of "
        f"{projection.days_in_month} days.",
        f"Projected month end: {format_minor(projected, currency)}; budget: {format_minor(budget, currency)}.",
    ]
    if tags:
        lines.append("Tags that spent most: " + ", ".join(f"{t} ({format_minor(a, currency)})" for t, a in tags) + ".")
    return "\n".join(lines)
