"""The project's Airflow provider (``ghl_pleo.provider``): installed, discovered, and its form is the hooks' extras.

The project is installed by ``make`` (``pip install --no-deps -e .``): its ``apache_airflow_provider`` entry point
is what Airflow's ProvidersManager finds. The connection form is declared (``conn-fields``,
``ui-field-behaviour``), so the UI never imports the hooks, and each field is stored by the UI in the extra under
its own name: the tests below check that every field is a setting the hook reads.
"""

from __future__ import annotations

import json
import warnings
from importlib.metadata import distribution, entry_points

import pytest

from ghl_pleo.provider import get_provider_info

FIELDS = {
    "ghl": ["company_id", "burst_limit", "burst_window_s"],
    "pleo": ["company_id", "currency", "max_requests_per_second", "rate_headroom", "concurrency"],
}
HOOKS = {"ghl": "ghl_pleo.hooks.ghl.GhlHook", "pleo": "ghl_pleo.hooks.pleo.PleoHook"}


def test_the_entry_point_is_installed_and_names_the_provider_info():
    found = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("ghl_pleo.")]
    assert [(ep.name, ep.value) for ep in found] == [("provider_info", "ghl_pleo.provider:get_provider_info")], (
        "the project is not installed: run make (pip install --no-deps -e .)"
    )
    assert found[0].dist.metadata["Name"] == "ghl-pleo"
    assert distribution("ghl-pleo").version == get_provider_info()["versions"][0]
    assert found[0].load() is get_provider_info


def test_the_provider_info_is_valid_for_airflow():
    from airflow.providers_manager import _create_provider_info_schema_validator

    info = get_provider_info()
    _create_provider_info_schema_validator().validate(info)
    assert info["package-name"] == "ghl-pleo"
    assert [(c["connection-type"], c["hook-class-name"]) for c in info["connection-types"]] == list(HOOKS.items())


def test_providers_manager_lists_ghl_and_pleo_with_our_hooks_and_their_test_button():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "ghl-pleo" in pm.providers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ProvidersManager.hooks itself is deprecated for task code
        hooks = pm.hooks
    for conn_type, hook_class in HOOKS.items():
        info = hooks[conn_type]
        assert info is not None, f"{conn_type}: the hook failed to import"
        assert (info.hook_class_name, info.package_name, info.connection_type) == (hook_class, "ghl-pleo", conn_type)
        assert info.connection_testable
    assert hooks["ghl"].connection_id_attribute_name == "ghl_conn_id"
    assert hooks["pleo"].connection_id_attribute_name == "pleo_conn_id"


@pytest.mark.parametrize("conn_type", ["ghl", "pleo"])
def test_the_form_hides_login_and_schema_and_names_the_token(conn_type):
    from airflow.providers_manager import ProvidersManager

    behaviour = ProvidersManager().field_behaviours[conn_type]
    assert sorted(behaviour["hidden_fields"]) == ["login", "schema"]
    assert behaviour["placeholders"]["port"].startswith("443")  # Airflow 3.3.2's Test button needs a port
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API token"}
    assert behaviour["placeholders"]["host"].startswith("https://")


@pytest.mark.parametrize("conn_type", ["ghl", "pleo"])
def test_the_ui_gets_the_form_fields_by_their_extra_names(conn_type):
    """What ``GET /ui/connections/hook_meta`` sends the UI's connection form."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == conn_type)
    assert meta.hook_class_name == HOOKS[conn_type]
    assert list(meta.extra_fields) == FIELDS[conn_type]
    assert meta.standard_fields.password.title == "API token" and meta.standard_fields.login.hidden
    company = meta.extra_fields["company_id"]
    assert company["schema"]["title"] and company["description"]
    required = [name for name, f in meta.extra_fields.items() if "null" not in f["schema"]["type"]]
    assert required == (["company_id"] if conn_type == "pleo" else [])


def test_the_hooks_define_no_deprecated_form_methods():
    """Airflow 3.2+ warns about ``get_ui_field_behaviour`` / ``get_connection_form_widgets`` on a hook."""
    from ghl_pleo.hooks.ghl import GhlHook
    from ghl_pleo.hooks.pleo import PleoHook

    for hook in (GhlHook, PleoHook):
        assert "get_ui_field_behaviour" not in hook.__dict__ and "get_connection_form_widgets" not in hook.__dict__
        assert hook.conn_type in HOOKS and callable(hook.test_connection)


def test_every_ghl_form_field_is_a_setting_the_hook_reads(monkeypatch):
    """A connection as the form stores it (each field under its name, an empty one as null) is read by the hook."""
    from ghl_pleo.hooks.ghl import GhlHook

    extra = {"company_id": "Agency42", "burst_limit": 7, "burst_window_s": 2.5}
    conn = {"conn_type": "ghl", "host": "https://services.leadconnectorhq.com", "password": "pit-x", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    hook = GhlHook()
    assert hook.extras["company_id"] == "Agency42"
    assert (hook.client.limiter.limit, hook.client.limiter.window_s) == (7, 2.5)
    assert sorted(extra) == sorted(FIELDS["ghl"])


def test_every_pleo_form_field_is_a_setting_the_hook_reads(monkeypatch):
    from ghl_pleo.hooks.pleo import PleoHook

    extra = {
        "company_id": "00000000-0000-0000-0000-000000000042",
        "currency": "dkk",
        "max_requests_per_second": 3,
        "rate_headroom": 0.2,
        "concurrency": 2,
    }
    conn = {"conn_type": "pleo", "host": "https://external.pleo.io", "password": "pleo-x", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_PLEO_DEFAULT", json.dumps(conn))
    slots = object()
    hook = PleoHook(rate_slots=slots)
    assert (hook.company_id, hook.currency, hook.concurrency) == (extra["company_id"], "DKK", 2)
    assert hook.client.limiter.interval_s == pytest.approx(1 / (3 * (1 - 0.2)))  # rate and headroom
    assert sorted(extra) == sorted(FIELDS["pleo"])


def test_fields_left_empty_in_the_form_are_not_set(monkeypatch):
    from ghl_pleo.hooks.pleo import PleoHook

    extra = {
        "company_id": "c",
        "currency": None,
        "max_requests_per_second": None,
        "rate_headroom": "",
        "concurrency": None,
    }
    conn = {"conn_type": "pleo", "host": "https://external.pleo.io", "password": "pleo-x", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_PLEO_DEFAULT", json.dumps(conn))
    hook = PleoHook(rate_slots=object())
    assert hook.extras == {"company_id": "c"}
    assert (hook.currency, hook.concurrency) == (None, 4)
    assert hook.client.limiter.interval_s == pytest.approx(1 / (10 * (1 - 0.05)))
