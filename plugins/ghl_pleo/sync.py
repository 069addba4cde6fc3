"""The tags sync, step by step. Tasks in ``dags/`` call these functions.

Each function fetches through a hook, calls pure functions from
:mod:`ghl_pleo.transform` / :mod:`ghl_pleo.reconcile`, and writes through the
:class:`~ghl_pleo.warehouse.Warehouse`. Only small dicts (ids and counts) are
returned, for XCom; the data travels through the warehouse.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable

import pandas as pd

from ghl_pleo import memory
from ghl_pleo.config import DIMENSIONS, MappingConfig
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import AGGREGATION_BATCH, PleoHook
from ghl_pleo.errors import (
    AuthenticationError,
    ConfigurationError,
    DataValidationError,
    DriftGuardError,
    FatalAPIError,
    GhlPleoError,
    SchemaDriftError,
)
from ghl_pleo.quality import (
    TAG_MAPPED_FIELDS,
    check_location_id,
    observed_fields,
    require,
    run_suite,
    schema_drift,
    tags_expectations,
    volume_drop,
)
from ghl_pleo.reconcile import (
    ARCHIVE,
    ARCHIVE_DUPLICATE,
    CREATE,
    RENAME,
    UNARCHIVE,
    choose_keeper,
    code_key,
    plan_dimension_values,
    plan_tags,
)
from ghl_pleo.transform import dimension_values, prepare_tags, tag_summary
from ghl_pleo.warehouse import Warehouse, change

log = logging.getLogger("ghl_pleo.sync")
GROUP_CODE_PREFIX = "ghl-social-"
PROGRESS_EVERY = 1000  # a progress line every this many Pleo writes in one location
ROW_BUCKETS = ("read", "created", "renamed", "archived", "unarchived", "unchanged", "rejected", "held", "duplicates")


def group_code(location_id: str) -> str:
    return f"{GROUP_CODE_PREFIX}{location_id}"


def parse_location_ids(raw: Any) -> list[str]:
    """The ``ghl_location_ids`` variable: a JSON list of location ids (duplicates dropped, order kept)."""
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise ConfigurationError(f"Variable ghl_location_ids must be a JSON list of location ids, "
                                     f"e.g. [\"ve9EPM428h8vShlRW1KT\"]; got {raw[:80]!r}.") from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigurationError(f"Variable ghl_location_ids must be a JSON list of non-empty strings; got {value!r:.80}.")
    return list(dict.fromkeys(check_location_id(v.strip()) for v in value))


def _only(ids: list[str], only: list[str] | None, where: str) -> list[str]:
    """``ids`` limited to ``only`` (the run's ``locations`` param); an id not in ``ids`` is an error, not a no-op."""
    if not only:
        return ids
    wanted = list(dict.fromkeys(check_location_id(str(v).strip()) for v in only))
    unknown = [i for i in wanted if i not in set(ids)]
    if unknown:
        raise ConfigurationError(f"Param locations names {len(unknown)} location(s) that are not in {where}: "
                                 f"{', '.join(unknown)}. Add them there first, or fix the ids.")
    keep = set(wanted)
    return [i for i in ids if i in keep]


def resolve_locations(ghl: GhlHook, variable_value: Any, only: list[str] | None = None) -> list[dict]:
    """The locations to sync, with their names.

    From the ``ghl_location_ids`` variable when set (names looked up with
    ``GET /locations/{id}``), else discovered with ``GET /locations/search``
    for the agency in ``ghl_default``'s ``extra.company_id``. ``only`` (the
    run's ``locations`` param) limits the run to some of them.
    """
    if variable_value not in (None, ""):
        ids = _only(parse_location_ids(variable_value), only, "the variable ghl_location_ids")

        def lookup(location_id: str) -> dict:
            name = None
            try:
                name = ghl.get_location(location_id).get("name")
            except (AuthenticationError, FatalAPIError) as exc:
                # Missing locations.readonly scope, or an id GHL does not know: the group keeps its name (or the id).
                log.warning("Location %s: name lookup failed (%s); the group name falls back to the id.",
                            location_id, exc)
            return {"location_id": location_id, "name": name}

        # Each location has its own burst limit, so the lookups go 8 at a time (500 locations: seconds, not minutes).
        _ = ghl.client, ghl.oauth  # built once, before the threads share them
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(ids))), thread_name_prefix="ghl-lookup") as pool:
            out = list(pool.map(lookup, ids))
        log.info("Locations from variable ghl_location_ids: %d%s (names looked up)", len(out),
                 " (limited by param locations)" if only else "")
        return out
    company = ghl.extras.get("company_id") or (ghl.extras.get("oauth") or {}).get("company_id")
    if not company:
        raise ConfigurationError(
            "No locations to sync: set the Airflow variable ghl_location_ids (a JSON list of location ids), or give "
            "connection ghl_default an agency token and extra.company_id so locations can be discovered.")
    found = ghl.search_locations(str(company))
    out = [{"location_id": loc["id"], "name": loc.get("name")} for loc in found if isinstance(loc.get("id"), str)]
    log.info("Discovered %d locations for company %s", len(out), company)
    if only:
        keep = set(_only([loc["location_id"] for loc in out], only, f"the locations discovered for {company}"))
        out = [loc for loc in out if loc["location_id"] in keep]
        log.info("Param locations: this run syncs %d of them", len(out))
    return out


def ensure_groups(pleo: PleoHook, locations: list[dict], config: MappingConfig, warehouse: Warehouse,
                  dag_id: str, run_id: str, *, rename: bool = True, with_group: bool = False,
                  report_orphans: bool = True, try_number: int = 1) -> list[dict]:
    """Find or create each location's Pleo tag group; rename and unarchive as needed.

    One group listing per Pleo company (the connection's, or the location's
    own from the mapping file); a write only where the group differs. With
    several groups of our code, the oldest is used and the rest reported. Our
    groups whose location left the list are reported and left alone.

    Args:
        rename: False keeps an existing group's name (the statistics DAG only
            needs the group to exist).
        with_group: include the whole group as just read or written (for a
            read-modify-write of its metadata).
        report_orphans: report our groups whose location is not in ``locations``
            (off when ``locations`` is only a subset of the location list).

    Every group write gets a change-log row (a dry-run hook's planned ones too).
    """
    default_company = pleo.company_id
    listings: dict[str, dict[str, list[dict]]] = {}

    def groups_of(company: str) -> dict[str, list[dict]]:
        if company not in listings:
            by_code: dict[str, list[dict]] = {}
            for g in pleo.list_groups(company):
                by_code.setdefault(str(g.get("code") or "").casefold(), []).append(g)
            listings[company] = by_code
        return listings[company]

    out = []
    counts = Counter()
    wanted_codes: dict[str, set[str]] = {}
    for loc in locations:
        location_id = loc["location_id"]
        company = config.company_for(location_id) or default_company
        code = group_code(location_id)
        wanted_codes.setdefault(company, set()).add(code.casefold())
        by_code = groups_of(company)
        existing = by_code.get(code.casefold(), [])
        if not existing:
            name = config.group_name(location_id, loc.get("name"))
            group = pleo.create_group(code, name, company_id=company, location_id=location_id)
            warehouse.log_changes([change(dag_id, run_id, try_number, location_id, "tag_group", "create", code=code,
                                          pleo_id=group["id"], after={"name": name, "archived": False},
                                          dry_run=pleo.dry_run)])
            by_code[code.casefold()] = [group]
            counts["created"] += 1
            log.info("Location %s: created tag group %r (%s)", location_id, name, group["id"])
        else:
            group = choose_keeper(existing, None)
            if len(existing) > 1:
                others = sorted(g["id"] for g in existing if g is not group)
                warehouse.add_event(dag_id, run_id, location_id, "duplicate_groups",
                                    f"{len(existing)} Pleo tag groups have code {code}; using the oldest "
                                    f"({group['id']}); others left alone: {', '.join(others)}")
                log.warning("Location %s: %d groups share code %s; using %s", location_id, len(existing), code,
                            group["id"])
            # Unknown location name: keep the group's current name rather than flap to the id.
            name = group.get("name") or location_id
            if rename and loc.get("name"):
                name = config.group_name(location_id, loc.get("name"))
            if group.get("archived") or group.get("name") != name:
                before = {"name": group.get("name"), "archived": bool(group.get("archived"))}
                group = pleo.update_group({**group, "name": name, "archived": False}, location_id=location_id)
                warehouse.log_changes([change(dag_id, run_id, try_number, location_id, "tag_group", "update",
                                              code=code, pleo_id=group["id"], before=before,
                                              after={"name": group.get("name"), "archived": False},
                                              dry_run=pleo.dry_run)])
                counts["updated"] += 1
                log.info("Location %s: updated tag group %s (name %r, unarchived)", location_id, group["id"], name)
            else:
                counts["unchanged"] += 1
        item = {"location_id": location_id, "name": loc.get("name"), "group_id": group["id"], "company_id": company}
        if with_group:
            item["group"] = group
        out.append(item)
    for company, by_code in (listings.items() if report_orphans else ()):
        for code, existing in by_code.items():
            if code.startswith(GROUP_CODE_PREFIX) and code not in wanted_codes.get(company, set()):
                location_id = existing[0]["code"][len(GROUP_CODE_PREFIX):]
                warehouse.add_event(dag_id, run_id, location_id, "orphaned_group",
                                    f"Pleo group {existing[0]['code']} belongs to a location that is not in the "
                                    f"location list; left alone")
                counts["orphaned"] += 1
    log.info("Tag groups: %s; Pleo requests %s", dict(counts), pleo.client.stats.as_dict()["total_requests"])
    return out


def _extract(ghl: GhlHook, warehouse: Warehouse, location_id: str, run_id: str) -> int:
    """Stream the location's GHL tag pages into the staging table; return the rows read."""
    warehouse.clear_staged(location_id)
    total = 0
    for page_no, tags, paginator in ghl.iter_tag_pages(location_id):
        warehouse.stage_page(location_id, run_id, page_no, tags)
        total += len(tags)
        log.info("Location %s: GHL tags page %d: %d tags (%d read, count %s)", location_id, page_no, len(tags),
                 total, paginator.count)
        if not paginator.has_more():
            log.info("Location %s: GHL tags read done after %d page(s): %s", location_id, paginator.pages,
                     paginator.stop_reason)
    return total


def _refresh_details(ghl: GhlHook, warehouse: Warehouse, location_id: str, tags: pd.DataFrame,
                     full: bool = False) -> int:
    """Fetch tag details for tags that are new or changed since they were last fetched (``full``: for every tag).
    Returns the ids asked for."""
    known = {} if full else warehouse.detail_fingerprints(location_id)
    wanted = {r.tag_id: r.fingerprint for r in tags.itertuples(index=False) if known.get(r.tag_id) != r.fingerprint}
    if not wanted:
        return 0
    returned = 0
    for batch in ghl.iter_tag_details(location_id, list(wanted)):  # saved batch by batch: memory stays flat
        warehouse.save_details(location_id, batch, wanted)
        returned += len(batch)
    log.info("Location %s: tag details for %d new or changed tags (%d returned)", location_id, len(wanted),
             returned)
    return len(wanted)


_END = object()


class PleoTag:
    """All the plan needs of a Pleo tag, in a quarter of a dict's memory (read like a dict: ``t["id"]``, ``t.get``)."""

    __slots__ = ("id", "code", "name", "archived", "createdAt")

    def __init__(self, tag: dict) -> None:
        for key in self.__slots__:
            setattr(self, key, tag.get(key))

    def __getitem__(self, key: str):
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key, default)


def run_bounded(fn: Callable[[Any], Any], items: Iterable[Any], workers: int,
                on_result: Callable[[Any, Any], None]) -> None:
    """``fn(item)`` for every item with at most ``workers`` in flight; ``on_result(item, result)`` in this thread.

    Results are handled as they complete, so every confirmed write is recorded
    even when another fails. The first error stops new submissions; the writes
    already in flight finish (and are recorded), then the error is raised.
    """
    if workers <= 1:
        for item in items:
            on_result(item, fn(item))
        return
    source = iter(items)
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pleo-write") as pool:
        pending: dict[Any, Any] = {}

        def fill() -> None:
            while error is None and len(pending) < workers * 2:
                item = next(source, _END)
                if item is _END:
                    return
                pending[pool.submit(fn, item)] = item

        try:
            fill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    try:
                        result = future.result()
                    except BaseException as exc:  # noqa: BLE001 - raised below, after in-flight writes are recorded
                        error = error or exc
                        continue
                    on_result(item, result)
                fill()
        except BaseException:  # the task is being stopped, or recording failed: start nothing more
            for future in pending:
                future.cancel()
            raise
    if error is not None:
        raise error


def _load_tags(pleo: PleoHook, warehouse: Warehouse, location_id: str, group_id: str, tags: pd.DataFrame,
               held_codes: list[str], run: tuple[str, str, int], *, hold_archives: bool = False
               ) -> tuple[Counter, dict[str, str], set[str]]:
    """Apply the plan. With ``hold_archives`` (the drift guard tripped) no tag is archived; the rest is written."""
    current = [PleoTag(t) for page in pleo.iter_tags(group_id, location_id=location_id) for t in page]
    log.info("Location %s: Pleo group %s holds %d tags (archived included)", location_id, group_id, len(current))
    plan = plan_tags(tags[["code", "name", "archived"]], current, held_codes)
    counts = Counter({CREATE: 0, RENAME: 0, ARCHIVE: 0, UNARCHIVE: 0, ARCHIVE_DUPLICATE: 0, "gone": 0,
                      "held": 0, "archives_held": 0})
    counts["unchanged"] = plan.unchanged
    counts["pleo_held"] = plan.held
    # code -> Pleo id of its live tag, for the dimension step (a plain id per tag: light at 100,000 tags).
    live_ids = {k: t["id"] for k, t in plan.keepers.items() if not t.get("archived")}
    del current
    plan.keepers.clear()
    created: set[str] = set()
    todo = []
    for action in plan.actions:
        if hold_archives and action.archived and action.kind in (ARCHIVE, ARCHIVE_DUPLICATE):
            counts["archives_held"] += 1
            counts["held"] += int(action.source_row)
        else:
            todo.append(action)

    def write(action: Any) -> dict:
        if action.kind == CREATE:
            return pleo.create_tag(group_id, action.code, action.name or action.code, location_id=location_id)
        return pleo.update_tag(action.pleo_id, code=action.code, name=action.name, archived=action.archived,
                               location_id=location_id)

    def written(action: Any, result: dict) -> None:
        if action.kind != ARCHIVE_DUPLICATE:  # all the dimension step needs of a written tag
            if result.get("archived"):
                live_ids.pop(code_key(action.code), None)
            else:
                live_ids[code_key(action.code)] = result["id"]
        if action.kind == CREATE:
            created.add(result["id"])
        before = action.before
        warehouse.record_push(
            location_id, result.get("code", action.code), result["id"], result.get("name"),
            bool(result.get("archived")), action.kind, run[1],
            change=change(*run, location_id, "tag", action.kind, code=result.get("code", action.code),
                          pleo_id=result["id"], dry_run=pleo.dry_run,
                          before=None if before is None else {"name": before.get("name"),
                                                              "archived": bool(before.get("archived"))},
                          after={"name": result.get("name"), "archived": bool(result.get("archived"))}))
        counts["gone" if action.kind == ARCHIVE and not action.source_row else action.kind] += 1
        done = sum(counts[k] for k in (CREATE, RENAME, ARCHIVE, UNARCHIVE, ARCHIVE_DUPLICATE, "gone"))
        if done % PROGRESS_EVERY == 0:
            log.info("Location %s: %d of %d tag writes done", location_id, done, len(todo))

    run_bounded(write, todo, pleo.concurrency, written)
    if plan.actions:
        log.info("Location %s: tag writes %s", location_id, {k: v for k, v in counts.items() if v})
    return counts, live_ids, created


def _load_dimensions(pleo: PleoHook, location_id: str, group_id: str, tags: pd.DataFrame,
                     details_for: Callable[[list[str]], pd.DataFrame], tag_ids: dict[str, str],
                     config: MappingConfig, company_id: str | None, created_ids: set[str],
                     log_changes: Callable[[list[dict]], None], run: tuple[str, str, int]) -> Counter:
    """Create missing dimensions; write each dimension value that differs from what Pleo holds.

    Works through the live tags 100 at a time (one aggregation read, their
    details from the warehouse, their writes), so memory stays flat however
    many tags a location has. Tags this run created (``created_ids``) hold no
    values yet and are not read back. Each write gets a change-log row (``log_changes``).
    """
    counts = Counter(dimensions_created=0, values_written=0)
    if not config.active_dimensions:
        return counts
    dims = {d["code"]: d for d in pleo.list_dimensions(group_id, location_id=location_id)}
    for code in config.active_dimensions:
        if code not in dims:
            name, order = DIMENSIONS[code]
            dims[code] = pleo.create_dimension(group_id, code=code, name=name, display_order=order,
                                               location_id=location_id)
            log_changes([change(*run, location_id, "dimension", "create", code=code, pleo_id=dims[code]["id"],
                                after={"name": name, "displayOrder": order}, dry_run=pleo.dry_run)])
            counts["dimensions_created"] += 1
    dim_ids = {c: d["id"] for c, d in dims.items()}
    live = tags[~tags["archived"]].reset_index(drop=True) if len(tags) else tags
    pleo_ids = [tag_ids.get(code_key(c)) for c in live["code"]]
    existing = [i for i, t in enumerate(pleo_ids) if t and t not in created_ids]
    fresh = [i for i, t in enumerate(pleo_ids) if t and t in created_ids]

    def write(a: Any) -> None:
        pleo.put_dimension_value(a.tag_id, a.dimension_id, a.value, exists=a.exists, location_id=location_id)

    def written(a: Any, _result: Any) -> None:
        log_changes([change(*run, location_id, "dimension_value", "update" if a.exists else "create", code=a.code,
                            pleo_id=f"{a.tag_id}/{a.dimension_id}", dry_run=pleo.dry_run,
                            before=None if a.before is None else {"dimension": a.dimension, "value": a.before},
                            after={"dimension": a.dimension, "value": a.value})])
        counts["values_written"] += 1
        if counts["values_written"] % PROGRESS_EVERY == 0:
            log.info("Location %s: %d dimension values written", location_id, counts["values_written"])

    for is_fresh, rows in ((False, existing), (True, fresh)):
        for start in range(0, len(rows), AGGREGATION_BATCH):
            chunk = live.iloc[rows[start:start + AGGREGATION_BATCH]]
            current: dict[tuple[str, str], str] = {}
            if not is_fresh:
                batch = [pleo_ids[i] for i in rows[start:start + AGGREGATION_BATCH]]
                for page in pleo.iter_aggregated_tags(batch, company_id=company_id, location_id=location_id):
                    for tag in page:
                        for d in tag.get("dimensions") or []:
                            current[(tag["id"], d["id"])] = d.get("value")
            values = dimension_values(chunk, details_for(list(chunk["tag_id"])), config)
            run_bounded(write, plan_dimension_values(values, tag_ids, dim_ids, current), pleo.concurrency, written)
    if counts["values_written"] or counts["dimensions_created"]:
        log.info("Location %s: dimensions created %d, dimension values written %d", location_id,
                 counts["dimensions_created"], counts["values_written"])
    return counts


def sync_location_tags(location: dict, *, ghl: GhlHook, pleo: PleoHook, warehouse: Warehouse,
                       config: MappingConfig, dag_id: str, run_id: str, try_number: int = 1,
                       release_archive_guard: bool = False, full_refresh: bool = False,
                       now: datetime | None = None) -> dict:
    """Extract, stage, check, transform and load one location's tags. Returns its counts (also in the ledger).

    Gates, in order: schema drift of the raw payloads (a mapped field gone or
    retyped stops the location), row rules (bad rows are quarantined in
    ``rejected_records``), the rejected share, the GX suite on the records to
    load, and the volume guard (a count that fell too far holds every archive).
    Safe to re-run at any point: the load re-reads Pleo first and writes only
    differences, keyed by code. With a dry-run ``pleo`` hook everything runs but
    no write reaches Pleo: the counts and the change log hold the plan.
    ``full_refresh`` re-reads every tag's details (not only new or changed ones).
    """
    location_id, group_id = location["location_id"], location["group_id"]
    check_location_id(location_id)
    memory.reset_peak()
    start_rss = memory.rss_mb()
    warehouse.start_location_run(dag_id, run_id, location_id, try_number, dry_run=pleo.dry_run)
    run = (dag_id, run_id, try_number)
    # Every row read ends in exactly one of these buckets (a held run reports them too).
    counts: dict[str, Any] = {b: 0 for b in ROW_BUCKETS}
    try:
        counts["read"] = _extract(ghl, warehouse, location_id, run_id)
        drift = _check_schema(warehouse, dag_id, run_id, location_id)
        prepared = prepare_tags(warehouse.iter_staged(location_id), config, now=now)
        warehouse.save_rejected(dag_id, run_id, location_id, "tag", prepared.rejected)
        for r in prepared.rejected.itertuples(index=False):
            log.warning("Location %s: rejected tag %s (%s): %s", location_id, r.record_key, r.rule, r.reason)
        counts.update(rejected=len(prepared.rejected), duplicates=prepared.duplicates,
                      schema_drift=drift.describe() if drift.changed else None)
        share = len(prepared.rejected) / prepared.read if prepared.read else 0.0
        if share > config.max_rejected_share:
            rules = Counter(prepared.rejected["rule"])
            counts["held"] = len(prepared.tags)
            raise DataValidationError(
                f"Location {location_id}: {len(prepared.rejected)} of {prepared.read} tag rows rejected "
                f"({share:.0%} > {config.max_rejected_share:.0%}: {dict(rules)}); the load was held, nothing was "
                f"written. See rejected_records for run {run_id}; fix the source or the mapping file.")
        gate = run_suite("ghl_tags", prepared.tags, tags_expectations(config.max_name_length),
                         run_name=f"{dag_id}-{run_id}-{location_id}")
        counts["data_docs"] = gate.docs
        if not gate.success:
            counts["held"] = len(prepared.tags)
        require(gate, f"Location {location_id}")
        active = int((~prepared.tags["archived"]).sum()) if len(prepared.tags) else 0
        guard = _volume_guard(warehouse, dag_id, run_id, location_id, prepared.read, active, config)
        hold = bool(guard) and not release_archive_guard
        if guard and release_archive_guard:
            warehouse.add_event(dag_id, run_id, location_id, "archive_guard_released", guard)
            counts["guard_released"] = 1
            log.warning("Location %s: archive guard released for this run (%s)", location_id, guard)
        detail_ids = _refresh_details(ghl, warehouse, location_id, prepared.tags, full=full_refresh)
        summary = tag_summary(prepared.tags, location_id)
        # The load needs only these; dropping the timestamps and fingerprints keeps 100,000 tags lighter.
        tags = prepared.tags[["location_id", "tag_id", "code", "name", "archived"]].copy()
        prepared.tags = None
        held = [str(k) for k in prepared.rejected["record_key"]]
        tag_counts, live_ids, created_ids = _load_tags(pleo, warehouse, location_id, group_id, tags, held, run,
                                                       hold_archives=hold)
        dim_counts = _load_dimensions(pleo, location_id, group_id, tags,
                                      lambda ids: warehouse.details_for(location_id, ids), live_ids, config,
                                      location.get("company_id"), created_ids, warehouse.log_changes, run)
        counts.update({
            "created": tag_counts[CREATE], "renamed": tag_counts[RENAME], "archived": tag_counts[ARCHIVE],
            "unarchived": tag_counts[UNARCHIVE], "gone": tag_counts["gone"],
            "duplicates_archived": tag_counts[ARCHIVE_DUPLICATE], "unchanged": tag_counts["unchanged"],
            "held": tag_counts["held"], "archives_held": tag_counts["archives_held"],
            "pleo_held": tag_counts["pleo_held"], "details_fetched": detail_ids, **dict(dim_counts),
            "active": active, "summary": summary,
            "start_rss_mb": start_rss, "peak_rss_mb": memory.peak_rss_mb(),
        })
        requests = request_stats(ghl=ghl, pleo=pleo)
        if hold:
            raise DriftGuardError(
                f"Location {location_id}: the tag count {guard} since the last good run. Archiving was held: "
                f"{counts['archives_held']} tag(s) that would have been archived in Pleo were left as they are; "
                f"other changes were written. If GHL really lost these tags, release the guard once: trigger "
                f"{dag_id} with conf {{\"release_archive_guard\": [\"{location_id}\"]}}.")
        warehouse.finish_location_run(dag_id, run_id, location_id, "success", counts, requests)
        log.info("Location %s done: read %d, created %d, renamed %d, archived %d (+%d gone), unarchived %d, "
                 "unchanged %d, rejected %d; requests GHL %d, Pleo %d", location_id, counts["read"],
                 counts["created"], counts["renamed"], counts["archived"], counts["gone"], counts["unarchived"],
                 counts["unchanged"], counts["rejected"], requests["ghl"]["total_requests"],
                 requests["pleo"]["total_requests"])
        return {"location_id": location_id, **{k: v for k, v in counts.items() if k != "summary"}}
    except Exception as exc:
        kind = exc.kind if isinstance(exc, GhlPleoError) else "internal"
        warehouse.finish_location_run(dag_id, run_id, location_id, "failed", counts, request_stats(ghl=ghl, pleo=pleo),
                                      error_kind=kind, error=str(exc)[:2000])
        raise


def _check_schema(warehouse: Warehouse, dag_id: str, run_id: str, location_id: str):
    endpoint = "GET /social-media-posting/{locationId}/tags"
    observed, n = observed_fields(payload for *_, payload in warehouse.iter_staged(location_id))
    drift = schema_drift(endpoint, observed, n, warehouse.schema_fields(endpoint, location_id), TAG_MAPPED_FIELDS)
    if drift.changed:
        warehouse.add_event(dag_id, run_id, location_id, "schema_drift", drift.describe()
                            + (f"; FATAL: {'; '.join(drift.fatal)}" if drift.fatal else ""))
        log.warning("Location %s: schema drift on %s: %s", location_id, endpoint, drift.describe())
    if drift.fatal:
        raise SchemaDriftError(
            f"Location {location_id}: GHL {endpoint} changed shape: {'; '.join(drift.fatal)}"
            + (f" ({drift.describe()})" if drift.new or drift.missing or drift.retyped else "")
            + ". Nothing was loaded; the mapping needs updating before this location can sync.")
    if n:
        warehouse.save_schema_fields(endpoint, location_id, observed)
    return drift


def _volume_guard(warehouse: Warehouse, dag_id: str, run_id: str, location_id: str, read: int, active: int,
                  config: MappingConfig) -> str | None:
    last = warehouse.last_success_counts(dag_id, location_id, run_id)
    if not last:
        return None
    reason = volume_drop(last.get("read"), read, config.volume_drop_threshold)
    if reason:
        return f"(rows read) {reason}"
    reason = volume_drop(last.get("active"), active, config.volume_drop_threshold)
    return f"(live tags) {reason}" if reason else None


def request_stats(**hooks: Any) -> dict:
    """Requests each hook made (by endpoint, retries, last status), for the ledger: ``request_stats(ghl=..., pleo=...)``."""
    out = {}
    for name, hook in hooks.items():
        client = hook.__dict__.get("client")  # only if the hook was used
        out[name] = client.stats.as_dict() if client else {"requests": {}, "total_requests": 0, "retries": 0}
    return out
