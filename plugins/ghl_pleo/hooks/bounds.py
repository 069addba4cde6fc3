"""What one answer may cost: its size, its JSON (depth, numbers), and where a redirect would have sent us. No I/O
beyond reading the body already on its way.

* **Bytes**: every body is read as a stream and the read stops past ``GHL_PLEO_MAX_RESPONSE_BYTES`` (default
  20 MiB; a declared ``Content-Length`` over it is refused unread). A success answer that large is refused
  (:class:`ResponseTooLarge`, an ``upstream_contract`` error); an error answer is cut there (only its start is
  ever quoted).
* **JSON**: ``NaN``, ``Infinity`` and numbers too large for a float, which Python's parser would take, are
  refused, and so is nesting deeper than :data:`MAX_JSON_DEPTH` (deeper than Python's parser can go raised a
  ``RecursionError``, an internal error): :class:`ContractBreach`.
* **Listings** (:func:`listing_bounds`): at most ``GHL_PLEO_MAX_LISTING_PAGES`` pages (default 5000; a GHL tag
  listing less, from its last good read: :func:`ghl_pleo.paginators.page_cap`) and
  ``GHL_PLEO_MAX_LISTING_READ_S`` seconds spent fetching them (default 1800). Writes have no such budget.
* **Redirects** are never followed (see :mod:`ghl_pleo.hooks.client`); :func:`redirect_target` names where one
  pointed, without its path or query string (which may carry a secret).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.utils import guess_json_utf

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.paginators import DEFAULT_MAX_PAGES, DEFAULT_MAX_READ_S, ReadBounds, page_cap

MAX_RESPONSE_BYTES_ENV = "GHL_PLEO_MAX_RESPONSE_BYTES"
DEFAULT_MAX_RESPONSE_BYTES = 20 * 1024 * 1024
MAX_LISTING_PAGES_ENV = "GHL_PLEO_MAX_LISTING_PAGES"
MAX_LISTING_READ_S_ENV = "GHL_PLEO_MAX_LISTING_READ_S"
MAX_JSON_DEPTH = 64  # GHL's and Pleo's answers nest fewer than 10 levels
CHUNK_BYTES = 16 * 1024  # read step: a compressed body grows at most this much (decoded) past the limit


def env_number(name: str, default: float, *, minimum: float = 1) -> float:
    """A numeric setting from the environment; a bad value is a configuration error naming it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"Environment variable {name} must be a number, got {raw!r}.") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigurationError(f"Environment variable {name} must be a number >= {minimum:g}, got {raw!r}.")
    return value


def max_response_bytes() -> int:
    """The largest body one answer may have (``GHL_PLEO_MAX_RESPONSE_BYTES``, default 20 MiB)."""
    return int(env_number(MAX_RESPONSE_BYTES_ENV, DEFAULT_MAX_RESPONSE_BYTES))


def listing_bounds(
    where: str, endpoint: str, location_id: str | None, *, limit: int, last_good_rows: int | None = None
) -> ReadBounds:
    """The budget of one listing read: the page ceiling, or less from the rows of its last good read (pages of
    ``limit`` rows), and the time budget; both from the environment."""
    ceiling = int(env_number(MAX_LISTING_PAGES_ENV, DEFAULT_MAX_PAGES))
    if last_good_rows is None:
        max_pages, basis = ceiling, f"{ceiling} pages, {MAX_LISTING_PAGES_ENV}"
    else:
        max_pages, basis = page_cap(last_good_rows, limit, ceiling)
    return ReadBounds(
        max_pages,
        env_number(MAX_LISTING_READ_S_ENV, DEFAULT_MAX_READ_S, minimum=0.001),
        where=where,
        basis=basis,
        endpoint=endpoint,
        location_id=location_id,
    )


class ResponseTooLarge(requests.RequestException):
    """A success answer whose body is larger than the limit: it was not read to the end."""

    def __init__(self, response: requests.Response, limit: int, declared: int | None = None) -> None:
        super().__init__(f"body larger than {limit} bytes", response=response)
        self.status = response.status_code
        self.limit = limit
        self.declared = declared

    def describe(self) -> str:
        size = f"declared {self.declared} bytes" if self.declared is not None else "more than that, read was stopped"
        return f"HTTP {self.status} with a body over the {self.limit}-byte limit ({size}; {MAX_RESPONSE_BYTES_ENV})"


def read_capped(response: requests.Response, limit: int) -> None:
    """Read a streamed body into ``response`` (``.content`` works as usual), at most ``limit`` bytes.

    Raises:
        ResponseTooLarge: a 2xx answer declares or sends more. An error answer is cut at the limit instead.
    """
    ok = 200 <= response.status_code < 300
    declared = response.headers.get("Content-Length", "").strip()
    if ok and declared.isdigit() and int(declared) > limit:
        response.close()
        raise ResponseTooLarge(response, limit, int(declared))
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            response.close()  # the rest is never read; the connection is dropped
            if ok:
                raise ResponseTooLarge(response, limit)
            chunks.append(chunk[: len(chunk) - (size - limit)])
            break
        chunks.append(chunk)
    response._content = b"".join(chunks)  # as requests itself fills it: .content, .text and .json() read this
    response._content_consumed = True


class ContractBreach(ValueError):
    """A body that is JSON by the letter but breaks the contract (non-finite number, too deep)."""


def _refuse_constant(name: str) -> Any:
    raise ContractBreach(f"the JSON holds {name}, which is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ContractBreach(f"the JSON holds the number {text[:40]}, too large for a float")
    return value


def strict_json(response: requests.Response) -> Any:
    """The parsed body (None when empty), decoded as ``requests`` would.

    Raises:
        ContractBreach: ``NaN``/``Infinity``, a float that overflows, or nesting deeper than MAX_JSON_DEPTH.
        ValueError: the body is not JSON at all (a broken or truncated body: the caller may retry).
    """
    content = response.content
    if not content:
        return None
    encoding = None if response.encoding else guess_json_utf(content)
    text = content.decode(encoding) if encoding else response.text
    try:
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ContractBreach(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    if _too_deep(body, MAX_JSON_DEPTH):
        raise ContractBreach(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def _too_deep(value: Any, limit: int) -> bool:
    """True when lists and objects nest more than ``limit`` levels (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def redirect_target(response: requests.Response) -> str:
    """Where a redirect pointed: ``scheme://host[:port]`` only (a path or query string may carry a secret)."""
    location = response.headers.get("Location")
    if not location:
        return "no Location header"
    try:
        parts = urlsplit(urljoin(response.url or "", location.strip()))
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unreadable Location header"
    if not parts.hostname:
        return "a Location without a host"
    return f"{parts.scheme}://{parts.hostname}{port}"
