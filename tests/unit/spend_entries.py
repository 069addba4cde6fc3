"""Accounting entries shaped like the accounting-entries document's AccountingEntryV1, for the spend unit tests."""

from __future__ import annotations

from ghl_pleo.spend_rules import UNKNOWN_TAG, build_tag_lookup

COMPANY = "7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00"
G1, G2, G1_DUP, OTHER = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3, 4))
T_SUMMER, T_SUMMER_ARCHIVED, T_WINTER, T_L2, T_OTHER = (f"00000000-0000-4000-9000-00000000000{i}" for i in range(5))


def listing() -> list[tuple[dict, list[dict]]]:
    """Two locations' groups (L1's with a duplicate copy and an archived tag copy) and one group not ours."""
    return [
        (
            {"id": G1, "code": "ghl-social-L1"},
            [
                {"id": T_SUMMER, "code": "tagSummer", "name": "Summer Sale", "archived": False},
                {"id": T_WINTER, "code": "tagWinter", "name": "Winter", "archived": False},
            ],
        ),
        ({"id": G1_DUP, "code": "ghl-social-L1"}, [{"id": T_SUMMER_ARCHIVED, "code": "tagSummer", "archived": True}]),
        ({"id": G2, "code": "ghl-social-L2"}, [{"id": T_L2, "code": "tagL2", "name": "Opening", "archived": False}]),
        ({"id": OTHER, "code": "cost-centre"}, [{"id": T_OTHER, "code": "cc1", "name": "Marketing"}]),
    ]


LOOKUP = build_tag_lookup(listing())


def tag(group: str, tag_id: str) -> dict:
    return {"tagGroupId": group, "tagId": tag_id}


def money(minors, currency: str = "EUR") -> dict:
    return {"currency": currency, "minors": minors}


def entry(entry_id: str, minors=1000, *, tags=None, family="CARD_PURCHASE", status="COMPLETED", **extra) -> dict:
    body = {
        "id": entry_id,
        "companyId": COMPANY,
        "family": family,
        "status": status,
        "performedAt": "2026-11-30T10:00:00Z",
        "tags": [tag(G1, T_SUMMER)] if tags is None else tags,
        "splitItems": [],
        "transactionValue": money(minors),
        "totalBillValue": money(minors),
        "attendees": [],
        "receiptIds": [],
        "exportStatus": "NOT_EXPORTED",
        "reviewStatus": "NOT_SET",
        "createdAt": "2026-11-30T10:00:00Z",
        "updatedAt": "2026-11-30T10:00:00Z",
    }
    body.update(extra)
    return body


def split(split_id: str, minors, tags) -> dict:
    return {"id": split_id, "tags": tags, "totalBillValue": money(minors), "createdAt": "x", "updatedAt": "x"}


__all__ = ["UNKNOWN_TAG"]
