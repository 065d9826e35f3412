"""The installed usagekit's version, from package metadata, read once and only when asked.

Reading package metadata costs tens of milliseconds (``importlib.metadata`` scans the installed
distributions), so ``import usagekit`` does not pay it: ``usagekit.__version__`` and the client's
User-Agent ask :func:`package_version` when they are first used.

>>> package_version().count(".") >= 1
True
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["package_version"]


@functools.cache
def package_version() -> str:
    """The installed usagekit's version (``0+unknown`` when run from a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("usagekit")
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return package_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
