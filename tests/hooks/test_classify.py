"""The classifier: a table of answers (responses, transport errors) -> decisions. No network."""

from __future__ import annotations

from http.client import RemoteDisconnected

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from ghl_pleo.errors import AuthenticationError, FatalAPIError, RateLimitError, RetryableAPIError
from ghl_pleo.hooks.classify import Call, Done, Fail, Retry, RetryPolicy, classify

POLICY = RetryPolicy(backoff_base_s=1.0, backoff_max_s=30.0, retry_after_max_s=120.0, jitter=0)
GET = Call("GHL", "GET", "/social-media-posting/{locationId}/tags", "Loc1", idempotent=True)
CREATE = Call("Pleo", "POST", "/v0/tag-groups/{groupId}/tags", "Loc1", idempotent=False)
SECRET = "tok-secret-123456"


def response(status: int, body: bytes = b'{"ok": true}', **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.encoding = "utf-8"
    r.headers = CaseInsensitiveDict({k.replace("_", "-"): v for k, v in headers.items()})
    return r


def never_sent() -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "Connection refused")))


def dropped() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed")))


# (call, attempt, answer, decision type, fields the decision must have); for Fail, the error's class and a message part
TABLE = [
    (GET, 1, response(200), Done, {"body": {"ok": True}}),
    (GET, 1, response(204, b""), Done, {"body": None}),
    (
        GET,
        2,
        response(200, b"<html>", Content_Type="text/html"),
        Retry,
        {"kind": "badbody", "status": 200, "wait": 2.0},
    ),
    (GET, 1, response(429, Retry_After="3"), Retry, {"kind": "ratelimit", "status": 429, "wait": 3.0}),
    (GET, 1, response(429, Retry_After="500"), Retry, {"kind": "ratelimit", "wait": 120.0}),
    (GET, 2, response(429, Retry_After="0"), Retry, {"kind": "ratelimit", "wait": 2.0}),
    (
        GET,
        2,
        response(429, X_RateLimit_Remaining="0", X_RateLimit_Interval_Milliseconds="100000"),
        Retry,
        {"kind": "ratelimit", "wait": 20.0},
    ),
    (GET, 3, response(503), Retry, {"kind": "server", "status": 503, "wait": 4.0}),
    (GET, 1, requests.exceptions.ConnectTimeout(), Retry, {"kind": "connect", "status": None}),
    (GET, 1, requests.exceptions.ReadTimeout(), Retry, {"kind": "timeout", "status": None}),
    (GET, 1, never_sent(), Retry, {"kind": "connect", "status": None}),
    (GET, 1, dropped(), Retry, {"kind": "dropped", "status": None}),
    (GET, 1, response(401), Fail, (AuthenticationError, 'returned HTTP 401: {"ok": true}. The token')),
    (GET, 1, response(403), Fail, (AuthenticationError, "returned HTTP 403")),
    (GET, 1, response(404), Fail, (FatalAPIError, "refused as invalid")),
    (GET, 1, response(422), Fail, (FatalAPIError, "returned HTTP 422")),
    # A create is retried only when the server cannot have acted on it: a 429, or a connection never made.
    (CREATE, 1, response(429, Retry_After="1"), Retry, {"kind": "ratelimit", "wait": 1.0}),
    (CREATE, 1, never_sent(), Retry, {"kind": "connect"}),
    (CREATE, 1, requests.exceptions.ConnectTimeout(), Retry, {"kind": "connect"}),
    (
        CREATE,
        1,
        dropped(),
        Fail,
        (
            RetryableAPIError,
            "failed after 1 attempt(s): connection error "
            "(ConnectionError: dropped after send); the create may or may "
            "not have happened",
        ),
    ),
    (CREATE, 2, requests.exceptions.ReadTimeout(), Fail, (RetryableAPIError, "failed after 2 attempt(s): no reply")),
    (CREATE, 1, response(503), Fail, (RetryableAPIError, "HTTP 503")),
    (CREATE, 1, response(201, b"not json"), Fail, (RetryableAPIError, "not JSON")),
    (CREATE, 1, response(201, b'{"data": {}}'), Done, {"body": {"data": {}}}),
    # Bounded answers: a redirect is a contract error, never followed; so is JSON too deep or with non-finite numbers.
    (
        GET,
        1,
        response(302, Location="https://evil.example:8443/x"),
        Fail,
        (FatalAPIError, "a redirect to https://evil"),
    ),
    (CREATE, 1, response(307, Location="https://evil.example/x"), Fail, (FatalAPIError, "HTTP 307, a redirect to")),
    (GET, 1, response(308), Fail, (FatalAPIError, "a redirect to no Location header")),
    (GET, 1, response(200, b'{"count": NaN}'), Fail, (FatalAPIError, "the JSON holds NaN")),
    (GET, 1, response(200, b'{"count": 1e999}'), Fail, (FatalAPIError, "the number 1e999, too large")),
    (GET, 1, response(200, b"[" * 5000 + b"]" * 5000), Fail, (FatalAPIError, "nests deeper than 64 levels")),
    (GET, 1, response(200, b"[" * 65 + b"]" * 65), Fail, (FatalAPIError, "nests deeper than 64 levels")),
    (GET, 1, response(200, b"[" * 64 + b"]" * 64), Done, {}),
]


@pytest.mark.parametrize("call, attempt, answer, kind, expected", TABLE)
def test_answers_become_decisions(call, attempt, answer, kind, expected):
    decision = classify(answer, call, attempt, policy=POLICY, read_timeout=30.0)
    assert type(decision) is kind
    if kind is Fail:
        cls, part = expected
        assert type(decision.error) is cls and part in str(decision.error)
        assert decision.error.endpoint == call.endpoint and decision.error.location_id == "Loc1"
    else:
        assert {k: getattr(decision, k) for k in expected} == expected


def test_a_dropped_create_is_raised_not_retried_and_carries_no_status():
    decision = classify(dropped(), CREATE, 1, policy=POLICY, read_timeout=30.0)
    assert isinstance(decision, Fail) and decision.error.status is None
    assert str(decision.error).startswith("Pleo POST /v0/tag-groups/{groupId}/tags for location Loc1 failed after")
    assert "cannot duplicate" in str(decision.error)


def test_a_401_whose_refresh_found_no_token_says_so():
    decision = classify(response(401), GET, 1, policy=POLICY, read_timeout=30.0, refresh_declined=True)
    assert isinstance(decision.error, AuthenticationError) and decision.error.status == 401
    assert "the credentials could not be refreshed" in str(decision.error)
    decision = classify(response(403), GET, 1, policy=POLICY, read_timeout=30.0, refresh_declined=True)
    assert "could not be refreshed" not in str(decision.error)  # only a 401 asks for a refresh


def test_giving_up_names_the_attempts_the_reason_and_the_next_step():
    retry = classify(response(429, Retry_After="1"), GET, 6, policy=POLICY, read_timeout=30.0)
    error = retry.give_up(GET, 6)
    assert type(error) is RateLimitError and error.status == 429
    assert str(error).startswith(
        "GHL GET /social-media-posting/{locationId}/tags for location Loc1 failed after 6 attempt(s): HTTP 429"
    )
    assert "Airflow will retry the task" in str(error)
    timeout = classify(requests.exceptions.ReadTimeout(), GET, 3, policy=POLICY, read_timeout=0.5)
    assert type(timeout.give_up(GET, 3)) is RetryableAPIError and "no reply within 0.5s" in timeout.reason


def test_quoted_bodies_never_carry_a_secret():
    body = f'{{"message": "bad token {SECRET}", "echo": "Bearer abc.def"}}'.encode()
    for status in (400, 401, 503):
        decision = classify(response(status, body), GET, 1, policy=POLICY, read_timeout=30.0, secrets=[SECRET])
        text = str(decision.error) if isinstance(decision, Fail) else decision.reason
        assert SECRET not in text and "abc.def" not in text and "***" in text


def test_any_other_http_library_error_is_named_by_its_type_never_its_text():
    for exc in (
        requests.exceptions.InvalidHeader(f"Invalid return character in header value: 'Bearer {SECRET}\\n'"),
        requests.exceptions.InvalidURL(f"https://x/?token={SECRET}"),
        requests.exceptions.MissingSchema(SECRET),
    ):
        decision = classify(exc, GET, 1, policy=POLICY, read_timeout=30.0)
        assert isinstance(decision, Fail) and decision.error.kind == "configuration"
        assert type(exc).__name__ in str(decision.error) and SECRET not in str(decision.error)
    broke = classify(requests.exceptions.ChunkedEncodingError(SECRET), GET, 1, policy=POLICY, read_timeout=30.0)
    assert isinstance(broke, Retry) and broke.kind == "sent" and SECRET not in broke.reason
    create = classify(requests.exceptions.ContentDecodingError(SECRET), CREATE, 1, policy=POLICY, read_timeout=30.0)
    assert isinstance(create, Fail) and SECRET not in str(create.error)  # a create is never retried blindly


def test_a_redirect_names_its_host_only_never_its_body_path_or_query():
    answer = response(301, b"BODY-MARKER", Location="https://evil.example/cb?refresh_token=zzz")
    text = str(classify(answer, GET, 1, policy=POLICY, read_timeout=30.0).error)
    assert "HTTP 301, a redirect to https://evil.example;" in text and "never followed" in text
    assert "zzz" not in text and "/cb" not in text and "BODY-MARKER" not in text


def test_every_http_error_names_the_connection_and_the_host():
    named = Call("GHL", "GET", GET.endpoint, "Loc1", conn_id="ghl_default", host="ghl.example:8443")
    origin = "GHL GET /social-media-posting/{locationId}/tags for location Loc1 (connection 'ghl_default', host "
    for status in (401, 404, 503, 301):
        decision = classify(response(status, Location="https://x.example/"), named, 6, policy=POLICY, read_timeout=1)
        error = decision.error if isinstance(decision, Fail) else decision.give_up(named, 6)
        assert str(error).startswith(origin + "ghl.example:8443)"), status
    refused = classify(never_sent(), named, 3, policy=POLICY, read_timeout=1).give_up(named, 3)
    assert str(refused).startswith(origin + "ghl.example:8443) failed after 3 attempt(s): connection error")
