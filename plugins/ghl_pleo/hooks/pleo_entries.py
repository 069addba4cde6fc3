"""Pleo Accounting Entries API: search one company's entries performed in a window, page by page.

``POST /v1/accounting-entries:search`` (``../shared/specs/pleo/accounting-entries.yaml``): ``company_id`` in the
query, cursor pages (``limit`` at most 100, ``after`` = the previous ``endCursor``), the body filters
``performedAtStart`` / ``performedAtEnd`` and ``includeDeleted`` (required by the document). It goes through
:class:`~ghl_pleo.hooks.pleo.PleoHook`'s client: the same connection, token, rate budget, retries, error classes and
redaction. A search is a read, so a dry run sends it too (only PleoHook's write methods are replaced in a dry run).

The window is ``[start, end)``. The document does not say whether ``performedAtEnd`` is inclusive, so rows are
filtered here too: an entry performed outside the window is dropped and counted (:attr:`EntryPage.outside`).

A listing that is not whole is an :class:`~ghl_pleo.errors.IncompleteReadError`, never a shorter list: a cursor
chain that breaks (``hasNextPage`` true with no rows or no ``endCursor``), a cursor that comes back, a row id seen
before, a page longer than ``limit``, or a listing that ends with fewer rows than the ``total`` it announced (see
the README's "Runbook: incomplete-read"). An answer without the documented envelope is a contract error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ghl_pleo.errors import ConfigurationError, FatalAPIError, IncompleteReadError
from ghl_pleo.hooks.bounds import listing_bounds
from ghl_pleo.paginators import CursorPaginator, paginate

if TYPE_CHECKING:
    from ghl_pleo.hooks.pleo import PleoHook

log = logging.getLogger(__name__)

SEARCH = "/v1/accounting-entries:search"
PAGE_LIMIT = 100  # the document's maximum


@dataclass
class EntryPage:
    """One page of a search: the entries performed inside the window, and how many rows were dropped."""

    number: int  # 1-based
    entries: list[dict]
    outside: int  # rows Pleo sent whose performedAt is outside [start, end)
    served: int  # rows Pleo sent on this page


class EntriesPaginator(CursorPaginator):
    """Pleo cursor paging for the search, where every break of the chain is an incomplete read."""

    def __init__(self, limit: int = PAGE_LIMIT) -> None:
        super().__init__(limit, where=f"Pleo POST {SEARCH}")
        self.seen: set[str] = set()
        self.total: int | None = None

    def _incomplete(self, why: str) -> IncompleteReadError:
        return IncompleteReadError(
            f"{self.where}: {why} after {self.pages} page(s) and {len(self.seen)} entries; refusing a partial "
            f"listing, nothing of it was used (runbook: incomplete-read).",
            endpoint=SEARCH,
        )

    def record(self, body: Any, items: Any) -> None:
        self.pages += 1
        pagination = body.get("pagination") if isinstance(body, dict) else None
        if not isinstance(pagination, dict):
            raise FatalAPIError(f"{self.where}: response has no 'pagination' object.", endpoint=SEARCH)
        has_next = pagination.get("hasNextPage")
        if not isinstance(has_next, bool):
            raise FatalAPIError(f"{self.where}: hasNextPage is {has_next!r}, not true or false.", endpoint=SEARCH)
        if len(items) > self.limit:
            raise self._incomplete(f"a page of {len(items)} rows came back for a limit of {self.limit}")
        ids = [row["id"] for row in items]
        repeated = sorted({i for i in ids if i in self.seen or ids.count(i) > 1})
        if repeated:
            raise self._incomplete(f"entry {repeated[0]!r} came back twice")
        self.seen.update(ids)
        total = pagination.get("total")
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            self.total = total
        if not has_next:
            if self.total is not None and len(self.seen) < self.total:
                raise self._incomplete(f"the listing ended with fewer entries than its total of {self.total}")
            self.done = True
            return
        end = pagination.get("endCursor")
        if not items:
            raise self._incomplete("hasNextPage is true on a page with no rows")
        if not end:
            raise self._incomplete("hasNextPage is true but endCursor is missing")
        if end in self.cursors or end == self.after:
            raise self._incomplete(f"cursor {end!r} came back twice (loop detected)")
        self.cursors.add(end)
        self.after = end


def iso_utc(moment: datetime) -> str:
    """``2026-11-01T00:00:00.000Z``; a naive datetime is refused (a window must say its zone)."""
    if moment.tzinfo is None:
        raise ConfigurationError(f"An accounting-entries window needs timezone-aware datetimes, got {moment!r}.")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def performed_at(entry: dict, where: str) -> datetime:
    """An entry's ``performedAt`` (required, a date-time); anything else breaks the document."""
    raw = entry.get("performedAt")
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FatalAPIError(
            f"{where}: entry {entry.get('id')!r} has performedAt {raw!r}, not a date-time with a zone.",
            endpoint=SEARCH,
        )
    return moment


def _rows(body: Any, where: str) -> list[dict]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise FatalAPIError(f"{where}: response has no 'data' list.", endpoint=SEARCH)
    for row in data:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
            raise FatalAPIError(f"{where}: a row of 'data' is not an entry with an id.", endpoint=SEARCH)
    return data


def search_body(start: datetime, end: datetime, include_deleted: bool) -> dict:
    """The request body: the window (as Pleo's filters) and ``includeDeleted``."""
    if end <= start:
        raise ConfigurationError(f"An accounting-entries window must end after it starts, got [{start}, {end}).")
    return {"performedAtStart": iso_utc(start), "performedAtEnd": iso_utc(end), "includeDeleted": include_deleted}


def iter_entry_pages(
    hook: PleoHook,
    start: datetime,
    end: datetime,
    *,
    include_deleted: bool = True,
    company_id: str | None = None,
    limit: int = PAGE_LIMIT,
) -> Iterator[EntryPage]:
    """Every accounting entry of one company performed in ``[start, end)``, one :class:`EntryPage` at a time.

    ``include_deleted`` (default true) asks for deleted entries too, so a caller can see that an entry it counted
    before was deleted. One log line per page. Raises :class:`IncompleteReadError` when the listing is not whole
    (the pages already yielded must then be discarded), the hook's API errors otherwise.
    """
    if not 1 <= limit <= PAGE_LIMIT:
        raise ConfigurationError(f"The accounting-entries page limit must be 1 to {PAGE_LIMIT}, got {limit}.")
    company = company_id or hook.company_id
    body = search_body(start, end, include_deleted)
    paginator = EntriesPaginator(limit)
    window = f"[{body['performedAtStart']}, {body['performedAtEnd']})"

    def fetch(params: dict[str, str]) -> Any:
        return hook._call("POST", SEARCH, params={"company_id": company, **params}, json_body=body)

    bounds = listing_bounds(paginator.where, SEARCH, None, limit=limit)
    kept = dropped = 0
    for rows in paginate(fetch, paginator, lambda b: _rows(b, paginator.where), bounds):
        inside = [row for row in rows if start <= performed_at(row, paginator.where) < end]
        kept, dropped = kept + len(inside), dropped + len(rows) - len(inside)
        log.info(
            "Pleo accounting entries %s, page %d: %d rows, %d in the window, %d outside (so far %d kept, %d dropped).",
            window,
            paginator.pages,
            len(rows),
            len(inside),
            len(rows) - len(inside),
            kept,
            dropped,
        )
        yield EntryPage(paginator.pages, inside, len(rows) - len(inside), len(rows))
