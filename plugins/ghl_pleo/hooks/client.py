"""The HTTP loop shared by the GHL and Pleo hooks: send, classify, back off, retry.

Two layers of retry have two jobs: this loop rides out short trouble (429, 5xx,
timeouts, broken bodies) inside one task attempt; Airflow's task ``retries``
handle longer outages. What this loop cannot fix it raises as a typed error
(:mod:`ghl_pleo.errors`) whose message names API, endpoint, location and status.

What an answer means is decided in :mod:`ghl_pleo.hooks.classify`; credentials
(and their refresh after a 401) are a ``requests`` auth object
(:mod:`ghl_pleo.hooks.auth`). Every HTTP send of a request, an auth re-send
included, goes through its :class:`~ghl_pleo.hooks.metering.Meter`: it waits for
the rate limiter, is counted in :class:`RequestStats`, and its answer is recorded.

Answers are bounded (:mod:`ghl_pleo.hooks.bounds`): a redirect is never followed
(``requests`` would re-send the body, an OAuth form included, to wherever it
points; a 3xx is an ``upstream_contract`` error), a body is read up to a byte
limit, and JSON that is too deep or holds non-finite numbers is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from ghl_pleo.hooks.bounds import ResponseTooLarge, max_response_bytes
from ghl_pleo.hooks.classify import (
    Call,
    Decision,
    Done,
    Fail,
    Retry,
    RetryPolicy,
    classify,
    parse_retry_after,  # noqa: F401 - importable from here, as before
)
from ghl_pleo.hooks.metering import METER, Meter, MeteredAdapter, metered_session  # noqa: F401 - as before
from ghl_pleo.ratelimit import RateLimiter

log = logging.getLogger(__name__)


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
        max_bytes: the largest body read (default ``GHL_PLEO_MAX_RESPONSE_BYTES``, 20 MiB).
        conn_id: the Airflow connection the client was built from; every error message names it and the host.
    """

    def __init__(
        self,
        api: str,
        base_url: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        secrets: Callable[[], list[str]] = lambda: [],
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        max_bytes: int | None = None,
        conn_id: str | None = None,
    ) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.conn_id = conn_id
        self.host = urlsplit(self.base_url).netloc.rpartition("@")[2]  # host[:port], never a user or password
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.secrets = secrets
        self.sleep = sleep
        self.max_bytes = max_bytes if max_bytes is not None else max_response_bytes()
        self.session = metered_session(session=session, max_bytes=self.max_bytes)
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
            session = self._local.session = metered_session(self.session.headers, max_bytes=self.max_bytes)
        return session

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: AuthBase | None = None,
        location_id: str | None = None,
        limiter_key: str | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one logical request and return the parsed JSON body.

        Args:
            endpoint: the path template, e.g. ``/social-media-posting/{locationId}/tags``;
                it keys the request counts and appears in messages instead of the
                concrete URL.
            idempotent: False for creates: then only failures that prove the
                request was not processed (429, connect errors) are retried here,
                so a lost response never makes a duplicate. The task retry
                re-reads Pleo's state before writing again.
            auth: credentials applied to every send (e.g. :class:`~ghl_pleo.hooks.auth.GhlAuth`,
                which also refreshes a token once after a 401). Its ``declined``
                attribute, when true, says a 401's refresh found no new token.
            data: a form body (``application/x-www-form-urlencoded``).
        """
        call = Call(self.api, method, endpoint, location_id, idempotent, self.conn_id, self.host)
        send = self._send_args(endpoint, path_params, params, json_body, data, headers, auth)
        meter = Meter(self, call.key, limiter_key)
        context = METER.set(meter)
        try:
            attempt = 0
            while True:
                attempt += 1
                decision = self._try(meter, call, send, attempt, auth)
                if isinstance(decision, Done):
                    return decision.body
                if isinstance(decision, Fail):
                    raise decision.error
                self._wait_to_retry(call, decision, attempt)
        finally:
            METER.reset(context)

    def probe(
        self,
        method: str,
        endpoint: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        auth: AuthBase | None = None,
    ) -> tuple[Decision, requests.Response | requests.RequestException]:
        """One send, never retried, and what its answer means, with the answer itself (a connection test's call:
        :mod:`ghl_pleo.hooks.connection_test` explains it). Limited and counted like any other send."""
        call = Call(self.api, method, endpoint, conn_id=self.conn_id, host=self.host)
        send = self._send_args(endpoint, path_params, params, None, None, None, auth)
        meter = Meter(self, call.key, None)
        context = METER.set(meter)
        try:
            answer = self._send(meter, method, send)
            decision = classify(
                answer, call, 1, policy=self.retry, read_timeout=self.timeout[1], secrets=self.secrets()
            )
            return decision, answer
        finally:
            METER.reset(context)

    def _send_args(self, endpoint, path_params, params, json_body, data, headers, auth) -> dict[str, Any]:
        """The keyword arguments of ``Session.request`` for one request (the same for each of its sends)."""
        return {
            "url": self.base_url + endpoint.format(**(path_params or {})),
            "params": params,
            "json": json_body,
            "data": data,
            "headers": dict(headers or {}),
            "auth": auth,
            "timeout": self.timeout,
            "allow_redirects": False,  # a 3xx is an error: the body (an OAuth form) must not go where it points
        }

    def _try(self, meter: Meter, call: Call, send: dict[str, Any], attempt: int, auth: AuthBase | None) -> Decision:
        """One send of the request and what its answer means: done, fail, or retry after a wait."""
        answer = self._send(meter, call.method, send)
        return classify(
            answer,
            call,
            attempt,
            policy=self.retry,
            read_timeout=self.timeout[1],
            secrets=self.secrets(),
            refresh_declined=getattr(auth, "declined", False),
        )

    def _wait_to_retry(self, call: Call, decision: Retry, attempt: int) -> None:
        """The retry step: give up when the attempts are spent (fewer for a refused or dropped connection); otherwise
        count the retry, log it and wait."""
        limit = self.retry.attempts(decision.kind)
        if attempt >= limit:
            raise decision.give_up(call, attempt)
        with self._stats_lock:
            self.stats.retries += 1
        log.warning(
            "%s: %s; retry %d/%d in %.2fs",
            call.where,
            decision.reason,
            attempt,
            limit - 1,
            decision.wait,
        )
        self.sleep(decision.wait)

    def _send(self, meter: Meter, method: str, send: dict[str, Any]) -> requests.Response | requests.RequestException:
        """One try: the response, or the transport error (or a body over the limit) that stopped it (anything
        else propagates).

        The slot is taken and the request counted before the credentials are
        applied (a token lookup may fail, or make requests of its own).
        """
        meter.start()
        try:
            return self._session().request(method, **send)
        except (requests.exceptions.RequestException, ResponseTooLarge) as exc:  # classify names it by type only
            return exc
        finally:
            if meter.sending:  # the send never reached the adapter
                meter.finish(None)

    def count(self, key: str) -> None:
        with self._stats_lock:
            self.stats.requests[key] += 1
            self.stats.last_endpoint = key

    def record(self, response: requests.Response, limiter_key: str | None) -> None:
        """Learn from an answer: its status, and what the rate-limit headers say."""
        self.stats.last_status = response.status_code
        if limiter_key is not None and self.limiter is not None:
            self.limiter.observe(limiter_key, response.headers)
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.strip().lstrip("-").isdigit():
            r = int(remaining)
            with self._stats_lock:
                if self.stats.min_ratelimit_remaining is None or r < self.stats.min_ratelimit_remaining:
                    self.stats.min_ratelimit_remaining = r
