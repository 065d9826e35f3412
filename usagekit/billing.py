"""The service's own billing methods, computed from tidy 5-minute usage, and compared side by side.

The rules are the service's (see the reference, "How the service bills what the exports hold"):

* Billing is per account and billing region: the 5-minute points of all an account's domains are summed
  first, then a peak or a percentile is taken. A ``*_overseas`` method bills the Chinese mainland (``CN``)
  on its own and every other region together, as one region labelled ``OVERSEAS``.
* Periods are Beijing time (UTC+8): hours, calendar days, calendar months. A day has 288 points, a
  30-day month 8,640, a 31-day month 8,928.
* Peaks and percentiles are taken over the points present. Points a period should have and the data
  lacks are reported in ``missing_points``, never treated as zero; a period with no data is absent.

Where the service publishes no rule, ours is a parameter with a stated default:

* ``percentile_rounding="floor"``: the top 5 % discarded is ``floor(0.05 * n)`` points (``"ceil"``
  rounds up). 8,640 points discard 432 either way; 8,928 discard 446 (``"ceil"``: 447).
* ``count_idle_days=False``: a Beijing day with data whose points are all zero (an idle day) does not
  count toward a month (its points leave ``month_95`` and the daily figures' means and ranks, and
  ``day_bandwidth`` bills no row for it); ``True`` counts it like any other day.

>>> from usagekit.frames import tidy_frame
>>> frame = tidy_frame({"account": ["shop"] * 2, "task_id": ["1"] * 2, "domain": ["a.example", "b.example"],
...                     "region": ["CN"] * 2, "metric": ["bandwidth"] * 2,
...                     "start": ["2026-10-04T16:00:00Z"] * 2, "end": ["2026-10-04T16:05:00Z"] * 2,
...                     "value": [3e6, 4e6], "unit": ["bit/s"] * 2})
>>> row = billing_quantities(frame, "day_bandwidth").iloc[0]
>>> row.period, float(row.quantity), row.unit, int(row.points), int(row.missing_points)
('2026-10-05', 7000000.0, 'bit/s', 1, 287)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.prices import PRICE_COLUMNS, PriceTableError, price_periods, read_prices, tiers_for
from usagekit.units import GB

__all__ = [
    "BASE_METHODS",
    "METHODS",
    "PRICE_COLUMNS",
    "PriceTableError",
    "billing_quantities",
    "compare_billing",
    "read_prices",
]

MAINLAND = "CN"
OVERSEAS = "OVERSEAS"
#: the traffic and bandwidth methods, by their ``BillType`` codes
BASE_METHODS = (
    "hour_flow",
    "day_bandwidth",
    "month_95",
    "month_avg_day_bandwidth",
    "month_4th_day_bandwidth",
    "month_avg_day_95",
    "month_95_night_half",
)
#: every method :func:`billing_quantities` computes: the base methods, their ``_overseas`` forms, requests
METHODS = (*BASE_METHODS, *(f"{m}_overseas" for m in BASE_METHODS), "hour_count")
_MONTHLY = frozenset(m for m in BASE_METHODS if m.startswith("month_"))
_UNITS = ("byte", "bit/s", "request")
_POINT = pd.Timedelta(minutes=5)
_BEIJING = pd.Timedelta(hours=8)
_PER_HOUR, _PER_DAY = 12, 288
#: compare_billing's units, as :mod:`usagekit.units` says them: bit/s per Mbit/s (decimal), bytes per GB
#: (1024**3, as Alibaba Cloud bills traffic), requests per "10k requests"
MBIT = 1e6
TEN_THOUSAND = 1e4

QUANTITY_COLUMNS = (
    "account",
    "region",
    "method",
    "period",
    "period_start",
    "period_end",
    "quantity",
    "unit",
    "points",
    "missing_points",
)
COMPARE_COLUMNS = (
    "account",
    "region",
    "month",
    "method",
    "quantity",
    "unit",
    "days",
    "points",
    "missing_points",
    "cost",
    "currency",
    "cheapest",
)


# --- the points a method bills ------------------------------------------------------------------------


def _base(method: str) -> tuple[str, bool]:
    if method not in METHODS:
        raise ArgumentError(f"unknown billing method {method!r}; choose from {', '.join(METHODS)}")
    if method.endswith("_overseas"):
        return method.removesuffix("_overseas"), True
    return method, False


def _points(usage: pd.DataFrame, metric: str, overseas: bool) -> pd.DataFrame:
    """One row per account, billing region and 5-minute point: the value summed over the domains.

    Columns ``account``, ``region`` (string, NA where the file had none), ``start`` (UTC), ``value`` and
    ``local`` (the point's start in Beijing time, naive).
    """
    missing = {"account", "region", "metric", "start", "value"} - set(usage.columns)
    if missing:
        raise ArgumentError(
            f"billing needs a tidy usage frame (usagekit.usage()); this one lacks {sorted(missing)}"
        )
    rows = usage.loc[usage["metric"] == metric, ["account", "region", "start", "value"]]
    region = rows["region"].astype(pd.StringDtype())
    if overseas:
        region = region.mask(region.notna() & (region != MAINLAND), OVERSEAS)
    summed = (
        rows.assign(account=rows["account"].astype(pd.StringDtype()), region=region)
        .groupby(["account", "region", "start"], dropna=False, sort=True)["value"]
        .sum()
        .reset_index()
    )
    summed["local"] = summed["start"].dt.tz_convert("UTC").dt.tz_localize(None) + _BEIJING
    return summed


def _group_cut(points: pd.DataFrame, keys: list[str], rounding: str) -> pd.Series:
    """Per group of ``keys``: the highest value left once the top 5 % is discarded.

    5 % of a group's ``n`` points, rounded down (``floor``) or up (``ceil``), are discarded (never all).
    Vectorised: the points sorted by value within each group, the one at rank ``discard`` taken.
    """
    ordered = points.sort_values([*keys, "value"], ascending=[True] * len(keys) + [False], kind="stable")
    grouped = ordered.groupby(keys, dropna=False, sort=False)
    rank = grouped.cumcount().to_numpy()
    n = grouped["value"].transform("size").to_numpy()
    discard = n * 5 // 100 if rounding == "floor" else (n * 5 + 99) // 100
    chosen = ordered[rank == np.minimum(discard, n - 1)]
    return cast("pd.Series", chosen.set_index(keys)["value"])


def _frame(
    keys: pd.DataFrame,
    method: str,
    label: str,
    starts: pd.Series,
    ends: pd.Series,
    quantity: Any,
    unit: str,
    points: Any,
    missing: Any,
) -> pd.DataFrame:
    def utc(local: pd.Series) -> pd.DatetimeIndex:
        stamps = pd.DatetimeIndex(local - _BEIJING).tz_localize("UTC").astype("datetime64[ns, UTC]")
        return cast("pd.DatetimeIndex", stamps)

    frame = pd.DataFrame(
        {
            "account": pd.Categorical(keys["account"].astype(object)),
            "region": pd.Categorical(keys["region"].astype(object)),
            "method": pd.Categorical([method] * len(keys), categories=list(METHODS)),
            "period": pd.array(starts.dt.strftime(label), dtype=pd.StringDtype()),
            "period_start": utc(starts),
            "period_end": utc(ends),
            "quantity": np.asarray(quantity, dtype=np.float64),
            "unit": pd.Categorical([unit] * len(keys), categories=list(_UNITS)),
            "points": np.asarray(points, dtype=np.int64),
            "missing_points": np.asarray(missing, dtype=np.int64),
        }
    )
    return frame.sort_values(["account", "region", "period_start"], ignore_index=True)


def _empty() -> pd.DataFrame:
    keys = pd.DataFrame({"account": [], "region": []})
    times = pd.Series([], dtype="datetime64[ns]")
    return _frame(keys, METHODS[0], "%Y", times, times, [], "byte", [], [])


_DAY_KEYS = ["account", "region", "day"]


def _days(points: pd.DataFrame, rounding: str, count_idle_days: bool) -> pd.DataFrame:
    """Per account, region and Beijing day: peak, 95th-percentile cut, points, idle or not, month."""
    points = points.assign(day=points["local"].dt.floor("D"), active=points["value"] != 0)
    grouped = points.groupby(_DAY_KEYS, dropna=False, sort=True)
    days = grouped.agg(peak=("value", "max"), points=("value", "size"), active=("active", "any"))
    days = days.join(_group_cut(points, _DAY_KEYS, rounding).rename("cut")).reset_index()
    days["counted"] = days["active"] | count_idle_days
    days["month"] = days["day"].dt.to_period("M").dt.start_time
    return days


class _Prepared:
    """One usage frame's points and daily figures, computed once per metric and region grouping."""

    def __init__(self, usage: pd.DataFrame, rounding: str, count_idle_days: bool) -> None:
        if not isinstance(usage, pd.DataFrame):
            raise ArgumentError(
                f"usage must be a tidy usage frame (usagekit.usage()), not {type(usage).__name__}"
            )
        if not isinstance(rounding, str) or rounding not in ("floor", "ceil"):
            raise ArgumentError(f'percentile_rounding must be "floor" or "ceil", not {rounding!r}')
        if not isinstance(count_idle_days, bool):
            raise ArgumentError(f"count_idle_days must be True or False, not {count_idle_days!r}")
        self.usage = usage
        self.rounding = rounding
        self.count_idle_days = count_idle_days
        self._points: dict[tuple[str, bool], pd.DataFrame] = {}
        self._days: dict[tuple[str, bool], pd.DataFrame] = {}

    def points(self, metric: str, overseas: bool) -> pd.DataFrame:
        key = (metric, overseas)
        if key not in self._points:
            self._points[key] = _points(self.usage, metric, overseas)
        return self._points[key]

    def days(self, metric: str, overseas: bool) -> pd.DataFrame:
        key = (metric, overseas)
        if key not in self._days:
            self._days[key] = _days(self.points(metric, overseas), self.rounding, self.count_idle_days)
        return self._days[key]


def _metric(base: str) -> str:
    return {"hour_flow": "traffic", "hour_count": "requests"}.get(base, "bandwidth")


def billing_quantities(
    usage: pd.DataFrame,
    method: str,
    *,
    percentile_rounding: str = "floor",
    count_idle_days: bool = False,
) -> pd.DataFrame:
    """What ``method`` bills for each account, billing region and Beijing period, from tidy usage.

    ``method`` is a ``BillType`` code (:data:`METHODS`): ``hour_flow`` (traffic per Beijing hour, bytes),
    ``day_bandwidth`` (each Beijing day's highest 5-minute point, bit/s), ``month_95`` (the month's points
    sorted, the top 5 % discarded, the highest left), ``month_avg_day_bandwidth`` (the mean of the daily
    peaks), ``month_4th_day_bandwidth`` (the 4th highest daily peak; 0 with fewer than four days),
    ``month_avg_day_95`` (the mean of each day's 95th-percentile point), ``month_95_night_half`` (as
    ``month_95``, points from 00:00 to 08:00 Beijing counted at half); each also with ``_overseas``
    (``CN`` on its own, every other region together as ``OVERSEAS``); ``hour_count`` (requests per
    Beijing hour; ``region`` NA, as the files carry none). ``percentile_rounding`` (``"floor"``, the
    default, or ``"ceil"``) rounds the 5 % discarded; ``count_idle_days`` (default ``False``) says
    whether days with data but no traffic count toward a month. ``usage`` should be reconciled
    (:func:`usagekit.usage` is): each interval once, so summing its domain rows gives the account total.

    ==============  ===================  ====================================================
    column          dtype                meaning
    ==============  ===================  ====================================================
    account         category             the billing unit (one per access key)
    region          category             billing region, ``OVERSEAS`` for combined rows
    method          category             the ``BillType`` code
    period          string               Beijing label: ``2026-10``, ``2026-10-05``, ``2026-10-05T13``
    period_start    datetime64[ns, UTC]  the period's start
    period_end      datetime64[ns, UTC]  its end (exclusive)
    quantity        float64              the billed quantity, in ``unit``
    unit            category             ``byte`` (hour_flow), ``bit/s``, ``request`` (hour_count)
    points          int64                5-minute points used (idle days' left out unless counted)
    missing_points  int64                points the period should have and the data lacks
    ==============  ===================  ====================================================

    >>> from usagekit.frames import tidy_frame
    >>> billing_quantities(tidy_frame({}), "month_95").columns.tolist()[:4]
    ['account', 'region', 'method', 'period']
    """
    return _quantities(_Prepared(usage, percentile_rounding, count_idle_days), method)


def _quantities(prepared: _Prepared, method: str) -> pd.DataFrame:
    base, overseas = _base(method)
    metric = _metric(base)
    points = prepared.points(metric, overseas)
    if points.empty:
        return _empty()
    if base in ("hour_flow", "hour_count"):
        hour = points["local"].dt.floor("h")
        grouped = points.assign(hour=hour).groupby(["account", "region", "hour"], dropna=False, sort=True)
        hours = grouped["value"].agg(quantity="sum", points="size").reset_index()
        unit = "byte" if base == "hour_flow" else "request"
        return _frame(
            hours,
            method,
            "%Y-%m-%dT%H",
            hours["hour"],
            hours["hour"] + pd.Timedelta(hours=1),
            hours["quantity"],
            unit,
            hours["points"],
            _PER_HOUR - hours["points"],
        )
    days = prepared.days(metric, overseas)
    if base == "day_bandwidth":
        billed = days[days["counted"]].reset_index(drop=True)
        return _frame(
            billed,
            method,
            "%Y-%m-%d",
            billed["day"],
            billed["day"] + pd.Timedelta(days=1),
            billed["peak"],
            "bit/s",
            billed["points"],
            _PER_DAY - billed["points"],
        )
    return _monthly(base, method, points, days, prepared.rounding)


def _monthly(base: str, method: str, points: pd.DataFrame, days: pd.DataFrame, rounding: str) -> pd.DataFrame:
    keys = ["account", "region", "month"]
    months = days.groupby(keys, dropna=False, sort=True).agg(present=("points", "sum")).reset_index()
    counted = days[days["counted"]]
    if base in ("month_95", "month_95_night_half"):
        used = points.assign(day=points["local"].dt.floor("D")).merge(
            counted[["account", "region", "day", "month"]], on=["account", "region", "day"]
        )
        if base == "month_95_night_half":
            night = used["local"].dt.hour < 8
            used["value"] = used["value"].where(~night, used["value"] * 0.5)
        used_points = used.groupby(keys, dropna=False).size().rename("used")
        figures = _group_cut(used, keys, rounding).rename("quantity").to_frame().join(used_points)
    else:
        column = "cut" if base == "month_avg_day_95" else "peak"

        def figure(values: pd.Series) -> float:
            if base == "month_4th_day_bandwidth":
                ranked = np.sort(values.to_numpy())[::-1]
                return float(ranked[3]) if len(ranked) >= 4 else 0.0
            return float(values.mean())

        grouped = counted.groupby(keys, dropna=False)
        figures = grouped[column].agg(quantity=figure).join(grouped["points"].agg(used="sum"))
    months = months.merge(figures.reset_index(), on=keys, how="left")
    months["quantity"] = months["quantity"].fillna(0.0)  # every day idle and not counted: nothing billed
    months["used"] = months["used"].fillna(0).astype(np.int64)
    ends = months["month"] + pd.offsets.MonthBegin(1)
    expected = (ends - months["month"]).dt.days * _PER_DAY
    return _frame(
        months,
        method,
        "%Y-%m",
        months["month"],
        ends,
        months["quantity"],
        "bit/s",
        months["used"],
        expected - months["present"],
    )


# --- the comparison -----------------------------------------------------------------------------------


def _coverage(prepared: _Prepared, metric: str, overseas: bool) -> pd.DataFrame:
    """Per account, region and Beijing month (``2026-10``): points present, missing, and days counted."""
    days = prepared.days(metric, overseas)
    cover = days.groupby(["account", "region", "month"], dropna=False).agg(
        points=("points", "sum"), days=("counted", "sum")
    )
    cover = cover.reset_index()
    ends = cover["month"] + pd.offsets.MonthBegin(1)
    cover["missing_points"] = (ends - cover["month"]).dt.days * _PER_DAY - cover["points"]
    cover["month"] = cover["month"].dt.strftime("%Y-%m")
    return cover.set_index(["account", "region", "month"])


def compare_billing(
    usage: pd.DataFrame,
    *,
    prices: pd.DataFrame | str | os.PathLike[str] | None = None,
    methods: Sequence[str] | None = None,
    percentile_rounding: str = "floor",
    count_idle_days: bool = False,
) -> pd.DataFrame:
    """Every billing method side by side, per account, billing region and Beijing month.

    ``methods`` defaults to :data:`BASE_METHODS` and their ``_overseas`` forms (whose rows show only
    ``OVERSEAS``: they bill the mainland as the base method does); ``hour_count`` may be added.
    ``quantity``: a monthly method's one billed figure in ``Mbit/s`` (10**6 bit/s); for ``day_bandwidth``
    the sum of the month's daily peaks in ``Mbit/s-days`` (``days`` counts them); for ``hour_flow`` the
    month's traffic in ``GB`` (1024**3 bytes); for ``hour_count`` requests in ``10k requests``.
    ``prices`` (a frame or CSV, see :func:`read_prices`) adds each row's estimated ``cost``: tiers applied
    to the monthly figure, to each day's peak (summed) for ``day_bandwidth``, cumulatively over the
    month for ``hour_flow`` and ``hour_count``; ``cheapest`` marks the lowest cost among the traffic and
    bandwidth methods of each account, region and month (ties all marked). Without prices, or for a
    method and region the table does not price, ``cost``, ``currency`` and ``cheapest`` are NA.
    ``percentile_rounding`` (default ``"floor"``) and ``count_idle_days`` (default ``False``) as in
    :func:`billing_quantities`.

    ==============  =========  ========================================================
    column          dtype      meaning
    ==============  =========  ========================================================
    account         category   the billing unit
    region          category   billing region (``OVERSEAS``: the regions outside CN together)
    month           string     Beijing month, ``2026-10``
    method          category   the ``BillType`` code
    quantity        float64    what the method bills that month, in ``unit``
    unit            category   ``Mbit/s``, ``Mbit/s-days``, ``GB``, ``10k requests``
    days            int64      Beijing days that count toward the month
    points          int64      5-minute points present in the month
    missing_points  int64      points the month should have and the data lacks
    cost            Float64    estimated cost: the exact sum of :func:`usagekit.price_periods`' decimal
                               period costs, as a float to rank and compare by (NA without a price)
    currency        string     the price table's currency
    cheapest        boolean    the lowest cost of its account, region and month
    ==============  =========  ========================================================

    An example price table (illustrative numbers written for this example in November 2026, NOT
    Alibaba Cloud's prices: take yours from your contract or the console)::

        method,region,tier_from,tier_to,unit_price,currency
        hour_flow,CN,0,10240,0.24,CNY
        hour_flow,CN,10240,,0.23,CNY
        day_bandwidth,CN,0,,0.90,CNY
        month_95,CN,0,,24.0,CNY

    >>> from usagekit.frames import tidy_frame
    >>> compare_billing(tidy_frame({})).columns.tolist()[:6]
    ['account', 'region', 'month', 'method', 'quantity', 'unit']
    """
    chosen = _chosen_methods(methods)
    if prices is not None and not isinstance(prices, pd.DataFrame | str | os.PathLike):
        raise ArgumentError(f"prices must be a price frame, a CSV path or None, not {type(prices).__name__}")
    table = read_prices(prices) if prices is not None else None
    prepared = _Prepared(usage, percentile_rounding, count_idle_days)
    rows: list[dict[str, Any]] = []
    for method in dict.fromkeys(chosen):
        rows += _method_rows(prepared, method, table)
    return _comparison(rows)


def _chosen_methods(methods: Sequence[str] | None) -> list[str]:
    """The methods to compare (every base method and its ``_overseas`` form by default), each one checked."""
    if methods is not None and (isinstance(methods, str) or not isinstance(methods, Sequence) or not methods):
        raise ArgumentError(
            f"methods must be a non-empty sequence of BillType codes or None, not {methods!r:.60}"
        )
    chosen = (
        list(methods) if methods is not None else [*BASE_METHODS, *(f"{m}_overseas" for m in BASE_METHODS)]
    )
    for method in chosen:
        _base(method)
    return chosen


def _month_quantity(base: str, values: np.ndarray) -> tuple[float, str]:
    """A month's billed quantity and unit from its periods' quantities (summed, or the month's one figure)."""
    if base in ("hour_flow", "hour_count"):
        scale, unit = (GB, "GB") if base == "hour_flow" else (TEN_THOUSAND, "10k requests")
        return float(values.sum() / scale), unit
    if base == "day_bandwidth":
        return float(values.sum() / MBIT), "Mbit/s-days"
    return float(values[0] / MBIT), "Mbit/s"


def _method_rows(prepared: _Prepared, method: str, table: pd.DataFrame | None) -> list[dict[str, Any]]:
    """One comparison row per account, region and Beijing month that ``method`` bills (cost NA unpriced)."""
    base, overseas = _base(method)
    quantities = _quantities(prepared, method)
    if quantities.empty:
        return []
    quantities["month"] = quantities["period"].str.slice(0, 7)
    costs = price_periods(quantities, table)["cost"] if table is not None else None
    cover = _coverage(prepared, _metric(base), overseas)
    rows = []
    for (account, region, month), group in quantities.groupby(
        ["account", "region", "month"], observed=True, dropna=False, sort=True
    ):
        if overseas and region == MAINLAND:
            continue  # the mainland is billed as by the base method: its row is there
        quantity, unit = _month_quantity(base, group["quantity"].to_numpy())
        cost, currency = None, pd.NA
        tiers = tiers_for(table, method, region) if table is not None else None
        if tiers is not None and costs is not None:
            cost = costs[group.index].sum()  # exact: decimals, each period priced by price_periods
            currency = tiers["currency"].iloc[0]
        key = (account, region, month)
        covered = cover.loc[key] if key in cover.index else None  # type: ignore[index]  # pandas-stubs: a MultiIndex key
        rows.append(
            {
                "account": account,
                "region": region,
                "month": month,
                "method": method,
                "quantity": quantity,
                "unit": unit,
                "days": int(covered["days"]) if covered is not None else 0,
                "points": int(covered["points"]) if covered is not None else 0,
                "missing_points": int(covered["missing_points"]) if covered is not None else 0,
                "cost": cost,
                "currency": currency,
            }
        )
    return rows


def _comparison(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c for c in COMPARE_COLUMNS if c != "cheapest"])
    frame = frame.astype(
        {
            "account": "category",
            "region": "category",
            "month": pd.StringDtype(),
            "quantity": np.float64,
            "days": np.int64,
            "points": np.int64,
            "missing_points": np.int64,
            "currency": pd.StringDtype(),
        }
    )
    # an estimate to rank methods by, as a float (ratios and differences in notebooks); each period's
    # exact decimal cost is price_periods'
    frame["cost"] = pd.array([None if c is None else float(c) for c in frame["cost"]], dtype="Float64")
    frame["method"] = pd.Categorical(frame["method"], categories=list(METHODS))
    frame["unit"] = pd.Categorical(frame["unit"], categories=["Mbit/s", "Mbit/s-days", "GB", "10k requests"])
    priced = frame["cost"].notna() & (frame["method"] != "hour_count")
    keys = ["account", "region", "month"]
    mixed = frame[priced].groupby(keys, observed=True, dropna=False)["currency"].nunique()
    if (mixed > 1).any():
        where = mixed[mixed > 1].index[0]
        raise PriceTableError(
            f"the price table prices {where} in more than one currency: cannot say which method is cheapest"
        )
    lowest = (
        frame["cost"]
        .where(priced)
        .groupby([frame[k] for k in keys], observed=True, dropna=False)
        .transform("min")
    )
    cheapest = pd.array((frame["cost"] == lowest).to_numpy(dtype=bool, na_value=False), dtype="boolean")
    frame["cheapest"] = cheapest
    frame.loc[~priced, "cheapest"] = pd.NA
    return frame.sort_values(["account", "region", "month", "method"], ignore_index=True)
