"""Connection helpers shared by the hooks."""

from __future__ import annotations

from typing import Any

from ghl_pleo.errors import ConfigurationError


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
    value = extras.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Connection {conn_id!r}: extra {key!r} must be a number, got {value!r}.") from None
    if number < minimum:
        raise ConfigurationError(f"Connection {conn_id!r}: extra {key!r} must be >= {minimum}, got {value!r}.")
    return number
