"""The spend DAG through Airflow after a tags sync and a statistics sync against the sandbox, with the sandbox's
generated accounting entries: the warehouse's daily spend equals the spend computed here, independently, from the
raw entries; a re-run changes nothing; three single-day runs give the rows of one three-day run."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import pytest

from tests.e2e.runner import Runner
from tests.sandbox_client import PLEO_COMPANY, writes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SEARCH = "Pleo POST /v1/accounting-entries:search"
GROUP_PUT = "Pleo PUT /v0/tag-groups/{groupId}"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
ZERO = "00000000-0000-0000-0000-000000000000"


def expected_spend(entries: list[dict], pleo: dict, days: list[str], currency: str) -> dict[tuple, tuple[int, int]]:
    """The issue's rules, written plainly: ``(location, tag code, day) -> (amount in minor units, entries)``."""
    ours = {gid: g["code"][len("ghl-social-") :] for gid, g in pleo["groups"].items() if g["code"].startswith("ghl-")}
    tags = {tid: (ours[t["groupId"]], t["code"]) for tid, t in pleo["tags"].items() if t["groupId"] in ours}
    families = {"CARD_PURCHASE", "OUT_OF_POCKET", "BILL_INVOICE", "PER_DIEM", "MILEAGE", "CREDIT_NOTE"}
    amounts, counted = defaultdict(int), defaultdict(set)
    for e in entries:
        day = e["performedAt"][:10]
        if e["companyId"] != PLEO_COMPANY or e.get("deletedAt") or day not in days:
            continue
        if e["status"] not in ("DRAFT", "PENDING", "COMPLETED", "COMPLETED_EXTERNALLY") or e["family"] not in families:
            continue
        for part in e["splitItems"] or [e]:  # split items win over the entry's own tags
            value = part.get("totalBillValue")
            if value is None or value["currency"] != currency:
                continue  # quarantined, never converted
            found = {tags[t["tagId"]] for t in part["tags"] if t["tagId"] != ZERO and t["tagId"] in tags}
            if len({loc for loc, _ in found}) != 1:
                continue  # untagged, or in two of our groups (quarantined)
            ((loc, code),) = found
            minors = -abs(value["minors"]) if e["family"] == "CREDIT_NOTE" else value["minors"]
            amounts[(loc, code, day)] += minors
            counted[(loc, code, day)].add(e["id"])
    return {k: (amounts[k], len(counted[k])) for k in amounts}


def stored_spend(runner: Runner) -> dict[tuple, tuple[int, int]]:
    rows = runner.warehouse().db.query("SELECT location_id, tag_code, day, amount_minor, entries FROM pleo_spend_daily")
    return {(r["location_id"], r["tag_code"], r["day"]): (r["amount_minor"], r["entries"]) for r in rows}


def mapping(tmp, name: str, location: str, lookback: int) -> str:
    path = tmp / name
    path.write_text(
        f'budgets: {{"{location}": {{monthly: "100.00"}}}}\nspend: {{lookback_days: {lookback}, budget_min_days: 1}}\n'
    )
    return str(path)


@pytest.fixture(scope="module")
def stack(sandbox, airflow_db, tmp_path_factory):
    """One sandbox: the tags synced, three days of entries, the statistics of the last day; the spend DAG's env."""
    tmp = tmp_path_factory.mktemp("e2e-spend")
    locations = sandbox.reset(locations=3, min_tags=3, max_tags=3)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    url = f"sqlite:///{tmp / 'warehouse.db'}"
    for name in ("tags", "stats", "spend", "single"):
        (tmp / name).mkdir()
    Runner(sandbox, tmp / "tags", locations, "ghl_pleo_tags_sync", url).run()
    Runner(sandbox, tmp / "stats", locations, "ghl_pleo_statistics_sync", url).run("2026-11-04")  # day 2026-11-03
    sandbox._admin("POST", "/pleo/entries/generate", json={"start": DAYS[0], "days": 3, "currency": "DKK"})
    budgeted = sorted(locations)[0]
    pleo_conn = sandbox.env(locations, currency="DKK")["AIRFLOW_CONN_PLEO_DEFAULT"]
    return {
        "spend": Runner(sandbox, tmp / "spend", locations, "ghl_pleo_spend_sync", url),
        "single": Runner(sandbox, tmp / "single", locations, "ghl_pleo_spend_sync"),  # a warehouse of its own
        "env": {"AIRFLOW_CONN_PLEO_DEFAULT": pleo_conn, "GHL_PLEO_MAPPING_FILE": mapping(tmp, "m3.yaml", budgeted, 3)},
        "env1": {"AIRFLOW_CONN_PLEO_DEFAULT": pleo_conn, "GHL_PLEO_MAPPING_FILE": mapping(tmp, "m1.yaml", budgeted, 1)},
        "budgeted": budgeted,
        "locations": locations,
    }


def test_a_run_stores_the_spend_the_entries_say_sets_it_against_statistics_and_writes_pleo(stack):
    box, runner = stack["spend"].box, stack["spend"]
    box.clear_requests()
    out = runner.run("2026-11-04", **stack["env"])  # day 2026-11-03, re-reading 2026-11-01 .. 2026-11-03
    assert box.requests()[SEARCH] == 1  # one search for the company's window, never one per tag

    entries = box._admin("GET", "/pleo/entries")
    entries = entries["entries"] if isinstance(entries, dict) else entries
    expected = expected_spend(entries, box.pleo_state(), DAYS, "DKK")
    assert expected
    assert stored_spend(runner) == expected

    wh = runner.warehouse()
    reasons = [q["reason"] for q in wh.spend.quarantine()]
    assert len(reasons) == 9  # per day: no totalBillValue, another currency, two ghl-social groups
    assert sum("two ghl-social groups" in r for r in reasons) == 3 and sum("is missing" in r for r in reasons) == 3
    suggestions = wh.spend.suggestions()
    assert [s["day"] for s in sorted(suggestions, key=lambda s: s["day"])] == DAYS
    assert all(s["note"].startswith("Boosted posts for ") and s["candidates"] for s in suggestions)

    # spend against the statistics of 2026-11-03 (the only day with statistics)
    loc = stack["budgeted"]
    (social,) = wh.spend.spend_vs_social(loc, DAYS[2], DAYS[2])
    impressions = json.loads(
        wh.db.query("SELECT metrics FROM ghl_statistics_daily WHERE location_id = :l", {"l": loc})[0]["metrics"]
    )["totals"]["impressions"]
    day_spend = sum(a for (l_, _, d), (a, _) in expected.items() if l_ == loc and d == DAYS[2])
    assert (social["spend_minor"], social["impressions"]) == (day_spend, impressions)
    cpm = (Decimal(day_spend) / 100 * 1000 / Decimal(impressions)).quantize(Decimal("0.0001"))
    assert Decimal(social["cost_per_1k_impressions"]) == cpm

    group = next(g for g in box.pleo_state()["groups"].values() if g["code"] == f"ghl-social-{loc}")
    md = group["metadata"]
    assert md["stat_id"] == f"{loc}-20261103"  # the statistics keys stay
    assert md["spend_window"] == "2026-10-28..2026-11-03" and md["spend_currency"] == "DKK"
    assert Decimal(md["spend_7d"]) == Decimal(day_spend) / 100  # only days with both spend and statistics
    assert Decimal(md["cost_per_1k_impressions_7d"]) == cpm and md["budget_monthly"] == "100.00"
    month = sum(a for (l_, _, _), (a, _) in expected.items() if l_ == loc)
    assert Decimal(md["budget_projected_month_end"]) == Decimal(month) * 30 / 3 / 100

    ledger = wh.ledger.location_runs(
        "ghl_pleo_spend_sync", wh.db.query("SELECT run_id FROM pleo_spend_daily")[0]["run_id"]
    )
    assert sorted(r["location_id"] for r in ledger) == sorted(stack["locations"])
    assert {r["status"] for r in ledger} == {"success"}
    assert "Run summary for ghl_pleo_spend_sync" in out and "spend 7d" in out
    assert wh.db.query("SELECT * FROM spend_budget_alerts") == []  # November is over: a past month never alerts


def test_a_rerun_replaces_the_same_days_without_duplicates_or_pleo_writes(stack):
    box, runner = stack["spend"].box, stack["spend"]
    before = stored_spend(runner)
    box.clear_requests()
    runner.run("2026-11-04", **stack["env"])
    assert stored_spend(runner) == before
    assert {k: n for k, n in writes(box.requests()).items() if k != SEARCH} == {}  # the search is a POST read


def test_three_single_day_runs_give_the_rows_of_the_three_day_run_and_never_move_pleo_back(stack):
    single, box = stack["single"], stack["single"].box
    box.clear_requests()
    single.run("2026-11-02", **stack["env1"])
    single.run("2026-11-03", **stack["env1"])
    assert GROUP_PUT not in box.requests()  # Pleo shows the newer window 2026-10-28..2026-11-03: kept
    single.run("2026-11-04", **stack["env1"])
    assert stored_spend(single) == stored_spend(stack["spend"])
    assert box.requests()[SEARCH] == 3
