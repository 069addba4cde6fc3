"""Pleo's side of the tags load: its listing held light (:class:`PleoTag`), each tag once (the same id twice is
one tag), and creates an earlier try sent whose answer was lost, found and logged."""

from __future__ import annotations

import logging

from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.reconcile import CREATE, Desired, choose_keeper, code_key, created_stamp
from ghl_pleo.run_context import LocationRun
from ghl_pleo.warehouse import change

log = logging.getLogger(__name__)


class PleoTag:
    """All the plan needs of a Pleo tag, in a quarter of a dict's memory (read like a dict: ``t["id"]``, ``t.get``)."""

    __slots__ = ("id", "code", "name", "archived", "createdAt")

    def __init__(self, tag: dict) -> None:
        for key in self.__slots__:
            setattr(self, key, tag.get(key))
        stamp = created_stamp(self.createdAt)  # a number: sorts by time, in a third of the text's memory
        if stamp is not None:
            self.createdAt = stamp

    def __getitem__(self, key: str):
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key, default)


def read_listing(pleo: PleoHook, group_id: str, location_id: str, desired: Desired) -> list[PleoTag]:
    """The group's tags, archived included, as :class:`PleoTag` page by page (a page's dicts go before the next page
    is read); a tag's code and name are the desired record's own strings when equal to them (no second copy)."""
    listing = []
    for page in pleo.iter_tags(group_id, location_id=location_id):
        for t in page:
            tag = PleoTag(t)
            tag.code, tag.name = desired.share(tag.code, tag.name)
            listing.append(tag)
    return listing


def tag_state(tag: dict | PleoTag | None) -> dict | None:
    return None if tag is None else {"name": tag.get("name"), "archived": bool(tag.get("archived"))}


def distinct_tags(run: LocationRun, tags: list[PleoTag]) -> list[PleoTag]:
    """Pleo's listing with each tag once: the same id twice (a page repeated or overlapping) is one tag, never a
    duplicate code to clean up (archiving the "copy" would archive the tag we keep). Repeats are counted and noted."""
    by_id = {t.id: t for t in tags}
    repeats = len(tags) - len(by_id)
    if repeats:
        run.counts["pleo_repeats"] = repeats
        run.event("duplicate_pleo_rows", f"Pleo's tag listing sent {repeats} tag(s) twice (same id); one copy kept")
        log.warning("Location %s: Pleo's tag listing repeated %d tag(s); one copy kept", run.location_id, repeats)
        return list(by_id.values())
    return tags


def confirm_lost_creates(run: LocationRun, current: list[PleoTag]) -> int:
    """Creates an earlier try sent whose answer was lost: found in Pleo, each gets its change-log row (in the run
    and try that sent it, marked confirmed on re-read) and its sync state; not found, the create never happened."""
    if run.run.dry_run:  # a dry run writes no sync state
        return 0
    pending = run.warehouse.pending.open_for(run.location_id, "tag")
    if not pending:
        return 0
    by_key: dict[str, list[PleoTag]] = {}
    for tag in current:
        by_key.setdefault(code_key(str(tag.code or "")), []).append(tag)
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
            code=tag.code,
            pleo_id=tag.id,
            after=tag_state(tag),
        )
        # its sync state, its change-log row and the pending row's removal, in one transaction
        run.warehouse.state.record_push(
            run.location_id,
            tag.code,
            tag.id,
            tag.name,
            bool(tag.archived),
            CREATE,
            p["run_id"],
            change={**row, "confirmed_on_reread": 1},
        )
        confirmed.append(tag.code)
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
