"""The plan's columnar data: the code index, Pleo's listing as columns and the live ids (no dict per tag)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ghl_pleo.tag_index as tag_index
from ghl_pleo.pleo_ids import IdColumn, pack
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
    live["A"], live["gone"] = "p1", "p9"
    live.created("b", "p2")  # a tag this run created: marked fresh (it holds no dimension values yet)
    assert live.get("a") == "p1" and live.get("B") == "p2" and live.get("GONE") == "p9"
    assert list(live.for_rows()) == [("p1", False), ("p2", True), ("p2", True)]  # each row reads its code's id
    assert dict(live.items()) == {"a": "p1", "b": "p2", "gone": "p9"}
    assert live.pop("a") == "p1" and live.get("a") is None and live.get("a", "none") == "none"
    assert live.pop("gone") == "p9" and live.get("gone") is None
    assert list(live.for_rows()) == [(None, False), ("p2", True), ("p2", True)]


@pytest.mark.parametrize("n", [1, 1000])
def test_every_code_of_a_large_location_finds_its_row(n):
    desired = codes(*(f"Code{i:05d}" for i in range(n)))
    index = CodeIndex(desired)
    assert index.find_many([c.lower() for c in desired]) == list(range(n))


U1, U2 = "3fa85f64-5717-4562-b3fc-2c963f66afa6", "0a1b2c3d-0000-4000-8000-00000000000f"


def test_pleo_ids_are_packed_and_come_back_as_the_very_same_text():
    ids = IdColumn()
    odd = [U1.upper(), "{" + U1[1:-1] + "}", "x" * 36, U1.replace("-", "_"), "plain", None, 7, " " + U1[1:]]
    for value in [U1, U2, *odd]:
        ids.append(value)
    assert [ids[i] for i in range(len(ids))] == [U1, U2, *odd]
    assert pack(U1) is not None and len(pack(U1)) == 16 and all(pack(v) is None for v in odd)
    keys = list(ids.keys())
    assert len(set(keys)) == len(keys)  # every id its own key; the same id twice, one key
    again = IdColumn()
    assert again.copy_from(ids, 1) == 0 and again.copy_from(ids, 6) == 1 and [again[0], again[1]] == [U2, "plain"]
    with pytest.raises(IndexError):
        ids[len(ids)]


def test_a_uuid_listed_twice_is_one_tag_and_its_id_is_kept_packed_for_the_dimension_step():
    listing = listing_of(codes("a", "b"), codes("A", "B"), [tag(U1, "a", "A"), tag(U2, "b", "B"), tag(U1, "a", "A")])
    assert listing.repeats == 1 and listing.positions(0) == [2] and listing.live == 2
    live = LiveIds(listing.index)
    live.keep(0, listing, 2)
    live.keep(1, listing, 1)
    assert list(live.for_rows()) == [(U1, False), (U2, False)] and live.ids._other == {}
