"""The load step of the tags flow: plan against what Pleo holds, write the differences, then dimension values.

Every write Pleo confirmed is recorded at once (sync state and change-log row in one transaction), so a
killed task loses nothing it wrote; a rerun re-reads Pleo first and writes only what still differs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import closing, nullcontext
from itertools import repeat
from typing import Any

import pandas as pd

from ghl_pleo.concurrency import prefetched, run_bounded
from ghl_pleo.config import DIMENSIONS, MappingConfig
from ghl_pleo.flows.pleo_tags import confirm_lost_creates, read_listing, tag_state
from ghl_pleo.hooks.pleo import AGGREGATION_BATCH, PleoHook
from ghl_pleo.reconcile import (
    ARCHIVE,
    ARCHIVE_DUPLICATE,
    CREATE,
    RENAME,
    UNARCHIVE,
    Desired,
    code_key,
    plan_dimension_values,
    plan_tags,
)
from ghl_pleo.run_context import LocationRun
from ghl_pleo.tag_index import LiveIds
from ghl_pleo.transform import tag_dimension_values

log = logging.getLogger(__name__)
PROGRESS_EVERY = 1000  # a progress line every this many Pleo writes in one location
WRITE_KINDS = (CREATE, RENAME, ARCHIVE, UNARCHIVE, ARCHIVE_DUPLICATE, "gone")


def load_tags(
    run: LocationRun,
    pleo: PleoHook,
    group_id: str,
    tags: pd.DataFrame,
    held_codes: list[str],
    *,
    hold: Callable[[int, int], str | None] | None = None,
) -> tuple[Counter, LiveIds]:
    """Apply the plan. ``hold(pleo_live, archives)`` sees how many live tags the Pleo group holds and how many
    tags the plan would archive (duplicate clean-ups not included); when it gives a reason (an incomplete read,
    the archive guard) no tag is archived and the rest is written.

    Returns the counts and ``code key -> Pleo id`` of every live tag (for the dimension step; it marks the tags
    this run created).
    """
    location_id = run.location_id
    desired = Desired(tags)  # before Pleo is read: its tags share the desired codes and names
    current = read_listing(run, pleo, group_id, desired)
    confirmed = confirm_lost_creates(run, current)
    log.info("Location %s: Pleo group %s holds %d tags (%d live)", location_id, group_id, len(current), current.live)
    plan = plan_tags(desired, current, held_codes)
    pleo_live = current.live
    del desired, current  # the live keepers' ids stay in plan.live
    hold_archives = bool(hold and hold(pleo_live, plan.count(ARCHIVE)))
    counts = Counter(dict.fromkeys(WRITE_KINDS, 0))
    counts.update(held=0, archives_held=0, unchanged=plan.unchanged, pleo_held=plan.held)
    counts["confirmed_on_reread"] = confirmed
    live_ids = plan.live  # code key -> Pleo id of its live tag, for the dimension step (a pointer per tag)
    changes, gone = (_writes_to_make(part, hold_archives, counts) for part in plan.parts())
    total = len(changes) + len(plan.creates) + len(gone)

    def write(action: Any) -> dict:
        if action.kind == CREATE:
            return pleo.create_tag(group_id, action.code, action.name or action.code, location_id=location_id)
        return pleo.update_tag(
            action.pleo_id, code=action.code, name=action.name, archived=action.archived, location_id=location_id
        )

    def written(action: Any, result: dict) -> None:
        key = code_key(str(action.code or ""))  # a Pleo tag without a code (archived as gone) too
        if action.kind == CREATE:  # all the dimension step needs of a written tag
            live_ids.created(key, result["id"])
        elif action.kind != ARCHIVE_DUPLICATE:
            if result.get("archived"):
                live_ids.pop(key, None)
            else:
                live_ids[key] = result["id"]
        _record_tag_write(run, action, result)
        counts["gone" if action.kind == ARCHIVE and not action.source_row else action.kind] += 1
        done = sum(counts[k] for k in WRITE_KINDS)
        if done % PROGRESS_EVERY == 0:
            log.info("Location %s: %d of %d tag writes done", location_id, done, total)

    _note_creates(run, plan.create_actions())
    # the creates made one by one as the writes go: 100,000 create actions are never all held
    run_bounded(write, plan.in_order(changes, gone), pleo.concurrency, written)
    if total:
        log.info("Location %s: tag writes %s", location_id, {k: v for k, v in counts.items() if v})
    return counts, live_ids


def _writes_to_make(actions: list, hold_archives: bool, counts: Counter) -> list:
    """The plan's writes, less its archives when they are held (counted in ``archives_held`` and ``held``)."""
    todo = []
    for action in actions:
        if hold_archives and action.archived and action.kind in (ARCHIVE, ARCHIVE_DUPLICATE):
            counts["archives_held"] += 1
            counts["held"] += int(action.source_row)
        else:
            todo.append(action)
    return todo


def _note_creates(run: LocationRun, creates: Iterable[Any]) -> None:
    """Note the creates about to be sent: one whose answer is lost is found, and logged, by the next read."""
    if not run.run.dry_run:
        creates = ((code_key(a.code), a.name) for a in creates)  # streamed: no list per create
        run.warehouse.pending.note(run.location_id, "tag", creates, run.run)


def _record_tag_write(run: LocationRun, action: Any, result: dict) -> None:
    """What Pleo confirmed of one tag write, with its change-log row, in one transaction."""
    code = result.get("code", action.code)
    row = run.change_row(
        "tag", action.kind, code=code, pleo_id=result["id"], before=tag_state(action.before), after=tag_state(result)
    )
    run.warehouse.state.record_push(
        run.location_id,
        code,
        result["id"],
        result.get("name"),
        bool(result.get("archived")),
        action.kind,
        run.run.run_id,
        change=row,
    )


def load_dimensions(
    run: LocationRun,
    pleo: PleoHook,
    group_id: str,
    tags: pd.DataFrame,
    details_for: Callable[[list[str]], pd.DataFrame],
    tag_ids: LiveIds | dict[str, str],
    config: MappingConfig,
    company_id: str | None,
    created_ids: set[str] | None = None,
) -> Counter:
    """Create missing dimensions; write each dimension value that differs from what Pleo holds.

    Works through the live tags 100 at a time (one aggregation read, their
    details from the warehouse, their writes), so memory stays flat however
    many tags a location has. Tags this run created (marked in ``tag_ids``, or ``created_ids``
    with a plain dict) hold no values yet and are not read back. Each write gets a change-log row.
    """
    counts = Counter(dimensions_created=0, values_written=0)
    if not config.active_dimensions:
        return counts
    dim_ids = _ensure_dimensions(run, pleo, group_id, config, counts)
    existing, fresh = _live_rows(tags, tag_ids, created_ids)

    def write(a: Any) -> None:
        pleo.put_dimension_value(a.tag_id, a.dimension_id, a.value, exists=a.exists, location_id=run.location_id)

    def written(a: Any, _result: Any) -> None:
        run.change(
            "dimension_value",
            "update" if a.exists else "create",
            code=a.code,
            pleo_id=f"{a.tag_id}/{a.dimension_id}",
            before=None if a.before is None else {"dimension": a.dimension, "value": a.before},
            after={"dimension": a.dimension, "value": a.value},
        )
        counts["values_written"] += 1
        if counts["values_written"] % PROGRESS_EVERY == 0:
            log.info("Location %s: %d dimension values written", run.location_id, counts["values_written"])

    def read(batch: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
        return _current_values(pleo, [pleo_id for *_, pleo_id in batch], company_id, run.location_id)

    for is_fresh, rows in ((False, existing), (True, fresh)):
        batches = [rows[start : start + AGGREGATION_BATCH] for start in range(0, len(rows), AGGREGATION_BATCH)]
        # Pleo's values of the next batches are read while this one is planned and written
        currents = repeat({}) if is_fresh else prefetched(read, batches)
        with closing(currents) if not is_fresh else nullcontext():  # a failed write ends the read-ahead at once
            for batch, current in zip(batches, currents, strict=False):
                details = details_for([tag_id for _, tag_id, _ in batch])
                payloads = dict(zip(details["tag_id"], details["payload"], strict=True)) if len(details) else {}
                values = (
                    (code, dim, value)
                    for code, tag_id, _ in batch
                    for dim, value in tag_dimension_values(payloads.get(tag_id), config)
                )
                ids = {code_key(code): pleo_id for code, _, pleo_id in batch}  # this batch's, from tag_ids
                run_bounded(write, plan_dimension_values(values, ids, dim_ids, current), pleo.concurrency, written)
    _log_dimensions(run.location_id, counts)
    return counts


def _log_dimensions(location_id: str, counts: Counter) -> None:
    if counts["values_written"] or counts["dimensions_created"]:
        log.info(
            "Location %s: dimensions created %d, dimension values written %d",
            location_id,
            counts["dimensions_created"],
            counts["values_written"],
        )


def _live_rows(
    tags: pd.DataFrame, tag_ids: LiveIds | dict[str, str], created_ids: set[str] | None
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The live tags Pleo holds, as ``(code, GHL tag id, Pleo id)``: those Pleo had before this run, and those
    this run created (they hold no values yet). One pass; the Pleo ids row by row from the plan's ``LiveIds``."""
    existing: list[tuple[str, str, str]] = []
    fresh: list[tuple[str, str, str]] = []
    if not len(tags):
        return existing, fresh
    codes = tags["code"]
    if isinstance(tag_ids, LiveIds):
        pleo_ids = tag_ids.for_rows()
    else:
        pleo_ids = [(p, p in (created_ids or ())) for p in (tag_ids.get(code_key(c)) for c in codes)]
    for code, tag_id, archived, (pleo_id, new) in zip(codes, tags["tag_id"], tags["archived"], pleo_ids, strict=True):
        if pleo_id and not archived:
            (fresh if new else existing).append((code, tag_id, pleo_id))
    return existing, fresh


def _ensure_dimensions(
    run: LocationRun, pleo: PleoHook, group_id: str, config: MappingConfig, counts: Counter
) -> dict[str, str]:
    """``dimension code -> id`` for every active dimension, creating the missing ones."""
    dims = {d["code"]: d for d in pleo.list_dimensions(group_id, location_id=run.location_id)}
    for code in config.active_dimensions:
        if code not in dims:
            name, order = DIMENSIONS[code]
            dims[code] = pleo.create_dimension(
                group_id, code=code, name=name, display_order=order, location_id=run.location_id
            )
            run.change(
                "dimension", "create", code=code, pleo_id=dims[code]["id"], after={"name": name, "displayOrder": order}
            )
            counts["dimensions_created"] += 1
    return {c: d["id"] for c, d in dims.items()}


def _current_values(
    pleo: PleoHook, tag_ids: list[str], company_id: str | None, location_id: str
) -> dict[tuple[str, str], str]:
    """``(tag id, dimension id) -> value`` Pleo holds for these tags (one aggregation read)."""
    current: dict[tuple[str, str], str] = {}
    for page in pleo.iter_aggregated_tags(tag_ids, company_id=company_id, location_id=location_id):
        for tag in page:
            for d in tag.get("dimensions") or []:
                current[(tag["id"], d["id"])] = d.get("value")
    return current
