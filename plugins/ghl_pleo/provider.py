"""The project's Airflow provider: the ``ghl`` and ``pleo`` connection types, with their form and Test button.

Found through the ``apache_airflow_provider`` entry point in ``pyproject.toml`` (``make`` installs the project
with ``pip install --no-deps -e .``, the Dockerfile from a copy). Airflow 3.2+ reads the connection form
declaratively from here, without importing the hooks: ``ui-field-behaviour`` hides, relabels and fills in the
standard fields, and each ``conn-fields`` entry is one form widget whose value the UI stores in the connection's
extra under the field's own name (``company_id``, ``burst_limit``, ...), the keys the hooks read, so a
connection made in the form and one given as JSON (``conn_type`` ``http`` too) are read the same way. A field
left empty is stored as ``null``, which the hooks read as "not set" (:func:`ghl_pleo.hooks.common.connection_extras`).

Keep this module free of imports: every Airflow process loads it while it discovers providers, and an error here
would stop that discovery.
"""

from __future__ import annotations

PACKAGE = "ghl-pleo"
VERSION = "0.1.0"  # as in pyproject.toml


def _field(label: str, description: str, kind: str, *, required: bool = False, **schema: object) -> dict:
    """One form widget: a JSON-schema field (``kind`` string, integer or number); optional ones may be null."""
    schema = {"type": kind if required else [kind, "null"], **schema}
    return {"label": label, "description": description, "schema": schema}


# The base URL goes whole into the host field, the token is the password: schema and login are hidden. The port
# stays, optional: Airflow 3.3.2's Test button (in the connection list) sends port 0 for a connection without one,
# which the api-server takes for another destination and refuses ("Bad Request"; apache/airflow#73298 fixes it
# after 3.3.2). Port 443 with an https host makes it work; a port in the host URL itself wins.
_HIDDEN = ["schema", "login"]
_PORT = "443 (optional; Airflow 3.3.2's Test button needs it)"

GHL = {
    "connection-type": "ghl",
    "hook-class-name": "ghl_pleo.hooks.ghl.GhlHook",
    "hook-name": "GoHighLevel (GHL)",
    "ui-field-behaviour": {
        "hidden-fields": _HIDDEN,
        "relabeling": {"host": "Base URL", "password": "API token"},
        "placeholders": {
            "host": "https://services.leadconnectorhq.com",
            "port": _PORT,
            "password": "a sub-account Private Integration Token (pit-...), or an agency token",
        },
    },
    "conn-fields": {
        "company_id": _field(
            "Agency company id",
            "GHL's companyId of the agency. Locations are discovered with it (GET /locations/search) when the "
            "Airflow variable ghl_location_ids is not set; the API token must then be an agency token. Agency "
            "OAuth keeps its company id in extra.oauth instead.",
            "string",
        ),
        "burst_limit": _field(
            "Burst limit (requests)",
            "GHL's burst limit per location: at most this many requests per burst window. Default 100.",
            "integer",
            minimum=1,
        ),
        "burst_window_s": _field(
            "Burst window (seconds)", "The window of the burst limit, in seconds. Default 10.", "number", minimum=0.001
        ),
    },
}

PLEO = {
    "connection-type": "pleo",
    "hook-class-name": "ghl_pleo.hooks.pleo.PleoHook",
    "hook-name": "Pleo",
    "ui-field-behaviour": {
        "hidden-fields": _HIDDEN,
        "relabeling": {"host": "Base URL", "password": "API token"},
        "placeholders": {
            "host": "https://external.pleo.io (staging: https://external.staging.pleo.io)",
            "port": _PORT,
            "password": "Pleo API token",
        },
    },
    "conn-fields": {
        "company_id": _field(
            "Company id",
            "The Pleo company (a uuid) whose tag groups are kept in step with GHL; Pleo's tag-group API needs it.",
            "string",
            required=True,
            minLength=1,
        ),
        "currency": _field(
            "Company currency",
            "The company's currency, an ISO 4217 code such as DKK or EUR (spend is counted in it).",
            "string",
            minLength=3,
            maxLength=3,
        ),
        "max_requests_per_second": _field(
            "Max requests per second",
            "Our cap on requests to Pleo (Pleo publishes no limit), one budget shared by every task through the "
            "warehouse. Default 10.",
            "number",
            minimum=0.01,
        ),
        "rate_headroom": _field(
            "Rate headroom",
            "The fraction of that rate kept free for timing jitter between processes (0 to below 1). Default 0.05.",
            "number",
            minimum=0,
            maximum=0.99,
        ),
        "concurrency": _field(
            "Writes in flight per task", "Pleo writes sent at once within one task. Default 4.", "integer", minimum=1
        ),
    },
}


def get_provider_info() -> dict:
    """What Airflow's ProvidersManager reads (``airflow/provider_info.schema.json``)."""
    return {
        "package-name": PACKAGE,
        "name": "GHL-Pleo",
        "description": "GoHighLevel and Pleo connection types of the ghl-pleo project (form fields, Test button).",
        "versions": [VERSION],
        "connection-types": [GHL, PLEO],
    }
