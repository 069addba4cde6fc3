"""
### GHL social tags -> Pleo tag groups (hourly)

For every GHL location (Airflow variable `ghl_location_ids`, else discovered with the agency token):
read its Social Planner tags (and tag details for new or changed tags), stage them in the warehouse
(`ghl_pleo_db`), map them to Pleo records, and make the location's Pleo tag group
(`ghl-social-{locationId}`) match: create, rename, archive, unarchive. Only differences are written.

* `list_locations`: the location list, with names.
* `ensure_groups` (pool `ghl_pleo_group_writes`, one slot): find, rename, unarchive each location's tag group
  (a new location's group is created by its batch in `sync_locations`, after its first successful GHL tag read).
* `batch_locations`: the locations in batches of `GHL_PLEO_LOCATIONS_PER_TASK` (default: spread evenly over the
  batch tasks that run at once, at most 250 each).
* `sync_locations` (one mapped task per batch, labelled `batch 3: <first>..<last> (20)`): each location of the
  batch, in threads (`GHL_PLEO_THREADS_PER_TASK` at once): extract, stage, transform, load; one GX validation
  for the batch's records. The batch fails if any of its locations failed, naming them.
* `summarize`: the run summary; fails the run if any location (or `ensure_groups`) failed, naming them.

Data-quality gates hold a location (and fail its task without retries) when a mapped field vanished
from GHL's answer, too many rows were rejected, or the tag count fell too far below its recent baseline or
too many tags would be archived (then nothing is archived). To release the volume guard once, trigger with
`{"release_archive_guard": ["<locationId>"]}`.

A current-state sync: a backfilled run syncs today's state again. Runs may overlap (a backfill runs up to 10 at
once, whatever `max_active_runs`): one run at a time holds a location (a lease in the warehouse); another run that
finds it held skips it (`skipped_locked`, noted in the summary). On failure, open the `summarize`
log: one line per failed location with the error kind, endpoint, HTTP status and what to do.
Clearing a failed `sync_locations` batch (or its retry) re-syncs only its locations not synced in this run.

Trigger form: `dry_run` (plan only, nothing written to Pleo), `locations` (only these ids), `full_refresh`
(re-read every tag's details). Every run and location is in the warehouse ledger (`sync_location_runs`), every
Pleo write in `pleo_change_log`; the health dashboard (Browse > GHL-Pleo health) reads both.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

# Parse-cheap: names and settings only (it imports nothing but os), and the failure notifier
# (it imports the rest of the package only when a run fails).
from ghl_pleo.constants import (
    GROUP_WRITE_POOL,
    OWNER,
    RETRY_BACKOFF,
    TAGS_DAG_ID,
    TASK_RETRIES,
    dagrun_timeout_h,
    parallel_batches,
    retry_delay_s,
    schedule_from_env,
)
from ghl_pleo.notify import RunFailureNotifier
from ghl_pleo.params import tags_params


@dag(
    dag_id=TAGS_DAG_ID,
    description="Hourly: each GHL location's Social Planner tags -> its Pleo tag group (create, rename, archive)",
    # A cron expression or preset; GHL_PLEO_TAGS_SCHEDULE=none for manual runs only (as the benchmark uses).
    schedule=schedule_from_env("GHL_PLEO_TAGS_SCHEDULE", "@hourly"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # A first full sync of many locations can take hours; a run stuck longer fails and lets the next one start.
    dagrun_timeout=timedelta(hours=dagrun_timeout_h("GHL_PLEO_TAGS_DAGRUN_TIMEOUT_H", 6)),
    tags=["ghl-pleo", "tags"],
    doc_md=__doc__,
    # One alert per failed run (email and/or Slack), built from the run ledger; runs in the dag-processor.
    on_failure_callback=RunFailureNotifier(locations_task="list_locations", required=("ensure_groups",)),
    params=tags_params(),  # the trigger form (ghl_pleo/params.py)
    default_args={
        "owner": OWNER,
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(seconds=retry_delay_s()),
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=50),
    },
)
def ghl_pleo_tags_sync():
    @task
    def list_locations() -> list[dict]:
        """The locations to sync: variable `ghl_location_ids`, else discovery; with their names."""
        from ghl_pleo import tasks

        return tasks.list_locations()

    @task(pool=GROUP_WRITE_POOL)  # a list: one XCom row, read by batch_locations and summarize
    def ensure_groups(locations: list[dict]) -> list[dict]:
        """Find each location's Pleo tag group; rename, unarchive (group writes are serialised by the pool)."""
        from ghl_pleo import tasks

        return tasks.ensure_groups(locations)

    @task(multiple_outputs=False)
    def batch_locations(locations: list[dict]) -> list[dict]:
        """The locations in batches (GHL_PLEO_LOCATIONS_PER_TASK): one XCom row, sync_locations' mapping."""
        from ghl_pleo import tasks_batch

        return tasks_batch.batch_locations(locations)

    # One task instance and one XCom row per batch of locations (multiple_outputs=False: the batch's counts are
    # one row; the summary reads each location's ledger row). Batches at once: GHL_PLEO_MAX_PARALLEL_LOCATIONS
    # divided by GHL_PLEO_THREADS_PER_TASK, so the setting still counts locations at once.
    @task(
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=parallel_batches(),
        multiple_outputs=False,
    )
    def sync_locations(batch: dict) -> dict:
        """A batch of locations, in threads: extract tags and details, stage, transform, load into their groups."""
        from ghl_pleo import tasks_batch

        return tasks_batch.sync_locations(batch)

    @task(trigger_rule="all_done", retries=0, multiple_outputs=False)
    def summarize() -> dict:
        """Log what each location read, changed, rejected and skipped; fail if any location failed."""
        from ghl_pleo import tasks

        return tasks.summarize("list_locations", required=("ensure_groups",))

    groups = ensure_groups(list_locations())
    [groups, sync_locations.expand(batch=batch_locations(groups))] >> summarize()


ghl_pleo_tags_sync()
