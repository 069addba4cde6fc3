"""Paginators: small state machines that read a page and say what to ask next. No I/O.

:func:`paginate` is the one paging loop: it asks a paginator for the next
page's parameters, fetches, and lets the paginator record the page. A paginator
only decides whether there is a next page and what its request parameters are.
:class:`ReadBounds` caps what one listing read may cost: pages, and seconds spent
fetching them (the caller's work between pages, writes included, is not counted).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ghl_pleo.errors import FatalAPIError, RetryableAPIError

PAGES_MULTIPLE = 3  # a listing may grow to this many times its last good read's pages ...
MIN_PAGE_CAP = 10  # ... or to this many pages, whichever is more (a small location may grow fast) ...
DEFAULT_MAX_PAGES = 5000  # ... but never past the ceiling (GHL_PLEO_MAX_LISTING_PAGES)
DEFAULT_MAX_READ_S = 1800.0  # seconds spent fetching one listing (GHL_PLEO_MAX_LISTING_READ_S)


@dataclass(frozen=True)
class ReadBounds:
    """What one listing read may cost, and how its errors name it.

    Attributes:
        max_pages: pages read before the listing must have ended (else ``upstream_contract``).
        max_read_s: seconds spent in fetches, checked between pages (else ``upstream_outage``: a retry may be faster).
        where: the listing in messages; ``basis`` says why ``max_pages`` is what it is.
    """

    max_pages: int = DEFAULT_MAX_PAGES
    max_read_s: float = DEFAULT_MAX_READ_S
    where: str = "listing"
    basis: str = "the ceiling"
    endpoint: str | None = None
    location_id: str | None = None
    clock: Callable[[], float] = time.monotonic

    def check(self, pages: int, spent_s: float) -> None:
        """Raise when a listing that has not ended has cost its budget (``pages`` read, ``spent_s`` fetching)."""
        where = {"endpoint": self.endpoint, "location_id": self.location_id}
        if pages >= self.max_pages:
            raise FatalAPIError(
                f"{self.where}: the listing did not end after {pages} pages (the limit: {self.basis}); refusing "
                f"an endless listing; nothing of it was used. If the source really grew this much, see the "
                f"runbook (upstream-contract).",
                **where,
            )
        if spent_s > self.max_read_s:
            raise RetryableAPIError(
                f"{self.where}: reading the listing took {spent_s:.0f}s over {pages} page(s), more than the "
                f"{self.max_read_s:g}s allowed (GHL_PLEO_MAX_LISTING_READ_S); nothing of it was used. Airflow "
                f"will retry the task.",
                **where,
            )


def page_cap(last_good_rows: int, limit: int, ceiling: int) -> tuple[int, str]:
    """The pages a listing may take: ``PAGES_MULTIPLE`` x its last good read's pages (of ``limit`` rows), at least
    ``MIN_PAGE_CAP``, at most ``ceiling``. Returns the cap and why, for messages."""
    pages = max(1, math.ceil(last_good_rows / limit))
    cap = min(ceiling, max(MIN_PAGE_CAP, PAGES_MULTIPLE * pages))
    return cap, (
        f"{PAGES_MULTIPLE} x the {pages} page(s) of its last good read ({last_good_rows} rows), at least "
        f"{MIN_PAGE_CAP}, at most {ceiling}"
    )


class Paginator(Protocol):
    def params(self) -> dict[str, str]:
        """Query parameters for the next page."""

    def has_more(self) -> bool:
        """False once the listing is complete."""

    def record(self, body: Any, items: Any) -> None:
        """Take in one page: the response body and the items read from it."""


def paginate(
    fetch: Callable[[dict[str, str]], Any],
    paginator: Paginator,
    items: Callable[[Any], Any],
    bounds: ReadBounds | None = None,
) -> Iterator[Any]:
    """Yield the items of each page, one page at a time, until ``paginator`` says the listing is complete.

    Args:
        fetch: sends the request for one page, given the paginator's parameters; returns the body.
        items: reads (and checks) a body's items; raises when the body breaks the contract.
        bounds: the listing's page and time budget, checked before each further page (default: the ceiling).
    """
    bounds = bounds or ReadBounds()
    pages, spent = 0, 0.0
    while paginator.has_more():
        bounds.check(pages, spent)
        started = bounds.clock()
        body = fetch(paginator.params())
        spent += bounds.clock() - started
        page = items(body)
        paginator.record(body, page)
        pages += 1
        yield page


class SkipPaginator:
    """GHL ``limit``/``skip`` paging, stopping at the first of:

    * ``skip`` reaching the total ``count`` the service reported;
    * an empty page;
    * without a ``count``, a page shorter than ``limit``;
    * a page that brings no id not already seen (a service that ignores
      ``skip`` or whose ``count`` is larger than what it serves would otherwise
      keep us looping forever).

    ``stop_reason`` says which one ended the read (it goes into the logs), and
    :attr:`complete` whether the read saw the whole listing: what was not read
    must never be taken for gone.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.skip = 0
        self.count: int | None = None
        self.seen: set[str] = set()
        self.pages = 0
        self.stop_reason: str | None = None

    def params(self) -> dict[str, str]:
        return {"limit": str(self.limit), "skip": str(self.skip)}

    def has_more(self) -> bool:
        return self.stop_reason is None

    def record(self, body: Any, items: Any) -> None:
        """A GHL tags page: ids from each item's ``_id``, the total from ``results.count``."""
        results = body.get("results") if isinstance(body, dict) else None
        count = results.get("count") if isinstance(results, dict) else None
        self.update([t.get("_id") if isinstance(t, dict) else None for t in items], count)

    def update(self, ids: Iterable[object], count: object, page_len: int | None = None) -> None:
        """Record one page: the ids it held (None allowed), the total ``count`` it reported, and its length
        as sent (when it differs from the ids kept)."""
        ids = list(ids)
        page_len = len(ids) if page_len is None else page_len
        self.pages += 1
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count >= 0:
            self.count = int(count)
        new = {str(i) for i in ids if i is not None} - self.seen
        self.seen |= new
        self.skip += min(len(ids), self.limit)  # a page with more rows than asked (repeats) covers `limit` places
        if not ids:
            self.stop_reason = "empty page"
        elif not new:
            self.stop_reason = "page with no new ids"
        elif self.count is not None and self.skip >= self.count:
            self.stop_reason = "reached count"
        elif self.count is None and page_len < self.limit:
            self.stop_reason = "short page"

    @property
    def complete(self) -> bool:
        """True when the read saw the whole listing.

        With a ``count``: at least ``count`` distinct ids were seen. Without one: the read
        ended on a non-empty page shorter than ``limit`` (an empty page or a page of repeats
        proves nothing).
        """
        if self.count is not None:
            return len(self.seen) >= self.count
        return self.stop_reason == "short page"


class LocationPaginator(SkipPaginator):
    """GHL ``/locations/search``: no total is reported, so a page shorter than ``limit`` is the last one."""

    def record(self, body: Any, items: Any) -> None:
        """``items`` are the page's ``locations``, as GHL sent them."""
        self.update([loc.get("id") for loc in items if isinstance(loc, dict)], None, page_len=len(items))


class CursorPaginator:
    """Pleo cursor paging (``after`` = previous ``endCursor``) that refuses to loop.

    Pleo paging must be complete: a partial listing would make the load create
    tags that already exist. A repeated cursor is therefore an error, not a stop.
    ``where`` names the listing in those errors.
    """

    def __init__(self, limit: int = 100, *, where: str = "Pleo listing") -> None:
        self.limit = limit
        self.where = where
        self.after: str | None = None
        self.cursors: set[str] = set()
        self.pages = 0
        self.done = False

    def params(self) -> dict[str, str]:
        p = {"limit": str(self.limit)}
        if self.after:
            p["after"] = self.after
        return p

    def has_more(self) -> bool:
        return not self.done

    def record(self, body: Any, items: Any) -> None:
        self.update(body, where=self.where)

    def update(self, body: dict, *, where: str) -> None:
        self.pages += 1
        pagination = body.get("pagination") if isinstance(body, dict) else None
        if not isinstance(pagination, dict):
            raise FatalAPIError(
                f"{where}: response has no 'pagination' object; cannot tell if the listing is complete."
            )
        end = pagination.get("endCursor")
        has_next = pagination.get("hasNextPage")
        if not isinstance(has_next, bool):
            raise FatalAPIError(
                f"{where}: hasNextPage is {has_next!r}, not true or false; cannot tell if the listing is complete."
            )
        if not has_next:
            self.done = True
            return
        if not body.get("data"):
            raise FatalAPIError(f"{where}: hasNextPage is true but the page has no rows; refusing a partial listing.")
        if not end:
            raise FatalAPIError(f"{where}: hasNextPage is true but endCursor is missing; refusing a partial listing.")
        if end in self.cursors:
            raise FatalAPIError(f"{where}: cursor {end!r} came back twice (loop detected); refusing a partial listing.")
        self.cursors.add(end)
        self.after = end
