"""One writer per unit of work.

Any number of runs of a DAG may be active at once: the hourly run, a manual trigger, a backfill's runs (up to 10 at
once by default, whatever the DAG's ``max_active_runs``). Whoever works on a unit (one location's sync in one DAG,
the Pleo tag groups) holds its lease in the warehouse (``sync_leases``): holder = the DAG and run, renewed by a
heartbeat thread, released when the work ends, also on failure. A retry of the same run takes it over at once;
another run waits up to ``GHL_PLEO_LEASE_WAIT_S``, then gets :class:`~ghl_pleo.errors.LockedError` naming the holder.
:func:`leased` turns that into a ``skipped_locked`` location for current-state work (the tags: the other run is
syncing the same state) and lets it fail the location, to be retried, for dated work (a statistics day).
No database transaction stays open while the holder talks to an API: taking, renewing and releasing are one short
transaction each.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghl_pleo.constants import lease_ttl_s, lease_wait_s
from ghl_pleo.errors import LockedError
from ghl_pleo.warehouse.leases import LeaseStore

if TYPE_CHECKING:
    from ghl_pleo.run_context import Hooks, LocationRun

log = logging.getLogger(__name__)
GROUPS_UNIT = "pleo_tag_groups"  # every tag-group write (ensure_groups), whichever DAG makes it
SKIPPED_LOCKED = "skipped_locked"


def location_unit(dag_id: str, location_id: str) -> str:
    """One location's sync in one DAG (a location's tags and its statistics do not exclude each other)."""
    return f"{dag_id}:{location_id}"


@dataclass(frozen=True)
class LeaseSettings:
    """How long a lease lasts without a heartbeat, and how long a run waits for one another run holds."""

    ttl_s: float
    wait_s: float

    @classmethod
    def from_env(cls) -> LeaseSettings:
        return cls(ttl_s=lease_ttl_s(), wait_s=lease_wait_s())

    @property
    def poll_s(self) -> float:
        """How often a waiting run asks again."""
        return min(2.0, max(0.05, self.wait_s / 10))


class Lease:
    """A lease this process holds, renewed by a daemon thread every third of its TTL until released."""

    def __init__(self, store: LeaseStore, unit: str, holder: str, token: str, settings: LeaseSettings) -> None:
        self.store, self.unit, self.holder, self.token, self.settings = store, unit, holder, token, settings
        self.lost = False  # another try of the same run took it over: this one stops renewing it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {unit}", daemon=True)

    def start(self) -> Lease:
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.ttl_s / 3):
            try:
                if not self.store.renew(self.unit, self.holder, self.token, self.settings.ttl_s):
                    self.lost = True
                    log.error("Lease %s of %s was taken over by another try; no longer renewed", self.unit, self.holder)
                    return
            except Exception:  # noqa: BLE001 - a warehouse hiccup: the next beat tries again before the lease lapses
                log.warning("Lease %s: heartbeat failed; trying again at the next one", self.unit, exc_info=True)

    def release(self) -> None:
        """Stop the heartbeat and delete the row (only if it is still this token's)."""
        self._stop.set()
        self._thread.join(timeout=30)
        if self.store.release(self.unit, self.holder, self.token):
            log.info("Lease %s released by %s", self.unit, self.holder)
        else:
            log.warning("Lease %s was no longer held by this try of %s when released", self.unit, self.holder)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - never hide the error that ended the work; the lease lapses by itself
            log.exception("Lease %s: could not release it; it lapses at its expiry", self.unit)
        return False


def acquire(
    store: LeaseStore,
    unit: str,
    holder: str,
    *,
    settings: LeaseSettings | None = None,
    dry_run: bool = False,
    label: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Lease:
    """Take ``unit`` for ``holder`` (a :class:`Lease`, heartbeat started), waiting up to ``settings.wait_s`` while
    another run holds it; :class:`LockedError` naming that run when it still does."""
    settings = settings or LeaseSettings.from_env()
    label = label or f"Unit {unit}"
    token, deadline, seen = uuid.uuid4().hex, clock() + settings.wait_s, None
    while True:
        other = store.take(unit, holder, token, settings.ttl_s, dry_run=dry_run)
        if other is None:
            log.info("%s: lease %s taken by %s", label, unit, holder)
            return Lease(store, unit, holder, token, settings).start()
        dry = " (a dry run)" if other["dry_run"] else ""
        if other["holder"] != seen:
            seen = other["holder"]
            log.info("%s: waiting for lease held by %s%s (expires %s)", label, seen, dry, other["expires_at"])
        left = deadline - clock()
        if left <= 0:
            raise LockedError(
                f"{label}: another run, {other['holder']}{dry}, held lease {unit} for all of the "
                f"{settings.wait_s:g} s this run waited (it lapses at {other['expires_at']} unless renewed). "
                f"Airflow retries this task; if it keeps happening, see the runbook (locked).",
                holder=other["holder"],
                expires_at=other["expires_at"],
                dry_run=bool(other["dry_run"]),
            )
        sleep(min(settings.poll_s, left))


def leased(
    run: LocationRun,
    hooks: Hooks,
    step: Callable[..., dict],
    *args: Any,
    skip_when_locked: bool,
    settings: LeaseSettings | None = None,
    **kwargs: Any,
) -> dict:
    """``step(run, hooks, *args, **kwargs)`` holding the location's lease for the run's DAG.

    Another run holding it past the wait: with ``skip_when_locked`` (current-state work: the tags) the location is
    closed as ``skipped_locked`` with a note naming that run, unless that run is a dry run and this one is not
    (a dry run writes nothing to Pleo: this one fails, to be retried); else :class:`LockedError` fails the
    location (retryable).
    """
    sync = run.run
    try:
        lease = acquire(
            run.warehouse.leases,
            location_unit(sync.dag_id, run.location_id),
            sync.holder,
            settings=settings,
            dry_run=sync.dry_run,
            label=f"Location {run.location_id}",
        )
    except LockedError as exc:
        if not skip_when_locked or (exc.dry_run and not sync.dry_run):
            raise
        detail = (
            f"another run, {exc.holder}, holds this location (until {exc.expires_at} unless renewed) and is syncing "
            f"the same current state: skipped here"
        )
        run.skip("locked", detail, status=SKIPPED_LOCKED)
        log.warning("Location %s: %s", run.location_id, detail)
        return {"location_id": run.location_id, "status": SKIPPED_LOCKED, "holder": exc.holder}
    with lease:
        return step(run, hooks, *args, **kwargs)
