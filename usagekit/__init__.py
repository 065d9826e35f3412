"""usagekit: Alibaba Cloud CDN usage exports as typed pandas frames.

The public face: every name a user needs, and nothing else. Names are imported lazily (PEP 562), so
``import usagekit`` stays fast and never pulls in pandas' optional engines, matplotlib or ipywidgets.

>>> import usagekit
>>> "list_tasks" in usagekit.__all__
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from usagekit.errors import (
    ApiError,
    ArgumentError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    FileFormatError,
    IncompleteListingError,
    InvalidParameterError,
    MayHaveRunError,
    MissingExtraError,
    PermissionDeniedError,
    ReadError,
    ResponseError,
    ServiceUnavailableError,
    TaskStateError,
    ThrottledError,
    TransportError,
    UnrecognizedLayoutError,
    UnsafeFileError,
    UrlExpiredError,
    UsagekitError,
    WaitTimeoutError,
)

_LAZY = {
    "__version__": "usagekit.version",
    "Account": "usagekit.accounts",
    "discover_accounts": "usagekit.discovery",
    "CdnClient": "usagekit.client",
    "RetryPolicy": "usagekit.client",
    "Sandbox": "usagekit.sandbox",
    "ExportTask": "usagekit.tasks",
    "iter_tasks": "usagekit.listing",
    "list_tasks": "usagekit.listing",
    "create_export": "usagekit.lifecycle",
    "wait": "usagekit.lifecycle",
    "delete_export": "usagekit.lifecycle",
    "coverage": "usagekit.windows",
    "read_usage": "usagekit.readers",
    "read_summary": "usagekit.readers",
    "fetch": "usagekit.downloads",
    "usage": "usagekit.tidy",
    "sync": "usagekit.syncing",
    "SyncReport": "usagekit.syncing",
    "billing_quantities": "usagekit.billing",
    "compare_billing": "usagekit.billing",
    "bill_types": "usagekit.billtypes",
    "to_dataset": "usagekit.tidy",
    "read_dataset": "usagekit.tidy",
    "to_focus": "usagekit.tidy",
    "plot_percentile": "usagekit.plots",
    "plot_timeline": "usagekit.plots",
    "plot_usage": "usagekit.plots",
    "explore": "usagekit.widgets",
}

__all__ = [
    "Account",
    "ApiError",
    "ArgumentError",
    "AuthenticationError",
    "CdnClient",
    "ConfigurationError",
    "DownloadError",
    "ExportTask",
    "FileFormatError",
    "IncompleteListingError",
    "InvalidParameterError",
    "MayHaveRunError",
    "MissingExtraError",
    "PermissionDeniedError",
    "ReadError",
    "ResponseError",
    "RetryPolicy",
    "Sandbox",
    "ServiceUnavailableError",
    "SyncReport",
    "TaskStateError",
    "ThrottledError",
    "TransportError",
    "UnrecognizedLayoutError",
    "UnsafeFileError",
    "UrlExpiredError",
    "UsagekitError",
    "WaitTimeoutError",
    "__version__",
    "bill_types",
    "billing_quantities",
    "compare_billing",
    "coverage",
    "create_export",
    "delete_export",
    "discover_accounts",
    "explore",
    "fetch",
    "iter_tasks",
    "list_tasks",
    "plot_percentile",
    "plot_timeline",
    "plot_usage",
    "read_dataset",
    "read_summary",
    "read_usage",
    "sync",
    "to_dataset",
    "to_focus",
    "usage",
    "wait",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'usagekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from usagekit.accounts import Account
    from usagekit.billing import billing_quantities, compare_billing
    from usagekit.billtypes import bill_types
    from usagekit.client import CdnClient, RetryPolicy
    from usagekit.discovery import discover_accounts
    from usagekit.downloads import fetch
    from usagekit.lifecycle import create_export, delete_export, wait
    from usagekit.listing import iter_tasks, list_tasks
    from usagekit.plots import plot_percentile, plot_timeline, plot_usage
    from usagekit.readers import read_summary, read_usage
    from usagekit.sandbox import Sandbox
    from usagekit.syncing import SyncReport, sync
    from usagekit.tasks import ExportTask
    from usagekit.tidy import read_dataset, to_dataset, to_focus, usage
    from usagekit.widgets import explore
    from usagekit.windows import coverage
