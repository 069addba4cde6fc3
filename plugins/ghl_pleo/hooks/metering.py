"""The accounting of each HTTP send, and where every body is read: the client's session adapter.

Every send of a request, an auth re-send included, goes through a :class:`Meter`:
it waits for the rate limiter, is counted, and its answer is recorded. The
adapter reads every body as a stream, at most the client's byte limit
(:func:`ghl_pleo.hooks.bounds.read_capped`), before the limiter's slot is freed.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from ghl_pleo.hooks.bounds import read_capped
from ghl_pleo.ratelimit import Slot

if TYPE_CHECKING:
    from ghl_pleo.hooks.client import ApiClient


class Meter:
    """The accounting of one logical request, for each of its HTTP sends.

    Before a send: wait for a limiter slot and count the request. After it: free
    the slot (it counts from the moment the whole answer arrived) and learn from
    the answer's status and rate-limit headers.
    """

    def __init__(self, client: ApiClient, key: str, limiter_key: str | None) -> None:
        self.client = client
        self.key = key
        self.limiter_key = limiter_key
        self.limiter = client.limiter if limiter_key else None
        self.sending = False
        self._slot: Slot | None = None

    def start(self) -> None:
        self._slot = self.limiter.acquire(self.limiter_key) if self.limiter is not None else None
        self.sending = True
        self.client.count(self.key)

    def finish(self, response: requests.Response | None) -> None:
        if self._slot is not None:
            self.limiter.release(self._slot)
        self._slot, self.sending = None, False
        if response is not None:
            self.client.record(response, self.limiter_key)


METER: ContextVar[Meter | None] = ContextVar("ghl_pleo_meter", default=None)


class MeteredAdapter(HTTPAdapter):
    """Sends through the meter of the request in progress (in this thread), so an auth object's
    re-send (``response.connection.send``) is limited and counted like any other send.

    A send the loop did not start (an auth re-send) takes its own slot and count. Redirects are
    never followed (the client sends with ``allow_redirects=False``). Every body is read here, as a
    stream, up to ``max_bytes``: a larger success answer raises
    :class:`~ghl_pleo.hooks.bounds.ResponseTooLarge` (its status is still recorded).
    """

    def __init__(self, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        meter = METER.get()
        if meter is not None and not meter.sending:  # not started by the loop: an auth re-send
            meter.start()
        answered = None
        try:
            response = super().send(request, **{**kwargs, "stream": True})
            answered = response
            read_capped(response, self.max_bytes)  # before the slot is released
        finally:
            if meter is not None:
                meter.finish(answered)
        return answered


class NoRedirectSession(requests.Session):
    """A session that knows no redirect: even with ``allow_redirects=False``, ``requests`` parses a 3xx's
    ``Location`` to prepare the next request (a malformed one would raise); here there is none to prepare."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def metered_session(
    headers: Mapping[str, str] | None = None, session: requests.Session | None = None, *, max_bytes: int
) -> requests.Session:
    session = session or NoRedirectSession()
    for prefix in ("https://", "http://"):
        session.mount(prefix, MeteredAdapter(max_bytes))
    session.headers.update(headers or {})
    return session
