"""The plan's columnar data: the code index, Pleo's listing as columns and the live ids (no dict per tag)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ghl_pleo.tag_index as tag_index
from ghl_pleo.tag_index import NONE, CodeIndex, LiveIds, PleoListing, created_number


def codes(*values):
    return np.array(values, dtype=object)


def test_a_code_finds_the_last_row_with_its_key_whatever_its_case():
    index = CodeIndex(codes("a", "B", "b", "c", "B"))
    assert list(index.last_of) == [0, 4, 4, 3, 4]  # "B", "b", "B": one key, its last row wins
    assert [index.find(c) for c in ("A", "b", "C", "zz", None)] == [0, 4, 3, NONE, NONE]
    assert index.find_many(["A", "b", "C", "zz", None, ""]) == [0, 4, 3, NONE, NONE, NONE]


def test_colliding_hashes_never_match_a_wrong_row(monkeypatch):
    """Every key hashing alike (the worst case of a 64-bit hash) still finds each code's own row."""
    monkeypatch.setattr(tag_index, "hash", lambda _value: 7, raising=False)
    index = CodeIndex(codes("x", "Y", "z", "y"))
    assert list(index.last_of) == [0, 3, 2, 3]
    assert [index.find(c) for c in ("X", "y", "Z", "w")] == [0, 3, 2, NONE]
    assert index.find_many(["X", "y", "Z", "w"]) == [0, 3, 2, NONE]


def listing_of(desired_codes, desired_names, tags):
    return PleoListing.of(CodeIndex(desired_codes), desired_names, tags)


def tag(id_, code, name, archived=False, created="2026-01-01T00:00:00Z"):
    return {"id": id_, "code": code, "name": name, "archived": archived, "createdAt": created}


def test_the_listing_matches_each_tag_to_its_row_and_shares_equal_strings():
    names = np.array(["Alpha", "Beta"], dtype=object)
    desired = codes("a", "b")
    listing = listing_of(desired, names, [tag("1", "".join("a"), "".join(["Al", "pha"])), tag("2", "B", "Other")])
    assert listing.codes[0] is desired[0] and listing.names[0] is names[0]
    assert listing.codes[1] == "B" and listing.names[1] == "Other"  # a different spelling keeps Pleo's own
    assert listing.positions(0) == [0] and listing.positions(1) == [1]


def test_the_same_id_listed_twice_is_one_tag_and_its_last_copy_is_kept():
    listing = listing_of(
        codes("a"),
        codes("A"),
        [tag("1", "a", "A"), tag("9", "gone", "G"), tag("1", "a", "A2", archived=True), tag("9", "GONE", "G")],
    )
    assert listing.repeats == 2 and len(listing) == 2
    assert listing.positions(0) == [2] and listing.unmatched == {"gone": [3]}
    assert listing.live == 1 and list(listing.kept()) == [2, 3]


def test_several_tags_of_one_code_are_all_kept_for_the_plan():
    listing = listing_of(codes("a"), codes("A"), [tag("1", "a", "A"), tag("2", "A", "A"), tag("3", "x", "X")])
    assert listing.positions(0) == [0, 1] and listing.unmatched == {"x": [2]} and listing.live == 3


def test_created_at_sorts_as_time_missing_first_unreadable_last():
    assert created_number(None) == created_number("") == -math.inf
    assert created_number("not a date") == math.inf
    assert created_number("2026-02-01T00:00:00+02:00") < created_number("2026-01-31T23:00:00Z")
    assert created_number(5) == 5.0


def test_live_ids_read_like_a_dict_keyed_by_code():
    index = CodeIndex(codes("a", "B", "b"))
    live = LiveIds(index)
    live["A"], live["b"], live["gone"] = "p1", "p2", "p9"
    assert live.get("a") == "p1" and live.get("B") == "p2" and live.get("GONE") == "p9"
    assert live.for_rows() == ["p1", "p2", "p2"]  # each row reads its code's id
    assert dict(live.items()) == {"a": "p1", "b": "p2", "gone": "p9"}
    assert live.pop("a") == "p1" and live.get("a") is None and live.get("a", "none") == "none"
    assert live.pop("gone") == "p9" and live.get("gone") is None
    assert live.for_rows() == [None, "p2", "p2"]


@pytest.mark.parametrize("n", [1, 1000])
def test_every_code_of_a_large_location_finds_its_row(n):
    desired = codes(*(f"Code{i:05d}" for i in range(n)))
    index = CodeIndex(desired)
    assert index.find_many([c.lower() for c in desired]) == list(range(n))
