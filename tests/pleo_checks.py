"""What a user checks in Pleo after a sync: one active tag per live GHL tag, tag by tag, with its values."""

from __future__ import annotations

from collections import Counter

from tests.sandbox_client import Sandbox, pleo_tags_by_group

# The seed's special names (location 0) and what Pleo must show for them; None = rejected.
SPECIAL = {
    "  Black\tFriday \n Deals  ": "Black Friday Deals",
    "Cafe\u0301 Week": "Caf\u00e9 Week",
    "No\u00a0Break\u00a0Space": "No Break Space",
    "🎉 Launch Party": "🎉 Launch Party",
    "Family 👨\u200d👩\u200d👧 Day": "Family 👨\u200d👩\u200d👧 Day",
    "Zero\u200bWidth": "ZeroWidth",
    "\u200b\t \u200e": None,
    "<b>Bold</b> & 'quotes'": "<b>Bold</b> & 'quotes'",
}


def group_of(state: dict, location_id: str) -> dict:
    groups = [g for g in state["groups"].values() if g["code"] == f"ghl-social-{location_id}"]
    assert len(groups) == 1, f"{len(groups)} groups for {location_id}"
    return groups[0]


def live_codes(box: Sandbox, location_id: str) -> set[str]:
    """The codes of the active tags in the location's Pleo group."""
    state = box.pleo_state()
    group = group_of(state, location_id)
    return {t["code"] for t in state["tags"].values() if t["groupId"] == group["id"] and not t["archived"]}


def assert_pleo_matches_ghl(box: Sandbox) -> None:
    """Pleo, tag by tag: one active tag per live GHL tag (code = _id, normalised name); archived otherwise."""
    state = box.pleo_state()
    tags_by_group = pleo_tags_by_group(state)
    dims = {d["id"]: d for d in state["dimensions"].values()}
    for i, loc in enumerate(box.locations()):
        group = group_of(state, loc["id"])
        assert group["name"] == f"Social: {loc['name']}" and not group["archived"]
        pleo_tags = tags_by_group.get(group["id"], [])
        by_code: dict[str, list[dict]] = {}
        for t in pleo_tags:
            by_code.setdefault(t["code"].casefold(), []).append(t)
        ghl_ids = set()
        for g in box.ghl_tags(loc["id"]):
            ghl_ids.add(g["_id"])
            expected = SPECIAL.get(g["tag"], g["tag"]) if i == 0 else g["tag"]
            found = by_code.get(g["_id"].casefold(), [])
            active = [t for t in found if not t["archived"]]
            if expected is None:
                assert not active, f"rejected tag {g['_id']} must not be active in Pleo"
            elif g["deleted"]:
                assert not active, f"deleted tag {g['_id']} is active in Pleo"
            else:
                assert len(active) == 1, f"{g['_id']} ({g['tag']!r}): {len(active)} active tags in Pleo"
                assert active[0]["name"] == expected
                values = {
                    dims[k.split("|")[1]]["code"]: v["value"]
                    for k, v in state["values"].items()
                    if k.startswith(active[0]["id"] + "|")
                }
                assert values["ghl_location"] == loc["id"]
                assert values["ghl_created_by"] == g["createdBy"]
                assert values["ghl_updated_at"] == g["updatedAt"][:19] + "Z"
                assert set(values) == {"ghl_location", "ghl_created_by", "ghl_created_at", "ghl_updated_at"}
        for code, found in by_code.items():
            if code not in {x.casefold() for x in ghl_ids}:
                assert all(t["archived"] for t in found), f"{code} is gone from GHL but active in Pleo"


def rename_delete_add(box: Sandbox, location_id: str, new_name: str, added_name: str, added_id: str) -> list[dict]:
    """In GHL: rename the location's first live tag, delete its second, add one; returns the live tags before."""
    live = [t for t in box.ghl_tags(location_id) if not t["deleted"]]
    box.edit_tag(location_id, live[0]["_id"], tag=new_name)
    box.edit_tag(location_id, live[1]["_id"], deleted=True)
    box.add_tag(location_id, tag=added_name, _id=added_id)
    return live


def assert_no_duplicate_codes(box: Sandbox) -> None:
    """One tag group per location, and no tag code twice in any group, archived copies included (a second writer
    that created what the first had just created leaves one archived twin behind, which the check above allows)."""
    state = box.pleo_state()
    for loc in box.locations():
        group_of(state, loc["id"])
    for group_id, tags in pleo_tags_by_group(state).items():
        twice = sorted(c for c, n in Counter(t["code"].casefold() for t in tags).items() if n > 1)
        assert not twice, f"group {group_id}: codes more than once (archived included): {twice[:10]}"
