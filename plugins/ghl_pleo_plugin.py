"""Registers the GHL-Pleo health dashboard with Airflow: the app at ``/ghl-pleo`` on the api-server, and a
"GHL-Pleo health" entry under Browse in the Airflow UI. The code lives in ``ghl_pleo/dashboard.py``.

``.airflowignore`` keeps Airflow's plugin loader out of ``ghl_pleo/`` (it would import every module there as a
top-level module of its own name: ``statistics``, ``sync``...); this file is the one it loads.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ghl_pleo.dashboard import URL_PREFIX, app


class GhlPleoHealthPlugin(AirflowPlugin):
    name = "ghl_pleo_health"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "GHL-Pleo health dashboard"}]
    external_views = [
        {
            "name": "GHL-Pleo health",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "ghl-pleo-health",
        }
    ]
