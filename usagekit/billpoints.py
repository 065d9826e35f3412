"""Which 5-minute point (or day) a monthly method bills, with its time: what a bill check explains with.

:func:`usagekit.billing_quantities` says *how much* a method bills; a check that finds a month differing
also wants to say *where*: the 95th point's time on the usage's side, and which of the usage's points
(if any) the billed value is. The points here are one account's and region's summed 5-minute points.

>>> points = pd.DataFrame({"start": pd.date_range("2026-10-01T00:00Z", periods=40, freq="5min"),
...                        "value": [float(v) for v in range(40)]})
>>> chosen = billed_point(points, "month_95", "floor", True)
>>> chosen.rank, chosen.of, float(chosen.value), chosen.at.isoformat()
(2, 40, 37.0, '2026-10-01T03:05:00+00:00')
>>> locate(points, "month_95", "floor", True, 30.0).describe()
'the usage point of 2026-10-01 10:30 Beijing (the 10th highest of 40)'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Chosen", "above", "billed_point", "bj", "locate", "ranked_points"]

_BEIJING = pd.Timedelta(hours=8)
PERCENTILE_METHODS = frozenset({"month_95", "month_95_night_half"})
FOURTH_METHOD = "month_4th_day_bandwidth"


def bj(moment: pd.Timestamp) -> str:
    """``moment`` as Beijing wall time, to the minute: ``2026-10-12 21:05 Beijing`` without the word.

    >>> bj(pd.Timestamp("2026-10-12T13:05:00Z"))
    '2026-10-12 21:05'
    """
    return (pd.Timestamp(moment).tz_convert("UTC") + _BEIJING).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Chosen:
    """A point a monthly method bills: its ``value``, time ``at`` (UTC), ``rank`` (0 = highest) of ``of``."""

    value: float
    at: pd.Timestamp | None
    rank: int
    of: int
    unit_word: str = "point"

    def describe(self) -> str:
        where = bj(self.at) if self.at is not None else "?"
        what = "daily peak" if self.unit_word == "day" else "usage point"
        return f"the {what} of {where} Beijing (the {_ordinal(self.rank + 1)} highest of {self.of:,})"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def ranked_points(points: pd.DataFrame, method: str, count_idle_days: bool) -> pd.DataFrame:
    """The values ``method`` ranks, highest first (``start``, ``value``): 5-minute points, or daily peaks.

    Idle Beijing days (every point zero) are left out unless ``count_idle_days``; ``month_95_night_half``
    counts points from 00:00 to 08:00 Beijing at half; ``month_4th_day_bandwidth`` ranks each day's
    peak (``start`` its time).
    """
    local = points["start"].dt.tz_convert("UTC").dt.tz_localize(None) + _BEIJING
    day = local.dt.floor("D")
    value = points["value"].astype(np.float64)
    if not count_idle_days:
        active = value.ne(0).groupby(day).transform("any").astype(bool)
        points, local, day, value = points[active], local[active], day[active], value[active]
    if method == "month_95_night_half":
        value = value.where(local.dt.hour >= 8, value * 0.5)
    frame = pd.DataFrame({"start": points["start"], "value": value, "day": day})
    if method == FOURTH_METHOD:
        frame = frame.sort_values(["value", "start"], ascending=[False, True], kind="stable")
        frame = frame.drop_duplicates("day", keep="first")
    frame = frame.sort_values(["value", "start"], ascending=[False, True], kind="stable")
    return frame[["start", "value"]].reset_index(drop=True)


def billed_point(points: pd.DataFrame, method: str, rounding: str, count_idle_days: bool) -> Chosen | None:
    """The point (or daily peak) ``method`` bills from ``points``; ``None`` for other methods or no points.

    ``month_95`` / ``month_95_night_half``: the top 5 % discarded (``floor`` or ``ceil`` of 5 % of the
    points), the highest left; ``month_4th_day_bandwidth``: the 4th highest daily peak.
    """
    if method not in PERCENTILE_METHODS and method != FOURTH_METHOD:
        return None
    ranked = ranked_points(points, method, count_idle_days)
    n = len(ranked)
    if n == 0:
        return None
    if method == FOURTH_METHOD:
        if n < 4:
            return None
        rank, word = 3, "day"
    else:
        rank = min(n * 5 // 100 if rounding == "floor" else (n * 5 + 99) // 100, n - 1)
        word = "point"
    row = ranked.iloc[rank]
    return Chosen(float(row["value"]), row["start"], rank, n, word)


def locate(
    points: pd.DataFrame,
    method: str,
    rounding: str,
    count_idle_days: bool,
    value: float,
    tolerance: float = 1e-9,
) -> Chosen | None:
    """Which of the usage's ranked points ``value`` is (relative ``tolerance``); ``None`` when none is.

    Where several points hold the value, the one ranked nearest the billed rank is taken.
    """
    ranked = ranked_points(points, method, count_idle_days)
    if ranked.empty:
        return None
    values = ranked["value"].to_numpy()
    close = np.flatnonzero(np.abs(values - value) <= tolerance * max(abs(value), 1e-300))
    if close.size == 0:
        return None
    target = billed_point(points, method, rounding, count_idle_days)
    aim = target.rank if target is not None else 0
    rank = int(close[np.argmin(np.abs(close - aim))])
    word = "day" if method == FOURTH_METHOD else "point"
    return Chosen(float(values[rank]), ranked["start"].iloc[rank], rank, len(ranked), word)


def above(points: pd.DataFrame, method: str, count_idle_days: bool, value: float) -> int:
    """How many of the usage's ranked points lie above ``value``."""
    ranked = ranked_points(points, method, count_idle_days)
    return int((ranked["value"].to_numpy() > value).sum())
