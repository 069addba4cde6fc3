"""The spend flow's parts that need no API: the run's window, the mapping file's ``spend`` key, the GX suite on
the spend records, the metadata strings and the rule that a backfill never replaces a newer window, and the run
summary's spend columns."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ghl_pleo.config import parse_mapping
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.flows.spend import SpendWindow
from ghl_pleo.flows.spend_metadata import spend_metadata, window_end
from ghl_pleo.quality import run_suite
from ghl_pleo.spend_budget import project
from ghl_pleo.spend_quality import parts_frame, spend_expectations
from ghl_pleo.spend_rules import DEFAULT_FAMILIES
from ghl_pleo.summary import run_summary
from ghl_pleo.warehouse import Warehouse


def test_the_window_is_the_runs_day_and_the_lookback_days_before_it():
    w = SpendWindow.for_interval(datetime(2026, 11, 7, tzinfo=UTC), 7)
    assert w.days == [f"2026-11-0{d}" for d in range(1, 8)] and w.label() == "2026-11-01..2026-11-07"
    assert (w.start, w.end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
    assert SpendWindow(date(2026, 3, 1), 1).days == ["2026-03-01"]


def test_the_spend_key_of_the_mapping_file_has_defaults_and_clear_errors():
    cfg = parse_mapping({})
    assert (cfg.spend.lookback_days, cfg.spend.families, cfg.spend.budget_min_days) == (7, DEFAULT_FAMILIES, 5)
    cfg = parse_mapping({"spend": {"lookback_days": 3, "families": ["CARD_PURCHASE"], "budget_min_days": 1}})
    assert (cfg.spend.lookback_days, cfg.spend.families, cfg.spend.budget_min_days) == (3, ("CARD_PURCHASE",), 1)
    for bad, match in (
        ({"lookback_days": 0}, "'spend.lookback_days' must be a whole number from 1 to 90"),
        ({"lookback_days": 7.0}, "'spend.lookback_days' must be a whole number"),
        ({"families": ["WALLET"]}, "'spend.families'.*never count"),
        ({"lookback": 7}, "'spend' must be a mapping with the keys"),
    ):
        with pytest.raises(ConfigurationError, match=match):
            parse_mapping({"spend": bad}, "m.yaml")


def part(entry_id: str, day: str = "2026-11-07", currency: str = "EUR", amount=1000, split=None) -> dict:
    return {"entry_id": entry_id, "split_id": split, "location_id": "L1", "tag_code": "t", "day": day,
            "currency": currency, "amount_minor": amount}  # fmt: skip


def test_the_gx_suite_refuses_a_day_outside_the_window_a_currency_not_iso_and_a_part_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path))
    days = SpendWindow(date(2026, 11, 7), 2).days
    ok = run_suite(
        "pleo_spend", parts_frame([part("e1"), part("e2", split="s1")]), spend_expectations(days), run_name="ok"
    )
    assert ok.success
    assert run_suite("pleo_spend", parts_frame([]), spend_expectations(days), run_name="empty").success
    bad = parts_frame([part("e1", day="2026-11-01"), part("e2", currency="XXX"), part("e3"), part("e3")])
    gate = run_suite("pleo_spend", bad, spend_expectations(days), run_name="bad")
    assert not gate.success
    failed = " ".join(gate.failed)
    assert "expect_column_values_to_be_in_set(day) x1" in failed
    assert "expect_column_values_to_be_in_set(currency) x1" in failed
    assert "expect_compound_columns_to_be_unique(entry_id,split_id)" in failed


def figures(budget=None) -> dict:
    counts = {"spend_7d": "120.50", "cost_per_1k_impressions_7d": "4.0167", "cost_per_engagement_7d": None,
              "budget_used_pct": "12.1", "budget_projected": None}  # fmt: skip
    week = {"window": "2026-11-01..2026-11-07"}
    return {"counts": counts, "week": week, "budget": budget, "projection": project(12050, date(2026, 11, 7))}


def test_the_metadata_keys_are_strings_with_the_budget_keys_only_for_a_location_with_a_budget():
    assert spend_metadata(figures(), "EUR") == {
        "spend_7d": "120.50",
        "spend_currency": "EUR",
        "cost_per_1k_impressions_7d": "4.0167",
        "cost_per_engagement_7d": "",
        "spend_window": "2026-11-01..2026-11-07",
    }
    with_budget = spend_metadata(figures(budget=100000), "EUR")
    assert with_budget["budget_monthly"] == "1000.00" and with_budget["budget_used_pct"] == "12.1"
    assert with_budget["budget_projected_month_end"] == ""
    assert all(isinstance(v, str) for v in with_budget.values())


def test_a_window_is_compared_by_its_last_day():
    assert window_end("2026-11-01..2026-11-07") == "2026-11-07"
    assert window_end(None) == "" and window_end("garbage") == ""
    assert window_end("2026-10-25..2026-10-31") < window_end("2026-11-01..2026-11-07")


def test_the_spend_summary_shows_text_figures_per_location_and_totals_only_numbers(tmp_path):
    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    for loc, spend in (("L1", "120.50"), ("L2", "3.00")):
        wh.ledger.start_location_run("ghl_pleo_spend_sync", "run-1", loc, 1)
        counts = {"spend_7d": spend, "impressions_7d": 3000, "cost_per_1k_impressions_7d": "40.1667",
                  "budget_used_pct": None, "suggestions": 2, "metadata_written": 1}  # fmt: skip
        wh.ledger.finish_location_run("ghl_pleo_spend_sync", "run-1", loc, "success", counts, {})
    text, failed = run_summary(wh, "ghl_pleo_spend_sync", "run-1", ["L1", "L2"])
    assert failed == []
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.split()}
    assert lines["L1"][2:7] == ["120.50", "3000", "40.1667", "–", "2"]  # no budget: unknown, not 0 % used
    assert lines["TOTAL"][1:4] == ["6000", "4", "2"]  # numbers added; text figures and unknown ones have no total
    assert "spend 7d" in text and "per 1k" in text
