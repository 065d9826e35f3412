"""The usage's side of a bill check: an account's 5-minute points, which carry its total, what a period lacks.

A bill is the account's: its points must be the account's total (an export by account, or the rest of the
account beside listed domains), never the sum of some domains only. :func:`account_points` sums an account's
rows per billing region and point and marks the points that hold the total (``whole``);
:func:`lacking_points` and :func:`missing_per_day` say which points of a period lack it.

>>> import pandas as pd
>>> usage = pd.DataFrame({"region": ["CN"] * 3, "metric": ["bandwidth"] * 3, "domain": [None, None, "a.example"],
...     "start": pd.date_range("2026-10-11T16:00Z", periods=3, freq="5min"), "value": [1.0, 2.0, 3.0]})
>>> points = account_points(usage, "bandwidth", overseas=False)
>>> points["whole"].tolist()
[True, True, False]
>>> missing_per_day(points, "CN", pd.Timestamp("2026-10-11T16:00Z"), pd.Timestamp("2026-10-11T16:15Z")).to_dict()
{'2026-10-12': 1}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "NONE_MISSING",
    "NO_REGION",
    "POINT",
    "account_points",
    "lacking_points",
    "lacking_text",
    "metric_of",
    "missing_per_day",
    "per_day",
]

POINT = pd.Timedelta(minutes=5)
_BEIJING = pd.Timedelta(hours=8)
#: the region key of rows without one (requests): a key that groups and joins
NO_REGION = ""
#: no point lacking
NONE_MISSING = pd.Series(dtype=np.int64)


def metric_of(method: str) -> str:
    base = method.removesuffix("_overseas")
    return {"hour_flow": "traffic", "hour_count": "requests"}.get(base, "bandwidth")


def account_points(usage: pd.DataFrame, metric: str, overseas: bool) -> pd.DataFrame:
    """One account's 5-minute points of ``metric``, summed over domains: ``region`` (text), ``start``, ``value``,
    and ``whole``: a row without a domain (an export by account: the account's total, or the rest of it
    beyond listed domains) is among them, so the sum is the account's; points only exports of some
    domains hold are not."""
    rows = usage.loc[usage["metric"] == metric, ["region", "start", "value"]]
    whole = (
        usage.loc[rows.index, "domain"].isna() if "domain" in usage.columns else pd.Series(True, rows.index)
    )
    region = rows["region"].astype(object).where(rows["region"].notna(), NO_REGION).astype(str)
    if overseas:
        region = region.where(region.isin(["CN", NO_REGION]), "OVERSEAS")
    grouped = rows.assign(region=region, whole=whole.to_numpy(bool)).groupby(["region", "start"], sort=True)
    summed = grouped.agg(value=("value", "sum"), whole=("whole", "any")).reset_index()
    summed["start"] = pd.to_datetime(summed["start"], utc=True)
    return summed


def lacking_points(
    points: pd.DataFrame, region: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DatetimeIndex:
    """The 5-minute points of ``[start, end)`` where ``region`` lacks the account's total (UTC)."""
    grid = pd.date_range(start, end, freq=POINT, inclusive="left")
    present = points.loc[(points["region"] == region) & points["whole"], "start"]
    return grid[~grid.isin(present)]


NONE_MISSING = pd.Series(dtype=np.int64)


def per_day(lacking: pd.DatetimeIndex) -> pd.Series:
    """Lacking points counted per Beijing day (``2026-10-12``)."""
    if len(lacking) == 0:
        return NONE_MISSING
    days = (lacking.tz_convert("UTC").tz_localize(None) + _BEIJING).strftime("%Y-%m-%d")
    return pd.Series(1, index=days).groupby(level=0).sum()


def missing_per_day(points: pd.DataFrame, region: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Points ``region`` lacks in ``[start, end)``, counted per Beijing day (``2026-10-12``)."""
    return per_day(lacking_points(points, region, start, end))


def lacking_text(missing: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> str:
    expected = int((end - start) / POINT)
    days = [f"{day} ({int(n)} of {min(288, expected)} points missing)" for day, n in missing.items()]
    shown = "; ".join(days[:6]) + (f"; and {len(days) - 6} more days" if len(days) > 6 else "")
    return (
        f"the usage lacks the account's total at {int(missing.sum()):,} of this period's {expected:,} points "
        f"(no point, or only exports of some domains): {shown}. Export those days by account "
        "(usagekit.create_export without domains) and read them to check this period."
    )
