"""The location list: the ``ghl_location_ids`` variable (names looked up), else discovery for the agency;
the run's ``locations`` param limits it."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ghl_pleo.errors import AuthenticationError, ConfigurationError, FatalAPIError
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.quality import check_location_id

log = logging.getLogger(__name__)
LOOKUP_THREADS = 8  # each location has its own burst limit: 500 name lookups take seconds, not minutes


def parse_location_ids(raw: Any) -> list[str]:
    """The ``ghl_location_ids`` variable: a JSON list of location ids (duplicates dropped, order kept)."""
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise ConfigurationError(
                f"Variable ghl_location_ids must be a JSON list of location ids, "
                f'e.g. ["ve9EPM428h8vShlRW1KT"]; got {raw[:80]!r}.'
            ) from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigurationError(
            f"Variable ghl_location_ids must be a JSON list of non-empty strings; got {value!r:.80}."
        )
    return list(dict.fromkeys(check_location_id(v.strip()) for v in value))


def param_ids(value: Any) -> list[str]:
    """A run param holding ids (``locations``, ``release_archive_guard``): a list, or a comma-separated string
    typed into the form. Whole ids only: a string is split, never searched for a substring."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise ConfigurationError(f"A run param must be a list of ids (or a comma-separated string); got {value!r:.80}.")
    return [v for v in (str(x).strip() for x in value) if v]


def limit_to(ids: list[str], only: list[str] | None, where: str) -> list[str]:
    """``ids`` limited to ``only`` (the run's ``locations`` param); an id not in ``ids`` is an error, not a no-op."""
    if not only:
        return ids
    wanted = list(dict.fromkeys(check_location_id(str(v).strip()) for v in only))
    unknown = [i for i in wanted if i not in set(ids)]
    if unknown:
        raise ConfigurationError(
            f"Param locations names {len(unknown)} location(s) that are not in {where}: "
            f"{', '.join(unknown)}. Add them there first, or fix the ids."
        )
    keep = set(wanted)
    return [i for i in ids if i in keep]


def resolve_locations(ghl: GhlHook, variable_value: Any, only: list[str] | None = None) -> list[dict]:
    """The locations to sync, with their names.

    From the ``ghl_location_ids`` variable when set (names looked up with
    ``GET /locations/{id}``), else discovered with ``GET /locations/search``
    for the agency in ``ghl_default``'s ``extra.company_id``. ``only`` (the
    run's ``locations`` param) limits the run to some of them.
    """
    if variable_value not in (None, ""):
        ids = limit_to(parse_location_ids(variable_value), only, "the variable ghl_location_ids")
        out = lookup_names(ghl, ids)
        log.info(
            "Locations from variable ghl_location_ids: %d%s (names looked up)",
            len(out),
            " (limited by param locations)" if only else "",
        )
        return out
    return discover(ghl, only)


def lookup_names(ghl: GhlHook, ids: list[str]) -> list[dict]:
    """``{location_id, name}`` for each id, looked up in parallel (a failed lookup leaves the name None)."""

    def lookup(location_id: str) -> dict:
        name = None
        try:
            name = ghl.get_location(location_id).get("name")
        except (AuthenticationError, FatalAPIError) as exc:
            # Missing locations.readonly scope, or an id GHL does not know: the group keeps its name (or the id).
            log.warning("Location %s: name lookup failed (%s); the group name falls back to the id.", location_id, exc)
        return {"location_id": location_id, "name": name}

    _ = ghl.client, ghl.oauth  # built once, before the threads share them
    workers = min(LOOKUP_THREADS, max(1, len(ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ghl-lookup") as pool:
        return list(pool.map(lookup, ids))


def discover(ghl: GhlHook, only: list[str] | None) -> list[dict]:
    """Every location of the agency in the connection's ``company_id`` (limited to ``only`` when given)."""
    company = ghl.extras.get("company_id") or (ghl.extras.get("oauth") or {}).get("company_id")
    if not company:
        raise ConfigurationError(
            "No locations to sync: set the Airflow variable ghl_location_ids (a JSON list of location ids), or give "
            "connection ghl_default an agency token and extra.company_id so locations can be discovered."
        )
    found = ghl.search_locations(str(company))
    out = [{"location_id": loc["id"], "name": loc.get("name")} for loc in found if isinstance(loc.get("id"), str)]
    log.info("Discovered %d locations for company %s", len(out), company)
    if only:
        keep = set(limit_to([loc["location_id"] for loc in out], only, f"the locations discovered for {company}"))
        out = [loc for loc in out if loc["location_id"] in keep]
        log.info("Param locations: this run syncs %d of them", len(out))
    return out
