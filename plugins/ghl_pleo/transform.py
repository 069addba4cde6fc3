"""Pure transforms from GHL records to Pleo records (pandas; no Airflow, no network).

Each function takes a small frame and returns a frame, so each is tested on a
few hand-written rows. The rules for one value or one record (names, booleans,
timestamps, fingerprints, rejection records) are in :mod:`ghl_pleo.tag_rules`; the streaming pass that applies
them to each staged record is in :mod:`ghl_pleo.tag_pass`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ghl_pleo.config import MappingConfig
from ghl_pleo.tag_pass import read_records
from ghl_pleo.tag_rules import iso_utc, seconds_text

# created_at and updated_at are whole POSIX seconds (float; NaN: none), fingerprint a uint64: numbers, not text
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
_NUMBERS = {"d": np.float64, "Q": np.uint64}  # the numeric columns' arrays
REJECT_COLUMNS = ["location_id", "record_key", "rule", "reason", "raw_value"]
VALUE_COLUMNS = ["code", "dimension", "value"]


@dataclass
class PreparedTags:
    tags: pd.DataFrame  # TAG_COLUMNS, one row per (location, tag), ready to load
    rejected: pd.DataFrame  # REJECT_COLUMNS
    read: int  # raw rows read
    duplicates: int  # rows dropped as repeats of an _id seen in the same read


def prepare_tags(
    raw: pd.DataFrame | Iterable[tuple],
    config: MappingConfig,
    now: datetime | None = None,
    repeated: set[str] | None = None,
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
        repeated: the (stripped) ids that occur more than once in ``raw``, when the caller knows them (the
            warehouse counts them): only those enter the dedup's index. None: every id does.

    Returns:
        The records to load (in read order), the rejected ones (with rule and
        reason), and counts. Every raw row is either in ``tags``, in
        ``rejected``, or counted in ``duplicates``; an ``_id`` seen twice is kept
        once: the newest ``updatedAt``, the later position breaking ties.
    """
    now = now or datetime.now(UTC)
    early: list[dict] = []  # rejected before dedup (no usable id), in read order
    # the rows to load, column by column; the last, the 64-bit fingerprints, in an array (8 bytes each, no objects)
    columns: list = [[] for _ in TAG_COLUMNS[:-3]] + [array("d"), array("d"), array("Q")]
    dropped: set[int] = set()  # rows replaced by a newer copy of their id
    late: dict[int, dict] = {}  # read position -> rejection of a kept record
    read, kept = read_records(raw, config, now, early, columns, dropped, late, repeated)
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
        numbers = isinstance(column, array)
        data[name] = pd.Series(np.array(column, dtype=_NUMBERS[column.typecode]) if numbers else column, copy=False)
    return pd.DataFrame(data, columns=TAG_COLUMNS, copy=False)


def tag_summary(tags: pd.DataFrame, location_id: str) -> dict:
    """The seed's per-location tags record: ``locationId, tags, lastUpdated``."""
    active = tags[~tags["archived"]] if len(tags) else tags
    last = tags["updated_at"].max() if len(tags) else math.nan  # NaN skipped; all NaN: NaN
    return {
        "locationId": location_id,
        "tags": int(len(active)),
        "lastUpdated": None if math.isnan(last) else seconds_text(last),
    }


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
