"""Task bodies of the spend DAG (``ghl_pleo_spend_sync``): the run's window from its data interval, the spend read
and the metadata write. The location list and the summary are the shared ones in :mod:`ghl_pleo.tasks`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ghl_pleo.config import load_mapping
from ghl_pleo.tasks import _pleo, fails_fast, run_params, sync_run

log = logging.getLogger("ghl_pleo.tasks")


def _window(config):
    from airflow.sdk import get_current_context

    from ghl_pleo.flows.spend import SpendWindow

    ctx = get_current_context()
    window = SpendWindow.for_interval(ctx["data_interval_start"], config.spend.lookback_days)
    log.info("Spend window %s (the run's day %s, lookback %d days)", window.label(), window.day, window.lookback)
    return ctx, window


@fails_fast
def sync_spend() -> dict:
    """Every Pleo company in use: one search per window, the days replaced, one ledger row per location."""
    from ghl_pleo.flows.spend import sync_spend as sync

    config = load_mapping()
    ctx, window = _window(config)
    locations = ctx["ti"].xcom_pull(task_ids="list_locations", default=None) or []
    params = run_params()
    run = sync_run(params)
    return sync(run, _pleo(params, run.warehouse), config, locations, window, datetime.now(UTC).date())


@fails_fast
def write_spend_metadata() -> dict:
    from ghl_pleo.flows.spend_metadata import write_spend_metadata as write

    config = load_mapping()
    ctx, window = _window(config)
    locations = ctx["ti"].xcom_pull(task_ids="list_locations", default=None) or []
    params = run_params()
    run = sync_run(params)
    return write(run, _pleo(params, run.warehouse), config, locations, window.day)
