"""Does the bill match the usage? The service's billed quantities beside what the exported points give.

:func:`check_bill` puts, for one Beijing month, what the service says it billed
(:func:`usagekit.bill_history`, with the method in force from :func:`usagekit.bill_types`) beside what
:func:`usagekit.billing_quantities` computes from the usage the user read, period by period, and says
for each row whether they agree and, when not, why. It downloads nothing: ``usage`` is what the user
has, so the check says what the user's data supports. :func:`check_prediction` does the same for the
current month's prediction. :func:`compare_bill` and :func:`compare_prediction` are the checks on frames
already in hand (no request).

Verdicts (:data:`VERDICTS`):

* ``match``: billed and computed agree within the relative ``tolerance``;
* ``differs``: they do not (the explanation says by how much, and for monthly methods which point);
* ``incomplete_usage``: the usage lacks points of the period (the explanation names the Beijing days and
  how many points each lacks), so the usage cannot confirm the bill;
* ``not_billed_yet``: the period has not closed by the service's time (``now``);
* ``no_usage``: the usage holds no point of the account in the month;
* ``unsupported``: a bandwidth period billed under several charge types at once (how the service
  combines them is not published, so usagekit does not guess), or a method usagekit cannot compute.

>>> from usagekit.frames import tidy_frame
>>> usage = tidy_frame({"account": ["shop"] * 288, "task_id": ["1"] * 288, "domain": [None] * 288,
...     "region": ["CN"] * 288, "metric": ["bandwidth"] * 288,
...     "start": pd.date_range("2026-10-04T16:00Z", periods=288, freq="5min"),
...     "end": pd.date_range("2026-10-04T16:05Z", periods=288, freq="5min"),
...     "value": [float(i) for i in range(288)], "unit": ["bit/s"] * 288})
>>> methods = pd.DataFrame({"account": ["shop"], "start": [pd.Timestamp("2026-09-30T16:00Z")],
...     "end": [pd.Timestamp("2026-10-31T16:00Z")], "bill_type": ["day_bandwidth"]})
>>> from usagekit.billhistory import history_frame
>>> history = history_frame([{"account": "shop", "method": "day_bandwidth", "dimension": "flow",
...     "period": "2026-10-05", "period_start": pd.Timestamp("2026-10-04T16:00Z"),
...     "period_end": pd.Timestamp("2026-10-05T16:00Z"), "region": "CN", "charge_type": "StaticHttp",
...     "quantity": 287.0, "unit": "bit/s"}])
>>> check = compare_bill(usage, methods, history, month="2026-10", now="2026-11-02T00:00:00Z")
>>> check[["period", "computed", "billed", "verdict"]].to_numpy().tolist()
[['2026-10-05', 287.0, 287.0, 'match']]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from usagekit.accounts import Account
from usagekit.billcover import (
    NO_REGION,
    account_points,
    lacking_points,
    lacking_text,
    metric_of,
    missing_per_day,
    per_day,
)
from usagekit.billhistory import bill_history, bill_prediction, cycle_of, service_now
from usagekit.billing import METHODS, billing_quantities
from usagekit.billpoints import Chosen, above, billed_point, bj, locate
from usagekit.billtypes import bill_types
from usagekit.errors import ArgumentError
from usagekit.resolve import resolve_accounts
from usagekit.times import moment, month_bounds
from usagekit.units import format_value

__all__ = [
    "CHECK_COLUMNS",
    "PREDICTION_CHECK_COLUMNS",
    "VERDICTS",
    "check_bill",
    "check_prediction",
    "compare_bill",
    "compare_prediction",
]

VERDICTS = ("match", "differs", "incomplete_usage", "not_billed_yet", "no_usage", "unsupported")
#: verdicts that are findings (a checking command exits 3 when any row has one)
FINDINGS = frozenset(VERDICTS) - {"match", "not_billed_yet"}
CHECK_COLUMNS = (
    "account",
    "region",
    "method",
    "period",
    "period_start",
    "period_end",
    "unit",
    "computed",
    "billed",
    "difference",
    "relative",
    "verdict",
    "explanation",
    "computed_at",
    "billed_at",
)
PREDICTION_CHECK_COLUMNS = (
    "account",
    "region",
    "method",
    "start",
    "end",
    "unit",
    "computed",
    "predicted",
    "difference",
    "relative",
    "verdict",
    "explanation",
    "computed_at",
    "predicted_at",
)
_BEIJING = pd.Timedelta(hours=8)


# --- arguments ----------------------------------------------------------------------------------------


def _options(tolerance: Any, percentile_rounding: Any, count_idle_days: Any) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not math.isfinite(tolerance):
        raise ArgumentError(
            f"tolerance must be a finite number >= 0 (a relative difference), not {tolerance!r}"
        )
    if tolerance < 0:
        raise ArgumentError(f"tolerance must be >= 0 (a relative difference), not {tolerance!r}")
    if percentile_rounding not in ("floor", "ceil"):
        raise ArgumentError(f'percentile_rounding must be "floor" or "ceil", not {percentile_rounding!r}')
    if not isinstance(count_idle_days, bool):
        raise ArgumentError(f"count_idle_days must be True or False, not {count_idle_days!r}")
    return float(tolerance)


def _usage_arg(usage: Any) -> pd.DataFrame:
    if not isinstance(usage, pd.DataFrame):
        raise ArgumentError(
            f"usage must be a tidy usage frame (usagekit.usage()), not {type(usage).__name__}"
        )
    lacking = {"account", "region", "metric", "start", "value"} - set(usage.columns)
    if lacking:
        raise ArgumentError(
            f"usage must be a tidy usage frame (usagekit.usage()); this one lacks {sorted(lacking)}"
        )
    return usage


# --- one row ------------------------------------------------------------------------------------------


def _fmt(unit: str, value: float) -> str:
    return format_value(unit, value, digits=4) if unit != "bit/s" else f"{value / 1e6:,.6f} Mbit/s"


def _point_text(
    points: pd.DataFrame, method: str, rounding: str, idle: bool, billed: float, unit: str
) -> tuple[str, pd.Timestamp | None, pd.Timestamp | None]:
    """For month_95-like and 4th-peak methods: which point each side bills, with its Beijing time."""
    chosen = billed_point(points, method, rounding, idle)
    if chosen is None:
        return "", None, None
    found: Chosen | None = locate(points, method, rounding, idle, billed)
    side = f"computed: {chosen.describe()}, {_fmt(unit, chosen.value)}"
    if chosen.unit_word == "point":
        side += f" ({chosen.rank:,} higher points discarded)"
    if found is not None:
        other = f"billed: {found.describe()}, {_fmt(unit, billed)}"
    else:
        n = above(points, method, idle, billed)
        other = (
            f"billed: {_fmt(unit, billed)}, a value none of the usage's {chosen.unit_word}s has "
            f"({n:,} of them lie above it, where {chosen.rank:,} would)"
        )
    return f"{side}; {other}", chosen.at, (found.at if found is not None else None)


def _compare(computed: float, billed: float, tolerance: float) -> tuple[float, float, bool]:
    difference = billed - computed
    if computed == 0:
        relative = 0.0 if billed == 0 else math.copysign(math.inf, difference)
    else:
        relative = difference / computed
    return difference, relative, abs(relative) <= tolerance


def _differs_text(method: str, unit: str, computed: float, billed: float, relative: float) -> str:
    rel = f"{relative:+.6%}" if math.isfinite(relative) else "the usage gives 0"
    return f"billed {_fmt(unit, billed)}, the usage gives {_fmt(unit, computed)} ({rel})"


def _row(
    key: dict[str, Any],
    computed: float,
    billed: float,
    verdict: str,
    explanation: str,
    tolerance: float,
    at: tuple[Any, Any] = (None, None),
) -> dict[str, Any]:
    difference = relative = math.nan
    if not (math.isnan(computed) or math.isnan(billed)):
        difference, relative, _ = _compare(computed, billed, tolerance)
    return {
        **key,
        "computed": computed,
        "billed": billed,
        "difference": difference,
        "relative": relative,
        "verdict": verdict,
        "explanation": explanation,
        "computed_at": at[0],
        "billed_at": at[1],
    }


class _Context:
    """What every row of one account and method needs: its points, the month, the clock, the options."""

    def __init__(
        self, usage: pd.DataFrame, method: str, lower: pd.Timestamp, upper: pd.Timestamp, **options: Any
    ):
        self.method, self.lower, self.upper = method, lower, upper
        self.now: pd.Timestamp = options["now"]
        self.tolerance: float = options["tolerance"]
        self.rounding: str = options["rounding"]
        self.idle: bool = options["idle"]
        self.known = method in METHODS
        metric = metric_of(method)
        self.points = account_points(usage, metric, method.endswith("_overseas")) if self.known else None
        self.has_usage = self.points is not None and not self.points.empty
        self._lacking: dict[str, pd.DatetimeIndex] = {}

    def missing(self, region: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """Points ``region`` lacks in ``[start, end)`` per Beijing day; the month's found once per region."""
        if region not in self._lacking:
            assert self.points is not None
            self._lacking[region] = lacking_points(self.points, region, self.lower, self.upper)
        lacking = self._lacking[region]
        first, last = lacking.searchsorted(start), lacking.searchsorted(min(end, self.upper))
        return per_day(lacking[first:last])

    def regionaccount_points(self, region: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        assert self.points is not None
        rows = self.points[self.points["region"] == region]
        return rows[(rows["start"] >= start) & (rows["start"] < end)]


def _verdict(
    ctx: _Context, key: dict[str, Any], computed: float, billed: float, charge_types: int
) -> dict[str, Any]:
    """One period's row: the verdict and its explanation (see the module docstring for the order)."""
    start, end, unit = key["period_start"], key["period_end"], key["unit"]
    if math.isnan(billed) and charge_types == 0 and pd.notna(end) and end > ctx.now:
        text = f"the period ends {bj(end)} Beijing; the service bills it once it has (its time now: {bj(ctx.now)} Beijing)"
        return _row(key, computed, math.nan, "not_billed_yet", text, ctx.tolerance)
    if not ctx.known:
        text = f"usagekit cannot compute BillType {ctx.method!r} from usage: compare it by hand"
        return _row(key, computed, billed, "unsupported", text, ctx.tolerance)
    if charge_types > 1 and unit == "bit/s":
        text = (
            f"billed under {charge_types} charge types at once for a bandwidth method; how the service "
            "combines their bandwidths is not published, so usagekit does not guess"
        )
        return _row(key, computed, math.nan, "unsupported", text, ctx.tolerance)
    if not ctx.has_usage:
        text = f"the usage holds no {metric_of(ctx.method)} point of this account in {ctx.lower + _BEIJING:%Y-%m}"
        return _row(key, math.nan, billed, "no_usage", text, ctx.tolerance)
    missing = ctx.missing(key["region"] or NO_REGION, start, end)
    if not missing.empty:
        return _row(
            key,
            computed,
            billed,
            "incomplete_usage",
            lacking_text(missing, start, min(end, ctx.upper)),
            ctx.tolerance,
        )
    if math.isnan(billed):
        if computed == 0:
            return _row(key, computed, 0.0, "match", "nothing used, nothing billed", ctx.tolerance)
        text = f"the service billed nothing for this period; the usage gives {_fmt(unit, computed)}"
        return _row(key, computed, billed, "differs", text, ctx.tolerance)
    _, relative, agree = _compare(computed, billed, ctx.tolerance)
    text = ""
    at: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None)
    if cycle_of(ctx.method) == "month":
        region_points = ctx.regionaccount_points(key["region"] or NO_REGION, start, end)
        text, first, last = _point_text(region_points, ctx.method, ctx.rounding, ctx.idle, billed, unit)
        at = (first, last)
    if agree:
        return _row(
            key,
            computed,
            billed,
            "match",
            f"within the tolerance ({relative:+.2e})",
            ctx.tolerance,
            at,
        )
    words = _differs_text(ctx.method, unit, computed, billed, relative)
    return _row(key, computed, billed, "differs", f"{words}; {text}" if text else words, ctx.tolerance, at)


# --- one account and method ---------------------------------------------------------------------------


def _billed_side(history: pd.DataFrame) -> pd.DataFrame:
    """Per region and period: the billed quantity (charge types summed), how many charge types, labels."""
    if history.empty:
        return pd.DataFrame(
            columns=["region", "period_start", "period", "period_end", "unit", "billed", "charge_types"]
        )
    frame = history.assign(
        region=history["region"].astype(object).where(history["region"].notna(), NO_REGION)
    )
    grouped = frame.groupby(["region", "period_start"], sort=True, observed=True)
    return grouped.agg(
        period=("period", "first"),
        period_end=("period_end", "first"),
        unit=("unit", "first"),
        billed=("quantity", "sum"),
        charge_types=("charge_type", "nunique"),
    ).reset_index()


def _computed_side(usage: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    if not ctx.known or not ctx.has_usage:
        return pd.DataFrame(columns=["region", "period_start", "period", "period_end", "unit", "computed"])
    quantities = billing_quantities(
        usage, ctx.method, percentile_rounding=ctx.rounding, count_idle_days=ctx.idle
    )
    frame = pd.DataFrame(
        {
            "region": quantities["region"].astype(object).where(quantities["region"].notna(), NO_REGION),
            "period_start": quantities["period_start"],
            "period": quantities["period"].astype(object),
            "period_end": quantities["period_end"],
            "unit": quantities["unit"].astype(object),
            "computed": quantities["quantity"],
        }
    )
    return frame[(frame["period_start"] >= ctx.lower) & (frame["period_start"] < ctx.upper)]


def _check_method(
    usage: pd.DataFrame, account: str, method: str, history: pd.DataFrame, ctx: _Context
) -> list[dict[str, Any]]:
    billed = {(r["region"], r["period_start"]): r for r in _billed_side(history).to_dict("records")}
    computed = {(r["region"], r["period_start"]): r for r in _computed_side(usage, ctx).to_dict("records")}
    rows = []
    for region, start in sorted(set(billed) | set(computed)):
        side, mine = billed.get((region, start)), computed.get((region, start))
        label = side if side is not None else mine
        assert label is not None  # the pair came from one side or the other
        key = {
            "account": account,
            "region": region if region != NO_REGION else None,
            "method": method,
            "period": label["period"],
            "period_start": start,
            "period_end": label["period_end"],
            "unit": label["unit"],
        }
        value = float(mine["computed"]) if mine is not None else (0.0 if ctx.has_usage else math.nan)
        billed_value = float(side["billed"]) if side is not None else math.nan
        charge_types = int(side["charge_types"]) if side is not None else 0
        rows.append(_verdict(ctx, key, value, billed_value, charge_types))
    return rows


def _check_frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in ("period_start", "period_end", "start", "end", "computed_at", "billed_at", "predicted_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    for column in ("computed", "billed", "predicted", "difference", "relative"):
        if column in frame:
            frame[column] = frame[column].astype(np.float64)
    for column in ("period", "explanation"):
        if column in frame:
            frame[column] = frame[column].astype(pd.StringDtype())
    frame["verdict"] = pd.Categorical(frame["verdict"], categories=list(VERDICTS))
    frame["unit"] = pd.Categorical(frame["unit"], categories=["byte", "bit/s", "request"])
    for column in ("account", "region", "method"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None).astype("category")
    order = [c for c in ("account", "method", "region", "period_start", "start") if c in frame]
    return frame.sort_values(order, ignore_index=True)


def compare_bill(
    usage: pd.DataFrame,
    methods: pd.DataFrame,
    history: pd.DataFrame,
    *,
    month: str,
    now: datetime | str,
    tolerance: float = 1e-6,
    percentile_rounding: str = "floor",
    count_idle_days: bool = False,
) -> pd.DataFrame:
    """:func:`check_bill` on frames in hand: ``methods`` as :func:`usagekit.bill_types` gives them,
    ``history`` as :func:`usagekit.bill_history` does, ``now`` the service's time. No request."""
    lower, upper = month_bounds(month)
    tolerance = _options(tolerance, percentile_rounding, count_idle_days)
    usage = _usage_arg(usage)
    at = moment(now, "now")
    starts = pd.to_datetime(usage["start"], utc=True)
    in_month = usage[(starts >= lower) & (starts < upper)]
    names = sorted({str(a) for a in methods["account"]} | {str(a) for a in history["account"]})
    rows: list[dict[str, Any]] = []
    for account in names:
        in_force = methods[(methods["account"].astype(str) == account)]
        billed = history[history["account"].astype(str) == account]
        chosen = [str(m) for m in in_force["bill_type"]] + [str(m) for m in billed["method"]]
        mine = in_month[in_month["account"].astype(str) == account]
        for method in dict.fromkeys(chosen):
            ctx = _Context(
                mine,
                method,
                lower,
                upper,
                now=at,
                tolerance=tolerance,
                rounding=percentile_rounding,
                idle=count_idle_days,
            )
            its = billed[billed["method"].astype(str) == method]
            rows.extend(_check_method(mine, account, method, its, ctx))
    return _check_frame(rows, CHECK_COLUMNS)


def check_bill(
    usage: pd.DataFrame,
    accounts: Account | Sequence[Account] | None = None,
    *,
    month: str,
    tolerance: float = 1e-6,
    percentile_rounding: str = "floor",
    count_idle_days: bool = False,
    now: datetime | str | None = None,
) -> pd.DataFrame:
    """Does the bill of ``month`` match ``usage``? One row per account, region, method and billed period.

    For each account, the method in force that month (:func:`usagekit.bill_types`) and what the service
    billed (:func:`usagekit.bill_history`) beside what :func:`usagekit.billing_quantities` computes from
    ``usage`` (a tidy frame, as :func:`usagekit.usage` gives) with the same method,
    ``percentile_rounding`` and ``count_idle_days``. ``tolerance`` is the relative difference still
    called a ``match``. ``now`` (default: the service's time, from its replies' ``Date``; a sandbox's
    own, frozen or not) decides which periods have closed. Downloads nothing; verdicts as the module says.

    ============  ===================  ===========================================================
    column        dtype                meaning
    ============  ===================  ===========================================================
    account       category             the account's name
    region        category             billing region (``OVERSEAS``: combined; NA for requests)
    method        category             the ``BillType`` in force
    period        string               Beijing label: ``2026-10``, ``2026-10-05``, ``2026-10-05T13``
    period_start  datetime64[ns, UTC]  the period's start
    period_end    datetime64[ns, UTC]  its end (exclusive)
    unit          category             ``byte``, ``bit/s``, ``request``
    computed      float64              what the usage gives (NaN: nothing to compute from)
    billed        float64              what the service billed (NaN: nothing billed)
    difference    float64              ``billed - computed``
    relative      float64              ``(billed - computed) / computed``
    verdict       category             one of :data:`VERDICTS`
    explanation   string               why, in words (days, point counts, the billed point's time)
    computed_at   datetime64[ns, UTC]  monthly 95th / 4th-peak methods: the computed point's time
    billed_at     datetime64[ns, UTC]  the usage point the billed value equals (NaT: none does)
    ============  ===================  ===========================================================

    >>> check_bill(pd.DataFrame(), [], month="2026-13")
    Traceback (most recent call last):
    ...
    usagekit.errors.TimeValueError: month '2026-13' is not a month; accepted: YYYY-MM, a Beijing month (for example 2026-09)
    """
    lower, upper = month_bounds(month)
    _options(tolerance, percentile_rounding, count_idle_days)
    _usage_arg(usage)
    chosen = resolve_accounts(accounts)
    if now is not None and lower >= moment(now, "now"):
        raise ArgumentError(f"month {month} has not begun by now ({bj(moment(now, 'now'))} Beijing)")
    methods = bill_types(chosen, lower, upper)
    history = bill_history(chosen, start=lower, end=upper)
    clock_now = service_now(chosen, now)  # None: the service's time, from the replies just had
    return compare_bill(
        usage,
        methods,
        history,
        month=month,
        now=clock_now,
        tolerance=tolerance,
        percentile_rounding=percentile_rounding,
        count_idle_days=count_idle_days,
    )


# --- the prediction -----------------------------------------------------------------------------------


def _prediction_row(
    usage: pd.DataFrame, row: pd.Series, tolerance: float, rounding: str, idle: bool
) -> dict[str, Any]:
    method, region = str(row["method"]), (str(row["region"]) if pd.notna(row["region"]) else NO_REGION)
    start, end = row["start"], row["end"]
    if method.removesuffix("_overseas") in ("month_avg_day_bandwidth", "month_avg_day_95"):
        end = (end + _BEIJING).floor("D") - _BEIJING  # the current day is left out of a mean
    key = {
        "account": str(row["account"]),
        "region": region or None,
        "method": method,
        "start": row["start"],
        "end": row["end"],
        "unit": "bit/s",
    }
    predicted = float(row["quantity"])
    if method not in METHODS or cycle_of(method) != "month":
        text = f"usagekit cannot compute a prediction for BillType {method!r} from usage"
        return _prediction_result(key, math.nan, predicted, "unsupported", text, (None, row["at"]))
    starts = pd.to_datetime(usage["start"], utc=True)
    window = usage[(usage["account"].astype(str) == key["account"]) & (starts >= start) & (starts < end)]
    points = account_points(window, "bandwidth", method.endswith("_overseas"))
    if points.empty:
        return _prediction_result(
            key, math.nan, predicted, "no_usage", "the usage holds no point of this window", (None, row["at"])
        )
    mine = billing_quantities(window, method, percentile_rounding=rounding, count_idle_days=idle)
    mine = mine[mine["region"].astype(object).where(mine["region"].notna(), NO_REGION) == region]
    computed = float(mine["quantity"].iloc[0]) if len(mine) else 0.0
    region_points = points[points["region"] == region]
    chosen = billed_point(region_points, method, rounding, idle)
    at = (chosen.at if chosen is not None else None, row["at"])
    missing = missing_per_day(points, region, start, end)
    if not missing.empty:
        return _prediction_result(
            key, computed, predicted, "incomplete_usage", lacking_text(missing, start, end), at
        )
    _, relative, agree = _compare(computed, predicted, tolerance)
    if agree:
        return _prediction_result(
            key, computed, predicted, "match", f"within the tolerance ({relative:+.2e})", at
        )
    text = _differs_text(method, "bit/s", computed, predicted, relative).replace("billed", "predicted", 1)
    if chosen is not None:
        text += f"; computed: {chosen.describe()}"
        if pd.notna(row["at"]):
            text += f"; predicted: the point of {bj(row['at'])} Beijing"
    return _prediction_result(key, computed, predicted, "differs", text, at)


def _prediction_result(
    key: dict[str, Any], computed: float, predicted: float, verdict: str, text: str, at: tuple[Any, Any]
) -> dict[str, Any]:
    difference = relative = math.nan
    if not (math.isnan(computed) or math.isnan(predicted)):
        difference, relative, _ = _compare(computed, predicted, 0.0)
    return {
        **key,
        "computed": computed,
        "predicted": predicted,
        "difference": difference,
        "relative": relative,
        "verdict": verdict,
        "explanation": text,
        "computed_at": at[0],
        "predicted_at": at[1],
    }


def compare_prediction(
    usage: pd.DataFrame,
    prediction: pd.DataFrame,
    *,
    tolerance: float = 1e-6,
    percentile_rounding: str = "floor",
    count_idle_days: bool = False,
) -> pd.DataFrame:
    """:func:`check_prediction` on frames in hand (``prediction`` as :func:`usagekit.bill_prediction` gives)."""
    tolerance = _options(tolerance, percentile_rounding, count_idle_days)
    usage = _usage_arg(usage)
    rows = [
        _prediction_row(usage, row, tolerance, percentile_rounding, count_idle_days)
        for _, row in prediction.iterrows()
    ]
    return _check_frame(rows, PREDICTION_CHECK_COLUMNS)


def check_prediction(
    usage: pd.DataFrame,
    accounts: Account | Sequence[Account] | None = None,
    *,
    now: datetime | str | None = None,
    tolerance: float = 1e-6,
    percentile_rounding: str = "floor",
    count_idle_days: bool = False,
) -> pd.DataFrame:
    """The service's month-to-date prediction (:func:`usagekit.bill_prediction`) beside ``usage``, area by area.

    The usage's quantity is computed over the prediction's own window (``start`` to ``end``; the
    current Beijing day left out for the monthly means, as the service does). Columns as
    :func:`check_bill`'s, with ``start``, ``end`` (the prediction's window) for the period columns,
    ``predicted`` for ``billed`` and ``predicted_at`` (the reply's ``TimeStp``) for ``billed_at``.
    """
    _options(tolerance, percentile_rounding, count_idle_days)
    _usage_arg(usage)
    prediction = bill_prediction(accounts, now=now)
    return compare_prediction(
        usage,
        prediction,
        tolerance=tolerance,
        percentile_rounding=percentile_rounding,
        count_idle_days=count_idle_days,
    )
