"""Where a download may connect: public addresses, plus the hosts the caller allows.

A ``DownloadUrl`` is data from the network. A URL that points at ``169.254.169.254`` (a cloud's metadata
service), a private network or this machine would make usagekit fetch, and cache, what lives there. So a
download may connect to a global (public) address only, unless its host is allowed: the account's own API
endpoint (the local sandbox on 127.0.0.1 keeps working) or a host or network the user names in
``DownloadPolicy(allow_hosts=...)``.

The check is made on the address actually connected to: :class:`GuardedAdapter` resolves the host once,
checks every address, and connects to the checked address itself, so a name that resolves differently the
second time cannot slip through. Through a proxy the target's address is not ours to connect to: the host
is then checked by resolving it beforehand (the best that can be done). The allowance in force is set per
thread with :func:`allowing` around a request.

>>> allowance = Allowance.of(["files.internal.example", "10.1.0.0/16"])
>>> allowance.permits("files.internal.example", "10.9.9.9"), allowance.permits("other", "10.1.2.3")
(True, True)
>>> allowance.permits("evil.example", "169.254.169.254"), allowance.permits("cdn.example", "93.184.216.34")
(False, True)
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from usagekit.errors import DownloadError

__all__ = ["Allowance", "GuardedAdapter", "allowing", "check_host", "guarded_session"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Allowance:
    """Host names and networks a download may reach although they are not public."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str | None]) -> Allowance:
        """From host names, addresses and networks (``"10.0.0.0/8"``); ``None`` entries are skipped."""
        names, networks = set(), []
        for entry in entries:
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(_name(entry))
        return cls(frozenset(names), tuple(networks))

    def permits(self, host: str, address: str) -> bool:
        """True when ``host`` may be reached at ``address``."""
        if _name(host) in self.names:
            return True
        ip = _address(address)
        if any(ip in network for network in self.networks):
            return True
        return ip.is_global and not ip.is_multicast


_local = threading.local()
_NOTHING = Allowance()


def current() -> Allowance:
    """The allowance in force in this thread (nothing beyond public addresses when none was set)."""
    return getattr(_local, "allowance", _NOTHING)


@contextlib.contextmanager
def allowing(allowance: Allowance) -> Iterator[None]:
    """Make ``allowance`` the one in force in this thread for the duration of the block."""
    previous = getattr(_local, "allowance", None)
    _local.allowance = allowance
    try:
        yield
    finally:
        _local.allowance = previous if previous is not None else _NOTHING


def _refusal(host: str, address: str) -> DownloadError:
    return DownloadError(
        f"the download URL points at {host} ({address}), a loopback, link-local or private address; "
        "usagekit reaches only public hosts and the API endpoint's own; if this host is yours, allow it "
        "with DownloadPolicy(allow_hosts=...)"
    )


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


def check_host(host: str, port: int, allowance: Allowance) -> None:
    """Resolve ``host`` and refuse it when any address is not permitted (used where we do not connect)."""
    if _name(host) in allowance.names:
        return
    try:
        found = _resolve(_name(host), port)
    except OSError:
        return  # the connection itself will say the name does not resolve
    for *_, sockaddr in found:
        if not allowance.permits(host, sockaddr[0]):
            raise _refusal(host, sockaddr[0])


class _Guarded:
    """urllib3 connection mix-in: resolve once, check each address, connect to the checked one."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        allowance = current()
        try:
            found = _resolve(self._dns_host, self.port)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[arg-type]
        permitted = [sockaddr for *_, sockaddr in found if allowance.permits(self.host, sockaddr[0])]
        if not permitted:
            raise _refusal(self.host, found[0][4][0] if found else "no address")
        last: OSError | None = None
        for sockaddr in permitted:
            try:
                return create_connection(
                    (sockaddr[0], self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(self, f"timed out connecting to {self.host}") from error
            except OSError as error:
                last = error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose direct connections go only where :func:`current` permits.

    Through a proxy, the target host is checked by resolving it first (see the module docs).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        proxies = kwargs.get("proxies") or (args[4] if len(args) > 4 else None)
        if proxies and request.url and requests.utils.select_proxy(request.url, proxies):
            check_url(request.url, current())
        return super().send(request, *args, **kwargs)


def check_url(url: str, allowance: Allowance) -> None:
    """Refuse ``url`` before any connection when its host resolves to an address not permitted."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname:
        check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), allowance)


def guarded_session(pool_maxsize: int = 8) -> requests.Session:
    """A ``requests.Session`` whose connections are checked by :class:`GuardedAdapter`."""
    session = requests.Session()
    adapter = GuardedAdapter(pool_maxsize=pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def is_guarded(session: Any, url: str) -> bool:
    """True when ``session`` sends ``url`` through a :class:`GuardedAdapter` (else check beforehand)."""
    get_adapter = getattr(session, "get_adapter", None)
    if get_adapter is None:
        return False
    try:
        return isinstance(get_adapter(url), GuardedAdapter)
    except requests.exceptions.InvalidSchema:
        return False
