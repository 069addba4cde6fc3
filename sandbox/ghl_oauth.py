"""The GHL emulator's agency OAuth: ``POST /oauth/token`` (refresh-token rotation) and ``POST /oauth/locationToken``.

Issued access tokens are kept in the state (``oauth.access``) with their kind, company, location and
expiry, so ``sandbox.ghl``'s admission check accepts them where they fit.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from sandbox.ghl_params import ghl_error, location_or_404, unprocessable
from sandbox.pipeline import Call, Reply, apply_fault, finish
from sandbox.seed import COMPANY_ID
from sandbox.state import SandboxState


def _issue(state: SandboxState, kind: str, company_id: str, location_id: str | None) -> dict:
    token = f"sbx-{kind}-" + uuid.uuid4().hex
    ttl = float(state.config["oauth_ttl_s"])
    state.oauth["access"][token] = {
        "kind": kind,
        "company_id": company_id,
        "location_id": location_id,
        "expires_at": time.time() + ttl,
    }
    state.oauth["issued"].append(token)
    state.mark_dirty()
    answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
    sent = state.config.get("oauth_expires_in")
    if sent == "missing":
        del answer["expires_in"]
    elif sent is not None:
        answer["expires_in"] = sent  # malformed on purpose; the token still lives ttl seconds
    return answer


def _refresh(state: SandboxState, form: dict) -> Reply:
    """Trade a refresh token for an agency access token and a new refresh token (the old one dies)."""
    cfg = state.config
    with state.lock:
        if form.get("client_id") != cfg["oauth_client_id"] or form.get("client_secret") != cfg["oauth_client_secret"]:
            return ghl_error(401, "Invalid client credentials", "Unauthorized")
        if form.get("grant_type") != "refresh_token":
            return unprocessable("grant_type must be refresh_token here")
        if state.oauth["refresh"].get(form.get("refresh_token")) != "valid":
            return ghl_error(401, "Invalid refresh token: it was used already or revoked", "Unauthorized")
        state.oauth["refresh"][form["refresh_token"]] = "used"  # rotation: the old one is dead now
        new_refresh = "sbx-refresh-" + uuid.uuid4().hex
        state.oauth["refresh"][new_refresh] = "valid"
        state.oauth["issued"].append(new_refresh)
        state.oauth["refreshes"] += 1
        now = time.time()
        state.oauth["refresh_log"].append(
            {"at": now, "replaced_expires_at": state.oauth["due"].get(form["refresh_token"])}
        )
        issued = _issue(state, "agency", COMPANY_ID, None)
        state.oauth["due"][new_refresh] = state.oauth["access"][issued["access_token"]]["expires_at"]
        return Reply(
            200,
            {
                **issued,
                "refresh_token": new_refresh,
                "scope": "socialplanner/tag.readonly",
                "userType": "Company",
                "companyId": COMPANY_ID,
                "userId": "sbx-user",
            },
        )


async def oauth_token(state: SandboxState, request: Request) -> Response:
    """``POST /oauth/token`` outside the pipeline: counted and logged (secrets masked), and faults act on it."""
    await request.body()  # cache the raw body first: form() after a consumed stream would fail
    form = dict(await request.form())
    state.requests["GHL POST /oauth/token"] += 1
    fault = state.take_fault("ghl", "POST /oauth/token", None)
    try:
        if fault:
            await apply_fault(fault, "application/json", request)
        reply = _refresh(state, form)
    except Reply as raised:
        reply = raised
    masked = {k: ("***" if "secret" in k or "token" in k else v) for k, v in form.items()}
    return finish(state, "ghl", request, masked, reply, {})


def location_token(state: SandboxState, call: Call) -> tuple[int, Any]:
    company, location = call.form.get("companyId"), call.form.get("locationId")
    if not company or not location:
        raise unprocessable("companyId and locationId are required")
    auth = call.request.headers.get("authorization", "")
    grant = state.oauth["access"].get(auth[7:]) or {}
    if grant.get("kind") != "agency":
        raise ghl_error(401, "An agency access token is required", "Unauthorized")
    location_or_404(state, location)
    with state.lock:
        state.oauth["mints"] += 1
        return 200, {
            **_issue(state, "location", company, location),
            "scope": "socialplanner/tag.readonly",
            "locationId": location,
            "userId": "sbx-user",
        }
