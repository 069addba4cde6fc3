"""The admin API under ``/_admin`` on both ports: reset, config, edit GHL and Pleo data, OAuth, counts, faults."""

from __future__ import annotations

import copy
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.pipeline import read_body
from sandbox.pleo_entries import entries_admin
from sandbox.seed import COMPANY_ID, iso
from sandbox.state import SandboxState, utcnow


def _basics(r: APIRouter, S: SandboxState) -> None:
    @r.get("/health")
    def health():
        return {"ok": True}

    @r.post("/reset")
    async def reset(request: Request):
        body = await read_body(request) or {}
        S.reset(**{k: body.get(k) for k in ("seed", "locations", "min_tags", "max_tags")})
        return {"ok": True, "locations": list(S.ghl["locations"])}

    @r.get("/config")
    def get_config():
        return {k: v for k, v in S.config.items() if "token" not in k}

    @r.put("/config")
    async def put_config(request: Request):
        body = await read_body(request) or {}
        with S.lock:
            unknown = set(body) - set(SandboxState.DEFAULT_CONFIG)
            if unknown:
                return JSONResponse({"error": f"unknown config keys {sorted(unknown)}"}, status_code=400)
            S.config.update(body)
            S.ghl_windows.clear()
            S.pleo_window.clear()
            S.mark_dirty()
        return {"ok": True}

    @r.post("/save")
    def save():
        S.save()
        return {"ok": True}


def _ghl_locations(r: APIRouter, S: SandboxState) -> None:
    @r.get("/ghl/locations")
    def ghl_locations():
        with S.lock:
            return {
                "locations": [{**loc, "tags": len(S.ghl["tags"].get(i, []))} for i, loc in S.ghl["locations"].items()]
            }

    @r.put("/ghl/locations/{location_id}")
    async def ghl_location(location_id: str, request: Request):
        body = await read_body(request) or {}
        with S.lock:
            loc = S.ghl["locations"].setdefault(location_id, {"id": location_id, "companyId": COMPANY_ID})
            loc.update({k: v for k, v in body.items() if k != "id"})
            S.ghl["tags"].setdefault(location_id, [])
            S.ghl["accounts"].setdefault(location_id, [])
            S.mark_dirty()
            return loc


def _ghl_tags(r: APIRouter, S: SandboxState) -> None:
    @r.get("/ghl/locations/{location_id}/tags")
    def ghl_tags(location_id: str):
        with S.lock:
            return {"tags": copy.deepcopy(S.ghl["tags"].get(location_id, []))}

    @r.post("/ghl/locations/{location_id}/tags")
    async def ghl_add(location_id: str, request: Request):
        body = await read_body(request) or {}
        with S.lock:
            if location_id not in S.ghl["locations"]:
                return JSONResponse({"error": "no such location"}, status_code=404)
            ts = iso(utcnow())
            tag = {
                "_id": body.get("_id") or uuid.uuid4().hex[:24],
                "tag": body.get("tag", "New tag"),
                "locationId": location_id,
                "createdBy": body.get("createdBy", "user_admin"),
                "deleted": body.get("deleted", False),
                "createdAt": ts,
                "updatedAt": ts,
            }
            S.ghl["tags"][location_id].append(tag)
            S.mark_dirty()
        return tag

    @r.patch("/ghl/locations/{location_id}/tags/{tag_id}")
    async def ghl_edit(location_id: str, tag_id: str, request: Request):
        body = await read_body(request) or {}
        with S.lock:
            for tag in S.ghl["tags"].get(location_id, []):
                if tag["_id"] == tag_id:
                    tag.update({k: v for k, v in body.items() if k != "_id"})
                    tag["updatedAt"] = body.get("updatedAt") or iso(utcnow())
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


def _oauth(r: APIRouter, S: SandboxState) -> None:
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
            return {
                "issued": list(S.oauth["issued"]),
                "refreshes": S.oauth["refreshes"],
                "mints": S.oauth["mints"],
                "valid_refresh": [t for t, v in S.oauth["refresh"].items() if v == "valid"],
                "refresh_log": list(S.oauth["refresh_log"]),
            }


def _pleo(r: APIRouter, S: SandboxState) -> None:
    @r.get("/pleo/state")
    def pleo_state():
        with S.lock:
            return copy.deepcopy(S.pleo)

    @r.post("/pleo/tags")
    async def pleo_add(request: Request):
        """Create a tag directly in Pleo, as a person in Pleo's UI would (no dedupe)."""
        body = await read_body(request) or {}
        with S.lock:
            ts = body.get("createdAt") or utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            tag = {
                "id": str(uuid.uuid4()),
                "groupId": body["groupId"],
                "code": body["code"],
                "name": body.get("name"),
                "archived": bool(body.get("archived", False)),
                "createdAt": ts,
                "updatedAt": ts,
            }
            S.pleo["tags"][tag["id"]] = tag
            S.group_versions[tag["groupId"]] += 1
            S.mark_dirty()
            return tag

    @r.patch("/pleo/tags/{tag_id}")
    async def pleo_edit(tag_id: str, request: Request):
        body = await read_body(request) or {}
        with S.lock:
            tag = S.pleo["tags"].get(tag_id)
            if not tag:
                return JSONResponse({"error": "no such tag"}, status_code=404)
            tag.update({k: v for k, v in body.items() if k in ("name", "code", "archived")})
            S.mark_dirty()
            return tag

    @r.patch("/pleo/groups/{group_id}")
    async def pleo_group_edit(group_id: str, request: Request):
        body = await read_body(request) or {}
        with S.lock:
            group = S.pleo["groups"].get(group_id)
            if not group:
                return JSONResponse({"error": "no such group"}, status_code=404)
            group.update({k: v for k, v in body.items() if k in ("name", "code", "archived", "metadata")})
            S.mark_dirty()
            return group


def _traffic(r: APIRouter, S: SandboxState) -> None:
    @r.get("/requests")
    def requests_count():
        with S.lock:
            return {
                "requests": dict(S.requests),
                "total": sum(S.requests.values()),
                "by_location": dict(S.location_requests),
                "span": dict(S.traffic_span),
            }

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


def _faults(r: APIRouter, S: SandboxState) -> None:
    @r.get("/faults")
    def faults():
        with S.lock:
            return {"faults": copy.deepcopy(S.faults)}

    @r.post("/faults")
    async def add_fault(request: Request):
        """Inject a fault: {api: ghl|pleo, endpoint: "GET /route/{template}" or "*", status, times,
        skip, retry_after, delay_s, body_kind: json|html|truncated|redirect|huge|deep|non_finite|..., location}
        (every kind and its options: sandbox/README.md)."""
        body = await read_body(request) or {}
        with S.lock:
            S.faults.append(dict(body))
        return {"ok": True}

    @r.delete("/faults")
    def clear_faults():
        with S.lock:
            S.faults.clear()
        return {"ok": True}


def admin_router(state: SandboxState) -> APIRouter:
    """The admin routes, on both apps, over the one shared state."""
    r = APIRouter(prefix="/_admin")
    for group in (_basics, _ghl_locations, _ghl_tags, _oauth, _pleo, entries_admin, _traffic, _faults):
        group(r, state)
    return r
