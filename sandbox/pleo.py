"""The Pleo emulator's policy and routes: tag groups, dimensions, tags, dimension values, aggregated tag search.

Bearer token, ``company_id`` on group lists and creates, cursor paging on tag lists,
``include_archived``, a request rate with 429. Like Pleo, tag codes are not unique:
a blind create makes a duplicate.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from fastapi import FastAPI

from sandbox.pipeline import Api, Call, Reply, Route, mount, sliding_window
from sandbox.pleo_params import (
    PLEO_JSON,
    bool_param,
    company_param,
    cursor_page,
    pleo_error,
    require,
)
from sandbox.state import SandboxState, utcnow

# pipeline policy -------------------------------------------------------------------------------


def _admit(state: SandboxState, call: Call) -> None:
    auth = call.request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or auth[7:] != state.config["pleo_token"]:
        raise pleo_error(401, "Unauthorized")


def _throttle(state: SandboxState, call: Call) -> None:
    """``pleo_rps`` requests in any second (0: unlimited)."""
    rps = float(state.config["pleo_rps"])
    if rps > 0:
        with state.lock:
            allowed = sliding_window(state.pleo_window, rps, 1.0)[0]
        if not allowed:
            raise Reply(
                429,
                {"type": "error", "status": 429, "message": "Rate limit exceeded"},
                headers={"Retry-After": "1"},
                media_type=PLEO_JSON,
            )


# ``twin`` (a tag create) and ``reset_after`` (any write) change what happens instead of failing.
PLEO = Api("pleo", "Pleo", PLEO_JSON, _admit, _throttle, frozenset({"twin", "reset_after"}), locked=True)


def _group_or_404(state: SandboxState, group_id: str) -> dict:
    group = state.pleo["groups"].get(group_id)
    if not group:
        raise pleo_error(404, f"Tag group {group_id} not found")
    return group


def _tag_or_404(state: SandboxState, tag_id: str) -> dict:
    tag = state.pleo["tags"].get(tag_id)
    if not tag:
        raise pleo_error(404, f"Tag {tag_id} not found")
    return tag


def _stamp() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _metadata(meta: Any) -> dict:
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise pleo_error(400, "metadata must map strings to strings")
    return meta


# tag groups and dimensions ---------------------------------------------------------------------


def list_groups(state: SandboxState, call: Call) -> tuple[int, Any]:
    company = company_param(call.request)
    groups = [g for g in state.pleo["groups"].values() if company is None or g["companyId"] == company]
    return 200, {"data": copy.deepcopy(groups)}


def create_group(state: SandboxState, call: Call) -> tuple[int, Any]:
    company = company_param(call.request)
    body = require(call.body, {"code": str, "name": str, "archived": bool})
    meta = _metadata(body.get("metadata") or {})
    ts = _stamp()
    group = {
        "id": str(uuid.uuid4()),
        "companyId": company,
        "code": body["code"],
        "name": body["name"],
        "archived": body["archived"],
        "metadata": meta,
        "createdAt": ts,
        "updatedAt": ts,
    }
    state.pleo["groups"][group["id"]] = group
    return 200, {"data": copy.deepcopy(group)}


def get_group(state: SandboxState, call: Call) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(_group_or_404(state, call.request.path_params["groupId"]))}


def update_group(state: SandboxState, call: Call) -> tuple[int, Any]:
    group = _group_or_404(state, call.request.path_params["groupId"])
    body = require(call.body, {"code": str, "name": str, "archived": bool, "metadata": dict})
    _metadata(body["metadata"])
    group.update(
        code=body["code"],
        name=body["name"],
        archived=body["archived"],
        metadata=dict(body["metadata"]),
        updatedAt=_stamp(),
    )
    return 200, {"data": copy.deepcopy(group)}


def list_dims(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    _group_or_404(state, group_id)
    dims = sorted(
        (d for d in state.pleo["dimensions"].values() if d["groupId"] == group_id),
        key=lambda d: (d["displayOrder"], d["createdAt"]),
    )
    return 200, {"data": copy.deepcopy(dims)}


def create_dim(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    _group_or_404(state, group_id)
    body = require(call.body, {"code": str, "name": str, "displayOrder": int, "visible": bool})
    ts = _stamp()
    dim = {
        "id": str(uuid.uuid4()),
        "groupId": group_id,
        "code": body["code"],
        "name": body["name"],
        "displayOrder": body["displayOrder"],
        "visible": body["visible"],
        "createdAt": ts,
        "updatedAt": ts,
    }
    state.pleo["dimensions"][dim["id"]] = dim
    return 200, {"data": copy.deepcopy(dim)}


# tags and their dimension values ---------------------------------------------------------------


def list_tags(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    _group_or_404(state, group_id)
    archived = bool_param(call.request, "include_archived")
    tags = state.group_tags(group_id)
    if not archived:
        tags = [t for t in tags if not t["archived"]]
    return 200, copy.deepcopy(cursor_page(call.request, tags))


def _add_tag(state: SandboxState, group_id: str, code: str, name: Any, archived: bool) -> dict:
    ts = _stamp()
    tag = {
        "id": str(uuid.uuid4()),
        "groupId": group_id,
        "code": code,
        "name": name,
        "archived": archived,
        "createdAt": ts,
        "updatedAt": ts,
    }
    state.pleo["tags"][tag["id"]] = tag  # codes are not unique, as in Pleo
    state.group_versions[group_id] += 1
    return tag


def create_tag(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    _group_or_404(state, group_id)
    body = require(call.body, {"code": str, "archived": bool})
    if call.data_fault == "twin":
        # Someone else creates the same code between our read and our write (Pleo allows it).
        _add_tag(state, group_id, body["code"], body.get("name"), False)
    tag = _add_tag(state, group_id, body["code"], body.get("name"), body["archived"])
    return 200, {"data": copy.deepcopy(tag)}


def get_tag(state: SandboxState, call: Call) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(_tag_or_404(state, call.request.path_params["tagId"]))}


def update_tag(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag = _tag_or_404(state, call.request.path_params["tagId"])
    body = require(call.body, {"code": str, "archived": bool})
    tag.update(code=body["code"], archived=body["archived"], updatedAt=_stamp())
    if "name" in body:
        tag["name"] = body["name"]
    return 200, {"data": copy.deepcopy(tag)}


def _value_of(state: SandboxState, call: Call) -> tuple[str, str]:
    """(tagId, dimensionId) after checking that the dimension belongs to the tag's group."""
    tag_id, dim_id = call.request.path_params["tagId"], call.request.path_params["dimensionId"]
    tag = _tag_or_404(state, tag_id)
    dim = state.pleo["dimensions"].get(dim_id)
    if not dim or dim["groupId"] != tag["groupId"]:
        raise pleo_error(404, f"Dimension {dim_id} not found in the tag's group")
    return tag_id, dim_id


def list_values(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag_id = call.request.path_params["tagId"]
    _tag_or_404(state, tag_id)
    vals = [v for k, v in state.pleo["values"].items() if k.startswith(tag_id + "|")]
    return 200, {"data": copy.deepcopy(vals)}


def create_value(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag_id, dim_id = _value_of(state, call)
    body = require(call.body, {"value": str})
    key = f"{tag_id}|{dim_id}"
    if key in state.pleo["values"]:
        raise pleo_error(409, "A value for this tag and dimension already exists")
    ts = _stamp()
    val = {"tagId": tag_id, "dimensionId": dim_id, "value": body["value"], "createdAt": ts, "updatedAt": ts}
    state.pleo["values"][key] = val
    return 200, {"data": copy.deepcopy(val)}


def update_value(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag_id, dim_id = _value_of(state, call)
    body = require(call.body, {"value": str})
    val = state.pleo["values"].get(f"{tag_id}|{dim_id}")
    if not val:
        raise pleo_error(404, "No value for this tag and dimension")
    val.update(value=body["value"], updatedAt=_stamp())
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


ROUTES = [
    Route("GET", "/v0/tag-groups", list_groups),
    Route("POST", "/v0/tag-groups", create_group),
    Route("GET", "/v0/tag-groups/{groupId}", get_group),
    Route("PUT", "/v0/tag-groups/{groupId}", update_group),
    Route("GET", "/v0/tag-groups/{groupId}/dimensions", list_dims),
    Route("POST", "/v0/tag-groups/{groupId}/dimensions", create_dim),
    Route("GET", "/v0/tag-groups/{groupId}/tags", list_tags),
    Route("POST", "/v0/tag-groups/{groupId}/tags", create_tag),
    Route("GET", "/v0/tags/{tagId}", get_tag),
    Route("PUT", "/v0/tags/{tagId}", update_tag),
    Route("GET", "/v0/tags/{tagId}/dimensions", list_values),
    Route("POST", "/v0/tags/{tagId}/dimensions/{dimensionId}", create_value),
    Route("PUT", "/v0/tags/{tagId}/dimensions/{dimensionId}", update_value),
    Route("POST", "/v0/aggregations/tags", aggregated),
]


def add_routes(app: FastAPI, state: SandboxState) -> None:
    mount(app, state, PLEO, ROUTES)
