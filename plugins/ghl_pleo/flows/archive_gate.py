"""The archive guard of the tags flow: whether a location's archives are held this run, and why."""

from __future__ import annotations

import logging
from datetime import datetime

from ghl_pleo.config import MappingConfig
from ghl_pleo.quality import archive_hold_reason
from ghl_pleo.run_context import LocationRun
from ghl_pleo.warehouse import utcnow
from ghl_pleo.warehouse.guard import RELEASE_EVENT

log = logging.getLogger(__name__)


def listing_baseline_rows(run: LocationRun, config: MappingConfig, released: bool, now: datetime | None) -> int | None:
    """The rows of the location's largest recent good read (the guard's baseline), which bounds the pages its GHL
    listing may take; None (the ceiling) without one, or when the guard is released for this run: a real jump in
    the tag count is let through the same way as a real drop."""
    if released:
        return None
    baseline = run.warehouse.guard.baseline(
        run.run.dag_id, run.location_id, run.run.run_id, config.volume_baseline_days, now=now
    )
    return baseline.get("read") if baseline else None


class ArchiveGate:
    """Decides, once Pleo's side is known, whether this location's archives are held (``reason``, else None).

    Held: while the read was incomplete; or when the tag count fell too far below the baseline (the highest
    count of the location's good runs since the later of its last release and ``quality.volume_baseline_days``;
    with no such run, Pleo's live tags in the group); or when more than ``quality.max_archives_per_run`` tags
    would be archived. A release (``release_archive_guard``) lets the guard through once and notes who and when;
    it never releases an incomplete read.
    """

    def __init__(
        self,
        run: LocationRun,
        config: MappingConfig,
        incomplete: str | None,
        read: int,
        active: int,
        released: bool = False,
        released_by: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self.run, self.config, self.incomplete = run, config, incomplete
        self.read, self.active, self.released, self.released_by = read, active, released, released_by
        self.baseline = run.warehouse.guard.baseline(
            run.run.dag_id, run.location_id, run.run.run_id, config.volume_baseline_days, now=now
        )
        self.reason: str | None = None

    def __call__(self, pleo_live: int, archives: int) -> str | None:
        if self.incomplete:
            return self.incomplete
        reason = archive_hold_reason(
            self.baseline,
            read=self.read,
            active=self.active,
            pleo_live=pleo_live,
            archives=archives,
            threshold=self.config.volume_drop_threshold,
            max_archives=self.config.max_archives_per_run,
        )
        if reason and self.released:
            who = self.released_by or "unknown (Airflow gave no triggering user)"
            self.run.event(RELEASE_EVENT, f"{reason}; released by {who} at {utcnow()}")
            self.run.counts["guard_released"] = 1
            log.warning(
                "Location %s: archive guard released by %s for this run (%s)", self.run.location_id, who, reason
            )
            return None
        self.reason = reason
        return reason
