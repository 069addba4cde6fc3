"""The Test button of the ``ghl`` and ``pleo`` connection types: one cheap authenticated call, and what is wrong.

Airflow calls a hook's ``test_connection()`` for the UI's Test button and for ``POST /api/v2/connections/test``
(in the api-server) or ``/enqueue-test`` (on a worker); it returns ``(ok, message)``. Each check here makes exactly
one request, with a short timeout and no retry, through a client of its own: no rate limiter from the warehouse,
no OAuth refresh. The message says what was checked, or what is wrong: a bad token (401), a missing scope (403,
or GHL's 401 that names a scope), a wrong host (no connection, a redirect, a 404 on the API's path, an answer that
is not JSON), a missing or malformed setting. It never holds a token: what the service said is quoted redacted.

GHL with agency OAuth (``extra.oauth``) is checked without credentials: its refresh token rotates on every use
(the old one dies), so a test that refreshed it could lose the only valid one. The check proves the host answers
like GHL's API and that the settings are complete; the first sync run proves the refresh token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from ghl_pleo.errors import ConfigurationError, GhlPleoError, check_token, redact
from ghl_pleo.hooks.bounds import ContractBreach, redirect_target, strict_json
from ghl_pleo.hooks.classify import Done, Fail, Retry, RetryPolicy, excerpt
from ghl_pleo.hooks.client import ApiClient
from ghl_pleo.hooks.common import base_url_from, extra_number, rate_headroom_from, retry_policy_from
from ghl_pleo.quality import check_location_id

TIMEOUT = (5.0, 10.0)  # (connect, read) seconds: the UI waits for the answer
GHL_URL = "https://services.leadconnectorhq.com"
PLEO_URL = "https://external.pleo.io"


@dataclass(frozen=True)
class Check:
    """The one call a test makes, and the words its verdict uses."""

    api: str  # "GHL" | "Pleo"
    base_url: str
    endpoint: str  # the path template
    what: str  # whose credentials, e.g. "the API token (password), for company X"
    needs: str  # what the call needs beyond a valid token, e.g. "the scope locations.readonly"
    example_url: str
    path_params: dict[str, str] | None = None
    params: dict[str, str] | None = None
    token: str | None = None  # None: sent without credentials (agency OAuth)
    version: str | None = None  # GHL's Version header
    hint_4xx: str = ""  # what else a 400 or 422 may mean, e.g. "; GHL may know no location X"
    hint_404: str = ""  # what else a 404 may mean
    location: str | None = None  # the location asked for: a 404 that names it is an unknown location
    conn_id: str | None = None  # the connection tested (named in a message about its host)

    @property
    def call(self) -> str:
        return f"GET {self.endpoint}"


class _Bearer(AuthBase):
    def __init__(self, token: str | None, version: str | None) -> None:
        self.token, self.version = token, version

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            request.headers["Authorization"] = f"Bearer {self.token}"
        if self.version:
            request.headers["Version"] = self.version
        return request


def check_ghl(hook: Any) -> tuple[bool, str]:
    """``GhlHook.test_connection``: a location's tags (one row), or the agency's locations (one row)."""
    try:
        check = _ghl_check(hook)
    except GhlPleoError as exc:
        return False, str(exc)
    return _run(check, hook._secrets)


def check_pleo(hook: Any) -> tuple[bool, str]:
    """``PleoHook.test_connection``: the company's tag groups."""
    try:
        check = _pleo_check(hook)
    except GhlPleoError as exc:
        return False, str(exc)
    return _run(check, lambda: [hook.connection.password])


def _ghl_check(hook: Any) -> Check:
    from ghl_pleo.hooks.ghl import LOCATION_SEARCH, TAGS, V2

    conn_id, extras = hook.ghl_conn_id, hook.extras
    base = base_url_from(hook.connection, GHL_URL, conn_id)
    ghl = {"api": "GHL", "base_url": base, "example_url": GHL_URL, "version": V2, "conn_id": conn_id}
    oauth = _oauth_check(hook, extras["oauth"], ghl, LOCATION_SEARCH) if extras.get("oauth") else None
    _ = hook.client  # every numeric setting and every token and secret checked (no request is made)
    if oauth is not None:
        return oauth
    tags = {"endpoint": TAGS, "needs": "the scope socialplanner/tag.readonly", "params": {"limit": "1"}}
    tokens = extras.get("location_tokens") or {}
    if tokens:
        location, token = next(iter(tokens.items()))
        others = f"; the other {len(tokens) - 1} were not tried" if len(tokens) > 1 else ""
        what = f"the token of location {location}, the first of extra.location_tokens{others}"
        return Check(**ghl, **tags, what=what, token=token, **_location(location))
    password = hook.connection.password
    if not password:
        raise ConfigurationError(
            f"Connection {conn_id!r} has no API token: set the API token (password), extra.location_tokens "
            f"or extra.oauth."
        )
    company = extras.get("company_id")
    if company:
        what = f"the API token (password) as an agency token for company {company}"
        needs = "the scope locations.readonly of an agency-level token"
        params = {"companyId": str(company), "limit": "1"}
        hint = f"; company {company} may not be the token's agency"
        return Check(
            **ghl, endpoint=LOCATION_SEARCH, what=what, needs=needs, params=params, token=password, hint_4xx=hint
        )
    location = _first_location()
    if location is None:
        raise ConfigurationError(
            f"Connection {conn_id!r}: nothing to try the API token on. A sub-account token is tried on the first "
            f"location of the Airflow variable ghl_location_ids, an agency token with the Agency company id "
            f"(extra company_id); the sync needs one of the two as well."
        )
    what = f"the API token (password) for location {location}, the first of variable ghl_location_ids"
    return Check(**ghl, **tags, what=what, token=password, **_location(location))


def _location(location: str) -> dict[str, Any]:
    hint = f"; GHL may know no location {location}, or not for this token"
    path = {"locationId": check_location_id(location)}
    return {"path_params": path, "hint_4xx": hint, "hint_404": hint, "location": location}


def _oauth_check(hook: Any, settings: Any, ghl: dict[str, Any], endpoint: str) -> Check:
    """Agency OAuth: settings complete, and the host answers like GHL (asked without credentials)."""
    conn_id = hook.ghl_conn_id
    keys = ("client_id", "client_secret", "company_id", "refresh_token")
    missing = [k for k in keys if not settings.get(k)] if isinstance(settings, dict) else list(keys)
    if missing:
        raise ConfigurationError(f"Connection {conn_id!r}: extra.oauth lacks {', '.join(missing)}.")
    company = str(settings["company_id"])
    what = f"agency OAuth for company {company} (client {settings['client_id']})"
    return Check(**ghl, endpoint=endpoint, what=what, needs="", params={"companyId": company, "limit": "1"})


def _first_location() -> str | None:
    """The first id of the ``ghl_location_ids`` variable, where this process can read variables."""
    from ghl_pleo.locations import parse_location_ids

    try:
        from airflow.sdk import Variable

        raw = Variable.get("ghl_location_ids", default=None)
    except Exception:  # a process that cannot read variables (a test on a worker): no location to try
        return None
    ids = parse_location_ids(raw) if raw not in (None, "") else []
    return ids[0] if ids else None


def _pleo_check(hook: Any) -> Check:
    from ghl_pleo.hooks.pleo import GROUPS

    conn_id, extras = hook.pleo_conn_id, hook.extras
    base = base_url_from(hook.connection, PLEO_URL, conn_id)
    if not check_token(hook.connection.password, conn_id, "password (the Pleo API token)"):
        raise ConfigurationError(f"Connection {conn_id!r} has no API token (password).")
    company = hook.company_id
    _ = hook.currency, hook.concurrency, rate_headroom_from(extras, conn_id), retry_policy_from(extras, conn_id)
    extra_number(extras, "max_requests_per_second", 10, conn_id, minimum=0.01)
    extra_number(extras, "timeout_s", 30.0, conn_id, minimum=0.001)
    return Check(
        api="Pleo",
        base_url=base,
        endpoint=GROUPS,
        what=f"the API token (password) for company {company}",
        needs="the permission to read the company's tag groups",
        example_url=PLEO_URL,
        params={"company_id": company},
        token=hook.connection.password,
        hint_4xx=f"; the Company id {company} may be wrong",
        conn_id=conn_id,
    )


def _run(check: Check, secrets: Callable[[], list[str]]) -> tuple[bool, str]:
    """Make the one call (no retry, short timeout, no limiter) and say what its answer means."""
    client = ApiClient(
        check.api,
        check.base_url,
        timeout=TIMEOUT,
        retry=RetryPolicy(max_attempts=1),
        secrets=lambda: [s for s in (check.token, *secrets()) if s],
        conn_id=check.conn_id,
    )
    client.session.headers["Accept"] = "application/json"
    auth = _Bearer(check.token, check.version)
    decision, answer = client.probe(
        "GET", check.endpoint, path_params=check.path_params, params=check.params, auth=auth
    )
    if isinstance(decision, Retry):
        return False, _transport(check, decision)
    if check.token is None:
        return _anonymous(check, decision, answer, client.secrets())
    if isinstance(decision, Done):
        needs = f", so the token has {check.needs}" if check.needs else ""
        head = f"{check.api} at {check.base_url}"
        return True, f"{head} accepted {check.what}: {check.call} answered HTTP {answer.status_code}{needs}."
    return False, _refusal(check, decision.error, answer, client.secrets())


def _anonymous(check: Check, decision: Done | Fail, answer: Any, secrets: list[str]) -> tuple[bool, str]:
    """Agency OAuth: the probe went without a token, so a 401 (or 403) is the answer GHL's API gives."""
    status = getattr(answer, "status_code", None)
    if isinstance(decision, Fail) and status in (401, 403):
        return True, (
            f"Partly checked: GHL at {check.base_url} answers like GHL's API (HTTP {status} to a request without a "
            f"token), and extra.oauth is complete: {check.what}. Not checked: the refresh token and the app's "
            f"scopes. GHL replaces the refresh token on every use, so a test that used it could lose the only valid "
            f"one; the first sync run uses it (a refused refresh token fails that run as 'authentication')."
        )
    if isinstance(decision, Done):
        return False, (
            f"Wrong host? {check.base_url} answered {check.call} without a token (HTTP {status}); GHL's API refuses "
            f"that. The Base URL must be GHL's API, e.g. {check.example_url}."
        )
    return False, _refusal(check, decision.error, answer, secrets)


def _refusal(check: Check, error: GhlPleoError, answer: Any, secrets: list[str]) -> str:
    """A request the service refused, or an answer it should not have given (a redirect, a broken body)."""
    status = getattr(error, "status", None)
    said, head = _said(answer, secrets), f"{check.api} at {check.base_url}"
    api_url = f"the Base URL must be {check.api}'s API, e.g. {check.example_url}"
    if status == 401 and "scope" not in said.lower():
        return (
            f"Bad token: {head} refused {check.what} (HTTP 401 on {check.call}: {said}). The token is wrong, "
            f"expired or revoked: set a valid one."
        )
    if status in (401, 403):
        return (
            f"Missing scope: {head} refused {check.call} for {check.what} (HTTP {status}: {said}). The call needs "
            f"{check.needs}: give the token that, or use one that has it."
        )
    if status is not None and 300 <= status < 400:
        target = redact(redirect_target(answer), secrets)
        return f"Wrong host? {check.base_url} redirects {check.call} (HTTP {status}) to {target}; {api_url}."
    if status == 404 and check.location and check.location in said:
        return f"Unknown location: {head} answered HTTP 404 for location {check.location} ({said}); check its id."
    if status == 404:
        return f"Wrong host? {check.base_url} has no {check.call} (HTTP 404: {said}): {api_url}{check.hint_404}."
    if isinstance(error, ConfigurationError):
        return str(error)
    if status is not None and 200 <= status < 300:  # an answer over the size limit, or JSON that breaks the rules
        return f"Wrong host? {head} answered {check.call}, but not as {check.api}'s API does: {error}"
    return f"{head} refused {check.call} for {check.what} (HTTP {status}: {said}): check the settings{check.hint_4xx}."


def _transport(check: Check, failure: Retry) -> str:
    """No usable answer: no connection, no answer in time, a body that is not JSON, a 429 or a 5xx."""
    base, reason = check.base_url, failure.reason
    if failure.kind == "connect":
        return f"Wrong host? Could not connect to {base}: {reason}. Check the Base URL (scheme, host name, port)."
    if failure.kind == "timeout":
        return f"No answer from {base}: {reason}. Check the Base URL, or try again later."
    if failure.kind == "badbody":
        return (
            f"Wrong host? {base} answered {check.call} with {reason}, not the JSON of {check.api}'s API: check the "
            f"Base URL, e.g. {check.example_url}."
        )
    if failure.kind == "ratelimit":
        return f"{check.api} at {base} is rate-limiting (HTTP 429 on {check.call}): try again in a minute."
    return f"{check.api} at {base} has trouble now ({check.call}: {reason}): try again later."


def _said(answer: Any, secrets: list[str]) -> str:
    """What the service said: its JSON ``message``, else the start of the body; redacted, on one line."""
    if not isinstance(answer, requests.Response):
        return "no answer"
    try:
        body = strict_json(answer)
    except (ContractBreach, ValueError):
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    text = message if isinstance(message, str) and message.strip() else excerpt(answer, secrets)
    return redact(" ".join(text.split()), secrets)[:200] or "an empty body"
