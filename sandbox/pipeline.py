"""The request pipeline both emulators share: count, auth, rate window, fault, handler, log.

Each API describes its policy in an ``Api`` (how to authorise, how to throttle, which
faults change data instead of failing) and its endpoints in a list of ``Route``;
``mount`` adds them to an app, each request running through ``run``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from sandbox.hostile import FAILING, hostile_answer
from sandbox.state import SandboxState

JSON = "application/json"


class Reply(Exception):
    """Raised anywhere in a handler to answer with this status, body and headers."""

    def __init__(
        self,
        status: int,
        body: Any = None,
        headers: dict | None = None,
        raw: bytes | None = None,
        media_type: str = JSON,
        stream: bool = False,
    ) -> None:
        self.status, self.body, self.headers, self.raw, self.media_type = status, body, headers or {}, raw, media_type
        self.stream = stream  # send ``raw`` in chunks, without a Content-Length


@dataclass
class Call:
    """One request on its way through the pipeline."""

    request: Request
    route: str  # "METHOD /path/{template}": the key for counts and faults
    location_id: str | None = None
    form: dict | None = None  # the parsed form, for routes that take one
    body: Any = None  # the parsed JSON body (None when empty or a form)
    version: str | None = None  # GHL's Version header, once checked
    fault: dict | None = None  # a fault that changes the answer's data instead of failing it
    headers: dict = field(default_factory=dict)  # sent with every answer once set (GHL's X-RateLimit-*)

    @property
    def data_fault(self) -> str | None:
        return self.fault.get("body_kind") if self.fault else None


Handler = Callable[[SandboxState, Call], tuple[int, Any]]


@dataclass(frozen=True)
class Api:
    """One emulated API's policy for the shared pipeline."""

    name: str  # "ghl" | "pleo": fault matching, traffic span and exchange log
    label: str  # prefix of the request counts ("GHL", "Pleo")
    media_type: str  # replaces plain application/json on every answer
    admit: Callable[[SandboxState, Call], None]  # auth (and headers); raises Reply
    throttle: Callable[[SandboxState, Call], None]  # rate window; raises Reply(429)
    data_faults: frozenset = frozenset()
    body_first: bool = False  # parse the body before counting (GHL) rather than after the fault (Pleo)
    by_location: bool = False  # count requests per location too
    locked: bool = False  # run handlers under the state lock; a non-GET marks the state dirty


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    location: str | None = None  # where the location id is: "path" or "query" (``locationId``), or nowhere
    form: bool = False  # parse a form body before anything else
    reads: bool = False  # a POST that only reads (a search): it never marks the state dirty (no save of the file)


async def read_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    if "form-urlencoded" in (request.headers.get("content-type") or ""):
        return None  # form bodies (OAuth) are parsed by their handlers
    try:
        return json.loads(raw)
    except ValueError:
        raise Reply(400, {"statusCode": 400, "message": "Body is not valid JSON"}) from None


def route_of(request: Request) -> str:
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


def sliding_window(q: deque, limit: float, window: float) -> tuple[bool, int, float]:
    """Take a slot in a window of request times: (allowed, slots left, seconds until the oldest leaves)."""
    now = time.monotonic()
    while q and q[0] <= now - window:
        q.popleft()
    allowed = len(q) < limit
    if allowed:
        q.append(now)
    return allowed, max(0, int(limit - len(q))), (q[0] + window - now) if q else window


async def apply_fault(fault: dict, media_type: str, request: Request | None = None) -> None:
    """Act out a failing fault: sleep, abort the connection, or answer a broken body or an error status."""
    if fault.get("delay_s"):
        await asyncio.sleep(float(fault["delay_s"]))
    status = int(fault.get("status") or 0)
    kind = fault.get("body_kind", "json")
    if kind == "reset" and request is not None:
        request.scope["sandbox_reset"] = True
        raise Reply(500, {"message": "connection reset"})
    if kind == "html":
        raise Reply(
            status or 200,
            raw=b"<html><body><h1>Bad gateway</h1>upstream proxy page</body></html>",
            media_type="text/html",
        )
    if kind == "echo_token" and request is not None:
        _echo_token(fault, status, media_type, request)
    if kind in FAILING:  # redirect, huge, deep, non_finite (sandbox.hostile)
        raise Reply(**hostile_answer(fault), media_type=media_type)
    if kind == "truncated":
        raise Reply(status or 200, raw=b'{"success": true, "results": {"tags": [{"_id": "abc', media_type=media_type)
    if status:
        headers = {}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        raise Reply(
            status, {"statusCode": status, "message": fault.get("message", f"Injected fault {status}")}, headers=headers
        )


def _echo_token(fault: dict, status: int, media_type: str, request: Request) -> None:
    """An error answer that quotes the caller's bearer token back (``echo``: json, html, header, long: the token
    at the end of a 300-character body)."""
    token = (request.headers.get("authorization") or "")[len("Bearer ") :]
    style = fault.get("echo", "json")
    if style == "html":
        raise Reply(
            status or 401, raw=f"<html><body>Bad token <b>{token}</b></body></html>".encode(), media_type="text/html"
        )
    if style == "long":
        raise Reply(status or 400, raw=("x" * (300 - len(token) // 2) + token).encode(), media_type=media_type)
    if style == "header":
        header = f'Bearer error="invalid_token", token="{token}"'
        raise Reply(status or 401, {"message": "unauthorized"}, headers={"WWW-Authenticate": header})
    raise Reply(status or 400, {"statusCode": status or 400, "message": f"Invalid token {token}"})


def finish(
    state: SandboxState, api: str, request: Request, req_body: Any, reply: Reply, extra_headers: dict
) -> Response:
    """Log the exchange and build the response."""
    headers = {**extra_headers, **reply.headers}
    if reply.raw is not None:
        content: bytes = reply.raw
        big = len(content) > 100_000  # a hostile body is not kept whole in the exchange log
        recorded: Any = f"<{len(content)} bytes>" if big else reply.raw.decode("utf-8", "replace")
    else:
        content = json.dumps(reply.body).encode() if reply.body is not None else b""
        recorded = reply.body
    state.record(api, request, route_of(request), req_body, reply.status, recorded, headers, reply.media_type)
    if reply.stream:
        chunks = (content[i : i + 65536] for i in range(0, len(content), 65536))
        return StreamingResponse(chunks, status_code=reply.status, headers=headers, media_type=reply.media_type)
    return Response(content=content, status_code=reply.status, headers=headers, media_type=reply.media_type)


def _count(state: SandboxState, api: Api, call: Call) -> None:
    with state.lock:
        state.requests[f"{api.label} {call.route}"] += 1
        if api.by_location:
            state.location_requests[call.location_id or "company"] += 1
        state.note_time(api.name)


async def _fault(state: SandboxState, api: Api, call: Call) -> None:
    fault = state.take_fault(api.name, call.route, call.location_id)
    if fault and fault.get("body_kind") in api.data_faults:
        call.fault = fault
    elif fault:
        await apply_fault(fault, api.media_type, call.request)


def _handle(state: SandboxState, api: Api, call: Call, handler: Handler, reads: bool) -> tuple[int, Any]:
    if not api.locked:
        return handler(state, call)
    with state.lock:
        out = handler(state, call)
        if call.request.method != "GET" and not reads:
            state.mark_dirty()
    return out


async def wait_delay(state: SandboxState, api: Api, call: Call) -> None:
    """The delay switch: hold the request for config ``delays[<label> <route>]`` seconds (the keys of the request
    counts, e.g. ``"GHL GET /social-media-posting/{locationId}/tags"``), asleep: the server goes on answering
    others. Re-read while waiting, so lowering it (``PUT /_admin/config``) lets the waiting requests go at once."""
    key, started = f"{api.label} {call.route}", time.monotonic()
    while True:
        left = started + float((state.config.get("delays") or {}).get(key, 0)) - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.1))


async def run(state: SandboxState, api: Api, call: Call, handler: Handler, reads: bool = False) -> Response:
    """Answer one request: count, auth, rate window, fault, handler, then log the exchange."""
    try:
        if api.body_first:
            call.body = await read_body(call.request)
        _count(state, api, call)
        api.admit(state, call)
        api.throttle(state, call)
        await _fault(state, api, call)
        await wait_delay(state, api, call)
        if not api.body_first:
            call.body = await read_body(call.request)
        status, body = _handle(state, api, call, handler, reads)
        if call.data_fault == "reset_after":
            call.request.scope["sandbox_reset"] = True  # the write happened; its confirmation is lost
        reply = Reply(status, body)
    except Reply as raised:
        reply = raised
    if reply.media_type == JSON:
        reply.media_type = api.media_type
    return finish(state, api.name, call.request, call.body, reply, call.headers)


def _endpoint(state: SandboxState, api: Api, route: Route):
    async def endpoint(request: Request) -> Response:
        location_id = None
        if route.location == "path":
            location_id = request.path_params["locationId"]
        elif route.location == "query":
            location_id = request.query_params.get("locationId")
        form = None
        if route.form:
            await request.body()  # cache the raw body first: form() after a consumed stream would fail
            form = dict(await request.form())
        call = Call(request, route_of(request), location_id, form)
        return await run(state, api, call, route.handler, route.reads)

    endpoint.__name__ = route.handler.__name__
    return endpoint


def mount(app: FastAPI, state: SandboxState, api: Api, routes: list[Route]) -> None:
    """Add each route to the app, answered through the pipeline."""
    for route in routes:
        app.add_api_route(route.path, _endpoint(state, api, route), methods=[route.method])
