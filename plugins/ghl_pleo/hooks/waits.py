"""How long to wait before a retry the server asked for: ``Retry-After`` (seconds or an HTTP date) and the
rate-limit headers."""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

    from ghl_pleo.hooks.classify import RetryPolicy


def rate_limit_wait(response: requests.Response, attempt: int, policy: RetryPolicy) -> float:
    """How long to wait after a 429: Retry-After if positive, else the rate-limit interval, else backoff.

    ``Retry-After: 0`` is treated as "no advice": waiting zero seconds would
    spend every retry within milliseconds.
    """
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None and retry_after > 0:
        return min(retry_after, policy.retry_after_max_s)
    interval_ms = response.headers.get("X-RateLimit-Interval-Milliseconds")
    if response.headers.get("X-RateLimit-Remaining") == "0" and interval_ms and interval_ms.isdigit():
        # We do not know when the oldest request leaves the window; a tenth of it, growing per attempt.
        return min(policy.retry_after_max_s, max(policy.backoff(attempt), int(interval_ms) / 1000.0 / 10 * attempt))
    return policy.backoff(attempt)


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
