"""Beijing days and months, and spans of time: the arithmetic :func:`usagekit.sync` plans with.

Spans are ``(start, end)`` pairs of aware UTC timestamps, end exclusive. Beijing (UTC+8) decides days and
months, as the service bills.

>>> [t.isoformat() for t in period("2026-09", "2026-11")]
['2026-08-31T16:00:00+00:00', '2026-11-30T16:00:00+00:00']
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.times import BEIJING, moment, month, month_bounds
from usagekit.times import api_time as iso

__all__ = [
    "Span",
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


def period(first_month: object, last_month: object) -> Span:
    """``[lower, upper)`` in UTC: the inclusive Beijing months ``first_month`` to ``last_month``.

    Months are checked by the one rule (:func:`usagekit.times.month`: ``YYYY-MM``); a bad one, or
    ``last_month`` before ``first_month``, is an :class:`~usagekit.errors.ArgumentError`.

    >>> [t.isoformat() for t in period("2026-09", "2026-11")]
    ['2026-08-31T16:00:00+00:00', '2026-11-30T16:00:00+00:00']
    >>> period("2026-11", "2026-09")
    Traceback (most recent call last):
    ...
    usagekit.errors.ArgumentError: last_month '2026-09' comes before first_month '2026-11': both are inclusive Beijing months
    """
    first, last = month(first_month, "first_month"), month(last_month, "last_month")
    if last < first:
        raise ArgumentError(
            f"last_month {last!r} comes before first_month {first!r}: both are inclusive Beijing months"
        )
    return month_bounds(first)[0], month_bounds(last)[1]


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
