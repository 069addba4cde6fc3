"""The health dashboard: a FastAPI app that Airflow's api-server mounts at ``/ghl-pleo`` (see
``plugins/ghl_pleo_plugin.py``), linked from the Airflow UI's navigation (Browse > GHL-Pleo health).

* ``/ghl-pleo/`` (``?window=24h|7d|30d``): the page, rendered by :mod:`ghl_pleo.dashboard_page` (charts are SVG
  drawn there; the page has no script and loads nothing from elsewhere).
* ``/ghl-pleo/api/health``: the same numbers as JSON, for other monitors (stable keys; see README).
* ``/ghl-pleo/spend`` (``?location=<id>`` for one location's chart) and ``/ghl-pleo/api/spend``: "Spend vs
  social" (:mod:`ghl_pleo.dashboard_spend`, :mod:`ghl_pleo.dashboard_spend_page`); these also need read access to
  the spend DAG.
* ``/ghl-pleo/data-docs/...``: the Great Expectations Data Docs of the runs (the links in alerts point here).

Reads only the warehouse. Every route needs an Airflow login (the UI's session cookie, or
``Authorization: Bearer <token from /auth/token>``) whose role Airflow's auth manager lets read the sync DAGs
(else 403), unless ``GHL_PLEO_DASHBOARD_PUBLIC=1``; the Data Docs' static library files need none (and may be
read from any origin: the sandboxed pages' own is opaque). Answers carry
``Cache-Control: private, no-store``, ``nosniff`` and ``frame-ancestors 'self'``; Data Docs pages a CSP sandbox.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import time

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ghl_pleo.constants import SPEND_DAG_ID, SYNC_DAG_IDS
from ghl_pleo.dashboard_page import render_page

log = logging.getLogger("ghl_pleo.dashboard")
URL_PREFIX = "/ghl-pleo"
CACHE_S = 30.0
_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()
_warehouse = None


# Every answer: never cached by a shared cache, never sniffed into another type, framed only by the Airflow UI.
SECURITY_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "frame-ancestors 'self'",
}
# Data Docs pages run GX's scripts in an opaque origin: they cannot act with the user's Airflow session.
DATA_DOCS_CSP = "sandbox allow-scripts; frame-ancestors 'self'"
STATIC_SUFFIXES = (".css", ".js", ".map", ".woff", ".woff2", ".ttf", ".otf", ".svg", ".png", ".jpg", ".ico", ".gif")


def _public() -> bool:
    return os.environ.get("GHL_PLEO_DASHBOARD_PUBLIC", "").lower() in ("1", "true", "yes")


async def require_login(request: Request) -> None:
    """An Airflow user (cookie or bearer token) whom Airflow's auth manager lets read the sync DAGs, unless the
    dashboard is made public. No login: 401; logged in without read access to every sync DAG: 403."""
    if _public() or _is_static_data_docs(request.url.path):
        return
    auth = request.headers.get("authorization") or ""
    token = auth[7:] if auth.lower().startswith("bearer ") else None
    try:
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
        from airflow.api_fastapi.core_api.security import resolve_user_from_token

        user = await resolve_user_from_token(token or request.cookies.get(COOKIE_NAME_JWT_TOKEN))
        manager = get_auth_manager()
        spend = (SPEND_DAG_ID,) if _is_spend(request.url.path) else ()
        denied = [
            dag_id
            for dag_id in SYNC_DAG_IDS + spend
            if not manager.is_authorized_dag(method="GET", user=user, details=DagDetails(id=dag_id))
        ]
    except HTTPException:
        raise
    except Exception as exc:  # no auth manager (not inside the api-server): refuse rather than open up
        log.warning("Dashboard login check failed: %s", type(exc).__name__)
        raise HTTPException(status_code=401, detail="Log in to Airflow first") from None
    if denied:
        raise HTTPException(status_code=403, detail=f"Your Airflow role may not read {', '.join(denied)}")


def _is_spend(path: str) -> bool:
    """The "Spend vs social" routes: they also need read access to the spend DAG."""
    return path.rstrip("/").endswith(("/spend", "/api/spend"))


def _is_static_data_docs(path: str) -> bool:
    """The library files Data Docs pages load (styles, scripts, fonts): served without login; the pages are not."""
    rest = path.split("/data-docs/", 1)[1] if "/data-docs/" in path else ""
    rest = posixpath.normpath(rest) if rest else ""
    return rest.startswith("static/") and rest.lower().endswith(STATIC_SUFFIXES)


def warehouse():
    """The warehouse behind ``ghl_pleo_db`` (read from the api-server's connections), built once."""
    global _warehouse
    if _warehouse is None:
        from ghl_pleo.warehouse import CONN_ID, Warehouse, warehouse_connection

        try:
            conn = warehouse_connection()
        except Exception:  # the Task SDK cannot read connections in this process: ask the server's secrets
            from airflow.models.connection import Connection

            conn = Connection.get_connection_from_secrets(CONN_ID)
        _warehouse = Warehouse(connection=conn)  # the provider hook's engine; applies the schema once per process
    return _warehouse


def _cached(key: str, compute) -> dict:
    with _cache_lock:
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        doc = compute(warehouse())
        _cache[key] = (time.monotonic(), doc)
        return doc


def current_health() -> dict:
    """The health document, recomputed at most every 30 s (500 locations x 30 days is ~360,000 ledger rows)."""
    from ghl_pleo.health import health

    return _cached("health", health)


def current_spend() -> dict:
    """The "Spend vs social" document (:func:`ghl_pleo.dashboard_spend.spend_document`), at most every 30 s."""
    from ghl_pleo.dashboard_spend import spend_document

    return _cached("spend", spend_document)


def create_app() -> FastAPI:
    app = FastAPI(
        title="GHL-Pleo health", dependencies=[Depends(require_login)], docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if "/data-docs/" in request.url.path and response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = DATA_DOCS_CSP
        elif _is_static_data_docs(request.url.path):
            # The sandboxed pages' origin is opaque: their fonts (a CORS fetch) load only with this header.
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.get("/api/health")
    def health_json() -> JSONResponse:
        return JSONResponse(current_health())

    @app.get("/", response_class=HTMLResponse)
    def page(window: str = "24h") -> HTMLResponse:
        from ghl_pleo.health import WINDOWS

        if window not in WINDOWS:
            raise HTTPException(status_code=400, detail=f"window must be one of {', '.join(WINDOWS)}")
        return HTMLResponse(render_page(current_health(), window))

    @app.get("/api/spend")
    def spend_json() -> JSONResponse:
        return JSONResponse(current_spend())

    @app.get("/spend", response_class=HTMLResponse)
    def spend_page(location: str | None = None) -> HTMLResponse:
        from ghl_pleo.dashboard_spend_page import render_spend_page

        return HTMLResponse(render_spend_page(current_spend(), location))

    @app.get("/data-docs/{path:path}")
    def data_docs(path: str = ""):
        from fastapi.responses import FileResponse

        from ghl_pleo.quality import data_docs_dir

        root = data_docs_dir().resolve()
        target = (root / (path or "index.html")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if root not in target.parents and target != root or not target.is_file():
            raise HTTPException(status_code=404, detail="No such Data Docs page (has a validation run yet?)")
        return FileResponse(target)

    return app


app = create_app()
