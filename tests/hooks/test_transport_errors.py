"""Where a request could not go: a host name that does not resolve is a configuration error, tried once; a
refused connection is an outage, tried a few times. Every message names the connection and the host.

Real sockets, no sandbox: a name under the reserved ``.invalid`` TLD never resolves, and a free local port refuses.
"""

from __future__ import annotations

import json

import pytest

from ghl_pleo.errors import ConfigurationError, RetryableAPIError
from ghl_pleo.hooks.client import ApiClient, RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from tests.sandbox_client import free_port

TAGS = "/social-media-posting/{locationId}/tags"
POLICY = RetryPolicy(max_attempts=6, backoff_base_s=0.0, jitter=0)


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def client(base_url: str, sleeps: Sleeps) -> ApiClient:
    return ApiClient("GHL", base_url, conn_id="ghl_default", retry=POLICY, sleep=sleeps, timeout=(5.0, 5.0))


def test_a_host_that_does_not_resolve_is_a_configuration_error_naming_connection_and_host_tried_once():
    sleeps = Sleeps()
    api = client("http://no-such-ghl-host.invalid", sleeps)
    with pytest.raises(ConfigurationError) as err:
        api.request("GET", TAGS, path_params={"locationId": "Loc1"})
    message = str(err.value)
    assert "host no-such-ghl-host.invalid of connection 'ghl_default' does not resolve" in message
    assert err.value.fail_fast
    assert api.stats.as_dict()["total_requests"] == 1 and api.stats.retries == 0 and sleeps == []


def test_a_refused_connection_is_an_outage_tried_a_bounded_number_of_times_naming_connection_and_host():
    sleeps = Sleeps()
    port = free_port()
    api = client(f"http://127.0.0.1:{port}", sleeps)
    with pytest.raises(RetryableAPIError) as err:
        api.request("GET", TAGS, path_params={"locationId": "Loc1"})
    message = str(err.value)
    assert not isinstance(err.value, ConfigurationError) and not err.value.fail_fast
    assert f"(connection 'ghl_default', host 127.0.0.1:{port}) failed after 3 attempt(s)" in message
    assert "could not connect" in message
    assert api.stats.as_dict()["total_requests"] == POLICY.connect_attempts == 3 and len(sleeps) == 2


def test_the_hooks_name_their_connection_and_never_the_url_user_or_password(monkeypatch):
    host = "http://user:pw-secret-1234@ghl-misspelt.invalid"
    conn = {"conn_type": "ghl", "host": host, "password": "pit-token-0123456789"}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    hook = GhlHook(retry=POLICY, sleep=Sleeps())
    with pytest.raises(ConfigurationError) as err:
        hook.client.request("GET", TAGS, path_params={"locationId": "Loc1"})
    assert "host ghl-misspelt.invalid of connection 'ghl_default'" in str(err.value)
    assert "pw-secret" not in str(err.value) and "pit-token" not in str(err.value)


def test_a_missing_connection_is_a_configuration_error_naming_it(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PLEO_NOWHERE", raising=False)
    with pytest.raises(ConfigurationError) as err:
        _ = PleoHook("pleo_nowhere").connection
    assert "'pleo_nowhere' is not set" in str(err.value) and err.value.fail_fast
