"""Paginators: small state machines that read a page and say what to ask next. No I/O.

:func:`paginate` is the one paging loop: it asks a paginator for the next
page's parameters, fetches, and lets the paginator record the page. A paginator
only decides whether there is a next page and what its request parameters are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ghl_pleo.errors import FatalAPIError


class Paginator(Protocol):
    def params(self) -> dict[str, str]:
        """Query parameters for the next page."""

    def has_more(self) -> bool:
        """False once the listing is complete."""

    def record(self, body: Any, items: Any) -> None:
        """Take in one page: the response body and the items read from it."""


def paginate(
    fetch: Callable[[dict[str, str]], Any], paginator: Paginator, items: Callable[[Any], Any]
) -> Iterator[Any]:
    """Yield the items of each page, one page at a time, until ``paginator`` says the listing is complete.

    Args:
        fetch: sends the request for one page, given the paginator's parameters; returns the body.
        items: reads (and checks) a body's items; raises when the body breaks the contract.
    """
    while paginator.has_more():
        body = fetch(paginator.params())
        page = items(body)
        paginator.record(body, page)
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
