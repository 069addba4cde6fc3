"""Pure transforms from GHL records to Pleo records (pandas; no Airflow, no network).

Each function takes a small frame and returns a frame, so each is tested on a
few hand-written rows. The rules for one value or one record (names, booleans,
timestamps, fingerprints, rejection records) are in :mod:`ghl_pleo.tag_rules`.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ghl_pleo.config import MappingConfig
from ghl_pleo.tag_rules import (
    clean_name,
    coerce_bool,
    fingerprint,
    iso_utc,
    name_reason,
    rejection,
    timestamp_rule,
)

TAG_COLUMNS = [
    "location_id",
    "tag_id",
    "code",
    "name",
    "archived",
    "created_by",
    "created_at",
    "updated_at",
    "fingerprint",
]
REJECT_COLUMNS = ["location_id", "record_key", "rule", "reason", "raw_value"]
VALUE_COLUMNS = ["code", "dimension", "value"]


@dataclass
class PreparedTags:
    tags: pd.DataFrame  # TAG_COLUMNS, one row per (location, tag), ready to load
    rejected: pd.DataFrame  # REJECT_COLUMNS
    read: int  # raw rows read
    duplicates: int  # rows dropped as repeats of an _id seen in the same read


def _records(raw: pd.DataFrame | Iterable[tuple]) -> Iterable[tuple]:
    if isinstance(raw, pd.DataFrame):
        return raw[["location_id", "page_no", "position", "payload"]].itertuples(index=False, name=None)
    return raw


def _unusable(location_id: str, page_no: Any, position: Any, payload: Any, rule: str) -> dict:
    """A record rejected before dedup (keyed by where it was read): not an object, or no usable ``_id``."""
    if rule == "not_an_object":
        reason = f"tag is {type(payload).__name__}, not an object"
    else:
        reason = "tag has no _id (the upsert key)"
    return rejection(location_id, f"page {page_no} item {position}", rule, reason, payload)


def _too_long(tag_id: str, created_by: str | None, config: MappingConfig) -> tuple[str, str, str] | None:
    """``(rule, reason, value)`` for an id or value longer than the mapping file allows (Pleo publishes no limit:
    sending it could fail the whole location every hour), or None."""
    if len(tag_id) > config.max_id_length:
        return (
            "id_too_long",
            f"_id is {len(tag_id)} characters, longer than max_id_length {config.max_id_length}",
            tag_id,
        )
    if created_by is not None and len(created_by) > config.max_value_length:
        reason = f"createdBy is {len(created_by)} characters, longer than max_value_length {config.max_value_length}"
        return "value_too_long", reason, created_by
    return None


def _prepare_one(
    location_id: str,
    tag_id: str,
    p: dict,
    updated: str | None,
    config: MappingConfig,
    now: datetime,
    tolerance_s: float,
) -> tuple | dict:
    """One record with a usable id: a row tuple (``TAG_COLUMNS``) ready to load, or a rejection dict."""
    deleted = coerce_bool(p.get("deleted"))
    if deleted is None:
        reason = f"deleted is {p.get('deleted')!r}, expected true or false"
        return rejection(location_id, tag_id, "invalid_deleted", reason, p.get("deleted"))
    bad_time = timestamp_rule(p.get("updatedAt"), now, tolerance_s, "updatedAt") or (
        timestamp_rule(p.get("createdAt"), now, tolerance_s, "createdAt") if p.get("createdAt") is not None else None
    )
    if bad_time:
        return rejection(location_id, tag_id, bad_time[0], bad_time[1], p.get("updatedAt"))
    name, rule = clean_name(p.get("tag"), config.max_name_length)
    if rule:
        reason = name_reason(rule, p.get("tag"), config.max_name_length)
        return rejection(location_id, tag_id, rule, reason, p.get("tag"))
    created_by = p.get("createdBy") if isinstance(p.get("createdBy"), str) else None
    too_long = _too_long(tag_id, created_by, config)
    if too_long:
        return rejection(location_id, tag_id, too_long[0], too_long[1], too_long[2])
    return (
        location_id,
        tag_id,
        tag_id,
        name,
        bool(deleted),
        created_by,
        iso_utc(p.get("createdAt")),
        updated,
        fingerprint(p),
    )


def prepare_tags(
    raw: pd.DataFrame | Iterable[tuple], config: MappingConfig, now: datetime | None = None
) -> PreparedTags:
    """Turn staged GHL tag payloads into Pleo tag records and rejected records.

    One pass, record by record: only the outcome of each tag is kept, never the
    raw payloads, so a location with 100,000 tags can stream through.

    Args:
        raw: a frame with columns ``location_id``, ``page_no``, ``position``,
            ``payload`` (the tag as GHL sent it, a dict), or an iterable of such
            4-tuples in read order.
        config: the mapping rules (name length, future tolerance).
        now: the moment timestamps are checked against (default: the current time).

    Returns:
        The records to load (in read order), the rejected ones (with rule and
        reason), and counts. Every raw row is either in ``tags``, in
        ``rejected``, or counted in ``duplicates``; an ``_id`` seen twice is kept
        once: the newest ``updatedAt``, the later position breaking ties.
    """
    now = now or datetime.now(UTC)
    early: list[dict] = []  # rejected before dedup (no usable id), in read order
    # the rows to load, column by column; the last, the 64-bit fingerprints, in an array (8 bytes each, no objects)
    columns: list = [[] for _ in TAG_COLUMNS[:-1]] + [array("Q")]
    dropped: set[int] = set()  # rows replaced by a newer copy of their id
    late: dict[int, dict] = {}  # read position -> rejection of a kept record
    read, kept = _read_records(raw, config, now, early, columns, dropped, late)
    duplicates = read - len(early) - kept
    tags = _frame(columns)
    if dropped:
        tags = tags.drop(index=sorted(dropped)).reset_index(drop=True)
    tags["archived"] = tags["archived"].astype(bool)
    rejected = early + [late[k] for k in sorted(late)]
    return PreparedTags(
        tags=tags, rejected=pd.DataFrame(rejected, columns=REJECT_COLUMNS), read=read, duplicates=duplicates
    )


def _frame(columns: list[list]) -> pd.DataFrame:
    """The rows to load as a frame, made column by column: each list goes as soon as its column is made (never all
    nine lists beside all nine columns). ``columns`` is emptied."""
    data = {}
    for name in TAG_COLUMNS:
        column = columns.pop(0)
        data[name] = pd.Series(np.array(column, dtype=np.uint64) if isinstance(column, array) else column, copy=False)
    return pd.DataFrame(data, columns=TAG_COLUMNS, copy=False)


def _read_records(
    raw: pd.DataFrame | Iterable[tuple],
    config: MappingConfig,
    now: datetime,
    early: list[dict],
    columns: list[list],
    dropped: set[int],
    late: dict[int, dict],
) -> tuple[int, int]:
    """The single pass of :func:`prepare_tags`: fill ``early``, ``columns``, ``dropped`` and ``late`` in place.

    Returns ``(rows read, distinct (location, _id) pairs kept)``. The dedup index lives only
    for the pass and holds no payloads.
    """
    tolerance_s = config.future_tolerance_minutes * 60
    read = 0
    # location -> tag id -> the row index of its kept copy, or -1 - read position for a rejected one: one int
    # per id (the copy's updatedAt is in its row, or in ``late_updated``), no payloads.
    winners: dict[str, dict[str, int]] = {}
    late_updated: dict[int, str] = {}
    shared = _Shared()
    for order, (location_id, page_no, position, payload) in enumerate(_records(raw)):
        read += 1
        if not isinstance(payload, dict):
            early.append(_unusable(location_id, page_no, position, payload, "not_an_object"))
            continue
        tag_id = payload.get("_id")
        if not isinstance(tag_id, str) or not tag_id.strip():
            early.append(_unusable(location_id, page_no, position, payload, "missing_id"))
            continue
        tag_id = tag_id.strip()
        updated = iso_utc(payload.get("updatedAt"))
        seen = winners.setdefault(location_id, {})
        held = seen.get(tag_id)
        if held is not None:
            # read order only grows, so a tie goes to this later copy
            if (columns[7][held] or "" if held >= 0 else late_updated[-1 - held]) > (updated or ""):
                continue  # an earlier copy of this id is newer
            if held >= 0:
                dropped.add(held)
            else:
                late.pop(-1 - held)
                del late_updated[-1 - held]
        outcome = _prepare_one(shared(location_id), tag_id, payload, updated, config, now, tolerance_s)
        if isinstance(outcome, tuple):
            seen[tag_id] = len(columns[0])
            for i, (column, value) in enumerate(zip(columns, outcome, strict=True)):
                column.append(shared(value) if i == 5 else value)  # createdBy: a few users, 100,000 tags
        else:
            seen[tag_id] = -1 - order
            late[order], late_updated[order] = outcome, updated or ""
    return read, sum(len(seen) for seen in winners.values())


class _Shared:
    """One string object per distinct value (location ids, user ids) instead of one per row; bounded."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if len(self.seen) < self.LIMIT:
            return self.seen.setdefault(value, value)
        return self.seen.get(value, value)


def tag_summary(tags: pd.DataFrame, location_id: str) -> dict:
    """The seed's per-location tags record: ``locationId, tags, lastUpdated``."""
    active = tags[~tags["archived"]] if len(tags) else tags
    last = tags["updated_at"].dropna().max() if len(tags) else None
    return {"locationId": location_id, "tags": int(len(active)), "lastUpdated": last if isinstance(last, str) else None}


def dimension_values(tags: pd.DataFrame, details: pd.DataFrame, config: MappingConfig) -> pd.DataFrame:
    """Per-tag dimension values (strings) for active tags, from tag details.

    Args:
        tags: prepared tags (``TAG_COLUMNS``).
        details: columns ``tag_id`` and ``payload`` (the detail record GHL returned).
        config: ``detail_level`` and ``dimensions`` decide what flows.

    Returns:
        ``code, dimension, value`` rows; no row where the source has no value.
    """
    if not config.active_dimensions or tags.empty:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    by_id = dict(zip(details["tag_id"], details["payload"], strict=True)) if len(details) else {}
    live = tags[~tags["archived"]]
    rows = [
        (code, dim, value)
        for code, tag_id in zip(live["code"], live["tag_id"], strict=True)
        for dim, value in tag_dimension_values(by_id.get(tag_id), config)
    ]
    return pd.DataFrame(rows, columns=VALUE_COLUMNS)


def tag_dimension_values(detail: Any, config: MappingConfig) -> list[tuple[str, str]]:
    """One tag's ``(dimension, value)`` pairs from its detail record (none when it has no record)."""
    dims = config.active_dimensions
    if not dims or not isinstance(detail, dict):
        return []
    values = {
        "ghl_location": detail.get("locationId") if isinstance(detail.get("locationId"), str) else None,
        "ghl_created_by": detail.get("createdBy") if isinstance(detail.get("createdBy"), str) else None,
        "ghl_created_at": iso_utc(detail.get("createdAt")),
        "ghl_updated_at": iso_utc(detail.get("updatedAt")),
    }
    out = []
    for dim in dims:
        value = values.get(dim) or config.defaults.get(dim)
        # a longer value is never sent (the listing's createdBy was checked in prepare_tags; a details answer
        # that differs from it leaves the value out)
        if value and len(value) <= config.max_value_length:
            out.append((dim, value))
    return out
