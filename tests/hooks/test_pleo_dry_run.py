"""Dry-run stand-ins for Pleo writes: planned ids that reads treat as empty, updates that echo the payload."""

from __future__ import annotations

from ghl_pleo.hooks.pleo_dry_run import (
    is_planned,
    planned_dimension,
    planned_group,
    planned_tag,
    planned_value,
    updated_group,
    updated_tag,
)


def test_created_objects_get_planned_ids_that_are_recognised():
    group = planned_group("ghl-social-L1", "Social: L1", None)
    tag = planned_tag("t1", "Summer Sale")
    dim = planned_dimension("ghl_location", "GHL location", 1, True)
    assert [group["id"], tag["id"], dim["id"]] == [
        "planned:group:ghl-social-L1",
        "planned:tag:t1",
        "planned:dimension:ghl_location",
    ]
    assert all(is_planned(o["id"]) for o in (group, tag, dim))
    assert not is_planned("0b6f3c1e-real-uuid") and not is_planned(None)
    assert group["metadata"] == {} and group["archived"] is False and tag["archived"] is False


def test_updates_answer_with_what_was_sent():
    group = {"id": "g1", "code": "c", "name": "Old", "archived": False, "metadata": {"a": "1"}, "createdAt": "x"}
    payload = {"code": "c", "name": "New", "archived": False, "metadata": {"a": "2"}}
    assert updated_group(group, payload) == {**group, **payload}
    assert updated_tag("t1", {"code": "c", "archived": True}) == {"id": "t1", "code": "c", "archived": True}
    assert planned_value("L1") == {"value": "L1"}
