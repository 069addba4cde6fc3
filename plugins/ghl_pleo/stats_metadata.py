"""Pure transforms for the statistics sync: the statistics record and Pleo's group metadata.

From the combined numbers of :mod:`ghl_pleo.social_stats`: the byte-stable ``metrics`` JSON, the record
per location and day, and the merge of the keys we own into a group's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ghl_pleo.social_stats import Window, fmt_ms, stat_id

OWNED_KEYS = ("metrics", "stat_id", "stats_window", "stats_timestamp", "ghl_location_id")
STAT_COLUMNS = ["statId", "locationId", "metrics", "timestamp"]


def _clean_number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(v, 4)


def metrics_json(window: Window, combined: dict, metrics: Iterable[str], defaults: dict[str, Any]) -> str:
    """The ``metrics`` metadata value: compact JSON with sorted keys, byte-stable for the same input."""
    wanted = list(metrics)
    totals = {}
    for m in wanted:
        if m in combined["totals"]:
            totals[m] = _clean_number(combined["totals"][m])
        elif m in defaults:
            totals[m] = defaults[m]
    change = {m: (None if v is None else _clean_number(v)) for m, v in combined["change"].items() if m in wanted}
    doc = {"window": {"start": fmt_ms(window.start), "end": fmt_ms(window.end)}, "totals": totals, "change": change}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_frame(location_id: str, window: Window, metrics: str) -> pd.DataFrame:
    """One statistics record as a frame (``statId, locationId, timestamp`` and one column per total)."""
    doc = json.loads(metrics)
    return pd.DataFrame(
        [
            {
                "statId": stat_id(location_id, window),
                "locationId": location_id,
                "timestamp": fmt_ms(window.end),
                **doc["totals"],
            }
        ]
    )


def statistics_frame(history: pd.DataFrame) -> pd.DataFrame:
    """The seed's statistics record per location, from the newest history row of each location.

    Args:
        history: columns ``location_id``, ``day``, ``stat_id``, ``window_start``,
            ``window_end``, ``metrics``.

    Returns:
        ``statId, locationId, metrics, timestamp`` (timestamp = the window end).
    """
    if history.empty:
        return pd.DataFrame(columns=STAT_COLUMNS)
    latest = history.sort_values(["location_id", "day"]).groupby("location_id", as_index=False).tail(1)
    return pd.DataFrame(
        {
            "statId": latest["stat_id"].values,
            "locationId": latest["location_id"].values,
            "metrics": latest["metrics"].values,
            "timestamp": latest["window_end"].values,
            "window_start": latest["window_start"].values,
        }
    ).reset_index(drop=True)


def owned_metadata(record: dict) -> dict[str, str]:
    """The group-metadata keys the statistics DAG owns, as strings."""
    return {
        "metrics": record["metrics"],
        "stat_id": record["statId"],
        "stats_window": f"{record['window_start']}/{record['timestamp']}",
        "stats_timestamp": record["timestamp"],
        "ghl_location_id": record["locationId"],
    }


def merge_metadata(current: dict | None, owned: dict[str, str]) -> dict[str, str] | None:
    """Merge our keys into what Pleo holds; keys we do not own are kept. None when nothing would change."""
    current = dict(current or {})
    merged = {**current, **owned}
    return None if merged == current else merged


def requests_between(before: dict, after: dict) -> dict:
    """The requests a hook made between two of its ``RequestStats.as_dict()`` snapshots (by endpoint, total,
    retries), in the ledger's ``requests`` form: what one location's metadata write cost."""
    by_endpoint = {
        k: n - before.get("requests", {}).get(k, 0)
        for k, n in after.get("requests", {}).items()
        if n > before.get("requests", {}).get(k, 0)
    }
    return {
        "requests": by_endpoint,
        "total_requests": sum(by_endpoint.values()),
        "retries": after.get("retries", 0) - before.get("retries", 0),
    }
