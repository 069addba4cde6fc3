"""The tags plan's data held as columns, not as an object or a dict entry per tag. Pure: no I/O.

At 100,000 tags a dict entry, an int object or a small object per tag costs megabytes each, and the load step held
several (a dict per code for the desired rows, one for Pleo's tags, an object per Pleo tag, a dict of ids). Here:

- :class:`CodeIndex`: code key -> the desired row, in three integer arrays (a sorted hash per row), no dict;
- :class:`PleoListing`: Pleo's tags as parallel arrays, each matched to its desired row as its page is read; a
  tag whose code and name equal its desired record's holds pointers to that record's strings;
- :class:`LiveIds`: code key -> the Pleo id of its live tag, one pointer per desired row.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ghl_pleo.pleo_ids import IdColumn
from ghl_pleo.tag_rules import utc_datetime

NONE = -1  # no desired row / no Pleo tag


def code_key(code: str) -> str:
    """Codes match case-insensitively. An already-folded code is its own key (one string, not two, per tag)."""
    folded = code.casefold()
    return code if folded == code else folded


def created_number(value) -> float:
    """A ``createdAt`` as POSIX seconds that sort oldest first: none at all is -inf (oldest), a number or an
    ISO-8601 date-time its time, other text +inf (newest). A float: 8 bytes a tag in an array."""
    if value is None or value == "":
        return -math.inf
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer past float's range
            return math.inf
    ts = utc_datetime(value)
    return math.inf if ts is None else ts.timestamp()


def _equal_runs(ordered: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(start, end)`` (end exclusive) of each run of two or more equal values in a sorted array."""
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    start = prev = None
    for pos in same.tolist():
        if start is None or pos != prev + 1:
            if start is not None:
                yield start, prev + 2
            start = pos
        prev = pos
    if start is not None:
        yield start, prev + 2


class CodeIndex:
    """Code key -> the last desired row with that key (the last row of a code wins), for ``codes`` in row order
    (with ``fold=str``: an exact id -> its row, for the tag ids of the prepared frame).

    Each row's key is hashed once and the hashes sorted: a lookup is a binary search, checked against the row's
    own code (a hash collision never matches a wrong row). 24 bytes a row; no dict entry, key copy or int object.
    """

    def __init__(self, codes, fold: Callable[[str], str] = code_key) -> None:
        self.codes, self._fold = codes, fold  # fold: what makes two codes one key (exact ids: ``str``)
        n = len(codes)
        hashes = np.fromiter((hash(fold(c)) for c in codes), dtype=np.int64, count=n)
        self._order = np.argsort(hashes, kind="stable")  # equal keys keep row order: a run's last is the last row
        self._hashes = hashes[self._order]
        del hashes
        self.last_of = array("q", range(n))  # row -> the last row with its key
        for start, end in _equal_runs(self._hashes):  # repeated keys (or a hash collision): rare
            by_key: dict[str, list[int]] = {}
            for r in self._order[start:end].tolist():
                by_key.setdefault(fold(codes[r]), []).append(r)
            for rows in by_key.values():
                for r in rows:
                    self.last_of[r] = max(rows)

    def __len__(self) -> int:
        return len(self.last_of)

    def find(self, code) -> int:
        """The last desired row whose code has ``code``'s key, or ``NONE``."""
        if not isinstance(code, str):
            return NONE
        key = self._fold(code)
        h = hash(key)
        lo, hi = int(np.searchsorted(self._hashes, h, "left")), int(np.searchsorted(self._hashes, h, "right"))
        for pos in range(hi - 1, lo - 1, -1):
            r = int(self._order[pos])
            if self._fold(self.codes[r]) == key:
                return self.last_of[r]
        return NONE

    def find_many(self, codes: list) -> list[int]:
        """:meth:`find` for a page of codes: one vectorised search, then each hit checked against its row."""
        keys = [self._fold(c) if isinstance(c, str) else None for c in codes]
        hashes = np.fromiter((hash(k) if k is not None else 0 for k in keys), dtype=np.int64, count=len(keys))
        ends = (np.searchsorted(self._hashes, hashes, side="right") - 1).tolist()
        out = []
        for key, h, end in zip(keys, hashes.tolist(), ends, strict=True):
            if key is None or end < 0 or int(self._hashes[end]) != h:
                out.append(NONE)
                continue
            r = int(self._order[end])
            out.append(self.last_of[r] if self._fold(self.codes[r]) == key else self.find(key))
        return out


class PleoListing:
    """Pleo's tags in a group (archived included) as columns, each tag matched to its desired row (``rows``).

    Per tag: its id (packed, :class:`~ghl_pleo.pleo_ids.IdColumn`), code and name (the desired record's own
    strings when equal to them: a pointer, no copy),
    ``archived`` and ``created`` (:func:`created_number`). :meth:`finish` drops repeated ids (the same id listed
    twice is one tag; its last copy is kept) and indexes the tags by desired row (``first`` and, for the rare
    row with several Pleo tags, ``more``) and by code key for the codes no desired row has (``unmatched``).
    """

    def __init__(self, index: CodeIndex, names) -> None:
        self.index, self._names = index, names
        self.ids = IdColumn()  # 16 bytes a UUID
        self.codes: list = []
        self.names: list = []
        self.archived = bytearray()
        self.created = array("d")
        self._odd_created: dict[int, object] = {}  # position -> a createdAt that is not a time, as sent
        self.rows = array("q")
        self.repeats = 0
        self._dropped: set[int] = set()
        self.live = 0  # live (not archived) tags, each id once
        self.first = array("q")
        self.more: dict[int, list[int]] = {}
        self.unmatched: dict[str, list[int]] = {}

    @classmethod
    def of(cls, index: CodeIndex, names, tags: Iterable[dict]) -> PleoListing:
        listing = cls(index, names)
        listing.add_page(list(tags))
        listing.finish()
        return listing

    def add_page(self, page: list) -> None:
        """Add one page of Pleo tags (dicts, or anything with ``.get``); the page can go afterwards."""
        codes = [t.get("code") for t in page]
        rows = self.index.find_many([str(c or "") for c in codes])  # a code as Pleo's listing keys it
        for t, code, r in zip(page, codes, rows, strict=True):
            name = t.get("name")
            if r != NONE:  # share the desired record's strings when equal
                mine, my_name = self.index.codes[r], self._names[r]
                code, name = mine if mine == code else code, my_name if my_name == name else name
            self.ids.append(t.get("id"))
            self.codes.append(code)
            self.names.append(name)
            self.archived.append(1 if t.get("archived") else 0)
            created = created_number(t.get("createdAt"))
            if created == math.inf:  # unreadable: kept as sent, so copies that all are still sort by it (rare)
                self._odd_created[len(self.created)] = t.get("createdAt")
            self.created.append(created)
            self.rows.append(r)

    def finish(self) -> None:
        """Drop repeated ids (counted in ``repeats``), then index the tags by desired row and by unmatched code."""
        dropped = self._dropped = self._repeated()
        self.repeats = len(dropped)
        self.first = array("q", [NONE]) * len(self.index)
        for i, r in enumerate(self.rows):
            if i in dropped:
                continue
            self.live += not self.archived[i]
            if r == NONE:
                self.unmatched.setdefault(code_key(str(self.codes[i] or "")), []).append(i)
            elif self.first[r] == NONE:
                self.first[r] = i
            else:
                self.more.setdefault(r, []).append(i)
        self.rows = array("q")  # read through first / more from here

    def _repeated(self) -> set[int]:
        """Positions of tags whose id comes again later in the listing (hashes sorted: no set of 100,000 ids)."""
        hashes = np.fromiter((hash(k) for k in self.ids.keys()), dtype=np.int64, count=len(self.ids))
        order = np.argsort(hashes, kind="stable")
        dropped: set[int] = set()
        for start, end in _equal_runs(hashes[order]):
            last: dict = {}
            for i in order[start:end].tolist():
                key = self.ids[i]
                if key in last:
                    dropped.add(last[key])
                last[key] = i
        return dropped

    def kept(self) -> Iterator[int]:
        """The position of each tag, each id once."""
        return (i for i in range(len(self.ids)) if i not in self._dropped)

    def positions(self, row: int) -> list[int]:
        """The Pleo tags matched to a desired row (usually none or one)."""
        first = self.first[row]
        return [] if first == NONE else [first, *self.more.get(row, ())]

    def __len__(self) -> int:
        return len(self.ids) - self.repeats

    def tag(self, i: int) -> dict:
        """Tag ``i`` as a dict (for a write's ``before`` and for choosing among copies: a few tags, not all)."""
        return {
            "id": self.ids[i],
            "code": self.codes[i],
            "name": self.names[i],
            "archived": bool(self.archived[i]),
            "createdAt": self._odd_created.get(i, self.created[i]),
        }


class LiveIds:
    """Code key -> the Pleo id of its live tag: per desired row, a position in a packed :class:`IdColumn` (8 + 16
    bytes, no string), and a dict for the few codes with no desired row. Reads like the dict it replaces (``get``,
    ``pop``, ``[]=``)."""

    def __init__(self, index: CodeIndex) -> None:
        self.index = index
        self.ids = IdColumn()
        self.by_row = array("q", [NONE]) * len(index)  # row -> position in ids
        self.other: dict[str, str] = {}
        self.fresh = bytearray(len(index))  # 1: the row's tag was created by this run (it holds no values yet)

    def keep(self, row: int, listing: PleoListing, i: int) -> None:
        """The row's live keeper is the listing's tag ``i`` (its packed id copied, never made text)."""
        self.by_row[row] = self.ids.copy_from(listing.ids, i)

    def created(self, code: str, pleo_id: str) -> None:
        """A tag this run created: its id, marked fresh (no set of 100,000 created ids)."""
        self[code] = pleo_id
        r = self.index.find(code)
        if r != NONE:
            self.fresh[r] = 1

    def _at(self, r: int):
        return None if self.by_row[r] == NONE else self.ids[self.by_row[r]]

    def get(self, code: str, default=None):
        r = self.index.find(code)
        value = self._at(r) if r != NONE else self.other.get(code_key(code))
        return default if value is None else value

    def __setitem__(self, code: str, pleo_id: str) -> None:
        r = self.index.find(code)
        if r != NONE:
            self.by_row[r] = self.ids.append(pleo_id)
        else:
            self.other[code_key(code)] = pleo_id

    def pop(self, code: str, default=None):
        value = self.get(code, default)
        r = self.index.find(code)
        if r != NONE:
            self.by_row[r] = NONE
        else:
            self.other.pop(code_key(code), None)
        return value

    def items(self) -> Iterator[tuple[str, str]]:
        for r, last in enumerate(self.index.last_of):
            if last == r and self.by_row[r] != NONE:
                yield code_key(self.index.codes[r]), self._at(r)
        yield from self.other.items()

    def for_rows(self) -> Iterator[tuple[str | None, bool]]:
        """Each desired row's ``(Pleo id of its live tag or None, created by this run)``, rows in order (a row's
        code decides), made one at a time."""
        return ((self._at(last), bool(self.fresh[last])) for last in self.index.last_of)
