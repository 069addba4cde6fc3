"""The GHL emulator's policy and routes: social tags, tag details, accounts, statistics, locations, OAuth.

Bearer token (one for all, or per location, or an OAuth access token) and its scopes, the
``Version`` header each endpoint's document requires, and the burst limit per location with
``X-RateLimit-*`` headers and 429. The OAuth handlers are in ``sandbox.ghl_oauth``, the
error answers and parameter checks in ``sandbox.ghl_params``.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections import deque
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox.ghl_oauth import location_token, oauth_token
from sandbox.ghl_params import ghl_error, int_param, location_or_404, unprocessable
from sandbox.ghl_stats import Invalid, statistics
from sandbox.hostile import endless_ghl_page
from sandbox.pipeline import Api, Call, Reply, Route, mount, sliding_window
from sandbox.state import SandboxState

V2 = "2021-07-28"
V3 = "v3"

# Faults that change what a GHL tag listing says instead of failing it.
# stops_early: pages after the first `after` rows (default 100) come back empty while the count says more.
# endless: every page is full of new ids and the count stays two pages ahead (sandbox.hostile).
DATA_FAULTS = frozenset(
    {"count_lies", "ignore_skip", "duplicate_ids", "rename_field", "stops_early", "no_breakdowns", "endless"}
)

# The scope each route needs (PRODUCT.md; the vendor's documents name locations.readonly). A scope listed in
# config ``ghl_denied_scopes`` is one the caller's token lacks: its routes answer 403 as common-schemas' ForbiddenDTO.
SCOPES = {
    "GET /social-media-posting/{locationId}/tags": "socialplanner/tag.readonly",
    "POST /social-media-posting/{locationId}/tags/details": "socialplanner/tag.readonly",
    "GET /social-media-posting/{locationId}/accounts": "socialplanner/account.readonly",
    "POST /social-media-posting/statistics": "socialplanner/statistics.readonly",
    "GET /locations/{locationId}": "locations.readonly",
    "GET /locations/search": "locations.readonly",
    "POST /oauth/locationToken": "oauth.write",
}

GHL_VERSIONS = {
    "GET /social-media-posting/{locationId}/tags": (V2, V3),
    "POST /social-media-posting/{locationId}/tags/details": (V2, V3),
    "GET /social-media-posting/{locationId}/accounts": (V2, V3),
    "POST /social-media-posting/statistics": (V2, V3),
    "GET /locations/{locationId}": (V2,),
    "GET /locations/search": (V2,),
}


# pipeline policy -------------------------------------------------------------------------------


def _admit(state: SandboxState, call: Call) -> None:
    """The bearer token (config, per location, or an OAuth grant that fits), then the Version header."""
    cfg, location_id = state.config, call.location_id
    auth = call.request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else None
    valid = {cfg["ghl_token"]} if cfg.get("ghl_token") else set()
    if location_id and cfg["location_tokens"].get(location_id):
        valid = {cfg["location_tokens"][location_id]}
    grant = state.oauth["access"].get(token) if token else None
    if grant:  # an OAuth access token: a location token for its location, an agency token otherwise
        fits = (grant["location_id"] == location_id) if location_id else grant["kind"] == "agency"
        if grant["expires_at"] > time.time() and (fits or call.route.startswith("POST /oauth/")):
            valid = {token}
    if not token or token not in valid:
        raise ghl_error(401, "Invalid token: access token is invalid", "Unauthorized")
    if SCOPES.get(call.route) in (cfg.get("ghl_denied_scopes") or ()):
        raise ghl_error(403, "You do not have permission to access this resource", "Forbidden")
    call.version = call.request.headers.get("version")
    allowed = GHL_VERSIONS.get(call.route, (V2,))
    if call.version not in allowed:
        raise ghl_error(400, f"Version header must be one of {list(allowed)} for {call.route}")


def _throttle(state: SandboxState, call: Call) -> None:
    """The burst limit per location (or company); its headers go with every answer from here on."""
    cfg = state.config
    limit, window = int(cfg["ghl_burst_limit"]), float(cfg["ghl_burst_window_s"])
    with state.lock:
        q = state.ghl_windows.setdefault(call.location_id or "company", deque())
        allowed, remaining, retry_in = sliding_window(q, limit, window)
    call.headers = {
        "X-RateLimit-Limit-Daily": "200000",
        "X-RateLimit-Daily-Remaining": "199000",
        "X-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
        "X-RateLimit-Max": str(limit),
        "X-RateLimit-Remaining": str(remaining),
    }
    if not allowed:
        headers = {"Retry-After": str(max(1, int(retry_in + 0.999)))} if cfg.get("ghl_retry_after") else {}
        raise Reply(429, {"statusCode": 429, "message": "Too many requests"}, headers=headers)


GHL = Api("ghl", "GHL", "application/json", _admit, _throttle, DATA_FAULTS, body_first=True, by_location=True)


# handlers --------------------------------------------------------------------------------------


def list_tags(state: SandboxState, call: Call) -> tuple[int, Any]:
    location_id, request, fault = call.location_id, call.request, call.data_fault
    location_or_404(state, location_id)
    limit = int_param(request, "limit", 10, 1, 100)
    skip = int_param(request, "skip", 0, 0)
    search = (request.query_params.get("searchText") or "").lower()
    with state.lock:
        tags = state.ghl["tags"][location_id]
        if search:
            tags = [t for t in tags if search in str(t.get("tag", "")).lower()]
        start = 0 if fault == "ignore_skip" else skip
        page = copy.deepcopy(tags[start : start + limit])
        if fault == "stops_early" and skip >= int(call.fault.get("after", 100)):
            page = []
    count = len(tags) + (1000 if fault == "count_lies" else 0)
    if fault == "endless":
        page, count = endless_ghl_page(tags[0] if tags else None, location_id, skip, limit)
    if fault == "duplicate_ids" and page:
        page = page + copy.deepcopy(page[:3])  # an id repeated within the page
    if fault == "rename_field":  # the source renames a field, e.g. {"from": "tag", "to": "name"}
        old, new = call.fault.get("from", "tag"), call.fault.get("to", "name")
        page = [{(new if k == old else k): v for k, v in t.items()} for t in page]
    return 200, {
        "success": True,
        "statusCode": 200,
        "message": "Fetched Tags by Location ID",
        "results": {"tags": page, "count": count},
    }


def tag_details(state: SandboxState, call: Call) -> tuple[int, Any]:
    location_or_404(state, call.location_id)
    ids = call.body.get("tagIds") if isinstance(call.body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise unprocessable("tagIds must be an array of strings")
    if len(ids) > 100:
        raise unprocessable("tagIds must contain no more than 100 elements")
    with state.lock:
        index = state.ghl_tag_index(call.location_id)
        tags = [copy.deepcopy(index[i]) for i in dict.fromkeys(ids) if i in index]
    if call.data_fault == "duplicate_ids" and tags:
        tags = tags + copy.deepcopy(tags[:2])  # the same tag twice in one details answer
    return 201, {
        "success": True,
        "statusCode": 201,
        "message": "Fetched Tags by Tag IDs",
        "results": {"tags": tags, "count": len(tags)},
    }


def accounts(state: SandboxState, call: Call) -> tuple[int, Any]:
    location_id = call.location_id
    location_or_404(state, location_id)
    with state.lock:
        accs = copy.deepcopy(state.ghl["accounts"].get(location_id, []))
    return 200, {
        "success": True,
        "statusCode": 200,
        "message": "Fetched Accounts",
        "results": {
            "accounts": accs,
            "groups": [
                {
                    "id": hashlib.md5(location_id.encode()).hexdigest()[:24],
                    "name": "Primary",
                    "accountIds": [a["id"] for a in accs],
                }
            ],
        },
    }


def post_statistics(state: SandboxState, call: Call) -> tuple[int, Any]:
    if not call.location_id:
        raise unprocessable("locationId is required")
    location_or_404(state, call.location_id)
    try:
        status, body = statistics(state, call.location_id, call.body, call.version == V3)
    except Invalid as exc:
        raise unprocessable(str(exc)) from None
    if call.data_fault == "no_breakdowns" and isinstance(body.get("results"), dict):
        body["results"].pop("breakdowns", None)  # reach and engagement left out, as GHL may
    return status, body


def search_locations(state: SandboxState, call: Call) -> tuple[int, Any]:
    company = call.request.query_params.get("companyId")
    skip = int_param(call.request, "skip", 0, 0)
    limit = int_param(call.request, "limit", 10, 1, 1000)
    with state.lock:
        locs = [
            copy.deepcopy(loc)
            for loc in state.ghl["locations"].values()
            if not company or loc.get("companyId") == company
        ]
    return 200, {"locations": locs[skip : skip + limit]}


def get_location(state: SandboxState, call: Call) -> tuple[int, Any]:
    return 200, {"location": copy.deepcopy(location_or_404(state, call.location_id))}


ROUTES = [
    Route("GET", "/social-media-posting/{locationId}/tags", list_tags, location="path"),
    Route("POST", "/social-media-posting/{locationId}/tags/details", tag_details, location="path"),
    Route("GET", "/social-media-posting/{locationId}/accounts", accounts, location="path"),
    Route("POST", "/social-media-posting/statistics", post_statistics, location="query"),
    Route("POST", "/oauth/locationToken", location_token, form=True),
    Route("GET", "/locations/search", search_locations),  # before /locations/{locationId}
    Route("GET", "/locations/{locationId}", get_location, location="path"),
]


def add_routes(app: FastAPI, state: SandboxState) -> None:
    async def token_endpoint(request: Request) -> Response:
        return await oauth_token(state, request)

    app.add_api_route("/oauth/token", token_endpoint, methods=["POST"])
    mount(app, state, GHL, ROUTES)
