"""Tag suggestions: untagged spend whose note names one of our tags as whole words."""

from __future__ import annotations

import pytest

from ghl_pleo.spend_attribution import attribute
from ghl_pleo.spend_suggest import suggestions
from tests.unit.spend_entries import COMPANY, LOOKUP, OTHER, T_OTHER, entry, tag

NAMES = {"L1": {"t1": "Summer Sale", "t2": "Sale", "t3": "TV", "t4": "Black\u00a0Friday"}, "L2": {"t9": "Sale"}}


def found(note):
    rows = suggestions([{"entry_id": "e", "amount_minor": 1, "note": note}], NAMES)
    return sorted((c["location_id"], c["tag_code"]) for r in rows for c in r["candidates"])


@pytest.mark.parametrize(
    "note, expected",
    [
        ("Ads for the summer  SALE!", [("L1", "t1"), ("L1", "t2"), ("L2", "t9")]),
        ("wholesale paper", []),
        ("sales kit", []),
        ("sale_2026", []),
        ("summer salesman", []),  # the last word of a name must end a word too
        ("endless summer sale", [("L1", "t1"), ("L1", "t2"), ("L2", "t9")]),
        ("black\tfriday boost", [("L1", "t4")]),
        ("new TV spot", []),  # names under three characters are never candidates
        ("Sal\u0065\u0301", []),  # "Salé" (decomposed) is not "Sale"
        (None, []),
    ],
)
def test_whole_words_normalised_like_tag_names(note, expected):
    assert found(note) == expected


def test_suggestions_come_from_untagged_entries_only_with_every_candidate_and_the_reason():
    entries = [
        entry("tagged", 500, note="Summer Sale flyers"),
        entry("untagged", 300, tags=[tag(OTHER, T_OTHER)], note="Summer Sale flyers"),
        entry("big", 9000, tags=[], note="Winter boost"),
        entry("nothing", 100, tags=[], note="coffee"),
    ]
    result = attribute(entries, company=COMPANY, currency="EUR", lookup=LOOKUP)
    rows = suggestions(result.untagged, LOOKUP.names)
    assert [r["entry_id"] for r in rows] == ["big", "untagged"]  # largest first
    assert rows[1]["candidates"] == [{"location_id": "L1", "tag_code": "tagSummer", "tag_name": "Summer Sale"}]
    assert '"Summer Sale"' in rows[1]["reason"] and rows[1]["amount_minor"] == 300
