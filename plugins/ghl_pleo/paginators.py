"""Paginators: small state machines that read a page and say what to ask next. No I/O.

The client owns the network loop; a paginator only decides whether there is a
next page and what its request parameters are.
"""
from __future__ import annotations

from typing import Iterable

from ghl_pleo.errors import FatalAPIError


class SkipPaginator:
    """GHL ``limit``/``skip`` paging, stopping at the first of:

    * ``skip`` reaching the total ``count`` the service reported;
    * an empty page;
    * a page that brings no id not already seen (a service that ignores
      ``skip`` or whose ``count`` is larger than what it serves would otherwise
      keep us looping forever).

    ``stop_reason`` says which one ended the read (it goes into the logs).
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

    def update(self, ids: Iterable[object], count: object) -> None:
        """Record one page: the ids it held (None allowed) and the total ``count`` it reported."""
        ids = list(ids)
        self.pages += 1
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count >= 0:
            self.count = int(count)
        new = {str(i) for i in ids if i is not None} - self.seen
        self.seen |= new
        self.skip += len(ids)
        if not ids:
            self.stop_reason = "empty page"
        elif not new:
            self.stop_reason = "page with no new ids"
        elif self.count is not None and self.skip >= self.count:
            self.stop_reason = "reached count"


class CursorPaginator:
    """Pleo cursor paging (``after`` = previous ``endCursor``) that refuses to loop.

    Pleo paging must be complete: a partial listing would make the load create
    tags that already exist. A repeated cursor is therefore an error, not a stop.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
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

    def update(self, body: dict, *, where: str) -> None:
        self.pages += 1
        pagination = body.get("pagination") if isinstance(body, dict) else None
        if not isinstance(pagination, dict):
            raise FatalAPIError(f"{where}: response has no 'pagination' object; cannot tell if the listing is complete.")
        end = pagination.get("endCursor")
        if not pagination.get("hasNextPage") or not body.get("data"):
            self.done = True
            return
        if not end:
            raise FatalAPIError(f"{where}: hasNextPage is true but endCursor is missing; refusing a partial listing.")
        if end in self.cursors:
            raise FatalAPIError(f"{where}: cursor {end!r} came back twice (loop detected); refusing a partial listing.")
        self.cursors.add(end)
        self.after = end
