"""Pleo's answers to bad input (errors, query parameters, body fields, unknown ids), cursor paging, timestamps."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fastapi import Request

from sandbox.pipeline import Reply
from sandbox.state import SandboxState, utcnow

PLEO_JSON = "application/json;charset=UTF-8"


def pleo_error(status: int, message: str) -> Reply:
    return Reply(status, {"type": "error", "status": status, "message": message}, media_type=PLEO_JSON)


def _uuid_or_400(value: str | None, name: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        raise pleo_error(400, f"{name} must be a uuid") from None


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode()


def _uncursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise pleo_error(400, "invalid cursor") from None


def cursor_page(request: Request, items: list[dict]) -> dict:
    try:
        limit = int(request.query_params.get("limit") or 20)
    except ValueError:
        raise pleo_error(400, "limit must be an integer") from None
    limit = max(1, min(limit, 100))
    after = request.query_params.get("after")
    start = _uncursor(after) + 1 if after else 0
    page = items[start : start + limit]
    end_index = start + len(page) - 1
    return {
        "data": page,
        "pagination": {
            "currentRequestPagination": {"parameters": {}, "limit": limit, **({"after": after} if after else {})},
            "hasNextPage": end_index + 1 < len(items),
            "hasPreviousPage": start > 0,
            **({"startCursor": _cursor(start), "endCursor": _cursor(end_index)} if page else {}),
            "total": len(items),
        },
    }


def bool_param(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "false").lower()
    if raw not in ("true", "false"):
        raise pleo_error(400, f"{name} must be true or false")
    return raw == "true"


def require(body: Any, fields: dict[str, type]) -> dict:
    if not isinstance(body, dict):
        raise pleo_error(400, "body must be a JSON object")
    for name, kind in fields.items():
        if name not in body or not isinstance(body[name], kind) or (kind is int and isinstance(body[name], bool)):
            raise pleo_error(400, f"'{name}' is required and must be {kind.__name__}")
    return body


def company_param(request: Request, required: bool = True) -> str | None:
    company = request.query_params.get("company_id")
    org = request.query_params.get("organization_id")
    if not company and not org:
        if required:
            raise pleo_error(400, "company_id or organization_id is required")
        return None
    return _uuid_or_400(company, "company_id") if company else None


def group_or_404(state: SandboxState, group_id: str) -> dict:
    group = state.pleo["groups"].get(group_id)
    if not group:
        raise pleo_error(404, f"Tag group {group_id} not found")
    return group


def tag_or_404(state: SandboxState, tag_id: str) -> dict:
    tag = state.pleo["tags"].get(tag_id)
    if not tag:
        raise pleo_error(404, f"Tag {tag_id} not found")
    return tag


def stamp() -> str:
    """Now, as Pleo writes ``createdAt`` / ``updatedAt``."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
