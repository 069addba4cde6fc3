"""Hostile answers and inputs at the HTTP level, against the sandbox.

Bounded answers (issue 15, item 3): a redirect is never followed (another host, recording what arrives, stands
by), a body over the byte limit is refused unread, JSON too deep or with non-finite numbers is an
``upstream_contract`` error (not an internal one), a listing that never ends stops at its page cap, and a listing
read has a time budget. Each of these answers was taken, followed or crashed on before.
"""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from ghl_pleo.errors import ConfigurationError, FatalAPIError, RetryableAPIError
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.locations import parse_location_ids
from ghl_pleo.warehouse import Warehouse
from tests.receivers import Recorder

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"
PLEO_TAGS = "GET /v0/tag-groups/{groupId}/tags"
PLEO_CREATE = "POST /v0/tag-groups/{groupId}/tags"
OAUTH = {
    "client_id": "sbx-client",
    "client_secret": "sbx-client-secret-7f3a",
    "company_id": "SbxAgency0000000001",
    "refresh_token": "sbx-refresh-initial-0001",
}
# What a client that followed a redirect would take for the real answer: tokens, or an empty final page.
STOLEN = {"access_token": "evil-access", "refresh_token": "evil-refresh", "expires_in": 3600, "results": {"tags": []}}


@pytest.fixture
def box(sandbox, monkeypatch):
    sandbox.reset(locations=1, min_tags=30, max_tags=30)
    sandbox.clear_faults()
    sandbox.apply_env(monkeypatch)
    yield sandbox
    sandbox.clear_faults()


def hook() -> GhlHook:
    return GhlHook(retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, jitter=0), sleep=lambda s: None)


@pytest.mark.parametrize("bad", ["a/b", "..", "../locations/search", "x y"])
def test_a_location_id_with_path_characters_is_refused_before_any_request(box, bad):
    box.clear_requests()
    with pytest.raises(ConfigurationError, match="refused before any request"):
        list(hook().iter_tag_pages(bad))
    with pytest.raises(ConfigurationError):
        parse_location_ids(f'["ok1", "{bad}"]')
    assert box.requests() == {}


def test_an_html_error_page_with_status_200_is_a_retryable_error_not_data(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="html")
    with pytest.raises(RetryableAPIError, match="not JSON") as err:
        list(hook().iter_tag_pages(loc))
    assert "text/html" in str(err.value)


def test_a_missing_envelope_is_a_clear_contract_error(box, monkeypatch):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, status=200, message="ok")  # {"statusCode": 200, "message": "ok"}: no results
    with pytest.raises(FatalAPIError, match="envelope missing"):
        list(hook().iter_tag_pages(loc))


@pytest.fixture
def other_host():
    recorder = Recorder(STOLEN)
    yield recorder
    recorder.stop()


def pleo_hook() -> PleoHook:
    return PleoHook(
        rate_slots=Warehouse().rate_slots, retry=RetryPolicy(max_attempts=2, jitter=0), sleep=lambda s: None
    )


def assert_redirect_refused(err, status: int, other_host: Recorder) -> None:
    """An upstream_contract error naming the status and the host only: no body, no path, no query string."""
    message = str(err.value)
    assert err.value.kind == "upstream_contract" and err.value.status == status
    assert f"HTTP {status}, a redirect to {other_host.host};" in message
    assert "steal" not in message and "sbx-refresh" not in message and "BODY-MARKER" not in message
    assert other_host.requests == []  # nothing arrived at the other host


def test_a_redirected_tag_listing_is_never_followed(box, other_host):
    loc = box.locations()[0]["id"]
    to = f"{other_host.host}/steal?token=sbx-refresh-x"
    box.fault(api="ghl", endpoint=TAGS, body_kind="redirect", status=302, to=to, message="BODY-MARKER")
    with pytest.raises(FatalAPIError) as err:
        list(hook().iter_tag_pages(loc))
    assert_redirect_refused(err, 302, other_host)
    assert box.requests() == {"GHL " + TAGS: 1}  # not retried


def test_a_redirected_pleo_create_never_sends_its_body_elsewhere(box, other_host):
    h = pleo_hook()
    group = h.create_group("ghl-social-r", "Social: R")
    box.fault(api="pleo", endpoint=PLEO_CREATE, body_kind="redirect", status=307, to=f"{other_host.host}/steal")
    with pytest.raises(FatalAPIError) as err:
        h.create_tag(group["id"], "code-1", "Tag 1")
    assert_redirect_refused(err, 307, other_host)


def test_a_redirected_oauth_refresh_never_sends_the_client_secret_or_refresh_token_elsewhere(
    box, other_host, monkeypatch, tmp_path
):
    conn = {"conn_type": "http", "host": box.ghl_url, "extra": {"oauth": OAUTH}}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    h = GhlHook(token_store=Warehouse(f"sqlite:///{tmp_path / 'wh.db'}").tokens, retry=RetryPolicy(max_attempts=2))
    to = f"{other_host.host}/steal?client_secret=x"
    box.fault(api="ghl", endpoint="POST /oauth/token", body_kind="redirect", status=307, to=to)
    with pytest.raises(FatalAPIError) as err:
        h.oauth.agency_token()
    assert_redirect_refused(err, 307, other_host)
    assert OAUTH["client_secret"] not in str(err.value)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_over_the_byte_limit_is_refused_unread(box, monkeypatch, chunked):
    loc = box.locations()[0]["id"]
    monkeypatch.setenv("GHL_PLEO_MAX_RESPONSE_BYTES", "200000")
    box.fault(api="ghl", endpoint=TAGS, body_kind="huge", size=5_000_000, chunked=chunked)
    with pytest.raises(FatalAPIError) as err:
        list(hook().iter_tag_pages(loc))
    assert err.value.kind == "upstream_contract" and err.value.status == 200
    assert "over the 200000-byte limit" in str(err.value) and "GHL_PLEO_MAX_RESPONSE_BYTES" in str(err.value)
    assert box.requests() == {"GHL " + TAGS: 1}


@pytest.mark.parametrize("depth", [100_000, 200], ids=["beyond-the-parser", "beyond-the-limit"])
def test_deeply_nested_json_is_a_contract_error_not_an_internal_one(box, depth):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="deep", depth=depth)
    with pytest.raises(FatalAPIError, match="nests deeper than 64 levels") as err:
        list(hook().iter_tag_pages(loc))
    assert err.value.kind == "upstream_contract"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_json_are_a_contract_error(box, literal):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="non_finite", literal=literal)
    with pytest.raises(FatalAPIError, match=f"the JSON holds .*{literal.lstrip('-')}") as err:
        list(hook().iter_tag_pages(loc))
    assert err.value.kind == "upstream_contract"


def test_a_ghl_listing_that_never_ends_stops_at_the_page_ceiling(box, monkeypatch):
    loc = box.locations()[0]["id"]
    monkeypatch.setenv("GHL_PLEO_MAX_LISTING_PAGES", "5")
    box.fault(api="ghl", endpoint=TAGS, body_kind="endless", times=8)  # a bound, so the code before ends too
    with pytest.raises(FatalAPIError, match=r"did not end after 5 pages \(the limit: 5 pages") as err:
        list(hook().iter_tag_pages(loc))
    assert err.value.kind == "upstream_contract" and err.value.location_id == loc
    assert box.requests() == {"GHL " + TAGS: 5}


def test_a_ghl_listing_may_take_three_times_the_pages_of_its_last_good_read_at_least_ten(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="endless", times=40)
    with pytest.raises(FatalAPIError, match=r"did not end after 12 pages \(the limit: 3 x the 4 page"):
        list(hook().iter_tag_pages(loc, last_good_rows=350))
    box.clear_requests()
    with pytest.raises(FatalAPIError, match="did not end after 10 pages"):
        list(hook().iter_tag_pages(loc, last_good_rows=30))
    assert box.requests() == {"GHL " + TAGS: 10}


def test_a_pleo_listing_that_never_ends_stops_at_the_page_ceiling(box, monkeypatch):
    monkeypatch.setenv("GHL_PLEO_MAX_LISTING_PAGES", "5")
    h = pleo_hook()
    group = h.create_group("ghl-social-e", "Social: E")
    box.fault(api="pleo", endpoint=PLEO_TAGS, body_kind="endless", times=8)
    box.clear_requests()
    with pytest.raises(FatalAPIError, match=r"Pleo GET .* did not end after 5 pages") as err:
        list(h.iter_tags(group["id"]))
    assert err.value.kind == "upstream_contract"
    assert box.requests() == {"Pleo " + PLEO_TAGS: 5}


def test_a_listing_read_past_its_time_budget_is_stopped_between_pages(box, monkeypatch):
    loc = box.locations()[0]["id"]
    monkeypatch.setenv("GHL_PLEO_MAX_LISTING_READ_S", "0.5")
    box.fault(api="ghl", endpoint=TAGS, delay_s=0.3)  # 30 tags in pages of 10: 3 pages, at least 0.9 s
    with pytest.raises(RetryableAPIError, match="more than the 0.5s allowed") as err:
        list(hook().iter_tag_pages(loc, limit=10))
    assert err.value.kind == "upstream_outage"
    assert box.requests()["GHL " + TAGS] < 3  # stopped before the listing's last page
