"""The demo's bill check: ``bill_check.csv``, last month's bill beside the usage the demo read.

:func:`usagekit.check_bill` of the last complete Beijing month, with the sandbox's own billing methods and
history, against the usage the demo read from the seeded exports. Those exports cover the month only here
and there, so many rows are ``incomplete_usage``: that is what the seeded exports support, and the line
says so (``usagekit bill --month ... --create`` exports the rest).

>>> last_complete_month(pd.Timestamp("2026-11-20T08:00:00Z"))
'2026-10'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from usagekit.accounts import Account

__all__ = ["FILE", "last_complete_month", "write_bill_check", "write_check_csv"]

FILE = "bill_check.csv"


def last_complete_month(now: pd.Timestamp) -> str:
    """The Beijing month before the one ``now`` lies in.

    >>> last_complete_month(pd.Timestamp("2026-11-20T08:00:00Z")), last_complete_month(pd.Timestamp("2026-10-31T16:00:00Z"))
    ('2026-10', '2026-10')
    """
    local = pd.Timestamp(now).tz_convert("UTC").tz_localize(None) + pd.Timedelta(hours=8)
    return str(local.to_period("M") - 1)


def write_check_csv(check: pd.DataFrame, path: Path) -> Path:
    """``check`` as CSV (UTC times in ISO 8601)."""
    check.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return path


def write_bill_check(
    accounts: Sequence[Account], frame: pd.DataFrame, output: Path, now: pd.Timestamp
) -> Iterator[str]:
    """Write ``bill_check.csv`` into ``output``, yielding the line the demo prints for it."""
    from usagekit.billcheck import FINDINGS, check_bill

    month = last_complete_month(now)
    check = check_bill(frame, list(accounts), month=month, now=now)
    path = write_check_csv(check, output / FILE)
    counts = check["verdict"].astype(str).value_counts()
    words = ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) or "no rows"
    findings = int(check["verdict"].astype(str).isin(FINDINGS).sum())
    note = (
        " (the seeded exports miss days: `usagekit bill --create` exports them)"
        if "incomplete_usage" in counts
        else ""
    )
    yield f"  {path}  does {month}'s bill match the usage? {len(check)} rows: {words}; {findings} findings{note}"
