"""Health from the run ledger: loading the dashboard's numbers, the stale-sync check and its alert, the retention.

Reads only the warehouse (``sync_location_runs``, ``sync_run_events``, ``stale_alerts``). The numbers are
computed by the pure functions of :mod:`ghl_pleo.health_numbers` over ledger rows, so they can be checked on a
seeded ledger without Airflow. Dry runs are left out of every number: they write nothing, so they neither count as
syncs nor as failures.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

import pandas as pd

from ghl_pleo.alerts import runbook_link
from ghl_pleo.constants import SPEND_DAG_ID, STATISTICS_DAG_ID, TAGS_DAG_ID
from ghl_pleo.health_numbers import WINDOWS, freshness, health_document, prepare
from ghl_pleo.warehouse import Warehouse

log = logging.getLogger("ghl_pleo.health")
# The spend DAG is daily like statistics: a location without a successful spend run for 36 h is stale too.
DEFAULT_STALE_HOURS = {TAGS_DAG_ID: 3.0, STATISTICS_DAG_ID: 36.0, SPEND_DAG_ID: 36.0}
STALE_ENV = {
    TAGS_DAG_ID: "GHL_PLEO_STALE_HOURS_TAGS",
    STATISTICS_DAG_ID: "GHL_PLEO_STALE_HOURS_STATISTICS",
    SPEND_DAG_ID: "GHL_PLEO_STALE_HOURS_SPEND",
}
RETENTION_ENV = "GHL_PLEO_LEDGER_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90.0


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Environment variable {name} must be a number, got {raw!r}.") from None
    if value <= 0:
        raise ValueError(f"Environment variable {name} must be above 0, got {raw!r}.")
    return value


def stale_hours() -> dict[str, float]:
    """Hours without a successful sync before a location is stale, per DAG (env overrides the 3 h / 36 h / 36 h)."""
    return {dag: _env_number(STALE_ENV[dag], hours) for dag, hours in DEFAULT_STALE_HOURS.items()}


def retention_days() -> float:
    return _env_number(RETENTION_ENV, DEFAULT_RETENTION_DAYS)


# reading the ledger ----------------------------------------------------------------------------
def load_ledger(warehouse: Warehouse, since: datetime) -> pd.DataFrame:
    """Real (not dry) ledger rows started since ``since``, typed: ``start``/``end`` timestamps, numbers."""
    return prepare(warehouse.health.runs_since(since))


def load_last_success(warehouse: Warehouse) -> pd.DataFrame:
    """Per DAG and location: the last successful real sync, the first time it was seen, the last status."""
    return warehouse.health.last_successes()


def health(warehouse: Warehouse, now: datetime | None = None, hours: dict[str, float] | None = None) -> dict:
    """Everything the dashboard shows, as JSON-ready data (the ``/api/health`` document)."""
    now = now or datetime.now(UTC)
    hours = hours or stale_hours()
    frame = load_ledger(warehouse, now - max(WINDOWS.values()))
    return health_document(frame, load_last_success(warehouse), now, hours)


# stale-sync alerts -----------------------------------------------------------------------------
def stale_to_alert(
    fresh: list[dict], alerted: dict[tuple[str, str], str], configured: list[str] | None = None
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Which stale locations to alert now, and which alert records to drop (their stale period is over).

    ``alerted`` maps (dag, location) to the last success an alert was already sent for: one stale period is
    one alert. ``configured`` (the ``ghl_location_ids`` list, when set) leaves out locations no longer synced.
    """
    keep = set(configured) if configured else None
    new, over = [], []
    for f in fresh:
        key = (f["dag_id"], f["location_id"])
        if keep is not None and f["location_id"] not in keep:
            continue
        marker = f["last_success_at"] or ""
        if f["stale"]:
            if alerted.get(key) != marker:
                new.append(f)
        elif key in alerted:
            over.append(key)
    return new, over


def stale_alert_text(new: list[dict]) -> tuple[str, str]:
    by_dag: dict[str, list[dict]] = {}
    for f in new:
        by_dag.setdefault(f["dag_id"], []).append(f)
    parts = [f"{dag_id}: {len(items)}" for dag_id, items in sorted(by_dag.items())]
    subject = f"[ghl-pleo] {len(new)} location(s) not synced within the stale limit ({', '.join(parts)})"
    lines = [
        subject,
        "",
        "No successful sync for longer than the limit (one alert per stale period; the next "
        "one only after the location has synced again and gone stale again).",
    ]
    for dag_id, items in sorted(by_dag.items()):
        lines += ["", f"{dag_id} (stale after {items[0]['stale_after_hours']:g} h):"]
        for f in items:
            last = (
                f"last success {f['last_success_at']} ({f['hours_since_success']:.1f} h ago)"
                if f["last_success_at"]
                else "never synced successfully"
            )
            lines.append(f"- location {f['location_id']}: {last}; last run started {f['last_run_at']}")
    lines += [
        "",
        "What to do: open the DAG's latest runs in the Airflow UI (is it paused, failing, or not "
        f"scheduled?), then the health dashboard (Browse > GHL-Pleo health). Runbook: {runbook_link('stale')}",
    ]
    return subject, "\n".join(lines)


def check_stale(
    warehouse: Warehouse,
    now: datetime | None = None,
    hours: dict[str, float] | None = None,
    configured: list[str] | None = None,
    send=None,
) -> dict:
    """Alert (through ``send(subject, body)``) the locations that went stale since the last check; once each."""
    now = now or datetime.now(UTC)
    fresh = freshness(load_last_success(warehouse), now, hours or stale_hours())
    alerted = warehouse.health.stale_alerts()
    new, over = stale_to_alert(fresh, alerted, configured)
    channels: list[str] = []
    if new:
        subject, body = stale_alert_text(new)
        log.warning("%s", body)
        channels = send(subject, body) if send else []
    # a new period replaces its row; an ended one loses it
    warehouse.health.record_stale_alerts(
        [(f["dag_id"], f["location_id"], f["last_success_at"] or "") for f in new], over
    )
    still = sum(1 for f in fresh if f["stale"]) - len(new)
    log.info(
        "Stale check: %d location(s) checked, %d newly stale (alerted through %s), %d still stale (alerted "
        "before), %d recovered",
        len(fresh),
        len(new),
        ", ".join(channels) or "no channel",
        max(still, 0),
        len(over),
    )
    return {
        "checked": len(fresh),
        "alerted": [f"{f['dag_id']}:{f['location_id']}" for f in new],
        "still_stale": max(still, 0),
        "recovered": len(over),
    }
