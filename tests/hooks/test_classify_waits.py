"""How long to wait: Retry-After in both forms, and the capped exponential backoff."""

from __future__ import annotations

import pytest

from ghl_pleo.hooks.client import RetryPolicy, parse_retry_after


@pytest.mark.parametrize(
    "value, expected", [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None), ("", None)]
)
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(backoff_base_s=1, backoff_max_s=5, jitter=0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
