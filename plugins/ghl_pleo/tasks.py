"""Task bodies shared by the DAG files: each reads the Airflow context, builds the run context, hooks and
warehouse, and calls one flow step. With ghl_pleo/tasks_batch.py (the batch tasks, locations in threads), the only
modules of the package that know Airflow's task context.

DAG files import this module inside their tasks, never at parse time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ghl_pleo.config import load_mapping
from ghl_pleo.errors import redact
from ghl_pleo.leases import leased
from ghl_pleo.run_context import Hooks, SyncRun
from ghl_pleo.warehouse import Warehouse

log = logging.getLogger("ghl_pleo.tasks")
T = TypeVar("T")


def run_params() -> dict:
    """The run's params (trigger form or ``--conf``): ``dry_run``, ``locations``, ``full_refresh``,
    ``release_archive_guard``."""
    from airflow.sdk import get_current_context

    from ghl_pleo.locations import param_ids

    params = get_current_context().get("params") or {}
    return {
        "dry_run": _flag(params.get("dry_run")),
        "locations": param_ids(params.get("locations")),
        "full_refresh": _flag(params.get("full_refresh")),
        "release_archive_guard": param_ids(params.get("release_archive_guard")),
    }


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def sync_run(params: dict | None = None) -> SyncRun:
    """This task's run context: DAG id, run id, try number, dry-run flag, and the warehouse."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    params = params or run_params()
    return SyncRun(Warehouse(), ctx["dag"].dag_id, ctx["run_id"], ctx["ti"].try_number, params["dry_run"])


def _pleo(params: dict, warehouse: Warehouse):
    from ghl_pleo.hooks.pleo import PleoHook

    if params["dry_run"]:
        log.warning("DRY RUN: Pleo is read, never written; the change log and the summary show the plan.")
    return PleoHook(rate_slots=warehouse.rate_slots, dry_run=params["dry_run"])


def _ghl(warehouse: Warehouse):
    from ghl_pleo.hooks.ghl import GhlHook

    return GhlHook(token_store=warehouse.tokens)


def fails_fast(body: Callable[..., T]) -> Callable[..., T]:
    """A task body whose errors that a retry cannot fix (configuration, authentication, data quality, drift guard:
    ``fail_fast``) fail the task without its retries, wherever in the body they are raised: the mapping file, the
    variable, the params, a connection, a host name that does not resolve."""
    from airflow.sdk.exceptions import AirflowFailException

    from ghl_pleo.errors import GhlPleoError

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return body(*args, **kwargs)
        except GhlPleoError as exc:
            if exc.fail_fast:
                raise AirflowFailException(f"[{exc.kind}] {exc}") from exc
            raise

    return run


def run_step(body: Callable[..., T]) -> Callable[..., T]:
    """A run-level step (the location list, ensure_groups): when it fails, the run's ledger gets a failed row for it
    (its task id, error kind and redacted error), so the alert quotes its message and the dashboard counts the run;
    when a later try succeeds, the row goes. A ledger that cannot be written never hides the step's own error."""

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            out = body(*args, **kwargs)
        except BaseException as exc:
            _ledger_step(body.__name__, exc)
            raise
        _ledger_step(body.__name__, None)
        return out

    return run


def _ledger_step(task_id: str, exc: BaseException | None) -> None:
    from airflow.sdk import get_current_context

    from ghl_pleo.run_context import Hooks
    from ghl_pleo.warehouse.run_rows import RUN_ROW

    try:
        ctx = get_current_context()
        dry = _flag((ctx.get("params") or {}).get("dry_run"))
        run = SyncRun(Warehouse(), ctx["dag"].dag_id, ctx["run_id"], ctx["ti"].try_number, dry)
        if exc is None:
            run.warehouse.ledger.clear_step_failure(run.dag_id, run.run_id)
            return
        with run.location(RUN_ROW, Hooks()) as row:
            row.counts["task"] = task_id
            raise exc
    except BaseException as other:  # noqa: BLE001 - the step's own error (re-raised by the caller) matters more
        if other is not exc:
            log.warning("Task %s: its ledger row could not be written (%s)", task_id, type(other).__name__)


@fails_fast
@run_step
def list_locations() -> list[dict]:
    """The locations to sync (variable ``ghl_location_ids``, else discovery), with their names."""
    from airflow.sdk import Variable

    from ghl_pleo.locations import resolve_locations

    load_mapping()  # a broken mapping file fails here, before any write
    params = run_params()
    if params["dry_run"]:
        log.warning("DRY RUN: nothing will be written to Pleo.")
    return resolve_locations(
        _ghl(Warehouse()), Variable.get("ghl_location_ids", default=None), only=params["locations"]
    )


@fails_fast
@run_step
def ensure_groups(locations: list[dict]) -> list[dict]:
    from ghl_pleo.groups import ensure_groups as ensure

    params = run_params()
    run = sync_run(params)
    pleo = _pleo(params, run.warehouse)
    only = bool(params["locations"])
    return ensure(run, pleo, load_mapping(), locations, report_orphans=not only, isolate_failures=True)


def _run_location(run: SyncRun, location_id: str, hooks: Hooks, step, *args, skip_when_locked: bool, **kwargs) -> dict:
    """One location's step inside its run context, holding the location's lease for this DAG (see
    :func:`ghl_pleo.leases.leased`); the ledger row is closed before Airflow sees an error."""
    with run.location(location_id, hooks) as location_run:
        return leased(location_run, hooks, step, *args, skip_when_locked=skip_when_locked, **kwargs)


@fails_fast
def write_statistics_metadata() -> dict:
    from airflow.sdk import get_current_context

    from ghl_pleo.flows.stats import write_statistics_metadata as write

    locations = get_current_context()["ti"].xcom_pull(task_ids="list_locations", default=None) or []
    params = run_params()
    run = sync_run(params)
    return write(run, _pleo(params, run.warehouse), load_mapping(), locations)


@fails_fast
def summarize(locations_task: str, required: tuple[str, ...] = ()) -> dict:
    """Print the run summary; fail the run, naming every failed location, if any failed.

    ``locations_task`` gives the locations the run was to sync; each of ``required`` (a run-level step such as
    ensure_groups or the metadata write) must have finished, or the run fails too: a run whose work failed is
    never green. The alert is not sent here but by the DAG's failure callback
    (:class:`ghl_pleo.notify.RunFailureNotifier`), so a run is alerted even when this task cannot finish.
    """
    from airflow.sdk import get_current_context

    from ghl_pleo.summary import failures, run_summary, step_failure

    ctx = get_current_context()
    dag_id, run_id, ti = ctx["dag"].dag_id, ctx["run_id"], ctx["ti"]
    locations = ti.xcom_pull(task_ids=locations_task, default=None)
    expected = [loc["location_id"] for loc in (locations or [])]
    warehouse = Warehouse()
    _build_docs(warehouse, dag_id, run_id)
    text, _ = run_summary(warehouse, dag_id, run_id, expected)
    print(text)
    steps = [t for t in required if ti.xcom_pull(task_ids=t, default=None) is None]
    if locations is None:
        raise RuntimeError(f"No locations were synced: task {locations_task} failed; see its log.")
    failed, _ = failures(warehouse, dag_id, run_id, expected)
    if failed or steps:
        raise RuntimeError(
            f"{len(failed)} of {len(expected)} locations failed"
            + (f" and {len(steps)} step(s) did not finish" if steps else "")
            + ": "
            + "; ".join(
                [f"{f['location_id']} ({f['error_kind']})" for f in failed] + [step_failure(t)["error"] for t in steps]
            )
        )
    return {"locations": len(expected), "failed": 0}


def _build_docs(warehouse: Warehouse, dag_id: str, run_id: str) -> None:
    """The run's Data Docs, built once from the batch validations it stored (ghl_pleo/batch_quality.py); a site
    that cannot be built is a warning, never a failed run."""
    from ghl_pleo.batch_quality import build_run_docs

    try:
        build_run_docs(warehouse, dag_id, run_id)
    except Exception as exc:  # noqa: BLE001 - the summary and the run's outcome matter more than the pages
        log.warning("Data Docs for run %s could not be built: %s", run_id, redact(str(exc))[:500])


@fails_fast
def check_stale_syncs() -> dict:
    """Alert, once per stale period, the locations with no successful sync for longer than their DAG's limit."""
    from airflow.sdk import Variable

    from ghl_pleo.alert_channels import deliver
    from ghl_pleo.health import check_stale
    from ghl_pleo.locations import parse_location_ids

    raw = Variable.get("ghl_location_ids", default=None)
    configured = parse_location_ids(raw) if raw not in (None, "") else None
    return check_stale(Warehouse(), configured=configured, send=deliver)


@fails_fast
def cleanup_ledger() -> dict:
    """Delete ledger, change-log, rejected-record and event rows past the retention (GHL_PLEO_LEDGER_RETENTION_DAYS)."""
    from ghl_pleo.health import retention_days

    days = retention_days()
    deleted = Warehouse().health.cleanup(days)
    log.info("Ledger retention %g days: deleted %s", days, deleted)
    return deleted
