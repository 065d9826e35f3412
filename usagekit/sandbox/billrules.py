"""The billing methods as the sandbox applies them: per Beijing hour, day or month, over 5-minute points.

Written apart from ``usagekit.billing`` (the two check each other). The rules and the sandbox's
assumptions are stated in :mod:`usagekit.sandbox.billed`; this module holds the arithmetic.

>>> cycle_of("month_95_overseas"), dimension_of("hour_count"), unit_of("day_bandwidth")
('month', 'vas', 'bit/s')
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from usagekit.sandbox.world import BEIJING_OFFSET, DAY, HOUR

__all__ = [
    "BILLED_COLUMNS",
    "BILL_METHODS",
    "CHARGE_TYPE",
    "MAINLAND",
    "OVERSEAS",
    "POINT",
    "PREDICTION_COLUMNS",
    "Points",
    "beijing_month",
    "billed_frame",
    "check_method",
    "cut_index",
    "cycle_of",
    "daily_rows",
    "dimension_of",
    "hourly_rows",
    "metric_of",
    "month_figure",
    "monthly_rows",
    "period_label",
    "period_span",
    "unit_of",
]

POINT = 300
MAINLAND = "CN"
#: the label of the regions outside the mainland billed together (``*_overseas`` methods), in frames
OVERSEAS = "OVERSEAS"
#: the one charge type every sandbox account is billed under
CHARGE_TYPE = "StaticHttp"
_BASE = (
    "hour_flow",
    "day_bandwidth",
    "month_95",
    "month_avg_day_bandwidth",
    "month_4th_day_bandwidth",
    "month_avg_day_95",
    "month_95_night_half",
)
#: every ``BillType`` the sandbox can bill: the reference's table, their ``_overseas`` forms, requests
BILL_METHODS = (*_BASE, *(f"{m}_overseas" for m in _BASE), "hour_count")
#: the columns of :meth:`Bills.billed` and :meth:`Bills.history`
BILLED_COLUMNS = (
    "account",
    "method",
    "dimension",
    "period",
    "period_start",
    "period_end",
    "region",
    "charge_type",
    "quantity",
    "unit",
    "at",
)
#: the columns of :meth:`Bills.prediction`
PREDICTION_COLUMNS = ("account", "method", "region", "quantity", "unit", "at", "start", "end")
_LABELS = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m"}


def cycle_of(method: str) -> str:
    """The billing cycle of ``method``: ``hour``, ``day`` or ``month``."""
    base = method.removesuffix("_overseas")
    return "hour" if base in ("hour_flow", "hour_count") else "day" if base == "day_bandwidth" else "month"


def dimension_of(method: str) -> str:
    """``vas`` for requests (``hour_count``), else ``flow``."""
    return "vas" if method == "hour_count" else "flow"


def unit_of(method: str) -> str:
    """The unit of what ``method`` bills: ``byte``, ``bit/s`` or ``request``."""
    return {"hour_flow": "byte", "hour_count": "request"}.get(method.removesuffix("_overseas"), "bit/s")


def metric_of(method: str) -> str:
    """What ``method`` bills: ``traffic``, ``bandwidth`` or ``requests``."""
    return {"hour_flow": "traffic", "hour_count": "requests"}.get(
        method.removesuffix("_overseas"), "bandwidth"
    )


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`BILL_METHODS`, else ValueError."""
    if method not in BILL_METHODS:
        raise ValueError(f"unknown billing method {method!r}; choose from {', '.join(BILL_METHODS)}")
    return method


# --- Beijing calendar ------------------------------------------------------------------------------


def beijing_month(moment: float) -> tuple[int, int]:
    """The Beijing calendar month holding epoch second ``moment``, as ``[start, end)`` epoch seconds.

    >>> [datetime.fromtimestamp(t, UTC).isoformat() for t in beijing_month(1_793_500_000)]
    ['2026-10-31T16:00:00+00:00', '2026-11-30T16:00:00+00:00']
    """
    local = datetime.fromtimestamp(int(moment) + BEIJING_OFFSET, UTC)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
    return int(first.timestamp()) - BEIJING_OFFSET, int(following.timestamp()) - BEIJING_OFFSET


def period_span(label: str) -> tuple[str, int, int]:
    """A Beijing period label (``2026-10``, ``2026-10-05``, ``2026-10-05T13``) as (cycle, start, end).

    >>> period_span("2026-10-05")
    ('day', 1791129600, 1791216000)
    """
    text = str(label).strip()
    for cycle, form in (("month", "%Y-%m"), ("day", "%Y-%m-%d"), ("hour", "%Y-%m-%dT%H")):
        try:
            local = datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
        start = int(local.timestamp()) - BEIJING_OFFSET
        if cycle == "month":
            return cycle, *beijing_month(start)
        return cycle, start, start + (DAY if cycle == "day" else HOUR)
    raise ValueError(f"period {label!r} is not a Beijing label such as 2026-10, 2026-10-05 or 2026-10-05T13")


def period_label(start: int, cycle: str) -> str:
    """The Beijing label of the period of ``cycle`` starting at ``start`` (epoch seconds)."""
    return datetime.fromtimestamp(start + BEIJING_OFFSET, UTC).strftime(_LABELS[cycle])


# --- the methods ----------------------------------------------------------------------------------


def cut_index(values: np.ndarray) -> int:
    """Index of the billed point of ``values``: the top ``n * 5 // 100`` discarded, the highest left.

    Ties go to the earlier point (a stable sort of the time-ordered points).

    >>> int(cut_index(np.array([5.0, 9.0, 7.0])))
    1
    """
    order = np.argsort(-values, kind="stable")
    return int(order[min(len(values) * 5 // 100, len(values) - 1)])


class Points:
    """One account's points over a span for one metric, per billing region, as the billing side sees them."""

    def __init__(self, starts: np.ndarray, regions: dict[str | None, np.ndarray]) -> None:
        self.starts = starts
        self.regions = regions
        self.days = (starts + BEIJING_OFFSET) // DAY * DAY - BEIJING_OFFSET  # each point's Beijing day start


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys of sorted ``keys`` (hour or day starts) and where each begins."""
    if len(keys) == 0:
        return keys, keys
    firsts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    return keys[firsts], firsts


def _rows(
    cycle: str, region: str | None, entries: list[tuple[int, float, float | None]]
) -> list[dict[str, Any]]:
    step = {"hour": HOUR, "day": DAY}.get(cycle)
    rows = []
    for start, quantity, at in entries:
        end = start + step if step else beijing_month(start)[1]
        rows.append(
            {
                "region": region,
                "period_start": start,
                "period_end": end,
                "quantity": float(quantity),
                "at": at,
            }
        )
    return rows


def hourly_rows(points: Points) -> list[dict[str, Any]]:
    """``hour_flow`` / ``hour_count``: each Beijing hour's sum, per region."""
    hours = points.starts + BEIJING_OFFSET
    hours = hours // HOUR * HOUR - BEIJING_OFFSET
    distinct, firsts = _groups(hours)
    rows = []
    for region, values in points.regions.items():
        sums = np.add.reduceat(values, firsts) if len(values) else values
        rows += _rows("hour", region, [(int(h), float(s), None) for h, s in zip(distinct, sums, strict=True)])
    return rows


def _daily_figures(points: Points, values: np.ndarray) -> list[tuple[int, slice, bool]]:
    days, firsts = _groups(points.days)
    bounds = [*firsts.tolist(), len(values)]
    return [
        (int(day), slice(bounds[i], bounds[i + 1]), bool(np.any(values[bounds[i] : bounds[i + 1]] != 0)))
        for i, day in enumerate(days)
    ]


def daily_rows(points: Points) -> list[dict[str, Any]]:
    """``day_bandwidth``: each counted Beijing day's highest point, per region (idle days bill nothing)."""
    rows = []
    for region, values in points.regions.items():
        peaks = [
            (day, float(values[where].max()))
            for day, where, active in _daily_figures(points, values)
            if active
        ]
        rows += _rows("day", region, [(day, peak, None) for day, peak in peaks])
    return rows


def month_figure(
    points: Points, values: np.ndarray, base: str, *, whole_days_before: int | None = None
) -> tuple[float, float | None]:
    """What a monthly method bills over ``values`` (the points of one month, or its part): (quantity, at).

    ``at`` is the chosen point's start (epoch seconds) for the 95th-point and 4th-peak methods, else None.
    ``whole_days_before`` (a prediction) leaves days from that day start on out of the daily means.
    """
    counted = [(day, where) for day, where, active in _daily_figures(points, values) if active]
    if base in ("month_95", "month_95_night_half"):
        keep = (
            np.concatenate([np.arange(w.start, w.stop) for _, w in counted]) if counted else np.zeros(0, int)
        )
        if len(keep) == 0:
            return 0.0, None
        used = values[keep]
        if base == "month_95_night_half":
            night = (points.starts[keep] + BEIJING_OFFSET) % DAY < 8 * HOUR
            used = np.where(night, used * 0.5, used)
        chosen = cut_index(used)
        return float(used[chosen]), float(points.starts[keep[chosen]])
    if base == "month_4th_day_bandwidth":
        peaks = [(float(values[w].max()), int(np.argmax(values[w])) + w.start) for _, w in counted]
        if len(peaks) < 4:
            return 0.0, None
        order = sorted(range(len(peaks)), key=lambda i: -peaks[i][0])  # stable: the earlier day on a tie
        value, index = peaks[order[3]]
        return value, float(points.starts[index])
    if whole_days_before is not None:
        counted = [(day, where) for day, where in counted if day < whole_days_before]
    if not counted:
        return 0.0, None
    if base == "month_avg_day_bandwidth":
        figures = [float(values[w].max()) for _, w in counted]
    else:  # month_avg_day_95
        figures = [float(values[w][cut_index(values[w])]) for _, w in counted]
    return float(sum(figures) / len(figures)), None


def monthly_rows(points: Points, method: str, month_start: int) -> list[dict[str, Any]]:
    """A monthly method's one row per region for the month starting at ``month_start``."""
    base = method.removesuffix("_overseas")
    rows = []
    for region, values in points.regions.items():
        quantity, at = month_figure(points, values, base)
        rows += _rows("month", region, [(month_start, quantity, at)])
    return rows


def billed_frame(account: str, method: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows of one account and method as a frame of :data:`BILLED_COLUMNS`."""
    cycle = cycle_of(method)
    frame = pd.DataFrame(rows, columns=["region", "period_start", "period_end", "quantity", "at"])
    starts = frame["period_start"].to_numpy(dtype=np.int64)
    text = pd.StringDtype()
    result = pd.DataFrame(
        {
            "account": pd.array([account] * len(frame), dtype=text),
            "method": pd.array([method] * len(frame), dtype=text),
            "dimension": pd.array([dimension_of(method)] * len(frame), dtype=text),
            "period": pd.array([period_label(int(s), cycle) for s in starts], dtype=text),
            "period_start": pd.to_datetime(starts, unit="s", utc=True).astype("datetime64[ns, UTC]"),
            "period_end": pd.to_datetime(
                frame["period_end"].to_numpy(dtype=np.int64), unit="s", utc=True
            ).astype("datetime64[ns, UTC]"),
            "region": pd.array(frame["region"].tolist(), dtype=text),
            "charge_type": pd.array([CHARGE_TYPE] * len(frame), dtype=text),
            "quantity": frame["quantity"].to_numpy(dtype=np.float64),
            "unit": pd.array([unit_of(method)] * len(frame), dtype=text),
            "at": pd.to_datetime(frame["at"].astype("float64"), unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
        }
    )
    return result.sort_values(["period_start", "region"], ignore_index=True, na_position="first")
