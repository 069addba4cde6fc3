"""Pleo Tags API v0 hook (tag groups, dimensions, tags, dimension values)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ghl_pleo.errors import ConfigurationError, FatalAPIError, check_token
from ghl_pleo.hooks import pleo_dry_run as dry
from ghl_pleo.hooks.bounds import listing_bounds
from ghl_pleo.hooks.client import ApiClient, RetryPolicy
from ghl_pleo.hooks.common import (
    ConfiguredHook,
    base_url_from,
    company_id_from,
    connection_extras,
    currency_from,
    extra_number,
    pleo_rate_limiter,
    retry_policy_from,
)
from ghl_pleo.paginators import CursorPaginator, paginate

if TYPE_CHECKING:
    from ghl_pleo.warehouse import RateSlotStore

GROUPS = "/v0/tag-groups"
GROUP = "/v0/tag-groups/{groupId}"
GROUP_TAGS = "/v0/tag-groups/{groupId}/tags"
GROUP_DIMENSIONS = "/v0/tag-groups/{groupId}/dimensions"
TAG = "/v0/tags/{tagId}"
TAG_DIMENSION = "/v0/tags/{tagId}/dimensions/{dimensionId}"
AGGREGATED_TAGS = "/v0/aggregations/tags"
JSON = "application/json;charset=UTF-8"
PAGE_LIMIT = 100
AGGREGATION_BATCH = 100


class PleoHook(ConfiguredHook):
    """Talks to Pleo's Tags API.

    Connection ``pleo_default``, of type ``pleo`` (the form of :mod:`ghl_pleo.provider`) or ``http``: ``host`` =
    base URL, ``password`` = API token, extras ``company_id`` (required), ``currency``, ``max_requests_per_second``
    (default 10, one budget for every task through the warehouse unless ``shared_rate`` is false, ``rate_headroom``
    of it kept free), ``concurrency`` (writes in flight per task, default 4), ``timeout_s``, ``max_attempts``.

    With ``dry_run=True`` every read goes to Pleo and no write does: each write method returns what Pleo
    would have answered (created objects get ``planned:`` ids, which later reads treat as empty), so the
    sync code runs unchanged and its change log becomes the plan (:mod:`ghl_pleo.hooks.pleo_dry_run`).
    """

    conn_name_attr = "pleo_conn_id"
    default_conn_name = "pleo_default"
    conn_type = "pleo"
    hook_name = "Pleo"

    def __init__(
        self,
        pleo_conn_id: str = default_conn_name,
        *,
        rate_slots: RateSlotStore | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        dry_run: bool = False,
    ) -> None:
        """``rate_slots``: the warehouse's shared rate (``Warehouse().rate_slots``), through which every task
        keeps to one Pleo budget; needed unless the connection sets ``shared_rate: false``."""
        super().__init__()
        self.pleo_conn_id = pleo_conn_id
        self.rate_slots = rate_slots
        self.dry_run = dry_run
        self._retry = retry
        self._sleep = sleep

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.pleo_conn_id)

    @cached_property
    def extras(self) -> dict:
        return connection_extras(self.connection, self.pleo_conn_id)

    @property
    def company_id(self) -> str:
        return company_id_from(self.extras, self.pleo_conn_id)

    @property
    def currency(self) -> str | None:
        """The company's currency (extra ``currency``, ISO 4217), or None when the connection does not say."""
        return currency_from(self.extras, self.pleo_conn_id)

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: one cheap call (the company's tag groups), no warehouse needed; what is wrong."""
        from ghl_pleo.hooks.connection_test import check_pleo

        return check_pleo(self)

    @cached_property
    def client(self) -> ApiClient:
        conn = self.connection
        if not check_token(conn.password, self.pleo_conn_id, "password (the Pleo API token)"):
            raise ConfigurationError(f"Connection {self.pleo_conn_id!r} has no password (the Pleo API token).")
        rps = extra_number(self.extras, "max_requests_per_second", 10, self.pleo_conn_id, minimum=0.01)
        timeout = extra_number(self.extras, "timeout_s", 30.0, self.pleo_conn_id, minimum=0.001)
        retry = self._retry or retry_policy_from(self.extras, self.pleo_conn_id)
        limiter = pleo_rate_limiter(self.extras, rps, self.pleo_conn_id, rate_slots=self.rate_slots, sleep=self._sleep)
        client = ApiClient(
            "Pleo",
            base_url_from(conn, "https://external.pleo.io", self.pleo_conn_id),
            timeout=(min(10.0, timeout), timeout),
            retry=retry,
            limiter=limiter,
            secrets=lambda: [conn.password],
            sleep=self._sleep,
            conn_id=self.pleo_conn_id,
        )
        client.session.headers.update({"Authorization": f"Bearer {conn.password}", "Accept": JSON})
        return client

    @cached_property
    def concurrency(self) -> int:
        """Pleo writes in flight at once within one task (extra ``concurrency``, default 4); the rate still rules."""
        return int(extra_number(self.extras, "concurrency", 4, self.pleo_conn_id, minimum=1))

    def _call(self, method: str, endpoint: str, *, location_id: str | None = None, **kwargs: Any) -> Any:
        headers = {"Content-Type": JSON} if "json_body" in kwargs else None
        return self.client.request(
            method,
            endpoint,
            headers=headers,
            location_id=location_id,
            limiter_key=f"pleo:{self.client.base_url}",
            **kwargs,
        )

    @staticmethod
    def _data(body: Any, where: str) -> Any:
        if not isinstance(body, dict) or "data" not in body:
            raise FatalAPIError(f"Pleo {where}: response has no 'data'.")
        return body["data"]

    # Tag groups ---------------------------------------------------------------------------
    def list_groups(self, company_id: str | None = None) -> list[dict]:
        body = self._call("GET", GROUPS, params={"company_id": company_id or self.company_id})
        return list(self._data(body, f"GET {GROUPS}"))

    def create_group(
        self,
        code: str,
        name: str,
        *,
        metadata: dict[str, str] | None = None,
        company_id: str | None = None,
        location_id: str | None = None,
    ) -> dict:
        if self.dry_run:
            return dry.planned_group(code, name, metadata)
        body = self._call(
            "POST",
            GROUPS,
            params={"company_id": company_id or self.company_id},
            json_body={"code": code, "name": name, "archived": False, "metadata": metadata or {}},
            idempotent=False,
            location_id=location_id,
        )
        return self._data(body, f"POST {GROUPS}")

    def update_group(self, group: dict, *, location_id: str | None = None) -> dict:
        """PUT the whole group (code, name, archived, metadata)."""
        payload = {
            "code": group["code"],
            "name": group["name"],
            "archived": bool(group.get("archived")),
            "metadata": dict(group.get("metadata") or {}),
        }
        if self.dry_run:
            return dry.updated_group(group, payload)
        body = self._call(
            "PUT", GROUP, path_params={"groupId": group["id"]}, json_body=payload, location_id=location_id
        )
        return self._data(body, f"PUT {GROUP}")

    # Tags ---------------------------------------------------------------------------------
    def iter_tags(self, group_id: str, *, location_id: str | None = None) -> Iterator[list[dict]]:
        """Every tag of a group, archived ones included, page by page."""
        if dry.is_planned(group_id):
            return

        def fetch(params: dict[str, str]) -> Any:
            return self._call(
                "GET",
                GROUP_TAGS,
                path_params={"groupId": group_id},
                location_id=location_id,
                params={**params, "include_archived": "true"},
            )

        paginator = CursorPaginator(PAGE_LIMIT, where=f"Pleo GET {GROUP_TAGS} (group {group_id})")
        bounds = listing_bounds(paginator.where, GROUP_TAGS, location_id, limit=PAGE_LIMIT)
        for data in paginate(fetch, paginator, lambda body: self._data(body, f"GET {GROUP_TAGS}"), bounds):
            yield list(data)

    def create_tag(self, group_id: str, code: str, name: str, *, location_id: str | None = None) -> dict:
        if self.dry_run:
            return dry.planned_tag(code, name)
        body = self._call(
            "POST",
            GROUP_TAGS,
            path_params={"groupId": group_id},
            location_id=location_id,
            json_body={"code": code, "name": name, "archived": False},
            idempotent=False,
        )
        return self._data(body, f"POST {GROUP_TAGS}")

    def update_tag(
        self, tag_id: str, *, code: str, name: str | None, archived: bool, location_id: str | None = None
    ) -> dict:
        payload: dict[str, Any] = {"code": code, "archived": archived}
        if name is not None:
            payload["name"] = name
        if self.dry_run:
            return dry.updated_tag(tag_id, payload)
        body = self._call("PUT", TAG, path_params={"tagId": tag_id}, json_body=payload, location_id=location_id)
        return self._data(body, f"PUT {TAG}")

    # Dimensions ---------------------------------------------------------------------------
    def list_dimensions(self, group_id: str, *, location_id: str | None = None) -> list[dict]:
        if dry.is_planned(group_id):
            return []
        body = self._call("GET", GROUP_DIMENSIONS, path_params={"groupId": group_id}, location_id=location_id)
        return list(self._data(body, f"GET {GROUP_DIMENSIONS}"))

    def create_dimension(
        self,
        group_id: str,
        *,
        code: str,
        name: str,
        display_order: int,
        visible: bool = True,
        location_id: str | None = None,
    ) -> dict:
        if self.dry_run:
            return dry.planned_dimension(code, name, display_order, visible)
        body = self._call(
            "POST",
            GROUP_DIMENSIONS,
            path_params={"groupId": group_id},
            location_id=location_id,
            json_body={"code": code, "name": name, "displayOrder": display_order, "visible": visible},
            idempotent=False,
        )
        return self._data(body, f"POST {GROUP_DIMENSIONS}")

    def iter_aggregated_tags(
        self, tag_ids: list[str], *, company_id: str | None = None, location_id: str | None = None
    ) -> Iterator[list[dict]]:
        """Tags with their dimension values (``POST /v0/aggregations/tags``), in batches of tag ids."""
        tag_ids = [t for t in tag_ids if not dry.is_planned(t)]
        for start in range(0, len(tag_ids), AGGREGATION_BATCH):
            batch = tag_ids[start : start + AGGREGATION_BATCH]

            def fetch(params: dict[str, str], batch: list[str] = batch) -> Any:
                return self._call(
                    "POST",
                    AGGREGATED_TAGS,
                    location_id=location_id,
                    params={"company_id": company_id or self.company_id, **params},
                    json_body={"tagIds": batch},
                )

            paginator = CursorPaginator(PAGE_LIMIT, where=f"Pleo POST {AGGREGATED_TAGS}")
            bounds = listing_bounds(paginator.where, AGGREGATED_TAGS, location_id, limit=PAGE_LIMIT)
            for data in paginate(fetch, paginator, lambda body: self._data(body, f"POST {AGGREGATED_TAGS}"), bounds):
                yield list(data)

    def put_dimension_value(
        self, tag_id: str, dimension_id: str, value: str, *, exists: bool, location_id: str | None = None
    ) -> dict:
        """Create (POST) or update (PUT) one tag's value for one dimension.

        A create answered 409 (someone set the value since we read it) becomes an update.
        """
        method = "PUT" if exists else "POST"
        if self.dry_run:
            return dry.planned_value(value)
        kwargs = {"path_params": {"tagId": tag_id, "dimensionId": dimension_id}, "location_id": location_id}
        kwargs["json_body"] = {"value": value}
        try:
            body = self._call(method, TAG_DIMENSION, **kwargs)
        except FatalAPIError as exc:
            if method != "POST" or exc.status != 409:
                raise
            method = "PUT"
            body = self._call(method, TAG_DIMENSION, **kwargs)
        return self._data(body, f"{method} {TAG_DIMENSION}")
