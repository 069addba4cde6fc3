"""``python -m tests.e2e.queue_callback DAG_ID RUN_ID``: queue the failure callback of a failed run as the scheduler
does (Airflow's own callback request, the run's last failed task as its context, into the table the dag-processor
reads callbacks from). Run as a subprocess with the test's Airflow home: the pytest process's own Airflow settings
were fixed before the test set that home."""

from __future__ import annotations

import sys


def queue_failure_callback(dag_id: str, run_id: str) -> None:
    from airflow.callbacks.database_callback_sink import DatabaseCallbackSink
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        dag = DBDagBag().get_dag_for_run(dag_run=run, session=session)
        failed = [ti for ti in run.get_task_instances(session=session) if ti.state == "failed"]
        last = max(failed, key=lambda ti: ti.end_date)
        request = run.produce_dag_callback(dag=dag, success=False, relevant_ti=last, reason="task_failure")
        DatabaseCallbackSink().send(request, session=session)


if __name__ == "__main__":
    queue_failure_callback(sys.argv[1], sys.argv[2])
