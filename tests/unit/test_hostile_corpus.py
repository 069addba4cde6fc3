"""A corpus of hostile inputs, each with its expected outcome: normalised, loaded as is, or rejected with a rule.

Tag inputs go through the same transform the DAG uses (``prepare_tags``);
statistics inputs through ``sanitize_results``; location ids through the check
the hooks run before any request. The HTTP-level cases (missing envelope, HTML
page with status 200, ids with "/" refused before a request) are in
tests/hooks/test_hostile_http.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.quality import check_location_id
from ghl_pleo.social_stats import combine_batches, sanitize_results
from ghl_pleo.transform import prepare_tags

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CFG = MappingConfig()
BASE = {
    "_id": "65fbdcfecc884f07e645ea8b",
    "locationId": "L1",
    "createdBy": "u1",
    "deleted": False,
    "createdAt": "2026-10-01T08:00:00.000Z",
    "updatedAt": "2026-11-01T08:00:00.000Z",
}


def with_(**changes):
    tag = {**BASE, "tag": "Summer Sale"}
    for k, v in changes.items():
        if v is DROP:
            tag.pop(k, None)
        else:
            tag[k] = v
    return tag


DROP = object()
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
# (case, tag payload, outcome, expected name or rule)
TAG_CORPUS = [
    ("plain name", with_(tag="Summer Sale"), "as_is", "Summer Sale"),
    ("empty name", with_(tag=""), "rejected", "empty_name"),
    ("whitespace-only name", with_(tag=" \t\n\u00a0 "), "rejected", "empty_name"),
    ("10,000-character name", with_(tag="x" * 10_000), "rejected", "name_too_long"),
    ("255 characters exactly", with_(tag="y" * 255), "as_is", "y" * 255),
    ("emoji", with_(tag="🎉 Launch"), "as_is", "🎉 Launch"),
    ("emoji ZWJ sequence", with_(tag=f"Family {FAMILY}"), "as_is", f"Family {FAMILY}"),
    (
        "RTL text with a direction mark",
        with_(tag="\u05de\u05d1\u05e6\u05e2 \u200f2026"),
        "normalised",
        "\u05de\u05d1\u05e6\u05e2 2026",
    ),
    ("combining characters", with_(tag="Cafe\u0301"), "normalised", "Caf\u00e9"),
    ("control characters and NUL", with_(tag="Sale\x00\x07 Now\x1b"), "normalised", "Sale Now"),
    ("tabs, newlines, no-break spaces", with_(tag="  Black\tFriday\n\u00a0Deals "), "normalised", "Black Friday Deals"),
    ("zero-width space", with_(tag="Zero\u200bWidth"), "normalised", "ZeroWidth"),
    ("HTML-looking name", with_(tag="<script>alert(1)</script>"), "as_is", "<script>alert(1)</script>"),
    ("SQL-looking name", with_(tag="x'; DROP TABLE tags;--"), "as_is", "x'; DROP TABLE tags;--"),
    ("null _id", with_(_id=None), "rejected", "missing_id"),
    ("missing _id", with_(_id=DROP), "rejected", "missing_id"),
    ("_id of the wrong type", with_(_id=12345), "rejected", "missing_id"),
    ("deleted as a string", with_(deleted="true"), "normalised", "Summer Sale"),
    ("deleted as nonsense", with_(deleted="sometimes"), "rejected", "invalid_deleted"),
    ("name of the wrong type", with_(tag=["a", "b"]), "rejected", "name_not_text"),
    ("null name", with_(tag=None), "rejected", "name_not_text"),
    ("date in another format", with_(updatedAt="11/01/2026 08:00"), "rejected", "invalid_timestamp"),
    ("date as epoch number", with_(updatedAt=1793520000000), "rejected", "invalid_timestamp"),
    ("date in the future", with_(updatedAt="2027-06-01T00:00:00.000Z"), "rejected", "future_timestamp"),
    ("date with an offset", with_(updatedAt="2026-11-01T09:00:00+01:00"), "normalised", "Summer Sale"),
    ("extra fields", with_(colour="blue", nested={"a": 1}), "as_is", "Summer Sale"),
    ("a string instead of an object", "just a string", "rejected", "not_an_object"),
]


def run_one(payload) -> tuple[str, str]:
    frame = pd.DataFrame([{"location_id": "L1", "page_no": 1, "position": 0, "payload": payload}])
    out = prepare_tags(frame, CFG, now=NOW)
    assert len(out.tags) + len(out.rejected) + out.duplicates == out.read == 1
    if len(out.rejected):
        return "rejected", out.rejected.iloc[0]["rule"]
    return "loaded", out.tags.iloc[0]["name"]


def test_the_corpus_has_at_least_25_cases():
    assert len(TAG_CORPUS) + len(STAT_CORPUS) + len(ID_CORPUS) >= 25


@pytest.mark.parametrize("case, payload, outcome, expected", TAG_CORPUS, ids=[c[0] for c in TAG_CORPUS])
def test_tag_corpus(case, payload, outcome, expected):
    got, value = run_one(payload)
    if outcome == "rejected":
        assert (got, value) == ("rejected", expected)
    else:
        assert (got, value) == ("loaded", expected)
        if outcome == "as_is":
            assert value == payload["tag"]
        elif case.startswith(("RTL", "combining", "control", "tabs", "zero")):
            assert value != payload["tag"]


def test_duplicate_ids_within_and_across_pages_are_kept_once():
    a_old = {**with_(tag="Old"), "updatedAt": "2026-11-01T08:00:00.000Z"}
    a_new = {**with_(tag="New"), "updatedAt": "2026-11-02T08:00:00.000Z"}
    frame = pd.DataFrame(
        [
            {"location_id": "L1", "page_no": 1, "position": 0, "payload": a_old},
            {"location_id": "L1", "page_no": 1, "position": 1, "payload": a_old},  # within a page
            {"location_id": "L1", "page_no": 2, "position": 0, "payload": a_new},
        ]
    )  # across pages
    out = prepare_tags(frame, CFG, now=NOW)
    assert out.tags["name"].tolist() == ["New"] and out.duplicates == 2


STAT_CORPUS = [
    ("negative metric", {"totals": {"likes": -5, "posts": 2}}, "negative_metric", {"posts": 2}),
    ("NaN metric", {"totals": {"likes": math.nan, "posts": 2}}, "non_finite_metric", {"posts": 2}),
    ("infinite metric", {"totals": {"impressions": math.inf, "posts": 2}}, "non_finite_metric", {"posts": 2}),
    ("metric as a string", {"totals": {"likes": "12", "posts": 2}}, "not_a_number", {"posts": 2}),
    (
        "unknown platform",
        {"totals": {"posts": 1}, "breakdowns": {"engagement": {"myspace": {"likes": 1, "comments": 0, "shares": 0}}}},
        "unknown_platform",
        {"posts": 1, "shares": 0},
    ),
    (
        "negative change is fine",
        {"totals": {"posts": 1}, "breakdowns": {"posts": {"total": 1, "totalChange": -50}}},
        None,
        {"posts": 1},
    ),
]


@pytest.mark.parametrize("case, results, rule, totals", STAT_CORPUS, ids=[c[0] for c in STAT_CORPUS])
def test_statistics_corpus(case, results, rule, totals):
    clean, problems = sanitize_results(results)
    assert [p["rule"] for p in problems] == ([rule] if rule else [])
    assert combine_batches([clean])["totals"] == totals


ID_CORPUS = [
    ("ve9EPM428h8vShlRW1KT", True),
    ("a/b", False),
    ("..", False),
    ("../admin", False),
    ("has space", False),
    ("", False),
    ("x" * 65, False),
    ("Loc_01-ok", True),
]


@pytest.mark.parametrize("location_id, ok", ID_CORPUS)
def test_location_ids_that_could_change_the_path_are_refused(location_id, ok):
    if ok:
        assert check_location_id(location_id) == location_id
    else:
        with pytest.raises(ConfigurationError, match="refused before any request"):
            check_location_id(location_id)
