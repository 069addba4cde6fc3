"""PleoHook against the sandbox: cursor paging, include_archived, creates are never blindly retried."""

from __future__ import annotations

import json

import pytest

from ghl_pleo.errors import ConfigurationError, RetryableAPIError
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.warehouse import Warehouse
from tests.sandbox_client import PLEO_TOKEN, warehouse_env

pytestmark = pytest.mark.integration


@pytest.fixture
def box(sandbox, monkeypatch):
    sandbox.reset(locations=1, min_tags=5, max_tags=5)
    sandbox.configure(pleo_rps=0)
    sandbox.clear_faults()
    sandbox.apply_env(monkeypatch)
    yield sandbox
    sandbox.clear_faults()
    sandbox.configure(pleo_rps=0)


def hook(**policy) -> PleoHook:
    return PleoHook(
        rate_slots=Warehouse().rate_slots,
        retry=RetryPolicy(**{"backoff_base_s": 0.01, "jitter": 0, **policy}),
        sleep=lambda s: None,
    )


def test_tag_listing_follows_cursors_and_includes_archived(box):
    h = hook()
    group = h.create_group("ghl-social-x", "Social: X")
    for i in range(230):
        h.create_tag(group["id"], f"c{i}", f"Tag {i}")
    first = h.create_tag(group["id"], "arch", "Archived one")
    h.update_tag(first["id"], code="arch", name="Archived one", archived=True)
    box.clear_requests()
    tags = [t for page in h.iter_tags(group["id"]) for t in page]
    assert len(tags) == 231 and len({t["id"] for t in tags}) == 231
    assert any(t["archived"] for t in tags)
    assert box.requests() == {"Pleo GET /v0/tag-groups/{groupId}/tags": 3}
    assert all(dict(e["query"])["include_archived"] == "true" for e in box.exchanges())


def test_pleo_does_not_enforce_unique_codes(box):
    h = hook()
    group = h.create_group("g", "G")
    h.create_tag(group["id"], "same", "A")
    h.create_tag(group["id"], "same", "B")
    assert len([t for t in box.pleo_state()["tags"].values() if t["code"] == "same"]) == 2


def test_a_create_that_fails_with_5xx_is_not_retried_blindly(box):
    h = hook()
    group = h.create_group("g", "G")
    box.fault(api="pleo", endpoint="POST /v0/tag-groups/{groupId}/tags", status=500, times=1)
    box.clear_requests()
    with pytest.raises(RetryableAPIError, match="re-reads the current state"):
        h.create_tag(group["id"], "c", "C")
    assert box.requests() == {"Pleo POST /v0/tag-groups/{groupId}/tags": 1}


def test_a_create_refused_with_429_is_retried(box):
    h = hook()
    group = h.create_group("g", "G")
    box.fault(api="pleo", endpoint="POST /v0/tag-groups/{groupId}/tags", status=429, times=2)
    h.create_tag(group["id"], "c", "C")
    assert len(box.pleo_state()["tags"]) == 1


def test_the_sandbox_rate_is_respected_by_the_client_limiter(box, monkeypatch):
    box.configure(pleo_rps=20)
    monkeypatch.setenv("AIRFLOW_CONN_PLEO_DEFAULT", box.env(max_requests_per_second=20)["AIRFLOW_CONN_PLEO_DEFAULT"])
    h = PleoHook(rate_slots=Warehouse().rate_slots, retry=RetryPolicy(max_attempts=1))
    for _ in range(45):
        h.list_groups()
    assert [e["status"] for e in box.exchanges()].count(429) == 0


def test_missing_company_id_is_a_configuration_error(box, monkeypatch):
    conn = json.loads(box.env()["AIRFLOW_CONN_PLEO_DEFAULT"])
    conn["extra"].pop("company_id")
    monkeypatch.setenv("AIRFLOW_CONN_PLEO_DEFAULT", json.dumps(conn))
    with pytest.raises(ConfigurationError, match="company_id"):
        hook().list_groups()


def test_errors_never_carry_the_token(box, monkeypatch):
    box.fault(api="pleo", endpoint="GET /v0/tag-groups", status=400, message=f"echo Bearer {PLEO_TOKEN}")
    with pytest.raises(Exception) as err:
        hook().list_groups()
    assert PLEO_TOKEN not in str(err.value) and "400" in str(err.value)


def test_a_dimension_value_created_behind_our_back_is_updated_instead(box):
    h = hook()
    group = h.create_group("g", "G")
    tag = h.create_tag(group["id"], "c", "C")
    dim = h.create_dimension(group["id"], code="ghl_location", name="GHL location", display_order=1)
    h.put_dimension_value(tag["id"], dim["id"], "first", exists=False)
    h.put_dimension_value(tag["id"], dim["id"], "second", exists=False)  # our read said "none"; Pleo says 409
    assert [v["value"] for v in box.pleo_state()["values"].values()] == ["second"]


_BURST = """
import json, os, sys
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.warehouse import Warehouse
h = PleoHook(rate_slots=Warehouse().rate_slots, retry=RetryPolicy(max_attempts=1))
ok = refused = 0
for _ in range(int(sys.argv[1])):
    try:
        h.list_groups()
        ok += 1
    except Exception:
        refused += 1
print(json.dumps({"ok": ok, "refused": refused}))
"""


def _parallel_clients(box, monkeypatch, tmp_path, shared: bool, processes: int = 3, each: int = 25) -> list[dict]:
    """Several task-like processes, one Pleo budget: what did the sandbox refuse?"""
    import os
    import subprocess
    import sys

    box.configure(pleo_rps=20)
    from tests.conftest import ROOT

    env = {
        **os.environ,
        **box.env(max_requests_per_second=20, shared_rate=shared),
        "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}",
        **warehouse_env(f"sqlite:///{tmp_path}/wh.db"),
    }
    procs = [
        subprocess.Popen([sys.executable, "-c", _BURST, str(each)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]


def test_parallel_tasks_share_one_pleo_rate_through_the_warehouse(box, monkeypatch, tmp_path):
    results = _parallel_clients(box, monkeypatch, tmp_path, shared=True)
    statuses = [e["status"] for e in box.exchanges()]
    assert sum(r["ok"] for r in results) == 75 and statuses.count(429) == 0


def test_without_the_shared_rate_parallel_tasks_overrun_it(box, monkeypatch, tmp_path):
    """The control: three processes each keeping 20/s on their own send about 60/s; the sandbox refuses some."""
    _parallel_clients(box, monkeypatch, tmp_path, shared=False)
    assert [e["status"] for e in box.exchanges()].count(429) > 0


def test_a_hook_without_the_shared_rate_store_refuses_to_run_at_a_private_rate(box):
    with pytest.raises(ConfigurationError, match="rate_slots"):
        PleoHook(retry=RetryPolicy(max_attempts=1)).list_groups()
    assert box.requests() == {}
