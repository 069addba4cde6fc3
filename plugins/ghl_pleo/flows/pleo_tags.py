"""Pleo's side of the tags load: its listing held as columns (:class:`~ghl_pleo.tag_index.PleoListing`), each tag
once (the same id twice is one tag), and creates an earlier try sent whose answer was lost, found and logged."""

from __future__ import annotations

import logging

from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.reconcile import CREATE, Desired, choose_keeper, code_key
from ghl_pleo.run_context import LocationRun
from ghl_pleo.tag_index import PleoListing
from ghl_pleo.warehouse import change

log = logging.getLogger(__name__)


def read_listing(run: LocationRun, pleo: PleoHook, group_id: str, desired: Desired) -> PleoListing:
    """The group's tags, archived included, as a :class:`PleoListing` matched to the desired rows page by page (a
    page's dicts go before the next page is read). The same id listed twice is one tag (a page repeated or
    overlapping), never a duplicate code to clean up: archiving the "copy" would archive the tag we keep. Repeats
    are counted and noted."""
    listing = desired.listing()
    for page in pleo.iter_tags(group_id, location_id=run.location_id):
        listing.add_page(page)
    listing.finish()
    if listing.repeats:
        repeats = listing.repeats
        run.counts["pleo_repeats"] = repeats
        run.event("duplicate_pleo_rows", f"Pleo's tag listing sent {repeats} tag(s) twice (same id); one copy kept")
        log.warning("Location %s: Pleo's tag listing repeated %d tag(s); one copy kept", run.location_id, repeats)
    return listing


def tag_state(tag: dict | None) -> dict | None:
    return None if tag is None else {"name": tag.get("name"), "archived": bool(tag.get("archived"))}


def confirm_lost_creates(run: LocationRun, current: PleoListing) -> int:
    """Creates an earlier try sent whose answer was lost: found in Pleo, each gets its change-log row (in the run
    and try that sent it, marked confirmed on re-read) and its sync state; not found, the create never happened."""
    if run.run.dry_run:  # a dry run writes no sync state
        return 0
    pending = run.warehouse.pending.open_for(run.location_id, "tag")
    if not pending:
        return 0
    keys = {p["code_key"] for p in pending}
    by_key: dict[str, list[dict]] = {}
    for i in current.kept():
        key = code_key(str(current.codes[i] or ""))
        if key in keys:
            by_key.setdefault(key, []).append(current.tag(i))
    confirmed = []
    for p in pending:
        found = by_key.get(p["code_key"])
        if not found:
            run.warehouse.pending.settle(run.location_id, "tag", p["code_key"])
            continue
        tag = choose_keeper(found, p["name"])
        row = change(
            p["dag_id"],
            p["run_id"],
            p["try_number"],
            run.location_id,
            "tag",
            CREATE,
            code=tag["code"],
            pleo_id=tag["id"],
            after=tag_state(tag),
        )
        # its sync state, its change-log row and the pending row's removal, in one transaction
        run.warehouse.state.record_push(
            run.location_id,
            tag["code"],
            tag["id"],
            tag["name"],
            tag["archived"],
            CREATE,
            p["run_id"],
            change={**row, "confirmed_on_reread": 1},
        )
        confirmed.append(tag["code"])
    if confirmed:
        run.event(
            "confirmed_on_reread",
            f"{len(confirmed)} tag create(s) whose answer was lost were found in Pleo "
            f"and logged: {', '.join(confirmed[:20])}",
        )
        log.warning(
            "Location %s: %d lost create answer(s) confirmed by re-reading Pleo", run.location_id, len(confirmed)
        )
    return len(confirmed)
