"""The two emulators and their shared state.

* GHL (``build_ghl_app``): social tags (limit/skip, total count), tag details,
  accounts, statistics v2 (last 7 days, 201) and v3 (ranges, 200), location
  lookup and search. Bearer token (one for all, or per location), the
  ``Version`` header each endpoint's document requires, and the burst limit of
  100 requests / 10 s per location with ``X-RateLimit-*`` headers and 429.
* Pleo (``build_pleo_app``): tag groups (``company_id`` required), dimensions,
  tags (cursor paging, ``include_archived``), dimension values, aggregated tag
  search; a configurable request rate with 429. Like Pleo, tag codes are not
  unique: a blind create makes a duplicate.

Both apps mount ``/_admin`` (see sandbox/README.md): reset, edit GHL tags,
inspect Pleo, inject faults, read request counts and recorded exchanges.
"""
from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import os
import threading
import time
import uuid
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.seed import COMPANY_ID, build_seed, iso

V2 = "2021-07-28"
V3 = "v3"
PLEO_JSON = "application/json;charset=UTF-8"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Reply(Exception):
    """Raised anywhere in a handler to answer with this status, body and headers."""

    def __init__(self, status: int, body: Any = None, headers: dict | None = None, raw: bytes | None = None,
                 media_type: str = "application/json") -> None:
        self.status, self.body, self.headers, self.raw, self.media_type = status, body, headers or {}, raw, media_type


class SandboxState:
    """Everything both emulators know; persisted to a JSON file between runs.

    Saving is debounced (a background thread writes at most every 0.2 s and on
    shutdown), so hundreds of writes do not each rewrite the file.
    """

    DEFAULT_CONFIG = {
        "ghl_token": "sandbox-ghl-token",
        "location_tokens": {},
        "pleo_token": "sandbox-pleo-token",
        "ghl_burst_limit": 100,
        "ghl_burst_window_s": 10.0,
        "ghl_retry_after": True,
        "pleo_rps": 100.0,
        "oauth_client_id": "sbx-client",
        "oauth_client_secret": "sbx-client-secret-7f3a",
        "oauth_refresh_token": "sbx-refresh-initial-0001",
        "oauth_ttl_s": 86399,
        "seed": 42,
        "locations": 4,
        "min_tags": 150,
        "max_tags": 400,
        "exchange_log": 20000,   # request/response pairs kept for /_admin/exchanges (0: none; benchmarks)
    }

    def __init__(self, path: str | None, config: dict | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.config = {**self.DEFAULT_CONFIG, **(config or {})}
        self.requests: Counter = Counter()
        self.location_requests: Counter = Counter()   # GHL requests per location (or "company")
        self.traffic_span: dict[str, list[float]] = {}  # api -> [first, last] request time (epoch s)
        self.faults: list[dict] = []
        self.exchanges: deque = deque(maxlen=int(self.config["exchange_log"]))
        self.exchange_seq = 0
        self.ghl_windows: dict[str, deque] = {}
        self.pleo_window: deque = deque()
        # Indexes so a page or a batch costs O(page), not O(all tags): they matter at 100,000 tags.
        self._group_tags: dict[str, tuple[int, list[dict]]] = {}
        self.group_versions: Counter = Counter()
        self._ghl_index: dict[str, tuple[int, int, dict[str, dict]]] = {}
        self.ghl_version = 0
        self._dirty = False
        self._stop = threading.Event()
        loaded = False
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            self.config.update(data.get("config", {}))
            self.ghl, self.pleo = data["ghl"], data["pleo"]
            self.oauth = data.get("oauth") or {"refresh": {self.config["oauth_refresh_token"]: "valid"},
                                               "access": {}, "issued": [], "refreshes": 0, "mints": 0}
            loaded = True
        if not loaded:
            self.reset()
        self._saver = threading.Thread(target=self._save_loop, daemon=True)
        self._saver.start()

    # persistence ------------------------------------------------------------------------------
    def reset(self, **overrides: Any) -> None:
        with self.lock:
            self.config.update({k: v for k, v in overrides.items() if v is not None})
            c = self.config
            self.ghl = build_seed(int(c["seed"]), int(c["locations"]), int(c["min_tags"]), int(c["max_tags"]))
            self.pleo = {"groups": {}, "tags": {}, "dimensions": {}, "values": {}}
            self.oauth = {"refresh": {c["oauth_refresh_token"]: "valid"}, "access": {}, "issued": [],
                          "refreshes": 0, "mints": 0}
            self.requests.clear()
            self.location_requests.clear()
            self.traffic_span.clear()
            self.faults.clear()
            self.exchanges.clear()
            self.ghl_windows.clear()
            self.pleo_window.clear()
            self.invalidate()
            self.mark_dirty()

    def invalidate(self) -> None:
        """Forget the indexes (after a reset, or an edit that may change membership or order)."""
        with self.lock:
            self._group_tags.clear()
            self._ghl_index.clear()
            self.ghl_version += 1

    def group_tags(self, group_id: str) -> list[dict]:
        """A Pleo group's tags (archived included) in (createdAt, id) order; rebuilt only after a create there."""
        with self.lock:
            version = self.group_versions[group_id]
            cached = self._group_tags.get(group_id)
            if cached is None or cached[0] != version:
                tags = sorted((t for t in self.pleo["tags"].values() if t["groupId"] == group_id),
                              key=lambda t: (t["createdAt"], t["id"]))
                cached = (version, tags)
                self._group_tags[group_id] = cached
            return cached[1]

    def ghl_tag_index(self, location_id: str) -> dict[str, dict]:
        """GHL tags of a location by ``_id`` (the first of repeated ids)."""
        with self.lock:
            tags = self.ghl["tags"].get(location_id, [])
            cached = self._ghl_index.get(location_id)
            if cached is None or cached[0] != self.ghl_version or cached[1] != len(tags):
                index: dict[str, dict] = {}
                for t in tags:
                    index.setdefault(t.get("_id"), t)
                cached = (self.ghl_version, len(tags), index)
                self._ghl_index[location_id] = cached
            return cached[2]

    def note_time(self, api: str) -> None:
        now = time.time()
        span = self.traffic_span.setdefault(api, [now, now])
        span[1] = now

    def mark_dirty(self) -> None:
        self._dirty = True

    def save(self) -> None:
        if not self.path:
            return
        with self.lock:
            data = json.dumps({"config": self.config, "ghl": self.ghl, "pleo": self.pleo, "oauth": self.oauth})
            self._dirty = False
        tmp = f"{self.path}.tmp"
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, self.path)

    def _save_loop(self) -> None:
        while not self._stop.wait(0.2):
            if self._dirty:
                self.save()

    def close(self) -> None:
        self._stop.set()
        self.save()

    # traffic ----------------------------------------------------------------------------------
    def take_fault(self, api: str, route: str, location_id: str | None) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault.get("api", api) != api:
                    continue
                if fault.get("endpoint", "*") not in ("*", route):
                    continue
                if fault.get("location") and fault["location"] != location_id:
                    continue
                if fault.get("skip", 0) > 0:
                    fault["skip"] -= 1
                    continue
                if fault.get("times") is not None:
                    if fault["times"] <= 0:
                        continue
                    fault["times"] -= 1
                fault["fired"] = fault.get("fired", 0) + 1
                return dict(fault)
        return None

    def record(self, api: str, request: Request, route: str, req_body: Any, status: int, resp_body: Any,
               resp_headers: dict, media_type: str) -> None:
        headers = {k.lower(): ("Bearer ***" if k.lower() == "authorization" else v)
                   for k, v in request.headers.items()}
        with self.lock:
            self.exchange_seq += 1
            self.exchanges.append({
                "seq": self.exchange_seq, "api": api, "method": request.method, "route": route,
                "path": request.url.path, "query": [[k, v] for k, v in request.query_params.multi_items()],
                "headers": headers, "body": req_body, "status": status, "response": resp_body,
                "response_headers": {**{k.lower(): v for k, v in resp_headers.items()},
                                     "content-type": media_type},
            })


# ----------------------------------------------------------------------------------------------
# shared request plumbing
# ----------------------------------------------------------------------------------------------

async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    if "form-urlencoded" in (request.headers.get("content-type") or ""):
        return None  # form bodies (OAuth) are parsed by their handlers
    try:
        return json.loads(raw)
    except ValueError:
        raise Reply(400, {"statusCode": 400, "message": "Body is not valid JSON"})


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


class ResetMiddleware:
    """Pure ASGI middleware: a response whose scope is marked ``sandbox_reset`` is never sent; the TCP
    connection is aborted instead (what a client sees as "connection reset by peer")."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def guarded_send(message):
            if scope.get("sandbox_reset"):
                transport = getattr(getattr(send, "__self__", None), "transport", None)
                if transport is not None:
                    transport.abort()
                return
            await send(message)

        await self.app(scope, receive, guarded_send)


async def _apply_fault(fault: dict, media_type: str, request: Request | None = None) -> None:
    if fault.get("delay_s"):
        await asyncio.sleep(float(fault["delay_s"]))
    status = int(fault.get("status") or 0)
    kind = fault.get("body_kind", "json")
    if kind == "reset" and request is not None:
        request.scope["sandbox_reset"] = True
        raise Reply(500, {"message": "connection reset"})
    if kind == "html":
        raise Reply(status or 200, raw=b"<html><body><h1>Bad gateway</h1>upstream proxy page</body></html>",
                    media_type="text/html")
    if kind == "truncated":
        raise Reply(status or 200, raw=b'{"success": true, "results": {"tags": [{"_id": "abc', media_type=media_type)
    if status:
        headers = {}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        raise Reply(status, {"statusCode": status, "message": fault.get("message", f"Injected fault {status}")},
                    headers=headers)


def _finish(state: SandboxState, api: str, request: Request, req_body: Any, reply: Reply,
            extra_headers: dict) -> Response:
    headers = {**extra_headers, **reply.headers}
    if reply.raw is not None:
        content: bytes = reply.raw
        recorded: Any = reply.raw.decode("utf-8", "replace")
    else:
        content = json.dumps(reply.body).encode() if reply.body is not None else b""
        recorded = reply.body
    state.record(api, request, _route(request), req_body, reply.status, recorded, headers, reply.media_type)
    return Response(content=content, status_code=reply.status, headers=headers, media_type=reply.media_type)


# ----------------------------------------------------------------------------------------------
# GHL
# ----------------------------------------------------------------------------------------------

# Faults that change what a GHL tag listing says instead of failing it.
DATA_FAULTS = {"count_lies", "ignore_skip", "duplicate_ids", "rename_field"}

GHL_VERSIONS = {
    "GET /social-media-posting/{locationId}/tags": (V2, V3),
    "POST /social-media-posting/{locationId}/tags/details": (V2, V3),
    "GET /social-media-posting/{locationId}/accounts": (V2, V3),
    "POST /social-media-posting/statistics": (V2, V3),
    "GET /locations/{locationId}": (V2,),
    "GET /locations/search": (V2,),
}


def _ghl_error(status: int, message: Any, error: str | None = None) -> Reply:
    body = {"statusCode": status, "message": message}
    if error:
        body["error"] = error
    return Reply(status, body)


def _int_param(request: Request, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ghl_error(422, [f"{name} must be a number string"], "Unprocessable Entity")
    if value < minimum or (maximum is not None and value > maximum):
        raise _ghl_error(422, [f"{name} must be between {minimum} and {maximum}"], "Unprocessable Entity")
    return value


def build_ghl_app(state: SandboxState) -> FastAPI:
    app = FastAPI(title="GHL sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    api = "ghl"

    async def handle(request: Request, location_id: str | None, fn) -> Response:
        route = _route(request)
        rate_headers: dict[str, str] = {}
        req_body: Any = None
        try:
            req_body = await _body(request)
            with state.lock:
                state.requests[f"GHL {route}"] += 1
                state.location_requests[location_id or "company"] += 1
                state.note_time("ghl")
                cfg = state.config
            # auth
            auth = request.headers.get("authorization", "")
            token = auth[7:] if auth.lower().startswith("bearer ") else None
            valid = {cfg["ghl_token"]} if cfg.get("ghl_token") else set()
            if location_id and cfg["location_tokens"].get(location_id):
                valid = {cfg["location_tokens"][location_id]}
            grant = state.oauth["access"].get(token) if token else None
            if grant:  # an OAuth access token: a location token for its location, an agency token otherwise
                fits = (grant["location_id"] == location_id) if location_id else grant["kind"] == "agency"
                if grant["expires_at"] > time.time() and (fits or route.startswith("POST /oauth/")):
                    valid = {token}
            if not token or token not in valid:
                raise _ghl_error(401, "Invalid token: access token is invalid", "Unauthorized")
            # version header
            version = request.headers.get("version")
            allowed = GHL_VERSIONS.get(route, (V2,))
            if version not in allowed:
                raise _ghl_error(400, f"Version header must be one of {list(allowed)} for {route}")
            # burst limit per location (or company)
            key = location_id or "company"
            limit, window = int(cfg["ghl_burst_limit"]), float(cfg["ghl_burst_window_s"])
            now = time.monotonic()
            with state.lock:
                q = state.ghl_windows.setdefault(key, deque())
                while q and q[0] <= now - window:
                    q.popleft()
                allowed_now = len(q) < limit
                if allowed_now:
                    q.append(now)
                remaining = max(0, limit - len(q))
                retry_in = (q[0] + window - now) if q else window
            rate_headers = {"X-RateLimit-Limit-Daily": "200000", "X-RateLimit-Daily-Remaining": "199000",
                            "X-RateLimit-Interval-Milliseconds": str(int(window * 1000)),
                            "X-RateLimit-Max": str(limit), "X-RateLimit-Remaining": str(remaining)}
            if not allowed_now:
                headers = {"Retry-After": str(max(1, int(retry_in + 0.999)))} if cfg.get("ghl_retry_after") else {}
                raise Reply(429, {"statusCode": 429, "message": "Too many requests"}, headers=headers)
            fault = state.take_fault(api, route, location_id)
            request.state.data_fault = None
            if fault and fault.get("body_kind") in DATA_FAULTS:
                request.state.data_fault = fault["body_kind"]
                request.state.fault = fault
            elif fault:
                await _apply_fault(fault, "application/json", request)
            status, body = fn(req_body, version)
            raise Reply(status, body)
        except Reply as reply:
            return _finish(state, api, request, req_body, reply, rate_headers)

    def location_or_404(location_id: str) -> dict:
        loc = state.ghl["locations"].get(location_id)
        if not loc:
            raise _ghl_error(404, f"Location {location_id} not found", "Not Found")
        return loc

    @app.get("/social-media-posting/{locationId}/tags")
    async def list_tags(locationId: str, request: Request):
        def fn(_body, _version):
            location_or_404(locationId)
            limit = _int_param(request, "limit", 10, 1, 100)
            skip = _int_param(request, "skip", 0, 0)
            search = (request.query_params.get("searchText") or "").lower()
            fault = request.state.data_fault
            with state.lock:
                tags = state.ghl["tags"][locationId]
                if search:
                    tags = [t for t in tags if search in str(t.get("tag", "")).lower()]
                start = 0 if fault == "ignore_skip" else skip
                page = copy.deepcopy(tags[start:start + limit])
            count = len(tags) + (1000 if fault == "count_lies" else 0)
            if fault == "duplicate_ids" and page:
                page = page + copy.deepcopy(page[:3])  # an id repeated within the page
            if fault == "rename_field":  # the source renames a field, e.g. {"from": "tag", "to": "name"}
                old, new = request.state.fault.get("from", "tag"), request.state.fault.get("to", "name")
                page = [{(new if k == old else k): v for k, v in t.items()} for t in page]
            return 200, {"success": True, "statusCode": 200, "message": "Fetched Tags by Location ID",
                         "results": {"tags": page, "count": count}}
        return await handle(request, locationId, fn)

    @app.post("/social-media-posting/{locationId}/tags/details")
    async def tag_details(locationId: str, request: Request):
        def fn(body, _version):
            location_or_404(locationId)
            ids = body.get("tagIds") if isinstance(body, dict) else None
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise _ghl_error(422, ["tagIds must be an array of strings"], "Unprocessable Entity")
            if len(ids) > 100:
                raise _ghl_error(422, ["tagIds must contain no more than 100 elements"], "Unprocessable Entity")
            with state.lock:
                index = state.ghl_tag_index(locationId)
                tags = [copy.deepcopy(index[i]) for i in dict.fromkeys(ids) if i in index]
            return 201, {"success": True, "statusCode": 201, "message": "Fetched Tags by Tag IDs",
                         "results": {"tags": tags, "count": len(tags)}}
        return await handle(request, locationId, fn)

    @app.get("/social-media-posting/{locationId}/accounts")
    async def accounts(locationId: str, request: Request):
        def fn(_body, _version):
            location_or_404(locationId)
            with state.lock:
                accs = copy.deepcopy(state.ghl["accounts"].get(locationId, []))
            return 200, {"success": True, "statusCode": 200, "message": "Fetched Accounts",
                         "results": {"accounts": accs, "groups": [
                             {"id": hashlib.md5(locationId.encode()).hexdigest()[:24], "name": "Primary",
                              "accountIds": [a["id"] for a in accs]}]}}
        return await handle(request, locationId, fn)

    @app.post("/social-media-posting/statistics")
    async def statistics(request: Request):
        location_id = request.query_params.get("locationId")

        def fn(body, version):
            if not location_id:
                raise _ghl_error(422, ["locationId is required"], "Unprocessable Entity")
            location_or_404(location_id)
            return _statistics(state, location_id, body, version)
        return await handle(request, location_id, fn)

    def issue(kind: str, company_id: str, location_id: str | None) -> dict:
        token = f"sbx-{kind}-" + uuid.uuid4().hex
        ttl = float(state.config["oauth_ttl_s"])
        state.oauth["access"][token] = {"kind": kind, "company_id": company_id, "location_id": location_id,
                                        "expires_at": time.time() + ttl}
        state.oauth["issued"].append(token)
        state.mark_dirty()
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    @app.post("/oauth/token")
    async def oauth_token(request: Request):
        await request.body()  # cache the raw body first: form() after a consumed stream would fail
        form = dict(await request.form())
        route = "POST /oauth/token"
        state.requests[f"GHL {route}"] += 1
        cfg = state.config
        with state.lock:
            if form.get("client_id") != cfg["oauth_client_id"] or form.get("client_secret") != cfg["oauth_client_secret"]:
                reply = _ghl_error(401, "Invalid client credentials", "Unauthorized")
            elif form.get("grant_type") != "refresh_token":
                reply = _ghl_error(422, ["grant_type must be refresh_token here"], "Unprocessable Entity")
            elif state.oauth["refresh"].get(form.get("refresh_token")) != "valid":
                reply = _ghl_error(401, "Invalid refresh token: it was used already or revoked", "Unauthorized")
            else:
                state.oauth["refresh"][form["refresh_token"]] = "used"   # rotation: the old one is dead now
                new_refresh = "sbx-refresh-" + uuid.uuid4().hex
                state.oauth["refresh"][new_refresh] = "valid"
                state.oauth["issued"].append(new_refresh)
                state.oauth["refreshes"] += 1
                body = {**issue("agency", COMPANY_ID, None), "refresh_token": new_refresh, "scope": "socialplanner/tag.readonly",
                        "userType": "Company", "companyId": COMPANY_ID, "userId": "sbx-user"}
                reply = Reply(200, body)
        return _finish(state, "ghl", request, {k: ("***" if "secret" in k or "token" in k else v)
                                                 for k, v in form.items()}, reply, {})

    @app.post("/oauth/locationToken")
    async def location_token(request: Request):
        await request.body()  # cache the raw body first: form() after a consumed stream would fail
        form = dict(await request.form())

        def fn(_body, _version):
            company, location = form.get("companyId"), form.get("locationId")
            if not company or not location:
                raise _ghl_error(422, ["companyId and locationId are required"], "Unprocessable Entity")
            auth = request.headers.get("authorization", "")
            grant = state.oauth["access"].get(auth[7:]) or {}
            if grant.get("kind") != "agency":
                raise _ghl_error(401, "An agency access token is required", "Unauthorized")
            location_or_404(location)
            with state.lock:
                state.oauth["mints"] += 1
                return 200, {**issue("location", company, location), "scope": "socialplanner/tag.readonly",
                             "locationId": location, "userId": "sbx-user"}
        return await handle(request, None, fn)

    @app.get("/locations/search")
    async def search(request: Request):
        def fn(_body, _version):
            company = request.query_params.get("companyId")
            skip = _int_param(request, "skip", 0, 0)
            limit = _int_param(request, "limit", 10, 1, 1000)
            with state.lock:
                locs = [copy.deepcopy(l) for l in state.ghl["locations"].values()
                        if not company or l.get("companyId") == company]
            return 200, {"locations": locs[skip:skip + limit]}
        return await handle(request, None, fn)

    @app.get("/locations/{locationId}")
    async def get_location(locationId: str, request: Request):
        def fn(_body, _version):
            return 200, {"location": copy.deepcopy(location_or_404(locationId))}
        return await handle(request, locationId, fn)

    app.include_router(admin_router(state))
    return app


PLATFORMS = ["facebook", "instagram", "linkedin", "google", "pinterest", "youtube", "tiktok"]


def _parse_dt(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise _ghl_error(422, [f"{field} must be an ISO 8601 date-time string"], "Unprocessable Entity")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        raise _ghl_error(422, [f"{field} must be an ISO 8601 date-time string"], "Unprocessable Entity")


def _daily(profile: str, platform: str, metric: str, day: str) -> int:
    digest = hashlib.sha256(f"{profile}|{platform}|{metric}|{day}".encode()).digest()
    scale = {"posts": 4, "likes": 60, "followers": 30, "impressions": 900, "comments": 15, "reach": 500,
             "shares": 10}[metric]
    return int.from_bytes(digest[:4], "big") % (scale + 1)


def _window_sum(accounts: list[dict], metric: str, start: datetime, end: datetime) -> dict[str, int]:
    out: dict[str, int] = {}
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= end:
        for acc in accounts:
            out[acc["platform"]] = out.get(acc["platform"], 0) + _daily(acc["profileId"], acc["platform"], metric,
                                                                         day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    return out


def _change(cur: float, prev: float) -> float:
    return round((cur - prev) / prev * 100, 2) if prev else 0.0


def _statistics(state: SandboxState, location_id: str, body: Any, version: str) -> tuple[int, dict]:
    if not isinstance(body, dict) or not isinstance(body.get("profileIds"), list) or not body["profileIds"]:
        raise _ghl_error(422, ["profileIds must contain at least 1 elements"], "Unprocessable Entity")
    if version == V3 and len(body["profileIds"]) > 100:
        raise _ghl_error(422, ["profileIds must contain no more than 100 elements"], "Unprocessable Entity")
    platforms = body.get("platforms")
    if platforms is not None and (not isinstance(platforms, list) or any(p not in PLATFORMS for p in platforms)):
        raise _ghl_error(422, [f"platforms must be a subset of {PLATFORMS}"], "Unprocessable Entity")
    with state.lock:
        accounts = [a for a in state.ghl["accounts"].get(location_id, [])
                    if a["profileId"] in set(body["profileIds"]) and (not platforms or a["platform"] in platforms)]
    today = _now().replace(hour=0, minute=0, second=0, microsecond=0)
    if version == V3 and "currentRange" in body:
        cr = body["currentRange"] or {}
        start, end = _parse_dt(cr.get("startDate"), "currentRange.startDate"), _parse_dt(cr.get("endDate"), "currentRange.endDate")
        if end < start:
            raise _ghl_error(422, ["currentRange.endDate must not be before startDate"], "Unprocessable Entity")
        if "prevRange" in body:
            pr = body["prevRange"] or {}
            pstart, pend = _parse_dt(pr.get("startDate"), "prevRange.startDate"), _parse_dt(pr.get("endDate"), "prevRange.endDate")
        else:
            span = end - start
            pstart, pend = start - span - timedelta(milliseconds=1), start - timedelta(milliseconds=1)
    else:
        start, end = today - timedelta(days=7), today - timedelta(milliseconds=1)
        pstart, pend = start - timedelta(days=7), start - timedelta(milliseconds=1)
    cur = {m: _window_sum(accounts, m, start, end) for m in ("posts", "likes", "followers", "impressions",
                                                             "comments", "reach", "shares")}
    prev = {m: _window_sum(accounts, m, pstart, pend) for m in ("posts", "impressions", "reach", "likes",
                                                                "comments", "shares")}
    plats = sorted({a["platform"] for a in accounts})

    def breakdown(metric: str) -> dict:
        total, ptotal = sum(cur[metric].values()), sum(prev[metric].values())
        return {"total": total, "totalChange": _change(total, ptotal),
                "platforms": {p: {"value": cur[metric].get(p, 0),
                                  "change": _change(cur[metric].get(p, 0), prev[metric].get(p, 0))} for p in plats}}

    days = max(1, min(7, (end - start).days + 1))
    results = {
        "dayRange": [(start + timedelta(days=d)).strftime("%a") for d in range(days)],
        "totals": {m: sum(cur[m].values()) for m in ("posts", "likes", "followers", "impressions", "comments")},
        "postPerformance": {"posts": {p: [0] * days for p in plats}, "impressions": [0] * days,
                            "likes": [0] * days, "comments": [0] * days},
        "breakdowns": {
            "posts": breakdown("posts"), "impressions": breakdown("impressions"), "reach": breakdown("reach"),
            "engagement": {p: {"likes": cur["likes"].get(p, 0), "comments": cur["comments"].get(p, 0),
                               "shares": cur["shares"].get(p, 0),
                               "change": _change(cur["likes"].get(p, 0) + cur["comments"].get(p, 0) + cur["shares"].get(p, 0),
                                                 prev["likes"].get(p, 0) + prev["comments"].get(p, 0) + prev["shares"].get(p, 0))}
                           for p in plats}},
        "platformTotals": {m: {p: {"total": cur[m].get(p, 0), "series": [0] * days} for p in plats}
                           for m in ("impressions", "followers", "likes")},
        "demographics": {"gender": {"totals": {g: {"total": 0, "percentage": 0} for g in ("male", "female", "unknown")}},
                         "age": {"totals": {a: 0 for a in ("13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")}}},
    }
    trace = str(uuid.UUID(bytes=hashlib.md5(json.dumps(body, sort_keys=True).encode()).digest()))
    status = 200 if version == V3 else 201
    return status, {"results": results, "message": "Analytics Built Successfully", "traceId": trace}


# ----------------------------------------------------------------------------------------------
# Pleo
# ----------------------------------------------------------------------------------------------

def _pleo_error(status: int, message: str) -> Reply:
    return Reply(status, {"type": "error", "status": status, "message": message}, media_type=PLEO_JSON)


def _uuid_or_400(value: str | None, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        raise _pleo_error(400, f"{name} must be a uuid")


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode()


def _uncursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise _pleo_error(400, "invalid cursor")


def _page(request: Request, items: list[dict]) -> dict:
    try:
        limit = int(request.query_params.get("limit") or 20)
    except ValueError:
        raise _pleo_error(400, "limit must be an integer")
    limit = max(1, min(limit, 100))
    after = request.query_params.get("after")
    start = _uncursor(after) + 1 if after else 0
    page = items[start:start + limit]
    end_index = start + len(page) - 1
    return {"data": page, "pagination": {
        "currentRequestPagination": {"parameters": {}, "limit": limit, **({"after": after} if after else {})},
        "hasNextPage": end_index + 1 < len(items), "hasPreviousPage": start > 0,
        **({"startCursor": _cursor(start), "endCursor": _cursor(end_index)} if page else {}),
        "total": len(items)}}


def _bool_param(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "false").lower()
    if raw not in ("true", "false"):
        raise _pleo_error(400, f"{name} must be true or false")
    return raw == "true"


def _require(body: Any, fields: dict[str, type]) -> dict:
    if not isinstance(body, dict):
        raise _pleo_error(400, "body must be a JSON object")
    for name, kind in fields.items():
        if name not in body or not isinstance(body[name], kind) or (kind is int and isinstance(body[name], bool)):
            raise _pleo_error(400, f"'{name}' is required and must be {kind.__name__}")
    return body


def build_pleo_app(state: SandboxState) -> FastAPI:
    app = FastAPI(title="Pleo sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    api = "pleo"
    P = state  # short alias

    async def handle(request: Request, fn) -> Response:
        route = _route(request)
        req_body: Any = None
        try:
            with P.lock:
                P.requests[f"Pleo {route}"] += 1
                P.note_time("pleo")
                cfg = P.config
            auth = request.headers.get("authorization", "")
            if not auth.lower().startswith("bearer ") or auth[7:] != cfg["pleo_token"]:
                raise _pleo_error(401, "Unauthorized")
            rps = float(cfg["pleo_rps"])
            if rps > 0:
                now = time.monotonic()
                with P.lock:
                    q = P.pleo_window
                    while q and q[0] <= now - 1.0:
                        q.popleft()
                    limited = len(q) >= rps
                    if not limited:
                        q.append(now)
                if limited:
                    raise Reply(429, {"type": "error", "status": 429, "message": "Rate limit exceeded"},
                                headers={"Retry-After": "1"}, media_type=PLEO_JSON)
            fault = P.take_fault(api, route, None)
            request.state.data_fault = None
            if fault and fault.get("body_kind") in ("twin", "reset_after"):
                request.state.data_fault = fault["body_kind"]
            elif fault:
                await _apply_fault(fault, PLEO_JSON, request)
            req_body = await _body(request)
            with P.lock:
                status, body = fn(req_body)
                if request.method != "GET":
                    P.mark_dirty()
            if request.state.data_fault == "reset_after":
                request.scope["sandbox_reset"] = True  # the write happened; its confirmation is lost
            raise Reply(status, body, media_type=PLEO_JSON)
        except Reply as reply:
            if reply.media_type == "application/json":
                reply.media_type = PLEO_JSON
            return _finish(P, api, request, req_body, reply, {})

    def company_param(request: Request, required: bool = True) -> str | None:
        company = request.query_params.get("company_id")
        org = request.query_params.get("organization_id")
        if not company and not org:
            if required:
                raise _pleo_error(400, "company_id or organization_id is required")
            return None
        return _uuid_or_400(company, "company_id") if company else None

    def group_or_404(group_id: str) -> dict:
        group = P.pleo["groups"].get(group_id)
        if not group:
            raise _pleo_error(404, f"Tag group {group_id} not found")
        return group

    def tag_or_404(tag_id: str) -> dict:
        tag = P.pleo["tags"].get(tag_id)
        if not tag:
            raise _pleo_error(404, f"Tag {tag_id} not found")
        return tag

    def stamp() -> str:
        return _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @app.get("/v0/tag-groups")
    async def list_groups(request: Request):
        def fn(_b):
            company = company_param(request)
            groups = [g for g in P.pleo["groups"].values() if company is None or g["companyId"] == company]
            return 200, {"data": copy.deepcopy(groups)}
        return await handle(request, fn)

    @app.post("/v0/tag-groups")
    async def create_group(request: Request):
        def fn(body):
            company = company_param(request)
            body = _require(body, {"code": str, "name": str, "archived": bool})
            meta = body.get("metadata") or {}
            if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
                raise _pleo_error(400, "metadata must map strings to strings")
            ts = stamp()
            group = {"id": str(uuid.uuid4()), "companyId": company, "code": body["code"], "name": body["name"],
                     "archived": body["archived"], "metadata": meta, "createdAt": ts, "updatedAt": ts}
            P.pleo["groups"][group["id"]] = group
            return 200, {"data": copy.deepcopy(group)}
        return await handle(request, fn)

    @app.get("/v0/tag-groups/{groupId}")
    async def get_group(groupId: str, request: Request):
        return await handle(request, lambda _b: (200, {"data": copy.deepcopy(group_or_404(groupId))}))

    @app.put("/v0/tag-groups/{groupId}")
    async def update_group(groupId: str, request: Request):
        def fn(body):
            group = group_or_404(groupId)
            body = _require(body, {"code": str, "name": str, "archived": bool, "metadata": dict})
            if not all(isinstance(v, str) for v in body["metadata"].values()):
                raise _pleo_error(400, "metadata must map strings to strings")
            group.update(code=body["code"], name=body["name"], archived=body["archived"],
                         metadata=dict(body["metadata"]), updatedAt=stamp())
            return 200, {"data": copy.deepcopy(group)}
        return await handle(request, fn)

    @app.get("/v0/tag-groups/{groupId}/dimensions")
    async def list_dims(groupId: str, request: Request):
        def fn(_b):
            group_or_404(groupId)
            dims = sorted((d for d in P.pleo["dimensions"].values() if d["groupId"] == groupId),
                          key=lambda d: (d["displayOrder"], d["createdAt"]))
            return 200, {"data": copy.deepcopy(dims)}
        return await handle(request, fn)

    @app.post("/v0/tag-groups/{groupId}/dimensions")
    async def create_dim(groupId: str, request: Request):
        def fn(body):
            group_or_404(groupId)
            body = _require(body, {"code": str, "name": str, "displayOrder": int, "visible": bool})
            ts = stamp()
            dim = {"id": str(uuid.uuid4()), "groupId": groupId, "code": body["code"], "name": body["name"],
                   "displayOrder": body["displayOrder"], "visible": body["visible"], "createdAt": ts, "updatedAt": ts}
            P.pleo["dimensions"][dim["id"]] = dim
            return 200, {"data": copy.deepcopy(dim)}
        return await handle(request, fn)

    @app.get("/v0/tag-groups/{groupId}/tags")
    async def list_tags(groupId: str, request: Request):
        def fn(_b):
            group_or_404(groupId)
            archived = _bool_param(request, "include_archived")
            tags = P.group_tags(groupId)
            if not archived:
                tags = [t for t in tags if not t["archived"]]
            return 200, copy.deepcopy(_page(request, tags))
        return await handle(request, fn)

    @app.post("/v0/tag-groups/{groupId}/tags")
    async def create_tag(groupId: str, request: Request):
        def fn(body):
            group_or_404(groupId)
            body = _require(body, {"code": str, "archived": bool})
            if request.state.data_fault == "twin":
                # Someone else creates the same code between our read and our write (Pleo allows it).
                twin_ts = stamp()
                twin = {"id": str(uuid.uuid4()), "groupId": groupId, "code": body["code"], "name": body.get("name"),
                        "archived": False, "createdAt": twin_ts, "updatedAt": twin_ts}
                P.pleo["tags"][twin["id"]] = twin
                P.group_versions[groupId] += 1
            ts = stamp()
            tag = {"id": str(uuid.uuid4()), "groupId": groupId, "code": body["code"], "name": body.get("name"),
                   "archived": body["archived"], "createdAt": ts, "updatedAt": ts}
            P.pleo["tags"][tag["id"]] = tag  # codes are not unique, as in Pleo
            P.group_versions[groupId] += 1
            return 200, {"data": copy.deepcopy(tag)}
        return await handle(request, fn)

    @app.get("/v0/tags/{tagId}")
    async def get_tag(tagId: str, request: Request):
        return await handle(request, lambda _b: (200, {"data": copy.deepcopy(tag_or_404(tagId))}))

    @app.put("/v0/tags/{tagId}")
    async def update_tag(tagId: str, request: Request):
        def fn(body):
            tag = tag_or_404(tagId)
            body = _require(body, {"code": str, "archived": bool})
            tag.update(code=body["code"], archived=body["archived"], updatedAt=stamp())
            if "name" in body:
                tag["name"] = body["name"]
            return 200, {"data": copy.deepcopy(tag)}
        return await handle(request, fn)

    def dim_of_tag(tag_id: str, dim_id: str) -> tuple[dict, dict]:
        tag = tag_or_404(tag_id)
        dim = P.pleo["dimensions"].get(dim_id)
        if not dim or dim["groupId"] != tag["groupId"]:
            raise _pleo_error(404, f"Dimension {dim_id} not found in the tag's group")
        return tag, dim

    @app.get("/v0/tags/{tagId}/dimensions")
    async def list_values(tagId: str, request: Request):
        def fn(_b):
            tag_or_404(tagId)
            vals = [v for k, v in P.pleo["values"].items() if k.startswith(tagId + "|")]
            return 200, {"data": copy.deepcopy(vals)}
        return await handle(request, fn)

    @app.post("/v0/tags/{tagId}/dimensions/{dimensionId}")
    async def create_value(tagId: str, dimensionId: str, request: Request):
        def fn(body):
            dim_of_tag(tagId, dimensionId)
            body = _require(body, {"value": str})
            key = f"{tagId}|{dimensionId}"
            if key in P.pleo["values"]:
                raise _pleo_error(409, "A value for this tag and dimension already exists")
            ts = stamp()
            val = {"tagId": tagId, "dimensionId": dimensionId, "value": body["value"], "createdAt": ts, "updatedAt": ts}
            P.pleo["values"][key] = val
            return 200, {"data": copy.deepcopy(val)}
        return await handle(request, fn)

    @app.put("/v0/tags/{tagId}/dimensions/{dimensionId}")
    async def update_value(tagId: str, dimensionId: str, request: Request):
        def fn(body):
            dim_of_tag(tagId, dimensionId)
            body = _require(body, {"value": str})
            key = f"{tagId}|{dimensionId}"
            val = P.pleo["values"].get(key)
            if not val:
                raise _pleo_error(404, "No value for this tag and dimension")
            val.update(value=body["value"], updatedAt=stamp())
            return 200, {"data": copy.deepcopy(val)}
        return await handle(request, fn)

    @app.post("/v0/aggregations/tags")
    async def aggregated(request: Request):
        def fn(body):
            company = company_param(request, required=False)
            body = body or {}
            if not isinstance(body, dict):
                raise _pleo_error(400, "body must be a JSON object")
            ids = body.get("tagIds")
            text = (body.get("textSearch") or "").lower()
            pool = P.pleo["tags"].values() if ids is None else \
                [P.pleo["tags"][i] for i in dict.fromkeys(ids) if i in P.pleo["tags"]]  # by id, not a full scan
            tags = [t for t in pool if text in (t.get("name") or "").lower()]
            out = []
            group_dims: dict[str, list[dict]] = {}
            for t in sorted(tags, key=lambda t: (t["createdAt"], t["id"])):
                group = P.pleo["groups"][t["groupId"]]
                if company and group["companyId"] != company:
                    continue
                dims = []
                if t["groupId"] not in group_dims:
                    group_dims[t["groupId"]] = [d for d in P.pleo["dimensions"].values()
                                                if d["groupId"] == t["groupId"]]
                for d in group_dims[t["groupId"]]:
                    v = P.pleo["values"].get(f"{t['id']}|{d['id']}")
                    if v is not None:
                        dims.append({"id": d["id"], "code": d["code"], "name": d["name"],
                                     "displayOrder": d["displayOrder"], "visible": d["visible"], "value": v["value"]})
                out.append({"id": t["id"], "code": t["code"], "name": t.get("name"), "archived": t["archived"],
                            "companyId": group["companyId"], "createdAt": t["createdAt"], "updatedAt": t["updatedAt"],
                            "group": {"id": group["id"], "code": group["code"], "name": group["name"]},
                            "dimensions": dims})
            return 200, copy.deepcopy(_page(request, out))
        return await handle(request, fn)

    app.include_router(admin_router(state))
    return app


# ----------------------------------------------------------------------------------------------
# admin (both ports)
# ----------------------------------------------------------------------------------------------

def admin_router(state: SandboxState) -> APIRouter:
    r = APIRouter(prefix="/_admin")
    S = state

    @r.get("/health")
    def health():
        return {"ok": True}

    @r.post("/reset")
    async def reset(request: Request):
        body = await _body(request) or {}
        S.reset(**{k: body.get(k) for k in ("seed", "locations", "min_tags", "max_tags")})
        return {"ok": True, "locations": list(S.ghl["locations"])}

    @r.get("/config")
    def get_config():
        return {k: v for k, v in S.config.items() if "token" not in k}

    @r.put("/config")
    async def put_config(request: Request):
        body = await _body(request) or {}
        with S.lock:
            unknown = set(body) - set(SandboxState.DEFAULT_CONFIG)
            if unknown:
                return JSONResponse({"error": f"unknown config keys {sorted(unknown)}"}, status_code=400)
            S.config.update(body)
            S.ghl_windows.clear()
            S.pleo_window.clear()
            S.mark_dirty()
        return {"ok": True}

    @r.get("/ghl/locations")
    def ghl_locations():
        with S.lock:
            return {"locations": [{**l, "tags": len(S.ghl["tags"].get(i, []))} for i, l in S.ghl["locations"].items()]}

    @r.get("/ghl/locations/{location_id}/tags")
    def ghl_tags(location_id: str):
        with S.lock:
            return {"tags": copy.deepcopy(S.ghl["tags"].get(location_id, []))}

    @r.post("/ghl/locations/{location_id}/tags")
    async def ghl_add(location_id: str, request: Request):
        body = await _body(request) or {}
        with S.lock:
            if location_id not in S.ghl["locations"]:
                return JSONResponse({"error": "no such location"}, status_code=404)
            ts = iso(_now())
            tag = {"_id": body.get("_id") or uuid.uuid4().hex[:24], "tag": body.get("tag", "New tag"),
                   "locationId": location_id, "createdBy": body.get("createdBy", "user_admin"),
                   "deleted": body.get("deleted", False), "createdAt": ts, "updatedAt": ts}
            S.ghl["tags"][location_id].append(tag)
            S.mark_dirty()
        return tag

    @r.patch("/ghl/locations/{location_id}/tags/{tag_id}")
    async def ghl_edit(location_id: str, tag_id: str, request: Request):
        body = await _body(request) or {}
        with S.lock:
            for tag in S.ghl["tags"].get(location_id, []):
                if tag["_id"] == tag_id:
                    tag.update({k: v for k, v in body.items() if k != "_id"})
                    tag["updatedAt"] = body.get("updatedAt") or iso(_now())
                    S.mark_dirty()
                    return tag
        return JSONResponse({"error": "no such tag"}, status_code=404)

    @r.delete("/ghl/locations/{location_id}/tags/{tag_id}")
    def ghl_remove(location_id: str, tag_id: str):
        with S.lock:
            tags = S.ghl["tags"].get(location_id, [])
            kept = [t for t in tags if t["_id"] != tag_id]
            S.ghl["tags"][location_id] = kept
            S.invalidate()
            S.mark_dirty()
            return {"removed": len(tags) - len(kept)}

    @r.put("/ghl/locations/{location_id}")
    async def ghl_location(location_id: str, request: Request):
        body = await _body(request) or {}
        with S.lock:
            loc = S.ghl["locations"].setdefault(location_id, {"id": location_id, "companyId": COMPANY_ID})
            loc.update({k: v for k, v in body.items() if k != "id"})
            S.ghl["tags"].setdefault(location_id, [])
            S.ghl["accounts"].setdefault(location_id, [])
            S.mark_dirty()
            return loc

    @r.post("/oauth/expire")
    def oauth_expire():
        """Expire every OAuth access token now (a forced expiry mid-run)."""
        with S.lock:
            for grant in S.oauth["access"].values():
                grant["expires_at"] = 0
            S.mark_dirty()
        return {"ok": True}

    @r.get("/oauth")
    def oauth_state():
        with S.lock:
            return {"issued": list(S.oauth["issued"]), "refreshes": S.oauth["refreshes"], "mints": S.oauth["mints"],
                    "valid_refresh": [t for t, v in S.oauth["refresh"].items() if v == "valid"]}

    @r.get("/pleo/state")
    def pleo_state():
        with S.lock:
            return copy.deepcopy(S.pleo)

    @r.post("/pleo/tags")
    async def pleo_add(request: Request):
        """Create a tag directly in Pleo, as a person in Pleo's UI would (no dedupe)."""
        body = await _body(request) or {}
        with S.lock:
            ts = body.get("createdAt") or _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            tag = {"id": str(uuid.uuid4()), "groupId": body["groupId"], "code": body["code"],
                   "name": body.get("name"), "archived": bool(body.get("archived", False)),
                   "createdAt": ts, "updatedAt": ts}
            S.pleo["tags"][tag["id"]] = tag
            S.group_versions[tag["groupId"]] += 1
            S.mark_dirty()
            return tag

    @r.patch("/pleo/tags/{tag_id}")
    async def pleo_edit(tag_id: str, request: Request):
        body = await _body(request) or {}
        with S.lock:
            tag = S.pleo["tags"].get(tag_id)
            if not tag:
                return JSONResponse({"error": "no such tag"}, status_code=404)
            tag.update({k: v for k, v in body.items() if k in ("name", "code", "archived")})
            S.mark_dirty()
            return tag

    @r.patch("/pleo/groups/{group_id}")
    async def pleo_group_edit(group_id: str, request: Request):
        body = await _body(request) or {}
        with S.lock:
            group = S.pleo["groups"].get(group_id)
            if not group:
                return JSONResponse({"error": "no such group"}, status_code=404)
            group.update({k: v for k, v in body.items() if k in ("name", "code", "archived", "metadata")})
            S.mark_dirty()
            return group

    @r.get("/requests")
    def requests_count():
        with S.lock:
            return {"requests": dict(S.requests), "total": sum(S.requests.values()),
                    "by_location": dict(S.location_requests), "span": dict(S.traffic_span)}

    @r.delete("/requests")
    def requests_reset():
        with S.lock:
            S.requests.clear()
            S.location_requests.clear()
            S.traffic_span.clear()
            S.exchanges.clear()
        return {"ok": True}

    @r.get("/exchanges")
    def exchanges(since: int = 0):
        with S.lock:
            return {"exchanges": [e for e in S.exchanges if e["seq"] > since]}

    @r.get("/faults")
    def faults():
        with S.lock:
            return {"faults": copy.deepcopy(S.faults)}

    @r.post("/faults")
    async def add_fault(request: Request):
        """Inject a fault: {api: ghl|pleo, endpoint: "GET /route/{template}" or "*", status, times,
        skip, retry_after, delay_s, body_kind: json|html|truncated, location}."""
        body = await _body(request) or {}
        with S.lock:
            S.faults.append(dict(body))
        return {"ok": True}

    @r.delete("/faults")
    def clear_faults():
        with S.lock:
            S.faults.clear()
        return {"ok": True}

    @r.post("/save")
    def save():
        S.save()
        return {"ok": True}

    return r

