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
    CacheWarning,
    ConfigurationError,
    ConfigurationWarning,
    CorruptDataError,
    DownloadError,
    DuplicateAccountWarning,
    ExportsFailedError,
    FileFormatError,
    IncompleteListingError,
    InvalidParameterError,
    MayHaveRunError,
    MissingExtraError,
    OverlapWarning,
    PermissionDeniedError,
    ReadError,
    ResponseError,
    ServiceUnavailableError,
    SkippedTasksWarning,
    StatusFilterWarning,
    TaskStateError,
    ThrottledError,
    TimeRangeWarning,
    TransportError,
    UnrecognizedLayoutError,
    UnsafeFileError,
    UrlExpiredError,
    UsagekitError,
    UsagekitWarning,
    WaitTimeoutError,
)

_LAZY = {
    "__version__": "usagekit.version",
    "Account": "usagekit.accounts",
    "discover_accounts": "usagekit.discovery",
    "resolve_accounts": "usagekit.resolve",
    "CdnClient": "usagekit.client",
    "RetryPolicy": "usagekit.client",
    "Sandbox": "usagekit.sandbox",
    "Session": "usagekit.session",
    "Faults": "usagekit.sandbox",
    "DownloadPolicy": "usagekit.transfer",
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
    "bill_history": "usagekit.billhistory",
    "bill_prediction": "usagekit.billhistory",
    "check_bill": "usagekit.billcheck",
    "check_prediction": "usagekit.billcheck",
    "plot_bill_check": "usagekit.billplot",
    "list_domains": "usagekit.domains",
    "allocate_cost": "usagekit.showback",
    "anomalies": "usagekit.anomaly",
    "plot_anomalies": "usagekit.anomalyplot",
    "to_dataset": "usagekit.tidy",
    "read_dataset": "usagekit.tidy",
    "to_focus": "usagekit.focus",
    "bill_lines": "usagekit.bss",
    "price_periods": "usagekit.prices",
    "example_prices": "usagekit.prices",
    "read_csv": "usagekit.csvfiles",
    "check_cost": "usagekit.costcheck",
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
    "CacheWarning",
    "CdnClient",
    "ConfigurationError",
    "ConfigurationWarning",
    "CorruptDataError",
    "DownloadError",
    "DownloadPolicy",
    "DuplicateAccountWarning",
    "ExportTask",
    "ExportsFailedError",
    "Faults",
    "FileFormatError",
    "IncompleteListingError",
    "InvalidParameterError",
    "MayHaveRunError",
    "MissingExtraError",
    "OverlapWarning",
    "PermissionDeniedError",
    "ReadError",
    "ResponseError",
    "RetryPolicy",
    "Sandbox",
    "ServiceUnavailableError",
    "Session",
    "SkippedTasksWarning",
    "StatusFilterWarning",
    "SyncReport",
    "TaskStateError",
    "ThrottledError",
    "TimeRangeWarning",
    "TransportError",
    "UnrecognizedLayoutError",
    "UnsafeFileError",
    "UrlExpiredError",
    "UsagekitError",
    "UsagekitWarning",
    "WaitTimeoutError",
    "__version__",
    "allocate_cost",
    "anomalies",
    "bill_history",
    "bill_lines",
    "bill_prediction",
    "bill_types",
    "billing_quantities",
    "check_bill",
    "check_cost",
    "check_prediction",
    "compare_billing",
    "coverage",
    "create_export",
    "delete_export",
    "discover_accounts",
    "example_prices",
    "explore",
    "fetch",
    "iter_tasks",
    "list_domains",
    "list_tasks",
    "plot_anomalies",
    "plot_bill_check",
    "plot_percentile",
    "plot_timeline",
    "plot_usage",
    "price_periods",
    "read_csv",
    "read_dataset",
    "read_summary",
    "read_usage",
    "resolve_accounts",
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
    from usagekit.anomaly import anomalies
    from usagekit.anomalyplot import plot_anomalies
    from usagekit.billcheck import check_bill, check_prediction
    from usagekit.billhistory import bill_history, bill_prediction
    from usagekit.billing import billing_quantities, compare_billing
    from usagekit.billplot import plot_bill_check
    from usagekit.billtypes import bill_types
    from usagekit.bss import bill_lines
    from usagekit.client import CdnClient, RetryPolicy
    from usagekit.costcheck import check_cost
    from usagekit.csvfiles import read_csv
    from usagekit.discovery import discover_accounts
    from usagekit.domains import list_domains
    from usagekit.downloads import fetch
    from usagekit.focus import to_focus
    from usagekit.lifecycle import create_export, delete_export, wait
    from usagekit.listing import iter_tasks, list_tasks
    from usagekit.plots import plot_percentile, plot_timeline, plot_usage
    from usagekit.prices import example_prices, price_periods
    from usagekit.readers import read_summary, read_usage
    from usagekit.resolve import resolve_accounts
    from usagekit.sandbox import Faults, Sandbox
    from usagekit.session import Session
    from usagekit.showback import allocate_cost
    from usagekit.syncing import SyncReport, sync
    from usagekit.tasks import ExportTask
    from usagekit.tidy import read_dataset, to_dataset, usage
    from usagekit.transfer import DownloadPolicy
    from usagekit.widgets import explore
    from usagekit.windows import coverage
