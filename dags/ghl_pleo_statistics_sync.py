"""
### GHL social statistics -> Pleo tag-group metadata (daily, UTC days)

Each run covers one UTC day, its data interval: `currentRange` = that day (end minus 1 ms, the vendor's
ranges are inclusive), `prevRange` = the day before. For every location: connected accounts ->
profile ids (batches of at most 100, totals added, changes recomputed) -> GHL v3 statistics -> one
history row per location and day in the warehouse (a re-run replaces it) -> the group's metadata keys
`metrics`, `stat_id`, `stats_window`, `stats_timestamp`, `ghl_location_id`, merged into what Pleo holds
(other keys kept), written only when they change, through the one-slot pool `ghl_pleo_group_writes`.

Backfill past days from the UI or `airflow backfill create --dag-id ghl_pleo_statistics_sync
--from-date ... --to-date ...`: each day gets its own history row; Pleo keeps showing the newest day.
Days may run at once (a backfill runs up to 10, whatever `max_active_runs`); one location's days are fetched
one at a time (a lease in the warehouse): a day that waits too long fails with `locked` and is retried.
A location with no connected accounts is reported and skipped. `fetch_statistics` is one mapped task per batch of
locations (`GHL_PLEO_LOCATIONS_PER_TASK`, labelled `batch 3: <first>..<last> (20)`), its locations in threads;
a retry re-fetches only the batch's locations not fetched in this run.

Trigger form: `dry_run` (nothing written to Pleo; the plan is in the summary and `pleo_change_log`),
`locations` (only these ids). There is no `full_refresh` here: every run already re-reads its whole day from
GHL and compares the metadata with what Pleo holds.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

# Parse-cheap: names and settings only (it imports nothing but os), and the failure notifier
# (it imports the rest of the package only when a run fails).
from ghl_pleo.constants import (
    GROUP_WRITE_POOL,
    OWNER,
    RETRY_BACKOFF,
    STATISTICS_DAG_ID,
    TASK_RETRIES,
    dagrun_timeout_h,
    parallel_batches,
    retry_delay_s,
)
from ghl_pleo.notify import RunFailureNotifier
from ghl_pleo.params import statistics_params


@dag(
    dag_id=STATISTICS_DAG_ID,
    description="Daily (UTC days): each location's social statistics -> history rows and its Pleo group's metadata",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # A run stuck longer than this fails (and alerts) so the next day's run is not held back forever.
    dagrun_timeout=timedelta(hours=dagrun_timeout_h("GHL_PLEO_STATISTICS_DAGRUN_TIMEOUT_H", 12)),
    tags=["ghl-pleo", "statistics"],
    doc_md=__doc__,
    # One alert per failed run (email and/or Slack), built from the run ledger; runs in the dag-processor.
    on_failure_callback=RunFailureNotifier(locations_task="list_locations", required=("write_metadata",)),
    params=statistics_params(),  # the trigger form (ghl_pleo/params.py)
    default_args={
        "owner": OWNER,
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(seconds=retry_delay_s()),
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=2),
    },
)
def ghl_pleo_statistics_sync():
    @task
    def list_locations() -> list[dict]:
        """The locations to sync: variable `ghl_location_ids`, else discovery."""
        from ghl_pleo import tasks

        return tasks.list_locations()

    @task(multiple_outputs=False)
    def batch_locations(locations: list[dict]) -> list[dict]:
        """The locations in batches (GHL_PLEO_LOCATIONS_PER_TASK): one XCom row, fetch_statistics' mapping."""
        from ghl_pleo import tasks_batch

        return tasks_batch.batch_locations(locations)

    # One task instance and one XCom row per batch of locations (see the tags DAG).
    @task(
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=parallel_batches(),
        multiple_outputs=False,
    )
    def fetch_statistics(batch: dict) -> dict:
        """A batch of locations, one UTC day, in threads: accounts -> v3 statistics -> each day's history row."""
        from ghl_pleo import tasks_batch

        return tasks_batch.fetch_statistics(batch)

    @task(pool=GROUP_WRITE_POOL, trigger_rule="all_done", multiple_outputs=False)
    def write_metadata() -> dict:
        """Merge each location's newest statistics into its Pleo group's metadata, where it changed."""
        from ghl_pleo import tasks

        return tasks.write_statistics_metadata()

    @task(trigger_rule="all_done", retries=0, multiple_outputs=False)
    def summarize() -> dict:
        """Log metrics per location; fail if any location failed."""
        from ghl_pleo import tasks

        return tasks.summarize("list_locations", required=("write_metadata",))

    locations = list_locations()
    fetched = fetch_statistics.expand(batch=batch_locations(locations))
    written = write_metadata()
    fetched >> written >> summarize()


ghl_pleo_statistics_sync()
