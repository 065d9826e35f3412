"""The arguments of :func:`usagekit.sync`, checked by the README Conventions before anything is done.

Months are inclusive Beijing months (``YYYY-MM``, :func:`usagekit.times.month`); ``start``/``end`` are
refused (they mean moments everywhere else); ``domains`` is ``None``, one domain or a sequence of them;
``accounts`` an Account, a sequence of them or ``None``, never empty. Every bad argument is an
:class:`~usagekit.errors.ArgumentError`, raised before any folder is made or request sent. The deadline
of a sync runs on the injected clock (:class:`Elapsed`), never the machine's monotonic clock.

>>> domain_scope("img.shop.example", "sync")
(['img.shop.example'], 'sync:65b53dedb8')
>>> refuse_start_end({"start": "2026-09"})
Traceback (most recent call last):
...
usagekit.errors.ArgumentError: sync takes first_month and last_month (inclusive Beijing months, YYYY-MM), not start/end, which mean moments elsewhere: sync(accounts, first_month='2026-09', last_month='2026-11', dataset='usage/')
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.errors import ArgumentError
from usagekit.periods import Span, period, utc
from usagekit.times import current

__all__ = [
    "DOMAIN_FORMS",
    "Elapsed",
    "checked_period_and_options",
    "checked_run_options",
    "chosen_accounts",
    "domain_scope",
    "refuse_start_end",
    "service_clock",
]

DOMAIN_FORMS = "None (the account's totals), one domain as a string, or a sequence of domain names"


def domain_scope(domains: str | Sequence[str] | None, mark: str) -> tuple[list[str] | None, str]:
    """The domains asked (``None``: by account) and the mark of the exports sync makes for them."""
    if domains is None:
        return None, mark
    if isinstance(domains, str):
        domains = [domains]
    if not isinstance(domains, Sequence | set | frozenset) or any(not isinstance(d, str) for d in domains):
        raise ArgumentError(f"domains must be {DOMAIN_FORMS}, not {domains!r:.60}")
    joined = [d for d in domains if "," in d or len(d.split()) > 1]
    if joined:
        raise ArgumentError(f"domains: {joined[0]!r:.60} is several names in one string; give {DOMAIN_FORMS}")
    chosen = sorted({d.strip() for d in domains if d.strip()})
    if not chosen:
        raise ArgumentError(f"domains names no domain: give {DOMAIN_FORMS}")
    digest = hashlib.sha256(",".join(chosen).encode()).hexdigest()[:10]
    return chosen, f"{mark}:{digest}"


def refuse_start_end(refused: dict[str, Any]) -> None:
    """``start``/``end`` changed meaning (moments, everywhere else): refused, naming their replacements."""
    if "start" in refused or "end" in refused:
        raise ArgumentError(
            "sync takes first_month and last_month (inclusive Beijing months, YYYY-MM), not start/end, "
            "which mean moments elsewhere: sync(accounts, first_month='2026-09', last_month='2026-11', "
            "dataset='usage/')"
        )
    if refused:
        raise TypeError(f"sync() got an unexpected keyword argument {next(iter(refused))!r}")


def checked_period_and_options(
    first_month: object,
    last_month: object,
    dataset: object,
    *,
    types: str | Sequence[str],
    domains: str | Sequence[str] | None,
    max_in_flight: object,
    timeout: object,
    known_types: tuple[str, ...],
) -> tuple[pd.Timestamp, pd.Timestamp, tuple[str, ...], Path]:
    """The period ``[lower, upper)``, the types (deduplicated) and the dataset folder, all checked."""
    if first_month is None or last_month is None or dataset is None:
        named = {"first_month": first_month, "last_month": last_month, "dataset": dataset}
        missing = ", ".join(name for name, value in named.items() if value is None)
        raise ArgumentError(f"sync needs {missing}: sync(accounts, first_month, last_month, dataset)")
    span: Span = period(first_month, last_month)
    if not isinstance(types, str | Sequence) or not all(isinstance(t, str) for t in types):
        raise ArgumentError(f"types must be 'flow', 'vas' or a sequence of them, not {types!r:.60}")
    chosen = (types,) if isinstance(types, str) else tuple(types)
    unknown = set(chosen) - set(known_types)
    if unknown or not chosen:
        raise ArgumentError(f"types are 'flow' and/or 'vas', not {sorted(unknown) or list(chosen)}")
    if not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise ArgumentError(f"max_in_flight must be a whole number of at least 1, not {max_in_flight!r}")
    if not isinstance(timeout, int | float) or timeout < 0:
        raise ArgumentError(f"timeout must be seconds, 0 or more, not {timeout!r}")
    domain_scope(domains, "")
    if not isinstance(dataset, str | os.PathLike) or not str(dataset).strip():
        raise ArgumentError(f"dataset must name a folder (a path), not {dataset!r}")
    root = Path(dataset)
    if root.exists() and not root.is_dir():
        raise ArgumentError(f"dataset {str(root)!r} is a file: a Parquet dataset is a folder")
    return span[0], span[1], tuple(dict.fromkeys(chosen)), root


def checked_run_options(
    *,
    language: object,
    executor: object,
    progress: object,
    cleanup: object,
    cache_dir: object,
    sleep: object,
    poll: object,
) -> None:
    """The options of the run itself, each an :class:`ArgumentError` naming it when wrong."""
    from usagekit.downloads import check_fan_out

    check_fan_out(executor=executor, progress=progress, cache_dir=cache_dir, policy=None)
    if language not in ("en-us", "zh-cn"):
        raise ArgumentError(f"language must be 'en-us' or 'zh-cn', not {language!r:.60}")
    if not isinstance(cleanup, bool):
        raise ArgumentError(f"cleanup must be True or False, not {cleanup!r:.60}")
    if not callable(sleep):
        raise ArgumentError(f"sleep must be a function of seconds (time.sleep), not {sleep!r:.60}")
    if isinstance(poll, bool) or not isinstance(poll, int | float) or not poll >= 0:
        raise ArgumentError(f"poll must be seconds, 0 or more, not {poll!r:.60}")  # fmt: skip


def chosen_accounts(accounts: Account | Sequence[Account] | None) -> list[Account]:
    """``accounts`` by the one rule: ``None`` every discovered account, an empty sequence refused."""
    from usagekit.resolve import resolve_accounts

    if isinstance(accounts, Sequence) and not isinstance(accounts, str) and len(accounts) == 0:
        raise ArgumentError(
            "accounts is empty: give an Account, a sequence of them, or None for every discovered account"
        )
    return resolve_accounts(accounts)


def service_clock(now: datetime | str | Callable[[], datetime] | None) -> Callable[[], Any]:
    """``now`` as a clock: called as it is, fixed (checked by the one time rule), or the real clock."""
    if callable(now):
        return now
    if now is None:
        return current
    fixed = current(now)
    return lambda: fixed


class Elapsed:
    """Seconds on the injected clock: the later of ``now()``'s advance and what ``sleep`` slept.

    A moving ``now`` (a sandbox's ``lambda: box.now``, or the real clock when ``now`` is ``None``) counts
    as it moves; a fixed one does not move, so the seconds the injected ``sleep`` slept count instead.
    Never the machine's own monotonic clock, so a test's frozen sandbox decides when sync gives up.

    >>> slept = Elapsed(lambda: pd.Timestamp("2026-11-20T08:00:00Z"), lambda seconds: None)
    >>> slept.sleep(30.0); slept()
    30.0
    """

    def __init__(self, now: Callable[[], Any], sleep: Callable[[float], None]) -> None:
        self.now, self.inner = now, sleep
        self.started = utc(now()).timestamp()
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.inner(seconds)
        self.slept += seconds

    def __call__(self) -> float:
        return max(utc(self.now()).timestamp() - self.started, self.slept)
