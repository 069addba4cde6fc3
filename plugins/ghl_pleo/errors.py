"""Exceptions grouped by what the caller (or the on-call engineer) must do.

Every message names what failed, where (API, endpoint, location, HTTP status)
and what to do next. No message ever contains a token: callers build messages
from endpoint templates and ids, and response bodies are passed through
:func:`redact` before they are quoted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable


class GhlPleoError(Exception):
    """Base class. ``kind`` is a stable word used in summaries and alerts."""

    kind = "error"
    fail_fast = False  # True: fail the Airflow task without its retries (a retry would only re-alert)


class ConfigurationError(GhlPleoError):
    """A connection, variable or mapping file is missing or malformed. Fix the config; retrying will not help."""

    kind = "configuration"
    fail_fast = True


class APIError(GhlPleoError):
    """A call to GHL or Pleo failed: where (endpoint template, location) and the HTTP status, when there was one."""

    def __init__(
        self, message: str, *, status: int | None = None, endpoint: str | None = None, location_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.location_id = location_id


class RetryableAPIError(APIError):
    """429, 5xx, timeouts, broken bodies: the upstream may recover. Airflow's task retry will try again."""

    kind = "upstream_outage"


class IncompleteReadError(RetryableAPIError):
    """A listing ended before it said it would (fewer rows than its ``count``): archives were held."""

    kind = "incomplete_read"


class RateLimitError(RetryableAPIError):
    """429 responses outlasted the retry budget."""

    kind = "rate_limit"


class FatalAPIError(APIError):
    """Any other 4xx, or a response that breaks the contract: a code or upstream change is needed."""

    kind = "upstream_contract"


class AuthenticationError(FatalAPIError):
    """401/403: the token is wrong, expired or lacks a scope. Fix the credential."""

    kind = "authentication"
    fail_fast = True


class LockedError(GhlPleoError):
    """Another run held the unit's lease (a location's sync, the tag groups) for longer than the wait.

    Retryable: Airflow's task retry tries again, by when the other run is usually done. ``holder`` is the other
    run (``dag_id/run_id``), ``expires_at`` when its lease lapses unless renewed, ``dry_run`` whether it is a dry run.
    """

    kind = "locked"

    def __init__(self, message: str, *, holder: str, expires_at: str, dry_run: bool = False) -> None:
        super().__init__(message)
        self.holder = holder
        self.expires_at = expires_at
        self.dry_run = dry_run


class DataValidationError(GhlPleoError):
    """The data failed a quality gate; the load was held. Retrying the same data cannot help."""

    kind = "data_quality"
    fail_fast = True


class SchemaDriftError(DataValidationError):
    """A mapped field disappeared or changed type at the source."""

    kind = "schema_drift"


class DriftGuardError(DataValidationError):
    """The tag count fell too far since the last good run: archiving was held."""

    kind = "drift_guard"


_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# Every secret this process has learned (connection tokens, minted location tokens, refreshed access and refresh
# tokens): redacted from every message, ledger row, note, summary and alert, not only from the task log.
_LEARNED: set[str] = set()
_learned_lock = threading.Lock()


def learn_secret(secret: str | None) -> None:
    """Add a secret to the redaction set of this process (the hooks call it for every token they hold)."""
    if isinstance(secret, str) and len(secret) >= 4:
        with _learned_lock:
            _LEARNED.add(secret)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every known secret (``secrets`` and every learned one, longest first) and anything that looks
    like a bearer token from ``text``. Redact first, then cut: a token cut in half is no longer findable."""
    with _learned_lock:
        known = {s for s in (*secrets, *_LEARNED) if s and len(s) >= 4}
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text)


def check_token(token: str | None, conn_id: str, what: str = "token") -> str:
    """A token from a connection, refused before any request when it holds whitespace or control characters (a
    pasted newline would end up in a header, and in error messages that echo it)."""
    if token and any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in token):
        raise ConfigurationError(
            f"Connection {conn_id!r}: the {what} contains whitespace or control characters (a pasted newline or "
            f"space?). Paste it again without them."
        )
    learn_secret(token)
    return token or ""
