"""Tag suggestions for untagged spend: a note that names one of our tags, as whole words.

Pleo's API offers no tag update on an existing expense, so nothing is written to the expense: the rows go to
``pleo_tag_suggestions`` for finance to act on (the dashboard lists them, largest first).

The rule: an entry part that carries no tag of any ``ghl-social-*`` group (the untagged rows of
:func:`ghl_pleo.spend_attribution.attribute`) whose ``note`` contains a tag name as whole words. Note and names are
normalised like tag names (:func:`ghl_pleo.tag_rules.clean_name`: NFC, any whitespace a single space, control
characters dropped) and compared case-insensitively. Whole words: the name is neither preceded nor followed by
a letter, digit or underscore, so the tag "Sale" does not match "wholesale". Names shorter than three characters
("TV", "5k") would match far too much and are left out. Every candidate is kept (a name used by two locations
gives two), with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ghl_pleo.tag_rules import clean_name

MIN_NAME_LENGTH = 3
_WORD = re.compile(r"\w+")


def _normal(text: object) -> str | None:
    name, _ = clean_name(text, max_length=1_000_000)
    return name.casefold() if name else None


class NameIndex:
    """Our tag names (``{location: {tag code: name}}``), normalised and indexed by their first word."""

    def __init__(self, names: dict[str, dict[str, str]]):
        self.by_word: dict[str, list[tuple[re.Pattern, str, str, str]]] = {}
        self.wordless: list[tuple[re.Pattern, str, str, str]] = []
        for location, tags in sorted(names.items()):
            for code, raw in sorted(tags.items()):
                name = _normal(raw)
                if name is None or len(name) < MIN_NAME_LENGTH:
                    continue
                pattern = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")
                item = (pattern, location, code, raw)
                first = _WORD.search(name)
                (self.by_word.setdefault(first.group(), []) if first else self.wordless).append(item)

    def candidates(self, note: object) -> list[dict]:
        text = _normal(note)
        if text is None:
            return []
        pool = list(self.wordless)
        for word in dict.fromkeys(_WORD.findall(text)):
            pool.extend(self.by_word.get(word, ()))
        return [
            {"location_id": loc, "tag_code": code, "tag_name": raw}
            for pattern, loc, code, raw in pool
            if pattern.search(text)
        ]


def suggestions(untagged: Iterable[dict], names: dict[str, dict[str, str]]) -> list[dict]:
    """``pleo_tag_suggestions`` rows: each untagged part whose note names tags, every candidate and the reason."""
    index = NameIndex(names)
    rows = []
    for part in untagged:
        found = index.candidates(part.get("note"))
        if not found:
            continue
        named = ", ".join(sorted({f'"{c["tag_name"]}"' for c in found}))
        rows.append(
            {
                **{k: part.get(k) for k in ("company_id", "entry_id", "split_id", "day", "currency", "amount_minor")},
                "note": part.get("note"),
                "candidates": found,
                "reason": f"the note names {named} as whole words, and the expense carries no ghl-social tag",
            }
        )
    return sorted(rows, key=lambda r: (-abs(r["amount_minor"] or 0), str(r["entry_id"]), str(r["split_id"])))
