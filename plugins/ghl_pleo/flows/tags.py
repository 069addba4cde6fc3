"""The tags flow for one location: extract, check, details, guard, plan and load.

Each step fetches through a hook, calls pure functions (:mod:`ghl_pleo.transform`, :mod:`ghl_pleo.reconcile`,
:mod:`ghl_pleo.quality`) and writes through the warehouse's stores. Only small dicts (ids and counts) are
returned, for XCom; the data travels through the warehouse.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

import pandas as pd

from ghl_pleo import memory
from ghl_pleo.batch_quality import validate
from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import APIError, DataValidationError, DriftGuardError, IncompleteReadError, SchemaDriftError
from ghl_pleo.flows.archive_gate import ArchiveGate, listing_baseline_rows
from ghl_pleo.flows.tag_load import load_dimensions, load_tags
from ghl_pleo.groups import create_after_read
from ghl_pleo.hooks.ghl import TAGS, GhlHook
from ghl_pleo.locations import raise_if_unknown
from ghl_pleo.quality import (
    TAG_MAPPED_FIELDS,
    check_location_id,
    observed_fields,
    require,
    schema_drift,
    tags_expectations,
)
from ghl_pleo.reconcile import ARCHIVE, ARCHIVE_DUPLICATE, CREATE, RENAME, UNARCHIVE
from ghl_pleo.run_context import Hooks, LocationRun
from ghl_pleo.tag_index import CodeIndex
from ghl_pleo.transform import PreparedTags, prepare_tags, tag_summary

log = logging.getLogger(__name__)
# Every row read ends in exactly one of these buckets (a held run reports them too).
ROW_BUCKETS = ("read", "created", "renamed", "archived", "unarchived", "unchanged", "rejected", "held", "duplicates")
TAGS_ENDPOINT = f"GET {TAGS}"


def sync_location_tags(
    run: LocationRun,
    hooks: Hooks,
    config: MappingConfig,
    location: dict,
    *,
    release_archive_guard: bool = False,
    released_by: str | None = None,
    full_refresh: bool = False,
    now: datetime | None = None,
) -> dict:
    """Extract, stage, check, transform and load one location's tags. Returns its counts (also in the ledger).

    Gates, in order: schema drift of the raw payloads (a mapped field gone or
    retyped stops the location), row rules (bad rows are quarantined in
    ``rejected_records``), the rejected share, the GX suite on the records to
    load, and the volume guard (a count that fell too far holds every archive).
    Safe to re-run at any point: the load re-reads Pleo first and writes only
    differences, keyed by code. With a dry-run Pleo hook everything runs but
    no write reaches Pleo: the counts and the change log hold the plan.
    ``full_refresh`` re-reads every tag's details (not only new or changed ones).
    Call it inside ``with run:`` (the run context closes the ledger row).
    """
    location_id = run.location_id
    check_location_id(location_id)
    alone = _measure_alone(run)
    counts = run.counts
    counts.update(dict.fromkeys(ROW_BUCKETS, 0), start_rss_mb=memory.rss_mb())
    try:
        incomplete = extract(run, hooks.ghl, listing_baseline_rows(run, config, release_archive_guard, now))
    except APIError as exc:  # a typo'd location id fails here, as configuration, before any Pleo request
        raise_if_unknown(run, hooks.ghl, location, exc)
        raise
    prepared = check(run, config, now)
    active = int((~prepared.tags["archived"]).sum()) if len(prepared.tags) else 0
    gate = ArchiveGate(run, config, incomplete, prepared.read, active, release_archive_guard, released_by, now)
    counts["details_fetched"] = refresh_details(run, hooks.ghl, prepared.tags, full=full_refresh)
    summary = tag_summary(prepared.tags, location_id)
    tags = _load_columns(prepared)
    held = [str(k) for k in prepared.rejected["record_key"]]
    # GHL has answered for the location: now (never from the location list alone) its group may be created.
    group_id = location.get("group_id") or create_after_read(run, hooks.pleo, config, location)
    tag_counts, live_ids = load_tags(run, hooks.pleo, group_id, tags, held, hold=gate)
    dim_counts = load_dimensions(
        run,
        hooks.pleo,
        group_id,
        tags,
        lambda ids: run.warehouse.staging.details_for(location_id, ids),
        live_ids,
        config,
        location.get("company_id"),
    )
    _count_writes(counts, tag_counts, dim_counts, alone, active=active, summary=summary)
    _raise_if_held(run, incomplete, gate.reason)
    _log_done(run)
    return {"location_id": location_id, **{k: v for k, v in counts.items() if k != "summary"}}


def _load_columns(prepared: PreparedTags) -> pd.DataFrame:
    """The columns the load needs; dropping the timestamps and fingerprints keeps 100,000 tags lighter."""
    tags = prepared.tags[["location_id", "tag_id", "code", "name", "archived"]].copy()
    prepared.tags = None
    if len(tags) >= memory.COLLECT_ROWS:
        memory.trim()  # the dropped columns' arrays: their pages go back before Pleo's listing is read
    return tags


def _measure_alone(run: LocationRun) -> bool:
    """Whether the location syncs alone: then its peak memory is measured from here (in a batch task the process's
    peak is the batch's, logged by the batch)."""
    alone = run.run.validator is None
    if alone:
        memory.reset_peak()
    return alone


def _raise_if_held(run: LocationRun, incomplete: str | None, guard: str | None) -> None:
    """Fail the location when its archives were held: an incomplete read first (a retry may read it all)."""
    location_id, held = run.location_id, run.counts["archives_held"]
    if incomplete:
        run.event("incomplete_read", incomplete)
        raise IncompleteReadError(
            f"Location {location_id}: {incomplete}. Archiving was held ({held} tag(s) not read were left as they "
            f"are in Pleo); other changes were written. Airflow retries the location; see the runbook if it "
            f"keeps happening."
        )
    if guard:
        raise DriftGuardError(
            f"Location {location_id}: {guard}. Archiving was held: "
            f"{held} tag(s) that would have been archived in Pleo were left as they are; "
            f"other changes were written. If GHL really lost these tags, release the guard once: trigger "
            f'{run.run.dag_id} with conf {{"release_archive_guard": ["{location_id}"]}}.'
        )


def extract(run: LocationRun, ghl: GhlHook, last_good_rows: int | None = None) -> str | None:
    """Stream the location's GHL tag pages into the staging table (``read`` in the counts).

    ``last_good_rows`` bounds the pages the listing may take (see :meth:`GhlHook.iter_tag_pages`); a listing
    that does not end within them fails the location before anything is loaded, and its staged pages go.
    Returns why the read is incomplete (fewer distinct tags than GHL's ``count``, or no short last page
    without one), or None when it saw the whole listing.
    """
    staging, location_id, run_id = run.warehouse.staging, run.location_id, run.run.run_id
    staging.clear_staged(location_id, run_id)  # a retry of this run starts over; other runs' pages are theirs
    total, paginator = 0, None
    try:
        for page_no, tags, paginator in ghl.iter_tag_pages(location_id, last_good_rows=last_good_rows):
            staging.stage_page(location_id, run_id, page_no, tags)
            total += len(tags)
            log.info(
                "Location %s: GHL tags page %d: %d tags (%d read, count %s)",
                location_id,
                page_no,
                len(tags),
                total,
                paginator.count,
            )
    except Exception:  # an endless or broken listing: nothing of it is loaded
        staging.clear_staged(location_id, run_id)
        raise
    log.info(
        "Location %s: GHL tags read done after %d page(s): %s", location_id, paginator.pages, paginator.stop_reason
    )
    run.counts["read"] = total
    if paginator.complete:
        return None
    expected = f"GHL's count said {paginator.count}" if paginator.count is not None else "GHL gave no count"
    return (
        f"the GHL tag listing ended early ({paginator.stop_reason} after {paginator.pages} page(s)): "
        f"expected {paginator.count if paginator.count is not None else 'a short last page'}, "
        f"saw {len(paginator.seen)} distinct tags in {total} rows ({expected})"
    )


def check(run: LocationRun, config: MappingConfig, now: datetime | None) -> PreparedTags:
    """Schema drift, row rules (rejected rows quarantined), the rejected share and the GX suite."""
    location_id, counts, staging = run.location_id, run.counts, run.warehouse.staging
    try:
        drift = check_schema(run)
        repeated = staging.repeated_ids(location_id, run.run.run_id)
        prepared = prepare_tags(staging.iter_staged(location_id, run.run.run_id), config, now=now, repeated=repeated)
    finally:  # the pages are read (or unreadable): this run's copy goes; a killed try's goes by age
        staging.clear_staged(location_id, run.run.run_id)
    run.warehouse.ledger.save_rejected(run.run.dag_id, run.run.run_id, location_id, "tag", prepared.rejected)
    for r in prepared.rejected.itertuples(index=False):
        log.warning("Location %s: rejected tag %s (%s): %s", location_id, r.record_key, r.rule, r.reason)
    if prepared.duplicates:
        run.event("duplicate_rows", f"GHL's tag listing sent {prepared.duplicates} row(s) for ids already read")
        log.warning(
            "Location %s: %d repeated tag id(s) in GHL's listing; one copy kept", location_id, prepared.duplicates
        )
    counts.update(
        rejected=len(prepared.rejected),
        duplicates=prepared.duplicates,
        schema_drift=drift.describe() if drift.changed else None,
    )
    share = len(prepared.rejected) / prepared.read if prepared.read else 0.0
    if share > config.max_rejected_share:
        rules = Counter(prepared.rejected["rule"])
        counts["held"] = len(prepared.tags)
        raise DataValidationError(
            f"Location {location_id}: {len(prepared.rejected)} of {prepared.read} tag rows rejected "
            f"({share:.0%} > {config.max_rejected_share:.0%}: {dict(rules)}); the load was held, nothing was "
            f"written. See rejected_records for run {run.run.run_id}; fix the source or the mapping file."
        )
    gate = validate(run, "ghl_tags", prepared.tags, lambda _keys: tags_expectations(config.max_name_length))
    counts["data_docs"] = gate.docs
    if not gate.success:
        counts["held"] = len(prepared.tags)
    require(gate, f"Location {location_id}")
    return prepared


def check_schema(run: LocationRun):
    """Compare the staged payloads' fields and types with the last run's; a mapped field gone stops the load."""
    location_id, state = run.location_id, run.warehouse.state
    staged = run.warehouse.staging.iter_staged(location_id, run.run.run_id)
    observed, n = observed_fields(payload for *_, payload in staged)
    drift = schema_drift(TAGS_ENDPOINT, observed, n, state.schema_fields(TAGS_ENDPOINT, location_id), TAG_MAPPED_FIELDS)
    if drift.changed:
        run.event("schema_drift", drift.describe() + (f"; FATAL: {'; '.join(drift.fatal)}" if drift.fatal else ""))
        log.warning("Location %s: schema drift on %s: %s", location_id, TAGS_ENDPOINT, drift.describe())
    if drift.fatal:
        raise SchemaDriftError(
            f"Location {location_id}: GHL {TAGS_ENDPOINT} changed shape: {'; '.join(drift.fatal)}"
            + (f" ({drift.describe()})" if drift.new or drift.missing or drift.retyped else "")
            + ". Nothing was loaded; the mapping needs updating before this location can sync."
        )
    if n:
        state.save_schema_fields(TAGS_ENDPOINT, location_id, observed)
    return drift


def refresh_details(run: LocationRun, ghl: GhlHook, tags: pd.DataFrame, full: bool = False) -> int:
    """Fetch tag details for tags that are new or changed since they were last fetched (``full``: for every tag).
    Returns the ids asked for."""
    staging, location_id = run.warehouse.staging, run.location_id
    ids, fingerprints = tags["tag_id"].to_numpy(), tags["fingerprint"].to_numpy()
    index = CodeIndex(ids, fold=str)  # tag id -> row: no 100,000-entry dict of ids and fingerprints
    wanted = bytearray(b"\x01") * len(ids) if full else staging.details_to_fetch(location_id, index, fingerprints)
    todo = [tag_id for tag_id, flag in zip(ids, wanted, strict=True) if flag]
    if not todo:
        return 0
    returned = repeats = 0
    for batch in ghl.iter_tag_details(location_id, todo):  # saved batch by batch: memory stays flat
        rows = index.find_many([d.get("_id") for d in batch])
        repeats += staging.save_details(location_id, batch, {ids[r]: fingerprints[r] for r in rows if r >= 0})
        returned += len(batch)
    if repeats:
        run.counts["detail_repeats"] = repeats
        run.event("duplicate_details", f"GHL sent {repeats} tag(s) twice in tag-details answers; one copy kept")
        log.warning("Location %s: %d repeated tag(s) in tag-details answers; one copy kept", location_id, repeats)
    log.info("Location %s: tag details for %d new or changed tags (%d returned)", location_id, len(todo), returned)
    return len(todo)


def _count_writes(counts: dict[str, Any], tag_counts: Counter, dim_counts: Counter, alone: bool, **extra: Any) -> None:
    """The write counts; the peak memory only for a location synced alone (in a batch task it is the batch's)."""
    if alone:
        counts["peak_rss_mb"] = memory.peak_rss_mb()
    named = {"created": CREATE, "renamed": RENAME, "archived": ARCHIVE, "unarchived": UNARCHIVE}
    named["duplicates_archived"] = ARCHIVE_DUPLICATE
    same = ("gone", "unchanged", "held", "archives_held", "pleo_held", "confirmed_on_reread")
    counts.update({k: tag_counts[v] for k, v in named.items()}, **{k: tag_counts[k] for k in same})
    counts.update(**dict(dim_counts), **extra)


def _log_done(run: LocationRun) -> None:
    c, requests = run.counts, run.requests()
    log.info(
        "Location %s done: read %d, created %d, renamed %d, archived %d (+%d gone), unarchived %d, "
        "unchanged %d, rejected %d; requests GHL %d, Pleo %d",
        run.location_id,
        c["read"],
        c["created"],
        c["renamed"],
        c["archived"],
        c["gone"],
        c["unarchived"],
        c["unchanged"],
        c["rejected"],
        requests["ghl"]["total_requests"],
        requests["pleo"]["total_requests"],
    )
