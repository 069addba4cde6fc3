"""Contract: Pleo's Accounting Entries document (OpenAPI 3.2) against our search client and the sandbox.

The document is read from ../shared/specs/pleo/accounting-entries.yaml (never copied; the test skips with a reason
where it is absent). The pinned validators handle 3.2: openapi-spec-validator 0.8.5 validates the document (as 3.2,
strict), openapi-core 0.23.1 loads it with spec validation on and checks requests and responses with its 3.2
validators. What the document leaves open: the search documents only 200, 403 and 503 (401 and 400 are not
described), so error answers are not checked against it; that ``company_id`` or ``organization_id`` is required is
said only in prose, so the sandbox enforces it and the validator cannot.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.hooks.pleo_entries import SEARCH, iter_entry_pages
from tests.sandbox_client import PLEO_COMPANY, PLEO_TOKEN

pytestmark = [pytest.mark.contract, pytest.mark.integration]
PLEO_HOST = "https://external.pleo.io"
ROUTE = f"POST {SEARCH}"
CT = "application/json;charset=UTF-8"
DAY = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def doc_path(specs):
    path = specs / "pleo/accounting-entries.yaml"
    if not path.is_file():
        pytest.skip(f"Pleo's accounting entries document not found at {path}")
    return path


@pytest.fixture(scope="module")
def doc(doc_path):
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(doc_path))  # spec validation on: the 3.2 document must pass it


def test_the_pinned_validators_load_the_3_2_document(doc_path, doc):
    from importlib.metadata import version

    from openapi_spec_validator import OpenAPIV32SpecValidator, validate
    from openapi_spec_validator.readers import read_from_filename

    raw, _ = read_from_filename(str(doc_path))
    assert raw["openapi"].startswith("3.2")
    validate(raw, cls=OpenAPIV32SpecValidator)  # raises on any error
    assert (version("openapi-core"), version("openapi-spec-validator")) == ("0.23.1", "0.8.5")
    assert type(doc).__name__ == "OpenAPI" and doc.request_validator_cls.__name__ == "V32RequestValidator"


def request_for(exchange: dict):
    from openapi_core.testing import MockRequest
    from werkzeug.datastructures import ImmutableMultiDict

    body = exchange["body"]
    return MockRequest(
        PLEO_HOST,
        exchange["method"].lower(),
        exchange["path"],
        args=ImmutableMultiDict([tuple(q) for q in exchange["query"]]),
        headers=exchange["headers"],
        data=json.dumps(body).encode() if body is not None else None,
        content_type=exchange["headers"].get("content-type", "application/json"),
    )


def errors_for(doc, exchange: dict) -> list[str]:
    from openapi_core.testing import MockResponse

    request = request_for(exchange)
    where = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
    out = [f"request {where}: {e}" for e in doc.iter_request_errors(request)]
    response = MockResponse(
        json.dumps(exchange["response"]).encode(),
        status_code=exchange["status"],
        headers=exchange["response_headers"],
        content_type=exchange["response_headers"]["content-type"],
    )
    return out + [f"response {where}: {e}" for e in doc.iter_response_errors(request, response)]


@pytest.fixture(scope="module")
def traffic(sandbox):
    """Two social groups made through the API, two days of seeded entries, and the client reading them."""
    sandbox.reset(locations=1, min_tags=10, max_tags=10)
    sandbox.configure(pleo_rps=0)
    sandbox.clear_faults()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in sandbox.env(shared_rate=False).items():
            mp.setenv(k, v)
        pleo = PleoHook(retry=RetryPolicy(max_attempts=1))
        for code in ("ghl-social-A", "ghl-social-B"):
            group = pleo.create_group(code, code)
            for i in range(3):
                pleo.create_tag(group["id"], f"{code}-{i}", f"Tag {code} {i}")
        sandbox._admin("POST", "/pleo/entries/generate", json={"start": "2026-11-01", "days": 2, "currency": "EUR"})
        sandbox._admin("POST", "/pleo/entries", json={"entries": [{"performedAt": "2026-11-01T10:00:00.000Z"}]})
        sandbox.clear_requests()
        for deleted in (True, False):
            for _ in iter_entry_pages(pleo, DAY, DAY + timedelta(days=2), include_deleted=deleted, limit=7):
                pass
        return [e for e in sandbox.exchanges() if e["route"] == ROUTE]


def test_the_clients_requests_and_the_sandboxs_answers_match_the_document(doc, traffic):
    assert len(traffic) >= 12 and {e["status"] for e in traffic} == {200}
    served = [row for e in traffic for row in e["response"]["data"]]
    assert {row["family"] for row in served} >= {"CARD_PURCHASE", "CREDIT_NOTE", "WALLET", "BILL_INVOICE_PAYMENT"}
    assert any(row["splitItems"] for row in served) and any(row.get("deletedAt") for row in served)
    problems = [p for e in traffic for p in errors_for(doc, e)]
    assert problems == [], "\n".join(problems[:20])


def test_the_validator_catches_a_broken_request_and_a_broken_response(doc, traffic):
    """Negative control: the check above can fail."""
    good = traffic[0]
    no_flag = {**good, "body": {k: v for k, v in good["body"].items() if k != "includeDeleted"}}
    assert any(p.startswith("request") for p in errors_for(doc, no_flag))
    row = {k: v for k, v in good["response"]["data"][0].items() if k != "tags"}
    broken = {**good, "response": {**good["response"], "data": [row]}}
    assert any(p.startswith("response") for p in errors_for(doc, broken))


BAD = [
    ({"limit": "101"}, {"includeDeleted": False}),
    ({"limit": "0"}, {"includeDeleted": False}),
    ({}, {}),
    ({}, {"includeDeleted": "yes"}),
    ({}, {"includeDeleted": False, "performedAtStart": "yesterday"}),
    ({}, {"includeDeleted": False, "families": ["GROCERIES"]}),
    ({"company_id": "not-a-uuid"}, {"includeDeleted": False}),
]


@pytest.mark.parametrize(("query", "body"), BAD)
def test_the_sandbox_refuses_what_the_document_refuses(sandbox, doc, query, body):
    params = {"company_id": PLEO_COMPANY, **query}
    resp = requests.post(
        f"{sandbox.pleo_url}{SEARCH}",
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {PLEO_TOKEN}", "Content-Type": CT},
        timeout=10,
    )
    exchange = {"method": "POST", "path": SEARCH, "query": list(params.items()), "body": body}
    exchange["headers"] = {"content-type": CT}

    assert list(doc.iter_request_errors(request_for(exchange))), "the document should refuse this request"
    assert resp.status_code == 400, resp.text
