"""What a transport error says about where it happened: before the request was sent, or on a host name that does
not resolve. No I/O."""

from __future__ import annotations

import socket
from collections.abc import Iterator


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every error it wraps (urllib3's ``reason``, args that are errors, causes, contexts)."""
    from urllib3.exceptions import MaxRetryError

    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, MaxRetryError):
            todo.append(item.reason)
        todo.extend(a for a in item.args if isinstance(a, BaseException))
        todo.extend((item.__cause__, item.__context__))


def never_sent(exc: BaseException) -> bool:
    """True when a ConnectionError happened while connecting, i.e. the server never saw the request."""
    from urllib3.exceptions import NewConnectionError

    return any(isinstance(item, NewConnectionError) for item in _chain(exc))


def unresolved(exc: BaseException) -> bool:
    """True when the host name does not resolve (DNS says no such name): a configuration error, not an outage. A
    temporary resolver failure (``EAI_AGAIN``) is an outage."""
    from urllib3.exceptions import NameResolutionError

    found = [item for item in _chain(exc) if isinstance(item, (NameResolutionError, socket.gaierror))]
    return bool(found) and not any(getattr(e, "errno", None) == socket.EAI_AGAIN for e in found)
