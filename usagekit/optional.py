"""Optional dependencies: imported when a feature is first used, failing with the extra to install.

``import usagekit`` needs only requests, pandas, tqdm and platformdirs; reading files, Parquet, the
sandbox's file writers, plots and widgets live in extras. A feature imports its stack through
:func:`require`, so a missing package says which extra brings it.

>>> require("json", extra="files", purpose="reading JSON").__name__
'json'
>>> require("no_such_module_here", extra="files", purpose="reading workbooks")
Traceback (most recent call last):
...
usagekit.errors.MissingExtraError: reading workbooks needs the package no_such_module_here: pip install 'usagekit[files]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from usagekit.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        missing = MissingExtraError(
            f"{purpose} needs the package {top}: pip install 'usagekit[{extra}]'", extra=extra
        )
        raise missing from error
