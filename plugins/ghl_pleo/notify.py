"""The one alert per failed DAG run: an Airflow notifier, attached as each DAG's ``on_failure_callback``.

Airflow calls it once per failed run, whatever failed: a location, a run-level step, the ``summarize`` task itself,
the warehouse, or the run's ``dagrun_timeout``. In a deployment DAG callbacks run in the **dag-processor** (so the
alert connections, the recipients variable and the warehouse must be readable there); ``airflow dags test`` runs
them in its own process. Airflow runs no callback when someone sets a run's state from the UI or the REST API.

The text comes from the run ledger when the warehouse can be read (the same text the summary's failures make),
else a short one naming the run's failed tasks; it goes out through :func:`ghl_pleo.alert_channels.deliver`.
This module is imported by the DAG files at parse time: it imports nothing of the package at module level.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from airflow.sdk import BaseNotifier

log = logging.getLogger("ghl_pleo.alerts")
LEDGER_UNREADABLE = (
    "The run ledger could not be read from the warehouse (connection ghl_pleo_db: {error}), so this alert names "
    "only the run's tasks that did not succeed; their logs have the details."
)
NO_LEDGER = "The tasks below did not succeed; their logs have the details."


class RunFailureNotifier(BaseNotifier):
    """Build the failed run's alert and send it (email and/or Slack). Never raises.

    Args:
        locations_task: the task whose return value is the run's location list (None: the DAG syncs no
            locations, as the health DAG; the alert then names its failed tasks).
        required: run-level steps that must succeed (``ensure_groups``, ``write_metadata``), as ``summarize``
            checks them.
    """

    template_fields = ()  # nothing is rendered: the alert quotes upstream errors, which are no templates

    def __init__(self, locations_task: str | None = None, required: Sequence[str] = ()) -> None:
        super().__init__()
        self.locations_task = locations_task
        self.required = tuple(required)

    def render_template_fields(self, context, jinja_env=None) -> None:
        """Nothing to render (no template fields; the alert text is never a template). Not calling Jinja also
        spares the callback Airflow's template environment, which ``airflow dags test`` cannot build: there the
        context's DAG is the serialized one, without ``get_template_env``, and the base class would raise."""

    def notify(self, context) -> None:
        dag_id, run_id = "unknown DAG", "unknown run"
        try:
            dag_id = context["dag"].dag_id
            run_id = context.get("run_id") or context["dag_run"].run_id
            subject, body = self.alert_text(context, dag_id, run_id)
        except Exception:
            log.exception("The failure alert of %s %s could not be built; sending the short form", dag_id, run_id)
            subject = f"[ghl-pleo] {dag_id} failed: run {run_id}"
            body = f"{subject}\n\nThe alert text could not be built; see the dag-processor's log and the run."
        try:
            from ghl_pleo.alert_channels import deliver

            deliver(subject, body)
        except Exception:  # deliver() logs and swallows channel errors; this is a last resort
            log.exception("The failure alert of %s %s could not be sent", dag_id, run_id)

    def alert_text(self, context, dag_id: str, run_id: str) -> tuple[str, str]:
        """From the ledger when it can be read, else from the task states."""
        from ghl_pleo.alerts import log_url_for, tasks_alert
        from ghl_pleo.run_state import by_state, task_states

        reason = context.get("reason")
        states = task_states(dag_id, run_id)
        tasks = by_state(states, set(context["dag"].task_ids)) if states is not None else None
        last = getattr(context.get("ti"), "task_id", None)
        url = log_url_for(dag_id, run_id)
        if self.locations_task is None:
            return tasks_alert(dag_id, run_id, tasks, NO_LEDGER, url, reason, last_task=last)
        try:
            return self.ledger_alert(dag_id, run_id, states, reason, url)
        except Exception as exc:
            log.warning("Run ledger unreadable (%s): alerting with the run's task states", type(exc).__name__)
            note = LEDGER_UNREADABLE.format(error=type(exc).__name__)
            return tasks_alert(dag_id, run_id, tasks, note, url, reason, "ledger-unreadable", last)

    def ledger_alert(
        self, dag_id: str, run_id: str, states: dict[str, str] | None, reason: str | None, url: str
    ) -> tuple[str, str]:
        """What ``summarize`` finds (failed locations, with streaks; steps that did not finish), from the ledger and
        the task states; when neither explains the failure, ``summarize`` itself or the run is named."""
        from ghl_pleo.alerts import build_alert
        from ghl_pleo.run_state import xcom
        from ghl_pleo.summary import failures, step_failure
        from ghl_pleo.warehouse import Warehouse

        known = states or {}
        warehouse = Warehouse()
        step_row = warehouse.ledger.step_failure(dag_id, run_id)  # a failed run-level step's own error, if any
        steps = [t for t in (self.locations_task, *self.required) if t in known and known[t] != "success"]
        if step_row and step_row["task"] and step_row["task"] not in steps:
            steps.insert(0, step_row["task"])  # its row says it failed, whatever the task states could tell
        locations = xcom(dag_id, run_id, self.locations_task) if self.locations_task not in steps else None
        expected = [loc["location_id"] for loc in locations] if isinstance(locations, list) else None
        failed, total = failures(warehouse, dag_id, run_id, expected)  # the ledger: raises when unreadable
        if self.locations_task in steps:  # no location list, so nothing after it ran: it alone is the cause
            failed, steps = [], [self.locations_task]
        failed += [_step(t, known.get(t, "failed"), step_row) for t in steps]
        kind = "interrupted" if reason == "timed_out" else "internal"
        if not failed and known.get("summarize", "success") != "success":
            failed.append(step_failure("summarize", known["summarize"], kind=kind))
        if not failed:
            failed.append(
                {
                    "location_id": "*",
                    "error_kind": kind,
                    "error": "Airflow failed the run, but no location or task failure was found: see the run"
                    + (" (its task states could not be read)" if states is None else ""),
                }
            )
        return build_alert(dag_id, run_id, failed, total, url, reason)


def _step(task_id: str, state: str, row: dict | None) -> dict:
    """A run-level step that did not finish: with its own error kind and message when its ledger row has them."""
    from ghl_pleo.summary import step_failure

    failure = step_failure(task_id, state)
    if row and row["task"] == task_id:
        failure["error_kind"] = row["error_kind"] or "internal"
        failure["error"] = f"task {task_id} failed (try {row['try_number']}): {row['error']}"
    return failure
