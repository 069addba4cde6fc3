"""Staged tag pages and tag details, on both backends."""

from __future__ import annotations

import numpy as np
import pytest

from ghl_pleo.tag_index import CodeIndex

pytestmark = pytest.mark.integration


def to_fetch(wh, location_id: str, wanted: dict, chunk: int = 1000) -> list[str]:
    """The tag ids of ``wanted`` (id -> fingerprint) whose details the warehouse says to fetch, in order."""
    ids = np.array(list(wanted), dtype=object)
    flags = wh.staging.details_to_fetch(location_id, CodeIndex(ids, fold=str), list(wanted.values()), chunk=chunk)
    return [tag_id for tag_id, flag in zip(ids, flags, strict=True) if flag]


def test_staged_pages_stream_back_in_read_order_byte_for_byte(wh):
    page1 = [
        {"_id": "a", "tag": "Café 🎉 👨\u200d👩\u200d👧", "extra": {"n": [1, None, True]}},
        {"_id": "b", "tag": "<b>x</b>"},
    ]
    page2 = [{"_id": "c", "tag": "ﺍﻟﻌﺮﺑﻴﺔ\u200f"}, "not an object"]
    wh.staging.stage_page("L1", "run1", 2, page2)
    wh.staging.stage_page("L1", "run1", 1, page1)
    wh.staging.stage_page("L2", "run1", 1, [{"_id": "z"}])
    rows = list(wh.staging.iter_staged("L1", "run1", chunk=1))
    assert [(r[1], r[2]) for r in rows] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert [r[3] for r in rows] == page1 + page2
    wh.staging.clear_staged("L1", "run1")
    assert list(wh.staging.iter_staged("L1", "run1")) == [] and len(list(wh.staging.iter_staged("L2", "run1"))) == 1


def test_two_runs_staging_the_same_location_never_read_or_clear_each_others_pages(wh):
    """Two runs of the tags DAG reading one location at once (a backfill's runs, the hourly run): each stages the
    same page numbers, reads back only its own pages, and clearing its own leaves the other's alone."""
    wh.staging.stage_page("L1", "run-a", 1, [{"_id": "a1"}, {"_id": "a2"}])
    wh.staging.stage_page("L1", "run-b", 1, [{"_id": "b1"}])  # the same (location, page, position): no clash
    wh.staging.stage_page("L1", "run-a", 2, [{"_id": "a3"}])
    assert [r[3]["_id"] for r in wh.staging.iter_staged("L1", "run-a")] == ["a1", "a2", "a3"]
    assert [r[3]["_id"] for r in wh.staging.iter_staged("L1", "run-b")] == ["b1"]
    wh.staging.clear_staged("L1", "run-b")  # run b starts its read over (or is done with it)
    assert [r[3]["_id"] for r in wh.staging.iter_staged("L1", "run-a")] == ["a1", "a2", "a3"]
    assert list(wh.staging.iter_staged("L1", "run-b")) == []


def test_staged_rows_keep_the_tag_id_only_when_it_is_a_string(wh):
    wh.staging.stage_page("L1", "run1", 1, [{"_id": "a"}, {"_id": 7}, "text", {}])
    wh.staging.stage_page("L1", "run1", 2, [])  # an empty page writes nothing
    rows = wh.db.query("SELECT page_no, position, tag_id, run_id FROM ghl_tag_pages ORDER BY position")
    assert [(r["page_no"], r["position"], r["tag_id"], r["run_id"]) for r in rows] == [
        (1, 0, "a", "run1"),
        (1, 1, None, "run1"),
        (1, 2, None, "run1"),
        (1, 3, None, "run1"),
    ]


def test_the_ids_a_read_holds_twice_are_counted_as_the_transform_keys_them(wh):
    """Only ids a run's pages of the location hold more than once (stripped, as the transform keys them) enter the
    transform's dedup index; other runs' and other locations' pages do not count."""
    wh.staging.stage_page("L1", "run1", 1, [{"_id": "a"}, {"_id": "b"}, {"_id": " a "}, {"_id": "  "}, {"_id": 7}])
    wh.staging.stage_page("L1", "run1", 2, [{"_id": "c"}, {"_id": "b"}, {"_id": "B"}, {}, {"_id": 7}])
    wh.staging.stage_page("L1", "run2", 1, [{"_id": "c"}])
    wh.staging.stage_page("L2", "run1", 1, [{"_id": "c"}])
    assert wh.staging.repeated_ids("L1", "run1") == {"a", "b"}
    assert wh.staging.repeated_ids("L1", "run2") == set() and wh.staging.repeated_ids("L3", "run1") == set()


def test_details_are_replaced_not_duplicated_and_read_per_batch(wh):
    wh.staging.save_details("L1", [{"_id": "a", "v": 1}, {"_id": "b", "v": 1}], {"a": "fa", "b": "fb"})
    wh.staging.save_details("L1", [{"_id": "a", "v": 2}], {"a": "fa2"})
    assert wh.staging.detail_fingerprints("L1") == {"a": "fa2", "b": "fb"}
    got = wh.staging.details_for("L1", ["a", "missing"])
    assert list(got["tag_id"]) == ["a"] and got["payload"][0] == {"_id": "a", "v": 2}
    assert wh.staging.details_for("L1", []).empty


def test_details_without_a_string_id_are_skipped_and_locations_are_apart(wh):
    wh.staging.save_details("L1", [{"_id": 3, "v": 1}, {"v": 2}], {})
    assert wh.staging.detail_fingerprints("L1") == {}
    wh.staging.save_details("L1", [{"_id": "a"}], {})  # no fingerprint known: stored as ""
    wh.staging.save_details("L2", [{"_id": "a"}], {"a": "f2"})
    assert wh.staging.detail_fingerprints("L1") == {"a": ""} and wh.staging.detail_fingerprints("L2") == {"a": "f2"}


def test_only_tags_whose_stored_details_differ_are_left_to_fetch(wh):
    wh.staging.save_details("L1", [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}], {"a": "fa", "b": "fb", "c": "fc"})
    wh.staging.save_details("L2", [{"_id": "d"}], {"d": "fd"})
    wanted = {"a": "fa", "b": "fb-new", "d": "fd", "e": "fe", "c": "fc"}
    # a and c are stored with these fingerprints; b changed; d is another location's; e was never fetched
    assert to_fetch(wh, "L1", wanted, chunk=1) == ["b", "d", "e"]
    assert to_fetch(wh, "L1", wanted, chunk=2) == ["b", "d", "e"]


def test_details_stored_with_an_earlier_versions_whole_sha1_are_not_fetched_again(wh):
    """Fingerprints are 64 bits now, stored as 16 hex digits; details an earlier version stored under the whole
    40-digit SHA-1 of the same fields still match (no re-fetch of every tag's details after an upgrade)."""
    import hashlib
    import json

    from ghl_pleo.tag_rules import fingerprint

    record = {"_id": "a", "tag": "Sale", "deleted": False, "createdBy": "u1", "updatedAt": "2026-11-01T08:00:00Z"}
    keys = ("tag", "deleted", "createdBy", "createdAt", "updatedAt", "locationId")
    blob = json.dumps({k: record.get(k) for k in keys}, sort_keys=True, ensure_ascii=False, default=str)
    old_sha1 = hashlib.sha1(blob.encode("utf-8")).hexdigest()  # what earlier versions stored
    wh.staging.save_details("L1", [{"_id": "a"}, {"_id": "b"}], {"a": old_sha1, "b": old_sha1})
    wh.staging.save_details("L1", [{"_id": "c"}], {"c": fingerprint(record)})
    assert wh.staging.detail_fingerprints("L1")["c"] == old_sha1[:16]
    changed = dict(record, tag="Sale 2")
    wanted = {"a": fingerprint(record), "b": fingerprint(changed), "c": fingerprint(record)}
    assert to_fetch(wh, "L1", wanted) == ["b"]
