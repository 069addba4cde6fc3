"""Hostile answers and inputs at the HTTP level, against the sandbox."""

from __future__ import annotations

import pytest

from ghl_pleo.errors import ConfigurationError, FatalAPIError, RetryableAPIError
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.locations import parse_location_ids

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"


@pytest.fixture
def box(sandbox, monkeypatch):
    sandbox.reset(locations=1, min_tags=30, max_tags=30)
    sandbox.clear_faults()
    sandbox.apply_env(monkeypatch)
    yield sandbox
    sandbox.clear_faults()


def hook() -> GhlHook:
    return GhlHook(retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, jitter=0), sleep=lambda s: None)


@pytest.mark.parametrize("bad", ["a/b", "..", "../locations/search", "x y"])
def test_a_location_id_with_path_characters_is_refused_before_any_request(box, bad):
    box.clear_requests()
    with pytest.raises(ConfigurationError, match="refused before any request"):
        list(hook().iter_tag_pages(bad))
    with pytest.raises(ConfigurationError):
        parse_location_ids(f'["ok1", "{bad}"]')
    assert box.requests() == {}


def test_an_html_error_page_with_status_200_is_a_retryable_error_not_data(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, body_kind="html")
    with pytest.raises(RetryableAPIError, match="not JSON") as err:
        list(hook().iter_tag_pages(loc))
    assert "text/html" in str(err.value)


def test_a_missing_envelope_is_a_clear_contract_error(box, monkeypatch):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint=TAGS, status=200, message="ok")  # {"statusCode": 200, "message": "ok"}: no results
    with pytest.raises(FatalAPIError, match="envelope missing"):
        list(hook().iter_tag_pages(loc))
