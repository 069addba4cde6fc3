"""The failed-run notifier decides what the one alert says: the ledger's failed locations when the warehouse can be
read (the same text summarize's failures make), else the run's failed tasks; a timeout is said; it never raises.
The task states and XComs are read as the dag-processor answers them (its supervisor channel, faked here with
Airflow's own message types)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ghl_pleo import alert_channels, run_state
from ghl_pleo.notify import RunFailureNotifier
from ghl_pleo.warehouse import Warehouse
from tests.sandbox_client import free_port, warehouse_env

TAGS = "ghl_pleo_tags_sync"
TASKS = {"list_locations", "ensure_groups", "sync_locations", "summarize"}
OK = {"list_locations": "success", "ensure_groups": "success", "summarize": "failed"}


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str]]:
    """What the notifier hands to delivery (delivery itself is tested in test_alert_channels)."""
    out: list[tuple[str, str]] = []
    monkeypatch.setattr(alert_channels, "deliver", lambda subject, body: out.append((subject, body)) or ["email"])
    return out


@pytest.fixture
def ledger(monkeypatch, tmp_path) -> Warehouse:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    for key, value in warehouse_env(url).items():
        monkeypatch.setenv(key, value)
    return Warehouse(url)


def states(monkeypatch, value: dict | None) -> None:
    monkeypatch.setattr(run_state, "task_states", lambda dag_id, run_id: value)


def context(reason: str = "task_failure", last: str = "summarize") -> dict:
    return {
        "dag": SimpleNamespace(dag_id=TAGS, task_ids=sorted(TASKS)),
        "run_id": "run-1",
        "reason": reason,
        "ti": SimpleNamespace(task_id=last),
    }


def tags_notifier() -> RunFailureNotifier:
    return RunFailureNotifier(locations_task="list_locations", required=("ensure_groups",))


def finish(wh: Warehouse, location_id: str, status: str = "success", kind: str | None = None) -> None:
    wh.ledger.start_location_run(TAGS, "run-1", location_id, 1)
    error = f"GHL said no for {location_id}" if kind else None
    wh.ledger.finish_location_run(TAGS, "run-1", location_id, status, {"read": 4}, {}, kind, error)


def test_failed_locations_make_the_same_alert_summarize_would_have_made(monkeypatch, sent, ledger):
    finish(ledger, "L1", "failed", "authentication")
    finish(ledger, "L2")
    ledger.ledger.start_location_run(TAGS, "run-1", "L3", 1)  # killed mid-try: still running
    states(
        monkeypatch, {**OK, "sync_locations_0": "failed", "sync_locations_1": "success", "sync_locations_2": "failed"}
    )
    tags_notifier().notify(context())
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} failed for 2 of 3 locations (authentication: 1, interrupted: 1)"
    assert "- location L1: authentication" in body and "GHL said no for L1" in body
    assert "- location L3: interrupted" in body and "L2" not in body
    assert "task summarize" not in body  # summarize failed because the locations did: no second cause


def test_a_summarize_that_crashed_on_a_good_run_is_the_alert(monkeypatch, sent, ledger):
    for loc in ("L1", "L2"):
        finish(ledger, loc)
    states(monkeypatch, {**OK, "sync_locations_0": "success", "sync_locations_1": "success"})
    tags_notifier().notify(context())
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} failed for task summarize (internal error: 1)"
    assert "- task summarize: internal error" in body and "run summary was not made" in body
    assert "README.md#runbook-internal" in body


def test_a_failed_location_list_is_the_one_step_named(monkeypatch, sent, ledger):
    states(monkeypatch, {"list_locations": "failed", "ensure_groups": "upstream_failed", "summarize": "failed"})
    tags_notifier().notify(context())
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} failed for task list_locations (not run: 1)"
    assert "task list_locations failed: no location was synced" in body and "ensure_groups" not in body


def test_a_failed_ensure_groups_is_alerted_with_its_own_kind_and_message_from_its_ledger_row(monkeypatch, sent, ledger):
    """Issue 17, item 3: the step's try left its run-level ledger row (as tasks.run_step writes it): the alert
    quotes its error (redacted) with its kind's runbook instead of "not run", and names no location for it."""
    from ghl_pleo.errors import RetryableAPIError
    from ghl_pleo.run_context import Hooks, SyncRun
    from ghl_pleo.warehouse.run_rows import RUN_ROW

    run = SyncRun(ledger, TAGS, "run-1", 3)
    with pytest.raises(RetryableAPIError), run.location(RUN_ROW, Hooks()) as row:
        row.counts["task"] = "ensure_groups"
        raise RetryableAPIError("Pleo GET /v0/tag-groups answered HTTP 503 (Authorization: Bearer abc.def-123)")
    states(monkeypatch, {**OK, "ensure_groups": "failed", "summarize": "failed"})
    tags_notifier().notify(context())
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} failed for task ensure_groups (upstream outage: 1)"
    assert "error: task ensure_groups failed (try 3): Pleo GET /v0/tag-groups answered HTTP 503" in body
    assert "abc.def-123" not in body and "runbook: README.md#runbook-upstream-outage" in body
    assert "location *" not in body


def test_the_location_list_from_xcom_names_a_location_that_never_ran(monkeypatch, sent, ledger):
    finish(ledger, "L1")
    states(monkeypatch, {**OK, "ensure_groups": "failed"})
    monkeypatch.setattr(run_state, "xcom", lambda *a: [{"location_id": "L1"}, {"location_id": "L2"}])
    tags_notifier().notify(context())
    ((subject, body),) = sent
    assert subject.startswith(f"[ghl-pleo] {TAGS} failed for L2 and task ensure_groups")
    assert "- location L2: not run" in body and "task ensure_groups failed: no tag group was checked" in body


def test_a_timed_out_run_says_so(monkeypatch, sent, ledger):
    ledger.ledger.start_location_run(TAGS, "run-1", "L1", 1)
    states(monkeypatch, {**OK, "summarize": "skipped", "sync_locations_0": "failed"})
    tags_notifier().notify(context(reason="timed_out"))
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} timed out for L1 (interrupted: 1)"
    assert "Why: the run took longer than its dagrun_timeout" in body


def warehouse_down(monkeypatch) -> None:
    """The warehouse connection points at a PostgreSQL port nothing listens on."""
    for key, value in warehouse_env(f"postgresql+psycopg2://wh:pw@127.0.0.1:{free_port()}/wh").items():
        monkeypatch.setenv(key, value)


def test_an_unreadable_warehouse_gives_the_short_alert_naming_the_failed_tasks(monkeypatch, sent):
    warehouse_down(monkeypatch)
    run = {"list_locations": "success", "ensure_groups": "failed", "summarize": "failed"}
    states(monkeypatch, {**run, **{f"sync_locations_{i}": "upstream_failed" for i in range(12)}})
    tags_notifier().notify(context())
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} failed: task ensure_groups, summarize"
    assert "The run ledger could not be read from the warehouse (connection ghl_pleo_db: OperationalError)" in body
    assert "- failed: ensure_groups, summarize" in body
    assert "- upstream failed: sync_locations[0], sync_locations[1]" in body and "and 2 more" in body
    assert "runbook: README.md#runbook-ledger-unreadable" in body


def test_without_ledger_or_task_states_the_last_task_is_named(monkeypatch, sent):
    warehouse_down(monkeypatch)
    states(monkeypatch, None)
    tags_notifier().notify(context(last="summarize"))
    ((subject, body),) = sent
    assert subject == f"[ghl-pleo] {TAGS} failed: last task summarize"
    assert "task states could not be read either; the last task Airflow reported: summarize" in body


def test_the_health_dag_alert_names_its_failed_tasks(monkeypatch, sent):
    states(monkeypatch, {"check_stale": "failed", "cleanup_ledger": "upstream_failed"})
    ctx = {**context(last="check_stale"), "dag": SimpleNamespace(dag_id="ghl_pleo_health", task_ids=["check_stale"])}
    RunFailureNotifier().notify(ctx)
    ((subject, body),) = sent
    assert subject == "[ghl-pleo] ghl_pleo_health failed: task check_stale"
    assert "- upstream failed: cleanup_ledger" in body


def test_the_notifier_never_raises(monkeypatch, sent):
    def broken(subject, body):
        raise RuntimeError("a bug in delivery")

    RunFailureNotifier(locations_task="list_locations").notify({})  # no DAG in the context at all
    assert sent and "unknown DAG" in sent[0][0]
    monkeypatch.setattr(alert_channels, "deliver", broken)
    RunFailureNotifier(locations_task="list_locations").notify({})


class FakeSupervisor:
    """The dag-processor's side of the channel: answers with Airflow's own result types."""

    def __init__(self) -> None:
        self.asked: list = []

    def send(self, msg):
        from airflow.sdk.execution_time.comms import TaskStatesResult, XComResult

        self.asked.append(msg)
        if msg.type == "GetTaskStates":
            return TaskStatesResult(task_states={"run-1": {"summarize": "failed", "sync_locations_10": "failed"}})
        return XComResult(key=msg.key, value=[{"location_id": "L1"}])


def test_task_states_and_xcom_come_through_the_dag_processors_supervisor_channel(monkeypatch):
    from airflow.sdk.execution_time import task_runner

    supervisor = FakeSupervisor()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", supervisor, raising=False)
    found = run_state.task_states(TAGS, "run-1")
    assert found == {"summarize": "failed", "sync_locations_10": "failed"}
    assert run_state.by_state(found, TASKS) == {"failed": ["summarize", "sync_locations[10]"]}
    assert run_state.xcom(TAGS, "run-1", "list_locations") == [{"location_id": "L1"}]
    asked = [(m.type, m.dag_id, getattr(m, "run_ids", None) or getattr(m, "run_id", None)) for m in supervisor.asked]
    assert asked == [("GetTaskStates", TAGS, ["run-1"]), ("GetXCom", TAGS, "run-1")]


def test_airflow_calls_it_with_a_dag_that_has_no_template_environment(monkeypatch, sent, ledger):
    """``airflow dags test`` hands the callback the serialized DAG, which cannot build a Jinja environment: the
    notifier renders nothing, so Airflow's own call path (``notifier(context)``) still alerts."""
    finish(ledger, "L1", "failed", "upstream_outage")
    states(monkeypatch, {**OK, "sync_locations_0": "failed"})
    tags_notifier()(context())
    assert len(sent) == 1 and "- location L1: upstream outage" in sent[0][1]
