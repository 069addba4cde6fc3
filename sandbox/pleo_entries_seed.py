"""The seeded accounting entries: every case the spend sync must handle, tagged with the sync's own Pleo tags.

The tags exist only after a sync has created the ``ghl-social-*`` groups, so the set is generated on demand
(``POST /_admin/pleo/entries/generate``) from what Pleo holds then: the groups sorted by code (g1, g2), each
group's unarchived tags in listing order (t1, t2, t3). Same Pleo state, same entries (ids are uuid5 of day and case).

Per day, in order (amounts in minor units of the company currency unless said otherwise; each note is ``sandbox:
<case>``): a card purchase at 00:00:00.000 (the window's first instant), out-of-pocket, a bill split over two tags
(the entry carries a third tag: splits win), a refund (negative, card purchase), a credit note (a positive amount:
it is the family that says it reduces spend), a deleted purchase, a cancelled, a rejected and an errored one, a
purchase in USD with no ``totalBillValue``, one whose ``totalBillValue`` is in EUR (GBP and SEK when the company's
is one of those), an untagged purchase whose note names g1's t1, one tagged with the all-zero "I don't know" tag id,
a wallet load, a balance amendment, the payment leg of the bill, mileage, per diem, an overdraft fee, a purchase
tagged in two ``ghl-social-*`` groups (with two groups), another company's purchase, and a purchase at 23:59:59.999
(the window's last millisecond).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.seed import PLEO_COMPANY_ID, iso

ZERO = "00000000-0000-0000-0000-000000000000"  # Pleo's "I don't know"
OTHER_COMPANY_ID = "0c4e9a2b-6d1f-4b3a-8e5c-2f7a9d1b3c00"
GROUP_PREFIX = "ghl-social-"
NAMESPACE = uuid.UUID("5f0d6c2a-9b1e-4c7d-8a3f-1e2d3c4b5a69")


def complete(entry: dict) -> dict:
    """An entry with every field the document requires (defaults for the missing ones)."""
    at = entry.get("performedAt") or iso(datetime.now(UTC))
    out = {
        "id": str(uuid.uuid4()),
        "companyId": PLEO_COMPANY_ID,
        "createdAt": at,
        "updatedAt": at,
        "performedAt": at,
        "exportStatus": "CREATED",
        "reviewStatus": "NOT_SET",
        "family": "CARD_PURCHASE",
        "status": "COMPLETED",
        "attendees": [],
        "receiptIds": [],
        "splitItems": [],
        "tags": [],
        "transactionValue": {"currency": "DKK", "minors": 0},
        **entry,
    }
    for split in out["splitItems"]:
        split.setdefault("id", str(uuid.uuid4()))
        split.setdefault("createdAt", out["createdAt"])
        split.setdefault("updatedAt", out["updatedAt"])
        split.setdefault("tags", [])
    return out


def social_tags(pleo: dict) -> list[tuple[dict, list[dict]]]:
    """The ``ghl-social-*`` groups (by code) with their unarchived tags (in listing order)."""
    groups = sorted((g for g in pleo["groups"].values() if g["code"].startswith(GROUP_PREFIX)), key=lambda g: g["code"])
    out = []
    for group in groups:
        tags = sorted(
            (t for t in pleo["tags"].values() if t["groupId"] == group["id"] and not t["archived"]),
            key=lambda t: (t["createdAt"], t["id"]),
        )
        if tags:
            out.append((group, tags))
    return out


def _ref(group: dict, tag: dict | str) -> dict:
    return {"tagGroupId": group["id"], "tagId": tag if isinstance(tag, str) else tag["id"]}


def _money(minors: int, currency: str) -> dict:
    return {"currency": currency, "minors": minors}


def _cases(g1: tuple[dict, list[dict]], g2: tuple[dict, list[dict]] | None, cur: str) -> list[tuple[str, dict]]:
    (grp1, tags1), (grp2, tags2) = g1, g2 or g1
    t1, t2, t3 = (tags1 * 3)[:3]
    other = _ref(grp2, tags2[0])
    name = t1.get("name") or t1["code"]
    foreign, other_cur = ("GBP", "SEK") if cur in ("USD", "EUR") else ("USD", "EUR")  # never the company's own

    def buy(minors: int, tags: list[dict], **extra: Any) -> dict:
        return {"tags": tags, "transactionValue": _money(minors, cur), "totalBillValue": _money(minors, cur), **extra}

    cases = [
        ("first instant", buy(12500, [_ref(grp1, t1)], subFamily="IN_STORE")),
        ("out of pocket", buy(4999, [_ref(grp1, t2)], family="OUT_OF_POCKET", status="PENDING")),
        ("split bill", buy(50000, [_ref(grp1, t3)], family="BILL_INVOICE", status="DRAFT")),
        ("refund", buy(-2500, [_ref(grp1, t1)], subFamily="ONLINE")),
        ("credit note", buy(1500, [_ref(grp1, t2)], family="CREDIT_NOTE")),
        ("deleted", buy(7000, [_ref(grp1, t1)], deletedAt=None)),
        ("cancelled", buy(3000, [_ref(grp1, t1)], status="CANCELLED")),
        ("rejected", buy(2000, [_ref(grp1, t2)], status="REJECTED")),
        ("errored", buy(1000, [_ref(grp1, t1)], status="ERROR")),
        ("foreign, no totalBillValue", {"tags": [_ref(grp1, t1)], "transactionValue": _money(2300, foreign)}),
        ("other currency", {**buy(1900, [_ref(grp1, t2)]), "totalBillValue": _money(1900, other_cur)}),
        ("untagged, note names a tag", buy(3300, [], note=f"Boosted posts for {name} on Facebook")),
        ("I don't know", buy(2700, [_ref(grp1, ZERO)])),
        ("wallet load", buy(100000, [], family="WALLET", subFamily="LOAD")),
        ("balance amendment", buy(5000, [_ref(grp1, t1)], family="BALANCE_AMENDMENT", subFamily="LOAD")),
        ("bill payment leg", buy(50000, [_ref(grp1, t3)], family="BILL_INVOICE_PAYMENT")),
        ("mileage", buy(1800, [other], family="MILEAGE", status="COMPLETED_EXTERNALLY")),
        ("per diem", buy(6000, [_ref(grp1, t3)], family="PER_DIEM")),
        ("overdraft fee", buy(900, [], family="OVERDRAFT", subFamily="FEE")),
        ("another company", buy(8800, [_ref(grp1, t1)], companyId=OTHER_COMPANY_ID)),
        ("last millisecond", buy(800, [other])),
    ]
    cases[2][1]["splitItems"] = [
        {"tags": [_ref(grp1, t1)], "totalBillValue": _money(30000, cur), "transactionValue": _money(30000, cur)},
        {"tags": [_ref(grp2, tags2[0])], "totalBillValue": _money(20000, cur), "transactionValue": _money(20000, cur)},
    ]
    if g2 is not None:
        cases.append(("two social groups", buy(4200, [_ref(grp1, t1), other])))
    return cases


def generate(pleo: dict, start: date, days: int, currency: str) -> list[dict]:
    """The seeded entries for ``days`` days from ``start``. Raises ValueError when Pleo holds no social tags."""
    social = social_tags(pleo)
    if not social:
        raise ValueError(f"Pleo holds no {GROUP_PREFIX}* group with tags yet: run a tag sync first")
    if not 1 <= days <= 366:
        raise ValueError("days must be 1 to 366")
    out = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        cases = _cases(social[0], social[1] if len(social) > 1 else None, currency)
        for n, (label, fields) in enumerate(cases):
            at = midnight + timedelta(minutes=45 * n)
            if label == "last millisecond":
                at = midnight + timedelta(days=1, milliseconds=-1)
            for k, split in enumerate(fields.get("splitItems", [])):
                split["id"] = str(uuid.uuid5(NAMESPACE, f"{day}:{n}:{k}"))
            entry = {
                "id": str(uuid.uuid5(NAMESPACE, f"{day}:{n}")),
                "performedAt": iso(at),
                "note": f"sandbox: {label}",
                **fields,
            }
            if "deletedAt" in entry:
                entry["deletedAt"] = iso(at + timedelta(hours=1))
            out.append(complete(entry))
    return out
