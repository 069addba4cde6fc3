"""GhlAuth over real HTTP (the sandbox): Bearer and Version on every send, one refresh and re-send after a 401,
and the re-send limited and counted like any other send."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from ghl_pleo.errors import AuthenticationError
from ghl_pleo.hooks.auth import GhlAuth
from ghl_pleo.hooks.client import ApiClient, RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.ratelimit import SlidingWindowLimiter
from ghl_pleo.warehouse import Warehouse
from tests.sandbox_client import GHL_TOKEN

pytestmark = pytest.mark.integration
LOCATION = "/locations/{locationId}"
KEY = f"GET {LOCATION}"
V2 = "2021-07-28"


@pytest.fixture
def box(sandbox):
    sandbox.reset(locations=1, min_tags=5, max_tags=5)
    sandbox.configure(ghl_burst_limit=100, ghl_burst_window_s=10.0, location_tokens={})
    sandbox.clear_faults()
    sandbox.clear_requests()
    yield sandbox
    sandbox.clear_faults()


class Tokens:
    """A token source: the first token until a refresh moves on to the next; no next one: the refresh says no."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.asked = 0
        self.refreshes = 0

    def token(self) -> str:
        self.asked += 1
        return self.tokens[0]

    def refresh(self) -> bool:
        self.refreshes += 1
        if len(self.tokens) < 2:
            return False
        self.tokens.pop(0)
        return True


def client(box, **kwargs) -> ApiClient:
    return ApiClient(
        "GHL",
        box.ghl_url,
        retry=RetryPolicy(max_attempts=3, backoff_base_s=0.01, jitter=0),
        **{"sleep": lambda s: None, **kwargs},
    )


def get_location(c: ApiClient, box, auth: GhlAuth) -> dict:
    loc = box.locations()[0]["id"]
    return c.request("GET", LOCATION, path_params={"locationId": loc}, auth=auth, location_id=loc, limiter_key=loc)


def statuses(box) -> list[int]:
    return [e["status"] for e in box.exchanges() if e["route"] == KEY]


def test_every_send_carries_the_current_token_and_the_version(box):
    tokens = Tokens(GHL_TOKEN)
    box.fault(api="ghl", endpoint=KEY, status=503, times=1)
    assert get_location(client(box), box, GhlAuth(tokens.token, V2))["location"]
    sent = [e for e in box.exchanges() if e["route"] == KEY]
    assert [e["status"] for e in sent] == [503, 200]
    assert all(e["headers"]["version"] == V2 and e["headers"]["authorization"] == "Bearer ***" for e in sent)
    assert tokens.asked == 2  # asked again for the retry


def test_a_401_refreshes_once_and_the_resend_is_counted_not_retried(box):
    tokens = Tokens("stale-token-0001", GHL_TOKEN)
    c = client(box)
    assert get_location(c, box, GhlAuth(tokens.token, V2, refresh=tokens.refresh))["location"]
    assert statuses(box) == [401, 200] and tokens.refreshes == 1
    assert c.stats.requests[KEY] == 2 == box.requests()[f"GHL {KEY}"]
    assert c.stats.retries == 0 and c.stats.last_status == 200


def test_a_401_after_the_refresh_is_an_authentication_error(box):
    tokens = Tokens("stale-token-0001", "stale-token-0002", GHL_TOKEN)
    c = client(box)
    with pytest.raises(AuthenticationError) as err:
        get_location(c, box, GhlAuth(tokens.token, V2, refresh=tokens.refresh))
    assert tokens.refreshes == 1 and statuses(box) == [401, 401] and c.stats.requests[KEY] == 2
    msg = str(err.value)
    assert "returned HTTP 401" in msg and "The token in the connection is wrong" in msg and "stale-token" not in msg
    assert err.value.status == 401 and err.value.endpoint == LOCATION


def test_a_refresh_that_finds_no_new_token_is_named_in_the_error(box):
    tokens = Tokens("stale-token-0001")
    auth = GhlAuth(tokens.token, V2, refresh=tokens.refresh)
    with pytest.raises(AuthenticationError, match="the credentials could not be refreshed"):
        get_location(client(box), box, auth)
    assert auth.declined and tokens.refreshes == 1 and statuses(box) == [401]


def test_a_token_that_cannot_be_refreshed_fails_at_the_first_401(box):
    with pytest.raises(AuthenticationError, match="returned HTTP 401: .*The token in the connection is wrong"):
        get_location(client(box), box, GhlAuth(lambda: "wrong-token-abc123", V2))
    assert statuses(box) == [401]


def test_the_one_refresh_spans_the_retries_of_a_request_not_the_next_request(box):
    tokens = Tokens(GHL_TOKEN, GHL_TOKEN, GHL_TOKEN)
    box.fault(api="ghl", endpoint=KEY, status=401, times=1)  # 401: refresh, re-send ...
    box.fault(api="ghl", endpoint=KEY, status=503, times=1)  # ... which meets a 503: retry ...
    box.fault(api="ghl", endpoint=KEY, status=401, times=1)  # ... which meets a 401: the refresh is spent
    c = client(box)
    with pytest.raises(AuthenticationError, match="returned HTTP 401: .*The token in the connection is wrong"):
        get_location(c, box, GhlAuth(tokens.token, V2, refresh=tokens.refresh))
    assert statuses(box) == [401, 503, 401] and tokens.refreshes == 1 and c.stats.retries == 1
    box.fault(api="ghl", endpoint=KEY, status=401, times=1)
    assert get_location(c, box, GhlAuth(tokens.token, V2, refresh=tokens.refresh))  # a new request: a new refresh
    assert tokens.refreshes == 2 and statuses(box)[-2:] == [401, 200]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_resend_waits_for_the_limiter_like_any_send(box):
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 10.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    tokens = Tokens("stale-token-0001", GHL_TOKEN)
    assert get_location(client(box, limiter=limiter), box, GhlAuth(tokens.token, V2, refresh=tokens.refresh))
    assert statuses(box) == [401, 200]
    assert clock.now == pytest.approx(10.0)  # one request per 10 s: the re-send waited a whole window


OAUTH = {
    "client_id": "sbx-client",
    "client_secret": "sbx-client-secret-7f3a",
    "company_id": "SbxAgency0000000001",
    "refresh_token": "sbx-refresh-initial-0001",
}


def test_oauth_expiry_mid_run_every_send_is_counted_as_the_server_counts_it(box, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_GHL_DEFAULT", json.dumps({"conn_type": "http", "host": box.ghl_url, "extra": {"oauth": OAUTH}})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GHL_PLEO_DB",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": f"sqlite:///{tmp_path / 'wh.db'}"}}),
    )
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    loc = box.locations()[0]["id"]
    h = GhlHook(
        token_store=Warehouse().tokens,
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, jitter=0),
        sleep=lambda s: None,
    )
    assert h.get_location(loc)
    box._admin("POST", "/oauth/expire")  # the cached location token and the agency token die
    assert h.get_location(loc)  # 401 -> forget -> mint (401 -> agency refresh -> mint) -> re-send
    server = {k.removeprefix("GHL "): v for k, v in box.requests().items()}
    assert server == {KEY: 3, "POST /oauth/token": 2, "POST /oauth/locationToken": 3}
    assert dict(h.client.stats.requests) == server and h.client.stats.retries == 0
    assert box._admin("GET", "/oauth")["refreshes"] == 2


def test_a_token_that_cannot_be_found_fails_before_the_send_but_is_counted_and_frees_its_slot(box):
    from ghl_pleo.errors import ConfigurationError

    def no_token() -> str:
        raise ConfigurationError("no token for location X")

    clock = FakeClock()
    limiter = SlidingWindowLimiter(1, 10.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    c = client(box, limiter=limiter)
    with pytest.raises(ConfigurationError, match="no token"):
        get_location(c, box, GhlAuth(no_token, V2))
    assert c.stats.requests[KEY] == 1 and statuses(box) == []  # counted as before: the slot was taken first
    assert get_location(c, box, GhlAuth(lambda: GHL_TOKEN, V2)) and clock.now == pytest.approx(10.0)
