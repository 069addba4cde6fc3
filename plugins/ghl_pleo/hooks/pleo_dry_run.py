"""What a dry run's Pleo writes answer instead of Pleo: the ``planned:`` ids and the write stand-ins.

In a dry run every read goes to Pleo and no write does. Each write returns what Pleo would have
answered: created objects get ``planned:`` ids (never sent to Pleo; reads of a planned id are empty),
updates echo the payload, so the sync code runs unchanged and its change log becomes the plan.
"""

from __future__ import annotations

from typing import Any

PLANNED = "planned:"  # id prefix of what a dry run would have created (never sent to Pleo)


def is_planned(pleo_id: str | None) -> bool:
    return isinstance(pleo_id, str) and pleo_id.startswith(PLANNED)


def planned_group(code: str, name: str, metadata: dict[str, str] | None) -> dict:
    """The group ``POST /v0/tag-groups`` would have created."""
    return {"id": f"{PLANNED}group:{code}", "code": code, "name": name, "archived": False, "metadata": metadata or {}}


def planned_tag(code: str, name: str) -> dict:
    """The tag ``POST /v0/tag-groups/{groupId}/tags`` would have created."""
    return {"id": f"{PLANNED}tag:{code}", "code": code, "name": name, "archived": False}


def planned_dimension(code: str, name: str, display_order: int, visible: bool) -> dict:
    """The dimension ``POST /v0/tag-groups/{groupId}/dimensions`` would have created."""
    return {
        "id": f"{PLANNED}dimension:{code}",
        "code": code,
        "name": name,
        "displayOrder": display_order,
        "visible": visible,
    }


def updated_group(group: dict, payload: dict[str, Any]) -> dict:
    """The group ``PUT /v0/tag-groups/{groupId}`` would have answered."""
    return {**group, **payload}


def updated_tag(tag_id: str, payload: dict[str, Any]) -> dict:
    """The tag ``PUT /v0/tags/{tagId}`` would have answered."""
    return {"id": tag_id, **payload}


def planned_value(value: str) -> dict:
    """The dimension value a POST or PUT of ``/v0/tags/{tagId}/dimensions/{dimensionId}`` would have answered."""
    return {"value": value}
