"""The location list: the ``ghl_location_ids`` variable (names looked up), else discovery for the agency;
the run's ``locations`` param limits it."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ghl_pleo.errors import AuthenticationError, ConfigurationError, FatalAPIError
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.quality import check_location_id

if TYPE_CHECKING:
    from ghl_pleo.run_context import LocationRun

log = logging.getLogger(__name__)
# What GHL answers for a location the token may not see, or an id it does not know. A 401 is usually the token itself
# refused (an authentication error: fix the token), so it counts only when the same token's other name lookups in
# this run succeeded; 403/404 count also when the token synced other locations before.
INACCESSIBLE = (401, 403, 404)
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
    """``{location_id, name}`` for each id, looked up in parallel (a failed lookup leaves the name None).

    A lookup GHL answers 401/403/404 while others succeed marks its location ``inaccessible`` (the id is probably
    a typo): its task then fails as ``configuration`` if its tag read fails the same way (:func:`raise_if_unknown`).
    When every lookup fails (no ``locations.readonly`` scope, say), no location is marked.
    """

    def lookup(location_id: str) -> tuple[dict, int | None, bool]:
        try:
            return {"location_id": location_id, "name": ghl.get_location(location_id).get("name")}, None, True
        except (AuthenticationError, FatalAPIError) as exc:
            # Missing locations.readonly scope, or an id GHL does not know: the group keeps its name (or the id).
            log.warning("Location %s: name lookup failed (%s); the group name falls back to the id.", location_id, exc)
            return {"location_id": location_id, "name": None}, exc.status, False

    _ = ghl.client, ghl.oauth  # built once, before the threads share them
    workers = min(LOOKUP_THREADS, max(1, len(ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ghl-lookup") as pool:
        results = list(pool.map(lookup, ids))
    if any(ok for *_, ok in results):
        for loc, status, _ok in results:
            if status in INACCESSIBLE:
                loc["inaccessible"] = f"its name lookup got HTTP {status} while other locations' lookups succeeded"
    return [loc for loc, *_ in results]


def raise_if_unknown(run: LocationRun, ghl: GhlHook, location: dict | None, exc: Exception) -> None:
    """Raise, instead of ``exc`` (the error of a location's first GHL read), a :class:`ConfigurationError` ("unknown or
    inaccessible location <id>") when GHL answered 401/403/404 for a location that never synced in this DAG while
    the token works for other locations (their name lookups in this run, or their syncs before). A location with
    its own token in ``location_tokens`` keeps ``exc`` (its token is the one to fix). Else return: the caller
    re-raises ``exc``."""
    status, location_id = getattr(exc, "status", None), run.location_id
    if not isinstance(exc, FatalAPIError) or status not in INACCESSIBLE:
        return
    if location_id in (ghl.extras.get("location_tokens") or {}):
        return
    ledger, dag_id = run.warehouse.ledger, run.run.dag_id
    if ledger.has_succeeded(dag_id, location_id):
        return  # it synced before: a revoked access or an API change, not a typo
    evidence = (location or {}).get("inaccessible")
    if not evidence and status == 401:
        return  # no name lookup of this run says the token works: the token itself is refused (authentication)
    if not evidence and ledger.has_succeeded(dag_id, location_id, others=True):
        evidence = "the same token has synced other locations"
    if not evidence:
        return
    raise ConfigurationError(
        f"unknown or inaccessible location {location_id}: GHL answered HTTP {status} to {exc.endpoint} ({evidence}). "
        f"Check the id in the variable ghl_location_ids (a typo?) or give the token access to the location. "
        f"Nothing was written to Pleo for it."
    ) from exc


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
