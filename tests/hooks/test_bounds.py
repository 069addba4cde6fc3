"""The answer bounds without a network: reading a body up to the limit, strict JSON, the settings."""

from __future__ import annotations

import io

import pytest
import requests
from urllib3 import HTTPResponse

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.hooks.bounds import ContractBreach, ResponseTooLarge, listing_bounds, read_capped, strict_json


def streamed(status: int, body: bytes, **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.raw = HTTPResponse(io.BytesIO(body), preload_content=False)
    r.headers = requests.structures.CaseInsensitiveDict(headers)
    r.encoding = "utf-8"
    return r


def test_a_body_within_the_limit_is_read_whole():
    r = streamed(200, b'{"a": 1}')
    read_capped(r, 8)
    assert r.content == b'{"a": 1}' and r.json() == {"a": 1}


def test_a_success_answer_over_the_limit_is_refused_whether_declared_or_not():
    with pytest.raises(ResponseTooLarge, match="larger than 10 bytes") as err:
        read_capped(streamed(200, b"x" * 11), 10)
    assert err.value.declared is None and "read was stopped" in err.value.describe()
    with pytest.raises(ResponseTooLarge) as err:
        read_capped(streamed(200, b"", **{"Content-Length": "999"}), 10)  # refused before reading
    assert err.value.declared == 999


def test_an_error_answer_over_the_limit_is_cut_not_refused():
    r = streamed(503, b"y" * 100_000)
    read_capped(r, 1000)
    assert r.content == b"y" * 1000


@pytest.mark.parametrize(
    "body", [b'{"n": NaN}', b'{"n": -Infinity}', b'{"n": 1e400}', b'[{"a": [[[' * 30 + b"]]]}]" * 30]
)
def test_strict_json_refuses_what_the_contract_cannot_hold(body):
    r = requests.Response()
    r._content, r.encoding = body, None
    with pytest.raises(ContractBreach):
        strict_json(r)


def test_strict_json_reads_utf16_as_requests_does():
    r = requests.Response()
    r._content, r.encoding = '{"name": "Ünïcode"}'.encode("utf-16"), None
    assert strict_json(r) == {"name": "Ünïcode"}


@pytest.mark.parametrize("value", ["many", "0", "-5", "nan", "inf"])
def test_a_bad_limit_setting_is_a_configuration_error_naming_it(monkeypatch, value):
    monkeypatch.setenv("GHL_PLEO_MAX_LISTING_PAGES", value)
    with pytest.raises(ConfigurationError, match="GHL_PLEO_MAX_LISTING_PAGES"):
        listing_bounds("x", "/x", None, limit=100)
