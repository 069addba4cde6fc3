"""What one HTTP answer means for the request loop: done, retry after a wait, or a typed error. No I/O.

:func:`classify` turns a response, or the transport error that stopped a send,
into a :data:`Decision`. The loop in :mod:`ghl_pleo.hooks.client` only acts on it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from ghl_pleo.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    FatalAPIError,
    RateLimitError,
    RetryableAPIError,
    redact,
)
from ghl_pleo.hooks.bounds import ContractBreach, ResponseTooLarge, redirect_target, strict_json
from ghl_pleo.hooks.transport import never_sent, unresolved  # noqa: F401 - importable from here
from ghl_pleo.hooks.waits import parse_retry_after, rate_limit_wait  # noqa: F401 - importable from here

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
CREATE_ADVICE = (
    "the create may or may not have happened; the next attempt re-reads the current state first, so it cannot duplicate"
)
RETRY_ADVICE = "Airflow will retry the task; if this persists, check the service's status"


@dataclass(frozen=True)
class RetryPolicy:
    """HTTP-level retry settings (overridable; tests run with zero waits).

    Attributes:
        max_attempts: tries per request, the first included.
        backoff_base_s: first exponential backoff step; doubles each attempt.
        backoff_max_s: cap for one exponential step.
        retry_after_max_s: cap for a server-requested wait (Retry-After).
        jitter: fraction of random spread added to each backoff.
        connect_attempts: tries, at most, when the connection was refused or dropped (a host that is down rarely
            comes back within seconds; Airflow's task retry takes over): with the default backoff and a connect
            timeout of at most 10 s, three tries end within about 35 s.
    """

    max_attempts: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    jitter: float = 0.2
    connect_attempts: int = 3

    def attempts(self, kind: str) -> int:
        """The tries allowed for a failure of ``kind`` (see :class:`Retry`)."""
        return min(self.max_attempts, self.connect_attempts) if kind in ("connect", "dropped") else self.max_attempts

    def backoff(self, attempt: int) -> float:
        step = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return step * (1 + random.uniform(0, self.jitter))


@dataclass(frozen=True)
class Call:
    """One logical request, as messages name it and as the retry rule sees it.

    ``idempotent`` is False for creates: then only failures that prove the
    request was not processed (429, connect errors) are retried, so a lost
    response never makes a duplicate.
    """

    api: str
    method: str
    endpoint: str  # the path template, e.g. /social-media-posting/{locationId}/tags
    location_id: str | None = None
    idempotent: bool = True
    conn_id: str | None = None  # the Airflow connection the client was built from
    host: str | None = None  # host[:port] of the connection's base URL

    @property
    def key(self) -> str:
        return f"{self.method} {self.endpoint}"

    @property
    def origin(self) -> str:
        """Which connection and host, e.g. ``connection 'ghl_default', host services.leadconnectorhq.com``."""
        parts = [f"connection {self.conn_id!r}" if self.conn_id else "", f"host {self.host}" if self.host else ""]
        return ", ".join(p for p in parts if p)

    @property
    def where(self) -> str:
        loc = f" for location {self.location_id}" if self.location_id else ""
        origin = f" ({self.origin})" if self.origin else ""
        return f"{self.api} {self.method} {self.endpoint}{loc}{origin}"


@dataclass(frozen=True)
class Done:
    body: Any  # the parsed JSON body (None for an empty one)


@dataclass(frozen=True)
class Retry:
    """Try again after ``wait`` seconds; ``reason`` is what went wrong, ``kind`` its class."""

    wait: float
    reason: str
    kind: str  # ratelimit | server | badbody | connect (never sent) | dropped (after send) | timeout | sent
    status: int | None = None

    def give_up(self, call: Call, attempt: int, advice: str = RETRY_ADVICE) -> RetryableAPIError:
        """The error to raise when this failure ends the request (retries spent, or a create)."""
        cls = RateLimitError if self.kind == "ratelimit" else RetryableAPIError
        return cls(
            f"{call.where} failed after {attempt} attempt(s): {self.reason}; {advice}.",
            status=self.status,
            endpoint=call.endpoint,
            location_id=call.location_id,
        )


@dataclass(frozen=True)
class Fail:
    error: APIError  # raise it: retrying here cannot help


Decision = Done | Retry | Fail


def classify(
    answer: requests.Response | requests.RequestException,
    call: Call,
    attempt: int,
    *,
    policy: RetryPolicy,
    read_timeout: float,
    secrets: Iterable[str] = (),
    refresh_declined: bool = False,
) -> Decision:
    """Decide what a response (or a transport error) means for try number ``attempt`` of ``call``.

    Args:
        read_timeout: the read timeout in force, for the message of a timeout.
        secrets: strings that must never appear in a message.
        refresh_declined: the credentials were asked for a fresh token after this 401 and had none.
    """
    if isinstance(answer, ResponseTooLarge):
        return Fail(_contract(call, answer.status, f"{call.where} answered {answer.describe()}; it was not read."))
    if isinstance(answer, requests.Response):
        decision = _classify_response(answer, call, attempt, policy, list(secrets), refresh_declined)
    elif isinstance(answer, _BROKEN_BODY + _TRANSPORT):
        if unresolved(answer):
            return Fail(
                ConfigurationError(
                    f"{call.api} {call.method} {call.endpoint}: host {call.host} of connection {call.conn_id!r} "
                    f"does not resolve (no such host name); fix the connection's host. Retrying will not help."
                )
            )
        decision = _classify_transport(answer, attempt, policy, read_timeout)
    else:  # any other error of the HTTP library: named by its type only (its text may quote a header, a token)
        return Fail(
            ConfigurationError(
                f"{call.where}: the HTTP library refused to send the request ({type(answer).__name__}); check the "
                f"connection's host and token (a stray character in either)."
            )
        )
    if isinstance(decision, Retry) and not (call.idempotent or decision.kind in ("ratelimit", "connect")):
        return Fail(decision.give_up(call, attempt, CREATE_ADVICE))  # the server may have acted on this create
    return decision


_TRANSPORT = (requests.exceptions.Timeout, requests.exceptions.ConnectionError)
_BROKEN_BODY = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


def _classify_transport(exc: BaseException, attempt: int, policy: RetryPolicy, read_timeout: float) -> Decision:
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        reason, kind = f"connect timeout ({name})", "connect"
    elif isinstance(exc, requests.exceptions.Timeout):
        reason, kind = f"no reply within {read_timeout:g}s ({name})", "timeout"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        kind = "connect" if never_sent(exc) else "dropped"
        reason = f"connection error ({name}: {'could not connect' if kind == 'connect' else 'dropped after send'})"
    elif isinstance(exc, _BROKEN_BODY):
        reason, kind = f"the answer broke off while it was read ({name})", "sent"
    else:
        raise TypeError(f"not a transport error: {exc!r}")
    return Retry(policy.backoff(attempt), reason, kind)


def _classify_response(
    response: requests.Response,
    call: Call,
    attempt: int,
    policy: RetryPolicy,
    secrets: list[str],
    refresh_declined: bool,
) -> Decision:
    status = response.status_code
    where = call.where

    def fail(cls: type[APIError], message: str) -> Fail:
        return Fail(cls(message, status=status, endpoint=call.endpoint, location_id=call.location_id))

    if 200 <= status < 300:
        return _classify_body(response, call, attempt, policy, secrets)
    if 300 <= status < 400:  # never followed; the body is not quoted (it may echo what we sent)
        return Fail(
            _contract(
                call,
                status,
                f"{where} answered HTTP {status}, a redirect to {redact(redirect_target(response), secrets)}; "
                f"redirects are never followed (the request and its credentials would go with it). Check the "
                f"connection's host; if the vendor moved the API, point the connection at its new address.",
            )
        )
    if status == 401 and refresh_declined:
        return fail(
            AuthenticationError,
            f"{where} returned HTTP 401 and the credentials could not be refreshed: "
            f"{excerpt(response, secrets)}. Check the connection's token and scopes.",
        )
    if status in (401, 403):
        return fail(
            AuthenticationError,
            f"{where} returned HTTP {status}: {excerpt(response, secrets)}. The token "
            f"in the connection is wrong, expired, or lacks a scope this endpoint needs; "
            f"fix the connection, then clear the failed tasks.",
        )
    if status in RETRYABLE_STATUS:
        wait = rate_limit_wait(response, attempt, policy) if status == 429 else policy.backoff(attempt)
        return Retry(
            wait, f"HTTP {status}: {excerpt(response, secrets)}", "ratelimit" if status == 429 else "server", status
        )
    return fail(
        FatalAPIError,
        f"{where} returned HTTP {status}: {excerpt(response, secrets)}. The request was "
        f"refused as invalid; this needs a code or data fix, not a retry.",
    )


def _classify_body(
    response: requests.Response, call: Call, attempt: int, policy: RetryPolicy, secrets: list[str]
) -> Decision:
    """A 2xx answer: its JSON; a broken body is retried, JSON that breaks the contract is not."""
    status = response.status_code
    try:
        return Done(strict_json(response))
    except ContractBreach as exc:
        return Fail(_contract(call, status, f"{call.where} answered HTTP {status} but {exc}; refused."))
    except (ValueError, json.JSONDecodeError):
        ctype = response.headers.get("Content-Type", "?")
        reason = f"HTTP {status} with a body that is not JSON (Content-Type {ctype}): {excerpt(response, secrets)!r}"
        return Retry(policy.backoff(attempt), reason, "badbody", status)


def _contract(call: Call, status: int | None, message: str) -> FatalAPIError:
    """An answer that breaks the contract: a code change or a vendor report is needed, not a retry."""
    return FatalAPIError(
        f"{message} This needs a code change or a vendor report, not a retry.",
        status=status,
        endpoint=call.endpoint,
        location_id=call.location_id,
    )


def excerpt(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """The start of a response body for a message, on one line, secrets removed."""
    return redact((response.text or "").replace("\n", " "), secrets)[:300]  # redact first, then cut
