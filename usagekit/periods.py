"""Beijing days and months, and spans of time: the arithmetic :func:`usagekit.sync` plans with.

Spans are ``(start, end)`` pairs of aware UTC timestamps, end exclusive. Beijing (UTC+8) decides days and
months, as the service bills.

>>> [t.isoformat() for t in period("2026-09", "2026-11-19")]
['2026-08-31T16:00:00+00:00', '2026-11-19T16:00:00+00:00']
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from usagekit.times import BEIJING, moment, month_bounds
from usagekit.times import api_time as iso

__all__ = [
    "Span",
    "bound",
    "day_ceil",
    "day_floor",
    "iso",
    "merge",
    "month_bounds",
    "month_of",
    "months",
    "newest_cover",
    "period",
    "subtract",
    "utc",
]

Span = tuple[pd.Timestamp, pd.Timestamp]


# --- time: Beijing days and months ------------------------------------------------------------------


def utc(value: datetime | str) -> pd.Timestamp:
    """The one time rule, :func:`usagekit.times.moment`."""
    return moment(value, "time")


def day_floor(moment: pd.Timestamp) -> pd.Timestamp:
    return moment.tz_convert(BEIJING).floor("D").tz_convert("UTC")


def day_ceil(moment: pd.Timestamp) -> pd.Timestamp:
    return moment.tz_convert(BEIJING).ceil("D").tz_convert("UTC")


def month_of(moment: pd.Timestamp) -> str:
    return moment.tz_convert(BEIJING).strftime("%Y-%m")


def is_month(value: object) -> bool:
    return isinstance(value, str) and len(value) == 7 and value[4] == "-" and value.replace("-", "").isdigit()


def is_day(value: object) -> bool:
    return isinstance(value, str) and len(value) == 10 and is_month(value[:7]) and value[7] == "-"


def bound(value: datetime | str, *, end: bool) -> pd.Timestamp:
    """``YYYY-MM`` a Beijing month, ``YYYY-MM-DD`` a Beijing day (both inclusive), else a moment."""
    if is_month(value):
        return month_bounds(str(value))[1 if end else 0]
    if is_day(value):
        first = pd.Timestamp(str(value)).tz_localize(BEIJING).tz_convert("UTC")
        return first + pd.Timedelta(days=1) if end else first
    moment = utc(value)
    return day_ceil(moment) if end else day_floor(moment)


def period(start: datetime | str, end: datetime | str) -> Span:
    """``[lower, upper)`` in UTC, in whole Beijing days.

    >>> [t.isoformat() for t in period("2026-09", "2026-11-19")]
    ['2026-08-31T16:00:00+00:00', '2026-11-19T16:00:00+00:00']
    """
    lower, upper = bound(start, end=False), bound(end, end=True)
    if not lower < upper:
        raise ValueError(f"sync needs start before end, got {start!r} and {end!r}")
    return lower, upper


def months(lower: pd.Timestamp, upper: pd.Timestamp) -> list[str]:
    months, moment = [], lower
    while moment < upper:
        month = month_of(moment)
        months.append(month)
        moment = month_bounds(month)[1]
    return months


# --- intervals -------------------------------------------------------------------------------------


def merge(spans: Sequence[Span]) -> list[Span]:
    merged: list[Span] = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    result = merge(spans)
    for ha, hb in merge(holes):
        cut: list[Span] = []
        for a, b in result:
            if hb <= a or ha >= b:
                cut.append((a, b))
                continue
            if a < ha:
                cut.append((a, ha))
            if hb < b:
                cut.append((hb, b))
        result = cut
    return result


def newest_cover(
    covers: Sequence[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, int, str]], gaps: Sequence[Span]
) -> tuple[list[tuple[str, Span]], list[Span]]:
    """Each part of ``gaps`` given to the newest export covering it, and the parts none covers.

    ``covers`` are ``(start, end, updated, numeric id, task id)``; the newest is the latest ``updated``
    (then the higher id), the rule :func:`usagekit.usage` follows where exports overlap. A plain sweep
    over the cut points, the way :func:`usagekit.coverage` splits a period into runs.

    >>> t = pd.Timestamp
    >>> covers = [(t("2026-11-01"), t("2026-11-03"), t("2026-11-05"), 1, "1"),
    ...           (t("2026-11-02"), t("2026-11-04"), t("2026-11-06"), 2, "2")]
    >>> chosen, left = newest_cover(covers, [(t("2026-11-01"), t("2026-11-05"))])
    >>> [(i, a.day, b.day) for i, (a, b) in chosen], [(a.day, b.day) for a, b in left]
    ([('1', 1, 2), ('2', 2, 4)], [(4, 5)])
    """
    chosen: list[tuple[str, Span]] = []
    left: list[Span] = []
    for lower, upper in gaps:
        cuts = sorted(
            {
                lower,
                upper,
                *(c[0] for c in covers if lower < c[0] < upper),
                *(c[1] for c in covers if lower < c[1] < upper),
            }
        )
        for a, b in itertools.pairwise(cuts):
            over = [c for c in covers if c[0] <= a and c[1] >= b]
            if not over:
                if left and left[-1][1] == a:
                    left[-1] = (left[-1][0], b)
                else:
                    left.append((a, b))
                continue
            task_id = max(over, key=lambda c: (c[2], c[3]))[4]
            if chosen and chosen[-1][0] == task_id and chosen[-1][1][1] == a:
                chosen[-1] = (task_id, (chosen[-1][1][0], b))
            else:
                chosen.append((task_id, (a, b)))
    return chosen, left
