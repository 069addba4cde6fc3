"""The two emulators, built over one shared state.

* GHL (``build_ghl_app``, routes in ``sandbox.ghl``): social tags, tag details, accounts,
  statistics, locations, OAuth.
* Pleo (``build_pleo_app``, routes in ``sandbox.pleo``): tag groups, dimensions, tags,
  dimension values, aggregated tag search, accounting entries (``sandbox.pleo_entries``).

Every API request runs through ``sandbox.pipeline``; both apps mount ``/_admin``
(``sandbox.admin``, see sandbox/README.md).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from sandbox import ghl, pleo
from sandbox.admin import admin_router
from sandbox.pipeline import Reply, ResetMiddleware
from sandbox.state import SandboxState

__all__ = ["Reply", "ResetMiddleware", "SandboxState", "admin_router", "build_ghl_app", "build_pleo_app"]


INSTANCE_PATH = "/__sandbox/instance"


def _instance_route(app: FastAPI) -> None:
    """``GET /__sandbox/instance``: the id ``sandbox.ctl up`` gave this process (``SANDBOX_INSTANCE_ID``), so a
    checkout can tell its own sandbox from another server on the port (null when started otherwise)."""

    @app.get(INSTANCE_PATH)
    def instance():
        return {"sandbox": True, "instance": os.environ.get("SANDBOX_INSTANCE_ID") or None}


def build_ghl_app(state: SandboxState) -> FastAPI:
    app = FastAPI(title="GHL sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    _instance_route(app)
    ghl.add_routes(app, state)
    app.include_router(admin_router(state))
    return app


def build_pleo_app(state: SandboxState) -> FastAPI:
    app = FastAPI(title="Pleo sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    _instance_route(app)
    pleo.add_routes(app, state)
    app.include_router(admin_router(state))
    return app
