"""Budgets: month-end projection from the 5th elapsed day, the alert decision, the alert text."""

from __future__ import annotations

from datetime import date

import pytest

from ghl_pleo.config import parse_mapping
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.spend_budget import alert_text, budget_minor, exceeds, project, should_alert, used_pct


def test_nothing_is_projected_on_day_4_and_day_5_projects():
    assert project(40000, date(2026, 11, 4)).projected_minor is None
    assert project(50000, date(2026, 11, 5)).projected_minor == 300000  # 500.00 a day x 30 days


@pytest.mark.parametrize(
    "run_day, days",
    [(date(2026, 11, 10), 30), (date(2026, 12, 10), 31), (date(2026, 2, 10), 28), (date(2028, 2, 10), 29)],
)
def test_projection_uses_the_days_of_the_month_leap_february_included(run_day, days):
    p = project(10000, run_day)
    assert p.days_in_month == days and p.projected_minor == 1000 * days and p.elapsed_days == 10


def test_min_days_is_configurable():
    assert project(300, date(2026, 11, 3), min_days=3).projected_minor == 3000
    assert project(300, date(2026, 11, 2), min_days=3).projected_minor is None


def test_projection_is_exact_decimal_rounded_to_a_minor_unit():
    # 1000 / 7 x 31 = 4428.571... -> 4429
    assert project(1000, date(2026, 12, 7)).projected_minor == 4429
    assert project(5, date(2026, 12, 10)).projected_minor == 16  # 15.5, half to even
    assert project(25, date(2026, 12, 10)).projected_minor == 78  # 77.5, half to even
    # a large amount stays exact (a float has 53 bits and would lose the last digit)
    assert project(10**17 + 3, date(2026, 11, 10)).projected_minor == 3 * 10**17 + 9


def test_exceeds_only_above_the_budget():
    p = project(50000, date(2026, 11, 5))  # projects 300000
    assert exceeds(p, 299999) and not exceeds(p, 300000) and not exceeds(p, None)
    assert not exceeds(project(10**9, date(2026, 11, 4)), 1)  # too early to say


def test_alert_only_for_the_current_month_and_once():
    p = project(50000, date(2026, 11, 5))
    kw = {"run_day": date(2026, 11, 5)}
    assert should_alert(p, 100, today=date(2026, 11, 20), already_alerted=False, **kw)
    assert not should_alert(p, 100, today=date(2026, 11, 20), already_alerted=True, **kw)
    assert not should_alert(p, 100, today=date(2026, 12, 1), already_alerted=False, **kw)  # a backfill
    assert not should_alert(p, 100, today=date(2027, 11, 5), already_alerted=False, **kw)  # same month, next year
    assert not should_alert(p, 300000, today=date(2026, 11, 5), already_alerted=False, **kw)


def test_alert_text_names_spend_projection_budget_and_top_tags():
    p = project(123456, date(2026, 11, 10))
    text = alert_text("L1", p, 300000, "EUR", [("tagA", 100), ("tagB", 90000), ("tagC", 33356), ("tagD", 0)])
    assert "1234.56 EUR" in text and "3703.68 EUR" in text and "3000.00 EUR" in text and "2026-11" in text
    assert "tagB (900.00 EUR), tagC (333.56 EUR), tagA (1.00 EUR)" in text and "tagD" not in text


def test_used_pct():
    assert str(used_pct(123456, 300000)) == "41.2" and used_pct(1, 0) is None


def test_budget_in_minor_units_and_too_many_decimals_for_the_currency():
    cfg = parse_mapping({"budgets": {"L1": {"monthly": "5000.00"}, "L2": {"monthly": "12.5"}}})
    assert budget_minor(cfg.budgets, "L1", "EUR") == 500000 and budget_minor(cfg.budgets, "L3", "EUR") is None
    with pytest.raises(ConfigurationError, match=r"budgets\.L2\.monthly.*JPY"):
        budget_minor(cfg.budgets, "L2", "JPY")
