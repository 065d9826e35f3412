"""One client and one rate limiter per account, shared by every thread of a :class:`~usagekit.session.Session`.

Listings, :func:`~usagekit.lifecycle.wait`'s polls and creates of the same account reuse one
:class:`~usagekit.client.CdnClient` (its connections: a TLS handshake saved per call against the real
service) and take their calls from one token bucket, so the account stays within the service's 100 calls
per second however many threads call it. The token is taken by the client itself before every attempt
(its ``before_attempt``), retries included: an account under throttling does not exceed its rate by
retrying. A client from a caller's ``client_factory`` is given the bucket too, unless the caller set its
own ``before_attempt``. Both stores are bounded:

- clients are *leased*: the pool keeps the latest :data:`MAX_CLIENTS` accounts' clients, and a client
  pushed out while another thread still holds it is closed when that thread gives it back, never under it;
- rate limiters are kept while they matter: a bucket untouched for a second is full again, the same as a
  new one, so idle buckets beyond :data:`~usagekit.session.MAX_LIMITERS` are dropped.

Both live in a session (``session.clients``, ``session.limiters``); ``session=None`` is the default one.

A caller's own ``client_factory`` makes clients that are the caller's: made for the lease, closed after.

>>> from usagekit.accounts import Account
>>> account = Account("prod", "LTAIexample-0000KlMn", "s", endpoint="http://127.0.0.1:9")
>>> with lease(account) as first, lease(account) as second:
...     first is second
True
>>> limiter(account) is limiter(account)
True
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.paging import RateLimiter
from usagekit.session import MAX_LIMITERS, RateLimiters, Session, chosen_session, default_session

__all__ = ["MAX_CLIENTS", "MAX_LIMITERS", "ClientFactory", "ClientPool", "lease", "limited", "limiter"]

#: a factory turning an :class:`Account` into a client; :class:`CdnClient` itself is the default
ClientFactory = Callable[[Account], CdnClient]

MAX_CLIENTS = 32


class _Entry:
    __slots__ = ("client", "leases", "retired")

    def __init__(self, client: CdnClient) -> None:
        self.client = client
        self.leases = 0
        self.retired = False


class ClientPool:
    """The latest ``size`` accounts' clients, leased to threads and closed only when nobody holds them."""

    def __init__(
        self, size: int = MAX_CLIENTS, make: ClientFactory = CdnClient, limiters: RateLimiters | None = None
    ) -> None:
        self._size = size
        self._make = make
        self._limiters = limiters
        self._lock = threading.Lock()
        self._entries: OrderedDict[Account, _Entry] = OrderedDict()

    @contextlib.contextmanager
    def lease(self, account: Account) -> Iterator[CdnClient]:
        """Hold ``account``'s client for the ``with`` block."""
        with self._lock:
            entry = self._entries.get(account)
            if entry is None:
                entry = self._entries[account] = _Entry(limited(self._make(account), account, self._limiters))
            self._entries.move_to_end(account)
            entry.leases += 1
            retiring = self._evict()
        for client in retiring:
            client.close()
        try:
            yield entry.client
        finally:
            with self._lock:
                entry.leases -= 1
                close_now = entry.retired and entry.leases == 0
            if close_now:
                entry.client.close()

    def _evict(self) -> list[CdnClient]:
        """Drop the oldest entries beyond the size; return the clients nobody holds (to close)."""
        idle = []
        while len(self._entries) > self._size:
            _, old = self._entries.popitem(last=False)
            old.retired = True
            if old.leases == 0:
                idle.append(old.client)
        return idle

    def close(self) -> None:
        """Close every client nobody holds; held ones close when given back."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                entry.retired = True
        for entry in entries:
            if entry.leases == 0:
                entry.client.close()


@contextlib.contextmanager
def lease(
    account: Account, factory: ClientFactory | None = None, *, session: Session | None = None
) -> Iterator[CdnClient]:
    """A client for ``account``: ``session``'s pooled one, or (given ``factory``) a new one closed after."""
    chosen = chosen_session(session)
    if factory is None:
        with chosen.clients.lease(account) as client:
            yield client
        return
    client = limited(factory(account), account, chosen.limiters)
    try:
        yield client
    finally:
        client.close()


def limited(client: CdnClient, account: Account, limiters: RateLimiters | None = None) -> CdnClient:
    """``client``, taking a token from ``account``'s bucket in ``limiters`` before every attempt, retries included.

    ``limiters`` ``None`` is the default session's. A client that already has a ``before_attempt`` (the
    caller's own choice) is left as it is, and so is anything that is not a :class:`CdnClient` (a test's
    fake service). The bucket is looked up on each attempt, so a client outliving an idle bucket that was
    dropped takes from the account's current one.

    >>> from usagekit.accounts import Account
    >>> account = Account("prod", "LTAIexample-0000KlMn", "s", endpoint="http://127.0.0.1:9")
    >>> client = limited(CdnClient(account), account)
    >>> client.before_attempt is not None
    True
    >>> client.close()
    """
    if isinstance(client, CdnClient) and client.before_attempt is None:
        client.before_attempt = functools.partial(_take_token, account, limiters)
    return client


def _take_token(account: Account, limiters: RateLimiters | None) -> None:
    buckets = limiters if limiters is not None else default_session().limiters
    buckets.get(account.cache_key).acquire()


def limiter(account: Account, *, session: Session | None = None) -> RateLimiter:
    """The token bucket every thread calling ``account`` in ``session`` shares (keyed by key id and endpoint)."""
    return chosen_session(session).limiters.get(account.cache_key)
