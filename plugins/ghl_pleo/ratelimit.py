"""Client-side rate limiting: a sliding window per key (a GHL location, or "pleo").

GHL allows each location 100 requests per 10 s. The limiter keeps its own record
of what this process sent and also learns from the ``X-RateLimit-*`` headers the
server returns, so requests made by other processes against the same location
(the statistics DAG, another worker) shrink what this one may send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ghl_pleo.warehouse import RateSlotStore

Slot = object  # what acquire() hands out and release() takes back: each limiter's own token, opaque to the caller


class RateLimiter(Protocol):
    """What the HTTP client needs from a limiter, per key (a GHL location, a company, Pleo)."""

    def acquire(self, key: str) -> Slot:
        """Block until one more request for ``key`` may go; return its slot."""

    def release(self, slot: Slot) -> None:
        """The request holding ``slot`` was answered (or failed)."""

    def observe(self, key: str, headers: Mapping[str, str]) -> None:
        """Learn from a response's rate-limit headers."""


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window_s`` seconds for each key.

    Args:
        limit: requests allowed per window.
        window_s: window length in seconds.
        margin_s: extra wait added after a window slides, to absorb clock and
            network skew between the client and the server's own window.
        clock: monotonic clock (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        margin_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self.margin_s = margin_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, list[list[float]]] = {}
        self._limits: dict[str, int] = {}
        self.waited_s = 0.0

    def _prune(self, q: list[list[float]], now: float) -> None:
        q[:] = [slot for slot in q if slot[0] > now - self.window_s]

    def acquire(self, key: str) -> list[float]:
        """Block until a request for ``key`` is allowed; return its slot for :meth:`release`.

        A slot counts from the moment its response arrives (see :meth:`release`):
        the server counted the request at some moment before that, so a window
        measured from the reply can only be later than the server's, never
        earlier. Until then the slot is "in flight" and never expires.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                q = self._sent.setdefault(key, [])
                self._prune(q, now)
                limit = self._limits.get(key, self.limit)
                if len(q) < limit:
                    slot = [float("inf")]
                    q.append(slot)
                    self.waited_s += waited
                    return slot
                stamps = sorted(s[0] for s in q)
                delay = stamps[len(q) - limit] + self.window_s + self.margin_s - now
            delay = min(max(delay, 0.001), self.window_s) if delay != float("inf") else 0.01
            self._sleep(delay)
            waited += delay

    def release(self, slot: list[float]) -> None:
        """Mark a request as answered: its slot now expires one window from now."""
        with self._lock:
            slot[0] = self._clock()

    def observe(self, key: str, headers: Mapping[str, str]) -> None:
        """Learn from a response's ``X-RateLimit-Max`` / ``X-RateLimit-Remaining`` headers.

        When the server counts more requests in the window than this process
        sent, the difference was made by someone else: record it as sent now,
        which is conservative (it expires last).
        """
        try:
            server_max = int(headers["X-RateLimit-Max"]) if "X-RateLimit-Max" in headers else None
            remaining = int(headers["X-RateLimit-Remaining"]) if "X-RateLimit-Remaining" in headers else None
        except (TypeError, ValueError):
            return
        with self._lock:
            if server_max is not None and server_max > 0:
                self._limits[key] = min(self.limit, server_max)
            if remaining is None:
                return
            limit = self._limits.get(key, self.limit)
            now = self._clock()
            q = self._sent.setdefault(key, [])
            self._prune(q, now)
            used_by_server = max(0, limit - remaining)
            for _ in range(used_by_server - len(q)):
                q.append([now])


class SharedRateLimiter:
    """One request rate shared by every task process and worker that uses the same warehouse.

    Pleo publishes no limit, so the connection sets one (``max_requests_per_second``);
    locations run in parallel tasks, so a per-process limiter would multiply it
    by the number of tasks. This keeps one timestamp per key in the warehouse
    (table ``ghl_pleo_rate_slots``): each request atomically reserves the next
    free slot (``max(next_at, now) + interval``, GCRA) and sleeps until it. One
    small write per request; SQLite serves one machine, PostgreSQL several.

    Args:
        slots: the warehouse's rate slots (``Warehouse().rate_slots``).
        rate_per_s: requests per second for the key, over all processes.
        headroom: fraction of the rate kept free for clock and network jitter.
    """

    def __init__(
        self,
        slots: RateSlotStore,
        rate_per_s: float,
        *,
        headroom: float = 0.05,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self.slots = slots
        self.interval_s = 1.0 / (rate_per_s * (1.0 - headroom))
        self._clock = clock
        self._sleep = sleep
        self.waited_s = 0.0

    def acquire(self, key: str) -> float:
        """Reserve the next slot for ``key``, sleep until it comes, and return its time (epoch seconds)."""
        slot = self.slots.reserve(key, self.interval_s, self._clock)
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
            self.waited_s += delay
        return slot

    def release(self, slot: float) -> None:
        """Nothing to do: a slot is spent when it is reserved."""

    def observe(self, key: str, headers: Mapping[str, str]) -> None:
        """Nothing to learn: Pleo sends no rate-limit headers; a 429 is handled by the client's retry loop."""
