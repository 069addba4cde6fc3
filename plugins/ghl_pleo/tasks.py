"""Task bodies shared by the DAG files; each builds its hooks and store and calls one step.

DAG files import this module inside their tasks, never at parse time.
"""
from __future__ import annotations

import logging
from typing import Any

from ghl_pleo.config import load_mapping
from ghl_pleo.warehouse import Warehouse

log = logging.getLogger("ghl_pleo.tasks")


def _context() -> tuple[Any, str, str]:
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    return ctx, ctx["dag"].dag_id, ctx["run_id"]


def run_params() -> dict:
    """The run's params (trigger form or ``--conf``): ``dry_run``, ``locations``, ``full_refresh``."""
    from airflow.sdk import get_current_context

    params = get_current_context().get("params") or {}
    locations = params.get("locations") or []
    if isinstance(locations, str):  # a comma-separated string typed into the form
        locations = [v for v in (x.strip() for x in locations.split(",")) if v]
    return {"dry_run": _flag(params.get("dry_run")), "locations": list(locations),
            "full_refresh": _flag(params.get("full_refresh"))}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _pleo(params: dict):
    from ghl_pleo.hooks.pleo import PleoHook

    if params["dry_run"]:
        log.warning("DRY RUN: Pleo is read, never written; the change log and the summary show the plan.")
    return PleoHook(dry_run=params["dry_run"])


def _warehouse() -> Warehouse:
    warehouse = Warehouse()
    warehouse.apply_schema()
    return warehouse


def list_locations() -> list[dict]:
    """The locations to sync (variable ``ghl_location_ids``, else discovery), with their names."""
    from airflow.sdk import Variable

    from ghl_pleo.hooks.ghl import GhlHook
    from ghl_pleo.sync import resolve_locations

    load_mapping()  # a broken mapping file fails here, before any write
    params = run_params()
    if params["dry_run"]:
        log.warning("DRY RUN: nothing will be written to Pleo.")
    return _fail_fast(resolve_locations, GhlHook(), Variable.get("ghl_location_ids", default=None),
                      only=params["locations"])


def ensure_groups(locations: list[dict]) -> list[dict]:
    from ghl_pleo.sync import ensure_groups as ensure

    ctx, dag_id, run_id = _context()
    params = run_params()
    return _fail_fast(ensure, _pleo(params), locations, load_mapping(), _warehouse(), dag_id, run_id,
                      report_orphans=not params["locations"], try_number=ctx["ti"].try_number)


def _fail_fast(fn, *args, **kwargs):
    """Run a step; errors that a retry cannot fix (data quality, drift guard) fail the task without its retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from ghl_pleo.errors import GhlPleoError

    try:
        return fn(*args, **kwargs)
    except GhlPleoError as exc:
        if exc.fail_fast:
            raise AirflowFailException(f"[{exc.kind}] {exc}") from exc
        raise


def sync_location_tags(location: dict) -> dict:
    from ghl_pleo.hooks.ghl import GhlHook
    from ghl_pleo.sync import sync_location_tags as sync

    ctx, dag_id, run_id = _context()
    ctx["location_id"] = location["location_id"]  # names the mapped task instance in the UI
    release = (ctx.get("params") or {}).get("release_archive_guard") or []
    released = location["location_id"] in release or "all" in release
    params = run_params()
    return _fail_fast(sync, location, ghl=GhlHook(), pleo=_pleo(params), warehouse=_warehouse(),
                      config=load_mapping(), dag_id=dag_id, run_id=run_id, try_number=ctx["ti"].try_number,
                      release_archive_guard=released, full_refresh=params["full_refresh"])


def fetch_statistics(location: dict) -> dict:
    from ghl_pleo.hooks.ghl import GhlHook
    from ghl_pleo.statistics import Window
    from ghl_pleo.stats_sync import fetch_location_statistics

    ctx, dag_id, run_id = _context()
    ctx["location_id"] = location["location_id"]
    window = Window.for_interval(ctx["data_interval_start"], ctx["data_interval_end"])
    log.info("Statistics window %s .. %s (previous: %s)", window.as_range()["startDate"],
             window.as_range()["endDate"], window.previous().as_range())
    return _fail_fast(fetch_location_statistics, location["location_id"], window=window, ghl=GhlHook(),
                      warehouse=_warehouse(), config=load_mapping(), dag_id=dag_id, run_id=run_id,
                      try_number=ctx["ti"].try_number, dry_run=run_params()["dry_run"])


def write_statistics_metadata() -> dict:
    from ghl_pleo.stats_sync import write_statistics_metadata as write

    ctx, dag_id, run_id = _context()
    locations = ctx["ti"].xcom_pull(task_ids="list_locations", default=None) or []
    return write(_pleo(run_params()), locations, warehouse=_warehouse(), config=load_mapping(), dag_id=dag_id,
                 run_id=run_id, try_number=ctx["ti"].try_number)


def summarize(locations_task: str) -> dict:
    """Print the run summary; fail the run, naming every failed location, if any failed."""
    from ghl_pleo.summary import run_summary

    ctx, dag_id, run_id = _context()
    locations = ctx["ti"].xcom_pull(task_ids=locations_task, default=None)
    expected = [loc["location_id"] for loc in (locations or [])]
    warehouse = _warehouse()
    text, failed = run_summary(warehouse, dag_id, run_id, expected)
    print(text)
    if locations is None:
        failed = [{"location_id": "*", "error_kind": "not_run",
                   "error": f"task {locations_task} failed: no location was synced; see its log"}]
    if failed:
        from ghl_pleo.alerts import build_alert, log_url_for, send_alert

        subject, body = build_alert(dag_id, run_id, failed, len(expected), log_url_for(dag_id, run_id))
        channels = send_alert(subject, body)
        log.info("Alert sent through %s", ", ".join(channels) or "no channel")
    if locations is None:
        raise RuntimeError(f"No locations were synced: task {locations_task} failed; see its log.")
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(expected)} locations failed: "
                           + "; ".join(f"{f['location_id']} ({f['error_kind']})" for f in failed))
    return {"locations": len(expected), "failed": 0}


def check_stale_syncs() -> dict:
    """Alert, once per stale period, the locations with no successful sync for longer than their DAG's limit."""
    from airflow.sdk import Variable

    from ghl_pleo.alerts import send_alert
    from ghl_pleo.health import check_stale
    from ghl_pleo.sync import parse_location_ids

    raw = Variable.get("ghl_location_ids", default=None)
    configured = parse_location_ids(raw) if raw not in (None, "") else None
    return check_stale(_warehouse(), configured=configured, send=send_alert)


def cleanup_ledger() -> dict:
    """Delete ledger, change-log, rejected-record and event rows past the retention (GHL_PLEO_LEDGER_RETENTION_DAYS)."""
    from ghl_pleo.health import retention_days

    days = retention_days()
    deleted = _warehouse().cleanup(days)
    log.info("Ledger retention %g days: deleted %s", days, deleted)
    return deleted
