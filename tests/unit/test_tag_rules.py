"""Row rules: tag names and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ghl_pleo.tag_rules import clean_name, iso_utc, timestamp_rule


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Summer Sale", "Summer Sale"),
        ("  Black\tFriday \n Deals  ", "Black Friday Deals"),
        ("No\u00a0Break\u2003Space", "No Break Space"),
        ("Cafe\u0301", "Caf\u00e9"),  # NFC composes the accent
        ("Zero\u200bWidth", "ZeroWidth"),  # Cf removed
        ("Bell\x07 and NUL\x00", "Bell and NUL"),  # Cc removed
        ("Family \U0001f468\u200d\U0001f469\u200d\U0001f467", "Family \U0001f468\u200d\U0001f469\u200d\U0001f467"),
        ("a\u200db", "ab"),  # ZWJ between letters removed
        ("\u05e9\u05dc\u05d5\u05dd \u200fRTL", "\u05e9\u05dc\u05d5\u05dd RTL"),  # RLM (Cf) removed, Hebrew kept
        ("<b>x</b>; DROP TABLE tags;--", "<b>x</b>; DROP TABLE tags;--"),
        ("   Summer    Sale  2026 ", "Summer Sale 2026"),  # plain ASCII (the quick path): spaces collapse and trim
        ("Sale\x7f\x1b[31m", "Sale[31m"),  # DEL and ESC are ASCII but not printable: removed
    ],
)
def test_clean_name_normalises_as_the_mapping_says(raw, expected):
    assert clean_name(raw, 255) == (expected, None)


@pytest.mark.parametrize(
    "raw, rule",
    [
        ("", "empty_name"),
        ("   \t\n", "empty_name"),
        ("    ", "empty_name"),
        ("\u200b\u200e\t", "empty_name"),
        ("x" * 256, "name_too_long"),
        (None, "name_not_text"),
        (42, "name_not_text"),
    ],
)
def test_clean_name_rejects_with_a_named_rule(raw, rule):
    assert clean_name(raw, 255) == (None, rule)


def test_clean_name_counts_code_points_not_bytes():
    assert clean_name("é" * 255, 255) == ("é" * 255, None)
    assert clean_name("😀" * 10, 9) == (None, "name_too_long")


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, tolerance, rule",
    [
        ("2026-12-01T12:00:00Z", 0, None),
        ("2026-12-01T12:00:00.999Z", 0, None),  # whole seconds, as the record keeps it
        ("2026-12-01T12:00:01Z", 0, "future_timestamp"),
        ("2026-12-01T12:05:00Z", 300, None),
        ("2026-12-01T12:05:01+00:00", 300, "future_timestamp"),
        ("2026-12-01T13:04:59+01:00", 300, None),  # an offset is converted to UTC first
        ("2026-12-01T12:00:01", 0, "future_timestamp"),  # no zone: UTC
        ("yesterday", 0, "invalid_timestamp"),
        ("0001-01-01T00:00:00+01:00", 0, "invalid_timestamp"),  # before year 1 in UTC: not a time we can hold
        ("9999-12-31T23:59:59-01:00", 0, "invalid_timestamp"),
        ("0005-01-01T00:00:00Z", 0, None),
        ("", 0, "invalid_timestamp"),
        (None, 0, "invalid_timestamp"),
    ],
)
def test_timestamp_rule_rejects_the_unreadable_and_the_future(value, tolerance, rule):
    got = timestamp_rule(value, NOW, tolerance, "updatedAt")
    assert (got and got[0]) == rule
    if rule == "future_timestamp":
        assert got[1] == f"updatedAt {iso_utc(value)} is in the future"


def test_iso_utc_keeps_whole_seconds_in_utc():
    assert iso_utc(" 2026-12-01T13:04:59.75+01:00 ") == "2026-12-01T12:04:59Z"
    assert iso_utc("2026-12-01") == "2026-12-01T00:00:00Z"
    assert iso_utc(42) is None
    assert iso_utc("0005-01-01T00:00:00Z") == "0005-01-01T00:00:00Z"  # four digits, as the GX suite expects
