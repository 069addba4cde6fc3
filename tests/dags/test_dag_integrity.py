"""Every DAG imports cleanly, is tagged, retries, and keeps the contract's names and settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pendulum
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
    assert {t.task_id for t in dag.tasks} == {
        "list_locations",
        "ensure_groups",
        "batch_locations",
        "sync_locations",
        "summarize",
    }
    assert dag.get_task("ensure_groups").pool == "ghl_pleo_group_writes"
    assert dag.get_task("summarize").trigger_rule == "all_done"
    assert dag.schedule == "@hourly"


def test_statistics_dag_has_a_real_daily_utc_window(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = dagbag.dags["ghl_pleo_statistics_sync"]
    assert {t.task_id for t in dag.tasks} == {
        "list_locations",
        "batch_locations",
        "fetch_statistics",
        "write_metadata",
        "summarize",
    }
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


def test_spend_dag_reads_one_daily_utc_window_and_writes_metadata_through_the_group_pool(dagbag):
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = dagbag.dags["ghl_pleo_spend_sync"]
    assert {t.task_id for t in dag.tasks} == {"list_locations", "sync_spend", "write_metadata", "summarize"}
    assert dag.get_task("write_metadata").pool == "ghl_pleo_group_writes"
    assert dag.get_task("summarize").trigger_rule == "all_done"
    assert {"dry_run", "locations"} == set(dag.params.keys())
    core = coerce_to_core_timetable(dag.timetable)
    interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 2, 5, tz="UTC"))
    assert (interval.start, interval.end) == (
        pendulum.datetime(2026, 11, 1, tz="UTC"),
        pendulum.datetime(2026, 11, 2, tz="UTC"),
    )


def test_dag_files_do_no_heavy_work_at_import():
    """Importing a DAG file loads no pandas, GX or project code but the constants (the scheduler parses it every
    30 s), the failure notifier (its module imports the rest of the package only when a run fails), and the
    provider info (a dict without imports) that Airflow's provider discovery loads when a DAG file's import sets
    it off; the trigger form's params and the package's warning filters (neither imports more)."""
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'great_expectations', 'ghl_pleo')"
        " and m not in ('ghl_pleo', 'ghl_pleo.constants', 'ghl_pleo.notify', 'ghl_pleo.provider',"
        " 'ghl_pleo.params', 'ghl_pleo.quiet')))"
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
    """GHL_PLEO_MAX_PARALLEL_LOCATIONS counts locations at once: batch tasks at once = it / GHL_PLEO_THREADS_PER_TASK
    (rounded up); GHL_PLEO_TAGS_SCHEDULE=none: manual only."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("GHL_PLEO_MAX_PARALLEL_LOCATIONS", "6")
    monkeypatch.setenv("GHL_PLEO_THREADS_PER_TASK", "4")
    monkeypatch.setenv("GHL_PLEO_TAGS_SCHEDULE", "none")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    dag = bag.dags["ghl_pleo_tags_sync"]
    assert dag.schedule is None
    assert dag.get_task("sync_locations").max_active_tis_per_dagrun == 2
    assert bag.dags["ghl_pleo_statistics_sync"].get_task("fetch_statistics").max_active_tis_per_dagrun == 2


def test_default_parallelism_is_eight_locations_in_two_batches_of_four_threads(dagbag):
    task = dagbag.dags["ghl_pleo_tags_sync"].get_task("sync_locations")
    assert task.max_active_tis_per_dagrun == 2
    assert task.map_index_template == "{{ batch_label }}"


def test_the_trigger_form_offers_dry_run_locations_and_full_refresh(dagbag):
    tags = dagbag.dags["ghl_pleo_tags_sync"].params
    assert {"dry_run", "locations", "full_refresh", "release_archive_guard"} <= set(tags.keys())
    stats = dagbag.dags["ghl_pleo_statistics_sync"].params
    assert {"dry_run", "locations"} <= set(stats.keys())
    for params in (tags, stats):  # a plain trigger (no conf) is a real, full run
        assert params["dry_run"] is False and params["locations"] == []
        assert "boolean" in params.get_param("dry_run").schema["type"]
        assert "array" in params.get_param("locations").schema["type"]
    assert tags["full_refresh"] is False


SYNC_DAGS = ("ghl_pleo_tags_sync", "ghl_pleo_statistics_sync", "ghl_pleo_spend_sync")


def _form_params(dagbag, dag_id: str) -> dict:
    """The params as the trigger form gets them: from the serialized DAG (what the API server reads)."""
    from airflow.serialization.serialized_objects import DagSerialization

    back = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags[dag_id]))
    return {name: back.params.get_param(name) for name in back.params.keys()}


def _form_marks_required(schema: dict) -> bool:
    """Airflow 3's trigger form (ui/src/components/FlexibleForm/isParamRequired.tsx): a field is required when
    its schema has a type, unless that type is a list holding "null"."""
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


def test_the_trigger_form_has_a_title_and_a_default_for_every_param_and_requires_none(dagbag):
    """Issue 17, item 8: no optional field marked required, every field titled, every default shown."""
    for dag_id in SYNC_DAGS:
        for name, param in _form_params(dagbag, dag_id).items():
            where = f"{dag_id}.{name}"
            assert param.schema.get("title"), f"{where} has no title (the form would show its key)"
            assert not _form_marks_required(param.schema), f"{where} is marked required: {param.schema}"
            assert param.value in (False, []), f"{where}: the form fills in {param.value!r}"
            shown = "off" if param.value is False else "empty"
            assert f"Default: {shown}." in param.description, f"{where}: {param.description}"


def test_a_trigger_with_no_conf_or_with_every_field_cleared_validates_and_means_the_defaults(dagbag):
    """A plain trigger (conf {}) and the form with every field cleared (the form sends null for a cleared list)
    both validate, and the task reads them as the defaults: a full, real run."""
    from ghl_pleo.locations import param_ids
    from ghl_pleo.tasks import _flag

    for dag_id in SYNC_DAGS:
        params = dict(dagbag.dags[dag_id].params.items())
        params = {name: dagbag.dags[dag_id].params.get_param(name) for name in params}
        for conf in ({}, dict.fromkeys(params)):
            resolved = {name: p.resolve(conf.get(name, p.value)) for name, p in params.items()}
            assert all(_flag(v) is False for k, v in resolved.items() if params[k].value is False), (dag_id, conf)
            assert all(param_ids(v) == [] for k, v in resolved.items() if params[k].value == []), (dag_id, conf)


def test_health_dag_shape(dagbag):
    dag = dagbag.dags["ghl_pleo_health"]
    assert {t.task_id for t in dag.tasks} == {"check_stale", "cleanup_ledger"}
    assert dag.schedule == "@hourly"


def test_every_dag_has_an_owner_a_description_and_a_run_timeout(dagbag):
    from datetime import timedelta

    expected = {
        "ghl_pleo_tags_sync": 6,
        "ghl_pleo_statistics_sync": 12,
        "ghl_pleo_spend_sync": 12,
        "ghl_pleo_health": 1,
    }
    for dag_id, dag in dagbag.dags.items():
        assert dag.description and len(dag.description) > 20, dag_id
        assert dag.dagrun_timeout == timedelta(hours=expected[dag_id]), dag_id
        assert {t.owner for t in dag.tasks} == {"ghl-pleo"}, dag_id


def test_the_run_timeout_comes_from_the_environment_and_a_bad_value_names_the_variable(monkeypatch):
    from datetime import timedelta

    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("GHL_PLEO_TAGS_DAGRUN_TIMEOUT_H", "0.5")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.dags["ghl_pleo_tags_sync"].dagrun_timeout == timedelta(minutes=30)
    monkeypatch.setenv("GHL_PLEO_TAGS_DAGRUN_TIMEOUT_H", "six")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    (error,) = bag.import_errors.values()
    assert "GHL_PLEO_TAGS_DAGRUN_TIMEOUT_H='six'" in error


def test_no_task_splits_its_return_value_into_one_xcom_per_key(dagbag):
    """A task returning a dict would otherwise push one XCom row per key (TaskFlow infers multiple_outputs from
    the ``-> dict`` annotation): ~23 rows per location and run that nobody reads."""
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.multiple_outputs is False, f"{dag_id}.{task.task_id}"


def test_every_dag_survives_the_schedulers_serialization_round_trip(dagbag):
    """What the scheduler and the UI see is the serialized DAG: it must validate against Airflow's schema and
    come back with the same tasks, dependencies, pools, mapping, params, owner and timeouts."""
    from airflow.serialization.serialized_objects import DagSerialization

    for dag_id, dag in dagbag.dags.items():
        data = DagSerialization.to_dict(dag)
        DagSerialization.validate_schema(data)
        back = DagSerialization.from_dict(data)
        assert back.dag_id == dag_id
        assert back.dagrun_timeout == dag.dagrun_timeout and back.description == dag.description
        assert set(back.params.keys()) == set(dag.params.keys())
        assert set(back.task_dict) == set(dag.task_dict), dag_id
        for task_id, task in dag.task_dict.items():
            twin = back.task_dict[task_id]
            assert twin.downstream_task_ids == task.downstream_task_ids, (dag_id, task_id)
            assert (twin.pool, twin.trigger_rule, twin.retries, twin.owner) == (
                task.pool,
                task.trigger_rule,
                task.retries,
                task.owner,
            ), (dag_id, task_id)
            assert twin.execution_timeout == task.execution_timeout, (dag_id, task_id)
            assert type(twin).__name__.endswith("MappedOperator") == type(task).__name__.endswith("MappedOperator")


def test_airflows_own_deprecation_warnings_fail_the_suite():
    """pytest.ini turns Airflow's RemovedInAirflow4Warning (and providers' deprecations) into errors, so code that
    Airflow 4 will break fails here first, instead of every DeprecationWarning being ignored."""
    import warnings

    from airflow.exceptions import AirflowProviderDeprecationWarning, RemovedInAirflow4Warning

    for kind in (RemovedInAirflow4Warning, AirflowProviderDeprecationWarning):
        with pytest.raises(kind):
            warnings.warn("removed in Airflow 4", kind, stacklevel=1)


def test_every_dag_alerts_its_failure_through_the_run_failure_notifier(dagbag):
    """One alert per failed run, from the DAG's failure callback (not from a task that may not get to run)."""
    from ghl_pleo.notify import RunFailureNotifier

    expected = {
        "ghl_pleo_tags_sync": ("list_locations", ("ensure_groups",)),
        "ghl_pleo_statistics_sync": ("list_locations", ("write_metadata",)),
        "ghl_pleo_spend_sync": ("list_locations", ("sync_spend", "write_metadata")),
        "ghl_pleo_health": (None, ()),
    }
    for dag_id, dag in dagbag.dags.items():
        notifier = dag.on_failure_callback
        assert isinstance(notifier, RunFailureNotifier), dag_id
        assert (notifier.locations_task, notifier.required) == expected[dag_id], dag_id
        for task_id in (notifier.locations_task, *notifier.required):
            if task_id is not None:
                assert task_id in dag.task_dict, (dag_id, task_id)


def test_the_suite_runs_airflow_in_its_temporary_home():
    """Nothing imports Airflow before tests/conftest.py sets AIRFLOW_HOME (a warning filter naming an Airflow class
    in pytest.ini did): the tests' Airflow must never read or write the checkout's own .airflow."""
    from airflow.configuration import AIRFLOW_HOME

    assert "ghl-pleo-airflow-" in AIRFLOW_HOME, AIRFLOW_HOME
