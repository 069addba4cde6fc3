"""GoHighLevel Social Planner hook (tags, tag details, accounts, statistics, locations)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ghl_pleo.errors import ConfigurationError, FatalAPIError, check_token, learn_secret
from ghl_pleo.hooks.auth import GhlAuth
from ghl_pleo.hooks.bounds import listing_bounds
from ghl_pleo.hooks.client import ApiClient, RetryPolicy
from ghl_pleo.hooks.common import ConfiguredHook, base_url_from, connection_extras, extra_number, retry_policy_from
from ghl_pleo.paginators import LocationPaginator, SkipPaginator, paginate
from ghl_pleo.quality import check_location_id
from ghl_pleo.ratelimit import SlidingWindowLimiter

if TYPE_CHECKING:
    from ghl_pleo.warehouse import TokenStore

log = logging.getLogger(__name__)

V2 = "2021-07-28"
V3 = "v3"
TAGS = "/social-media-posting/{locationId}/tags"
TAG_DETAILS = "/social-media-posting/{locationId}/tags/details"
ACCOUNTS = "/social-media-posting/{locationId}/accounts"
STATISTICS = "/social-media-posting/statistics"
LOCATION = "/locations/{locationId}"
LOCATION_SEARCH = "/locations/search"
DETAILS_BATCH = 100
PAGE_LIMIT = 100


class GhlHook(ConfiguredHook):
    """Talks to GHL with a sub-account (location) token.

    Connection ``ghl_default``, of type ``ghl`` (the form of :mod:`ghl_pleo.provider`) or ``http``: ``host`` = base
    URL, ``password`` = a token used for every location, and extras: ``location_tokens`` (``{locationId: token}``,
    per-location Private Integration Tokens), ``oauth`` (agency OAuth, :mod:`ghl_pleo.hooks.oauth`), ``company_id``
    (the agency id, for discovering locations when the ``ghl_location_ids`` variable is absent; the password must
    then be an agency-level token), ``burst_limit`` / ``burst_window_s`` (the per-location burst limit, 100 / 10),
    ``timeout_s`` and ``max_attempts`` (HTTP timeout and tries per request).
    """

    conn_name_attr = "ghl_conn_id"
    default_conn_name = "ghl_default"
    conn_type = "ghl"
    hook_name = "GoHighLevel (GHL)"

    def __init__(
        self,
        ghl_conn_id: str = default_conn_name,
        *,
        token_store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``token_store``: where agency OAuth keeps its rotating tokens (the warehouse's ``tokens``); needed
        only when the connection uses ``extra.oauth``."""
        super().__init__()
        self.ghl_conn_id = ghl_conn_id
        self.token_store = token_store
        self._retry = retry
        self._sleep = sleep

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.ghl_conn_id)

    @cached_property
    def extras(self) -> dict:
        extras = connection_extras(self.connection, self.ghl_conn_id)
        tokens = extras.get("location_tokens", {})
        if not isinstance(tokens, dict):
            raise ConfigurationError(
                f"Connection {self.ghl_conn_id!r}: extra 'location_tokens' must be an "
                f"object {{locationId: token}}, got {type(tokens).__name__}."
            )
        return extras

    @cached_property
    def client(self) -> ApiClient:
        extras = self.extras
        limiter = SlidingWindowLimiter(
            int(extra_number(extras, "burst_limit", 100, self.ghl_conn_id, minimum=1)),
            extra_number(extras, "burst_window_s", 10.0, self.ghl_conn_id, minimum=0.001),
            margin_s=extra_number(extras, "burst_margin_s", 0.1, self.ghl_conn_id),
            sleep=self._sleep,
        )
        timeout = extra_number(extras, "timeout_s", 30.0, self.ghl_conn_id, minimum=0.001)
        retry = self._retry or retry_policy_from(extras, self.ghl_conn_id)
        client = ApiClient(
            "GHL",
            base_url_from(self.connection, "https://services.leadconnectorhq.com", self.ghl_conn_id),
            timeout=(min(10.0, timeout), timeout),
            retry=retry,
            limiter=limiter,
            secrets=self._secrets,
            sleep=self._sleep,
            conn_id=self.ghl_conn_id,
        )
        client.session.headers.update({"Accept": "application/json"})
        self._mask_tokens()
        return client

    def _secrets(self) -> list[str]:
        oauth = self.extras.get("oauth") or {}
        found = [self.connection.password, *self.extras.get("location_tokens", {}).values()]
        return [s for s in [*found, oauth.get("client_secret"), oauth.get("refresh_token")] if s]

    @cached_property
    def oauth(self):
        """Agency OAuth (``extra.oauth``), or None when the connection carries plain tokens."""
        settings = self.extras.get("oauth")
        if not settings:
            return None
        if not isinstance(settings, dict):
            raise ConfigurationError(
                f"Connection {self.ghl_conn_id!r}: extra.oauth must be an object with client_id, "
                f"client_secret, company_id and refresh_token."
            )
        if self.token_store is None:
            raise ConfigurationError(
                f"Connection {self.ghl_conn_id!r} uses agency OAuth, whose refresh token rotates and must be kept in "
                f"the warehouse: build the hook with token_store=Warehouse().tokens."
            )
        from ghl_pleo.hooks.oauth import AgencyOAuth

        return AgencyOAuth(settings, self.client, self.token_store, self._mask)

    @staticmethod
    def _mask(secret: str) -> None:
        """A token learned at run time (minted, refreshed): redacted everywhere, and masked in the task log."""
        learn_secret(secret)
        try:
            from airflow.sdk.log import mask_secret
        except ImportError:  # pragma: no cover
            return
        mask_secret(secret)

    def _mask_tokens(self) -> None:
        """Check every token and secret of the connection once, before any request (whitespace or control
        characters are a configuration error), and register it with the redaction set and Airflow's log masker."""
        for token in self._secrets():
            self._mask(check_token(token, self.ghl_conn_id, "token or secret"))

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: one cheap call with the connection's token, and what is wrong if it fails
        (:mod:`ghl_pleo.hooks.connection_test`). Agency OAuth is checked without using its refresh token."""
        from ghl_pleo.hooks.connection_test import check_ghl

        return check_ghl(self)

    def token_for(self, location_id: str | None) -> str:
        """The bearer token for a location: its own Private Integration Token, else the connection's password.

        With agency OAuth: a location token minted for it (cached until it expires),
        or the agency token when ``location_id`` is None (discovery).
        """
        if self.oauth is not None:
            return self.oauth.location_token(location_id) if location_id else self.oauth.agency_token()
        tokens = self.extras.get("location_tokens", {})
        token = tokens.get(location_id) if location_id else None
        token = token or self.connection.password
        if not token:
            raise ConfigurationError(
                f"Connection {self.ghl_conn_id!r} has no token for location {location_id}: set its password "
                f"(one token for all locations) or extra.location_tokens[{location_id!r}]."
            )
        return token  # checked once, when the client was built (_mask_tokens)

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        location_id: str | None,
        version: str = V2,
        limiter_key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if location_id is not None:
            check_location_id(location_id)  # an id with "/" or ".." would change the request path
        auth = self.auth_for(location_id, version)
        return self.client.request(
            method, endpoint, auth=auth, location_id=location_id, limiter_key=limiter_key or location_id, **kwargs
        )

    def auth_for(self, location_id: str | None, version: str = V2) -> GhlAuth:
        """Credentials for one request: the token of :meth:`token_for`; with agency OAuth, a 401 refreshes it once."""
        refresh = (lambda: self.oauth.forget(location_id)) if self.oauth is not None else None
        return GhlAuth(lambda: self.token_for(location_id), version, refresh=refresh)

    @staticmethod
    def _results(body: Any, where: str) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("results"), dict):
            keys = sorted(body)[:8] if isinstance(body, dict) else "-"
            raise FatalAPIError(
                f"{where}: response has no 'results' object (envelope missing); "
                f"got {type(body).__name__} with keys {keys}."
            )
        return body["results"]

    def iter_tag_pages(
        self, location_id: str, *, limit: int = PAGE_LIMIT, last_good_rows: int | None = None
    ) -> Iterator[tuple[int, list[dict], SkipPaginator]]:
        """Yield ``(page_no, tags, paginator)`` for every page of a location's social tags.

        Paging stops at the reported ``count``, on an empty page, or on a page
        with no new ids (see :class:`SkipPaginator`). Still going after 3 x the pages of ``last_good_rows``
        (at least 10; without it, the ceiling), it is an ``upstream_contract`` error (:func:`listing_bounds`).
        """
        paginator = SkipPaginator(limit)
        where = f"GHL GET {TAGS} for location {location_id}"

        def fetch(params: dict[str, str]) -> Any:
            return self._call(
                "GET", TAGS, location_id=location_id, path_params={"locationId": location_id}, params=params
            )

        bounds = listing_bounds(where, TAGS, location_id, limit=limit, last_good_rows=last_good_rows)
        for tags in paginate(fetch, paginator, lambda body: self._tags(body, where), bounds):
            yield paginator.pages, tags, paginator

    @classmethod
    def _tags(cls, body: Any, where: str) -> list:
        tags = cls._results(body, where).get("tags")
        if not isinstance(tags, list):
            raise FatalAPIError(f"{where}: results.tags is {type(tags).__name__}, expected a list.")
        return tags

    def tag_details(self, location_id: str, tag_ids: list[str]) -> list[dict]:
        """Details for the given tag ids, in batches of at most 100 ids per request."""
        return [t for batch in self.iter_tag_details(location_id, tag_ids) for t in batch]

    def iter_tag_details(self, location_id: str, tag_ids: list[str]) -> Iterator[list[dict]]:
        """Details for the given tag ids, one list per request of at most 100 ids."""
        where = f"GHL POST {TAG_DETAILS} for location {location_id}"
        for start in range(0, len(tag_ids), DETAILS_BATCH):
            batch = tag_ids[start : start + DETAILS_BATCH]
            body = self._call(
                "POST",
                TAG_DETAILS,
                location_id=location_id,
                path_params={"locationId": location_id},
                json_body={"tagIds": batch},
            )
            yield [t for t in self._tags(body, where) if isinstance(t, dict)]

    def get_location(self, location_id: str) -> dict:
        body = self._call("GET", LOCATION, location_id=location_id, path_params={"locationId": location_id})
        location = body.get("location") if isinstance(body, dict) else None
        if not isinstance(location, dict):
            raise FatalAPIError(f"GHL GET {LOCATION} for location {location_id}: no 'location' object in the response.")
        return location

    def search_locations(self, company_id: str | None = None, *, limit: int = 100) -> list[dict]:
        """Every location of an agency (``GET /locations/search``, paged with skip/limit)."""
        company_id = company_id or (self.oauth.company_id if self.oauth is not None else None)
        where = f"GHL GET {LOCATION_SEARCH} for company {company_id}"

        def fetch(params: dict[str, str]) -> Any:
            query = {"companyId": company_id, **params}
            return self._call(
                "GET", LOCATION_SEARCH, location_id=None, limiter_key=f"company:{company_id}", params=query
            )

        def locations(body: Any) -> list:
            found = body.get("locations") if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise FatalAPIError(f"{where}: no 'locations' list.")
            return found

        bounds = listing_bounds(where, LOCATION_SEARCH, None, limit=limit)
        pages = paginate(fetch, LocationPaginator(limit), locations, bounds)
        return [loc for page in pages for loc in page if isinstance(loc, dict)]

    def accounts(self, location_id: str) -> list[dict]:
        body = self._call("GET", ACCOUNTS, location_id=location_id, path_params={"locationId": location_id})
        accounts = self._results(body, f"GHL GET {ACCOUNTS} for location {location_id}").get("accounts") or []
        return [a for a in accounts if isinstance(a, dict)]

    def statistics(self, location_id: str, body: dict) -> dict:
        """v3 statistics for one batch of at most 100 profile ids (``currentRange``/``prevRange`` in ``body``)."""
        resp = self._call(
            "POST", STATISTICS, location_id=location_id, version=V3, params={"locationId": location_id}, json_body=body
        )
        return self._results(resp, f"GHL POST {STATISTICS} for location {location_id}")
