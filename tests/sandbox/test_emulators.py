"""The sandbox enforces what the real services enforce, and keeps its state between runs."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.sandbox_client import GHL_TOKEN, PLEO_COMPANY, PLEO_TOKEN, Sandbox

pytestmark = pytest.mark.integration
V2 = {"Authorization": f"Bearer {GHL_TOKEN}", "Version": "2021-07-28"}
PLEO = {"Authorization": f"Bearer {PLEO_TOKEN}"}


@pytest.fixture
def box(sandbox):
    sandbox.reset(locations=2, min_tags=10, max_tags=10)
    sandbox.configure(ghl_burst_limit=100, ghl_burst_window_s=10.0, pleo_rps=0)
    sandbox.clear_faults()
    yield sandbox
    sandbox.configure(ghl_burst_limit=100, ghl_burst_window_s=10.0, pleo_rps=0)


def tags_url(box, loc):
    return f"{box.ghl_url}/social-media-posting/{loc}/tags"


def test_seed_is_deterministic(box):
    first = [t["_id"] for loc in box.locations() for t in box.ghl_tags(loc["id"])]
    box.reset(locations=2, min_tags=10, max_tags=10)
    assert [t["_id"] for loc in box.locations() for t in box.ghl_tags(loc["id"])] == first


def test_ghl_requires_a_bearer_token_and_the_version_header(box):
    loc = box.locations()[0]["id"]
    assert requests.get(tags_url(box, loc), headers={"Version": "2021-07-28"}).status_code == 401
    assert requests.get(tags_url(box, loc), headers={**V2, "Authorization": "Bearer nope"}).status_code == 401
    assert requests.get(tags_url(box, loc), headers={"Authorization": V2["Authorization"]}).status_code == 400
    assert requests.get(f"{box.ghl_url}/locations/{loc}", headers={**V2, "Version": "v3"}).status_code == 400
    ok = requests.get(tags_url(box, loc), headers=V2, params={"limit": 3, "skip": 2})
    assert ok.status_code == 200 and len(ok.json()["results"]["tags"]) == 3 and ok.json()["results"]["count"] == 10


def test_a_scope_the_ghl_token_lacks_answers_403_as_ghl_documents_it_on_the_routes_that_need_it(box):
    loc = box.locations()[0]["id"]
    box.configure(ghl_denied_scopes=["socialplanner/tag.readonly"])
    try:
        denied = requests.get(tags_url(box, loc), headers=V2)
        assert denied.status_code == 403
        assert denied.json() == {
            "statusCode": 403,
            "message": "You do not have permission to access this resource",
            "error": "Forbidden",
        }  # common-schemas.json's ForbiddenDTO
        assert requests.get(tags_url(box, loc), headers={**V2, "Authorization": "Bearer nope"}).status_code == 401
        assert requests.get(f"{box.ghl_url}/locations/{loc}", headers=V2).status_code == 200  # locations.readonly
    finally:
        box.configure(ghl_denied_scopes=[])
    assert requests.get(tags_url(box, loc), headers=V2).status_code == 200


def test_ghl_burst_limit_answers_429_with_rate_limit_headers(box):
    loc = box.locations()[0]["id"]
    box.configure(ghl_burst_limit=5, ghl_burst_window_s=30.0)
    statuses = []
    for _ in range(7):
        r = requests.get(tags_url(box, loc), headers=V2)
        statuses.append(r.status_code)
    assert statuses == [200] * 5 + [429] * 2
    assert r.headers["X-RateLimit-Max"] == "5" and r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["Retry-After"]) > 0 and r.headers["X-RateLimit-Interval-Milliseconds"] == "30000"
    other = box.locations()[1]["id"]
    assert requests.get(tags_url(box, other), headers=V2).status_code == 200  # per location


def test_pleo_requires_company_id_and_a_token_and_limits_the_rate(box):
    assert requests.get(f"{box.pleo_url}/v0/tag-groups", headers=PLEO).status_code == 400
    assert requests.get(f"{box.pleo_url}/v0/tag-groups", params={"company_id": PLEO_COMPANY}).status_code == 401
    box.configure(pleo_rps=3)
    codes = [
        requests.get(f"{box.pleo_url}/v0/tag-groups", headers=PLEO, params={"company_id": PLEO_COMPANY}).status_code
        for _ in range(5)
    ]
    assert codes.count(429) >= 1 and codes[:3] == [200, 200, 200]


def test_tag_lists_hide_archived_unless_asked(box):
    s = requests.Session()
    s.headers.update(PLEO)
    g = s.post(
        f"{box.pleo_url}/v0/tag-groups",
        params={"company_id": PLEO_COMPANY},
        json={"code": "g", "name": "G", "archived": False},
    ).json()["data"]
    t = s.post(
        f"{box.pleo_url}/v0/tag-groups/{g['id']}/tags", json={"code": "a", "name": "A", "archived": False}
    ).json()["data"]
    s.put(f"{box.pleo_url}/v0/tags/{t['id']}", json={"code": "a", "name": "A", "archived": True})
    assert s.get(f"{box.pleo_url}/v0/tag-groups/{g['id']}/tags").json()["data"] == []
    assert (
        len(s.get(f"{box.pleo_url}/v0/tag-groups/{g['id']}/tags", params={"include_archived": "true"}).json()["data"])
        == 1
    )


def test_faults_are_injected_per_endpoint_and_counted(box):
    loc = box.locations()[0]["id"]
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=502, times=1)
    box.clear_requests()
    assert requests.get(tags_url(box, loc), headers=V2).status_code == 502
    assert requests.get(tags_url(box, loc), headers=V2).status_code == 200
    assert requests.get(f"{box.ghl_url}/locations/{loc}", headers=V2).status_code == 200
    assert box.requests() == {
        "GHL GET /social-media-posting/{locationId}/tags": 2,
        "GHL GET /locations/{locationId}": 1,
    }


def test_state_survives_a_restart(tmp_path):
    box = Sandbox(tmp_path, config={"locations": 1, "min_tags": 3, "max_tags": 3})
    try:
        loc = box.locations()[0]["id"]
        box.add_tag(loc, tag="Persisted", _id="cccccccccccccccccccccccc")
    finally:
        box.stop()
    again = Sandbox(tmp_path)
    try:
        assert any(t["_id"] == "cccccccccccccccccccccccc" for t in again.ghl_tags(loc))
    finally:
        again.stop()


def test_the_delay_switch_holds_one_endpoint_until_it_is_lowered_and_the_rest_keep_answering(box):
    """``delays`` holds every request to the endpoints it names (counted on arrival); clearing it lets them go."""
    loc = box.locations()[0]["id"]
    box.clear_requests()
    box.configure(delays={"GHL GET /social-media-posting/{locationId}/tags": 600})
    answers: list[int] = []
    try:
        held = threading.Thread(target=lambda: answers.append(requests.get(tags_url(box, loc), headers=V2).status_code))
        held.start()
        while box.requests().get("GHL GET /social-media-posting/{locationId}/tags", 0) < 1:
            time.sleep(0.05)  # until the held request has arrived
        assert requests.get(f"{box.ghl_url}/locations/{loc}", headers=V2).status_code == 200  # others answer
        assert answers == []
    finally:
        box.configure(delays={})
    held.join()
    assert answers == [200]
