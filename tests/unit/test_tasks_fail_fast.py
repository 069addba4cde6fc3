"""Task bodies: a configuration error fails its task without Airflow's retries, whichever step of the body
raises it (the mapping file, the variable, the params, a connection), not only the flow step."""

from __future__ import annotations

from types import SimpleNamespace

import airflow.sdk
import pytest
from airflow.sdk.exceptions import AirflowFailException

from ghl_pleo import tasks, tasks_batch
from ghl_pleo.errors import ConfigurationError, RetryableAPIError

LOCATION = {"location_id": "Loc1", "name": "One"}


def broken_mapping(*_args, **_kwargs):
    raise ConfigurationError("Mapping file mapping.yaml: unknown key(s) ['group_nme_template'].")


@pytest.fixture
def context(monkeypatch):
    ctx = {"params": {}, "run_id": "manual__1", "dag_run": None}
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: ctx)
    return ctx


def test_a_broken_mapping_file_fails_list_locations_without_retries(monkeypatch, context):
    monkeypatch.setattr(tasks, "load_mapping", broken_mapping)
    with pytest.raises(AirflowFailException, match=r"^\[configuration\] Mapping file mapping.yaml: unknown key"):
        tasks.list_locations()


def test_a_broken_mapping_file_fails_a_location_sync_and_ensure_groups_without_retries(monkeypatch, context):
    monkeypatch.setattr(tasks, "load_mapping", broken_mapping)
    run = SimpleNamespace(warehouse=None)  # no warehouse: the mapping file is read before anything is opened
    monkeypatch.setattr(tasks_batch, "_batch_task", lambda *_a: (context, run, {"release_archive_guard": []}))
    monkeypatch.setattr(tasks, "_ghl", lambda _warehouse: object())
    monkeypatch.setattr(tasks, "_pleo", lambda _params, _warehouse: object())
    monkeypatch.setattr(tasks, "sync_run", lambda params=None: run)
    with pytest.raises(AirflowFailException, match=r"^\[configuration\] Mapping file"):
        tasks_batch.sync_locations({"batch": 1, "label": "batch 1: Loc1 (1)", "locations": [LOCATION]})
    with pytest.raises(AirflowFailException, match=r"^\[configuration\] Mapping file"):
        tasks.ensure_groups([LOCATION])


def test_a_malformed_param_fails_the_task_without_retries(context):
    context["params"] = {"locations": {"not": "a list"}}
    with pytest.raises(AirflowFailException, match=r"^\[configuration\] A run param must be a list"):
        tasks.ensure_groups([LOCATION])


def test_a_malformed_variable_fails_the_stale_check_without_retries(monkeypatch):
    monkeypatch.setattr(airflow.sdk.Variable, "get", staticmethod(lambda *_a, **_k: "not json"))
    with pytest.raises(AirflowFailException, match=r"^\[configuration\] Variable ghl_location_ids must be"):
        tasks.check_stale_syncs()


def test_an_outage_is_left_to_airflow_s_retries(monkeypatch, context):
    def outage(*_args, **_kwargs):
        raise RetryableAPIError("GHL GET /locations/{locationId} (connection 'ghl_default', host h) failed")

    monkeypatch.setattr(tasks, "load_mapping", outage)
    with pytest.raises(RetryableAPIError):
        tasks.list_locations()
