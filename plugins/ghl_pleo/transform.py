"""Pure transforms from GHL records to Pleo records (pandas; no Airflow, no network).

Each function takes a small frame and returns a frame, so each is tested on a
few hand-written rows.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ghl_pleo.config import MappingConfig

ZWJ = "\u200d"
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


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("So", "Sk")
        or 0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or cp in (0xFE0F, 0x20E3)
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
    )


def clean_name(raw: Any, max_length: int) -> tuple[str | None, str | None]:
    """Normalise a GHL tag name for Pleo; return ``(name, None)`` or ``(None, rule)``.

    NFC; every whitespace character (tabs, newlines, no-break spaces) becomes a
    space; control (Cc) and format (Cf) characters are removed, except a
    zero-width joiner between two emoji; runs of spaces collapse to one; the
    ends are trimmed. Rules: ``name_not_text``, ``empty_name``, ``name_too_long``.
    """
    if not isinstance(raw, str):
        return None, "name_not_text"
    text = unicodedata.normalize("NFC", raw)
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in (ZWJ,):
            continue
        if ch == ZWJ:
            prev = out[-1] if out else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if not (prev and nxt and _is_emoji(prev) and _is_emoji(nxt)):
                continue
        out.append(ch)
    name = " ".join(part for part in "".join(out).split(" ") if part)
    if not name:
        return None, "empty_name"
    if len(name) > max_length:
        return None, "name_too_long"
    return name, None


def coerce_bool(value: Any) -> bool | None:
    """``deleted`` as GHL should send it (bool), or as a "true"/"false" string; None when it is neither."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def iso_utc(value: Any) -> str | None:
    """A GHL timestamp as ISO-8601 UTC with a ``Z`` and whole seconds (``2026-11-01T08:00:00Z``), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(record: dict) -> str:
    """Changes when anything we map from a tag changes: drives the "new or changed" detail fetch."""
    keys = ("tag", "deleted", "createdBy", "createdAt", "updatedAt", "locationId")
    blob = json.dumps({k: record.get(k) for k in keys}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


@dataclass
class PreparedTags:
    tags: pd.DataFrame  # TAG_COLUMNS, one row per (location, tag), ready to load
    rejected: pd.DataFrame  # REJECT_COLUMNS
    read: int  # raw rows read
    duplicates: int  # rows dropped as repeats of an _id seen in the same read


def _raw_excerpt(value: Any, limit: int = 500) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:limit]


def _timestamp_rule(value: Any, now: datetime, tolerance_s: float, field: str) -> tuple[str, str] | None:
    iso = iso_utc(value)
    if iso is None:
        return "invalid_timestamp", f"{field} is {value!r}, not an ISO-8601 date-time"
    if datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() > now.timestamp() + tolerance_s:
        return "future_timestamp", f"{field} {iso} is in the future"
    return None


def _records(raw: pd.DataFrame | Iterable[tuple]) -> Iterable[tuple]:
    if isinstance(raw, pd.DataFrame):
        return raw[["location_id", "page_no", "position", "payload"]].itertuples(index=False, name=None)
    return raw


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
        return {
            "location_id": location_id,
            "record_key": tag_id,
            "rule": "invalid_deleted",
            "reason": f"deleted is {p.get('deleted')!r}, expected true or false",
            "raw_value": _raw_excerpt(p.get("deleted")),
        }
    bad_time = _timestamp_rule(p.get("updatedAt"), now, tolerance_s, "updatedAt") or (
        _timestamp_rule(p.get("createdAt"), now, tolerance_s, "createdAt") if p.get("createdAt") is not None else None
    )
    if bad_time:
        return {
            "location_id": location_id,
            "record_key": tag_id,
            "rule": bad_time[0],
            "reason": bad_time[1],
            "raw_value": _raw_excerpt(p.get("updatedAt")),
        }
    name, rule = clean_name(p.get("tag"), config.max_name_length)
    if rule:
        reason = {
            "name_not_text": f"name is {type(p.get('tag')).__name__}, not text",
            "empty_name": "nothing visible is left of the name after normalisation",
            "name_too_long": f"name is longer than {config.max_name_length} characters",
        }[rule]
        return {
            "location_id": location_id,
            "record_key": tag_id,
            "rule": rule,
            "reason": reason,
            "raw_value": _raw_excerpt(p.get("tag")),
        }
    created_by = p.get("createdBy") if isinstance(p.get("createdBy"), str) else None
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
    columns: list[list] = [[] for _ in TAG_COLUMNS]  # the rows to load, column by column
    dropped: set[int] = set()  # rows replaced by a newer copy of their id
    late: dict[int, dict] = {}  # read position -> rejection of a kept record
    read, kept = _read_records(raw, config, now, early, columns, dropped, late)
    duplicates = read - len(early) - kept
    tags = pd.DataFrame(dict(zip(TAG_COLUMNS, columns, strict=True)), columns=TAG_COLUMNS)
    del columns
    if dropped:
        tags = tags.drop(index=sorted(dropped)).reset_index(drop=True)
    tags["archived"] = tags["archived"].astype(bool)
    rejected = early + [late[k] for k in sorted(late)]
    return PreparedTags(
        tags=tags, rejected=pd.DataFrame(rejected, columns=REJECT_COLUMNS), read=read, duplicates=duplicates
    )


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
    # location -> tag id -> (updatedAt, read position, row index or -1 for a rejection): small, no payloads.
    winners: dict[str, dict[str, tuple[str, int, int]]] = {}
    for order, (location_id, page_no, position, payload) in enumerate(_records(raw)):
        read += 1
        if not isinstance(payload, dict):
            early.append(
                {
                    "location_id": location_id,
                    "record_key": f"page {page_no} item {position}",
                    "rule": "not_an_object",
                    "reason": f"tag is {type(payload).__name__}, not an object",
                    "raw_value": _raw_excerpt(payload),
                }
            )
            continue
        tag_id = payload.get("_id")
        if not isinstance(tag_id, str) or not tag_id.strip():
            early.append(
                {
                    "location_id": location_id,
                    "record_key": f"page {page_no} item {position}",
                    "rule": "missing_id",
                    "reason": "tag has no _id (the upsert key)",
                    "raw_value": _raw_excerpt(payload),
                }
            )
            continue
        tag_id = tag_id.strip()
        updated = iso_utc(payload.get("updatedAt"))
        seen = winners.setdefault(location_id, {})
        held = seen.get(tag_id)
        if held is not None:
            if (held[0], held[1]) > (updated or "", order):
                continue  # an earlier copy of this id is newer
            if held[2] >= 0:
                dropped.add(held[2])
            else:
                late.pop(held[1])
        outcome = _prepare_one(location_id, tag_id, payload, updated, config, now, tolerance_s)
        if isinstance(outcome, tuple):
            slot = len(columns[0])
            for column, value in zip(columns, outcome, strict=True):
                column.append(value)
        else:
            slot = -1
            late[order] = outcome
        seen[tag_id] = (updated or "", order, slot)
    return read, sum(len(seen) for seen in winners.values())


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
    dims = config.active_dimensions
    if not dims or tags.empty:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    by_id = {r.tag_id: r.payload for r in details.itertuples(index=False)} if len(details) else {}
    rows: list[dict] = []
    for t in tags[~tags["archived"]].itertuples(index=False):
        d = by_id.get(t.tag_id)
        if not isinstance(d, dict):
            continue
        values = {
            "ghl_location": d.get("locationId") if isinstance(d.get("locationId"), str) else None,
            "ghl_created_by": d.get("createdBy") if isinstance(d.get("createdBy"), str) else None,
            "ghl_created_at": iso_utc(d.get("createdAt")),
            "ghl_updated_at": iso_utc(d.get("updatedAt")),
        }
        for dim in dims:
            value = values.get(dim) or config.defaults.get(dim)
            if value:
                rows.append({"code": t.code, "dimension": dim, "value": value})
    return pd.DataFrame(rows, columns=VALUE_COLUMNS)
