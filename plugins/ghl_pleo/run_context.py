"""The run context every step receives: which DAG run and try this is, whether it is a dry run, and the ledger.

:class:`SyncRun` is one task's view of a DAG run (for run-level steps such as ``ensure_groups``);
:class:`LocationRun` is one location's sync inside it. Used as a context manager, a ``LocationRun`` opens
its ledger row and always closes it, as success (or ``skipped``, ``skipped_locked``) or as failed with the error
kind, whatever is raised: a task timeout or SIGTERM (``BaseException``) must not leave a row at ``running``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ghl_pleo.errors import GhlPleoError, redact
from ghl_pleo.warehouse import Warehouse, change

log = logging.getLogger(__name__)
NO_REQUESTS = {"requests": {}, "total_requests": 0, "retries": 0}


@dataclass(frozen=True)
class Hooks:
    """The API hooks a step may use (a flow that does not talk to an API leaves it None)."""

    ghl: Any = None
    pleo: Any = None

    def used(self) -> dict[str, Any]:
        return {name: hook for name, hook in (("ghl", self.ghl), ("pleo", self.pleo)) if hook is not None}


def request_stats(**hooks: Any) -> dict:
    """Requests each hook made (by endpoint, retries, last status): ``request_stats(ghl=..., pleo=...)``."""
    out = {}
    for name, hook in hooks.items():
        client = hook.__dict__.get("client")  # only if the hook was used
        out[name] = client.stats.as_dict() if client else dict(NO_REQUESTS)
    return out


def error_kind(exc: BaseException) -> str:
    """The stable word for an error in the ledger and alerts."""
    if isinstance(exc, GhlPleoError):
        return exc.kind
    if isinstance(exc, Exception):
        return "internal"
    return "interrupted"  # a task timeout, SIGTERM, KeyboardInterrupt: the try was stopped from outside


@dataclass
class SyncRun:
    """One task's view of its DAG run: ids, try number, dry-run flag and the warehouse."""

    warehouse: Warehouse
    dag_id: str
    run_id: str
    try_number: int = 1
    dry_run: bool = False
    # In a batch task: the batch's validator (ghl_pleo.batch_quality.BatchValidator), shared by its location
    # threads; it also means the process's memory figures are the batch's, not one location's.
    validator: Any = None

    @property
    def holder(self) -> str:
        """Who holds this run's leases: the DAG and run, the same for every try (a retry takes them over)."""
        return f"{self.dag_id}/{self.run_id}"

    def change_row(
        self, location_id: str, entity: str, action: str, *, at: datetime | None = None, **values: Any
    ) -> dict:
        """A change-log row for a write Pleo confirmed (or, in a dry run, planned), not yet stored."""
        return change(
            self.dag_id,
            self.run_id,
            self.try_number,
            location_id,
            entity,
            action,
            dry_run=self.dry_run,
            at=at,
            **values,
        )

    def change(self, location_id: str, entity: str, action: str, **values: Any) -> None:
        """Record one change-log row now (writes that keep no other sync state: groups, dimensions, values)."""
        self.warehouse.ledger.log_changes([self.change_row(location_id, entity, action, **values)])

    def event(self, location_id: str, name: str, detail: str) -> None:
        """A note on the run (duplicate groups, schema drift, a released guard...), shown in the summary."""
        self.warehouse.ledger.add_event(self.dag_id, self.run_id, location_id, name, redact(detail))

    def record_failure(self, location_id: str, exc: BaseException) -> None:
        """Record a location as failed with ``exc`` by a run-level step (its ledger row, opened and closed)."""
        try:
            with self.location(location_id, Hooks()):
                raise exc
        except type(exc):
            pass

    def location(self, location_id: str, hooks: Hooks) -> LocationRun:
        """One location's sync in this run; the ``hooks`` it uses give the request counts at close."""
        return LocationRun(self, location_id, hooks)


@dataclass
class LocationRun:
    """One location's sync: its ledger row, counts, notes and change-log rows.

    ``counts`` is what the ledger row ends with (whatever the outcome); ``skip(event, detail)`` closes the row as
    ``skipped`` (or ``skipped_locked``: another run held the location) instead of ``success``.
    """

    run: SyncRun
    location_id: str
    hooks: Hooks = field(default_factory=Hooks)
    counts: dict[str, Any] = field(default_factory=dict)
    status: str | None = None

    @property
    def warehouse(self) -> Warehouse:
        return self.run.warehouse

    def __enter__(self) -> LocationRun:
        r = self.run
        r.warehouse.ledger.start_location_run(r.dag_id, r.run_id, self.location_id, r.try_number, dry_run=r.dry_run)
        return self

    def __exit__(self, exc_type, exc: BaseException | None, tb) -> bool:
        if exc is None:
            self._finish(self.status or "success")
            return False
        try:
            self._finish("failed", error_kind(exc), str(exc) or type(exc).__name__)
        except Exception:  # noqa: BLE001 - never hide the error that failed the location behind a ledger error
            log.exception("Location %s: could not close its ledger row", self.location_id)
        return False

    def _finish(self, status: str, kind: str | None = None, error: str | None = None) -> None:
        r = self.run
        r.warehouse.ledger.finish_location_run(
            r.dag_id,
            r.run_id,
            self.location_id,
            status,
            self.counts,
            self.requests(),
            error_kind=kind,
            error=redact(error)[:2000] if error else None,  # redact first, then cut
        )

    def requests(self) -> dict:
        return request_stats(**self.hooks.used())

    def skip(self, event: str, detail: str, status: str = "skipped") -> None:
        """Close the row as ``status`` (``skipped`` or ``skipped_locked``; not failed), with a note (``event``: a
        stable word) saying why."""
        self.status = status
        self.event(event, detail)

    def change_row(self, entity: str, action: str, **values: Any) -> dict:
        return self.run.change_row(self.location_id, entity, action, **values)

    def change(self, entity: str, action: str, **values: Any) -> None:
        self.run.change(self.location_id, entity, action, **values)

    def event(self, name: str, detail: str) -> None:
        self.run.event(self.location_id, name, detail)
