"""Names and settings shared by the DAG files, the tasks, the summary, health and the dashboard.

Parse-cheap on purpose: the scheduler imports it with every DAG file every 30 seconds, so it imports
nothing but ``os``. Settings from the environment are functions, read at each parse.
"""

from __future__ import annotations

import os

TAGS_DAG_ID = "ghl_pleo_tags_sync"
STATISTICS_DAG_ID = "ghl_pleo_statistics_sync"
HEALTH_DAG_ID = "ghl_pleo_health"
SPEND_DAG_ID = "ghl_pleo_spend_sync"
SYNC_DAG_IDS = (TAGS_DAG_ID, STATISTICS_DAG_ID)

# Pool that serialises Pleo group writes (one slot): ensure_groups and the statistics metadata write.
GROUP_WRITE_POOL = "ghl_pleo_group_writes"

TASK_RETRIES = 2
RETRY_BACKOFF = 2.0  # each retry waits this many times longer, up to the DAG's max_retry_delay


def max_parallel_locations() -> int:
    """Locations synced at once per run (each keeps under its own GHL burst limit; Pleo's rate is shared)."""
    return int(os.environ.get("GHL_PLEO_MAX_PARALLEL_LOCATIONS", "8"))


MAX_LOCATIONS_PER_TASK = 250  # the default's cap: a batch's memory and its retry stay bounded


def locations_per_task(total: int) -> int:
    """Locations one mapped task syncs (a batch: one task instance and one XCom row each) in a run of ``total``.

    ``GHL_PLEO_LOCATIONS_PER_TASK`` when set; by default the run's locations spread evenly over the batch tasks that
    run at once (:func:`parallel_batches`), at most 250 each. Measured (``make bench``, 500 locations, no change):
    the fewer task instances the less CPU (25 a task: 24 task instances, 72 CPU-s; 100: 9, 49 CPU-s; 250: 6,
    41 CPU-s), and fewer batches than slots would leave a core idle."""
    if os.environ.get("GHL_PLEO_LOCATIONS_PER_TASK", "").strip():
        return _positive_int("GHL_PLEO_LOCATIONS_PER_TASK", 1)
    return max(1, min(MAX_LOCATIONS_PER_TASK, -(-total // parallel_batches())))


def threads_per_task() -> int:
    """Locations a batch task syncs at once, in threads (their work is mostly waiting on GHL and Pleo); never more
    than the batch has. Batch tasks at once per run = max_parallel_locations() / this (rounded up), so
    GHL_PLEO_MAX_PARALLEL_LOCATIONS keeps meaning "locations at once" (defaults: 8 = 2 tasks x 4 threads)."""
    return _positive_int("GHL_PLEO_THREADS_PER_TASK", 4)


def validation_rows() -> int:
    """Rows a batch task's Great Expectations validation takes at most: once its locations have handed over this
    many, they are validated without waiting for the rest of the batch (memory stays bounded)."""
    return _positive_int("GHL_PLEO_VALIDATION_ROWS", 50_000)


def parallel_batches() -> int:
    """Batch tasks of one run at once (``max_active_tis_per_dagrun``): max_parallel_locations() / threads_per_task()."""
    return max(1, -(-max_parallel_locations() // threads_per_task()))


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r}: a whole number is expected (e.g. {default}).") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r}: must be at least 1.")
    return value


def retry_delay_s() -> float:
    """Seconds before Airflow retries a failed task (growing by RETRY_BACKOFF). Tests shorten it."""
    return float(os.environ.get("GHL_PLEO_RETRY_DELAY_S", "60"))


def schedule_from_env(name: str, default: str) -> str | None:
    """A schedule (cron expression or preset) from the environment; "none" or "" means manual runs only."""
    value = os.environ.get(name, default)
    return None if value.strip().lower() in ("", "none") else value


def lease_ttl_s() -> float:
    """Seconds a unit's lease lasts without a heartbeat (renewed every third of it while held): how long a killed
    try's lease keeps other runs out. The same run's retry takes it over at once."""
    return float(os.environ.get("GHL_PLEO_LEASE_TTL_S", "300"))


def lease_wait_s() -> float:
    """Seconds a run waits for a unit another run holds before it gives up: a tags location is then skipped
    (``skipped_locked``), a statistics day fails and is retried."""
    return float(os.environ.get("GHL_PLEO_LEASE_WAIT_S", "60"))


OWNER = "ghl-pleo"  # the DAGs' owner in the UI (the team on call for them; README, "Runbook")


def dagrun_timeout_h(name: str, default: float) -> float:
    """Hours a DAG run may take before the scheduler fails it (its unfinished tasks stop, the failure alert goes
    out), so a stuck run cannot hold the next ones back forever (``max_active_runs`` is 1). From the environment
    variable ``name``; long enough by default for a first full sync."""
    raw = os.environ.get(name, "").strip()
    try:
        hours = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r}: a number of hours is expected (e.g. 6 or 0.5).") from None
    if not hours > 0:
        raise ValueError(f"{name}={raw!r}: the run timeout must be more than 0 hours.")
    return hours
