"""Agency (Company) OAuth for GHL: refresh the agency token, mint location tokens, keep the rotated refresh token.

Each refresh returns a new refresh token and kills the old one. The new one is
stored encrypted (Fernet, Airflow's ``AIRFLOW__CORE__FERNET_KEY``) in the
warehouse *before* the new access token is used, so a crash in between cannot
lock us out; the stored token wins over the connection's copy. Refreshes happen
once, behind a lock (a file lock for the processes of one machine, re-checking
the store after taking it), so parallel tasks never refresh twice.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ghl_pleo.errors import AuthenticationError, ConfigurationError

if TYPE_CHECKING:
    from ghl_pleo.warehouse import TokenStore

log = logging.getLogger("ghl_pleo.oauth")
TOKEN = "/oauth/token"
LOCATION_TOKEN = "/oauth/locationToken"
_thread_lock = threading.Lock()


def fernet():
    from cryptography.fernet import Fernet

    key = os.environ.get("AIRFLOW__CORE__FERNET_KEY", "").strip()
    if not key:
        raise ConfigurationError(
            "Agency OAuth needs AIRFLOW__CORE__FERNET_KEY (Airflow's fernet key) to store the "
            "rotated refresh token encrypted; set it on every Airflow component."
        )
    return Fernet(key.encode())


class AgencyOAuth:
    """Tokens for one agency (company), from ``ghl_default``'s ``extra.oauth``.

    Args:
        settings: ``client_id``, ``client_secret``, ``company_id``, ``refresh_token``.
        client: the hook's :class:`ApiClient` (requests go through its retries and counts).
        tokens: where the encrypted refresh and access tokens live (the warehouse's ``tokens`` store).
        mask: registers a new secret with Airflow's log masker.
    """

    def __init__(self, settings: dict, client: Any, tokens: TokenStore, mask: Callable[[str], None]) -> None:
        missing = [k for k in ("client_id", "client_secret", "company_id", "refresh_token") if not settings.get(k)]
        if missing:
            raise ConfigurationError(f"Connection ghl_default: extra.oauth lacks {missing}.")
        self.settings = settings
        self.company_id = str(settings["company_id"])
        self.client = client
        self.tokens = tokens
        self.mask = mask
        self.fernet = fernet()
        self._locations: dict[str, tuple[str, float]] = {}
        mask(settings["client_secret"])
        mask(settings["refresh_token"])

    # store ----------------------------------------------------------------------------------
    def _row(self) -> dict | None:
        return self.tokens.load(self.company_id)

    def _save(self, refresh: str, access: str, expires_at: float) -> None:
        self.tokens.save(
            self.company_id,
            self.fernet.encrypt(refresh.encode()).decode(),
            self.fernet.encrypt(access.encode()).decode(),
            expires_at,
        )

    def _decrypt(self, value: str) -> str:
        token = self.fernet.decrypt(value.encode()).decode()
        self.mask(token)
        return token

    @staticmethod
    def _usable(expires_at: float | None) -> bool:
        return bool(expires_at) and expires_at - time.time() > 30

    # agency token ---------------------------------------------------------------------------
    def agency_token(self, *, force: bool = False, stale: str | None = None) -> str:
        """The agency access token; refreshed (once, under the lock) when expired or when ``force``d."""
        row = self._row()
        if row and not force and self._usable(row["access_expires_at"]) and row["access_token_enc"]:
            return self._decrypt(row["access_token_enc"])
        lock_path = Path(os.environ.get("AIRFLOW_HOME") or "/tmp") / f"ghl_oauth_{self.company_id}.lock"
        with _thread_lock, open(lock_path, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                row = self._row()  # someone may have refreshed while we waited
                if row and row["access_token_enc"] and self._usable(row["access_expires_at"]):
                    current = self._decrypt(row["access_token_enc"])
                    if not force or current != stale:
                        return current
                refresh = self._decrypt(row["refresh_token_enc"]) if row else self.settings["refresh_token"]
                return self._refresh(refresh)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _refresh(self, refresh_token: str) -> str:
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
            raise AuthenticationError(
                f"GHL refused the agency refresh token for company {self.company_id} ({exc.status}): it was "
                f"revoked or already used. Re-authorise the app and put the new refresh token in "
                f"ghl_default's extra.oauth.refresh_token.",
                status=exc.status,
                endpoint=TOKEN,
            ) from None
        access, new_refresh = body.get("access_token"), body.get("refresh_token")
        if not access or not new_refresh:
            raise AuthenticationError(
                f"GHL POST {TOKEN}: the answer lacks access_token or refresh_token.", endpoint=TOKEN
            )
        self.mask(access)
        self.mask(new_refresh)
        # Store first: the old refresh token is dead from this moment on.
        self._save(new_refresh, access, time.time() + float(body.get("expires_in") or 0))
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
        token = body.get("access_token")
        if not token:
            raise AuthenticationError(
                f"GHL POST {LOCATION_TOKEN} for location {location_id}: no access_token.",
                endpoint=LOCATION_TOKEN,
                location_id=location_id,
            )
        self.mask(token)
        self._locations[location_id] = (token, time.time() + float(body.get("expires_in") or 0))
        return token

    def forget(self, location_id: str | None) -> bool:
        """After a 401: drop the cached token so the next try mints (or refreshes) a fresh one."""
        if location_id is None:
            row = self._row()
            stale = self._decrypt(row["access_token_enc"]) if row and row["access_token_enc"] else None
            self.agency_token(force=True, stale=stale)
        else:
            self._locations.pop(location_id, None)
        return True
