"""Paginators and paginate(): when a listing ends, and that a page is checked before it is recorded."""

from __future__ import annotations

import pytest

from ghl_pleo.errors import FatalAPIError, RetryableAPIError
from ghl_pleo.paginators import CursorPaginator, LocationPaginator, ReadBounds, SkipPaginator, page_cap, paginate


def test_skip_paginator_stops_at_count():
    p = SkipPaginator(2)
    p.update(["a", "b"], 3)
    assert p.has_more() and p.params() == {"limit": "2", "skip": "2"}
    p.update(["c"], 3)
    assert not p.has_more() and p.stop_reason == "reached count"


def test_skip_paginator_stops_on_empty_page_even_if_count_says_more():
    p = SkipPaginator(2)
    p.update(["a", "b"], 50)
    p.update([], 50)
    assert p.stop_reason == "empty page"


def test_skip_paginator_stops_on_a_page_with_no_new_ids():
    p = SkipPaginator(2)
    p.update(["a", "b"], 50)
    p.update(["a", "b"], 50)  # a service that ignores skip
    assert p.stop_reason == "page with no new ids" and p.pages == 2


def test_cursor_paginator_follows_end_cursor_and_refuses_a_loop():
    p = CursorPaginator(10)
    p.update({"data": [1], "pagination": {"hasNextPage": True, "endCursor": "c1"}}, where="x")
    assert p.params() == {"limit": "10", "after": "c1"}
    with pytest.raises(FatalAPIError, match="loop detected"):
        p.update({"data": [2], "pagination": {"hasNextPage": True, "endCursor": "c1"}}, where="x")


def test_cursor_paginator_ends_when_no_next_page():
    p = CursorPaginator(10)
    p.update({"data": [1], "pagination": {"hasNextPage": False}}, where="x")
    assert not p.has_more()


def test_paginate_fetches_one_page_at_a_time():
    bodies = iter(
        [
            {"results": {"tags": [{"_id": "a"}, {"_id": "b"}], "count": 3}},
            {"results": {"tags": [{"_id": "c"}], "count": 3}},
        ]
    )
    asked = []

    def fetch(params):
        asked.append(params)
        return next(bodies)

    paginator = SkipPaginator(2)
    pages = paginate(fetch, paginator, lambda body: body["results"]["tags"])
    assert asked == []  # nothing before the first page is wanted
    assert [t["_id"] for t in next(pages)] == ["a", "b"] and len(asked) == 1
    assert [t["_id"] for t in next(pages)] == ["c"]
    assert next(pages, None) is None and paginator.stop_reason == "reached count"
    assert asked == [{"limit": "2", "skip": "0"}, {"limit": "2", "skip": "2"}]


def test_paginate_raises_what_the_items_reader_raises_before_recording_the_page():
    def items(body):
        raise FatalAPIError("envelope missing")

    paginator = CursorPaginator(10, where="Pleo GET x")
    with pytest.raises(FatalAPIError, match="envelope missing"):
        next(paginate(lambda params: {"data": [1]}, paginator, items))
    assert paginator.pages == 0


def test_location_paginator_ends_on_a_short_page_and_counts_only_objects():
    p = LocationPaginator(3)
    p.record({}, [{"id": "a"}, {"id": "b"}, {"id": "c"}])
    assert p.has_more() and p.params() == {"limit": "3", "skip": "3"}
    p.record({}, [{"id": "d"}, "junk", {"id": "e"}])  # a full page, one entry not an object
    assert p.has_more() and p.skip == 5
    p.record({}, [{"id": "f"}])
    assert not p.has_more() and p.stop_reason == "short page"


def test_cursor_paginator_names_its_listing_in_errors():
    p = CursorPaginator(10, where="Pleo GET /v0/tag-groups/{groupId}/tags (group g1)")
    with pytest.raises(FatalAPIError, match=r"^Pleo GET /v0/tag-groups/\{groupId\}/tags \(group g1\): response has no"):
        p.record({"data": [1]}, [1])


def test_a_read_is_complete_only_when_it_saw_count_distinct_ids():
    p = SkipPaginator(limit=2)
    p.update(["a", "b"], 5)
    p.update(["c", "c"], 5)  # a repeated id is one tag
    p.update([], 5)
    assert p.stop_reason == "empty page" and not p.complete
    whole = SkipPaginator(limit=2)
    whole.update(["a", "b"], 3)
    whole.update(["c"], 3)
    assert whole.stop_reason == "reached count" and whole.complete


def test_without_a_count_only_a_short_non_empty_page_ends_a_complete_read():
    p = SkipPaginator(limit=2)
    p.update(["a", "b"], None)
    p.update(["c"], None)
    assert p.stop_reason == "short page" and p.complete
    empty = SkipPaginator(limit=2)
    empty.update(["a", "b"], None)
    empty.update([], None)
    assert not empty.complete


@pytest.mark.parametrize(
    "pagination, data",
    [
        ({"hasNextPage": "false", "endCursor": "x"}, [{"id": 1}]),
        ({"hasNextPage": None}, [{"id": 1}]),
        ({"hasNextPage": True, "endCursor": "x"}, []),
    ],
)
def test_pleo_paging_that_breaks_the_contract_is_an_error_not_a_short_listing(pagination, data):
    with pytest.raises(FatalAPIError, match="hasNextPage"):
        CursorPaginator(2).update({"data": data, "pagination": pagination}, where="Pleo tags")


def test_a_page_with_repeated_rows_still_advances_by_its_limit():
    p = SkipPaginator(limit=3)
    p.update(["a", "b", "c", "a"], 5)  # four rows for a limit of three: one repeat
    assert p.params() == {"limit": "3", "skip": "3"} and p.has_more()
    p.update(["d", "e"], 5)
    assert p.complete and p.stop_reason == "reached count"


def endless_skip_pages(asked: list):
    """A GHL listing that never ends: a full page of new ids every time, the count always two pages ahead."""

    def fetch(params):
        asked.append(params)
        skip = int(params["skip"])
        return {"results": {"tags": [{"_id": f"t{n}"} for n in range(skip, skip + 2)], "count": skip + 4}}

    return fetch


def test_a_listing_that_does_not_end_within_its_page_cap_is_a_contract_error():
    asked: list = []
    bounds = ReadBounds(max_pages=4, where="GHL GET tags for location L1", basis="4 pages", location_id="L1")
    pages = paginate(endless_skip_pages(asked), SkipPaginator(2), lambda body: body["results"]["tags"], bounds)
    with pytest.raises(FatalAPIError, match=r"^GHL GET tags for location L1: the listing did not end after 4 pages"):
        list(pages)
    assert len(asked) == 4


def test_a_pleo_cursor_listing_that_never_ends_hits_the_same_cap():
    n = iter(range(10**6))

    def fetch(params):
        return {"data": [next(n)], "pagination": {"hasNextPage": True, "endCursor": f"c{next(n)}"}}

    with pytest.raises(FatalAPIError, match="did not end after 3 pages") as err:
        list(paginate(fetch, CursorPaginator(1), lambda body: body["data"], ReadBounds(max_pages=3)))
    assert err.value.kind == "upstream_contract"


def test_a_listing_that_ends_on_its_last_allowed_page_is_fine():
    bodies = iter(
        [{"results": {"tags": [{"_id": "a"}, {"_id": "b"}], "count": 3}}, {"results": {"tags": [{"_id": "c"}]}}]
    )
    pages = list(paginate(lambda p: next(bodies), SkipPaginator(2), lambda b: b["results"]["tags"], ReadBounds(2)))
    assert len(pages) == 2


@pytest.mark.parametrize(
    "last_good_rows, cap",
    [(0, 10), (150, 10), (300, 10), (350, 12), (2_000, 60), (10_000_000, 5_000)],
)
def test_the_page_cap_is_three_times_the_last_good_reads_pages_at_least_ten_at_most_the_ceiling(last_good_rows, cap):
    assert page_cap(last_good_rows, 100, 5_000)[0] == cap


def test_the_time_budget_counts_fetching_not_the_callers_work_between_pages():
    now = [0.0]

    def fetch(params):
        now[0] += 10  # each page takes 10 s to fetch
        return endless_skip_pages([])(params)

    bounds = ReadBounds(max_pages=100, max_read_s=25, where="GHL GET tags", clock=lambda: now[0])
    pages = paginate(fetch, SkipPaginator(2), lambda body: body["results"]["tags"], bounds)
    read = 0
    with pytest.raises(RetryableAPIError, match="took 30s over 3 page\\(s\\), more than the 25s allowed") as err:
        for _ in pages:
            read += 1
            now[0] += 1000  # the caller's own work (writes) between pages: not the read's time
    assert read == 3 and err.value.kind == "upstream_outage"
