"""Root pytest configuration: every test, doctest and notebook runs against a private cache.

usagekit caches downloaded exports and parsed workbooks under ``USAGEKIT_CACHE_DIR`` (else the user's
cache directory). The test session points it at a fresh temporary folder, so a run never reads a cache
left by an earlier run or by the user's own work, and never writes customer-like data into the user's
home. Notebook kernels inherit the variable.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SAVED: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    _SAVED["USAGEKIT_CACHE_DIR"] = os.environ.get("USAGEKIT_CACHE_DIR")
    _SAVED["folder"] = tempfile.mkdtemp(prefix="usagekit-tests-cache-")
    os.environ["USAGEKIT_CACHE_DIR"] = _SAVED["folder"]


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = _SAVED.pop("folder", None)
    previous = _SAVED.pop("USAGEKIT_CACHE_DIR", None)
    if previous is None:
        os.environ.pop("USAGEKIT_CACHE_DIR", None)
    else:
        os.environ["USAGEKIT_CACHE_DIR"] = previous
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
