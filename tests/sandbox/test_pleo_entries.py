"""The sandbox's accounting entries: the search route's checks and filters, and the admin endpoints that fill it."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox_client import PLEO_COMPANY, PLEO_TOKEN

pytestmark = pytest.mark.integration
SEARCH = "/v1/accounting-entries:search"
AUTH = {"Authorization": f"Bearer {PLEO_TOKEN}"}
ZERO = "00000000-0000-0000-0000-000000000000"


def post(box, body, headers=AUTH, **params):
    params.setdefault("company_id", PLEO_COMPANY)
    return requests.post(f"{box.pleo_url}{SEARCH}", params=params, json=body, headers=headers, timeout=10)


def social_tags(box) -> dict[str, set[str]]:
    """Group id -> tag ids, for the sync's own groups."""
    state = box.pleo_state()
    groups = {g["id"] for g in state["groups"].values() if g["code"].startswith("ghl-social-")}
    out: dict[str, set[str]] = {g: set() for g in groups}
    for tag in state["tags"].values():
        if tag["groupId"] in groups:
            out[tag["groupId"]].add(tag["id"])
    return out


@pytest.fixture
def box(sandbox):
    sandbox.reset(locations=1, min_tags=10, max_tags=10)
    sandbox.configure(pleo_rps=0)
    sandbox.clear_faults()
    return sandbox


def make_groups(box, codes=("ghl-social-A", "ghl-social-B")):
    for code in codes:
        group = requests.post(
            f"{box.pleo_url}/v0/tag-groups",
            params={"company_id": PLEO_COMPANY},
            json={"code": code, "name": code, "archived": False},
            headers=AUTH,
            timeout=10,
        ).json()["data"]
        for i in range(3):
            requests.post(
                f"{box.pleo_url}/v0/tag-groups/{group['id']}/tags",
                json={"code": f"{code}-{i}", "name": f"Spring Promo {code[-1]}{i}", "archived": False},
                headers=AUTH,
                timeout=10,
            ).raise_for_status()


def generate(box, **body):
    return requests.post(f"{box.pleo_url}/_admin/pleo/entries/generate", json=body, timeout=10)


def test_generating_before_a_sync_says_what_is_missing(box):
    resp = generate(box, start="2026-11-01")
    assert resp.status_code == 409 and "run a tag sync first" in resp.json()["error"]


def test_the_seeded_set_covers_every_case_with_the_synced_tags(box):
    make_groups(box)
    made = generate(box, start="2026-11-01", days=2).json()["entries"]
    assert made == generate(box, start="2026-11-01", days=2).json()["entries"]  # same state, same entries
    notes = {e["note"] for e in made}
    for label in ("refund", "credit note", "deleted", "cancelled", "foreign, no totalBillValue", "wallet load"):
        assert f"sandbox: {label}" in notes
    assert any(e["note"].startswith("Boosted posts for Spring Promo A0") and not e["tags"] for e in made)
    social = social_tags(box)
    refs = [t for e in made for t in e["tags"] + [t for s in e["splitItems"] for t in s["tags"]]]
    assert all(
        r["tagGroupId"] in social and (r["tagId"] in social[r["tagGroupId"]] or r["tagId"] == ZERO) for r in refs
    )
    assert any(r["tagId"] == ZERO for r in refs)
    assert any(len({r["tagGroupId"] for r in e["tags"]}) == 2 for e in made)  # tags in two social groups
    assert any(e["totalBillValue"]["minors"] < 0 for e in made if "totalBillValue" in e)  # a refund
    assert any("totalBillValue" not in e and e["transactionValue"]["currency"] == "USD" for e in made)
    assert {e["family"] for e in made} >= {"BALANCE_AMENDMENT", "BILL_INVOICE_PAYMENT", "OVERDRAFT", "PER_DIEM"}


def test_search_checks_auth_and_company_and_serves_its_filters_in_cursor_pages(box):
    make_groups(box)
    made = generate(box, start="2026-11-01", days=2).json()["entries"]
    body = {
        "includeDeleted": True,
        "performedAtStart": "2026-11-01T00:00:00Z",
        "performedAtEnd": "2026-11-02T00:00:00Z",
    }
    assert post(box, body, headers={}).status_code == 401
    assert post(box, body, company_id="").status_code == 400
    assert post(box, {"performedAtStart": "2026-11-01T00:00:00Z"}).status_code == 400  # includeDeleted is required
    ids, after = [], None
    while True:
        page = post(box, body, limit=4, **({"after": after} if after else {})).json()
        ids += [e["id"] for e in page["data"]]
        assert len(page["data"]) <= 4
        if not page["pagination"]["hasNextPage"]:
            break
        after = page["pagination"]["endCursor"]
    # Inclusive end: the 2nd's first instant is served; another company's entry is not.
    want = [
        e["id"]
        for e in sorted(made, key=lambda e: (e["performedAt"], e["id"]))
        if e["companyId"] == PLEO_COMPANY and "2026-11-01" <= e["performedAt"] <= "2026-11-02T00:00:00.000Z"
    ]
    assert ids == want and page["pagination"]["total"] == len(want)
    live = post(box, {**body, "includeDeleted": False}, limit=100).json()["data"]
    assert len(live) == len(want) - 1 and not any(e.get("deletedAt") for e in live)
    cards = post(box, {**body, "families": ["WALLET"], "status": ["COMPLETED"]}).json()["data"]
    assert [e["note"] for e in cards] == ["sandbox: wallet load"]


def test_loaded_entries_get_the_required_fields_and_a_reset_empties_them(box):
    resp = box._admin("POST", "/pleo/entries", json={"entries": [{"performedAt": "2026-11-01T10:00:00.000Z"}]})
    entry = box._admin("GET", "/pleo/entries")["entries"][0]
    assert entry["id"] == resp["ids"][0] and entry["companyId"] == PLEO_COMPANY and entry["splitItems"] == []
    bad = requests.post(f"{box.pleo_url}/_admin/pleo/entries", json={"entries": [{}]}, timeout=10)
    assert bad.status_code == 400 and "performedAt" in bad.json()["error"]
    box.reset(locations=1, min_tags=10, max_tags=10)
    assert box._admin("GET", "/pleo/entries")["entries"] == []
