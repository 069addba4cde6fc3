"""Paginators, the sliding-window and shared-rate limiters and Retry-After parsing (no network)."""
from __future__ import annotations

import pytest

from ghl_pleo.errors import FatalAPIError
from ghl_pleo.hooks.client import RetryPolicy, parse_retry_after
from ghl_pleo.paginators import CursorPaginator, LocationPaginator, SkipPaginator, paginate
from ghl_pleo.ratelimit import SharedRateLimiter, SlidingWindowLimiter


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



def test_paginate_fetches_one_page_at_a_time():
    bodies = iter([{"results": {"tags": [{"_id": "a"}, {"_id": "b"}], "count": 3}},
                   {"results": {"tags": [{"_id": "c"}], "count": 3}}])
    asked = []

    def fetch(params):
        asked.append(params)
        return next(bodies)

    paginator = SkipPaginator(2)
    pages = paginate(fetch, paginator, lambda body: body["results"]["tags"])
    assert asked == []                                   # nothing before the first page is wanted
    assert [t["_id"] for t in next(pages)] == ["a", "b"] and len(asked) == 1
    assert [t["_id"] for t in next(pages)] == ["c"]
    assert next(pages, None) is None and paginator.stop_reason == "reached count"
    assert asked == [{"limit": "2", "skip": "0"}, {"limit": "2", "skip": "2"}]


def test_paginate_raises_what_the_items_reader_raises_before_recording_the_page():
    def items(body):
        raise FatalAPIError("envelope missing")

    paginator = CursorPaginator(10, where="Pleo GET x")
    with pytest.raises(FatalAPIError, match="envelope missing"):
        next(paginate(lambda params: {"data": [1]}, paginator, items))
    assert paginator.pages == 0


def test_location_paginator_ends_on_a_short_page_and_counts_only_objects():
    p = LocationPaginator(3)
    p.record({}, [{"id": "a"}, {"id": "b"}, {"id": "c"}])
    assert p.has_more() and p.params() == {"limit": "3", "skip": "3"}
    p.record({}, [{"id": "d"}, "junk", {"id": "e"}])    # a full page, one entry not an object
    assert p.has_more() and p.skip == 5
    p.record({}, [{"id": "f"}])
    assert not p.has_more() and p.stop_reason == "short page"


def test_cursor_paginator_names_its_listing_in_errors():
    p = CursorPaginator(10, where="Pleo GET /v0/tag-groups/{groupId}/tags (group g1)")
    with pytest.raises(FatalAPIError, match=r"^Pleo GET /v0/tag-groups/\{groupId\}/tags \(group g1\): response has no"):
        p.record({"data": [1]}, [1])


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


class FakeSlots:
    """A RateSlotStore in memory: the same GCRA step, the clock read at reservation time."""

    def __init__(self):
        self.next_at: dict[str, float] = {}
        self.calls: list[tuple[str, float]] = []

    def reserve(self, key, interval_s, clock):
        now = clock()
        slot = max(self.next_at.get(key, 0.0), now)
        self.next_at[key] = slot + interval_s
        self.calls.append((key, interval_s))
        return slot


def test_the_shared_rate_sleeps_until_each_reserved_slot_and_returns_it():
    clock, slots = FakeClock(), FakeSlots()
    clock.now = 100.0
    lim = SharedRateLimiter(slots, 4, headroom=0.2, clock=clock, sleep=clock.sleep)  # 4/s, 20% kept free: 3.2/s
    got = [lim.acquire("pleo:x") for _ in range(3)]
    assert got == pytest.approx([100.0, 100.3125, 100.625]) and clock.now == pytest.approx(100.625)
    assert lim.waited_s == pytest.approx(0.625) and slots.calls[0] == ("pleo:x", pytest.approx(0.3125))
    clock.now = 200.0  # idle: the next slot is now, no wait
    assert lim.acquire("pleo:x") == 200.0 and clock.now == 200.0 and lim.waited_s == pytest.approx(0.625)
    assert lim.acquire("pleo:y") == 200.0  # another key has its own slots


def test_the_shared_rate_has_nothing_to_release_or_learn():
    clock, slots = FakeClock(), FakeSlots()
    lim = SharedRateLimiter(slots, 1, headroom=0.0, clock=clock, sleep=clock.sleep)
    slot = lim.acquire("k")
    assert lim.release(slot) is None
    assert lim.observe("k", {"X-RateLimit-Max": "1", "X-RateLimit-Remaining": "0"}) is None
    assert [lim.acquire("k") for _ in range(2)] == [1.0, 2.0] and clock.now == 2.0  # the headers changed nothing
    with pytest.raises(ValueError):
        SharedRateLimiter(slots, 0)


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None),
                                             ("", None)])
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(backoff_base_s=1, backoff_max_s=5, jitter=0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
