"""The client-side limiters: the sliding window per key, and the rate shared through the warehouse."""

from __future__ import annotations

import pytest

from ghl_pleo.ratelimit import SharedRateLimiter, SlidingWindowLimiter


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
    clock.now = 5.0  # a slow reply: five windows later it still counts
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
