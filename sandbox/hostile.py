"""Hostile answers: what a broken or malicious upstream may send, for the client's bounds to refuse.

Failing faults (any endpoint of either API, ``body_kind``):

* ``redirect``: a 3xx (``status``, default 307) to ``to`` (any URL, e.g. another host that records what arrives);
  its body is ``message``.
* ``huge``: a 200 with a well-formed envelope padded to ``size`` bytes (default 25 MiB); ``chunked: true`` streams
  it without a ``Content-Length``.
* ``deep``: a 200 whose envelope also holds a list nested ``depth`` levels (default 100,000).
* ``non_finite``: a 200 whose ``count`` (and ``total``) is the bare literal ``literal`` (``NaN``, ``Infinity``,
  ``-Infinity``, ``1e999``), which only a lax JSON parser accepts.

Data faults (``endless``) that make a listing never end: :func:`endless_ghl_page` (GHL's tags: a full page of new
ids every time, the count always two pages ahead) and :func:`endless_pleo_page` (Pleo's tag listing: new rows and a
new cursor, ``hasNextPage`` always true).
"""

from __future__ import annotations

import json
import uuid

FAILING = frozenset({"redirect", "huge", "deep", "non_finite"})
# Valid for GHL's tag listing and Pleo's listings alike, so a lax client takes it for an empty, final page.
ENVELOPE = {
    "success": True,
    "results": {"tags": [], "count": 0},
    "data": [],
    "pagination": {"hasNextPage": False, "total": 0},
}


def hostile_answer(fault: dict) -> dict:
    """The answer a failing hostile fault sends, as ``Reply`` arguments (status, raw, headers, stream)."""
    kind, status = fault["body_kind"], int(fault.get("status") or 0)
    if kind == "redirect":
        body = json.dumps({"message": fault.get("message", "Moved")}).encode()
        return {"status": status or 307, "raw": body, "headers": {"Location": str(fault.get("to", "/"))}}
    if kind == "huge":
        size = int(fault.get("size", 25 * 1024 * 1024))
        head = json.dumps({**ENVELOPE, "pad": ""}).encode()[:-2]  # ... "pad": "
        raw = head + b"x" * max(0, size - len(head) - 2) + b'"}'
        return {"status": status or 200, "raw": raw, "stream": bool(fault.get("chunked"))}
    if kind == "deep":
        depth = int(fault.get("depth", 100_000))
        raw = json.dumps(ENVELOPE).encode()[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
        return {"status": status or 200, "raw": raw}
    literal = str(fault.get("literal", "NaN"))
    body = {**ENVELOPE, "results": {"tags": [], "count": "@"}, "pagination": {"hasNextPage": False, "total": "@"}}
    return {"status": status or 200, "raw": json.dumps(body).replace('"@"', literal).encode()}


def endless_ghl_page(template: dict | None, location_id: str, skip: int, limit: int) -> tuple[list[dict], int]:
    """A full page of tags never seen before (ids from ``skip``), and a count two pages further on."""
    base = template or {"createdBy": "user_endless", "createdAt": "2026-01-05T09:00:00.000Z"}
    page = [
        {**base, "_id": f"e{n:023x}", "tag": f"Endless {n}", "locationId": location_id, "deleted": False}
        for n in range(skip, skip + limit)
    ]
    for tag in page:
        tag.setdefault("updatedAt", tag.get("createdAt"))
    return page, skip + 2 * limit


def endless_pleo_page(group_id: str, limit: int) -> dict:
    """Rows never seen before under a cursor never seen before, and always another page."""
    mark = uuid.uuid4().hex
    rows = [
        {
            "id": str(uuid.uuid4()),
            "groupId": group_id,
            "code": f"endless-{mark}-{i}",
            "name": f"Endless {mark[:6]} {i}",
            "archived": False,
            "createdAt": "2026-01-05T09:00:00.000Z",
            "updatedAt": "2026-01-05T09:00:00.000Z",
        }
        for i in range(limit)
    ]
    return {"data": rows, "pagination": {"hasNextPage": True, "endCursor": f"endless-{mark}", "total": 10**9}}
