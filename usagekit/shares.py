"""Where a billing method took an account's billed point, and each domain's share of the account there.

An account is billed as a whole: its domains' 5-minute points are summed before any peak or percentile
is taken. Splitting a peak-based bill among domains is therefore a question of *which* points the bill
came from, and what each domain carried at them. :func:`period_shares` answers it per account, billing
region and Beijing period, with the rules :func:`usagekit.allocate_cost` documents. The billed points are
chosen as :func:`usagekit.billing_quantities` chooses them by default: the top 5 % discarded rounded down
(``n * 5 // 100`` points), days whose points are all zero not counted, ``month_95_night_half`` ranking
points from 00:00 to 08:00 Beijing at half; among equal values the earliest point (or day) is taken.

>>> import pandas as pd
>>> starts = pd.to_datetime(["2026-10-04T16:00Z", "2026-10-04T16:05Z"])
>>> wide = pd.DataFrame({"a.example": [3.0, 1.0], "b.example": [0.0, 5.0]}, index=starts)
>>> [(s.period, s.weights, s.at) for s in period_shares(wide, "day_bandwidth")]
[('2026-10-05', {'a.example': 1.0, 'b.example': 5.0}, '2026-10-04T16:05:00Z')]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

__all__ = ["RULES", "Shares", "method_rule", "period_shares"]

_BEIJING = pd.Timedelta(hours=8)
#: the rule each method's shares follow (``month_95`` and ``month_95_night_half`` take ``rule=``)
RULES = {
    "hour_flow": "traffic_share",
    "day_bandwidth": "at_daily_peak",
    "month_95": "at_billed_point",
    "month_95_night_half": "at_billed_point",
    "month_4th_day_bandwidth": "at_4th_peak_day",
    "month_avg_day_bandwidth": "daily_peaks_weighted",
    "month_avg_day_95": "daily_95th_weighted",
}
PERCENTILE_RULES = ("at_billed_point", "top_band")


@dataclass(frozen=True)
class Shares:
    """One period's weights per domain (any scale, summing to the whole), and the point(s) they came from."""

    period: str
    weights: dict[str, float]
    at: str


def method_rule(method: str, rule: str) -> str:
    """The rule ``method`` (a base ``BillType``, no ``_overseas``) follows, ``rule`` for the 95th methods.

    >>> method_rule("month_95", "top_band"), method_rule("day_bandwidth", "top_band")
    ('top_band', 'at_daily_peak')
    """
    if method in ("month_95", "month_95_night_half"):
        return rule
    return RULES[method]


def _iso(moment: pd.Timestamp) -> str:
    return moment.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _at_point(wide: pd.DataFrame, moment: pd.Timestamp) -> dict[str, float]:
    return {str(k): float(v) for k, v in cast("pd.Series", wide.loc[moment]).items()}


def _fractions(wide: pd.DataFrame, moments: list[pd.Timestamp], weights: list[float]) -> dict[str, float]:
    """Sum over ``moments`` of each domain's fraction of the account there, times that moment's weight."""
    rows = wide.loc[moments].to_numpy(dtype=np.float64)
    totals = rows.sum(axis=1)
    keep = totals > 0
    fractions = rows[keep] / totals[keep, None]
    combined = (fractions * np.asarray(weights, dtype=np.float64)[keep, None]).sum(axis=0)
    return {str(k): float(v) for k, v in zip(wide.columns, combined, strict=True)}


def _ranked(values: pd.Series) -> pd.Series:
    """``values`` highest first, the earliest first among equals."""
    frame = pd.DataFrame({"value": values.to_numpy(), "order": np.arange(len(values))}, index=values.index)
    return frame.sort_values(["value", "order"], ascending=[False, True], kind="stable")["value"]


def _counted_days(total: pd.Series) -> pd.Series:
    """Each point's Beijing day, for the days that count (some traffic); idle days' points dropped."""
    day = _beijing_wall(total.index).floor("D")
    days = pd.Series(day, index=total.index)
    active = total.groupby(day).transform(lambda v: bool((v != 0).any()))
    return days[active.to_numpy(dtype=bool)]


def _daily(wide: pd.DataFrame, total: pd.Series, label: str) -> Iterator[Shares]:
    days = _beijing_wall(total.index).floor("D")
    for day, values in total.groupby(days):
        if not (values != 0).any():
            continue  # an idle day bills nothing
        peak = _ranked(values).index[0]
        yield Shares(day.strftime(label), _at_point(wide, peak), _iso(peak))


def _traffic(wide: pd.DataFrame) -> Iterator[Shares]:
    days = _beijing_wall(wide.index).floor("D")
    for day, rows in wide.groupby(days):
        yield Shares(
            day.strftime("%Y-%m-%d"), {str(k): float(v) for k, v in rows.sum().items()}, "every point"
        )


def _percentile(wide: pd.DataFrame, total: pd.Series, night_half: bool, rule: str) -> Shares:
    days = _counted_days(total)
    values = total.loc[days.index]
    if night_half:
        local_hour = _beijing_wall(values.index).hour
        values = values.where(local_hour >= 8, values * 0.5)
    ranked = _ranked(values)
    discard = len(ranked) * 5 // 100
    billed = ranked.index[discard]
    if rule == "top_band":
        band = list(ranked.index[: discard + 1])
        at = f"{_iso(billed)} and the {discard} points above it"
        return Shares("", _fractions(wide, band, [1.0] * len(band)), at)
    return Shares("", _at_point(wide, billed), _iso(billed))


def _day_points(total: pd.Series, which: str) -> list[tuple[pd.Timestamp, float]]:
    """Each counted day's peak point (``peak``) or 95th point (``cut``), with its value."""
    days = _counted_days(total)
    chosen = []
    for _, values in total.loc[days.index].groupby(days.to_numpy()):
        ranked = _ranked(values)
        index = 0 if which == "peak" else len(ranked) * 5 // 100
        chosen.append((ranked.index[index], float(ranked.iloc[index])))
    return chosen


def _monthly(wide: pd.DataFrame, total: pd.Series, method: str, rule: str) -> Shares:
    if method in ("month_95", "month_95_night_half"):
        return _percentile(wide, total, method == "month_95_night_half", rule)
    if method == "month_4th_day_bandwidth":
        peaks = _day_points(total, "peak")
        ranked = sorted(range(len(peaks)), key=lambda i: (-peaks[i][1], i))
        if len(ranked) < 4:
            return Shares("", {str(k): 0.0 for k in wide.columns}, "fewer than four days: nothing billed")
        moment = peaks[ranked[3]][0]
        return Shares("", _at_point(wide, moment), _iso(moment))
    which = "peak" if method == "month_avg_day_bandwidth" else "cut"
    points = _day_points(total, which)
    moments = [p for p, _ in points]
    at = f"{len(points)} daily {'peaks' if which == 'peak' else '95th points'}: " + ", ".join(
        map(_iso, moments)
    )
    return Shares("", _fractions(wide, moments, [v for _, v in points]), at)


def period_shares(wide: pd.DataFrame, method: str, rule: str = "at_billed_point") -> list[Shares]:
    """The shares of each Beijing period of one account and billing region under ``method``.

    ``wide`` holds the 5-minute points (index: aware starts) of each domain (columns; the unattributed
    rest is a column of its own), in the method's metric: traffic for ``hour_flow``, bandwidth otherwise.
    Periods: Beijing days for ``hour_flow`` (a day's line) and ``day_bandwidth``, months for the rest.
    """
    if method not in RULES:
        raise ValueError(f"no share rule for method {method!r}; known: {', '.join(RULES)}")
    if wide.empty:
        return []
    wide = wide.sort_index()
    total = wide.sum(axis=1)
    if method == "hour_flow":
        return list(_traffic(wide))
    if method == "day_bandwidth":
        return list(_daily(wide, total, "%Y-%m-%d"))
    months = _beijing_wall(wide.index).to_period("M")
    result = []
    for month in months.unique():
        inside = np.asarray(months == month)
        if not (total[inside] != 0).any():
            result.append(
                Shares(str(month), {str(k): 0.0 for k in wide.columns}, "every day idle: nothing billed")
            )
            continue
        shares = _monthly(wide[inside], total[inside], method, rule)
        result.append(Shares(str(month), shares.weights, shares.at))
    return result


def _beijing_wall(index: pd.Index) -> pd.DatetimeIndex:
    """A UTC time index as Beijing wall-clock times (naive), for days, hours and months as billed."""
    return pd.DatetimeIndex(index).tz_convert("UTC").tz_localize(None) + _BEIJING
