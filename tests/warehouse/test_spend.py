"""The spend tables on both backends: a company's days replaced in one transaction (re-runs and overlapping
backfills never duplicate), the statistics read for spend vs social, and budget alerts remembered once."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

pytestmark = pytest.mark.integration
C1, C2 = "company-1", "company-2"
BIG = 5_000_000_000_00  # five billion in minor units: past a 32-bit integer


def daily(company: str, rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"company_id": company, "location_id": loc, "tag_code": tag, "day": day, "currency": "EUR",
             "amount_minor": amount, "entries": n}
            for loc, tag, day, amount, n in rows
        ]
    )  # fmt: skip


def replace(wh, company: str, days: list[str], rows, run: str = "r1", **extra):
    kwargs = {"social": [], "suggestions": [], "quarantine": [], **extra}
    return wh.spend.replace_days(company, days, daily=daily(company, rows), run_id=run, **kwargs)


def amounts(wh, company: str | None = None) -> list[tuple]:
    frame = wh.spend.spend_daily(company)
    return list(
        frame[["company_id", "location_id", "tag_code", "day", "amount_minor"]].itertuples(index=False, name=None)
    )


def test_replacing_the_same_days_again_never_duplicates_and_keeps_other_days_and_companies(wh):
    replace(
        wh, C1, ["2026-11-01", "2026-11-02"], [("L1", "t1", "2026-11-01", 100, 1), ("L1", "t1", "2026-11-02", 200, 2)]
    )
    replace(wh, C2, ["2026-11-02"], [("L9", "t9", "2026-11-02", 900, 1)])
    # A later run re-reads 11-02 .. 11-03: an entry of 11-02 was refunded, 11-03 is new; 11-01 is not touched.
    written = replace(
        wh, C1, ["2026-11-02", "2026-11-03"], [("L1", "t1", "2026-11-02", 150, 3), ("L1", "t2", "2026-11-03", BIG, 1)],
        run="r2",
    )  # fmt: skip
    assert written["pleo_spend_daily"] == 2
    replace(
        wh, C1, ["2026-11-02", "2026-11-03"], [("L1", "t1", "2026-11-02", 150, 3), ("L1", "t2", "2026-11-03", BIG, 1)]
    )
    assert amounts(wh) == [
        (C1, "L1", "t1", "2026-11-01", 100),
        (C1, "L1", "t1", "2026-11-02", 150),
        (C1, "L1", "t2", "2026-11-03", BIG),
        (C2, "L9", "t9", "2026-11-02", 900),
    ]
    assert wh.spend.spend_daily(C1)["amount_minor"].dtype == "int64"


def test_a_day_whose_spend_went_away_is_emptied_by_the_replace(wh):
    replace(wh, C1, ["2026-11-01"], [("L1", "t1", "2026-11-01", 100, 1)])
    replace(wh, C1, ["2026-11-01"], [])  # the entry was deleted in Pleo
    assert amounts(wh, C1) == []


def test_rows_outside_the_replaced_days_are_refused_and_nothing_is_written(wh):
    replace(wh, C1, ["2026-11-01"], [("L1", "t1", "2026-11-01", 100, 1)])
    with pytest.raises(ValueError, match=r"pleo_spend_daily: rows for \['2026-11-05'\], outside the days replaced"):
        replace(wh, C1, ["2026-11-01"], [("L1", "t1", "2026-11-01", 1, 1), ("L1", "t1", "2026-11-05", 7, 1)])
    assert amounts(wh, C1) == [(C1, "L1", "t1", "2026-11-01", 100)]


def test_social_rows_suggestions_and_quarantine_are_replaced_with_the_days(wh):
    social = {
        "location_id": "L1", "day": "2026-11-01", "currency": "EUR", "spend_minor": 12345, "has_spend": True,
        "has_statistics": True, "impressions": 3000, "reach": 2000, "engagements": None,
        "cost_per_1k_impressions": Decimal("41.1500"), "cost_per_engagement": None,
    }  # fmt: skip
    suggestion = {
        "entry_id": "e1", "split_id": None, "day": "2026-11-01", "currency": "EUR", "amount_minor": 500,
        "note": "Summer Sale flyers", "reason": "the note names ...",
        "candidates": [{"location_id": "L1", "tag_code": "tagSummer", "tag_name": "Summer Sale"}],
    }  # fmt: skip
    bad = {"entry_id": "e2", "split_id": "s1", "day": "2026-11-01", "family": "BILL_INVOICE", "reason": "no value"}
    args = {"social": [social], "suggestions": [suggestion], "quarantine": [bad]}
    replace(wh, C1, ["2026-11-01"], [("L1", "t1", "2026-11-01", 12345, 2)], **args)
    replace(wh, C1, ["2026-11-01"], [("L1", "t1", "2026-11-01", 12345, 2)], **args)
    (row,) = wh.spend.spend_vs_social("L1")
    assert row["spend_minor"] == 12345 and row["has_spend"] is True and row["impressions"] == 3000
    assert Decimal(row["cost_per_1k_impressions"]) == Decimal("41.15") and row["cost_per_engagement"] is None
    (s,) = wh.spend.suggestions(C1)
    assert s["split_id"] == "" and s["candidates"][0]["tag_code"] == "tagSummer"
    (q,) = wh.spend.quarantine(C1)
    assert (q["entry_id"], q["split_id"], q["reason"]) == ("e2", "s1", "no value")
    replace(wh, C1, ["2026-11-01"], [])
    assert wh.spend.spend_vs_social() == [] and wh.spend.suggestions() == [] and wh.spend.quarantine() == []


def test_statistics_totals_are_read_from_the_statistics_history_for_the_days_asked(wh):
    for day, totals in (("2026-11-01", {"impressions": 1000, "likes": 5}), ("2026-11-02", {"impressions": 2000})):
        wh.state.save_statistics(
            {"location_id": "L1", "day": day, "stat_id": f"L1-{day}", "window_start": "a", "window_end": "b",
             "profile_count": 1, "batches": 1, "metrics": json.dumps({"totals": totals}), "platforms": "{}",
             "run_id": "s"}
        )  # fmt: skip
    assert wh.spend.statistics_totals(["L1", "L2"], "2026-11-02", "2026-11-09") == [
        {"location_id": "L1", "day": "2026-11-02", "impressions": 2000}
    ]
    assert [r["day"] for r in wh.spend.statistics_totals(["L1"], "2026-11-01", "2026-11-02")] == [
        "2026-11-01",
        "2026-11-02",
    ]
    assert wh.spend.statistics_totals([], "2026-11-01", "2026-11-02") == []


def test_a_budget_alert_is_remembered_once_per_location_and_month(wh):
    row = {"location_id": "L1", "month": "2026-11", "company_id": C1, "currency": "EUR", "spent_minor": 1,
           "projected_minor": BIG, "budget_minor": 100, "run_id": "r1"}  # fmt: skip
    assert not wh.spend.alerted("L1", "2026-11")
    assert wh.spend.record_alert(row) is True
    assert wh.spend.record_alert({**row, "run_id": "r2"}) is False
    assert wh.spend.alerted("L1", "2026-11") and not wh.spend.alerted("L1", "2026-12")
    assert wh.spend.record_alert({**row, "month": "2026-12"}) is True
    wh.spend.forget_alert("L1", "2026-12")
    assert not wh.spend.alerted("L1", "2026-12")
