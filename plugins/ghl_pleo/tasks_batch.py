"""The batch tasks: one mapped task syncs a batch of locations (ghl_pleo/batches.py), in threads.

Everything that needs Airflow's task context (params, run id, try number, the data interval) is read here, in the
task's main thread, before any thread starts (the context does not reach pool threads). Each location keeps its
own ledger row, lease, hooks (so its own GHL limiter and request counts) and error (``tasks._run_location``); the
batch's records are validated in one GX validation (ghl_pleo/batch_quality.py). A retry of the batch, or a manual
clear after a failure, re-syncs only the locations the ledger does not show as synced in this run (a clear of a batch
that was all synced, as a reprocessed run is, syncs it all again).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from ghl_pleo import memory, tasks
from ghl_pleo.batch_quality import BatchValidator
from ghl_pleo.concurrency import Running
from ghl_pleo.errors import GhlPleoError, redact
from ghl_pleo.run_context import Hooks, SyncRun, error_kind

log = logging.getLogger("ghl_pleo.tasks")
DONE = ("success", "skipped")  # synced in this run: a retry leaves these alone (skipped_locked is tried again)


class BatchFailed(RuntimeError):
    """Some locations of a batch failed, at least one with an error a retry may fix: Airflow retries the batch."""


def batch_locations(locations: list[dict]) -> list[dict]:
    """The run's locations in batches of GHL_PLEO_LOCATIONS_PER_TASK (one XCom row: the mapped task's input)."""
    from ghl_pleo.batches import batches
    from ghl_pleo.constants import locations_per_task

    counts = Counter(str(loc["location_id"]) for loc in locations or [])
    if twice := sorted(k for k, n in counts.items() if n > 1):
        log.warning("The location list names %s more than once: each is synced once", ", ".join(twice))
    first = {str(loc["location_id"]): loc for loc in reversed(locations or [])}  # the first entry of each id
    locations = [loc for loc in (locations or []) if first.pop(str(loc["location_id"]), None) is not None]
    size = locations_per_task(len(locations))
    out = batches(locations, size)
    log.info("%d location(s) in %d batch(es) of at most %d", len(locations), len(out), size)
    return out


@tasks.fails_fast
def sync_locations(batch: dict) -> dict:
    """A batch of locations' tags (flows/tags.py), each as its own ``sync_location`` was."""
    from ghl_pleo.flows.tags import sync_location_tags as sync

    ctx, run, params = _batch_task(batch, "location_id")
    config = tasks.load_mapping()
    release = params["release_archive_guard"]  # whole ids (or "all"), never a substring of a string
    user = getattr(ctx.get("dag_run"), "triggering_user_name", None)

    def one(location: dict) -> dict:
        location_id = location["location_id"]
        released = location_id in release or "all" in release
        hooks = Hooks(ghl=tasks._ghl(run.warehouse), pleo=tasks._pleo(params, run.warehouse))
        return tasks._run_location(
            run,
            location_id,
            hooks,
            sync,
            config,
            location,
            release_archive_guard=released,
            released_by=user if released else None,
            full_refresh=params["full_refresh"],
            skip_when_locked=True,  # a current-state sync: the run holding the location syncs the same state
        )

    return run_batch(run, batch, one, retry=_automatic_retry(ctx), since_try=_first_try(ctx))


@tasks.fails_fast
def fetch_statistics(batch: dict) -> dict:
    """A batch of locations' statistics for the run's UTC day (flows/stats.py)."""
    from ghl_pleo.constants import threads_per_task
    from ghl_pleo.flows.stats import fetch_location_statistics
    from ghl_pleo.social_stats import Window

    ctx, run, _params = _batch_task(batch, "locationId")
    # One row per location, and a location holds its lease (days of a backfill share it) while it waits for the
    # validation: validate every GHL_PLEO_THREADS_PER_TASK locations, not once for the whole batch.
    run.validator.max_rows = min(run.validator.max_rows, threads_per_task())
    window = Window.for_interval(ctx["data_interval_start"], ctx["data_interval_end"])
    rng = window.as_range()
    log.info(
        "Statistics window %s .. %s (previous: %s)", rng["startDate"], rng["endDate"], window.previous().as_range()
    )
    config = tasks.load_mapping()

    def one(location: dict) -> dict:
        return tasks._run_location(
            run,
            location["location_id"],
            Hooks(ghl=tasks._ghl(run.warehouse)),
            fetch_location_statistics,
            config,
            window,
            location=location,
            skip_when_locked=False,  # dated work: this run's day is its own; a locked location fails, is retried
        )

    return run_batch(run, batch, one, retry=_automatic_retry(ctx), since_try=_first_try(ctx))


def _first_try(ctx) -> int:
    """The first try since the task was last cleared (1 if never): Airflow's own reckoning, a clear sets
    ``max_tries`` to the try number plus the task's retries."""
    ti = ctx["ti"]
    return max((getattr(ti, "max_tries", 0) or 0) - (ti.task.retries or 0) + 1, 1)


def _automatic_retry(ctx) -> bool:
    """Whether this try is Airflow's retry of a failed try, not a first try or the first after a clear."""
    return ctx["ti"].try_number > _first_try(ctx)


def _fail_fast_kinds() -> set[str]:
    """The error kinds no retry can fix (``GhlPleoError.fail_fast``)."""
    out, todo = set(), [GhlPleoError]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.fail_fast:
            out.add(cls.kind)
    return out


def _batch_task(batch: dict, location_column: str):
    """The batch's context, read in the main thread; its map index is labelled ``batch 3: <first>..<last> (20)``."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    ctx["batch_label"] = batch["label"]
    params = tasks.run_params()
    run = tasks.sync_run(params)
    run.validator = BatchValidator(run, f"batch{batch['batch']}-try{run.try_number}", location_column)
    return ctx, run, params


def run_batch(
    run: SyncRun, batch: dict, one: Callable[[dict], dict], *, retry: bool = False, since_try: int = 1
) -> dict:
    """``one(location)`` for each location of the batch not yet synced in this run, at most
    GHL_PLEO_THREADS_PER_TASK at once; raises (naming the failed locations) if any failed. On Airflow's automatic
    ``retry`` a location that failed with an error no retry can fix is not tried again (going by the tries since
    the last clear, ``since_try``). Which locations count as synced already: :func:`_to_sync`."""
    from ghl_pleo.constants import threads_per_task

    label, locations = batch["label"], batch["locations"]
    todo, skipped, kept = _to_sync(run, locations, retry, since_try)
    threads = max(1, min(threads_per_task(), len(todo)))
    log.info(
        "%s (try %d): %d location(s) to sync, %d thread(s); %d already synced in this run, skipped%s%s",
        label,
        run.try_number,
        len(todo),
        threads,
        len(skipped),
        f": {', '.join(skipped)}" if skipped else "",
        "; kept failed (a retry cannot fix them): " + ", ".join(f"{k} ({v})" for k, v in kept.items()) if kept else "",
    )
    memory.reset_peak()  # one process for the batch: its peak is the batch's
    slots = threading.Semaphore(threads)
    run.validator.slots = slots
    run.validator.expect([loc["location_id"] for loc in todo])
    errors: dict[str, tuple[str, bool]] = {k: (v, True) for k, v in kept.items()}
    run.stopping = stop = threading.Event()
    running, futures = Running(), {}
    # One thread per location (cheap), at most `threads` of them working: a location waiting for the batch's
    # validation gives its slot to the next, so every location can reach the one validation.
    with ThreadPoolExecutor(max_workers=max(1, len(todo)), thread_name_prefix="location") as pool:
        try:
            for loc in todo:
                futures[pool.submit(_in_slot, run.validator, slots, (stop, running), one, loc)] = loc["location_id"]
            for future in as_completed(futures):
                exc = future.exception()
                if exc is not None:
                    errors[futures[future]] = (error_kind(exc), isinstance(exc, GhlPleoError) and exc.fail_fast)
                    log.error("Location %s failed: [%s] %s", futures[future], error_kind(exc), redact(str(exc))[:500])
        except BaseException:
            # The task is being stopped (Airflow's SIGTERM, a timeout): the locations syncing now finish (their
            # writes are whole), no other starts; a retry or a clear syncs them.
            stop.set()
            log.warning("%s stopped: no further location starts; those syncing now finish first", label)
            for loc in todo:  # a location the signal kept from being submitted: nobody waits for its records
                if loc["location_id"] not in futures.values():
                    run.validator.withdraw(loc["location_id"])
            running.wait_idle()  # every started location, even one whose submit the signal cut short
            raise
    outcome = _outcome(run, batch, todo, skipped)
    _raise_failed(label, len(locations), errors)
    return outcome


class BatchStopped(RuntimeError):
    """The batch task was stopped before this location started: it was not synced (a retry or a clear syncs it)."""


def _to_sync(run: SyncRun, locations: list[dict], retry: bool, since_try: int) -> tuple[list, list, dict]:
    """The batch's locations to sync now, those already synced in this run (skipped), and on an automatic
    ``retry`` those kept failed (no retry can fix them, going by the tries since the last clear).

    A retry, or a clear after a failure, skips what this run synced; a dry run's rows never count for a real run;
    a clear of a batch whose every location was synced (a reprocessed run: the same run id) syncs them all again.
    """
    rows = {
        r["location_id"]: r
        for r in run.warehouse.ledger.location_runs(run.dag_id, run.run_id)
        if bool(r.get("dry_run")) == bool(run.dry_run)
    }
    done = {k for k, r in rows.items() if r["status"] in DONE}
    if not retry and done >= {loc["location_id"] for loc in locations}:
        done = set()  # asked again for work that was all done: do it again
    hopeless = _fail_fast_kinds() if retry else set()
    kept = {
        k: r["error_kind"]
        for k, r in rows.items()
        if r["status"] == "failed" and r["error_kind"] in hopeless and (r.get("try_number") or 0) >= since_try
    }
    todo = [loc for loc in locations if loc["location_id"] not in done and loc["location_id"] not in kept]
    skipped = [loc["location_id"] for loc in locations if loc["location_id"] in done]
    kept = {loc["location_id"]: kept[loc["location_id"]] for loc in locations if loc["location_id"] in kept}
    return todo, skipped, kept


def _in_slot(validator: BatchValidator, slots: threading.Semaphore, stopping: tuple, one, location) -> dict:
    stop, running = stopping
    with running:
        slots.acquire()
        try:
            if stop.is_set():
                raise BatchStopped(f"Location {location['location_id']}: not started, the batch task was stopped")
            return one(location)
        finally:
            validator.withdraw(location["location_id"])  # it handed its frame over, or never will
            slots.release()


def _outcome(run: SyncRun, batch: dict, todo: list[dict], skipped: list[str]) -> dict:
    """The batch's counts (its XCom row) and end line; each location's ledger row gets the batch's peak memory."""
    ids = {loc["location_id"] for loc in todo}
    rows = [r for r in run.warehouse.ledger.location_runs(run.dag_id, run.run_id) if r["location_id"] in ids]
    statuses = Counter("ok" if r["status"] == "success" else r["status"] for r in rows)
    peak = memory.peak_rss_mb()
    for location_id in sorted(ids):
        run.warehouse.ledger.update_location_counts(
            run.dag_id, run.run_id, location_id, {"peak_rss_mb": peak, "batch": batch["batch"]}
        )
    out = {
        "batch": batch["batch"],
        "locations": len(batch["locations"]),
        "ok": statuses["ok"],
        "failed": statuses["failed"] + statuses["running"],
        "skipped": statuses["skipped"] + statuses["skipped_locked"],
        "already_synced": len(skipped),
        "validations": run.validator.validations,
        "peak_rss_mb": peak,
    }
    log.info(
        "%s done: %d ok, %d failed, %d skipped, %d already synced; %d validation(s); peak RSS %s MB",
        batch["label"],
        out["ok"],
        out["failed"],
        out["skipped"],
        out["already_synced"],
        out["validations"],
        peak,
    )
    return out


def _raise_failed(label: str, total: int, errors: dict[str, tuple[str, bool]]) -> None:
    """Fail the batch naming its failed locations (``{location: (kind, fail_fast)}``): without retries when no
    failure is one a retry can fix."""
    if not errors:
        return
    from airflow.sdk.exceptions import AirflowFailException

    detail = "; ".join(f"{loc} ({kind})" for loc, (kind, _) in sorted(errors.items()))
    head = f"{len(errors)} of {total} location(s) of {label} failed: {detail}"
    if all(fail_fast for _, fail_fast in errors.values()):
        raise AirflowFailException(f"{head}. A retry cannot fix these: no retry (see summarize for what to do).")
    raise BatchFailed(f"{head}. A retry (or clearing this task) re-syncs only the locations not synced in this run.")
