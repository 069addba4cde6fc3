"""Contract: the hooks' requests and the sandbox's responses, validated against the vendors' OpenAPI documents.

The documents are read from ../shared/specs (never copied into the project); the
test skips with a reason where that folder is absent. The vendor's
securitySchemes carry extra keys that strict spec validation rejects, so the
documents are loaded with spec validation off.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.warehouse import Warehouse
from tests.sandbox_client import GHL_TOKEN

pytestmark = [pytest.mark.contract, pytest.mark.integration]
GHL_HOST = "https://services.leadconnectorhq.com"
PLEO_HOST = "https://external.pleo.io"


@pytest.fixture(scope="module")
def docs(specs):
    from openapi_core import Config, OpenAPI

    cfg = Config(spec_validator_cls=None)
    return {
        "ghl_v2": OpenAPI.from_file_path(str(specs / "ghl/apps/social-media-posting.json"), config=cfg),
        "ghl_v3": OpenAPI.from_file_path(str(specs / "ghl/v3/social-planner-v3.json"), config=cfg),
        "ghl_locations": OpenAPI.from_file_path(str(specs / "ghl/apps/locations.json"), config=cfg),
        "pleo": OpenAPI.from_file_path(str(specs / "pleo/tags.yaml"), config=cfg),
    }


def doc_for(exchange: dict) -> str:
    if exchange["api"] == "pleo":
        return "pleo"
    if exchange["path"].startswith("/locations"):
        return "ghl_locations"
    return "ghl_v3" if exchange["headers"].get("version") == "v3" else "ghl_v2"


def errors_for(docs: dict, exchange: dict) -> list[str]:
    from openapi_core.testing import MockRequest, MockResponse

    spec = docs[doc_for(exchange)]
    host = PLEO_HOST if exchange["api"] == "pleo" else GHL_HOST
    args: dict[str, list[str]] = {}
    for k, v in exchange["query"]:
        args.setdefault(k, []).append(v)
    from werkzeug.datastructures import ImmutableMultiDict

    body = exchange["body"]
    request = MockRequest(
        host,
        exchange["method"].lower(),
        exchange["path"],
        args=ImmutableMultiDict([(k, v) for k, vs in args.items() for v in vs]),
        headers=exchange["headers"],
        data=json.dumps(body).encode() if body is not None else None,
        content_type=exchange["headers"].get("content-type", "application/json"),
    )
    resp_body = exchange["response"]
    raw = resp_body.encode() if isinstance(resp_body, str) else json.dumps(resp_body).encode()
    response = MockResponse(
        raw,
        status_code=exchange["status"],
        headers=exchange["response_headers"],
        content_type=exchange["response_headers"]["content-type"],
    )
    where = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
    out = [f"request {where}: {e}" for e in spec.iter_request_errors(request)]
    out += [f"response {where}: {e}" for e in spec.iter_response_errors(request, response)]
    return out


@pytest.fixture(scope="module")
def traffic(sandbox, specs):
    """Drive every endpoint the project uses through the hooks, and v2 statistics directly."""
    import os

    sandbox.reset(locations=2, min_tags=120, max_tags=130)
    sandbox.configure(pleo_rps=0)
    sandbox.clear_faults()
    env = sandbox.env()
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        sandbox.clear_requests()
        loc = sandbox.locations()[0]["id"]
        ghl = GhlHook(retry=RetryPolicy(max_attempts=1))
        tags = [t for _, page, _ in ghl.iter_tag_pages(loc) for t in page]
        ghl.tag_details(loc, [t["_id"] for t in tags[:5]])
        ghl.get_location(loc)
        accounts = ghl.accounts(loc)
        ghl.statistics(
            loc,
            {
                "profileIds": [a["profileId"] for a in accounts],
                "currentRange": {"startDate": "2026-11-01T00:00:00.000Z", "endDate": "2026-11-01T23:59:59.999Z"},
                "prevRange": {"startDate": "2026-10-31T00:00:00.000Z", "endDate": "2026-10-31T23:59:59.999Z"},
            },
        )
        requests.post(
            f"{sandbox.ghl_url}/social-media-posting/statistics",
            params={"locationId": loc},
            headers={"Authorization": f"Bearer {GHL_TOKEN}", "Version": "2021-07-28"},
            json={"profileIds": [a["profileId"] for a in accounts]},
            timeout=10,
        ).raise_for_status()
        ghl.search_locations("SbxAgency0000000001")
        pleo = PleoHook(rate_slots=Warehouse().rate_slots, retry=RetryPolicy(max_attempts=1))
        group = pleo.create_group("ghl-social-contract", "Social: Contract")
        pleo.list_groups()
        pleo.update_group({**group, "name": "Social: Contract 2", "metadata": {"k": "v"}})
        created = [pleo.create_tag(group["id"], f"code{i}", f"Tag {i}") for i in range(120)]
        pleo.update_tag(created[0]["id"], code="code0", name="Renamed", archived=True)
        [t for page in pleo.iter_tags(group["id"]) for t in page]
        dim = pleo.create_dimension(group["id"], code="ghl_location", name="GHL location", display_order=1)
        pleo.list_dimensions(group["id"])
        pleo.put_dimension_value(created[1]["id"], dim["id"], "L1", exists=False)
        pleo.put_dimension_value(created[1]["id"], dim["id"], "L2", exists=True)
        [t for page in pleo.iter_aggregated_tags([c["id"] for c in created[:3]]) for t in page]
        return sandbox.exchanges()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_every_request_and_response_matches_the_vendor_documents(docs, traffic):
    problems = [p for e in traffic for p in errors_for(docs, e)]
    assert problems == [], "\n".join(problems[:20])


def test_the_traffic_covers_every_endpoint_the_project_uses(traffic):
    seen = Counter(f"{e['api']} {e['route']}" for e in traffic)
    expected = {
        "ghl GET /social-media-posting/{locationId}/tags",
        "ghl POST /social-media-posting/{locationId}/tags/details",
        "ghl GET /social-media-posting/{locationId}/accounts",
        "ghl POST /social-media-posting/statistics",
        "ghl GET /locations/{locationId}",
        "ghl GET /locations/search",
        "pleo GET /v0/tag-groups",
        "pleo POST /v0/tag-groups",
        "pleo PUT /v0/tag-groups/{groupId}",
        "pleo GET /v0/tag-groups/{groupId}/tags",
        "pleo POST /v0/tag-groups/{groupId}/tags",
        "pleo PUT /v0/tags/{tagId}",
        "pleo GET /v0/tag-groups/{groupId}/dimensions",
        "pleo POST /v0/tag-groups/{groupId}/dimensions",
        "pleo POST /v0/aggregations/tags",
        "pleo POST /v0/tags/{tagId}/dimensions/{dimensionId}",
        "pleo PUT /v0/tags/{tagId}/dimensions/{dimensionId}",
    }
    assert expected <= set(seen), expected - set(seen)
    assert {e["headers"].get("version") for e in traffic if e["route"].endswith("statistics")} == {"v3", "2021-07-28"}


def test_the_validator_catches_a_broken_request_and_a_broken_response(docs, traffic):
    """Negative control: the checks above can fail."""
    tags = next(e for e in traffic if e["route"] == "GET /social-media-posting/{locationId}/tags")
    no_version = {**tags, "headers": {k: v for k, v in tags["headers"].items() if k != "version"}}
    assert any("request" in p for p in errors_for(docs, no_version))
    group = next(e for e in traffic if e["route"] == "POST /v0/tag-groups")
    broken = {**group, "response": {"data": {**group["response"]["data"], "archived": "no"}}}
    assert any("response" in p for p in errors_for(docs, broken))
