"""What Airflow knows about a finished run, for its failure alert: its task states and one XCom.

A DAG's failure callback runs in the dag-processor, which answers the Task SDK's requests (task states, XComs,
connections, variables) over its supervisor channel: those are tried first. ``airflow dags test`` (``dag.test()``)
runs the callback in its own process, where there is no such channel but the metadata database is at hand: the
task states are read from it there. Whatever cannot be read is None, and the alert says so. Nothing here raises.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("ghl_pleo.alerts")


def task_states(dag_id: str, run_id: str) -> dict[str, str] | None:
    """``{task key: state}`` of the run's task instances (a mapped one as ``task_<map index>``, as Airflow's
    execution API answers); None if neither the supervisor nor the metadata database answered."""
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        answer = RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id])
        log.info("Task states of %s %s read through the supervisor (dag-processor)", dag_id, run_id)
        return {key: str(state) for key, state in (answer.get(run_id) or {}).items()}
    except Exception as exc:  # NameError: no supervisor channel in this process (dag.test)
        first = type(exc).__name__
    try:
        states = _states_from_metadata_db(dag_id, run_id)
        log.info("Task states of %s %s read from the metadata database (in-process run)", dag_id, run_id)
        return states
    except Exception as exc:
        log.warning(
            "The run's task states could not be read (supervisor: %s; metadata database: %s)",
            first,
            type(exc).__name__,
        )
        return None


def _states_from_metadata_db(dag_id: str, run_id: str) -> dict[str, str]:
    """The in-process case (``airflow dags test``): the same answer, read from Airflow's own tables."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
    )
    with create_session() as session:
        rows = session.execute(query).all()
    return {(task if index < 0 else f"{task}_{index}"): str(state) for task, index, state in rows}


def by_state(states: dict[str, str], task_ids: set[str]) -> dict[str, list[str]]:
    """The tasks that did not succeed, grouped by state: ``{"failed": ["summarize", "sync_locations[2]"], ...}``
    (``task_ids``, the DAG's, tell a mapped instance's key from a task whose id ends in a number)."""
    out: dict[str, list[str]] = {}
    for key, state in sorted(states.items(), key=lambda kv: _sort_key(kv[0], task_ids)):
        if state == "success":
            continue
        out.setdefault(state, []).append(_label(key, task_ids))
    return out


def _split(key: str, task_ids: set[str]) -> tuple[str, int]:
    if key not in task_ids:
        task, _, index = key.rpartition("_")
        if task in task_ids and index.isdigit():
            return task, int(index)
    return key, -1


def _sort_key(key: str, task_ids: set[str]) -> tuple[str, int]:
    return _split(key, task_ids)


def _label(key: str, task_ids: set[str]) -> str:
    task, index = _split(key, task_ids)
    return task if index < 0 else f"{task}[{index}]"


def xcom(dag_id: str, run_id: str, task_id: str) -> Any | None:
    """A task's return value through the supervisor (the dag-processor); None where there is none or no
    supervisor (``airflow dags test``: the alert then covers the locations the ledger has rows for)."""
    try:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_one(key="return_value", dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)
    except Exception as exc:
        log.info(
            "XCom of %s not readable here (%s): the ledger's rows stand for the run's locations",
            task_id,
            type(exc).__name__,
        )
        return None
