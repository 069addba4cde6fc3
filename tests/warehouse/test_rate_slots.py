"""The shared request rate's slots (GCRA in one row per key), on both backends."""

from __future__ import annotations

import itertools
import threading

import pytest

pytestmark = pytest.mark.integration


def test_the_shared_rate_hands_out_distinct_spaced_slots_to_concurrent_callers(wh):
    """Three threads (think: three task processes) reserving at once: no two slots closer than the interval."""
    slots: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        for _ in range(20):
            slot = wh.rate_slots.reserve("pleo:test", 1 / 50)
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=reserve) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert len(slots) == 60 and min(gaps) >= 0.02 - 1e-6  # epoch seconds in a double: ~1e-7 s resolution


def test_slots_follow_one_another_until_the_clock_passes_them(wh):
    now = [1000.0]
    clock = lambda: now[0]  # noqa: E731
    assert [wh.rate_slots.reserve("k", 0.5, clock) for _ in range(3)] == [1000.0, 1000.5, 1001.0]
    now[0] = 1010.0  # idle for a while: the next slot is now, not where the last one left off
    assert wh.rate_slots.reserve("k", 0.5, clock) == 1010.0
    assert wh.rate_slots.reserve("other", 0.5, clock) == 1010.0  # keys are independent
    assert wh.db.query("SELECT rate_key, next_at FROM ghl_pleo_rate_slots ORDER BY rate_key") == [
        {"rate_key": "k", "next_at": 1010.5},
        {"rate_key": "other", "next_at": 1010.5},
    ]


def test_a_second_store_continues_from_the_row_another_left(wh):
    from ghl_pleo.warehouse import RateSlotStore

    clock = lambda: 50.0  # noqa: E731
    assert wh.rate_slots.reserve("k", 1.0, clock) == 50.0
    assert RateSlotStore(wh.db).reserve("k", 1.0, clock) == 51.0  # its row exists: the INSERT does nothing


def test_the_store_counts_on_a_row_only_once_its_insert_is_committed(wh):
    """A reservation rolled back after its INSERT (here: the clock fails) leaves no row; the next one inserts it.
    (Remembering the key before the commit also let a concurrent thread's UPDATE miss the row on PostgreSQL.)"""

    def broken() -> float:
        raise RuntimeError("clock failed")

    with pytest.raises(RuntimeError, match="clock failed"):
        wh.rate_slots.reserve("k", 1.0, broken)
    assert wh.rate_slots.reserve("k", 1.0, lambda: 5.0) == 5.0
