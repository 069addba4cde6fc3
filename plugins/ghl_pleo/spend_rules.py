"""What counts as spend, and whose it is: pure rules over accounting entries as Pleo's API returns them (dicts).

What counts (each rule is here so that nothing is counted twice and nothing unspent is counted):

* Families: by default card purchases, out-of-pocket expenses, bills, per diem and mileage (``CARD_PURCHASE``,
  ``OUT_OF_POCKET``, ``BILL_INVOICE``, ``PER_DIEM``, ``MILEAGE``), configurable. A credit note (``CREDIT_NOTE``)
  reduces spend: its amount counts negative whatever its sign. Wallet loads (``WALLET``), balance amendments
  (``BALANCE_AMENDMENT``) and the payment leg of a bill (``BILL_INVOICE_PAYMENT``) never count: they move money
  already counted (the bill) or no spend at all, and configuring them is an error. Other documented families
  (cashback, reimbursements, Pleo's own invoice, overdraft) are skipped and counted per family; a family the
  document does not name is skipped and noted per family (``unknown_families``).
* Statuses DRAFT, PENDING, COMPLETED and COMPLETED_EXTERNALLY count; CANCELLED, REJECTED, ERROR and a deleted entry
  (``deletedAt`` set) count as nothing.
* A refund is a negative amount on a counted family: it keeps its sign and is attributed by its own tags and day.

Whose it is (:func:`attribute`): split items take precedence over the entry's tags, and each split's own
``totalBillValue`` goes to its own tag. Tags are matched by tag id through a :class:`TagLookup` the caller builds from
Pleo's tag listing *with archived tags* (so spend on an archived or duplicate copy still reaches its tag code). The
all-zero tag id ("I don't know") is no tag. A part whose tags fall in two ``ghl-social-*`` groups is quarantined
(it would count twice); so is an amount missing ``totalBillValue`` or in another currency than the company's
(never converted). The day is the UTC date of ``performedAt``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ghl_pleo.errors import ConfigurationError

FAMILIES = (
    "BALANCE_AMENDMENT BILL_INVOICE CARD_PURCHASE CASHBACK CREDIT_NOTE MILEAGE OUT_OF_POCKET OVERDRAFT PER_DIEM "
    "PLEO_INVOICE REIMBURSEMENT WALLET BILL_INVOICE_PAYMENT"
).split()
DEFAULT_FAMILIES = ("CARD_PURCHASE", "OUT_OF_POCKET", "BILL_INVOICE", "PER_DIEM", "MILEAGE", "CREDIT_NOTE")
NEGATED_FAMILIES = frozenset({"CREDIT_NOTE"})
NEVER_COUNTED = frozenset({"WALLET", "BALANCE_AMENDMENT", "BILL_INVOICE_PAYMENT"})
COUNTED_STATUSES = frozenset({"DRAFT", "PENDING", "COMPLETED", "COMPLETED_EXTERNALLY"})
VOID_STATUSES = frozenset({"CANCELLED", "REJECTED", "ERROR"})
UNKNOWN_TAG = "00000000-0000-0000-0000-000000000000"
# ghl_pleo.groups.GROUP_CODE_PREFIX (not imported: that module needs Airflow; a test keeps the two equal)
GROUP_CODE_PREFIX = "ghl-social-"


def counted_families(families: Iterable[str] | None = None) -> frozenset[str]:
    """The families that count (default :data:`DEFAULT_FAMILIES`); a never-counted or unknown one is an error."""
    chosen = tuple(DEFAULT_FAMILIES if families is None else families)
    bad = sorted(f for f in chosen if f in NEVER_COUNTED or f not in FAMILIES)
    if bad:
        raise ConfigurationError(
            f"spend families {bad} cannot count: choose from {sorted(set(FAMILIES) - NEVER_COUNTED)} "
            f"({sorted(NEVER_COUNTED)} never count: they would count money twice or no spend at all)"
        )
    return frozenset(chosen)


def location_of(group_code: Any) -> str | None:
    """``ghl-social-L1`` -> ``L1`` (the inverse of :func:`ghl_pleo.groups.group_code`); None for another group."""
    if not isinstance(group_code, str) or not group_code.casefold().startswith(GROUP_CODE_PREFIX):
        return None
    return group_code[len(GROUP_CODE_PREFIX) :] or None


@dataclass(frozen=True)
class TagLookup:
    """Our tag groups and tags by Pleo id: ``groups`` group id -> location id, ``tags`` tag id -> (location, code).

    Many ids map to one location or code (duplicate groups, archived copies of a tag); other groups are absent.
    """

    groups: dict[str, str] = field(default_factory=dict)
    tags: dict[str, tuple[str, str]] = field(default_factory=dict)
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # location -> tag code -> name (suggestions)


def build_tag_lookup(listing: Iterable[tuple[dict, list[dict]]]) -> TagLookup:
    """From Pleo's listing: ``(group, tags of the group, archived included)`` pairs, every group of the company."""
    groups: dict[str, str] = {}
    tags: dict[str, tuple[str, str]] = {}
    names: dict[str, dict[str, str]] = {}
    for group, group_tags in listing:
        location = location_of(group.get("code"))
        if location is None or not group.get("id"):
            continue
        groups[str(group["id"]).lower()] = location
        for tag in group_tags:
            if tag.get("id") and tag.get("code"):
                tags[str(tag["id"]).lower()] = (location, str(tag["code"]))
                if isinstance(tag.get("name"), str) and not tag.get("archived"):
                    names.setdefault(location, {})[str(tag["code"])] = tag["name"]
    return TagLookup(groups, tags, names)


def performed_at(entry: dict) -> datetime:
    """``performedAt`` in UTC; ValueError when it is not an ISO-8601 date-time (the day is its UTC date)."""
    raw = entry.get("performedAt")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"performedAt is {raw!r}, not an ISO-8601 date-time") from None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def skip_reason(entry: dict, families: frozenset[str]) -> str | None:
    """Why an entry counts as nothing (a count key such as ``status:CANCELLED``), or None when it counts."""
    if entry.get("deletedAt"):
        return "deleted"
    status = entry.get("status")
    if status not in COUNTED_STATUSES:
        return f"status:{status}"
    family = entry.get("family")
    if family not in FAMILIES:
        return f"unknown_family:{family}"
    if family not in families:
        return f"family_not_counted:{family}"
    return None


def tag_target(tags: Any, lookup: TagLookup) -> tuple[tuple[str, str] | None, str | None]:
    """``((location, tag code), None)``, ``(None, None)`` when untagged, or ``(None, reason)`` to quarantine."""
    found: dict[str, tuple[str, str] | None] = {}
    for tag in tags if isinstance(tags, list) else []:
        tag_id = str(tag.get("tagId") or UNKNOWN_TAG).lower() if isinstance(tag, dict) else UNKNOWN_TAG
        group_id = str(tag.get("tagGroupId") or "").lower() if isinstance(tag, dict) else ""
        if tag_id == UNKNOWN_TAG:
            continue  # "I don't know": no tag
        hit = lookup.tags.get(tag_id)
        location = hit[0] if hit else lookup.groups.get(group_id)
        if location is None:
            continue  # a tag of some other group (cost centres, projects...)
        if hit is None:
            return None, f"tag {tag_id} of group ghl-social-{location} is not in Pleo's tag listing"
        found[location] = hit
    if len(found) > 1:
        groups = ", ".join(GROUP_CODE_PREFIX + loc for loc in sorted(found))
        return None, f"tags fall in two ghl-social groups ({groups}): the amount would count twice"
    return (next(iter(found.values())), None) if found else (None, None)
