"""The mapping file's ``spend`` key: how the spend sync reads and judges Pleo's accounting entries.

``spend: {lookback_days: 7, families: [...], budget_min_days: 5}``, every key optional:

* ``lookback_days`` (1 to 90, default 7): each run re-reads this many days ending with its own day and replaces
  them, so tags applied and refunds arriving up to that many days late are counted. A tag applied later than
  that is not seen (a backfill of the older days picks it up).
* ``families``: the accounting-entry families that count (default: card purchases, out-of-pocket, bills, per
  diem, mileage and credit notes; checked by :func:`ghl_pleo.spend_rules.counted_families`).
* ``budget_min_days`` (1 to 28, default 5): no month-end projection before this many elapsed days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.spend_budget import MIN_DAYS
from ghl_pleo.spend_rules import DEFAULT_FAMILIES, counted_families

LIMITS = {"lookback_days": (1, 90), "budget_min_days": (1, 28)}


@dataclass(frozen=True)
class SpendSettings:
    lookback_days: int = 7
    families: tuple[str, ...] = DEFAULT_FAMILIES
    budget_min_days: int = MIN_DAYS


def parse_spend(value: Any, source: str) -> dict[str, Any]:
    """``{"spend": SpendSettings}`` from the mapping file's ``spend`` value; errors name the key and the form."""

    def fail(key: str, expected: str, got: Any) -> ConfigurationError:
        return ConfigurationError(f"Mapping file {source}: key {key!r} must be {expected}; got {got!r}.")

    value = value or {}
    if not isinstance(value, dict) or set(value) - {*LIMITS, "families"}:
        raise fail("spend", "a mapping with the keys lookback_days, families, budget_min_days", value)
    out: dict[str, Any] = {}
    for key, (lo, hi) in LIMITS.items():
        if key in value:
            n = value[key]
            if isinstance(n, bool) or not isinstance(n, int) or not lo <= n <= hi:
                raise fail(f"spend.{key}", f"a whole number from {lo} to {hi}", n)
            out[key] = n
    if "families" in value:
        families = value["families"]
        if not isinstance(families, list) or not families or not all(isinstance(f, str) for f in families):
            raise fail("spend.families", "a non-empty list of accounting-entry families", families)
        try:
            counted_families(families)
        except ConfigurationError as exc:
            raise ConfigurationError(f"Mapping file {source}: key 'spend.families': {exc}.") from None
        out["families"] = tuple(families)
    return {"spend": SpendSettings(**out)}
