"""Plan Pleo writes from the desired records and Pleo's current state. Pure: no I/O.

Pleo does not enforce unique codes, so the plan follows Pleo's guidance for tag
syncs: list everything (archived too), match codes case-insensitively, create
what is new, rename what changed, unarchive what came back, archive what is
gone; where several tags share a code keep an active one (the one whose name
matches, else the oldest) and archive the other active copies; never delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

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
    actions: list[TagAction] = field(default_factory=list)
    unchanged: int = 0  # desired tags Pleo already matches (or deleted ones Pleo never had)
    held: int = 0  # Pleo tags left alone because their source row was rejected
    keepers: dict[str, dict] = field(default_factory=dict)  # code key -> the Pleo tag that represents it (not held)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.actions if a.kind == kind)


def code_key(code: str) -> str:
    """Codes match case-insensitively. An already-folded code is its own key (one string, not two, per tag)."""
    folded = code.casefold()
    return code if folded == code else folded


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
    """A ``createdAt`` as a sort key, oldest first: none at all first, then ISO-8601 date-times in time order (a
    number: Pleo's listing keeps it so, 24 bytes a tag instead of the text's 73), then any other text."""
    if value is None or value == "":
        return (0, 0.0, "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    stamp = created_stamp(value)
    return (1, stamp, "") if stamp is not None else (2, 0.0, str(value))


def created_stamp(value) -> float | None:
    """An ISO-8601 ``createdAt`` (no zone: UTC) as POSIX seconds, or None when it is not one."""
    ts = utc_datetime(value)
    return None if ts is None else ts.timestamp()


class Desired:
    """The desired records' columns (the frame's arrays), with each code's last row: what the plan reads, made once
    per load."""

    def __init__(self, desired: pd.DataFrame) -> None:
        # the frame's own arrays (no list of pointers per column)
        self.codes, self.names = desired["code"].to_numpy(), desired["name"].to_numpy()
        self.flags = desired["archived"].to_numpy()
        self.last = _last_row_per_code(self.codes)

    def share(self, code, name) -> tuple:
        """A Pleo tag's ``(code, name)``, each the desired record's own string object when equal to it: 100,000
        Pleo tags that match their source hold no second copy of their codes and names."""
        i = self.last.get(code_key(code)) if isinstance(code, str) else None
        if i is None:
            return code, name
        mine = self.codes[i]
        return mine if mine == code else code, self.names[i] if self.names[i] == name else name


def plan_tags(desired: pd.DataFrame | Desired, current: Iterable[dict], held_codes: Iterable[str] = ()) -> TagPlan:
    """Decide the writes that make Pleo's tags equal the desired records.

    Args:
        desired: columns ``code``, ``name``, ``archived`` (one row per code), or those as :class:`Desired`.
        current: Pleo's tags in the group, archived included.
        held_codes: codes whose source row was rejected this run; their Pleo
            tags are left exactly as they are (not archived as "gone").
    """
    plan = TagPlan()
    by_code = _index_by_code(current)
    held = {code_key(c) for c in held_codes}
    rows = desired if isinstance(desired, Desired) else Desired(desired)
    _plan_desired(plan, by_code, rows.last, rows.codes, rows.names, rows.flags)
    _plan_gone(plan, by_code, rows.last, held)
    plan.keepers = by_code  # each code now maps to its keeper: the index is the keepers (no second dict per code)
    return plan


def _index_by_code(current: Iterable[dict]) -> dict[str, dict | list[dict]]:
    """Code key -> the Pleo tag, or a list of them when several share the code (rare; a list per code costs memory)."""
    by_code: dict[str, dict | list[dict]] = {}
    for tag in current:
        key = code_key(str(tag.get("code") or ""))
        seen = by_code.get(key)
        if seen is None:
            by_code[key] = tag
        elif isinstance(seen, list):
            seen.append(tag)
        else:
            by_code[key] = [seen, tag]
    return by_code


def _last_row_per_code(codes: list[str]) -> dict[str, int]:
    """Code key -> index of its last desired row: the last row of a code wins, as a dict keyed by code would have it."""
    last: dict[str, int] = {}
    for i, code in enumerate(codes):
        last[code_key(code)] = i
    return last


def _plan_desired(
    plan: TagPlan,
    by_code: dict[str, dict | list[dict]],
    last: dict[str, int],
    codes: list[str],
    names: list,
    flags: list,
) -> None:
    """Create, rename, archive or unarchive each desired code's keeper; archive its active duplicates."""
    for key, i in last.items():
        code, name, archived = codes[i], names[i], bool(flags[i])
        found = by_code.get(key)
        existing = [] if found is None else found if isinstance(found, list) else [found]
        if not existing:
            if archived:
                plan.unchanged += 1  # deleted in GHL and never in Pleo: nothing to do
            else:
                plan.actions.append(TagAction(CREATE, code, name, False))
            continue
        keeper = choose_keeper(existing, name)
        by_code[key] = keeper
        for dup in existing:
            if dup["id"] != keeper["id"] and not dup.get("archived"):
                plan.actions.append(
                    TagAction(ARCHIVE_DUPLICATE, dup["code"], dup.get("name"), True, dup["id"], dup, source_row=False)
                )
        was_archived = bool(keeper.get("archived"))
        if was_archived == archived and keeper.get("name") == name:
            plan.unchanged += 1
            continue
        kind = UNARCHIVE if was_archived and not archived else ARCHIVE if archived and not was_archived else RENAME
        plan.actions.append(TagAction(kind, keeper["code"], name, archived, keeper["id"], keeper))


def _plan_gone(plan: TagPlan, by_code: dict[str, dict | list[dict]], last: dict[str, int], held: set[str]) -> None:
    """Pleo codes with no desired row: leave held ones alone (and out of the index), archive every active copy of
    the rest. Each code of ``by_code`` is left mapped to its keeper."""
    held_here = []
    for key, found in by_code.items():
        if key in last:
            continue
        existing = found if isinstance(found, list) else [found]
        if key in held:
            plan.held += 1
            held_here.append(key)
            continue
        # Gone from the source: archive every active copy, never delete.
        keeper = choose_keeper(existing, None)
        by_code[key] = keeper  # a new value for a key already there: the iteration goes on unharmed
        for tag in {t["id"]: t for t in existing}.values():
            if not tag.get("archived"):
                kind = ARCHIVE if tag["id"] == keeper["id"] else ARCHIVE_DUPLICATE
                plan.actions.append(
                    TagAction(kind, tag["code"], tag.get("name"), True, tag["id"], tag, source_row=False)
                )
    for key in held_here:
        del by_code[key]


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
