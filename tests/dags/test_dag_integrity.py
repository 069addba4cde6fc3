"""Every DAG imports cleanly, is tagged, retries, and keeps the contract's names and settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"ghl_pleo_tags_sync", "ghl_pleo_statistics_sync"} <= set(dagbag.dags)


def test_every_dag_has_tags_retries_and_one_active_run(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            if task.task_id != "summarize":
                assert task.retries >= 2, f"{dag_id}.{task.task_id}"


def test_tags_dag_shape(dagbag):
    dag = dagbag.dags["ghl_pleo_tags_sync"]
    assert {t.task_id for t in dag.tasks} == {"list_locations", "ensure_groups", "sync_location", "summarize"}
    assert dag.get_task("ensure_groups").pool == "ghl_pleo_group_writes"
    assert dag.get_task("summarize").trigger_rule == "all_done"
    assert dag.schedule == "@hourly"


def test_statistics_dag_has_a_real_daily_utc_window(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.dags["ghl_pleo_statistics_sync"]
    assert {t.task_id for t in dag.tasks} == {"list_locations", "fetch_statistics", "write_metadata", "summarize"}
    assert dag.get_task("write_metadata").pool == "ghl_pleo_group_writes"
    timetable = dag.timetable
    assert type(timetable).__name__ == "CronDataIntervalTimetable"
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable

    core = coerce_to_core_timetable(timetable)
    assert isinstance(core, CronDataIntervalTimetable)
    interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 2, 5, tz="UTC"))
    assert (interval.start, interval.end) == (
        pendulum.datetime(2026, 11, 1, tz="UTC"),
        pendulum.datetime(2026, 11, 2, tz="UTC"),
    )


def test_dag_files_do_no_heavy_work_at_import():
    """Importing a DAG file loads no pandas, GX or project code but the constants (the scheduler parses it every
    30 s), and the provider info (a dict without imports) that Airflow's provider discovery loads when a DAG file's
    import sets it off."""
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'great_expectations', 'ghl_pleo')"
        " and m not in ('ghl_pleo', 'ghl_pleo.constants', 'ghl_pleo.provider')))"
    )
    for path in sorted((ROOT / "dags").glob("*.py")):
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")},
        )
        assert out.stdout.strip().splitlines()[-1] == "[]", (path.name, out.stdout[-300:])


def test_parallel_locations_and_schedule_come_from_the_environment(monkeypatch):
    """GHL_PLEO_MAX_PARALLEL_LOCATIONS caps the mapped location tasks; GHL_PLEO_TAGS_SCHEDULE=none: manual only."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("GHL_PLEO_MAX_PARALLEL_LOCATIONS", "3")
    monkeypatch.setenv("GHL_PLEO_TAGS_SCHEDULE", "none")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    dag = bag.dags["ghl_pleo_tags_sync"]
    assert dag.schedule is None
    assert dag.get_task("sync_location").max_active_tis_per_dagrun == 3
    assert bag.dags["ghl_pleo_statistics_sync"].get_task("fetch_statistics").max_active_tis_per_dagrun == 3


def test_default_parallelism_is_eight(dagbag):
    assert dagbag.dags["ghl_pleo_tags_sync"].get_task("sync_location").max_active_tis_per_dagrun == 8


def test_the_trigger_form_offers_dry_run_locations_and_full_refresh(dagbag):
    tags = dagbag.dags["ghl_pleo_tags_sync"].params
    assert {"dry_run", "locations", "full_refresh", "release_archive_guard"} <= set(tags.keys())
    stats = dagbag.dags["ghl_pleo_statistics_sync"].params
    assert {"dry_run", "locations"} <= set(stats.keys())
    for params in (tags, stats):  # a plain trigger (no conf) is a real, full run
        assert params["dry_run"] is False and params["locations"] == []
        assert params.get_param("dry_run").schema["type"] == "boolean"
        assert params.get_param("locations").schema["type"] == "array"
    assert tags["full_refresh"] is False


def test_health_dag_shape(dagbag):
    dag = dagbag.dags["ghl_pleo_health"]
    assert {t.task_id for t in dag.tasks} == {"check_stale", "cleanup_ledger"}
    assert dag.schedule == "@hourly"
