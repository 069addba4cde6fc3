"""The accounting-entries search (``ghl_pleo.hooks.pleo_entries``) against the sandbox over HTTP.

All pages are read (in pages of 5, so a day's seeded set takes several), the window is [start, end) even though
the sandbox serves an inclusive end, every break of the cursor chain is an incomplete read (never a shorter list),
a wrong token is an authentication error whose message carries no token, and a dry run reads.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from ghl_pleo.errors import AuthenticationError, IncompleteReadError
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.hooks.pleo_entries import iter_entry_pages
from tests.sandbox_client import PLEO_COMPANY, PLEO_TOKEN

pytestmark = pytest.mark.integration
SEARCH = "POST /v1/accounting-entries:search"
DAY = datetime(2026, 11, 2, tzinfo=UTC)


def hook(**kwargs) -> PleoHook:
    return PleoHook(retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, jitter=0), sleep=lambda s: None, **kwargs)


@pytest.fixture(scope="module")
def seeded(sandbox):
    """Two social groups with tags made through the API (as a sync makes them), then three days of entries."""
    sandbox.reset(locations=1, min_tags=30, max_tags=30)
    sandbox.configure(pleo_rps=0)
    env = sandbox.env(shared_rate=False)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        pleo = hook()
        for code in ("ghl-social-LocA", "ghl-social-LocB"):
            group = pleo.create_group(code, f"Social: {code}")
            for i in range(3):
                pleo.create_tag(group["id"], f"{code}-t{i}", f"Summer Sale {code[-1]}{i}")
    made = sandbox._admin("POST", "/pleo/entries/generate", json={"start": "2026-11-01", "days": 3})["entries"]
    return made


@pytest.fixture
def box(sandbox, seeded, monkeypatch):
    sandbox.clear_faults()
    sandbox.apply_env(monkeypatch, shared_rate=False)
    yield sandbox
    sandbox.clear_faults()


def expected_ids(entries: list[dict], start: datetime, end: datetime) -> set[str]:
    """What the day holds, computed here from the sandbox's own list: this company, [start, end)."""
    out = set()
    for e in entries:
        at = datetime.fromisoformat(e["performedAt"].replace("Z", "+00:00"))
        if e["companyId"] == PLEO_COMPANY and start <= at < end:
            out.add(e["id"])
    return out


def test_every_page_is_read_and_the_window_is_start_inclusive_end_exclusive(box, seeded, caplog):
    caplog.set_level(logging.INFO, logger="ghl_pleo.hooks.pleo_entries")
    pages = list(iter_entry_pages(hook(), DAY, DAY + timedelta(days=1), limit=5))
    got = [e["id"] for p in pages for e in p.entries]
    assert set(got) == expected_ids(seeded, DAY, DAY + timedelta(days=1)) and len(got) == len(set(got))
    assert len(pages) >= 5  # 21 of the day's rows, plus the next day's first instant, in pages of 5
    # The sandbox's performedAtEnd is inclusive: the next day's 00:00:00.000 entry was served and dropped here.
    assert sum(p.outside for p in pages) == 1
    assert any(e["note"] == "sandbox: last millisecond" for p in pages for e in p.entries)
    assert any(e.get("deletedAt") for p in pages for e in p.entries)  # includeDeleted defaults to true
    lines = [r.getMessage() for r in caplog.records if "accounting entries" in r.getMessage()]
    assert len(lines) == len(pages) and "page 1: 5 rows" in lines[0]
    sent = [x for x in box.exchanges() if x["route"] == SEARCH]
    assert {x["body"]["performedAtStart"] for x in sent} == {"2026-11-02T00:00:00.000Z"}
    assert all(("company_id", PLEO_COMPANY) in [tuple(q) for q in x["query"]] for x in sent)


def test_deleted_entries_are_left_out_when_asked(box, seeded):
    pages = iter_entry_pages(hook(), DAY, DAY + timedelta(days=1), include_deleted=False)
    notes = [e["note"] for p in pages for e in p.entries]
    assert "sandbox: deleted" not in notes and "sandbox: cancelled" in notes


@pytest.mark.parametrize(
    "kind",
    ["empty_has_next", "drop_cursor", "repeat_cursor", "over_limit", "stops_early", "repeat_rows"],
)
def test_a_broken_cursor_chain_is_an_incomplete_read_not_a_shorter_list(box, kind):
    box.fault(api="pleo", endpoint=SEARCH, body_kind=kind, skip=1 if kind in ("repeat_cursor", "stops_early") else 0)
    read = []
    with pytest.raises(IncompleteReadError) as err:
        for page in iter_entry_pages(hook(), DAY, DAY + timedelta(days=1), limit=5):
            read.append(page)
    assert err.value.kind == "incomplete_read" and "incomplete-read" in str(err.value)
    assert len(read) <= 2  # it stopped at the break instead of returning what it had as the whole day


def test_a_wrong_token_is_an_authentication_error_without_the_token(box, monkeypatch):
    box.apply_env(monkeypatch, shared_rate=False)
    import json
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_PLEO_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_PLEO_DEFAULT", json.dumps({**conn, "password": "wrong-token-4f9e1a"}))
    with pytest.raises(AuthenticationError) as err:
        next(iter_entry_pages(hook(), DAY, DAY + timedelta(days=1)))
    assert "wrong-token-4f9e1a" not in str(err.value) and PLEO_TOKEN not in str(err.value)


def test_a_dry_run_reads_entries(box, seeded):
    box.clear_requests()
    pages = list(iter_entry_pages(hook(dry_run=True), DAY, DAY + timedelta(days=1)))
    assert {e["id"] for p in pages for e in p.entries} == expected_ids(seeded, DAY, DAY + timedelta(days=1))
    assert box.requests().get(f"Pleo {SEARCH}") == len(pages)


def test_a_server_error_is_retried_then_read_whole(box, seeded):
    box.fault(api="pleo", endpoint=SEARCH, status=503, times=1)
    pages = list(iter_entry_pages(hook(), DAY, DAY + timedelta(days=1), limit=5))
    assert {e["id"] for p in pages for e in p.entries} == expected_ids(seeded, DAY, DAY + timedelta(days=1))


def test_an_html_page_with_status_200_is_not_taken_for_entries(box):
    from ghl_pleo.errors import RetryableAPIError

    box.fault(api="pleo", endpoint=SEARCH, body_kind="html")
    with pytest.raises(RetryableAPIError):
        list(iter_entry_pages(hook(), DAY, DAY + timedelta(days=1)))


def test_a_redirected_search_is_never_followed_and_its_body_goes_nowhere_else(box):
    from ghl_pleo.errors import FatalAPIError
    from tests.receivers import Recorder

    other = Recorder({"data": [], "pagination": {"hasNextPage": False, "hasPreviousPage": False}})
    try:
        box.fault(api="pleo", endpoint=SEARCH, body_kind="redirect", status=307, to=f"{other.host}/steal")
        with pytest.raises(FatalAPIError) as err:
            list(iter_entry_pages(hook(), DAY, DAY + timedelta(days=1)))
        assert err.value.kind == "upstream_contract" and f"a redirect to {other.host}" in str(err.value)
        assert other.requests == []  # an empty "final page" from elsewhere was never taken for the day
    finally:
        other.stop()
