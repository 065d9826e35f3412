"""Root pytest configuration: every test, doctest and notebook runs against a private cache.

usagekit caches downloaded exports and parsed workbooks under ``USAGEKIT_CACHE_DIR`` (else the user's
cache directory). The test session points it at a fresh temporary folder, so a run never reads a cache
left by an earlier run or by the user's own work, and never writes customer-like data into the user's
home. Notebook kernels inherit the variable.

Tests connect to nothing but loopback (127.0.0.0/8 and ::1): a guard on ``socket.connect`` refuses any
other address (the code under test sees ``ConnectionRefusedError``) and fails the test that tried, even
when the code swallowed the error. Processes a test starts (notebook kernels, spawned workers) are not
covered.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

_SAVED: dict[str, str | None] = {}


_ATTEMPTS: list[str] = []
_REAL_CONNECT = socket.socket.connect
_REAL_CONNECT_EX = socket.socket.connect_ex


def _loopback(sock: socket.socket, address: Any) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return True  # Unix sockets and the like stay on the machine
    host = str(address[0]).split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _refuse(address: Any) -> ConnectionRefusedError:
    _ATTEMPTS.append(repr(address))
    return ConnectionRefusedError(f"tests connect to loopback only; refused {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _loopback(self, address):
        raise _refuse(address)
    return _REAL_CONNECT(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _loopback(self, address):
        raise _refuse(address)
    return _REAL_CONNECT_EX(self, address)


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    """Fail any test that tried to connect beyond loopback (the attempt itself was refused)."""
    _ATTEMPTS.clear()
    yield
    if _ATTEMPTS:
        tried = ", ".join(dict.fromkeys(_ATTEMPTS))
        _ATTEMPTS.clear()
        pytest.fail(f"the test tried to connect beyond loopback: {tried}", pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    _SAVED["USAGEKIT_CACHE_DIR"] = os.environ.get("USAGEKIT_CACHE_DIR")
    _SAVED["folder"] = tempfile.mkdtemp(prefix="usagekit-tests-cache-")
    os.environ["USAGEKIT_CACHE_DIR"] = _SAVED["folder"]


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.connect = _REAL_CONNECT  # type: ignore[method-assign]
    socket.socket.connect_ex = _REAL_CONNECT_EX  # type: ignore[method-assign]
    folder = _SAVED.pop("folder", None)
    previous = _SAVED.pop("USAGEKIT_CACHE_DIR", None)
    if previous is None:
        os.environ.pop("USAGEKIT_CACHE_DIR", None)
    else:
        os.environ["USAGEKIT_CACHE_DIR"] = previous
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
