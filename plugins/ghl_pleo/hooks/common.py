"""Connection helpers shared by the hooks: the extras, the base URL, numeric extras, the retry policy, the Pleo rate
limiter."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.hooks.classify import RetryPolicy
from ghl_pleo.ratelimit import RateLimiter, SharedRateLimiter, SlidingWindowLimiter

if TYPE_CHECKING:
    from ghl_pleo.warehouse import RateSlotStore


class ConfiguredHook(BaseHook):
    """A hook whose missing connection is a configuration error (fails its task at once), not Airflow's generic
    not-found error (retried like an outage)."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return super().get_connection(conn_id)
        except AirflowNotFoundException:
            raise ConfigurationError(
                f"Airflow connection {conn_id!r} is not set: create it (see the README's configuration section)."
            ) from None


def connection_extras(conn: Any, conn_id: str) -> dict:
    """A connection's extras, without the settings left empty: the connection form stores an empty field as
    ``null`` (and a JSON extra may hold ``""``); either means "not set", so the default applies."""
    extras = conn.extra_dejson or {}
    if not isinstance(extras, dict):
        raise ConfigurationError(f"Connection {conn_id!r}: extra must be a JSON object, got {type(extras).__name__}.")
    return {key: value for key, value in extras.items() if value is not None and value != ""}


def company_id_from(extras: dict, conn_id: str) -> str:
    """Pleo's extra ``company_id``, required by its tag-group endpoints."""
    company = extras.get("company_id")
    if not company:
        raise ConfigurationError(
            f"Connection {conn_id!r} has no extra 'company_id': Pleo's tag-group endpoints need the company's "
            f"uuid. Set the connection's Company id (extra company_id)."
        )
    return str(company)


def currency_from(extras: dict, conn_id: str) -> str | None:
    """Extra ``currency``: an ISO 4217 code (``DKK``, ``eur``), upper-cased; None when not set."""
    value = extras.get("currency")
    if value is None:
        return None
    code = str(value).strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ConfigurationError(
            f"Connection {conn_id!r}: extra 'currency' must be an ISO 4217 code such as DKK or EUR, got {value!r}."
        )
    return code


def base_url_from(conn: Any, default: str, conn_id: str) -> str:
    """Build ``scheme://host[:port]`` from an Airflow ``http`` connection.

    ``host`` may be a full URL (``http://127.0.0.1:8801``) or a bare host name,
    in which case ``schema`` (default https) and ``port`` complete it.
    """
    host = (conn.host or "").strip() or default
    if "://" not in host:
        scheme = (conn.schema or "https").strip() or "https"
        host = f"{scheme}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
    elif conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    if not host.startswith(("http://", "https://")):
        raise ConfigurationError(f"Connection {conn_id!r}: host {host!r} is not an http(s) URL.")
    return host.rstrip("/")


def extra_number(extras: dict, key: str, default: float, conn_id: str, *, minimum: float = 0) -> float:
    value = extras.get(key)
    value = default if value is None or value == "" else value  # an empty form field: the default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Connection {conn_id!r}: extra {key!r} must be a number, got {value!r}.") from None
    if number < minimum:
        raise ConfigurationError(f"Connection {conn_id!r}: extra {key!r} must be >= {minimum}, got {value!r}.")
    return number


def retry_policy_from(extras: dict, conn_id: str) -> RetryPolicy:
    """The HTTP retry policy from a connection's extras ``max_attempts``, ``backoff_base_s``, ``backoff_max_s``."""
    return RetryPolicy(
        max_attempts=int(extra_number(extras, "max_attempts", 6, conn_id, minimum=1)),
        backoff_base_s=extra_number(extras, "backoff_base_s", 1.0, conn_id),
        backoff_max_s=extra_number(extras, "backoff_max_s", 30.0, conn_id),
    )


def pleo_rate_limiter(
    extras: dict,
    rps: float,
    conn_id: str,
    *,
    rate_slots: RateSlotStore | None,
    sleep: Callable[[float], None],
) -> RateLimiter:
    """The Pleo rate is one budget for every task: shared through the warehouse unless ``shared_rate`` is false."""
    if extras.get("shared_rate", True) in (False, "false", "False", 0):
        limit, window = (int(rps), 1.0) if rps >= 1 else (1, 1.0 / rps)
        return SlidingWindowLimiter(limit, window, margin_s=0.01, sleep=sleep)
    if rate_slots is None:
        raise ConfigurationError(
            f"Connection {conn_id!r}: Pleo's rate is shared by every task through the warehouse; "
            f"build the hook with rate_slots=Warehouse().rate_slots (or set extra.shared_rate to false)."
        )
    return SharedRateLimiter(rate_slots, rps, headroom=rate_headroom_from(extras, conn_id), sleep=sleep)


def rate_headroom_from(extras: dict, conn_id: str) -> float:
    """Extra ``rate_headroom``: the fraction of Pleo's rate kept free (default 0.05), below 1."""
    headroom = extra_number(extras, "rate_headroom", 0.05, conn_id)
    if headroom >= 1:
        raise ConfigurationError(
            f"Connection {conn_id!r}: extra 'rate_headroom' must be below 1 "
            f"(a fraction of the rate kept free), got {headroom!r}."
        )
    return headroom
