"""What counts as spend and whose it is: each rule of issue 18's "What counts" and "Attribution"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.groups import group_code
from ghl_pleo.spend_attribution import attribute, daily
from ghl_pleo.spend_rules import location_of
from tests.unit.spend_entries import (
    COMPANY,
    G1,
    G1_DUP,
    G2,
    LOOKUP,
    OTHER,
    T_L2,
    T_OTHER,
    T_SUMMER,
    T_SUMMER_ARCHIVED,
    T_WINTER,
    UNKNOWN_TAG,
    entry,
    money,
    split,
    tag,
)


def run(entries, **kw):
    return attribute(entries, company=COMPANY, currency="EUR", lookup=LOOKUP, **kw)


def spent(result) -> dict:
    """(location, tag code, day) -> amount, from the attributed rows."""
    out: dict = {}
    for r in result.attributed:
        key = (r["location_id"], r["tag_code"], r["day"])
        out[key] = out.get(key, 0) + r["amount_minor"]
    return out


def test_a_card_purchase_goes_to_its_tag_and_day_in_minor_units():
    result = run([entry("e1", 6580)])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 6580}
    assert result.attributed[0]["company_id"] == COMPANY and result.attributed[0]["entry_id"] == "e1"


def test_split_items_take_precedence_and_each_split_goes_to_its_own_tag():
    e = entry("e1", 10000, tags=[tag(G2, T_L2)])  # entry-level tag must be ignored once split
    e["splitItems"] = [split("s1", 7000, [tag(G1, T_SUMMER)]), split("s2", 3000, [tag(G1, T_WINTER)])]
    result = run([e])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 7000, ("L1", "tagWinter", "2026-11-30"): 3000}


def test_a_refund_is_negative_and_attributed_by_its_own_tags_and_day():
    refund = entry("r1", -2500, tags=[tag(G1, T_WINTER)], performedAt="2026-12-02T23:59:59+00:00")
    result = run([entry("e1", 4000), refund])
    assert spent(result)[("L1", "tagWinter", "2026-12-02")] == -2500
    assert result.counts["refunds"] == 1


def test_a_credit_note_reduces_spend_whatever_its_sign():
    result = run([entry("e1", 4000), entry("c1", 1500, family="CREDIT_NOTE"), entry("c2", -500, family="CREDIT_NOTE")])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 4000 - 1500 - 500}


@pytest.mark.parametrize("status", ["CANCELLED", "REJECTED", "ERROR"])
def test_void_statuses_count_as_nothing(status):
    result = run([entry("e1", 1000, status=status)])
    assert result.attributed == [] and result.counts[f"status:{status}"] == 1


@pytest.mark.parametrize("status", ["DRAFT", "PENDING", "COMPLETED", "COMPLETED_EXTERNALLY"])
def test_live_statuses_count(status):
    assert spent(run([entry("e1", 1000, status=status)])) == {("L1", "tagSummer", "2026-11-30"): 1000}


def test_a_deleted_entry_counts_as_nothing():
    result = run([entry("e1", 1000, deletedAt="2026-11-30T12:00:00Z"), entry("e2", 300)])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 300} and result.counts["deleted"] == 1


@pytest.mark.parametrize("family", ["WALLET", "BALANCE_AMENDMENT", "BILL_INVOICE_PAYMENT", "CASHBACK", "REIMBURSEMENT"])
def test_other_families_never_count(family):
    result = run([entry("e1", 1000, family=family)])
    assert result.attributed == [] and result.counts[f"family_not_counted:{family}"] == 1


@pytest.mark.parametrize("family", ["CARD_PURCHASE", "OUT_OF_POCKET", "BILL_INVOICE", "PER_DIEM", "MILEAGE"])
def test_the_default_families_count(family):
    assert spent(run([entry("e1", 1000, family=family)])) == {("L1", "tagSummer", "2026-11-30"): 1000}


def test_families_are_configurable_but_never_to_count_wallet_moves():
    result = run([entry("e1", 1000, family="MILEAGE"), entry("e2", 50)], families=["CARD_PURCHASE"])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 50}
    with pytest.raises(ConfigurationError, match="BILL_INVOICE_PAYMENT"):
        run([], families=["BILL_INVOICE", "BILL_INVOICE_PAYMENT"])


def test_unknown_families_are_noted_per_family_and_skipped():
    result = run([entry("e1", 1000, family="CRYPTO"), entry("e2", 1000, family="CRYPTO"), entry("e3", 7)])
    assert dict(result.unknown_families) == {"CRYPTO": 2}
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 7}


def test_tags_in_two_social_groups_are_quarantined_with_the_reason():
    result = run([entry("e1", 1000, tags=[tag(G1, T_SUMMER), tag(G2, T_L2)])])
    assert result.attributed == [] and result.untagged == []
    assert "two ghl-social groups" in result.quarantined[0]["reason"]
    assert "ghl-social-L1" in result.quarantined[0]["reason"] and "ghl-social-L2" in result.quarantined[0]["reason"]


def test_a_split_in_two_groups_is_quarantined_alone():
    e = entry("e1", 1000)
    e["splitItems"] = [split("s1", 600, [tag(G1, T_SUMMER), tag(G2, T_L2)]), split("s2", 400, [tag(G2, T_L2)])]
    result = run([e])
    assert spent(result) == {("L2", "tagL2", "2026-11-30"): 400}
    assert [q["split_id"] for q in result.quarantined] == ["s1"]


def test_a_tag_of_another_group_is_not_a_second_group():
    result = run([entry("e1", 1000, tags=[tag(OTHER, T_OTHER), tag(G1, T_SUMMER)])])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 1000}


def test_the_i_dont_know_tag_is_untagged():
    result = run([entry("e1", 900, tags=[tag(G1, UNKNOWN_TAG), tag(G2, UNKNOWN_TAG)], note="x")])
    assert result.attributed == [] and result.quarantined == []
    assert [(u["entry_id"], u["amount_minor"], u["note"]) for u in result.untagged] == [("e1", 900, "x")]


def test_archived_and_duplicate_tag_copies_count_for_the_tag_code():
    result = run([entry("e1", 100, tags=[tag(G1_DUP, T_SUMMER_ARCHIVED)]), entry("e2", 200)])
    assert spent(result) == {("L1", "tagSummer", "2026-11-30"): 300}


def test_a_foreign_currency_amount_is_quarantined_never_converted():
    e = entry("e1", 1000)
    e["totalBillValue"] = money(1000, "USD")
    result = run([e])
    assert result.attributed == [] and "USD" in result.quarantined[0]["reason"]
    assert "EUR" in result.quarantined[0]["reason"]


def test_a_missing_total_bill_value_is_quarantined():
    e = entry("e1", 1000)
    del e["totalBillValue"]
    result = run([e])
    assert result.attributed == [] and result.quarantined[0]["reason"] == "totalBillValue is missing"


@pytest.mark.parametrize("minors", [65.8, "6580", True, None])
def test_a_non_integer_amount_is_quarantined_not_rounded(minors):
    e = entry("e1")
    e["totalBillValue"] = {"currency": "EUR", "minors": minors}
    result = run([e])
    assert result.attributed == [] and "not an integer" in result.quarantined[0]["reason"]


def test_the_day_is_the_utc_date_of_performed_at():
    e = entry("e1", 100, performedAt="2026-12-01T01:30:00+03:00")
    assert spent(run([e])) == {("L1", "tagSummer", "2026-11-30"): 100}


def test_the_window_is_start_inclusive_end_exclusive():
    window = (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    entries = [
        entry("in", 1, performedAt="2026-11-30T00:00:00Z"),
        entry("out", 10, performedAt="2026-12-01T00:00:00Z"),
        entry("before", 100, performedAt="2026-11-29T23:59:59.999Z"),
    ]
    result = run(entries, window=window)
    assert [r["entry_id"] for r in result.attributed] == ["in"] and result.counts["outside_window"] == 2


def test_location_id_inverts_group_code():
    assert location_of(group_code("abcDEF123")) == "abcDEF123"
    assert location_of("cost-centre") is None


def test_daily_sums_per_tag_and_day_with_integer_amounts():
    e = entry("e1", 10000)
    e["splitItems"] = [split("s1", 7000, [tag(G1, T_SUMMER)]), split("s2", 3000, [tag(G1, T_SUMMER)])]
    frame = daily(run([e, entry("e2", 1), entry("r1", -1, family="CREDIT_NOTE")]).attributed)
    assert frame.to_dict("records") == [
        {
            "company_id": COMPANY,
            "location_id": "L1",
            "tag_code": "tagSummer",
            "day": "2026-11-30",
            "currency": "EUR",
            "amount_minor": 10000,
            "entries": 3,
        }
    ]
    assert str(frame["amount_minor"].dtype) == "int64"
    assert str(daily([])["amount_minor"].dtype) == "int64"


def test_a_tag_of_our_group_missing_from_the_listing_is_quarantined_not_guessed():
    stray = "00000000-0000-4000-9000-0000000000ff"
    result = run([entry("e1", 1000, tags=[tag(G1, stray)])])
    assert result.attributed == [] and result.untagged == []
    assert stray in result.quarantined[0]["reason"] and "ghl-social-L1" in result.quarantined[0]["reason"]
