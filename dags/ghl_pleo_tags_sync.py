"""
### GHL social tags -> Pleo tag groups (hourly)

For every GHL location (Airflow variable `ghl_location_ids`, else discovered with the agency token):
read its Social Planner tags (and tag details for new or changed tags), stage them in the warehouse
(`ghl_pleo_db`), map them to Pleo records, and make the location's Pleo tag group
(`ghl-social-{locationId}`) match: create, rename, archive, unarchive. Only differences are written.

* `list_locations`: the location list, with names.
* `ensure_groups` (pool `ghl_pleo_group_writes`, one slot): find or create each location's tag group.
* `sync_location` (one mapped task per location): extract, stage, transform, load.
* `summarize`: the run summary; fails the run if any location failed, naming them.

On failure: open the failed `sync_location` task's log; its last lines name the location, endpoint,
HTTP status and what to do. Clearing the task re-runs that location safely.
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

GROUP_WRITE_POOL = "ghl_pleo_group_writes"
# Seconds before Airflow retries a failed task (doubling, capped at 10 minutes). Tests shorten it.
RETRY_DELAY_S = float(os.environ.get("GHL_PLEO_RETRY_DELAY_S", "60"))


@dag(
    dag_id="ghl_pleo_tags_sync",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ghl-pleo", "tags"],
    doc_md=__doc__,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=RETRY_DELAY_S),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=50),
    },
)
def ghl_pleo_tags_sync():
    @task
    def list_locations() -> list[dict]:
        """The locations to sync: variable `ghl_location_ids`, else discovery; with their names."""
        from airflow.sdk import Variable

        from ghl_pleo.config import load_mapping
        from ghl_pleo.hooks.ghl import GhlHook
        from ghl_pleo.sync import resolve_locations

        load_mapping()  # a broken mapping file fails here, before any write
        return resolve_locations(GhlHook(), Variable.get("ghl_location_ids", default=None))

    @task(pool=GROUP_WRITE_POOL)
    def ensure_groups(locations: list[dict]) -> list[dict]:
        """Find or create each location's Pleo tag group (group writes are serialised by the pool)."""
        from airflow.sdk import get_current_context

        from ghl_pleo.config import load_mapping
        from ghl_pleo.hooks.pleo import PleoHook
        from ghl_pleo.sync import ensure_groups as ensure
        from ghl_pleo.warehouse import Warehouse

        ctx = get_current_context()
        warehouse = Warehouse()
        warehouse.apply_schema()
        return ensure(PleoHook(), locations, load_mapping(), warehouse, ctx["dag"].dag_id, ctx["run_id"])

    @task(map_index_template="{{ location_id }}")
    def sync_location(location: dict) -> dict:
        """One location: extract tags and details, stage, transform, load into its Pleo group."""
        from airflow.sdk import get_current_context

        from ghl_pleo.config import load_mapping
        from ghl_pleo.hooks.ghl import GhlHook
        from ghl_pleo.hooks.pleo import PleoHook
        from ghl_pleo.sync import sync_location_tags
        from ghl_pleo.warehouse import Warehouse

        ctx = get_current_context()
        ctx["location_id"] = location["location_id"]  # names the mapped task instance in the UI
        warehouse = Warehouse()
        warehouse.apply_schema()
        return sync_location_tags(location, ghl=GhlHook(), pleo=PleoHook(), warehouse=warehouse,
                                  config=load_mapping(), dag_id=ctx["dag"].dag_id, run_id=ctx["run_id"],
                                  try_number=ctx["ti"].try_number)

    @task(trigger_rule="all_done", retries=0)
    def summarize() -> dict:
        """Log what each location read, changed, rejected and skipped; fail if any location failed."""
        from airflow.sdk import get_current_context

        from ghl_pleo.sync import run_summary
        from ghl_pleo.warehouse import Warehouse

        ctx = get_current_context()
        locations = ctx["ti"].xcom_pull(task_ids="ensure_groups", default=None)
        warehouse = Warehouse()
        warehouse.apply_schema()
        expected = [loc["location_id"] for loc in (locations or [])]
        text, failed = run_summary(warehouse, ctx["dag"].dag_id, ctx["run_id"], expected)
        print(text)
        if failed or locations is None:
            raise RuntimeError(f"{len(failed)} of {len(expected)} locations failed: "
                               + "; ".join(f"{f['location_id']} ({f['error_kind']})" for f in failed)
                               if expected else "No locations were synced: the location list or the groups step "
                               "failed; see list_locations / ensure_groups.")
        return {"locations": len(expected), "failed": 0}

    locations = list_locations()
    groups = ensure_groups(locations)
    synced = sync_location.expand(location=groups)
    [groups, synced] >> summarize()


ghl_pleo_tags_sync()
