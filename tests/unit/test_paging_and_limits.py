"""Paginators, the sliding-window limiter and Retry-After parsing (no network)."""
from __future__ import annotations

import pytest

from ghl_pleo.errors import FatalAPIError
from ghl_pleo.hooks.client import RetryPolicy, parse_retry_after
from ghl_pleo.paginators import CursorPaginator, SkipPaginator
from ghl_pleo.ratelimit import SlidingWindowLimiter


def test_skip_paginator_stops_at_count():
    p = SkipPaginator(2)
    p.update(["a", "b"], 3)
    assert p.has_more() and p.params() == {"limit": "2", "skip": "2"}
    p.update(["c"], 3)
    assert not p.has_more() and p.stop_reason == "reached count"


def test_skip_paginator_stops_on_empty_page_even_if_count_says_more():
    p = SkipPaginator(2)
    p.update(["a", "b"], 50)
    p.update([], 50)
    assert p.stop_reason == "empty page"


def test_skip_paginator_stops_on_a_page_with_no_new_ids():
    p = SkipPaginator(2)
    p.update(["a", "b"], 50)
    p.update(["a", "b"], 50)  # a service that ignores skip
    assert p.stop_reason == "page with no new ids" and p.pages == 2


def test_cursor_paginator_follows_end_cursor_and_refuses_a_loop():
    p = CursorPaginator(10)
    p.update({"data": [1], "pagination": {"hasNextPage": True, "endCursor": "c1"}}, where="x")
    assert p.params() == {"limit": "10", "after": "c1"}
    with pytest.raises(FatalAPIError, match="loop detected"):
        p.update({"data": [2], "pagination": {"hasNextPage": True, "endCursor": "c1"}}, where="x")


def test_cursor_paginator_ends_when_no_next_page():
    p = CursorPaginator(10)
    p.update({"data": [1], "pagination": {"hasNextPage": False}}, where="x")
    assert not p.has_more()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_limiter_never_allows_more_than_limit_in_any_window():
    clock = FakeClock()
    lim = SlidingWindowLimiter(5, 10.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(23):
        slot = lim.acquire("loc")
        stamps.append(clock.now)
        clock.now += 0.25  # the reply takes a while; the window counts from the reply
        lim.release(slot)
    for t in stamps:
        assert sum(1 for s in stamps if t <= s < t + 10.0) <= 5
    assert stamps[5] == pytest.approx(10.25) and stamps[-1] > 40.0


def test_limiter_keys_are_independent():
    clock = FakeClock()
    lim = SlidingWindowLimiter(1, 10.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    lim.release(lim.acquire("a"))
    lim.release(lim.acquire("b"))
    assert clock.now == 0.0


def test_limiter_learns_from_rate_limit_headers():
    clock = FakeClock()
    lim = SlidingWindowLimiter(100, 10.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    lim.release(lim.acquire("loc"))
    lim.observe("loc", {"X-RateLimit-Max": "100", "X-RateLimit-Remaining": "0"})  # someone else used the rest
    lim.acquire("loc")
    assert clock.now == pytest.approx(10.0)


def test_a_request_in_flight_holds_its_slot_until_it_is_answered():
    clock = FakeClock()
    lim = SlidingWindowLimiter(1, 1.0, margin_s=0.0, clock=clock, sleep=clock.sleep)
    slot = lim.acquire("loc")
    clock.now = 5.0          # a slow reply: five windows later it still counts
    lim.release(slot)
    lim.acquire("loc")
    assert clock.now == pytest.approx(6.0)


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None),
                                             ("", None)])
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(backoff_base_s=1, backoff_max_s=5, jitter=0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
