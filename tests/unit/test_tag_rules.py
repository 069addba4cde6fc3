"""Row rules: tag names."""

from __future__ import annotations

import pytest

from ghl_pleo.tag_rules import clean_name


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
    ],
)
def test_clean_name_normalises_as_the_mapping_says(raw, expected):
    assert clean_name(raw, 255) == (expected, None)


@pytest.mark.parametrize(
    "raw, rule",
    [
        ("", "empty_name"),
        ("   \t\n", "empty_name"),
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
