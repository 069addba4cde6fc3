"""Bounded parallel writes: at most N in flight, every confirmed write recorded, the first error raised."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
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
