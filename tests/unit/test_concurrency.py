"""run_bounded: Pleo writes in flight at once, each confirmed write handled, the first error raised after the rest."""

from __future__ import annotations

import threading
import time

import pytest

from ghl_pleo.concurrency import run_bounded


def test_every_result_is_handled_in_the_calling_thread_with_at_most_n_in_flight():
    lock, in_flight, peak = threading.Lock(), [0], [0]
    caller = threading.get_ident()
    seen: list[tuple[int, int, int]] = []

    def work(i: int) -> int:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.002)
        with lock:
            in_flight[0] -= 1
        return i * i

    run_bounded(work, range(60), 4, lambda i, r: seen.append((i, r, threading.get_ident())))
    assert sorted((i, r) for i, r, _ in seen) == [(i, i * i) for i in range(60)]
    assert {t for *_, t in seen} == {caller}
    assert 1 < peak[0] <= 4


def test_the_first_error_is_raised_after_the_writes_in_flight_are_recorded():
    recorded: list[int] = []

    def work(i: int) -> int:
        if i == 5:
            raise RuntimeError("Pleo said no to 5")
        time.sleep(0.001)
        return i

    with pytest.raises(RuntimeError, match="no to 5"):
        run_bounded(work, range(100), 3, lambda i, r: recorded.append(r))
    assert 5 not in recorded and set(range(5)) <= set(recorded)
    assert len(recorded) < 99  # new writes stopped once the error was seen


def test_one_worker_runs_in_order():
    recorded: list[int] = []
    run_bounded(lambda i: i, range(10), 1, lambda i, r: recorded.append(r))
    assert recorded == list(range(10))


def test_prefetched_yields_in_order_and_reads_at_most_a_few_ahead():
    from ghl_pleo.concurrency import prefetched

    started: list[int] = []
    consumed: list[int] = []
    ahead_seen: list[int] = []

    def read(i: int) -> int:
        started.append(i)
        return i * 10

    for result in prefetched(read, range(30), ahead=2):
        time.sleep(0.001)  # the caller's work: the worker may read ahead meanwhile, but no further than asked
        ahead_seen.append(len(started) - len(consumed))
        consumed.append(result // 10)
    assert consumed == list(range(30)) and started == list(range(30))
    assert max(ahead_seen) <= 3


def test_prefetched_raises_where_the_failed_item_would_have_been_yielded():
    from ghl_pleo.concurrency import prefetched

    def read(i: int) -> int:
        if i == 3:
            raise ValueError("read 3 failed")
        return i

    got: list[int] = []
    with pytest.raises(ValueError, match="read 3 failed"):
        for result in prefetched(read, range(10)):
            got.append(result)
    assert got == [0, 1, 2]
