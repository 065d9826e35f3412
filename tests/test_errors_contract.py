"""The error contract: every exception usagekit defines is a UsagekitError in usagekit.errors, every warning a
UsagekitWarning, and the wrong calls the review found are one ArgumentError naming the argument."""

from __future__ import annotations

import inspect
import pkgutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit import errors
from usagekit.accounts import Account

ACCOUNT = Account("shop", "LTAIexample-0000KlMn", "example-secret")


def _package_classes() -> list[type]:
    """Every class defined in a usagekit module (the sandbox included), imported here by walking the package."""
    found = []
    for info in pkgutil.walk_packages(usagekit.__path__, "usagekit."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = __import__(info.name, fromlist=["_"])
        except ImportError:  # an optional extra that is not installed
            continue
        found += [v for v in vars(module).values() if inspect.isclass(v) and v.__module__ == info.name]
    return found


#: exceptions that never leave usagekit: control flow caught where raised, a cause chain's sanitized stand-in,
#: and the sandbox server's refusal (sent as an API error reply, never raised to a caller)
INTERNAL = {
    "usagekit.readers.guard._Unusual",
    "usagekit.transfer.Expired",
    "usagekit.transfer._Retry",
    "usagekit.transport.TransportCause",
    "usagekit.sandbox.verify.Rejection",
}


def test_every_exception_class_lives_in_errors_under_usagekit_error() -> None:
    classes = [c for c in _package_classes() if f"{c.__module__}.{c.__name__}" not in INTERNAL]
    raised = [c for c in classes if issubclass(c, BaseException) and not issubclass(c, Warning)]
    outside = sorted(f"{c.__module__}.{c.__name__}" for c in raised if c.__module__ != "usagekit.errors")
    assert outside == []
    assert all(issubclass(c, errors.UsagekitError) for c in raised)


def test_every_warning_is_a_usagekit_warning_and_exported() -> None:
    given = [c for c in _package_classes() if issubclass(c, Warning)]
    assert [c for c in given if not issubclass(c, errors.UsagekitWarning)] == []
    assert issubclass(errors.UsagekitWarning, UserWarning)
    for name in ("DuplicateAccountWarning", "StatusFilterWarning", "TimeRangeWarning", "OverlapWarning"):
        assert issubclass(getattr(usagekit, name), usagekit.UsagekitWarning)
    assert issubclass(usagekit.SkippedTasksWarning, usagekit.UsagekitWarning)
    assert usagekit.DownloadPolicy.__name__ == "DownloadPolicy" and usagekit.Faults.__name__ == "Faults"


def test_old_import_paths_still_work() -> None:
    from usagekit.cli.checks import CommandLineError
    from usagekit.reconcile import OverlapWarning
    from usagekit.report import ReportError
    from usagekit.times import TimeValueError

    assert CommandLineError is errors.CommandLineError and ReportError is errors.ReportError
    assert TimeValueError is errors.TimeValueError and OverlapWarning is errors.OverlapWarning


def _tiny_usage() -> pd.DataFrame:
    from usagekit.frames import tidy_frame

    return tidy_frame(
        {
            "account": ["shop"],
            "region": ["CN"],
            "metric": ["bandwidth"],
            "start": ["2026-10-04T16:00Z"],
            "end": ["2026-10-04T16:05Z"],
            "value": [4e8],
            "unit": ["bit/s"],
        }
    )


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: usagekit.coverage(pd.DataFrame(), "2026-11-05T00:00Z", "2026-11-01T00:00Z"), "start"),
        (lambda: usagekit.bill_types(ACCOUNT, "2026-11-05T00:00Z", "2026-11-01T00:00Z"), "start"),
        (lambda: usagekit.bill_types(ACCOUNT, "Nov 2026", "2026-12-01"), "start"),
        (lambda: usagekit.billing_quantities(_tiny_usage(), "month_96"), "month_96"),
        (lambda: usagekit.usage("24168392"), "a task id alone"),
        (lambda: usagekit.RetryPolicy(max_attempts=0), "max_attempts"),
        (lambda: usagekit.RetryPolicy(cap="x"), "RetryPolicy.cap"),
        (lambda: usagekit.CdnClient("shop"), "needs an Account"),
        (lambda: usagekit.CdnClient(ACCOUNT, timeout=-1), "timeout"),
        (lambda: usagekit.CdnClient(ACCOUNT, signature="v4"), "signature"),
    ],
)
def test_wrong_calls_are_one_argument_error(call, names: str) -> None:
    with pytest.raises(usagekit.ArgumentError, match=names) as caught:
        call()
    assert "fetch" not in str(caught.value)


def test_fetch_file_kind_is_refused_before_any_folder(tmp_path: Path) -> None:
    from usagekit.downloads import fetch_file

    cache = tmp_path / "cache"
    with pytest.raises(usagekit.ArgumentError, match="kind must be 'summary' or 'detail'"):
        fetch_file(ACCOUNT, "sumary", "1", "https://example.com/x.xlsx", cache_dir=cache)
    assert not cache.exists()


def test_usagekit_warning_silences_them_all() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=usagekit.UsagekitWarning)
        warnings.warn("x", usagekit.OverlapWarning, stacklevel=1)
        warnings.warn("y", errors.CacheWarning, stacklevel=1)
    assert seen == []
