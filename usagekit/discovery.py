"""The switch between real accounts and the sandbox's demo accounts: the public ``discover_accounts``.

With ``USAGEKIT_SANDBOX`` set to ``1`` or ``true``, :func:`discover_accounts` returns the sandbox's demo
accounts: those of the running sandbox ``USAGEKIT_SANDBOX_ENDPOINT`` names (its keys follow from
``USAGEKIT_SANDBOX_SEED``, default 0, and ``USAGEKIT_SANDBOX_ACCOUNTS``, default 3), or else of ONE
in-process sandbox per process, started on first use (seed, ``now`` and world size from the
environment: ``USAGEKIT_SANDBOX_NOW``, ``USAGEKIT_SANDBOX_TASKS``), reused by later calls and stopped at
exit. Otherwise it is :func:`usagekit.accounts.discover_accounts`.

This module sits above both ``accounts`` and ``sandbox``; ``accounts`` never imports the sandbox.

>>> [a.name for a in discover_accounts(environ={"USAGEKIT_SANDBOX": "1",
...      "USAGEKIT_SANDBOX_ENDPOINT": "http://127.0.0.1:8780", "USAGEKIT_SANDBOX_SEED": "7"})]
['demo-shop', 'demo-media', 'demo-games']
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usagekit.accounts import Account
from usagekit.errors import ArgumentError

if TYPE_CHECKING:
    from usagekit.sandbox import Sandbox

__all__ = ["discover_accounts", "running_sandbox", "sandbox_enabled", "sandbox_world"]

_lock = threading.Lock()
_sandbox: Sandbox | None = None


def sandbox_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``USAGEKIT_SANDBOX`` is ``1`` or ``true`` (any case).

    >>> sandbox_enabled({"USAGEKIT_SANDBOX": "True"}), sandbox_enabled({})
    (True, False)
    """
    environ = os.environ if environ is None else environ
    return environ.get("USAGEKIT_SANDBOX", "").strip().lower() in ("1", "true")


def running_sandbox() -> Sandbox | None:
    """The in-process sandbox :func:`discover_accounts` started, or ``None`` when there is none."""
    return _sandbox


def _stop_sandbox() -> None:
    global _sandbox
    with _lock:
        box, _sandbox = _sandbox, None
    if box is not None:
        box.stop()


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    from usagekit.errors import ConfigurationError

    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None


def sandbox_world(environ: Mapping[str, str]) -> dict[str, Any]:
    """The in-process sandbox's settings from the environment: ``seed``, ``now``, ``accounts``, ``tasks``.

    >>> sandbox_world({"USAGEKIT_SANDBOX_ACCOUNTS": "1"})
    {'seed': 0, 'now': None, 'accounts': 1, 'tasks': 40}
    """
    return {
        "seed": _whole(environ, "USAGEKIT_SANDBOX_SEED", 0),
        "now": environ.get("USAGEKIT_SANDBOX_NOW") or None,
        "accounts": _whole(environ, "USAGEKIT_SANDBOX_ACCOUNTS", 3),
        "tasks": _whole(environ, "USAGEKIT_SANDBOX_TASKS", 40),
    }


def discover_accounts(
    *, environ: Mapping[str, str] | None = None, home: str | os.PathLike[str] | None = None
) -> list[Account]:
    """The accounts to use: the sandbox's demo accounts under ``USAGEKIT_SANDBOX=1``, else real ones.

    ``environ`` (default ``os.environ``) holds the switch and the credentials variables; ``home``
    (default ``Path.home()``) is where the aliyun CLI and credentials files are looked for. Both go to
    :func:`usagekit.accounts.discover_accounts`; in sandbox mode ``home`` is not needed.

    >>> import usagekit
    >>> usagekit.discover_accounts is discover_accounts
    True
    """
    if environ is not None and not isinstance(environ, Mapping):
        raise ArgumentError(f"environ must be a mapping of variables or None, not {type(environ).__name__}")
    if home is not None and not isinstance(home, str | os.PathLike):
        raise ArgumentError(f"home must be a folder path or None, not {type(home).__name__}")
    environ = os.environ if environ is None else environ
    if not sandbox_enabled(environ):
        from usagekit import accounts

        return accounts.discover_accounts(environ=environ, home=None if home is None else Path(home))
    from usagekit.sandbox import Sandbox, demo_accounts

    endpoint = environ.get("USAGEKIT_SANDBOX_ENDPOINT", "").strip().rstrip("/")
    if endpoint:
        seed = _whole(environ, "USAGEKIT_SANDBOX_SEED", 0)
        return demo_accounts(
            seed, endpoint=endpoint, accounts=_whole(environ, "USAGEKIT_SANDBOX_ACCOUNTS", 3)
        )
    global _sandbox
    with _lock:
        if _sandbox is None:
            _sandbox = Sandbox(**sandbox_world(environ)).start()
            atexit.register(_stop_sandbox)
        return _sandbox.accounts
