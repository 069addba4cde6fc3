"""GHL credentials as a ``requests`` auth object: a bearer token and API version on every send, one refresh on a 401.

The token comes from a callable, asked at every send (so a retry carries the
current token): a Private Integration Token (the connection's password, or one
per location), a location token minted through agency OAuth, or the agency
token itself (:class:`ghl_pleo.hooks.oauth.AgencyOAuth`). Only OAuth tokens can
be refreshed: on the first 401 of a request the auth object asks for a fresh
token once and sends the request again, the way ``requests.auth.HTTPDigestAuth``
answers its challenge (a response hook that re-sends through the same
connection adapter, so the client's limiter and request counts see the re-send).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar


class GhlAuth(AuthBase):
    """``Authorization: Bearer <token>`` and ``Version`` on each send of one logical request.

    Args:
        token: gives the token to send; called for every send.
        version: GHL's ``Version`` header (``2021-07-28``, or ``v3`` for statistics).
        refresh: called after the first 401: True when a fresh token is ready and the
            request should go again. None when the token cannot be refreshed (a
            Private Integration Token): the 401 is then the answer.

    Make one per logical request: "once" spans that request's retries. After a
    refresh that answered False, ``declined`` is True (the client names it in
    the error).
    """

    def __init__(self, token: Callable[[], str], version: str, *, refresh: Callable[[], bool] | None = None) -> None:
        self.token = token
        self.version = version
        self.refresh = refresh
        self.refreshed = False
        self.declined = False

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._sign(request)
        request.register_hook("response", self._on_response)
        return request

    def _sign(self, request: requests.PreparedRequest) -> None:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        request.headers["Version"] = self.version

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On the request's first 401, refresh the token once and send the request again."""
        if response.status_code != 401 or self.refresh is None or self.refreshed:
            return response
        self.refreshed = True
        if not self.refresh():
            self.declined = True
            return response
        response.content  # noqa: B018 - read and release the connection for the re-send
        response.close()
        again = response.request.copy()
        extract_cookies_to_jar(again._cookies, response.request, response.raw)
        again.prepare_cookies(again._cookies)
        self._sign(again)
        resent = response.connection.send(again, **kwargs)
        resent.history.append(response)
        resent.request = again
        return resent
