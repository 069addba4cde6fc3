"""
### Pleo spend -> spend vs social, tag suggestions, budgets and Pleo group metadata (daily, UTC days)

Each run covers one UTC day, its data interval, and re-reads the `spend.lookback_days` days ending with it
(mapping file, default 7): tags applied and refunds arriving late are counted; a tag applied after the lookback
is not seen. Per Pleo company in use: one accounting-entries search for the window (never one per tag), under a
lease per company -> attribution to each location's tags (Pleo's tag listing, archived tags included) -> a GX
suite on the spend records -> the window's days of `pleo_spend_daily`, `spend_vs_social_daily`,
`pleo_tag_suggestions` and `spend_quarantine` replaced (a re-run or backfill never duplicates; an incomplete read
replaces nothing). One ledger row per location; a budget alert once per location and month (current month only).
Then each group's metadata gains `spend_7d`, `spend_currency`, `cost_per_1k_impressions_7d`,
`cost_per_engagement_7d`, `spend_window` (and the `budget_*` keys with a budget), written only when they change,
through the one-slot pool `ghl_pleo_group_writes`; a backfill never replaces a newer window.

Backfill past days from the UI or `airflow backfill create --dag-id ghl_pleo_spend_sync --from-date ...
--to-date ...`. Run it after the statistics sync of the same days: spend is set against the statistics the
warehouse holds.

Trigger form: `dry_run` (nothing written to Pleo, no alert), `locations` (only these ids).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

# Parse-cheap: names and settings only, and the failure notifier (it imports the rest only when a run fails).
from ghl_pleo.constants import (
    GROUP_WRITE_POOL,
    OWNER,
    RETRY_BACKOFF,
    SPEND_DAG_ID,
    TASK_RETRIES,
    dagrun_timeout_h,
    retry_delay_s,
)
from ghl_pleo.notify import RunFailureNotifier
from ghl_pleo.params import spend_params


@dag(
    dag_id=SPEND_DAG_ID,
    description="Daily (UTC days): Pleo spend per location and tag against social statistics, budgets, metadata",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # A run stuck longer than this fails (and alerts) so the next day's run is not held back forever.
    dagrun_timeout=timedelta(hours=dagrun_timeout_h("GHL_PLEO_SPEND_DAGRUN_TIMEOUT_H", 12)),
    tags=["ghl-pleo", "spend"],
    doc_md=__doc__,
    on_failure_callback=RunFailureNotifier(locations_task="list_locations", required=("sync_spend", "write_metadata")),
    params=spend_params(),  # the trigger form (ghl_pleo/params.py)
    default_args={
        "owner": OWNER,
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(seconds=retry_delay_s()),
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=2),
    },
)
def ghl_pleo_spend_sync():
    @task
    def list_locations() -> list[dict]:
        """The locations to report: variable `ghl_location_ids`, else discovery."""
        from ghl_pleo import tasks

        return tasks.list_locations()

    @task(multiple_outputs=False)
    def sync_spend() -> dict:
        """Per Pleo company: one search for the window -> daily spend, spend vs social, suggestions, quarantine."""
        from ghl_pleo import tasks_spend

        return tasks_spend.sync_spend()

    @task(pool=GROUP_WRITE_POOL, trigger_rule="all_done", multiple_outputs=False)
    def write_metadata() -> dict:
        """Each synced location's spend keys into its Pleo group's metadata, where they changed."""
        from ghl_pleo import tasks_spend

        return tasks_spend.write_spend_metadata()

    @task(trigger_rule="all_done", retries=0, multiple_outputs=False)
    def summarize() -> dict:
        """Spend, impressions, cost per 1,000 impressions, budget used, suggestions per location; fail if any failed."""
        from ghl_pleo import tasks

        return tasks.summarize("list_locations", required=("sync_spend", "write_metadata"))

    list_locations() >> sync_spend() >> write_metadata() >> summarize()


ghl_pleo_spend_sync()
