"""The process state of usagekit in one object: :class:`Session`.

A session holds what calls share: the pooled API clients (:attr:`Session.clients`), the rate limiters of
each account (:attr:`Session.limiters`), the URL memory of the latest listings (:attr:`Session.urls`) and
the parsed-frame memory of the readers (:attr:`Session.frames`). Module functions use the default one
(:func:`default_session`); ``Session()`` is an isolated one that :meth:`Session.close` ends, so a test or a
notebook can keep to itself:

>>> with Session() as mine:
...     mine.urls is not default_session().urls and mine.limiters is not default_session().limiters
True
>>> mine.closed
True
"""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from usagekit.errors import ArgumentError
from usagekit.memory import UrlMemory
from usagekit.paging import RateLimiter
from usagekit.readers.cache import ParsedCache

if TYPE_CHECKING:
    from usagekit.accounts import Account
    from usagekit.client import CdnClient
    from usagekit.pool import ClientPool

__all__ = ["MAX_LIMITERS", "RateLimiters", "Session", "chosen_session", "default_session"]

#: buckets kept per session: beyond it the oldest that are full again (idle) are dropped
MAX_LIMITERS = 256


class RateLimiters:
    """The token buckets of a session, one per key (an account's key id and endpoint), bounded.

    >>> buckets = RateLimiters()
    >>> buckets.get("a") is buckets.get("a") and buckets.get("a") is not buckets.get("b")
    True
    """

    def __init__(self, size: int = MAX_LIMITERS) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, RateLimiter] = OrderedDict()

    def get(self, key: str, make: Callable[[], RateLimiter] = RateLimiter) -> RateLimiter:
        """The bucket of ``key``, made by ``make`` the first time (a bucket dropped idle is made anew)."""
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                found = self._buckets[key] = make()
            self._buckets.move_to_end(key)
            if len(self._buckets) > self._size:
                for old in list(self._buckets)[: len(self._buckets) - self._size]:
                    if self._buckets[old].full():  # full again: a new one would be the same
                        del self._buckets[old]
            return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


class Session:
    """The client pool, rate limiters, URL memory and parsed-frame memory that calls share.

    Use one where a call takes ``session=`` (``list_tasks``, ``iter_tasks``, ``refresh``); ``None`` there
    is the process's :func:`default_session`. :meth:`close` closes the pooled clients and forgets what
    was remembered; a closed session refuses further use. It is also a context manager.
    ``client_factory`` (``Account -> CdnClient``) makes its pooled clients (``CdnClient`` by default).
    """

    def __init__(self, *, client_factory: Callable[[Account], CdnClient] | None = None) -> None:
        if client_factory is not None and not callable(client_factory):
            raise ArgumentError(
                f"client_factory must be a function Account -> CdnClient, or None, not {client_factory!r:.60}"
            )
        self._client_factory = client_factory
        self.limiters = RateLimiters()
        self.urls = UrlMemory()
        self.frames = ParsedCache()
        self._clients: ClientPool | None = None
        self._named: dict[str, ClientPool] = {}
        self._lock = threading.Lock()
        self.closed = False

    @property
    def clients(self) -> ClientPool:
        """The pooled API clients (made on first use: the readers use a session without any HTTP)."""
        with self._lock:
            if self.closed:
                raise ArgumentError("this usagekit.Session is closed: make a new Session() or pass none")
            if self._clients is None:
                from usagekit.pool import ClientPool

                if self._client_factory is None:
                    self._clients = ClientPool(limiters=self.limiters)
                else:
                    self._clients = ClientPool(make=self._client_factory, limiters=self.limiters)
            return self._clients

    def pool(self, name: str, make: Callable[[Account], Any]) -> ClientPool:
        """The session's pool ``name`` of another API's clients (BssOpenApi's), made by ``make`` once."""
        with self._lock:
            if self.closed:
                raise ArgumentError("this usagekit.Session is closed: make a new Session() or pass none")
            found = self._named.get(name)
            if found is None:
                from usagekit.pool import ClientPool

                found = self._named[name] = ClientPool(make=make, limiters=self.limiters)
            return found

    def close(self) -> None:
        """Close every pooled client (held ones when given back) and forget what is remembered."""
        with self._lock:
            self.closed = True
            pools = [self._clients, *self._named.values()]
            self._clients, self._named = None, {}
        for pool in pools:
            if pool is not None:
                pool.close()
        self.urls.clear()
        self.frames.clear()
        self.limiters.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<usagekit.Session {state}{' (default)' if self is _default else ''}>"


_default: Session | None = None
_default_lock = threading.Lock()


def default_session() -> Session:
    """The session module functions use when given none (a new one if the last was closed)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Session()
        return _default


def chosen_session(session: object, name: str = "session") -> Session:
    """``session`` checked: a :class:`Session`, or ``None`` for :func:`default_session`.

    >>> chosen_session(None) is default_session()
    True
    >>> chosen_session("mine")
    Traceback (most recent call last):
    ...
    usagekit.errors.ArgumentError: session must be a usagekit.Session or None, not str
    """
    if session is None:
        return default_session()
    if not isinstance(session, Session):
        raise ArgumentError(f"{name} must be a usagekit.Session or None, not {type(session).__name__}")
    if session.closed:
        raise ArgumentError(f"{name} is a closed usagekit.Session: make a new Session() or pass none")
    return session


atexit.register(lambda: _default.close() if _default is not None else None)
