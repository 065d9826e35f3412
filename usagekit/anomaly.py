"""What changed: the periods whose usage leaves a robust baseline, per account and domain.

The baseline of a period is the same period of the week over the ``lookback`` (with ``freq="1h"`` and
``lookback="56D"``: the same hour of the same weekday in each of the eight weeks before). Its centre is
the median of those samples; its spread the median absolute deviation scaled by 1.4826 (a normal
distribution's standard deviation), floored at ``min_spread`` times the median, so a handful of quiet
samples cannot make every wiggle an alarm. A period's ``score`` is ``(value - median) / spread``; it is
reported when ``|score| > threshold``. A period is scored only when its series has data at least
``lookback`` before it and at least half of the samples are present; a series with less history says so
(a :class:`ShortHistoryWarning` and ``frame.attrs["short_history"]``) instead of alarming.

Defaults (``threshold=8.0``, ``min_spread=0.1``): a period must leave the median by more than 80 % of it
(more where the history is noisier). Measured on the sandbox (``benchmarks/bench_anomalies.py``, seeds
0-9, three accounts each: the lookback plus four weeks of hourly history per domain, nothing planted),
they flag 0.035 periods per 10 domain-weeks for traffic (2 in 572 domain-weeks), 0.035 for bandwidth and
0.12 for requests (7), against a target of at most 1; a planted 6-hour 8x spike is found in all six hours
of every seed, scores 64 to 71.

>>> import numpy as np, pandas as pd
>>> from usagekit.frames import tidy_frame
>>> hours = pd.date_range("2026-08-01", periods=24 * 7 * 9, freq="h", tz="UTC")
>>> values = np.full(len(hours), 1e9); values[-3] = 8e9
>>> starts = np.repeat(hours, 12) + pd.to_timedelta(np.tile(np.arange(12) * 5, len(hours)), unit="min")
>>> usage = tidy_frame({"account": "shop", "task_id": "1", "domain": "img.example", "region": "CN",
...     "metric": "traffic", "start": starts, "end": starts + pd.Timedelta(minutes=5),
...     "value": np.repeat(values / 12, 12), "unit": "byte"})
>>> found = anomalies(usage)
>>> [(str(r.start), r.value / r.expected, r.score, r.direction) for r in found.itertuples()]
[('2026-10-02 21:00:00+00:00', 8.0, 70.0, 'up')]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError, UsagekitWarning
from usagekit.frames import METRICS, checked_tidy

__all__ = [
    "ANOMALY_COLUMNS",
    "MAD_SCALE",
    "ShortHistoryWarning",
    "anomalies",
    "check_settings",
    "period_series",
    "steady_rows",
]

ANOMALY_COLUMNS = ("account", "domain", "metric", "start", "end", "value", "expected", "score", "direction")
#: the median absolute deviation times this estimates a normal distribution's standard deviation
MAD_SCALE = 1.4826
_WEEK = pd.Timedelta(days=7)
_POINT = pd.Timedelta(minutes=5)


class ShortHistoryWarning(UsagekitWarning):
    """A series has less history than the lookback: its periods are not scored (named in the warning)."""


def _timedelta(value: object, name: str) -> pd.Timedelta:
    try:
        delta = pd.Timedelta(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        delta = None
    if delta is None or pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ArgumentError(f"{name} {value!r} is not a positive duration (for example '1h', '56D')")
    return delta


def check_settings(
    metric: str, freq: object, lookback: object, threshold: float, min_spread: float
) -> tuple[pd.Timedelta, int]:
    """The period and the lookback in weeks, or an :class:`~usagekit.errors.ArgumentError` naming what is wrong.

    >>> check_settings("traffic", "1h", "56D", 8.0, 0.1)
    (Timedelta('0 days 01:00:00'), 8)
    """
    if metric not in METRICS:
        raise ArgumentError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    step = _timedelta(freq, "freq")
    if step < _POINT or step % _POINT or _WEEK % step:
        raise ArgumentError(
            f"freq {freq!r} must be a whole number of 5-minute points that divides a week (5min, 1h, 1D, ...)"
        )
    span = _timedelta(lookback, "lookback")
    if span % _WEEK:
        raise ArgumentError(f"lookback {lookback!r} must be a whole number of weeks (7D, 28D, 56D, ...)")
    for name, value in (("threshold", threshold), ("min_spread", min_spread)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ArgumentError(f"{name} must be a number >= 0, not {value!r}")
    return step, span // _WEEK


def period_series(usage: pd.DataFrame, metric: str, freq: str | pd.Timedelta = "1h") -> pd.DataFrame:
    """Each account and domain's ``metric`` per period of ``freq``, on a regular grid (NaN where incomplete).

    Regions are summed per 5-minute point; a period's value is the sum of its points (``traffic``,
    ``requests``) or their mean (``bandwidth``: the period's average bit/s; a peak would make every
    5-minute blip an hour's anomaly). A period lacking any of its points is NaN, so a
    partly exported hour never looks like a dip. Columns: a MultiIndex of (account, domain) (domain NA
    for account totals and remainders); index: period starts (UTC).
    """
    step = _timedelta(freq, "freq")
    rows = usage.loc[usage["metric"] == metric, ["account", "domain", "start", "value"]]
    keys = {
        "account": rows["account"].astype(object),
        "domain": rows["domain"].astype(object).where(rows["domain"].notna(), None),
    }
    sums = rows.assign(**keys).groupby(["account", "domain", "start"], dropna=False)["value"].sum()
    points = sums.reset_index()
    points["period"] = points["start"].dt.floor(step)
    how = "mean" if metric == "bandwidth" else "sum"
    grouped = points.groupby(["account", "domain", "period"], dropna=False)["value"]
    values = grouped.agg([how, "size"])
    complete = values[how].where(values["size"] == step // _POINT)
    wide = complete.unstack(["account", "domain"])
    if wide.empty:
        return wide
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq=step)
    return wide.reindex(grid)


def _scores(wide: pd.DataFrame, lag: int, weeks: int, min_spread: float) -> tuple[np.ndarray, ...]:
    """Median, spread, sample count and score of every cell of ``wide`` against its ``weeks`` lagged weeks."""
    current = wide.to_numpy(dtype=np.float64)
    samples = np.full((weeks, *current.shape), np.nan)
    for k in range(1, weeks + 1):
        if k * lag < len(current):
            samples[k - 1, k * lag :] = current[: len(current) - k * lag]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: no baseline there
        median = np.nanmedian(samples, axis=0)
        mad = np.nanmedian(np.abs(samples - median), axis=0) * MAD_SCALE
    spread = np.maximum(mad, min_spread * np.abs(median))
    count = np.sum(~np.isnan(samples), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (current - median) / spread
    score = np.where((spread == 0) & (current == median), 0.0, score)  # an idle series staying idle
    return median, spread, count, score


def _frame(rows: Mapping[str, object], metric: str, step: pd.Timedelta) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account", "domain", "start", "value", "expected", "score"])
    metrics = pd.Categorical([metric] * len(frame), categories=list(METRICS))
    frame.insert(2, "metric", metrics)  # type: ignore[arg-type]  # pandas-stubs: insert takes any array
    frame["start"] = pd.to_datetime(frame["start"], utc=True).astype("datetime64[ns, UTC]")
    frame.insert(4, "end", frame["start"] + step)
    frame["direction"] = pd.Categorical(np.where(frame["score"] > 0, "up", "down"), categories=["up", "down"])
    for column in ("account", "domain"):
        frame[column] = frame[column].astype(object).astype("category")
    for column in ("value", "expected", "score"):
        frame[column] = frame[column].astype(np.float64)
    return frame.sort_values(["account", "domain", "start"], ignore_index=True, na_position="first")


def steady_rows(usage: pd.DataFrame) -> pd.DataFrame:
    """``usage`` without the domain-less rows of accounts that also have rows per domain.

    Where exports of some domains and by account overlap, a domain-less row is the rest of the account
    beyond the listed domains; elsewhere it is the whole account: a series whose meaning changes with the
    exports would alarm at every change of coverage. An account with no domain rows keeps its totals.
    """
    named = usage["domain"].notna()
    with_domains = set(usage.loc[named, "account"].astype(str))
    return usage[named.to_numpy() | ~usage["account"].astype(str).isin(with_domains).to_numpy()]


def _flagged_periods(
    wide: pd.DataFrame, step: pd.Timedelta, weeks: int, threshold: float, min_spread: float
) -> tuple[dict[str, list[object]], list[dict[str, object]]]:
    """The periods whose score passes ``threshold`` (as columns of rows), and the series with too little history.

    ``wide`` holds one column per (account, domain) series, one row per period of ``step``.
    """
    rows: dict[str, list[object]] = {
        k: [] for k in ("account", "domain", "start", "value", "expected", "score")
    }
    short: list[dict[str, object]] = []
    if wide.empty:
        return rows, short
    lag = _WEEK // step
    median, _spread, count, score = _scores(wide, lag, weeks, min_spread)
    times = wide.index
    values = wide.to_numpy(dtype=np.float64)
    for column, (account, domain) in enumerate(cast("pd.MultiIndex", wide.columns)):
        present = np.flatnonzero(~np.isnan(values[:, column]))
        if len(present) == 0:
            continue
        first = times[present[0]]
        if times[present[-1]] - first < weeks * _WEEK:
            short.append(
                {
                    "account": str(account),
                    "domain": None if domain is None or pd.isna(domain) else str(domain),
                    "first": first.isoformat(),
                    "needed": str(weeks * _WEEK),
                }
            )
            continue
        scored = (
            (times - first >= weeks * _WEEK) & (count[:, column] * 2 >= weeks) & ~np.isnan(values[:, column])
        )
        flagged = np.flatnonzero(scored & (np.abs(score[:, column]) > threshold))
        for index in flagged:
            rows["account"].append(account)
            rows["domain"].append(domain)
            rows["start"].append(times[int(index)])
            rows["value"].append(values[index, column])
            rows["expected"].append(median[index, column])
            rows["score"].append(score[index, column])
    return rows, short


def anomalies(
    usage: pd.DataFrame,
    *,
    metric: str = "traffic",
    freq: str | pd.Timedelta = "1h",
    lookback: str | pd.Timedelta = "56D",
    threshold: float = 8.0,
    min_spread: float = 0.1,
    accounts: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The periods of each account and domain whose ``metric`` leaves its baseline (see the module docs).

    ``usage`` is a tidy usage frame (:func:`usagekit.usage`) covering the periods to check and the
    ``lookback`` before them; exports that list domains give per-domain series, exports by account a
    series with ``domain`` NA (the account's total), used only for accounts without domain rows (beside
    them, a domain-less row is sometimes the account's total and sometimes its rest: no steady series). ``freq`` divides a week (``"1h"``, ``"1D"``); ``lookback`` is whole weeks.
    ``accounts`` (names) keeps only those accounts. The result's ``attrs["short_history"]`` lists
    ``{account, domain, first, needed}`` for series whose data begins less than ``lookback`` before
    their last period (warned about once, as :class:`ShortHistoryWarning`).

    =========  ===================  ==========================================================
    column     dtype                meaning
    =========  ===================  ==========================================================
    account    category             the account
    domain     category             the domain (NA: the account's total or remainder)
    metric     category             as asked
    start      datetime64[ns, UTC]  the period's start
    end        datetime64[ns, UTC]  its end (exclusive)
    value      float64              the period's value (sum, or mean for bandwidth), base unit
    expected   float64              the baseline's median
    score      float64              ``(value - expected) / spread`` (``inf`` where the baseline is flat 0)
    direction  category             ``up`` or ``down``
    =========  ===================  ==========================================================
    """
    step, weeks = check_settings(metric, freq, lookback, threshold, min_spread)
    checked_tidy(usage, "anomalies")
    if accounts is not None:
        names = [accounts] if isinstance(accounts, str) else [str(a) for a in accounts]
        usage = usage[usage["account"].isin(names)]
    wide = period_series(steady_rows(usage), metric, step)
    rows, short = _flagged_periods(wide, step, weeks, threshold, min_spread)
    if short:
        named = ", ".join(f"{s['account']}/{s['domain'] or '(account)'}" for s in short)
        warnings.warn(
            f"less history than the lookback ({lookback}): not checked for anomalies: {named}; "
            "read exports that reach further back",
            ShortHistoryWarning,
            stacklevel=2,
        )
    found = _frame(rows, metric, step)
    found.attrs.update(short_history=short, metric=metric, freq=str(step), threshold=threshold)
    return found
