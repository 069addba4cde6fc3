"""Pure transforms: dedupe, rejection, dimension values."""

from __future__ import annotations

import math

import pandas as pd

from ghl_pleo.config import MappingConfig
from ghl_pleo.tag_rules import iso_utc, seconds_text, utc_seconds
from ghl_pleo.transform import dimension_values, prepare_tags, tag_summary

CFG = MappingConfig()


def staged(*payloads, location="L1") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"location_id": location, "page_no": 1 + i // 100, "position": i % 100, "payload": p}
            for i, p in enumerate(payloads)
        ]
    )


def tag(_id="t1", name="Summer Sale", deleted=False, updated="2026-11-01T08:00:00.000Z", **extra):
    return {
        "_id": _id,
        "tag": name,
        "locationId": "L1",
        "createdBy": "u1",
        "deleted": deleted,
        "createdAt": "2026-10-01T08:00:00.000Z",
        "updatedAt": updated,
        **extra,
    }


def test_duplicate_id_in_one_read_keeps_the_newest_updated_at():
    out = prepare_tags(
        staged(
            tag("t1", "Old", updated="2026-11-01T08:00:00Z"),
            tag("t2", "Other"),
            tag("t1", "New", updated="2026-11-02T08:00:00Z"),
        ),
        CFG,
    )
    assert out.read == 3 and out.duplicates == 1
    assert out.tags.set_index("tag_id").loc["t1", "name"] == "New"
    assert sorted(out.tags["tag_id"]) == ["t1", "t2"]


def test_told_which_ids_repeat_the_pass_gives_the_same_records():
    """The warehouse tells prepare_tags which ids come more than once (only those enter its dedup index): the
    records, rejections and counts are the ones the full index gives."""
    frame = staged(
        tag("t1", "Old", updated="2026-11-01T08:00:00Z"),
        tag("t2", "Two"),
        tag(" t1 ", "New", updated="2026-11-02T08:00:00Z"),
        tag("t3", "Bad", updated="not a time"),
        tag("t4", "Four"),
        tag("t3", "Good", updated="2026-11-03T08:00:00Z"),
        tag("t5", "   "),
    )
    full, told = prepare_tags(frame, CFG), prepare_tags(frame, CFG, repeated={"t1", "t3"})
    pd.testing.assert_frame_equal(told.tags, full.tags)
    pd.testing.assert_frame_equal(told.rejected, full.rejected)
    assert (told.read, told.duplicates) == (full.read, full.duplicates) == (7, 2)
    assert sorted(told.tags["name"]) == ["Four", "Good", "New", "Two"] and list(told.rejected["rule"]) == ["empty_name"]


def test_duplicate_newest_wins_even_when_it_comes_first():
    out = prepare_tags(
        staged(tag("t1", "New", updated="2026-11-02T08:00:00Z"), tag("t1", "Old", updated="2026-11-01T08:00:00Z")), CFG
    )
    assert out.tags["name"].tolist() == ["New"]


def test_deleted_tags_map_to_archived_and_string_booleans_are_understood():
    out = prepare_tags(staged(tag("t1", deleted=True), tag("t2", deleted="false"), tag("t3", deleted="TRUE")), CFG)
    assert dict(zip(out.tags["tag_id"], out.tags["archived"], strict=True)) == {"t1": True, "t2": False, "t3": True}


def test_bad_rows_are_rejected_with_reason_and_the_rest_flow_on():
    out = prepare_tags(
        staged(
            tag("t1"),
            tag(None),
            {"tag": "no id"},
            tag("t4", name="\t"),
            tag("t5", deleted="maybe"),
            "not a dict",
            tag("t7", name="x" * 300),
        ),
        CFG,
    )
    assert out.tags["tag_id"].tolist() == ["t1"]
    rules = dict(zip(out.rejected["record_key"], out.rejected["rule"], strict=True))
    assert rules == {
        "page 1 item 1": "missing_id",
        "page 1 item 2": "missing_id",
        "t4": "empty_name",
        "t5": "invalid_deleted",
        "page 1 item 5": "not_an_object",
        "t7": "name_too_long",
    }
    assert len(out.tags) + len(out.rejected) + out.duplicates == out.read


def test_max_name_length_comes_from_the_mapping():
    out = prepare_tags(staged(tag("t1", name="abcdef")), MappingConfig(max_name_length=5))
    assert out.tags.empty and out.rejected["rule"].tolist() == ["name_too_long"]


def test_code_is_the_ghl_id_and_times_are_whole_utc_seconds():
    """Times are numbers in the frame (8 bytes a tag, not 73 of text); as text they read ISO UTC with a Z."""
    out = prepare_tags(staged(tag("65fbdcfecc884f07e645ea8b", updated="2026-11-01T09:00:00.123+01:00")), CFG)
    row = out.tags.iloc[0]
    assert row["code"] == "65fbdcfecc884f07e645ea8b"
    assert out.tags["updated_at"].dtype == "float64" and out.tags["created_at"].dtype == "float64"
    assert seconds_text(row["updated_at"]) == "2026-11-01T08:00:00Z"
    assert seconds_text(row["created_at"]) == "2026-10-01T08:00:00Z"
    assert iso_utc("not a date") is None and math.isnan(utc_seconds("not a date"))
    assert seconds_text(utc_seconds("0005-01-01T00:00:00Z")) == "0005-01-01T00:00:00Z"


def test_a_tag_without_created_at_has_no_time_not_a_made_up_one():
    record = tag("t1")
    del record["createdAt"]
    out = prepare_tags(staged(record), CFG)
    assert len(out.tags) == 1 and math.isnan(out.tags.iloc[0]["created_at"])


def test_fingerprint_changes_when_the_name_changes_and_not_otherwise():
    a = prepare_tags(staged(tag("t1", "A")), CFG).tags["fingerprint"][0]
    b = prepare_tags(staged(tag("t1", "A")), CFG).tags["fingerprint"][0]
    c = prepare_tags(staged(tag("t1", "B")), CFG).tags["fingerprint"][0]
    assert a == b != c
    # eight bytes a tag in the frame, never a Python object per tag (100,000 tags stay light)
    assert prepare_tags(staged(tag("t1"), tag("t2")), CFG).tags["fingerprint"].dtype == "uint64"


def test_dimension_values_for_active_tags_only_and_none_for_basic():
    tags = prepare_tags(staged(tag("t1"), tag("t2", deleted=True)), CFG).tags
    details = pd.DataFrame([{"tag_id": "t1", "payload": tag("t1")}, {"tag_id": "t2", "payload": tag("t2")}])
    values = dimension_values(tags, details, CFG)
    assert values.to_dict("records") == [
        {"code": "t1", "dimension": "ghl_location", "value": "L1"},
        {"code": "t1", "dimension": "ghl_created_by", "value": "u1"},
        {"code": "t1", "dimension": "ghl_created_at", "value": "2026-10-01T08:00:00Z"},
        {"code": "t1", "dimension": "ghl_updated_at", "value": "2026-11-01T08:00:00Z"},
    ]
    assert dimension_values(tags, details, MappingConfig(detail_level="basic")).empty


def test_tag_summary_has_the_seed_shape():
    tags = prepare_tags(staged(tag("t1"), tag("t2", deleted=True, updated="2026-11-05T00:00:00Z")), CFG).tags
    assert tag_summary(tags, "L1") == {"locationId": "L1", "tags": 1, "lastUpdated": "2026-11-05T00:00:00Z"}


def test_streamed_records_give_what_a_frame_gives():
    frame = staged(
        tag("t1", "Old", updated="2026-11-01T08:00:00Z"),
        tag("t2"),
        {"tag": "no id"},
        tag("t1", "New", updated="2026-11-02T08:00:00Z"),
        tag("t3", name="\t"),
    )
    a = prepare_tags(frame, CFG)
    b = prepare_tags(
        iter(list(frame[["location_id", "page_no", "position", "payload"]].itertuples(index=False, name=None))), CFG
    )
    assert a.tags.equals(b.tags) and a.rejected.equals(b.rejected)
    assert (b.read, b.duplicates) == (5, 1)
    assert list(b.tags["tag_id"]) == ["t2", "t1"] and list(b.tags["name"]) == ["Summer Sale", "New"]
    assert list(b.rejected["rule"]) == ["missing_id", "empty_name"]


def test_ids_and_values_longer_than_the_limits_are_rejected_with_their_reason():
    rows = staged(tag("t" * 65), tag("t2", createdBy="u" * 256), tag("t" * 64, createdBy="u" * 255))
    out = prepare_tags(rows, CFG)
    assert out.tags["tag_id"].tolist() == ["t" * 64]
    got = dict(zip(out.rejected["rule"], out.rejected["reason"], strict=True))
    assert got == {
        "id_too_long": "_id is 65 characters, longer than max_id_length 64",
        "value_too_long": "createdBy is 256 characters, longer than max_value_length 255",
    }
    strict = MappingConfig(max_id_length=10, max_value_length=3)
    assert prepare_tags(staged(tag("t1", createdBy="abcd")), strict).rejected["rule"].tolist() == ["value_too_long"]


def test_a_dimension_value_longer_than_the_limit_is_never_sent():
    tags = prepare_tags(staged(tag("t1")), CFG).tags
    details = pd.DataFrame([{"tag_id": "t1", "payload": tag("t1", createdBy="u" * 300)}])
    values = dimension_values(tags, details, CFG)
    assert "ghl_created_by" not in set(values["dimension"]) and len(values) == 3
