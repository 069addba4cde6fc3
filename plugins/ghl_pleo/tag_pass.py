"""The single streaming pass of :func:`~ghl_pleo.transform.prepare_tags` over staged GHL tag records: row rules,
the dedup of ids read twice, and the rows kept column by column (no payload is held). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from ghl_pleo.config import MappingConfig
from ghl_pleo.tag_rules import (
    clean_name,
    coerce_bool,
    fingerprint,
    name_reason,
    rejection,
    timestamp_rule,
    utc_seconds,
)


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
    updated: float,
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
        utc_seconds(p.get("createdAt")),
        updated,
        fingerprint(p),
    )


def read_records(
    raw: pd.DataFrame | Iterable[tuple],
    config: MappingConfig,
    now: datetime,
    early: list[dict],
    columns: list[list],
    dropped: set[int],
    late: dict[int, dict],
    repeated: set[str] | None = None,
) -> tuple[int, int]:
    """The single pass of :func:`~ghl_pleo.transform.prepare_tags`: fill ``early``, ``columns``, ``dropped`` and
    ``late`` in place.

    Returns ``(rows read, distinct (location, _id) pairs kept)``. The dedup index lives only
    for the pass, holds no payloads, and only the ``repeated`` ids when they are given.
    """
    tolerance_s = config.future_tolerance_minutes * 60
    read = once = 0  # once: ids outside ``repeated`` (each comes once: no index entry)
    # location -> tag id -> the row index of its kept copy, or -1 - read position for a rejected one: one int
    # per id (the copy's updatedAt is in its row, or in ``late_updated``), no payloads.
    winners: dict[str, dict[str, int]] = {}
    late_updated: dict[int, float] = {}
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
        updated = utc_seconds(payload.get("updatedAt"))  # NaN when not a timestamp (then rejected)
        if repeated is not None and tag_id not in repeated:
            once += 1
            outcome = _prepare_one(shared(location_id), tag_id, payload, updated, config, now, tolerance_s)
            _keep(outcome, order, updated, columns, late, late_updated, shared)
            continue
        seen = winners.setdefault(location_id, {})
        held = seen.get(tag_id)
        if held is not None:
            # read order only grows, so a tie goes to this later copy
            if _later(columns[7][held] if held >= 0 else late_updated[-1 - held], updated):
                continue  # an earlier copy of this id is newer
            if held >= 0:
                dropped.add(held)
            else:
                late.pop(-1 - held)
                del late_updated[-1 - held]
        outcome = _prepare_one(shared(location_id), tag_id, payload, updated, config, now, tolerance_s)
        seen[tag_id] = _keep(outcome, order, updated, columns, late, late_updated, shared)
    return read, once + sum(len(seen) for seen in winners.values())


def _keep(
    outcome: tuple | dict,
    order: int,
    updated: float,
    columns: list,
    late: dict[int, dict],
    late_updated: dict[int, float],
    shared: _Shared,
) -> int:
    """Keep one record's outcome: a row in ``columns`` (returns its index) or a rejection in ``late`` (returns
    ``-1 - order``: the dedup index's entry for it)."""
    if isinstance(outcome, tuple):
        row = len(columns[0])
        for i, (column, value) in enumerate(zip(columns, outcome, strict=True)):
            column.append(shared(value) if i == 5 else value)  # createdBy: a few users, 100,000 tags
        return row
    late[order], late_updated[order] = outcome, updated
    return -1 - order


def _later(kept: float, new: float) -> bool:
    """Whether the copy kept so far is newer than a new one (NaN, no timestamp, is oldest; a tie goes to the new)."""
    return not math.isnan(kept) and (math.isnan(new) or kept > new)


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
