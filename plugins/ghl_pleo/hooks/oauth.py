"""Agency (Company) OAuth for GHL: refresh the agency token, mint location tokens, keep the rotated refresh token.

Each refresh returns a new refresh token and kills the old one, so read-refresh-store must happen once per expiry
across every worker on every host. It is serialised per agency through the warehouse: a lease
(``sync_leases``, unit ``ghl_oauth:<companyId>``) is taken before the refresh (no database transaction stays open
during the request), the store is re-read under it (another host may have refreshed meanwhile), and the new tokens
are stored with a compare-and-swap on the generation that was read. The new refresh token is stored, encrypted
with Airflow's Fernet (:mod:`ghl_pleo.hooks.token_cipher`), before anything else in the answer is trusted; a
malformed or missing ``expires_in`` only changes how long the access token is assumed to live.

When GHL refuses a refresh token, the store is read again: a refresh token another host stored since is tried
once; then the connection's, if it differs (an operator re-authorised); only then is it an authentication error.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghl_pleo.errors import AuthenticationError, ConfigurationError
from ghl_pleo.hooks.common import extra_number
from ghl_pleo.hooks.token_cipher import TokenCipher
from ghl_pleo.leases import LeaseSettings, acquire
from ghl_pleo.warehouse.leases import LeaseStore

if TYPE_CHECKING:
    from ghl_pleo.warehouse import TokenStore

log = logging.getLogger("ghl_pleo.oauth")
TOKEN = "/oauth/token"
LOCATION_TOKEN = "/oauth/locationToken"
DEFAULT_MARGIN_S = 30.0  # refresh this long before the access token expires (extra.oauth.refresh_margin_s)
DEFAULT_LIFETIME_S = 3600.0  # an answer without a usable expires_in: assume an hour (a 401 refreshes earlier)
MAX_LIFETIME_S = 86400.0  # GHL's tokens live 86399 s; a larger expires_in is not believed
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def lifetime_s(expires_in: Any) -> float:
    """Seconds an access token lives, from an answer's ``expires_in``: never raises; missing, malformed ("soon"),
    zero or negative values mean :data:`DEFAULT_LIFETIME_S`, huge ones are capped at :data:`MAX_LIFETIME_S`."""
    if isinstance(expires_in, bool):
        return DEFAULT_LIFETIME_S
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_LIFETIME_S
    if not math.isfinite(seconds) or seconds <= 0:
        return DEFAULT_LIFETIME_S
    return min(seconds, MAX_LIFETIME_S)


@dataclass(frozen=True)
class RefreshLeaseSettings(LeaseSettings):
    """The refresh lease: held for one token request, so waiters look again often."""

    @property
    def poll_s(self) -> float:
        return 0.1


REFRESH_LEASE = RefreshLeaseSettings(ttl_s=60.0, wait_s=120.0)


class _Refused(AuthenticationError):
    """GHL refused the refresh token sent (401/403 on ``/oauth/token``)."""


class AgencyOAuth:
    """Tokens for one agency (company), from ``ghl_default``'s ``extra.oauth``.

    Args:
        settings: ``client_id``, ``client_secret``, ``company_id``, ``refresh_token``; optional
            ``refresh_margin_s`` (default 30: refresh that long before the access token expires).
        client: the hook's :class:`ApiClient` (requests go through its retries and counts).
        tokens: where the encrypted refresh and access tokens live (the warehouse's ``tokens`` store); the
            refresh lease lives in the same warehouse.
        mask: registers a new secret with Airflow's log masker.
        clock: epoch seconds (tests).
    """

    def __init__(
        self,
        settings: dict,
        client: Any,
        tokens: TokenStore,
        mask: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        missing = [k for k in ("client_id", "client_secret", "company_id", "refresh_token") if not settings.get(k)]
        if missing:
            raise ConfigurationError(f"Connection ghl_default: extra.oauth lacks {missing}.")
        self.settings = settings
        self.company_id = str(settings["company_id"])
        self.margin_s = extra_number(settings, "refresh_margin_s", DEFAULT_MARGIN_S, "ghl_default (extra.oauth)")
        self.client = client
        self.tokens = tokens
        self.leases = LeaseStore(tokens.db)
        self.mask = mask
        self.clock = clock
        self.cipher = TokenCipher()
        self._locations: dict[str, tuple[str, float]] = {}
        mask(settings["client_secret"])
        mask(settings["refresh_token"])

    # store ----------------------------------------------------------------------------------
    def _read(self) -> dict | None:
        """The company's stored tokens in plain text (``refresh``, ``access``, ``expires_at``, ``generation``), or
        None. A row written under an older fernet key is written back under the newest one."""
        row = self.tokens.load(self.company_id)
        if row is None:
            return None
        where = f"The agency OAuth tokens of company {self.company_id} (warehouse table ghl_oauth_state)"
        refresh, old_key = self.cipher.decrypt(row["refresh_token_enc"], where)
        access = None
        if row["access_token_enc"]:
            access, old_access_key = self.cipher.decrypt(row["access_token_enc"], where)
            old_key = old_key or old_access_key
        for token in (refresh, access):
            if token:
                self.mask(token)
        if old_key:
            done = self.tokens.reencrypt(
                self.company_id,
                row["generation"],
                row["refresh_token_enc"],
                self.cipher.rotate(row["refresh_token_enc"]),
                self.cipher.rotate(row["access_token_enc"]) if row["access_token_enc"] else None,
            )
            if done:
                log.info("Agency OAuth: company %s's tokens re-encrypted with the newest fernet key", self.company_id)
        return {
            "refresh": refresh,
            "access": access,
            "expires_at": row["access_expires_at"],
            "generation": row["generation"],
        }

    def _usable(self, expires_at: float | None) -> bool:
        return expires_at is not None and expires_at - self.clock() > self.margin_s

    def _current(self, state: dict | None, force: bool, stale: str | None) -> str | None:
        """The stored access token if it is usable (and, when ``force``d, not the ``stale`` one)."""
        if not state or not state["access"] or not self._usable(state["expires_at"]):
            return None
        return None if force and state["access"] == stale else state["access"]

    # agency token ---------------------------------------------------------------------------
    def agency_token(self, *, force: bool = False, stale: str | None = None) -> str:
        """The agency access token; refreshed (once per expiry, under the company's lease) when it is about to
        expire, or when ``force``d and the stored one is still ``stale`` (GHL answered 401 to it)."""
        current = self._current(self._read(), force, stale)
        if current:
            return current
        with self._local_lock():  # this process's threads queue here, not on the warehouse
            with acquire(
                self.leases,
                f"ghl_oauth:{self.company_id}",
                f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
                settings=REFRESH_LEASE,
                label=f"Agency OAuth refresh for company {self.company_id}",
            ):
                state = self._read()  # another worker, on any host, may have refreshed while we waited
                current = self._current(state, force, stale)
                if current:
                    return current
                sent = state["refresh"] if state else str(self.settings["refresh_token"])
                generation = state["generation"] if state else None
                try:
                    return self._refresh(sent, generation)
                except _Refused as refused:
                    return self._after_refusal(sent, generation, refused)

    def _local_lock(self) -> threading.Lock:
        with _locks_guard:
            return _locks.setdefault(self.company_id, threading.Lock())

    def _after_refusal(self, sent: str, generation: int | None, refused: _Refused) -> str:
        """GHL refused ``sent``. Read the store again: a refresh token stored since (another host rotated it) is
        tried once; else the connection's, if it is another one (re-authorised). Else the refusal stands."""
        state = self._read()
        if state and state["generation"] != generation:
            log.warning(
                "Agency OAuth: company %s's refresh token was rotated elsewhere; using the stored one", self.company_id
            )
            current = self._current(state, False, None)
            return current or self._refresh(state["refresh"], state["generation"])
        configured = str(self.settings["refresh_token"])
        if configured != sent:
            log.warning(
                "Agency OAuth: the stored refresh token of company %s was refused; trying the connection's",
                self.company_id,
            )
            return self._refresh(configured, generation)
        raise refused

    def _refresh(self, refresh_token: str, generation: int | None) -> str:
        """Trade ``refresh_token`` for new tokens and store them (compare-and-swap on ``generation``) before use."""
        form = {
            "client_id": self.settings["client_id"],
            "client_secret": self.settings["client_secret"],
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "user_type": "Company",
        }
        try:
            body = self.client.request(
                "POST", TOKEN, data=form, limiter_key=f"company:{self.company_id}", idempotent=False
            )
        except AuthenticationError as exc:
            raise _Refused(
                f"GHL refused the agency refresh token for company {self.company_id} ({exc.status}): it was "
                f"revoked or already used. Re-authorise the app and put the new refresh token in "
                f"ghl_default's extra.oauth.refresh_token (see the runbook, authentication).",
                status=exc.status,
                endpoint=TOKEN,
            ) from None
        # The old refresh token is dead from this moment on: keep the new one before trusting anything else.
        new_refresh = body.get("refresh_token") if isinstance(body, dict) else None
        if not isinstance(new_refresh, str) or not new_refresh:
            raise AuthenticationError(f"GHL POST {TOKEN}: the answer lacks a refresh_token.", endpoint=TOKEN)
        self.mask(new_refresh)
        access = body.get("access_token")
        access = access if isinstance(access, str) and access else None
        if access:
            self.mask(access)
        expires_at = self.clock() + lifetime_s(body.get("expires_in")) if access else None
        stored = self.tokens.swap(
            self.company_id,
            generation,
            self.cipher.encrypt(new_refresh),
            self.cipher.encrypt(access) if access else None,
            expires_at,
        )
        if not stored:
            log.warning(
                "Agency OAuth: company %s's tokens were stored by another worker during this refresh (its lease "
                "lapsed?); the newer stored ones are kept",
                self.company_id,
            )
        if not access:
            raise AuthenticationError(
                f"GHL POST {TOKEN}: the answer lacks an access_token (its new refresh token is stored).", endpoint=TOKEN
            )
        log.info(
            "Agency OAuth: refreshed the access token for company %s; the rotated refresh token is stored encrypted",
            self.company_id,
        )
        return access

    # location tokens ------------------------------------------------------------------------
    def location_token(self, location_id: str) -> str:
        cached = self._locations.get(location_id)
        if cached and self._usable(cached[1]):
            return cached[0]
        agency = self.agency_token()
        for attempt in (1, 2):
            try:
                body = self.client.request(
                    "POST",
                    LOCATION_TOKEN,
                    data={"companyId": self.company_id, "locationId": location_id},
                    headers={"Authorization": f"Bearer {agency}", "Version": "2021-07-28"},
                    limiter_key=f"company:{self.company_id}",
                    location_id=location_id,
                )
                break
            except AuthenticationError:
                if attempt == 2:
                    raise
                agency = self.agency_token(force=True, stale=agency)  # the agency token died early: refresh once
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"GHL POST {LOCATION_TOKEN} for location {location_id}: no access_token.",
                endpoint=LOCATION_TOKEN,
                location_id=location_id,
            )
        self.mask(token)
        self._locations[location_id] = (token, self.clock() + lifetime_s(body.get("expires_in")))
        return token

    def forget(self, location_id: str | None) -> bool:
        """After a 401: drop the cached token so the next try mints (or refreshes) a fresh one."""
        if location_id is None:
            state = self._read()
            self.agency_token(force=True, stale=state["access"] if state else None)
        else:
            self._locations.pop(location_id, None)
        return True
