"""The installed usagekit's version, from package metadata (one place; ``usagekit.__version__`` shows it).

>>> __version__.count(".") >= 1
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("usagekit")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
