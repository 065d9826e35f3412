"""Shared fixtures: a running sandbox for the whole session, fresh ones for tests that change state.

* ``sandbox`` (session scope): ``Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen")``, started
  once. Treat it as read-only: list, read truth and download, but do not create, delete or ``advance``
  (use ``fresh_sandbox`` for that), so tests stay independent of their order.
* ``fresh_sandbox`` (function scope): a factory, ``fresh_sandbox(**kwargs) -> Sandbox``, that starts a
  new sandbox with the same defaults (seed 7, that ``now``, frozen clock) overridden by ``kwargs``
  (any ``Sandbox`` argument: ``faults=``, ``tasks=``, ``task_delay=``, ...) and stops it after the test.
* ``wire`` (session scope): a tiny, independent V2/V3 signer and HTTP sender (``http.client``), so
  sandbox tests need no usagekit client; see :class:`Wire`.

Every test fails when a sandbox of this process answered an internal error (an exception of its own
code, sent as a 500 that a client would retry and hide) during its setup, call or teardown. A test that
provokes one on purpose says so with ``@pytest.mark.expect_internal_errors``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest

from usagekit.accounts import Account
from usagekit.sandbox import Sandbox
from usagekit.sandbox.server import internal_error_count, internal_errors

SANDBOX_SEED = 7
SANDBOX_NOW = "2026-11-20T08:00:00Z"


class SandboxInternalError(AssertionError):
    """A sandbox answered an exception of its own code as a 500 during this test."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "expect_internal_errors: the test provokes sandbox internal errors on purpose"
    )


@contextlib.contextmanager
def _watch_internal_errors(item: pytest.Item) -> Iterator[None]:
    """Run one phase of a test; raise :class:`SandboxInternalError` if a sandbox had a bug meanwhile."""
    before = internal_error_count()
    try:
        yield
    finally:
        new = internal_errors(since=before)
        if new and item.get_closest_marker("expect_internal_errors") is None:
            shown = "\n".join(
                f"  {e['method']} {e['path']}: {e['error']}: {e['message']}\n{e['traceback']}"
                for e in new[:3]
            )
            raise SandboxInternalError(
                f"the sandbox answered {len(new)} internal error(s) (a bug in its own code, sent as a "
                f"500 that the client retried):\n{shown}"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _watch_internal_errors(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _watch_internal_errors(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    with _watch_internal_errors(item):
        return (yield)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The session's read-only sandbox (seed 7, frozen at 2026-11-20T08:00:00Z)."""
    with Sandbox(seed=SANDBOX_SEED, now=SANDBOX_NOW, clock="frozen") as running:
        yield running


@pytest.fixture
def fresh_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """A factory of started sandboxes (defaults: seed 7, that now, frozen), stopped after the test."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        options: dict[str, Any] = {"seed": SANDBOX_SEED, "now": SANDBOX_NOW, "clock": "frozen", **kwargs}
        box = Sandbox(**options).start()
        started.append(box)
        return box

    yield make
    for box in started:
        box.stop()


def _enc(value: str) -> str:
    return quote(value, safe="-_.~", encoding="utf-8")


class Reply:
    """What came back: HTTP status, headers (lower-case names) and the body (``json`` parses it)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        try:
            return self.json.get("Code")
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:200]!r})"


class Wire:
    """Signs requests by hand (V2 HMAC-SHA1 / V3 ACS3-HMAC-SHA256) and sends them with http.client.

    Every knob a rejection test needs is a keyword: ``secret``, ``token``, ``timestamp``, ``nonce``,
    ``version``, ``drop`` (common parameters or headers to leave out), ``method``, ``where``
    (``query`` or ``body`` for V2 parameters), ``fmt`` (V2 ``Format``; ``None`` leaves it out).
    """

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def send(
        url: str, method: str = "GET", body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Reply:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target or "/", body=body or None, headers=dict(headers or {}))
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def v2(
        self,
        account: Account,
        action: str,
        params: Mapping[str, object] | None = None,
        *,
        secret: str | None = None,
        token: str | bool | None = True,
        timestamp: str | None = None,
        nonce: str | None = None,
        version: str = "2018-05-10",
        method: str = "POST",
        where: str = "query",
        fmt: str | None = "JSON",
        drop: tuple[str, ...] = (),
        key_id: str | None = None,
    ) -> Reply:
        common = {
            "Action": action,
            "Version": version,
            "AccessKeyId": key_id or account.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "Timestamp": timestamp or self.now(),
        }
        if fmt is not None:
            common["Format"] = fmt
        sts = account.security_token if token is True else (token or None)
        if sts:
            common["SecurityToken"] = sts
        all_params = {**common, **{k: str(v) for k, v in (params or {}).items()}}
        for name in drop:
            all_params.pop(name, None)
        canonical = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(all_params.items()))
        to_sign = f"{method}&{_enc('/')}&{_enc(canonical)}"
        key = f"{secret or account.access_key_secret}&".encode()
        signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha1).digest()).decode()
        if "Signature" not in drop:
            all_params["Signature"] = signature
        encoded = urlencode(all_params, quote_via=quote)
        endpoint = account.endpoint
        if where == "body":
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            return self.send(f"{endpoint}/", method, encoded.encode(), headers)
        return self.send(f"{endpoint}/?{encoded}", method)

    def v3(
        self,
        account: Account,
        action: str,
        params: Mapping[str, object] | None = None,
        *,
        secret: str | None = None,
        token: str | bool | None = True,
        timestamp: str | None = None,
        nonce: str | None = None,
        version: str = "2018-05-10",
        method: str = "POST",
        drop: tuple[str, ...] = (),
        body: bytes = b"",
        body_hash: str | None = None,
        extra_signed: Mapping[str, str] | None = None,
        key_id: str | None = None,
    ) -> Reply:
        query = {k: str(v) for k, v in (params or {}).items()}
        host = urlsplit(account.endpoint or "").netloc
        headers = {
            "host": host,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": timestamp or self.now(),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": body_hash or hashlib.sha256(body).hexdigest(),
            **(extra_signed or {}),
        }
        sts = account.security_token if token is True else (token or None)
        if sts:
            headers["x-acs-security-token"] = sts
        for name in drop:
            headers.pop(name, None)
        signed = sorted(headers)
        canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items()))
        canonical = "\n".join(
            [
                method,
                "/",
                canonical_query,
                "".join(f"{k}:{headers[k].strip()}\n" for k in signed),
                ";".join(signed),
                headers.get("x-acs-content-sha256", ""),
            ]
        )
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        signature = hmac.new(
            (secret or account.access_key_secret).encode(), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        headers["Authorization"] = (
            f"ACS3-HMAC-SHA256 Credential={key_id or account.access_key_id},"
            f"SignedHeaders={';'.join(signed)},Signature={signature}"
        )
        url = f"{account.endpoint}/" + (f"?{urlencode(query, quote_via=quote)}" if query else "")
        return self.send(url, method, body, headers)


@pytest.fixture(scope="session")
def wire() -> Wire:
    """The independent signer/sender (see :class:`Wire`)."""
    return Wire()
