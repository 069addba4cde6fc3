"""Each location's Pleo tag group (code ``ghl-social-{locationId}``): found, renamed, unarchived, created.

A group is created only for a location GHL has answered for: the tags DAG's ``ensure_groups`` only finds groups
(a location without one goes on with ``group_id`` None), and the location's own task creates it after its first
successful GHL tag read (:func:`create_after_read`); the statistics DAG creates it for a location whose statistics
it has read. A typo in the location list never reaches Pleo.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import AuthenticationError, FatalAPIError
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.leases import GROUPS_UNIT, acquire
from ghl_pleo.reconcile import choose_keeper
from ghl_pleo.run_context import LocationRun, SyncRun
from ghl_pleo.warehouse import change

log = logging.getLogger(__name__)
GROUP_CODE_PREFIX = "ghl-social-"


def group_code(location_id: str) -> str:
    return f"{GROUP_CODE_PREFIX}{location_id}"


@dataclass
class GroupListings:
    """Pleo's groups by company and code (one listing per company, read when first needed)."""

    pleo: PleoHook
    pending: dict[str, list[dict]] = field(default_factory=dict)  # group creates whose answer was lost, by location
    by_company: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    def groups(self, company: str) -> dict[str, list[dict]]:
        if company not in self.by_company:
            by_code: dict[str, list[dict]] = {}
            listed = self.pleo.list_groups(company)
            for g in {g.get("id"): g for g in listed}.values():  # a group listed twice is one group
                by_code.setdefault(str(g.get("code") or "").casefold(), []).append(g)
            self.by_company[company] = by_code
        return self.by_company[company]


def ensure_groups(
    run: SyncRun,
    pleo: PleoHook,
    config: MappingConfig,
    locations: list[dict],
    *,
    rename: bool = True,
    with_group: bool = False,
    report_orphans: bool = True,
    isolate_failures: bool = False,
    create: bool = False,
) -> list[dict]:
    """Find (``create``: or create) each location's Pleo tag group; rename and unarchive as needed.

    One group listing per Pleo company (the connection's, or the location's
    own from the mapping file); a write only where the group differs. With
    several groups of our code, the oldest is used and the rest reported.

    Args:
        rename: False keeps an existing group's name (the statistics DAG only
            needs the group to exist).
        with_group: include the whole group as just read or written (for a
            read-modify-write of its metadata).
        report_orphans: report our groups whose location is not in ``locations``
            (off when ``locations`` is only a subset of the location list).
        isolate_failures: a group write Pleo refuses for one location (a 4xx other than
            401/403) fails that location alone: its ledger row is closed as failed and it is
            left out of the result, so the other locations still sync. Other errors fail all.
        create: create a missing group (only for locations GHL has answered for). Without it, a location with
            no group is in the result with ``group_id`` None: its task creates it after its first tag read.

    Every group write gets a change-log row (a dry-run hook's planned ones too). The whole step holds the tag
    groups' lease (one writer at a time, whichever run or DAG), so the listing it reads is still true when it
    creates a missing group: two runs never both create one.
    """
    with acquire(run.warehouse.leases, GROUPS_UNIT, run.holder, dry_run=run.dry_run, label="Tag groups"):
        flags = (rename, with_group, report_orphans, isolate_failures, create)
        return _ensure_all(run, pleo, config, locations, *flags)


def _ensure_all(
    run: SyncRun,
    pleo: PleoHook,
    config: MappingConfig,
    locations: list[dict],
    rename: bool,
    with_group: bool,
    report_orphans: bool,
    isolate_failures: bool,
    create: bool,
) -> list[dict]:
    listings = GroupListings(pleo, {} if run.dry_run else run.warehouse.pending.open_entity("tag_group"))
    counts: Counter = Counter()
    wanted: dict[str, set[str]] = {}
    out = []
    for loc in locations:
        location_id = loc["location_id"]
        company = config.company_for(location_id) or pleo.company_id
        wanted.setdefault(company, set()).add(group_code(location_id).casefold())
        try:
            group = _ensure_one(run, pleo, config, listings, loc, company, rename, counts, create)
        except FatalAPIError as exc:
            _isolate(run, location_id, exc, isolate_failures, counts)
            continue
        item = {**loc, "group_id": group["id"] if group else None, "company_id": company}
        if with_group:
            item["group"] = group
        out.append(item)
    if report_orphans:
        counts["orphaned"] = _report_orphans(run, listings, wanted)
    log.info(
        "Tag groups: %s; Pleo requests %s",
        {k: v for k, v in counts.items() if v},
        pleo.client.stats.as_dict()["total_requests"],
    )
    return out


def _isolate(run: SyncRun, location_id: str, exc: FatalAPIError, isolate: bool, counts: Counter) -> None:
    """A group write Pleo refused for one location fails that location alone (else the error goes on)."""
    if not isolate or isinstance(exc, AuthenticationError):
        raise exc
    run.record_failure(location_id, exc)
    counts["failed"] += 1
    log.error("Location %s: its tag group could not be written (%s); the other locations go on", location_id, exc)


def _ensure_one(
    run: SyncRun,
    pleo: PleoHook,
    config: MappingConfig,
    listings: GroupListings,
    loc: dict,
    company: str,
    rename: bool,
    counts: Counter,
    create: bool = True,
) -> dict | None:
    """One location's group: created when missing (``create``; else None); renamed or unarchived when it differs."""
    location_id = loc["location_id"]
    code = group_code(location_id)
    by_code, key = listings.groups(company), code.casefold()
    existing = by_code.get(key, [])
    lost = [p for p in listings.pending.get(location_id, []) if p["code_key"] == key]
    if not existing and not create:
        counts["missing"] += 1
        log.info("Location %s: no tag group yet; its task creates it after its first GHL tag read", location_id)
        return None
    if not existing:
        group = _create_group(run, pleo, location_id, code, config.group_name(location_id, loc.get("name")), company)
        by_code[key] = [group]
        counts["created"] += 1
        return group
    group = choose_keeper(existing, None)
    if lost:
        _confirm_lost_create(run, lost[0], group, counts)
    if len(existing) > 1:
        others = sorted(g["id"] for g in existing if g is not group)
        run.event(
            location_id,
            "duplicate_groups",
            f"{len(existing)} Pleo tag groups have code {code}; using the oldest ({group['id']}); "
            f"others left alone: {', '.join(others)}",
        )
        log.warning("Location %s: %d groups share code %s; using %s", location_id, len(existing), code, group["id"])
    # Unknown location name: keep the group's current name rather than flap to the id.
    name = group.get("name") or location_id
    if rename and loc.get("name"):
        name = config.group_name(location_id, loc.get("name"))
    if not group.get("archived") and group.get("name") == name:
        counts["unchanged"] += 1
        return group
    before = {"name": group.get("name"), "archived": bool(group.get("archived"))}
    group = pleo.update_group({**group, "name": name, "archived": False}, location_id=location_id)
    run.change(
        location_id,
        "tag_group",
        "update",
        code=code,
        pleo_id=group["id"],
        before=before,
        after={"name": group.get("name"), "archived": False},
    )
    counts["updated"] += 1
    log.info("Location %s: updated tag group %s (name %r, unarchived)", location_id, group["id"], name)
    return group


def create_after_read(run: LocationRun, pleo: PleoHook, config: MappingConfig, location: dict) -> str:
    """The group of a location ``ensure_groups`` found none for, made by its own task once GHL has answered for it
    (its first tag read succeeded). Inside the tag groups' lease (this location's holder: a retry takes it over)
    the company's groups are read again, so a group another run made meanwhile is used, and a create whose answer
    was lost is confirmed, not repeated. Returns the group id; ``groups_created`` goes into the location's counts
    (a dry run plans the create: its change-log row, no request)."""
    sync, location_id = run.run, run.location_id
    company = location.get("company_id") or config.company_for(location_id) or pleo.company_id
    holder = f"{sync.holder}:{location_id}"
    with acquire(sync.warehouse.leases, GROUPS_UNIT, holder, dry_run=sync.dry_run, label="Tag groups"):
        listings = GroupListings(pleo, {} if sync.dry_run else sync.warehouse.pending.open_entity("tag_group"))
        counts: Counter = Counter()
        group = _ensure_one(sync, pleo, config, listings, location, company, True, counts)
    run.counts["groups_created"] = counts["created"]
    return group["id"]


def _create_group(run: SyncRun, pleo: PleoHook, location_id: str, code: str, name: str, company: str) -> dict:
    """Create the group, noted as pending first: a create whose answer is lost is found, and logged, later."""
    key = code.casefold()
    if not run.dry_run:
        run.warehouse.pending.note(location_id, "tag_group", [(key, name)], run)
    group = pleo.create_group(code, name, company_id=company, location_id=location_id)
    after = {"name": name, "archived": False}
    row = run.change_row(location_id, "tag_group", "create", code=code, pleo_id=group["id"], after=after)
    run.warehouse.pending.settle(location_id, "tag_group", key, row)
    log.info("Location %s: created tag group %r (%s)", location_id, name, group["id"])
    return group


def _confirm_lost_create(run: SyncRun, pending: dict, group: dict, counts: Counter) -> None:
    """A group create an earlier try sent whose answer was lost, found in Pleo: its change-log row now, in the
    run and try that sent it, marked confirmed on re-read."""
    row = change(
        pending["dag_id"],
        pending["run_id"],
        pending["try_number"],
        pending["location_id"],
        "tag_group",
        "create",
        code=group.get("code"),
        pleo_id=group["id"],
        after={"name": group.get("name"), "archived": bool(group.get("archived"))},
    )
    run.warehouse.pending.settle(
        pending["location_id"], "tag_group", pending["code_key"], {**row, "confirmed_on_reread": 1}
    )
    counts["confirmed_on_reread"] += 1
    run.event(
        pending["location_id"], "confirmed_on_reread", f"tag group create whose answer was lost found: {group['id']}"
    )


def _report_orphans(run: SyncRun, listings: GroupListings, wanted: dict[str, set[str]]) -> int:
    """Our groups whose location left the location list: reported, left alone."""
    orphans = 0
    for company, by_code in listings.by_company.items():
        for code, existing in by_code.items():
            if code.startswith(GROUP_CODE_PREFIX) and code not in wanted.get(company, set()):
                location_id = existing[0]["code"][len(GROUP_CODE_PREFIX) :]
                run.event(
                    location_id,
                    "orphaned_group",
                    f"Pleo group {existing[0]['code']} belongs to a location "
                    f"that is not in the location list; left alone",
                )
                orphans += 1
    return orphans
