"""A persisted sandbox saves its whole state after a write; a read sent as a POST (Pleo's aggregated tag search,
the accounting-entries search) is no write and must not make it save (each save of a large state held the lock
for as long as the json.dumps took, so a no-change sync's batches of value reads each waited for one)."""

from __future__ import annotations

from types import SimpleNamespace

from sandbox.pipeline import Call, _handle
from sandbox.pleo import PLEO, ROUTES
from sandbox.state import SandboxState


def post(route: str, body: dict) -> Call:
    request = SimpleNamespace(method="POST", query_params={}, headers={}, path_params={})
    return Call(request, route, body=body)


def handled(state: SandboxState, method: str, path: str, body: dict) -> bool:
    """Answer one request through the pipeline's handler step; whether it left the state to be saved."""
    (route,) = [r for r in ROUTES if (r.method, r.path) == (method, path)]
    state._dirty = False
    _handle(state, PLEO, post(f"{method} {path}", body), route.handler, route.reads)
    return state._dirty


def test_searches_sent_as_posts_leave_the_state_unsaved_and_writes_still_save_it():
    state = SandboxState(None)
    try:
        assert handled(state, "POST", "/v0/aggregations/tags", {"tagIds": []}) is False
        assert handled(state, "POST", "/v0/aggregations/tags", {}) is False
        group = {"code": "g", "name": "G", "archived": False, "metadata": {}}
        call = post("POST /v0/tag-groups", group)
        call.request.query_params = {"company_id": "7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00"}
        (route,) = [r for r in ROUTES if (r.method, r.path) == ("POST", "/v0/tag-groups")]
        state._dirty = False
        _handle(state, PLEO, call, route.handler, route.reads)
        assert state._dirty is True
    finally:
        state.close()
