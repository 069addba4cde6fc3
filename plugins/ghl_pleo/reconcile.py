"""Plan Pleo writes from the desired records and Pleo's current state. Pure: no I/O.

Pleo does not enforce unique codes, so the plan follows Pleo's guidance for tag
syncs: list everything (archived too), match codes case-insensitively, create
what is new, rename what changed, unarchive what came back, archive what is
gone; where several tags share a code keep an active one (the one whose name
matches, else the oldest) and archive the other active copies; never delete.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain

import pandas as pd

from ghl_pleo.tag_index import NONE, CodeIndex, LiveIds, PleoListing, code_key
from ghl_pleo.tag_rules import utc_datetime

CREATE, RENAME, ARCHIVE, UNARCHIVE, ARCHIVE_DUPLICATE = "create", "rename", "archive", "unarchive", "archive_duplicate"


@dataclass(frozen=True, slots=True)
class TagAction:
    """One Pleo tag write. ``pleo_id`` is None for a create."""

    kind: str
    code: str
    name: str | None
    archived: bool
    pleo_id: str | None = None
    before: dict | None = None
    source_row: bool = True  # False: a tag gone from the source, or a duplicate copy (not a row read)


@dataclass
class TagPlan:
    changes: list[TagAction] = field(default_factory=list)  # every write but the creates
    creates: array = field(default_factory=lambda: array("q"))  # desired rows to create: 8 bytes each, no object
    rows: Desired | None = None  # what the creates are made from
    unchanged: int = 0  # desired tags Pleo already matches (or deleted ones Pleo never had)
    held: int = 0  # Pleo tags left alone because their source row was rejected
    live: LiveIds | None = None  # code key -> the Pleo id of its live keeper (held codes left out)
    gone_from: int = 0  # changes from here archive tags gone from the source (sent after the creates)

    @property
    def actions(self) -> list[TagAction]:
        """Every write in the order it is sent (made here: for a small plan, or a test)."""
        return list(self.in_order(*self.parts()))

    def parts(self) -> tuple[list[TagAction], list[TagAction]]:
        """The changes to the desired records' tags, and the archives of tags gone from the source."""
        return self.changes[: self.gone_from], self.changes[self.gone_from :]

    def in_order(self, changes: Iterable[TagAction], gone: Iterable[TagAction]) -> Iterator[TagAction]:
        """The order writes are sent in: the desired records' changes, their creates, then the archives of tags gone
        from the source. A write Pleo keeps refusing stops only those queued after it, so the clean-up comes last."""
        return chain(changes, self.create_actions(), gone)

    def create_actions(self) -> Iterator[TagAction]:
        """The creates, one action at a time (100,000 of them are never all held)."""
        codes, names = self.rows.codes, self.rows.names
        return (TagAction(CREATE, codes[r], names[r], False) for r in self.creates)

    def count(self, kind: str) -> int:
        return len(self.creates) if kind == CREATE else sum(1 for a in self.changes if a.kind == kind)


def choose_keeper(candidates: list[dict], desired_name: str | None) -> dict:
    """Among Pleo tags (or groups) sharing a code, the one to keep: an active one when there is one (the oldest
    active whose name matches, else the oldest active), so an old archived copy is never brought back while a
    live one exists; with none active, the oldest whose name matches, else the oldest."""
    ordered = sorted(candidates, key=lambda t: (created_key(t.get("createdAt")), str(t.get("id"))))
    pool = [t for t in ordered if not t.get("archived")] or ordered
    if desired_name is not None:
        for tag in pool:
            if tag.get("name") == desired_name:
                return tag
    return pool[0]


def created_key(value) -> tuple:
    """A ``createdAt`` as a sort key, oldest first: none at all first, then ISO-8601 date-times in time order (or
    a number: Pleo's listing keeps it so, see :func:`~ghl_pleo.tag_index.created_number`), then any other text."""
    if value is None or value == "" or value == -math.inf:
        return (0, 0.0, "")
    if value == math.inf:
        return (2, 0.0, "")
    if isinstance(value, int | float):
        try:
            return (1, float(value), "")
        except OverflowError:  # an integer past float's range: unreadable as a time
            return (2, 0.0, str(value))
    stamp = created_stamp(value)
    return (1, stamp, "") if stamp is not None else (2, 0.0, str(value))


def created_stamp(value) -> float | None:
    """An ISO-8601 ``createdAt`` (no zone: UTC) as POSIX seconds, or None when it is not one."""
    ts = utc_datetime(value)
    return None if ts is None else ts.timestamp()


class Desired:
    """The desired records' columns (the frame's arrays) and their :class:`~ghl_pleo.tag_index.CodeIndex`: what the
    plan reads, made once per load."""

    def __init__(self, desired: pd.DataFrame) -> None:
        # the frame's own arrays (no list of pointers per column)
        self.codes, self.names = desired["code"].to_numpy(), desired["name"].to_numpy()
        self.flags = desired["archived"].to_numpy()
        self.index = CodeIndex(self.codes)

    def listing(self) -> PleoListing:
        """An empty Pleo listing matched against these rows (pages are added as they are read)."""
        return PleoListing(self.index, self.names)


def plan_tags(
    desired: pd.DataFrame | Desired, current: Iterable[dict] | PleoListing, held_codes: Iterable[str] = ()
) -> TagPlan:
    """Decide the writes that make Pleo's tags equal the desired records.

    Args:
        desired: columns ``code``, ``name``, ``archived`` (one row per code), or those as :class:`Desired`.
        current: Pleo's tags in the group, archived included (dicts, or a finished :class:`PleoListing` of them).
        held_codes: codes whose source row was rejected this run; their Pleo
            tags are left exactly as they are (not archived as "gone").
    """
    rows = desired if isinstance(desired, Desired) else Desired(desired)
    listing = current if isinstance(current, PleoListing) else PleoListing.of(rows.index, rows.names, current)
    plan = TagPlan(rows=rows, live=LiveIds(rows.index))
    _plan_desired(plan, rows, listing)
    plan.gone_from = len(plan.changes)
    _plan_gone(plan, listing, {code_key(c) for c in held_codes})
    return plan


def _plan_desired(plan: TagPlan, rows: Desired, listing: PleoListing) -> None:
    """Create, rename, archive or unarchive each desired code's keeper; archive its active duplicates."""
    names, flags, last_of = rows.names, rows.flags, rows.index.last_of
    first, live = listing.first, plan.live
    for r in range(len(last_of)):
        if last_of[r] != r:  # an earlier row of a code that comes again: the last row wins
            continue
        name, archived = names[r], bool(flags[r])
        k = first[r]
        if k == NONE:
            if archived:
                plan.unchanged += 1  # deleted in GHL and never in Pleo: nothing to do
            else:
                plan.creates.append(r)
            continue
        if r in listing.more:
            k = _keeper_of_copies(plan, listing, listing.positions(r), name)
        was_archived = bool(listing.archived[k])
        if not was_archived:
            live.keep(r, listing, k)
        if was_archived == archived and listing.names[k] == name:
            plan.unchanged += 1
            continue
        kind = UNARCHIVE if was_archived and not archived else ARCHIVE if archived and not was_archived else RENAME
        plan.changes.append(TagAction(kind, listing.codes[k], name, archived, listing.ids[k], listing.tag(k)))


def _keeper_of_copies(plan: TagPlan, listing: PleoListing, positions: list[int], name: str | None) -> int:
    """Several Pleo tags share a desired code: the keeper's position; the other active copies are archived."""
    copies = {listing.ids[i]: i for i in positions}
    keeper = choose_keeper([listing.tag(i) for i in positions], name)
    for pleo_id, i in copies.items():
        if pleo_id != keeper["id"] and not listing.archived[i]:
            dup = listing.tag(i)
            plan.changes.append(
                TagAction(ARCHIVE_DUPLICATE, dup["code"], dup["name"], True, pleo_id, dup, source_row=False)
            )
    return copies[keeper["id"]]


def _plan_gone(plan: TagPlan, listing: PleoListing, held: set[str]) -> None:
    """Pleo codes with no desired row: leave held ones alone (and out of ``live``), archive every active copy of
    the rest (the keeper stays in ``live`` until its archive is written)."""
    for key, positions in listing.unmatched.items():
        if key in held:
            plan.held += 1
            continue
        # Gone from the source: archive every active copy, never delete.
        tags = [listing.tag(i) for i in positions]
        keeper = choose_keeper(tags, None)
        if not keeper["archived"]:
            plan.live.other[key] = keeper["id"]
        for tag in tags:
            if not tag["archived"]:
                kind = ARCHIVE if tag["id"] == keeper["id"] else ARCHIVE_DUPLICATE
                plan.changes.append(TagAction(kind, tag["code"], tag["name"], True, tag["id"], tag, source_row=False))


@dataclass(frozen=True)
class ValueAction:
    tag_id: str
    dimension_id: str
    dimension: str
    value: str
    exists: bool
    before: str | None = None
    code: str | None = None  # the tag's code (for the change log)


def plan_dimension_values(
    values: pd.DataFrame | Iterable[tuple[str, str, str]],
    tag_ids: dict[str, str],
    dimension_ids: dict[str, str],
    current: dict[tuple[str, str], str],
) -> list[ValueAction]:
    """Writes that make each tag's dimension values equal the desired ones: one dict lookup per value.

    Args:
        values: ``code, dimension, value`` rows (a frame, or tuples in that order).
        tag_ids: code (casefolded) -> Pleo tag id.
        dimension_ids: dimension code -> Pleo dimension id.
        current: (Pleo tag id, dimension id) -> the value Pleo holds.
    """
    if isinstance(values, pd.DataFrame):
        values = zip(values["code"], values["dimension"], values["value"], strict=True)
    actions: list[ValueAction] = []
    for code, dimension, value in values:
        tag_id = tag_ids.get(code_key(code))
        dim_id = dimension_ids.get(dimension)
        if not tag_id or not dim_id:
            continue
        before = current.get((tag_id, dim_id))
        if before != value:
            actions.append(ValueAction(tag_id, dim_id, dimension, value, before is not None, before, code))
    return actions
