"""The demo's showback and anomaly files: ``showback.csv`` and ``anomalies.csv`` from the demo's own usage.

``showback.csv`` is :func:`usagekit.allocate_cost` of the last complete Beijing month, priced with the
example price table under each account's method in force; ``anomalies.csv`` is :func:`usagekit.anomalies`
of all the usage read (traffic per hour; series with less than eight weeks of history are named, not
checked). The demo's exports list domains only here and there, so much of a month stays
``unattributed``: that is what the seeded exports support, and the files say so.

>>> last_month(pd.Timestamp("2026-11-20T08:00:00Z"))
'2026-10'
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from usagekit.accounts import Account

__all__ = ["last_month", "write_showback_files"]


def last_month(now: pd.Timestamp) -> str:
    """The last complete Beijing month before ``now``."""
    local = pd.Timestamp(now).tz_convert("UTC").tz_localize(None) + pd.Timedelta(hours=8)
    return str(local.to_period("M") - 1)


def write_showback_files(
    accounts: Sequence[Account], frame: pd.DataFrame, output: Path, now: pd.Timestamp
) -> Iterator[str]:
    """Write both files into ``output``, yielding the line the demo prints for each."""
    from usagekit.anomaly import anomalies
    from usagekit.prices import example_prices
    from usagekit.showback import UNATTRIBUTED, allocate_cost
    from usagekit.times import month_bounds

    month = last_month(now)
    start, end = month_bounds(month)
    usage = frame[(frame["start"] >= start) & (frame["start"] < end)]
    split = None
    if len(usage):
        with warnings.catch_warnings(record=True):  # periods the example table does not price: counted below
            warnings.simplefilter("always")
            split = allocate_cost(usage, prices=example_prices(), accounts=list(accounts))
    path = output / "showback.csv"
    if split is None:
        pd.DataFrame(columns=["account", "method", "period", "domain", "share", "amount"]).to_csv(
            path, index=False
        )
        yield f"  {path}  (no usage of {month} to split)"
    else:
        split.to_csv(path, index=False)
        left = sum(a for a, d in zip(split["amount"], split["domain"], strict=True) if d == UNATTRIBUTED)
        total = sum(split["amount"])
        yield (
            f"  {path}  {month}'s bill split among domains at the points each method billed "
            f"({len(split)} rows; {left:.2f} of {total:.2f} unattributed: exports by account list no domains"
            + (
                f"; {len(split.attrs['unpriced'])} periods the example prices do not price"
                if split.attrs.get("unpriced")
                else ""
            )
            + ")"
        )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        found = anomalies(frame)
    path = output / "anomalies.csv"
    found.to_csv(path, index=False)
    short = len(found.attrs.get("short_history", []))
    yield (
        f"  {path}  hours whose traffic left the same hour of the previous 8 weeks ({len(found)} found; "
        f"{short} series with less history not checked)"
    )
