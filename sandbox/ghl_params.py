"""GHL's answers to bad input: its error bodies, query-number checks and unknown locations."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from sandbox.pipeline import Reply
from sandbox.state import SandboxState


def ghl_error(status: int, message: Any, error: str | None = None) -> Reply:
    body = {"statusCode": status, "message": message}
    if error:
        body["error"] = error
    return Reply(status, body)


def unprocessable(message: str) -> Reply:
    return ghl_error(422, [message], "Unprocessable Entity")


def int_param(request: Request, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise unprocessable(f"{name} must be a number string") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise unprocessable(f"{name} must be between {minimum} and {maximum}")
    return value


def location_or_404(state: SandboxState, location_id: str) -> dict:
    loc = state.ghl["locations"].get(location_id)
    if not loc:
        raise ghl_error(404, f"Location {location_id} not found", "Not Found")
    return loc
