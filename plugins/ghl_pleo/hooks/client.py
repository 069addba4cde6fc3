"""The HTTP loop shared by the GHL and Pleo hooks: send, classify, back off, retry.

Two layers of retry have two jobs: this loop rides out short trouble (429, 5xx,
timeouts, broken bodies) inside one task attempt; Airflow's task ``retries``
handle longer outages. What this loop cannot fix it raises as a typed error
(:mod:`ghl_pleo.errors`) whose message names API, endpoint, location and status.
"""
from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import requests

from ghl_pleo.errors import (
    AuthenticationError,
    FatalAPIError,
    RateLimitError,
    RetryableAPIError,
    redact,
)
from ghl_pleo.ratelimit import SlidingWindowLimiter

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """HTTP-level retry settings (overridable; tests run with zero waits).

    Attributes:
        max_attempts: tries per request, the first included.
        backoff_base_s: first exponential backoff step; doubles each attempt.
        backoff_max_s: cap for one exponential step.
        retry_after_max_s: cap for a server-requested wait (Retry-After).
        jitter: fraction of random spread added to each backoff.
    """

    max_attempts: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    jitter: float = 0.2

    def backoff(self, attempt: int) -> float:
        step = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return step * (1 + random.uniform(0, self.jitter))


@dataclass
class RequestStats:
    """What a client did: requests by endpoint template, retries, last status seen."""

    requests: Counter = field(default_factory=Counter)
    retries: int = 0
    last_status: int | None = None
    last_endpoint: str | None = None
    min_ratelimit_remaining: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "retries": self.retries,
            "last_status": self.last_status,
            "last_endpoint": self.last_endpoint,
            "min_ratelimit_remaining": self.min_ratelimit_remaining,
        }


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _never_sent(exc: BaseException) -> bool:
    """True when a ConnectionError happened while connecting, i.e. the server never saw the request."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError):
            return True
        if isinstance(item, MaxRetryError):
            todo.append(item.reason)
        if isinstance(item, BaseException):
            todo.extend(a for a in item.args if isinstance(a, BaseException))
            todo.append(item.__cause__)
            todo.append(item.__context__)
    return False


class ApiClient:
    """A configured ``requests.Session`` plus the retry loop.

    Args:
        api: "GHL" or "Pleo", used in messages.
        base_url: scheme://host[:port], no trailing slash.
        timeout: (connect, read) seconds.
        retry: the HTTP retry policy.
        limiter: optional client-side limiter; requests pass ``limiter_key``.
        secrets: strings that must never appear in a message (tokens).
        sleep: injectable sleep (tests).
    """

    def __init__(self, api: str, base_url: str, *, timeout: tuple[float, float] = (5.0, 30.0),
                 retry: RetryPolicy | None = None, limiter: SlidingWindowLimiter | None = None,
                 secrets: Callable[[], list[str]] = lambda: [], sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.secrets = secrets
        self.sleep = sleep
        self.session = session or requests.Session()
        self.stats = RequestStats()
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._stats_lock = threading.Lock()

    def _session(self) -> requests.Session:
        """The session for this thread: the client's own in the thread that made it, a copy elsewhere."""
        if threading.get_ident() == self._owner:
            return self.session
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self.session.headers)
            self._local.session = session
        return session

    def _where(self, method: str, endpoint: str, location_id: str | None) -> str:
        loc = f" for location {location_id}" if location_id else ""
        return f"{self.api} {method} {endpoint}{loc}"

    def _excerpt(self, response: requests.Response) -> str:
        text = (response.text or "")[:300].replace("\n", " ")
        return redact(text, self.secrets())

    def request(self, method: str, endpoint: str, *, path_params: Mapping[str, str] | None = None,
                params: Mapping[str, Any] | None = None, json_body: Any = None, data: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
                location_id: str | None = None,
                limiter_key: str | None = None, idempotent: bool = True,
                on_unauthorized: Callable[[], bool] | None = None) -> Any:
        """Send one logical request and return the parsed JSON body.

        Args:
            endpoint: the path template, e.g. ``/social-media-posting/{locationId}/tags``;
                it keys the request counts and appears in messages instead of the
                concrete URL.
            idempotent: False for creates: then only failures that prove the
                request was not processed (429, connect errors) are retried here,
                so a lost response never makes a duplicate. The task retry
                re-reads Pleo's state before writing again.
            on_unauthorized: called once on a 401; return True when credentials
                were refreshed and the request should be sent again.
            headers: a mapping, or a callable giving the headers for each try (so a
                retry after a credential refresh carries the new token).
            data: a form body (``application/x-www-form-urlencoded``).
        """
        url = self.base_url + endpoint.format(**(path_params or {}))
        where = self._where(method, endpoint, location_id)
        attempt = 0
        refreshed = False
        last_error: str = ""
        seen_status: int | None = None
        while True:
            attempt += 1
            slot = self.limiter.acquire(limiter_key) if self.limiter is not None and limiter_key else None
            with self._stats_lock:
                self.stats.requests[f"{method} {endpoint}"] += 1
                self.stats.last_endpoint = f"{method} {endpoint}"
            wait: float | None = None
            try:
                try:
                    hdrs = headers() if callable(headers) else headers
                    response = self._session().request(method, url, params=params, json=json_body, data=data,
                                                    headers=dict(hdrs or {}), timeout=self.timeout)
                finally:
                    if slot is not None:
                        self.limiter.release(slot)
            except requests.exceptions.ConnectTimeout as exc:
                last_error, kind = f"connect timeout ({type(exc).__name__})", "connect"
            except requests.exceptions.Timeout as exc:
                last_error, kind = f"no reply within {self.timeout[1]:g}s ({type(exc).__name__})", "timeout"
            except requests.exceptions.ConnectionError as exc:
                kind = "connect" if _never_sent(exc) else "sent"
                last_error = f"connection error ({type(exc).__name__}: {'could not connect' if kind == 'connect' else 'dropped after send'})"
            else:
                kind = None
                status = response.status_code
                self.stats.last_status = seen_status = status
                if limiter_key is not None and self.limiter is not None:
                    self.limiter.observe(limiter_key, response.headers)
                remaining = response.headers.get("X-RateLimit-Remaining")
                if remaining is not None and remaining.strip().lstrip("-").isdigit():
                    r = int(remaining)
                    with self._stats_lock:
                        if self.stats.min_ratelimit_remaining is None or r < self.stats.min_ratelimit_remaining:
                            self.stats.min_ratelimit_remaining = r
                if 200 <= status < 300:
                    try:
                        return response.json() if response.content else None
                    except (ValueError, json.JSONDecodeError):
                        ctype = response.headers.get("Content-Type", "?")
                        last_error = f"HTTP {status} with a body that is not JSON (Content-Type {ctype}): {self._excerpt(response)!r}"
                        kind = "badbody"
                elif status == 401 and on_unauthorized is not None and not refreshed:
                    refreshed = True
                    if on_unauthorized():
                        attempt -= 1
                        continue
                    raise AuthenticationError(
                        f"{where} returned HTTP 401 and the credentials could not be refreshed: "
                        f"{self._excerpt(response)}. Check the connection's token and scopes.",
                        status=status, endpoint=endpoint, location_id=location_id)
                elif status in (401, 403):
                    raise AuthenticationError(
                        f"{where} returned HTTP {status}: {self._excerpt(response)}. The token in the "
                        f"connection is wrong, expired, or lacks a scope this endpoint needs; fix the "
                        f"connection, then clear the failed tasks.",
                        status=status, endpoint=endpoint, location_id=location_id)
                elif status in RETRYABLE_STATUS:
                    last_error = f"HTTP {status}: {self._excerpt(response)}"
                    kind = "ratelimit" if status == 429 else "server"
                    if status == 429:
                        wait = self._rate_limit_wait(response, attempt)
                else:
                    raise FatalAPIError(
                        f"{where} returned HTTP {status}: {self._excerpt(response)}. The request was "
                        f"refused as invalid; this needs a code or data fix, not a retry.",
                        status=status, endpoint=endpoint, location_id=location_id)

            # Retry decision. Creates are retried only when the server cannot have acted on them.
            may_retry = idempotent or kind in ("ratelimit", "connect")
            if not may_retry or attempt >= self.retry.max_attempts:
                exc_cls = RateLimitError if kind == "ratelimit" else RetryableAPIError
                advice = ("the create may or may not have happened; the next attempt re-reads the current "
                          "state first, so it cannot duplicate" if not may_retry else
                          "Airflow will retry the task; if this persists, check the service's status")
                raise exc_cls(f"{where} failed after {attempt} attempt(s): {last_error}; {advice}.",
                              status=seen_status if kind not in ("connect", "timeout", "sent") else None,
                              endpoint=endpoint, location_id=location_id)
            if wait is None:
                wait = self.retry.backoff(attempt)
            with self._stats_lock:
                self.stats.retries += 1
            log.warning("%s: %s; retry %d/%d in %.2fs", where, last_error, attempt,
                        self.retry.max_attempts - 1, wait)
            self.sleep(wait)

    def _rate_limit_wait(self, response: requests.Response, attempt: int) -> float:
        """How long to wait after a 429: Retry-After if positive, else the rate-limit interval, else backoff.

        ``Retry-After: 0`` is treated as "no advice": waiting zero seconds would
        spend every retry within milliseconds.
        """
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None and retry_after > 0:
            return min(retry_after, self.retry.retry_after_max_s)
        interval_ms = response.headers.get("X-RateLimit-Interval-Milliseconds")
        if response.headers.get("X-RateLimit-Remaining") == "0" and interval_ms and interval_ms.isdigit():
            # We do not know when the oldest request leaves the window; a tenth of it, growing per attempt.
            return min(self.retry.retry_after_max_s,
                       max(self.retry.backoff(attempt), int(interval_ms) / 1000.0 / 10 * attempt))
        return self.retry.backoff(attempt)
