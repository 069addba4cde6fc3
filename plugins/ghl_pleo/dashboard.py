"""The health dashboard: a FastAPI app that Airflow's api-server mounts at ``/ghl-pleo`` (see
``plugins/ghl_pleo_plugin.py``), linked from the Airflow UI's navigation (Browse > GHL-Pleo health).

* ``/ghl-pleo/`` (``?window=24h|7d|30d``): the page, rendered by :mod:`ghl_pleo.dashboard_page` (charts are SVG
  drawn there; the page has no script and loads nothing from elsewhere).
* ``/ghl-pleo/api/health``: the same numbers as JSON, for other monitors (stable keys; see README).
* ``/ghl-pleo/data-docs/...``: the Great Expectations Data Docs of the runs (the links in alerts point here).

Reads only the warehouse. Every route needs an Airflow login (the UI's session cookie, or
``Authorization: Bearer <token from /auth/token>``) unless ``GHL_PLEO_DASHBOARD_PUBLIC=1``.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ghl_pleo.dashboard_page import render_page

log = logging.getLogger("ghl_pleo.dashboard")
URL_PREFIX = "/ghl-pleo"
CACHE_S = 30.0
_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()
_warehouse = None


async def require_login(request: Request) -> None:
    """An Airflow user (cookie or bearer token), unless the dashboard is made public."""
    if os.environ.get("GHL_PLEO_DASHBOARD_PUBLIC", "").lower() in ("1", "true", "yes"):
        return
    auth = request.headers.get("authorization") or ""
    token = auth[7:] if auth.lower().startswith("bearer ") else None
    try:
        from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
        from airflow.api_fastapi.core_api.security import resolve_user_from_token

        await resolve_user_from_token(token or request.cookies.get(COOKIE_NAME_JWT_TOKEN))
    except HTTPException:
        raise
    except Exception as exc:  # no auth manager (not inside the api-server): refuse rather than open up
        log.warning("Dashboard login check failed: %s", type(exc).__name__)
        raise HTTPException(status_code=401, detail="Log in to Airflow first") from None


def warehouse():
    """The warehouse behind ``ghl_pleo_db`` (read from the api-server's connections), built once."""
    global _warehouse
    if _warehouse is None:
        from ghl_pleo.warehouse import Warehouse, warehouse_url

        try:
            url = warehouse_url()
        except Exception:  # the Task SDK cannot read connections in this process: ask the server's secrets
            from airflow.models.connection import Connection

            conn = Connection.get_connection_from_secrets("ghl_pleo_db")
            url = (conn.extra_dejson or {}).get("sqlalchemy_url") or conn.get_uri()
        _warehouse = Warehouse(url)  # applies the schema (once per process)
    return _warehouse


def current_health() -> dict:
    """The health document, recomputed at most every 30 s (500 locations x 30 days is ~360,000 ledger rows)."""
    from ghl_pleo.health import health

    with _cache_lock:
        hit = _cache.get("health")
        if hit and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        doc = health(warehouse())
        _cache["health"] = (time.monotonic(), doc)
        return doc


def create_app() -> FastAPI:
    app = FastAPI(
        title="GHL-Pleo health", dependencies=[Depends(require_login)], docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.get("/api/health")
    def health_json() -> JSONResponse:
        return JSONResponse(current_health())

    @app.get("/", response_class=HTMLResponse)
    def page(window: str = "24h") -> HTMLResponse:
        from ghl_pleo.health import WINDOWS

        if window not in WINDOWS:
            raise HTTPException(status_code=400, detail=f"window must be one of {', '.join(WINDOWS)}")
        return HTMLResponse(render_page(current_health(), window))

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
