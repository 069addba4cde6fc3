"""Pure row rules for GHL tags: name cleaning, boolean and timestamp coercion, fingerprints, rejection records.

Each function looks at one value or one record (no pandas, no Airflow, no network), so
:mod:`ghl_pleo.transform` can apply them in its single streaming pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

ZWJ = "\u200d"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    if raw.isascii() and raw.isprintable():  # most names: no character to normalise, drop or turn into a space
        return _fits(" ".join(part for part in raw.split(" ") if part), max_length)
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
    return _fits(" ".join(part for part in "".join(out).split(" ") if part), max_length)


def _fits(name: str, max_length: int) -> tuple[str | None, str | None]:
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
    ts = utc_datetime(value)
    return None if ts is None else _text(ts)


def utc_seconds(value: Any) -> float:
    """A GHL timestamp as whole POSIX seconds (what :func:`iso_utc` keeps of it), NaN when it is not one: the
    prepared frame's ``created_at`` and ``updated_at`` (8 bytes a tag in a float column, not 73 of text)."""
    ts = utc_datetime(value)
    return math.nan if ts is None else float(int(ts.replace(microsecond=0).timestamp()))


def seconds_text(seconds: float) -> str:
    """POSIX seconds (from :func:`utc_seconds`) as ``2026-11-01T08:00:00Z``."""
    return _text(EPOCH + timedelta(seconds=seconds))


def _text(ts: datetime) -> str:
    """An aware UTC datetime as ``2026-11-01T08:00:00Z`` (four-digit year always, whole seconds)."""
    return ts.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def utc_datetime(value: Any) -> datetime | None:
    """A GHL timestamp as an aware UTC datetime (no zone: UTC), or None when it is not ISO-8601 text."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved out of range by its offset
        return None


def fingerprint(record: dict) -> int:
    """Changes when anything we map from a tag changes: drives the "new or changed" detail fetch.

    The first 64 bits of the SHA-1 of the mapped fields, as an unsigned int (eight bytes in the prepared frame, not
    a 40-character string per tag); :func:`fingerprint_text` is the stored form, the first 16 hex digits of the
    SHA-1 that earlier versions stored whole, so stored fingerprints still match."""
    keys = ("tag", "deleted", "createdBy", "createdAt", "updatedAt", "locationId")
    blob = json.dumps({k: record.get(k) for k in keys}, sort_keys=True, ensure_ascii=False, default=str)
    return int.from_bytes(hashlib.sha1(blob.encode("utf-8")).digest()[:8], "big")


def fingerprint_text(value: Any) -> str:
    """A fingerprint as stored: an int as 16 hex digits; text (a stored SHA-1, 40 hex digits) cut to 16."""
    if isinstance(value, str):
        return value[:16]
    return f"{int(value):016x}"


def raw_excerpt(value: Any, limit: int = 500) -> str:
    """The offending value as text (JSON unless it is a string), cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:limit]


def rejection(location_id: str, record_key: str, rule: str, reason: str, raw: Any) -> dict:
    """One rejected record (``REJECT_COLUMNS``): where it was, the rule it broke, why, and an excerpt."""
    return {
        "location_id": location_id,
        "record_key": record_key,
        "rule": rule,
        "reason": reason,
        "raw_value": raw_excerpt(raw),
    }


def timestamp_rule(value: Any, now: datetime, tolerance_s: float, field: str) -> tuple[str, str] | None:
    """``(rule, reason)`` when ``value`` is not an ISO-8601 date-time or lies in the future (to the whole second, as
    :func:`iso_utc` keeps it); None when it is fine."""
    ts = utc_datetime(value)
    if ts is None:
        return "invalid_timestamp", f"{field} is {value!r}, not an ISO-8601 date-time"
    if ts.replace(microsecond=0).timestamp() > now.timestamp() + tolerance_s:
        return "future_timestamp", f"{field} {_text(ts)} is in the future"
    return None


def name_reason(rule: str, raw: Any, max_length: int) -> str:
    """The reason text for a rule :func:`clean_name` returned."""
    return {
        "name_not_text": f"name is {type(raw).__name__}, not text",
        "empty_name": "nothing visible is left of the name after normalisation",
        "name_too_long": f"name is longer than {max_length} characters",
    }[rule]
