"""The Pleo emulator's dimension values (per tag and dimension) and its aggregated tag search (tags with values)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.pipeline import Call
from sandbox.pleo_params import company_param, cursor_page, pleo_error, require, stamp, tag_or_404
from sandbox.state import SandboxState


def _value_of(state: SandboxState, call: Call) -> tuple[str, str]:
    """(tagId, dimensionId) after checking that the dimension belongs to the tag's group."""
    tag_id, dim_id = call.request.path_params["tagId"], call.request.path_params["dimensionId"]
    tag = tag_or_404(state, tag_id)
    dim = state.pleo["dimensions"].get(dim_id)
    if not dim or dim["groupId"] != tag["groupId"]:
        raise pleo_error(404, f"Dimension {dim_id} not found in the tag's group")
    return tag_id, dim_id


def list_values(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag_id = call.request.path_params["tagId"]
    tag_or_404(state, tag_id)
    vals = [v for k, v in state.pleo["values"].items() if k.startswith(tag_id + "|")]
    return 200, {"data": copy.deepcopy(vals)}


def create_value(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag_id, dim_id = _value_of(state, call)
    body = require(call.body, {"value": str})
    key = f"{tag_id}|{dim_id}"
    if key in state.pleo["values"]:
        raise pleo_error(409, "A value for this tag and dimension already exists")
    ts = stamp()
    val = {"tagId": tag_id, "dimensionId": dim_id, "value": body["value"], "createdAt": ts, "updatedAt": ts}
    state.pleo["values"][key] = val
    return 200, {"data": copy.deepcopy(val)}


def update_value(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag_id, dim_id = _value_of(state, call)
    body = require(call.body, {"value": str})
    val = state.pleo["values"].get(f"{tag_id}|{dim_id}")
    if not val:
        raise pleo_error(404, "No value for this tag and dimension")
    val.update(value=body["value"], updatedAt=stamp())
    return 200, {"data": copy.deepcopy(val)}


def _aggregate(state: SandboxState, tag: dict, dims: list[dict]) -> dict:
    """One row of the aggregated search: the tag, its company and group, and its dimension values."""
    group = state.pleo["groups"][tag["groupId"]]
    values = []
    for d in dims:
        v = state.pleo["values"].get(f"{tag['id']}|{d['id']}")
        if v is not None:
            values.append(
                {
                    "id": d["id"],
                    "code": d["code"],
                    "name": d["name"],
                    "displayOrder": d["displayOrder"],
                    "visible": d["visible"],
                    "value": v["value"],
                }
            )
    return {
        "id": tag["id"],
        "code": tag["code"],
        "name": tag.get("name"),
        "archived": tag["archived"],
        "companyId": group["companyId"],
        "createdAt": tag["createdAt"],
        "updatedAt": tag["updatedAt"],
        "group": {"id": group["id"], "code": group["code"], "name": group["name"]},
        "dimensions": values,
    }


def aggregated(state: SandboxState, call: Call) -> tuple[int, Any]:
    company = company_param(call.request, required=False)
    body = call.body or {}
    if not isinstance(body, dict):
        raise pleo_error(400, "body must be a JSON object")
    ids, tags = body.get("tagIds"), state.pleo["tags"]
    text = (body.get("textSearch") or "").lower()
    pool = tags.values() if ids is None else [tags[i] for i in dict.fromkeys(ids) if i in tags]  # by id, no scan
    out = []
    group_dims: dict[str, list[dict]] = {}
    matches = [t for t in pool if text in (t.get("name") or "").lower()]
    for t in sorted(matches, key=lambda t: (t["createdAt"], t["id"])):
        if company and state.pleo["groups"][t["groupId"]]["companyId"] != company:
            continue
        if t["groupId"] not in group_dims:
            group_dims[t["groupId"]] = [d for d in state.pleo["dimensions"].values() if d["groupId"] == t["groupId"]]
        out.append(_aggregate(state, t, group_dims[t["groupId"]]))
    return 200, copy.deepcopy(cursor_page(call.request, out))
