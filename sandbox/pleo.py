"""The Pleo emulator's policy and routes: tag groups, dimensions, tags, dimension values, aggregated tag search,
accounting entries (``sandbox.pleo_entries``).

Bearer token, ``company_id`` on group lists and creates, cursor paging on tag lists,
``include_archived``, a request rate with 429. Like Pleo, tag codes are not unique:
a blind create makes a duplicate. Dimension values and the aggregated tag search are in
``sandbox.pleo_values``; error answers, parameter checks and lookups in ``sandbox.pleo_params``.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from fastapi import FastAPI

from sandbox.hostile import endless_pleo_page
from sandbox.pipeline import Api, Call, Reply, Route, mount, sliding_window
from sandbox.pleo_entries import ENTRY_FAULTS, search
from sandbox.pleo_params import (
    PLEO_JSON,
    bool_param,
    company_param,
    cursor_page,
    group_or_404,
    pleo_error,
    require,
    stamp,
    tag_or_404,
)
from sandbox.pleo_values import aggregated, create_value, list_values, update_value
from sandbox.state import SandboxState

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
# Faults that change an answer's data: a twin created between our read and write, a reset after the write,
# a tag listing whose paging breaks the contract (hasNextPage not a boolean; true with no rows), and one that sends
# some of its rows twice (``repeat_rows``: the same tag, same id, twice in one page).
# ``endless``: new rows under a new cursor, and hasNextPage true, every time (sandbox.hostile).
# The accounting-entries search has its own (sandbox.pleo_entries.ENTRY_FAULTS).
DATA_FAULTS = frozenset(
    {"twin", "reset_after", "odd_has_next", "empty_has_next", "repeat_rows", "endless"} | ENTRY_FAULTS
)
PLEO = Api("pleo", "Pleo", PLEO_JSON, _admit, _throttle, DATA_FAULTS, locked=True)


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
    ts = stamp()
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
    return 200, {"data": copy.deepcopy(group_or_404(state, call.request.path_params["groupId"]))}


def update_group(state: SandboxState, call: Call) -> tuple[int, Any]:
    group = group_or_404(state, call.request.path_params["groupId"])
    body = require(call.body, {"code": str, "name": str, "archived": bool, "metadata": dict})
    _metadata(body["metadata"])
    group.update(
        code=body["code"],
        name=body["name"],
        archived=body["archived"],
        metadata=dict(body["metadata"]),
        updatedAt=stamp(),
    )
    return 200, {"data": copy.deepcopy(group)}


def list_dims(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    group_or_404(state, group_id)
    dims = sorted(
        (d for d in state.pleo["dimensions"].values() if d["groupId"] == group_id),
        key=lambda d: (d["displayOrder"], d["createdAt"]),
    )
    return 200, {"data": copy.deepcopy(dims)}


def create_dim(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    group_or_404(state, group_id)
    body = require(call.body, {"code": str, "name": str, "displayOrder": int, "visible": bool})
    ts = stamp()
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


# tags -----------------------------------------------------------------------------------------


def list_tags(state: SandboxState, call: Call) -> tuple[int, Any]:
    group_id = call.request.path_params["groupId"]
    group_or_404(state, group_id)
    archived = bool_param(call.request, "include_archived")
    if call.data_fault == "endless":  # whatever cursor was asked for
        return 200, endless_pleo_page(group_id, int(call.request.query_params.get("limit") or 20))
    tags = state.group_tags(group_id)
    if not archived:
        tags = [t for t in tags if not t["archived"]]
    page = copy.deepcopy(cursor_page(call.request, tags))
    if call.data_fault == "odd_has_next":
        page["pagination"]["hasNextPage"] = str(page["pagination"]["hasNextPage"]).lower()
    elif call.data_fault == "empty_has_next":
        page["data"], page["pagination"]["hasNextPage"] = [], True
    elif call.data_fault == "repeat_rows":
        page["data"] = page["data"] + copy.deepcopy(page["data"][:2])
    return 200, page


def _add_tag(state: SandboxState, group_id: str, code: str, name: Any, archived: bool) -> dict:
    ts = stamp()
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
    group_or_404(state, group_id)
    body = require(call.body, {"code": str, "archived": bool})
    if call.data_fault == "twin":
        # Someone else creates the same code between our read and our write (Pleo allows it).
        _add_tag(state, group_id, body["code"], body.get("name"), False)
    tag = _add_tag(state, group_id, body["code"], body.get("name"), body["archived"])
    return 200, {"data": copy.deepcopy(tag)}


def get_tag(state: SandboxState, call: Call) -> tuple[int, Any]:
    return 200, {"data": copy.deepcopy(tag_or_404(state, call.request.path_params["tagId"]))}


def update_tag(state: SandboxState, call: Call) -> tuple[int, Any]:
    tag = tag_or_404(state, call.request.path_params["tagId"])
    body = require(call.body, {"code": str, "archived": bool})
    tag.update(code=body["code"], archived=body["archived"], updatedAt=stamp())
    if "name" in body:
        tag["name"] = body["name"]
    return 200, {"data": copy.deepcopy(tag)}


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
    Route("POST", "/v0/aggregations/tags", aggregated, reads=True),
    Route("POST", "/v1/accounting-entries:search", search, reads=True),
]


def add_routes(app: FastAPI, state: SandboxState) -> None:
    mount(app, state, PLEO, ROUTES)
