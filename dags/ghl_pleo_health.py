"""
### GHL-Pleo health: stale-sync alerts and ledger retention (hourly)

* `check_stale`: a location whose last successful sync is older than the limit (tags 3 h, statistics 36 h;
  env `GHL_PLEO_STALE_HOURS_TAGS` / `GHL_PLEO_STALE_HOURS_STATISTICS`) is alerted through the same channels
  as failed runs (connections `ghl_pleo_smtp`, `ghl_pleo_slack`), once per stale period: not again every hour,
  only after the location has synced and gone stale again.
* `cleanup_ledger`: deletes ledger, change-log, rejected-record and event rows older than
  `GHL_PLEO_LEDGER_RETENTION_DAYS` (default 90); each location's latest successful run is always kept.

Both read and write only the warehouse (`ghl_pleo_db`). The numbers behind them are on the health dashboard
(Browse > GHL-Pleo health).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

# Parse-cheap: names and settings only (it imports nothing but os), and the failure notifier
# (it imports the rest of the package only when a run fails).
from ghl_pleo.constants import HEALTH_DAG_ID, OWNER, TASK_RETRIES, dagrun_timeout_h, schedule_from_env
from ghl_pleo.notify import RunFailureNotifier


@dag(
    dag_id=HEALTH_DAG_ID,
    description="Hourly: alert locations with no recent successful sync; delete ledger rows past the retention",
    schedule=schedule_from_env("GHL_PLEO_HEALTH_SCHEDULE", "@hourly"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=dagrun_timeout_h("GHL_PLEO_HEALTH_DAGRUN_TIMEOUT_H", 1)),
    tags=["ghl-pleo", "health"],
    doc_md=__doc__,
    # A failed check means stale syncs go unnoticed: one alert naming the failed tasks (runs in the dag-processor).
    on_failure_callback=RunFailureNotifier(),
    default_args={
        "owner": OWNER,
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=20),
    },
)
def ghl_pleo_health():
    @task(multiple_outputs=False)  # one XCom row, not one per key
    def check_stale() -> dict:
        """Alert locations that have had no successful sync for too long (once per stale period)."""
        from ghl_pleo import tasks

        return tasks.check_stale_syncs()

    @task(multiple_outputs=False)
    def cleanup_ledger() -> dict:
        """Delete ledger and change-log rows past the retention."""
        from ghl_pleo import tasks

        return tasks.cleanup_ledger()

    check_stale() >> cleanup_ledger()


ghl_pleo_health()
