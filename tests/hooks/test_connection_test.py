"""The Test button of the ghl and pleo connection types (``test_connection()``) against the sandbox: one call,
and a message that names the problem (bad token, missing scope, wrong host, missing setting) and never a token."""

from __future__ import annotations

import json

import pytest

from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from tests.hooks.oauth_env import OAUTH, oauth_state
from tests.sandbox_client import GHL_TOKEN, PLEO_COMPANY, PLEO_TOKEN, free_port

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"
SEARCH = "GET /locations/search"
GROUPS = "GET /v0/tag-groups"
BAD_TOKEN = "pit-wrong-0123456789abcdef"
AGENCY = "SbxAgency0000000001"


@pytest.fixture
def box(sandbox, monkeypatch):
    sandbox.reset(locations=2, min_tags=3, max_tags=5)
    sandbox.configure(ghl_denied_scopes=[], pleo_rps=0)
    sandbox.clear_faults()
    monkeypatch.delenv("AIRFLOW_VAR_GHL_LOCATION_IDS", raising=False)
    sandbox.clear_requests()
    yield sandbox
    sandbox.clear_faults()
    sandbox.configure(ghl_denied_scopes=[])


def ghl(monkeypatch, box, *, conn_type="ghl", password=GHL_TOKEN, host=None, **extra) -> GhlHook:
    conn = {"conn_type": conn_type, "host": host or box.ghl_url, "password": password, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    return GhlHook()


def pleo(monkeypatch, box, *, conn_type="pleo", password=PLEO_TOKEN, host=None, **extra) -> PleoHook:
    extra = {"company_id": PLEO_COMPANY, **extra}
    conn = {"conn_type": conn_type, "host": host or box.pleo_url, "password": password, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_PLEO_DEFAULT", json.dumps(conn))
    return PleoHook()  # no rate_slots: the test needs no warehouse


def first_location(box, monkeypatch) -> str:
    loc = box.locations()[0]["id"]
    monkeypatch.setenv("AIRFLOW_VAR_GHL_LOCATION_IDS", json.dumps([loc, box.locations()[1]["id"]]))
    return loc


# GHL ------------------------------------------------------------------------------------------------------------


def test_a_good_sub_account_token_passes_with_one_call_on_the_first_location_of_the_variable(box, monkeypatch):
    loc = first_location(box, monkeypatch)
    ok, message = ghl(monkeypatch, box).test_connection()
    assert ok, message
    assert loc in message and "socialplanner/tag.readonly" in message
    assert box.requests() == {f"GHL {TAGS}": 1}
    assert dict(box.exchanges()[-1]["query"]) == {"limit": "1"}


def test_a_good_agency_token_is_tried_on_the_agency_s_locations(box, monkeypatch):
    ok, message = ghl(monkeypatch, box, company_id=AGENCY).test_connection()
    assert ok, message
    assert AGENCY in message and "locations.readonly" in message
    assert box.requests() == {f"GHL {SEARCH}": 1}


def test_location_tokens_are_tried_with_the_first_location_s_own_token(box, monkeypatch):
    first, second = (loc["id"] for loc in box.locations())
    box.configure(location_tokens={first: "pit-first-location-token", second: "pit-second-location-token"})
    try:
        tokens = {first: "pit-first-location-token", second: "pit-second-location-token"}
        ok, message = ghl(monkeypatch, box, password=None, location_tokens=tokens).test_connection()
        assert ok, message
        assert f"location {first}" in message and "the other 1 were not tried" in message
        assert box.exchanges()[-1]["path"].endswith(f"/{first}/tags")
    finally:
        box.configure(location_tokens={})


def test_a_bad_token_is_named_as_such_after_one_call_and_the_message_holds_no_token(box, monkeypatch):
    first_location(box, monkeypatch)
    ok, message = ghl(monkeypatch, box, password=BAD_TOKEN).test_connection()
    assert not ok
    assert message.startswith("Bad token:") and "HTTP 401" in message, message
    assert "Invalid token: access token is invalid" in message  # GHL's own words
    assert BAD_TOKEN not in message
    assert box.requests() == {f"GHL {TAGS}": 1}  # no retry


def test_an_error_body_that_echoes_the_token_is_quoted_without_it(box, monkeypatch):
    first_location(box, monkeypatch)
    box.fault(api="ghl", endpoint=TAGS, status=401, body_kind="echo_token")
    ok, message = ghl(monkeypatch, box).test_connection()
    assert not ok and message.startswith("Bad token:"), message
    assert GHL_TOKEN not in message and "***" in message


@pytest.mark.parametrize(
    ("extra", "scope"),
    [({}, "socialplanner/tag.readonly"), ({"company_id": AGENCY}, "locations.readonly")],
    ids=["location-token", "agency-token"],
)
def test_a_token_without_the_scope_the_call_needs_says_which_scope_is_missing(box, monkeypatch, extra, scope):
    first_location(box, monkeypatch)
    box.configure(ghl_denied_scopes=[scope])
    ok, message = ghl(monkeypatch, box, **extra).test_connection()
    assert not ok
    assert message.startswith("Missing scope:") and "HTTP 403" in message, message
    assert f"needs the scope {scope}" in message
    assert "You do not have permission to access this resource" in message


def test_ghl_s_401_that_names_a_scope_is_a_missing_scope_not_a_bad_token(box, monkeypatch):
    first_location(box, monkeypatch)
    box.fault(api="ghl", endpoint=TAGS, status=401, message="The token is not authorized for this scope.")
    ok, message = ghl(monkeypatch, box).test_connection()
    assert not ok and message.startswith("Missing scope:"), message


def test_a_host_that_refuses_connections_is_a_wrong_host(box, monkeypatch):
    first_location(box, monkeypatch)
    ok, message = ghl(monkeypatch, box, host=f"http://127.0.0.1:{free_port()}").test_connection()
    assert not ok
    assert message.startswith("Wrong host? Could not connect to http://127.0.0.1:"), message


@pytest.mark.parametrize("wrong", ["path", "html", "redirect"])
def test_a_host_that_is_not_the_api_is_a_wrong_host(box, monkeypatch, wrong):
    first_location(box, monkeypatch)
    host = f"{box.ghl_url}/v1" if wrong == "path" else None
    if wrong != "path":
        box.fault(api="ghl", endpoint=TAGS, body_kind=wrong, to="https://elsewhere.example/login?token=x")
    ok, message = ghl(monkeypatch, box, host=host).test_connection()
    assert not ok
    assert message.startswith("Wrong host?"), message
    expected = {"path": "HTTP 404", "html": "not the JSON of GHL's API", "redirect": "redirects"}[wrong]
    assert expected in message and "https://services.leadconnectorhq.com" in message, message


def test_a_location_ghl_does_not_know_is_named(box, monkeypatch):
    ok, message = ghl(
        monkeypatch, box, password=None, location_tokens={"NoSuchLocation0001": GHL_TOKEN}
    ).test_connection()
    assert not ok and message.startswith("Unknown location:") and "NoSuchLocation0001" in message, message


@pytest.mark.parametrize(("status", "expected"), [(500, "has trouble now"), (429, "is rate-limiting")])
def test_trouble_at_ghl_is_reported_after_one_call_without_retries(box, monkeypatch, status, expected):
    first_location(box, monkeypatch)
    box.fault(api="ghl", endpoint=TAGS, status=status, retry_after=0)
    ok, message = ghl(monkeypatch, box).test_connection()
    assert not ok and expected in message and "try again" in message, message
    assert box.requests() == {f"GHL {TAGS}": 1}


def test_without_a_location_or_a_company_the_message_says_what_to_set_and_nothing_is_sent(box, monkeypatch):
    ok, message = ghl(monkeypatch, box).test_connection()
    assert not ok
    assert "ghl_location_ids" in message and "company_id" in message, message
    assert box.requests() == {}


def test_agency_oauth_is_checked_without_using_the_refresh_token(box, monkeypatch):
    before = oauth_state(box)
    ok, message = ghl(monkeypatch, box, password=None, oauth=OAUTH).test_connection()
    assert ok, message
    assert message.startswith("Partly checked:") and "refresh token" in message, message
    assert OAUTH["refresh_token"] not in message and OAUTH["client_secret"] not in message
    assert oauth_state(box)["refreshes"] == before["refreshes"]
    assert box.requests() == {f"GHL {SEARCH}": 1}
    assert "authorization" not in box.exchanges()[-1]["headers"]  # sent without any credentials


@pytest.mark.parametrize(
    ("oauth", "lacks"),
    [({k: v for k, v in OAUTH.items() if k != "refresh_token"}, "refresh_token"), ("not-an-object", "client_id")],
    ids=["no-refresh-token", "not-an-object"],
)
def test_incomplete_agency_oauth_names_what_is_missing(box, monkeypatch, oauth, lacks):
    ok, message = ghl(monkeypatch, box, password=None, oauth=oauth).test_connection()
    assert not ok and "extra.oauth lacks" in message and lacks in message, message
    assert box.requests() == {}


def test_an_http_connection_with_today_s_extras_is_tested_the_same_way(box, monkeypatch):
    ok, message = ghl(monkeypatch, box, conn_type="http", company_id=AGENCY, burst_limit=50).test_connection()
    assert ok, message


def test_settings_left_empty_in_the_form_take_their_defaults(box, monkeypatch):
    first_location(box, monkeypatch)
    h = ghl(monkeypatch, box, company_id=None, burst_limit=None, burst_window_s="")
    assert h.client.limiter.limit == 100 and h.client.limiter.window_s == 10.0
    assert h.test_connection()[0]


def test_a_malformed_setting_is_named_before_any_call(box, monkeypatch):
    first_location(box, monkeypatch)
    ok, message = ghl(monkeypatch, box, burst_limit="many").test_connection()
    assert not ok and "'burst_limit' must be a number" in message, message
    assert box.requests() == {}


# Pleo -----------------------------------------------------------------------------------------------------------


def test_a_good_pleo_token_passes_with_one_call_and_no_warehouse(box, monkeypatch):
    ok, message = pleo(monkeypatch, box).test_connection()
    assert ok, message
    assert PLEO_COMPANY in message
    assert box.requests() == {f"Pleo {GROUPS}": 1}
    assert dict(box.exchanges()[-1]["query"]) == {"company_id": PLEO_COMPANY}


def test_a_bad_pleo_token_is_named_as_such_and_the_message_holds_no_token(box, monkeypatch):
    ok, message = pleo(monkeypatch, box, password=BAD_TOKEN).test_connection()
    assert not ok and message.startswith("Bad token:") and "HTTP 401" in message, message
    assert BAD_TOKEN not in message
    assert box.requests() == {f"Pleo {GROUPS}": 1}


def test_a_pleo_token_refused_with_403_lacks_a_permission(box, monkeypatch):
    box.fault(api="pleo", endpoint=GROUPS, status=403, message="Forbidden: missing tag-groups read")
    ok, message = pleo(monkeypatch, box).test_connection()
    assert not ok and message.startswith("Missing scope:") and "read the company's tag groups" in message, message


def test_a_missing_company_id_is_named_and_nothing_is_sent(box, monkeypatch):
    ok, message = pleo(monkeypatch, box, company_id=None).test_connection()
    assert not ok and "company_id" in message and "Company id" in message, message
    assert box.requests() == {}


def test_a_company_id_pleo_refuses_is_named(box, monkeypatch):
    ok, message = pleo(monkeypatch, box, company_id="not-a-uuid").test_connection()
    assert not ok and "HTTP 400" in message and "Company id not-a-uuid" in message, message


def test_a_pleo_connection_pointing_at_ghl_is_a_wrong_host(box, monkeypatch):
    ok, message = pleo(monkeypatch, box, host=box.ghl_url).test_connection()
    assert not ok and message.startswith("Wrong host?") and "https://external.pleo.io" in message, message


def test_a_currency_that_is_no_iso_code_is_named(box, monkeypatch):
    ok, message = pleo(monkeypatch, box, currency="euro").test_connection()
    assert not ok and "ISO 4217" in message, message
    assert pleo(monkeypatch, box, currency="dkk").currency == "DKK"


def test_an_http_pleo_connection_with_today_s_extras_is_tested_the_same_way(box, monkeypatch):
    ok, message = pleo(monkeypatch, box, conn_type="http", max_requests_per_second=1000).test_connection()
    assert ok, message


# What the api-server does for the Test button -----------------------------------------------------------------


@pytest.mark.parametrize("conn_type", ["ghl", "pleo"])
def test_airflow_s_connection_test_finds_our_hook_by_connection_type(box, conn_type):
    """``Connection.test_connection()`` (what ``POST /api/v2/connections/test`` runs) builds the hook from the
    provider's connection type; the connection here is not stored anywhere, as in the api-server."""
    from airflow.models.connection import Connection

    host, token, extra = (
        (box.ghl_url, GHL_TOKEN, {"company_id": AGENCY})
        if conn_type == "ghl"
        else (box.pleo_url, PLEO_TOKEN, {"company_id": PLEO_COMPANY})
    )
    conn = Connection(conn_id=f"t_{conn_type}", conn_type=conn_type, host=host, password=token, extra=json.dumps(extra))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"AIRFLOW_CONN_T_{conn_type.upper()}", conn.get_uri())
        ok, message = conn.test_connection()
    assert ok, message
