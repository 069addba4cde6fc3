"""Pleo's Accounting Entries API: ``POST /v1/accounting-entries:search``, and its admin routes.

Checked as the document (``../shared/specs/pleo/accounting-entries.yaml``) says: ``company_id`` or
``organization_id`` in the query (a uuid), ``limit`` 1 to 100, ``after`` and ``before`` not together, a JSON body
with the required boolean ``includeDeleted``, date-time filters, enum lists. Filters served: the company,
``performedAtStart`` / ``performedAtEnd`` (both inclusive: the document does not say, and an inclusive end is the
case a client must filter itself), ``includeDeleted``, ``families``, ``status``. Rows in (performedAt, id) order,
cursor pages as the tag listing's. Entries live in ``state.pleo["entries"]`` (a reset empties them); the seeded
set comes from :mod:`sandbox.pleo_entries_seed`.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.pipeline import Call, read_body
from sandbox.pleo_entries_seed import complete, generate
from sandbox.pleo_params import company_param, cursor_page, pleo_error
from sandbox.state import SandboxState

FAMILIES = {
    "BALANCE_AMENDMENT",
    "BILL_INVOICE",
    "CARD_PURCHASE",
    "CASHBACK",
    "CREDIT_NOTE",
    "MILEAGE",
    "OUT_OF_POCKET",
    "OVERDRAFT",
    "PER_DIEM",
    "PLEO_INVOICE",
    "REIMBURSEMENT",
    "WALLET",
    "BILL_INVOICE_PAYMENT",
}
STATUSES = {"DRAFT", "PENDING", "COMPLETED", "COMPLETED_EXTERNALLY", "CANCELLED", "REJECTED", "ERROR"}
DATE_FIELDS = ("performedAtStart", "performedAtEnd", "bookkeepingDateStart", "bookkeepingDateEnd")
DATE_FIELDS += ("settledAtStart", "settledAtEnd")
BOOL_FIELDS = ("includeDeleted", "hasAccount", "hasBookkeepingDate", "hasNote", "settled")
# Data faults of the search (also in sandbox.pleo.DATA_FAULTS): a chain that breaks, a cursor that comes back,
# a page over the limit, a listing that ends before its total.
ENTRY_FAULTS = {"empty_has_next", "drop_cursor", "repeat_cursor", "over_limit", "stops_early", "repeat_rows"}


def entries(state: SandboxState) -> list[dict]:
    return state.pleo.setdefault("entries", [])


def _moment(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if not isinstance(value, str) or moment is None or moment.tzinfo is None:
        raise pleo_error(400, f"{name} must be an ISO 8601 date-time with a zone")
    return moment


def _limit(request: Request) -> None:
    raw = request.query_params.get("limit")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= 100):
        raise pleo_error(400, "limit must be an integer from 1 to 100")
    if request.query_params.get("after") and request.query_params.get("before"):
        raise pleo_error(400, "before cannot be used together with after")


def _body(body: Any) -> dict:
    if not isinstance(body, dict):
        raise pleo_error(400, "body must be a JSON object")
    if not isinstance(body.get("includeDeleted"), bool):
        raise pleo_error(400, "'includeDeleted' is required and must be a boolean")
    for name in BOOL_FIELDS:
        if name in body and not isinstance(body[name], bool):
            raise pleo_error(400, f"'{name}' must be a boolean")
    for name in DATE_FIELDS:
        if name in body:
            _moment(body[name], name)
    for name, allowed in (("families", FAMILIES), ("status", STATUSES)):
        value = body.get(name)
        if value is not None and (not isinstance(value, list) or not set(value) <= allowed):
            raise pleo_error(400, f"'{name}' must be a list of {sorted(allowed)}")
    return body


def _matches(entry: dict, company: str | None, body: dict) -> bool:
    if company and entry["companyId"] != company:
        return False
    if entry.get("deletedAt") and not body["includeDeleted"]:
        return False
    at = _moment(entry["performedAt"], "performedAt")
    if "performedAtStart" in body and at < _moment(body["performedAtStart"], "performedAtStart"):
        return False
    if "performedAtEnd" in body and at > _moment(body["performedAtEnd"], "performedAtEnd"):
        return False
    if body.get("families") is not None and entry["family"] not in body["families"]:
        return False
    return body.get("status") is None or entry["status"] in body["status"]


def _fault(page: dict, kind: str | None, request: Request) -> dict:
    pagination = page["pagination"]
    if kind == "empty_has_next":
        page["data"], pagination["hasNextPage"] = [], True
    elif kind == "drop_cursor" and pagination["hasNextPage"]:
        pagination.pop("endCursor", None)
    elif kind == "repeat_cursor" and request.query_params.get("after"):
        pagination["endCursor"], pagination["hasNextPage"] = request.query_params["after"], True
    elif kind == "over_limit":
        page["data"] = page["data"] + [complete({"note": f"extra row {i}"}) for i in range(3)]
    elif kind == "stops_early" and request.query_params.get("after"):
        page["data"], pagination["hasNextPage"] = [], False
        pagination.pop("endCursor", None)
    elif kind == "repeat_rows":
        page["data"] = page["data"] + copy.deepcopy(page["data"][:1])
    return page


def search(state: SandboxState, call: Call) -> tuple[int, Any]:
    """``POST /v1/accounting-entries:search``."""
    request = call.request
    company = company_param(request)
    _limit(request)
    body = _body(call.body)
    rows = sorted((e for e in entries(state) if _matches(e, company, body)), key=lambda e: (e["performedAt"], e["id"]))
    page = copy.deepcopy(cursor_page(request, rows))
    return 200, _fault(page, call.data_fault, request)


def entries_admin(r: APIRouter, S: SandboxState) -> None:
    """``/_admin/pleo/entries``: read, load, generate and clear accounting entries (sandbox/README.md)."""

    @r.get("/pleo/entries")
    def list_entries():
        with S.lock:
            return {"entries": copy.deepcopy(entries(S))}

    @r.post("/pleo/entries")
    async def load_entries(request: Request):
        """``{entries: [...], replace?: false}``: entries as the API serves them; missing required fields get
        defaults (a new id, the sandbox company, COMPLETED, empty lists, createdAt = performedAt)."""
        body = await read_body(request) or {}
        rows = body.get("entries")
        if not isinstance(rows, list) or not all(isinstance(e, dict) and "performedAt" in e for e in rows):
            return JSONResponse({"error": "entries must be a list of objects with performedAt"}, status_code=400)
        loaded = [complete(e) for e in rows]
        with S.lock:
            if body.get("replace"):
                S.pleo["entries"] = []
            entries(S).extend(loaded)
            S.mark_dirty()
        return {"loaded": len(loaded), "ids": [e["id"] for e in loaded]}

    @r.post("/pleo/entries/generate")
    async def generate_entries(request: Request):
        """``{start: "2026-11-01", days: 1, currency: "DKK", replace: true}``: the seeded set (every case the
        spend sync must handle) for each day, tagged with the tags of the ``ghl-social-*`` groups Pleo holds now."""
        body = await read_body(request) or {}
        try:
            start = date.fromisoformat(str(body.get("start", "")))
            days = int(body.get("days", 1))
        except ValueError:
            return JSONResponse({"error": "start must be a date (YYYY-MM-DD), days an integer"}, status_code=400)
        with S.lock:
            try:
                made = generate(S.pleo, start, days, str(body.get("currency", "DKK")).upper())
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            if body.get("replace", True):
                S.pleo["entries"] = []
            entries(S).extend(made)
            S.mark_dirty()
            return {"entries": copy.deepcopy(made)}

    @r.delete("/pleo/entries")
    def clear_entries():
        with S.lock:
            removed = len(entries(S))
            S.pleo["entries"] = []
            S.mark_dirty()
        return {"removed": removed}
