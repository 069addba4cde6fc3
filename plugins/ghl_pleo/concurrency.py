"""Bounded parallel writes (at most N in flight, every confirmed write recorded, the first error raised) and
prefetched reads (the next few computed in a worker thread while the caller works on the current one)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice
from typing import Any

_END = object()


def run_bounded(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int, on_result: Callable[[Any, Any], None]
) -> None:
    """``fn(item)`` for every item with at most ``workers`` in flight; ``on_result(item, result)`` in this thread.

    Results are handled as they complete, so every confirmed write is recorded
    even when another fails. The first error stops new submissions; the writes
    already in flight finish (and are recorded), then the error is raised.
    """
    if workers <= 1:
        for item in items:
            on_result(item, fn(item))
        return
    source = iter(items)
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pleo-write") as pool:
        pending: dict[Any, Any] = {}

        def fill() -> None:
            while error is None and len(pending) < workers * 2:
                item = next(source, _END)
                if item is _END:
                    return
                pending[pool.submit(fn, item)] = item

        try:
            fill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    try:
                        result = future.result()
                    except BaseException as exc:  # noqa: BLE001 - raised below, after in-flight writes are recorded
                        error = error or exc
                        continue
                    on_result(item, result)
                fill()
        except BaseException:  # the task is being stopped, or recording failed: start nothing more
            for future in pending:
                future.cancel()
            raise
    if error is not None:
        raise error


def prefetched(fn: Callable[[Any], Any], items: Iterable[Any], ahead: int = 2) -> Iterator[Any]:
    """``fn(item)`` for every item, yielded in order, the next ``ahead`` computed one by one in a worker thread
    while the caller works on the current one (reads overlap the caller's planning and writes).

    An error is raised where its item's result would have been yielded. Closing the generator cancels what was
    not started.
    """
    source = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        queue: deque = deque(pool.submit(fn, item) for item in islice(source, ahead + 1))
        try:
            while queue:
                yield queue.popleft().result()
                item = next(source, _END)  # the caller is done with that one: one more may be read ahead
                if item is not _END:
                    queue.append(pool.submit(fn, item))
        finally:
            for future in queue:
                future.cancel()


class Running:
    """How many threads are inside ``with running:``; :meth:`wait_idle` waits until none is (a stopped batch task
    waits for the locations syncing at that moment)."""

    def __init__(self) -> None:
        self._cond, self._n = threading.Condition(), 0

    def __enter__(self) -> None:
        with self._cond:
            self._n += 1

    def __exit__(self, *_exc) -> None:
        with self._cond:
            self._n -= 1
            self._cond.notify_all()

    def wait_idle(self) -> None:
        with self._cond:
            while self._n:
                self._cond.wait()
