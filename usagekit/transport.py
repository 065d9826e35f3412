"""The wire under :class:`~usagekit.client.CdnClient`: where it connects, one POST and its capped reply.

:func:`resolve_endpoint` turns a host name or URL into the URL the client talks to, refusing what would
send signed requests unsafely. :class:`Transport` sends one POST and reads the reply, at most
:data:`MAX_REPLY_BYTES` of it:

* through a caller's ``requests.Session`` (``CdnClient(session=...)``): ``session.request``, so the
  caller's adapters, hooks and overrides all apply;
* through the client's own connections (no ``session``): a urllib3 ``PoolManager`` (a ``ProxyManager``
  behind an environment proxy) used through its public API, skipping what ``Session.request`` does per
  call that a signed API call does not need: merging settings and cookies, preparing and validating the
  request, building a ``Response``. That is about a third of a call's CPU (see
  ``benchmarks/bench_listing.py --profile``). The proxy and CA settings of the environment are read
  once, when the client is made, as ``requests`` reads them; redirects are not followed.

Failures are raised as ``requests`` raises them (``requests.ConnectionError``, ``ReadTimeout``, ...), so
the client reads both paths' errors alike; :func:`chain`, :func:`never_sent` and :func:`describe` read
them, and :class:`TransportCause` stands in for them, sanitized, in an error's cause chain.

>>> resolve_endpoint("cdn.aliyuncs.com", allow_insecure=False)
('https://cdn.aliyuncs.com', 'cdn.aliyuncs.com', False)
>>> resolve_endpoint("http://127.0.0.1:8080", allow_insecure=False)
('http://127.0.0.1:8080', '127.0.0.1:8080', True)
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import requests
import requests.certs
import urllib3
from requests import exceptions as rex
from urllib3 import exceptions as u3

from usagekit.errors import ConfigurationError

__all__ = [
    "MAX_REPLY_BYTES",
    "Reply",
    "Transport",
    "TransportCause",
    "chain",
    "describe",
    "is_loopback",
    "never_sent",
    "resolve_endpoint",
]

#: the largest API reply read (a page of 50 tasks is about 30 KB); a larger one is refused unread
MAX_REPLY_BYTES = 8 << 20
#: connections kept per host by a client-made session: more than the requests a listing has in flight
POOL_SIZE = 32
#: what ``requests`` adds to every request of a session, kept on the direct path so the wire is the same
_SESSION_HEADERS = {"accept-encoding": "gzip, deflate", "connection": "keep-alive"}


class Reply(NamedTuple):
    """An HTTP reply: status, headers (case-insensitive), and the body, or ``None`` when it was too large."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None


class TransportCause(Exception):
    """A sanitized stand-in for a requests / urllib3 error in a :class:`~usagekit.errors.TransportError`'s chain.

    Its text is the original's type and message with URL queries removed and secrets masked; the original
    objects are not kept, since they quote the request's URL and can hold its parameters.
    """


class Transport:
    """POSTs to one endpoint and reads each reply (see the module docs for the two paths).

    ``session`` is the caller's (kept open by :meth:`close`) or ``None`` for a urllib3 pool made here.
    ``timeout`` is ``(connect, read)`` seconds or one number for both.
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        loopback: bool,
        session: requests.Session | None,
        timeout: float | tuple[float, float],
    ) -> None:
        self.owned = session is None
        self.session = session
        self._timeout = timeout
        # Environment proxies must not capture traffic meant for a local sandbox.
        self._proxies: dict[str, Any] | None = {"http": None, "https": None} if loopback else None
        self._own: _OwnPool | None = (
            None if session is not None else _OwnPool(endpoint_url, loopback, timeout)
        )

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Send one POST and read its reply; raise as ``requests`` does when no reply came."""
        if self._own is not None:
            return self._own.post(url, headers, body)
        assert self.session is not None
        response = self.session.request(
            "POST",
            url,
            data=body,
            headers=dict(headers),
            timeout=self._timeout,
            allow_redirects=False,
            proxies=self._proxies,
            stream=True,
        )
        return Reply(response.status_code, response.headers, _read_session_reply(response))

    def close(self) -> None:
        """Close the connections made here (a caller's session stays the caller's)."""
        if self._own is not None:
            self._own.close()


class _OwnPool:
    """The client's own connections: a urllib3 ``PoolManager`` (or ``ProxyManager``) used through its public API.

    The settings ``requests`` would read from the environment (proxies, ``NO_PROXY``, the CA bundle of
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``) are read once, when the client is made, with the public
    ``Session.merge_environment_settings``; none of them applies to a loopback endpoint.
    """

    def __init__(self, endpoint_url: str, loopback: bool, timeout: float | tuple[float, float]) -> None:
        settings = requests.Session()
        settings.trust_env = not loopback
        with settings:
            merged = settings.merge_environment_settings(endpoint_url + "/", {}, True, None, None)
        verify = True if merged["verify"] is None else merged["verify"]
        proxy = requests.utils.select_proxy(endpoint_url + "/", merged["proxies"]) if not loopback else None
        self._manager = _manager(verify, proxy)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self._timeout = urllib3.Timeout(connect=connect, read=read)
        self._endpoint_url = endpoint_url
        # Through a plain-http proxy the request goes to the proxy with the whole URL (the manager's
        # urlopen does that); else straight to the endpoint's pool with only the path and query.
        self._through_proxy = proxy is not None and endpoint_url.startswith("http://")
        self._pool: urllib3.HTTPConnectionPool | None = None  # the endpoint's pool, looked up once

    def _endpoint_pool(self) -> urllib3.HTTPConnectionPool:
        pool = self._pool
        if pool is None:
            try:
                pool = self._manager.connection_from_url(self._endpoint_url)
            except u3.LocationValueError as error:
                raise rex.InvalidURL(error) from None
            self._pool = pool
        return pool

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        arguments: dict[str, Any] = {
            "body": body,
            "headers": {**_SESSION_HEADERS, **headers},
            "redirect": False,
            "assert_same_host": False,
            "preload_content": False,
            "decode_content": False,
            "retries": _NO_RETRIES,
            "timeout": self._timeout,
            "chunked": False,
        }
        try:
            if self._through_proxy:
                response = self._manager.urlopen("POST", url, **arguments)
            else:
                response = self._endpoint_pool().urlopen("POST", _origin_form(url), **arguments)
        except (u3.ProtocolError, OSError) as error:
            raise rex.ConnectionError(error) from error
        except u3.MaxRetryError as error:
            raise _from_max_retry(error) from error
        except u3.ClosedPoolError as error:
            self._pool = None  # closed under a call: the next call asks the manager again
            raise rex.ConnectionError(error) from error
        except u3.ProxyError as error:
            raise rex.ProxyError(error) from error
        except u3.SSLError as error:
            raise rex.SSLError(error) from error
        except u3.ReadTimeoutError as error:
            raise rex.ReadTimeout(error) from error
        except u3.InvalidHeader as error:
            raise rex.InvalidHeader(error) from error
        return Reply(response.status, response.headers, _read_pool_reply(response))

    def close(self) -> None:
        """Close every connection; a later call opens new ones."""
        self._pool = None
        self._manager.clear()


#: one try per call, as ``requests`` makes it: the client's :class:`~usagekit.retry.RetryPolicy` retries
_NO_RETRIES = urllib3.Retry(0, read=False)


def _manager(verify: bool | str, proxy: str | None) -> urllib3.PoolManager:
    """A pool manager verifying TLS as ``requests`` does (``verify``: on, off, or a CA file or folder)."""
    # Listings send many pages at once through one client (both kinds, 8 pages each): a pool
    # smaller than that discards connections, each a new TLS handshake and a urllib3 warning.
    options: dict[str, Any] = {"maxsize": POOL_SIZE}
    if verify is False:
        options["cert_reqs"] = "CERT_NONE"
    else:
        options["cert_reqs"] = "CERT_REQUIRED"
        bundle = requests.certs.where()  # type: ignore[attr-defined]  # public; types-requests lacks it
        options["ssl_context"] = _tls_context(bundle if verify is True else verify)
    if proxy is None:
        return urllib3.PoolManager(**options)
    if proxy.lower().startswith("socks"):
        from urllib3.contrib.socks import SOCKSProxyManager

        return SOCKSProxyManager(proxy, **options)
    parsed = urllib3.util.parse_url(proxy)
    proxy_headers = urllib3.make_headers(proxy_basic_auth=unquote(parsed.auth)) if parsed.auth else None
    return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **options)


@functools.lru_cache(maxsize=8)
def _tls_context(location: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the CA file or folder at ``location``, loaded once for every client."""
    if os.path.isdir(location):
        return ssl.create_default_context(capath=location)
    return ssl.create_default_context(cafile=location)


def _origin_form(url: str) -> str:
    """The request line's target for ``url``: its path and query (``/?Action=...``).

    >>> _origin_form("https://cdn.aliyuncs.com/?PageSize=50")
    '/?PageSize=50'
    """
    start = url.find("/", url.find("//") + 2)
    return url[start:] if start != -1 else "/"


def _from_max_retry(error: u3.MaxRetryError) -> rex.RequestException:
    reason = error.reason
    if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(reason, u3.NewConnectionError):
        return rex.ConnectTimeout(error)
    if isinstance(reason, u3.ResponseError):
        return rex.RetryError(error)
    if isinstance(reason, u3.ProxyError):
        return rex.ProxyError(error)
    if isinstance(reason, u3.SSLError):
        return rex.SSLError(error)
    return rex.ConnectionError(error)


def _too_large(headers: Mapping[str, str], cap: int) -> bool:
    """Whether the reply announces more than ``cap`` bytes (and is not compressed, so that is its size)."""
    length = headers.get("Content-Length")
    encoded = headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    return bool(length and length.isdigit() and int(length) > cap and not encoded)


def _read_session_reply(response: requests.Response, cap: int = MAX_REPLY_BYTES) -> bytes | None:
    """The reply's body (decoded), or ``None`` once it passes ``cap`` bytes (the connection is then closed)."""
    if _too_large(response.headers, cap):
        response.close()
        return None
    chunks, size = [], 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > cap:
            response.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _read_pool_reply(response: urllib3.BaseHTTPResponse, cap: int = MAX_REPLY_BYTES) -> bytes | None:
    """As :func:`_read_session_reply`, for a urllib3 reply; read errors raised as ``requests`` raises them."""
    if _too_large(response.headers, cap):
        _discard(response)
        return None
    chunks, size = [], 0
    try:
        for chunk in response.stream(65536, decode_content=True):
            size += len(chunk)
            if size > cap:
                _discard(response)
                return None
            chunks.append(chunk)
    except u3.ProtocolError as error:
        raise rex.ChunkedEncodingError(error) from error
    except u3.DecodeError as error:
        raise rex.ContentDecodingError(error) from error
    except u3.ReadTimeoutError as error:
        raise rex.ConnectionError(error) from error
    except u3.SSLError as error:
        raise rex.SSLError(error) from error
    response.release_conn()
    return b"".join(chunks)


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Close a reply left unread (its connection with it) and give the pool its slot back."""
    response.close()
    response.release_conn()


# --- where to connect -----------------------------------------------------------------------------------


def resolve_endpoint(endpoint: str, *, allow_insecure: bool) -> tuple[str, str, bool]:
    """``(endpoint_url, host header, is_loopback)`` for a host name or URL, refusing what is unsafe."""
    text = endpoint.strip()
    if not text:
        raise ConfigurationError("the endpoint is empty: give a host name or a URL such as https://host")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigurationError(
            f"the endpoint's scheme must be https (or http to a loopback host), not {scheme!r}"
        )
    if "@" in parts.netloc:
        raise ConfigurationError(
            "the endpoint must not carry a user name or password: give scheme://host[:port]"
        )
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ConfigurationError(
            "the endpoint must be scheme://host[:port] without a path, query or fragment"
        )
    host = parts.hostname
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"the endpoint's port is not a number: {parts.netloc!r}") from None
    if not host:
        raise ConfigurationError(f"the endpoint has no host name: {endpoint!r}")
    loopback = is_loopback(host)
    if scheme == "http" and not loopback and not allow_insecure:
        raise ConfigurationError(
            f"plain http:// to {host} would send signed requests unencrypted; use https://, "
            "or pass allow_insecure=True for a trusted network"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}", netloc, loopback


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``.

    >>> [is_loopback(h) for h in ("localhost", "127.8.0.1", "::1", "example.com", "10.0.0.1")]
    [True, True, True, False, False]
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- reading what went wrong --------------------------------------------------------------------------


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the errors inside it: ``args``, urllib3's ``reason``, causes and contexts."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending.extend(item for item in inner if isinstance(item, BaseException))
    return seen


def never_sent(exc: BaseException) -> bool:
    """True when the failure happened before any byte of the request could reach the server."""
    if isinstance(exc, rex.ConnectTimeout):
        return True
    return any(isinstance(item, u3.NewConnectionError | ConnectionRefusedError) for item in chain(exc))


def innermost(exc: BaseException) -> BaseException:
    """The root reason inside a requests / urllib3 error (``reason`` or the first exception argument)."""
    current = exc
    for _ in range(10):
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        if inner is None:
            break
        current = inner
    return current


def describe(exc: BaseException) -> str:
    """A one-line description of a transport failure: the outer type and the innermost reason."""
    root = innermost(exc)
    outer = type(exc).__name__
    if root is exc:
        return f"{outer}: {exc}"
    return f"{outer}, caused by {type(root).__name__}: {root}"
