"""GhlHook against the sandbox over real HTTP: paging, retries, limiter, errors, tokens."""

from __future__ import annotations

import json
import math
import time

import pytest

from ghl_pleo.errors import AuthenticationError, ConfigurationError, RateLimitError, RetryableAPIError
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from tests.sandbox_client import GHL_TOKEN

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"


@pytest.fixture
def box(sandbox, monkeypatch):
    sandbox.reset(locations=2, min_tags=230, max_tags=260)
    sandbox.configure(ghl_burst_limit=100, ghl_burst_window_s=10.0, ghl_retry_after=True)
    sandbox.clear_faults()
    sandbox.apply_env(monkeypatch)
    yield sandbox
    sandbox.clear_faults()


class Sleeps(list):
    def __call__(self, seconds):
        self.append(round(seconds, 3))


def hook(sleeps=None, **policy) -> GhlHook:
    return GhlHook(
        retry=RetryPolicy(**{"backoff_base_s": 0.01, "jitter": 0, **policy}),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def read_all(h: GhlHook, location_id: str) -> list[dict]:
    return [t for _, page, _ in h.iter_tag_pages(location_id) for t in page]


def test_pages_through_every_tag_with_limit_100_and_stops_at_count(box):
    loc = box.locations()[0]["id"]
    expected = [t["_id"] for t in box.ghl_tags(loc)]
    box.clear_requests()
    h = hook()
    assert [t["_id"] for t in read_all(h, loc)] == expected
    assert box.requests() == {f"GHL {TAGS}": math.ceil(len(expected) / 100)}
    sent = [e for e in box.exchanges() if e["route"] == TAGS]
    assert [dict(e["query"]) for e in sent][:2] == [{"limit": "100", "skip": "0"}, {"limit": "100", "skip": "100"}]
    assert all(e["headers"]["version"] == "2021-07-28" for e in sent)


def test_a_count_larger_than_what_is_served_ends_on_the_empty_page(box):
    loc = box.locations()[0]["id"]
    n = len(box.ghl_tags(loc))
    box.fault(api="ghl", endpoint=TAGS, body_kind="count_lies")
    box.clear_requests()
    assert len(read_all(hook(), loc)) == n
    assert box.requests()[f"GHL {TAGS}"] == n // 100 + 2  # full pages, the short one, then the empty one


def test_a_service_that_ignores_skip_cannot_make_the_read_loop(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="ignore_skip")
    box.clear_requests()
    h = hook()
    pages = list(h.iter_tag_pages(loc))
    assert len(pages) == 2 and pages[-1][2].stop_reason == "page with no new ids"
    assert box.requests()[f"GHL {TAGS}"] == 2


def test_429_with_retry_after_waits_what_the_server_says(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, status=429, retry_after=2, times=2)
    sleeps = Sleeps()
    assert read_all(hook(sleeps), loc)
    assert sleeps[:2] == [2.0, 2.0]


def test_429_without_retry_after_and_with_zero_backs_off_exponentially(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, status=429, times=2)
    box.fault(api="ghl", endpoint=TAGS, status=429, retry_after=0, times=2)
    sleeps = Sleeps()
    assert read_all(hook(sleeps, backoff_base_s=0.5), loc)
    assert sleeps[:4] == [0.5, 1.0, 2.0, 4.0]  # Retry-After: 0 does not burn the retries at once


def test_5xx_bursts_are_retried_then_succeed(box):
    loc = box.locations()[0]["id"]
    for status in (500, 502, 503):
        box.fault(api="ghl", endpoint=TAGS, status=status, times=1)
    box.clear_requests()
    tags = read_all(hook(), loc)
    assert len(tags) == len(box.ghl_tags(loc))
    assert box.requests()[f"GHL {TAGS}"] == math.ceil(len(tags) / 100) + 3


def test_a_persistent_outage_raises_a_retryable_error_naming_where(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, status=503)
    box.clear_requests()
    with pytest.raises(RetryableAPIError) as err:
        read_all(hook(max_attempts=4), loc)
    msg = str(err.value)
    assert loc in msg and "/social-media-posting/{locationId}/tags" in msg and "503" in msg and "4 attempt" in msg
    assert GHL_TOKEN not in msg
    assert box.requests()[f"GHL {TAGS}"] == 4


def test_a_429_storm_raises_a_rate_limit_error(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, status=429, retry_after=1)
    with pytest.raises(RateLimitError, match="429"):
        read_all(hook(max_attempts=3), loc)


def test_a_200_with_an_html_body_is_retried_as_a_broken_reply(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="html", times=1)
    assert read_all(hook(), loc)
    box.fault(api="ghl", endpoint=TAGS, body_kind="truncated")
    with pytest.raises(RetryableAPIError, match="not JSON"):
        read_all(hook(max_attempts=2), loc)


def test_a_slow_reply_past_the_timeout_is_retried(box, monkeypatch):
    loc = box.locations()[0]["id"]
    conn = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    conn["extra"]["timeout_s"] = 0.5
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    box.fault(api="ghl", endpoint=TAGS, delay_s=1.5, times=1)
    h = hook()
    assert read_all(h, loc)
    assert h.client.stats.retries == 1
    time.sleep(1.5)  # let the abandoned slow request finish before the next test counts requests


def test_401_is_an_authentication_error_without_the_token(box, monkeypatch):
    loc = box.locations()[0]["id"]
    conn = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    conn["password"] = "wrong-token-abc123"
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    with pytest.raises(AuthenticationError) as err:
        read_all(hook(), loc)
    assert "401" in str(err.value) and loc in str(err.value) and "wrong-token-abc123" not in str(err.value)


def test_per_location_tokens_are_used_for_their_location(box, monkeypatch):
    loc_a, loc_b = [x["id"] for x in box.locations()]
    box.configure(location_tokens={loc_a: "token-for-a-111", loc_b: "token-for-b-222"})
    try:
        conn = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
        conn["password"] = None
        conn["extra"]["location_tokens"] = {loc_a: "token-for-a-111", loc_b: "token-for-b-222"}
        monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
        assert read_all(hook(), loc_a) and read_all(hook(), loc_b)
        with pytest.raises(ConfigurationError, match="no token for location other"):
            read_all(hook(), "other")
    finally:
        box.configure(location_tokens={})


@pytest.mark.slow
def test_the_limiter_keeps_a_location_under_its_burst_limit(box, monkeypatch):
    loc = box.locations()[0]["id"]
    box.configure(ghl_burst_limit=10, ghl_burst_window_s=1.0)
    conn = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    conn["extra"].update(burst_limit=10, burst_window_s=1.0)
    monkeypatch.setenv("AIRFLOW_CONN_GHL_DEFAULT", json.dumps(conn))
    box.clear_requests()
    h = hook()
    start = time.monotonic()
    for _ in range(35):
        h.get_location(loc)
    elapsed = time.monotonic() - start
    statuses = [e["status"] for e in box.exchanges()]
    assert statuses.count(429) == 0 and len(statuses) == 35
    assert elapsed >= 3.0  # 35 requests at 10 per second need at least three full windows
    assert h.client.stats.min_ratelimit_remaining == 0


def test_tag_details_are_asked_in_batches_of_at_most_100(box):
    loc = box.locations()[0]["id"]
    ids = [t["_id"] for t in box.ghl_tags(loc)]
    box.clear_requests()
    details = hook().tag_details(loc, ids)
    assert sorted(d["_id"] for d in details) == sorted(ids)
    sizes = [len(e["body"]["tagIds"]) for e in box.exchanges()]
    assert max(sizes) <= 100 and sum(sizes) == len(ids) and len(sizes) == math.ceil(len(ids) / 100)
