"""Plots of task frames and tidy usage frames, with matplotlib (the ``plot`` extra).

Every function takes ``ax=None``: given an Axes it draws there, otherwise it makes its own
:class:`matplotlib.figure.Figure` (never through pyplot, so no figure is left open in pyplot's
registry and nothing is shown or saved behind your back). It returns the Axes; in a notebook, end the
cell with ``ax.figure`` to show it (the figure renders itself as a PNG, pyplot or not), or save it
with ``ax.figure.savefig("timeline.png")``.

One palette everywhere (:mod:`usagekit.plotstyle`): statuses in :data:`STATUS_COLORS`, gaps in
:data:`GAP_COLOR`, and a stable colour per domain, region or account (:func:`series_colors`), so
``example.com`` has the same colour in every figure. Values are shown in the units of
:mod:`usagekit.units` (1 GB = 1024³ bytes). The timeline lives in :mod:`usagekit.timeline`.

>>> import usagekit
>>> from usagekit.frames import task_frame
>>> tasks = task_frame([{"account": "prod", "kind": "detail", "task_id": "1", "status": "success",
...     "type": "flow", "window_start": "2026-11-01T16:00Z", "window_end": "2026-11-03T16:00Z"}])
>>> ax = plot_timeline(tasks, end="2026-11-05T16:00Z")
>>> [label.get_text() for label in ax.get_yticklabels()]
['prod · detail flow']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.frames import METRICS
from usagekit.plotstyle import (
    GAP_COLOR,
    NO_REGION_LABEL,
    OTHER_COLOR,
    OTHER_LABEL,
    REST_COLOR,
    REST_LABEL,
    SERIES_PALETTE,
    STATUS_COLORS,
    require_matplotlib,
    series_colors,
)
from usagekit.plotstyle import check_zone as _zone
from usagekit.plotstyle import date_axis as _date_axis
from usagekit.plotstyle import legend_outside as _legend
from usagekit.plotstyle import new_axes as _new_axes
from usagekit.plotstyle import short_label as _short
from usagekit.plotstyle import to_days as _days
from usagekit.plotstyle import whose as _whose
from usagekit.plotstyle import zone_label as _zone_label
from usagekit.timeline import plot_timeline
from usagekit.times import BEIJING
from usagekit.units import scale_for

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "GAP_COLOR",
    "OTHER_COLOR",
    "OTHER_LABEL",
    "REST_COLOR",
    "REST_LABEL",
    "SERIES_PALETTE",
    "STATUS_COLORS",
    "plot_percentile",
    "plot_timeline",
    "plot_usage",
    "series_colors",
]

_BY = ("domain", "region", "account")


# --- usage over time -----------------------------------------------------------------------------------


def _offset(freq: str) -> Any:
    from pandas.tseries.frequencies import to_offset

    if not isinstance(freq, str):
        raise ArgumentError(f"freq must be a pandas frequency such as '1h' or '1D', not {freq!r}")

    try:
        return to_offset(freq)
    except (ValueError, TypeError):
        raise ArgumentError(f"freq {freq!r} is not a pandas frequency: use e.g. '1h' or '1D'") from None


def _fixed(offset: Any) -> pd.Timedelta | None:
    try:
        return pd.Timedelta(offset)
    except (TypeError, ValueError):
        return None


def _period_words(offset: Any) -> str:
    fixed = _fixed(offset)
    if fixed is None:
        name = offset.name if hasattr(offset, "name") else str(offset)
        return {"MS": "month", "ME": "month", "M": "month", "W": "week", "YS": "year"}.get(
            name.split("-")[0], f"{offset.freqstr} period"
        )
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count = fixed.total_seconds() / seconds
        if count >= 1 and float(count).is_integer():
            return unit if count == 1 else f"{int(count)} {unit}s"
    return str(fixed)


def _series_labels(rows: pd.DataFrame, by: str) -> pd.Series:
    values = rows[by].astype("object")
    missing = {"domain": REST_LABEL, "region": NO_REGION_LABEL}.get(by, "(no account)")
    return values.where(values.notna(), missing).astype(str)


def _check_usage_arguments(usage: pd.DataFrame, metric: str, by: str, top: int | None) -> None:
    """Refuse a bad argument of :func:`plot_usage` before anything is drawn."""
    if metric not in METRICS:
        raise ArgumentError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    if by not in _BY:
        raise ArgumentError(f"by must be one of {', '.join(_BY)}, not {by!r}")
    if not isinstance(usage, pd.DataFrame):
        raise ArgumentError(f"plot_usage needs a tidy usage frame, not {type(usage).__name__}")
    needed = {"metric", "start", "end", "value", by}
    if not needed <= set(usage.columns):
        missing = ", ".join(sorted(needed - set(usage.columns)))
        raise ArgumentError(f"plot_usage needs the tidy frame's columns; missing: {missing}")
    if top is not None and (not isinstance(top, int) or top < 0):
        raise ArgumentError(f"top must be a whole number >= 0 or None, not {top!r}")


def _draw_nothing(ax: Axes, text: str, title: str) -> Axes:
    """Say in the middle of an empty plot why nothing is drawn."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, fontsize="medium")
    ax.set_yticks([])
    ax.set_xticks([])
    return ax


def _usage_offset(rows: pd.DataFrame, freq: str | None) -> tuple[pd.Timedelta, Any]:
    """The data's interval and the period to draw (``freq``, or the interval itself), refusing a finer one."""
    step = pd.Timedelta((rows["end"] - rows["start"]).mode().iloc[0])
    native = _offset(f"{int(step.total_seconds())}s")
    offset = _offset(freq) if freq is not None else native
    fixed = _fixed(offset)
    if fixed is not None and fixed < step:
        raise ArgumentError(f"freq {freq!r} is finer than the data's {_period_words(native)} intervals")
    return step, offset


def _ranked_series(
    rows: pd.DataFrame, metric: str, by: str, top: int | None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The series to draw, one column each, indexed by point start; with the kept and all ranked names.

    The ``top`` largest named series (bandwidth ranked by peak, the rest by total) keep their name, the
    others are summed as ``other``; the rows without a domain, region or account stay series of their own.
    """
    pivot = (
        rows.assign(_series=_series_labels(rows, by).to_numpy())
        .groupby(["start", "_series"], observed=True)["value"]
        .sum()
        .unstack("_series")
    )
    specials = [c for c in (REST_LABEL, NO_REGION_LABEL, "(no account)") if c in pivot.columns]
    named = [c for c in pivot.columns if c not in specials]
    score = pivot[named].max() if metric == "bandwidth" else pivot[named].sum()
    ranked = sorted(named, key=lambda c: (-float(score[c]), c))
    keep = ranked if top is None else ranked[:top]
    folded = ranked[len(keep) :]
    series: dict[str, pd.Series] = {c: pivot[c] for c in keep}
    series.update({c: pivot[c] for c in specials})
    if folded:
        series[OTHER_LABEL] = pivot[folded].sum(axis=1, min_count=1)
    return pd.DataFrame(series), keep, ranked


def _resample_series(
    table: pd.DataFrame, metric: str, tz: str, offset: Any
) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Resample the series into ``offset`` periods in ``tz`` (bandwidth its peak, the rest summed).

    Returns the table and every period's edges (one more than the periods); an empty period stays NaN.
    """
    table = table.copy()
    table.index = pd.DatetimeIndex(table.index).tz_convert(tz)
    resampled = table.resample(offset, label="left", closed="left")
    table = resampled.max() if metric == "bandwidth" else resampled.sum(min_count=1)
    return table, cast("pd.DatetimeIndex", table.index.append(table.index[-1:] + offset))


def _usage_magnitude(table: pd.DataFrame, metric: str) -> float:
    """The largest value the plot shows: bandwidth's highest line, or the highest stack of the others."""
    if metric == "bandwidth":
        return float(np.nanmax(table.to_numpy())) if table.notna().any().any() else 0.0
    return float(table.sum(axis=1, min_count=1).max(skipna=True) or 0.0)


def _draw_series(ax: Axes, scaled: pd.DataFrame, edges: np.ndarray, metric: str) -> None:
    """Draw bandwidth as lines, the other metrics as stacked areas (an empty period left blank)."""
    colors = series_colors(list(scaled.columns))
    if metric == "bandwidth":
        for column in scaled.columns:
            ax.stairs(
                scaled[column].to_numpy(),
                edges,
                baseline=None,
                color=colors[column],
                linewidth=1.3,
                label=column,
                gid=f"series:{column}",
            )
        return
    empty = scaled.isna().all(axis=1).to_numpy()
    bottom = np.zeros(len(scaled))
    for column in scaled.columns:
        top_edge = bottom + scaled[column].fillna(0.0).to_numpy()
        ax.stairs(
            np.where(empty, np.nan, top_edge),
            edges,
            baseline=np.where(empty, np.nan, bottom),
            fill=True,
            color=colors[column],
            linewidth=0,
            label=column,
            gid=f"series:{column}",
        )
        bottom = top_edge


def _usage_ylabel(metric: str, period: str, native: bool, unit: str) -> str:
    """The y label: what one drawn value is (per period, or a period's peak) and its unit."""
    if metric == "bandwidth":
        quantity = "Bandwidth" if native else f"Peak bandwidth per {period}"
    else:
        quantity = f"{metric.capitalize()} per {period}"
    return quantity + ("" if unit == "requests" else f" ({unit})")


def _usage_title(metric: str, by: str, kept: int, ranked: int, accounts: list[str]) -> str:
    """The title: the metric, how many series of how many are named, and whose usage it is."""
    name = metric.capitalize()
    folded = kept < ranked
    shown = f"top {kept} of {ranked}" if folded else f"{ranked}"
    plural = {"domain": "domains", "region": "regions", "account": "accounts"}[by]
    if ranked:
        title = f"{name} by {by}: {shown} {plural if ranked != 1 or folded else by}"
    else:  # only rows without a domain (region): exports made by account
        title = f"{name}: account totals, no {by} listed"
    whose = _whose(accounts)
    if whose and by != "account":
        title += f" · {whose}"
    return title


def _usage_legend(ax: Axes, metric: str, partial_drawn: bool) -> None:
    """The legend outside the plot, shortened names, in the stack's order, with the partial-period key."""
    handles, names = ax.get_legend_handles_labels()
    if metric != "bandwidth":  # the legend reads top to bottom like the stack
        handles, names = handles[::-1], names[::-1]
    for handle, text in zip(handles, names, strict=True):
        handle.set_label(_short(text))
    if partial_drawn:
        patches = require_matplotlib("matplotlib.patches")
        handles.append(patches.Patch(**_PARTIAL_STYLE, label="partial period: points missing"))
    _legend(ax, list(handles))


def plot_usage(
    usage: pd.DataFrame,
    *,
    metric: str = "traffic",
    by: str = "domain",
    top: int | None = 10,
    freq: str | None = None,
    tz: str = "UTC",
    ax: Axes | None = None,
) -> Axes:
    """Draw one metric of a tidy usage frame over time, per domain (or region, or account); return the Axes.

    The ``top`` largest series are drawn by name (traffic and requests ranked by their total, bandwidth
    by its peak), the rest summed as ``other``. Rows whose ``domain`` is NA (an account's total, or the
    rest of an account beyond the domains an export listed) form their own series, ``rest of account``,
    never folded into ``other``; rows with no region are ``no region``. Traffic and requests are drawn
    as stacked areas, bandwidth as lines (bandwidth at one moment adds up across domains; the peak of a
    sum is not the sum of peaks, so it is not stacked).

    ``freq`` (``"1h"``, ``"1D"``, any pandas frequency no finer than the data) resamples in ``tz``:
    traffic and requests are summed, bandwidth takes the peak, so ``freq="1D", tz="Asia/Shanghai"``
    gives the Beijing days the service bills. Periods with no data stay empty, never drawn as zero.
    Values are scaled to one readable unit chosen from the data (GB with 1 GB = 1024³ bytes, Mbit/s,
    thousands of requests), named in the y label.

    >>> from usagekit.frames import tidy_frame
    >>> usage = tidy_frame({"account": ["prod"] * 2, "domain": ["a.example", None], "metric": ["traffic"] * 2,
    ...     "start": ["2026-11-01T00:00Z"] * 2, "end": ["2026-11-01T00:05Z"] * 2,
    ...     "value": [3 * 1024**3, 1024**3], "unit": ["byte"] * 2})
    >>> ax = plot_usage(usage)
    >>> ax.get_ylabel(), [text.get_text() for text in ax.get_legend().get_texts()]
    ('Traffic per 5 minutes (GB)', ['rest of account', 'a.example'])
    """
    _check_usage_arguments(usage, metric, by, top)
    tz = _zone(tz)
    rows = usage[usage["metric"].astype("object") == metric]
    ax = _new_axes(ax, 10.0, 4.2)
    accounts = list(dict.fromkeys(str(a) for a in rows["account"].dropna())) if "account" in rows else []
    if rows.empty:
        return _draw_nothing(ax, f"no {metric} rows in this frame", f"{metric.capitalize()} by {by}")

    step, offset = _usage_offset(rows, freq)
    table, keep, ranked = _ranked_series(rows, metric, by, top)
    table, edges_index = _resample_series(table, metric, tz, offset)
    edges = _days(edges_index.tz_convert("UTC"))
    scale = scale_for(metric, _usage_magnitude(table, metric))
    _draw_series(ax, table / scale.factor, edges, metric)

    fixed = _fixed(offset)
    native = freq is None or (fixed is not None and fixed == step)
    partial_drawn = (
        False
        if native
        else _mark_partial_periods(ax, rows, cast("pd.DatetimeIndex", table.index), edges_index, offset, step)
    )
    ax.set_ylabel(_usage_ylabel(metric, _period_words(offset), native, scale.unit))
    ax.set_xlabel(f"Time ({_zone_label(tz)})")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(bottom=0)
    _date_axis(ax, tz)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(_usage_title(metric, by, len(keep), len(ranked), accounts), fontsize="medium")
    _usage_legend(ax, metric, partial_drawn)
    return ax


#: how a period with fewer 5-minute points than it spans is shaded (a partial last day is not a drop)
_PARTIAL_STYLE: dict[str, Any] = {
    "facecolor": "#999999",
    "alpha": 0.18,
    "hatch": "..",
    "edgecolor": "#999999",
    "linewidth": 0,
}


def partial_periods(
    starts: pd.Series, periods: pd.DatetimeIndex, edges: pd.DatetimeIndex, offset: Any, step: pd.Timedelta
) -> np.ndarray:
    """Which resampled periods hold some of the data's points but fewer than they span.

    ``starts`` are the data's point starts, ``periods`` the resampled periods' left edges and ``edges``
    every period's edges (one more than ``periods``), in one time zone; ``step`` is the data's interval.

    >>> day = pd.Timedelta("1D")
    >>> starts = pd.Series(pd.date_range("2026-11-01", periods=288 + 100, freq="5min", tz="UTC"))
    >>> periods = pd.date_range("2026-11-01", periods=2, freq="1D", tz="UTC")
    >>> partial_periods(starts, periods, periods.append(periods[-1:] + day), day, pd.Timedelta("5min"))
    array([False,  True])
    """
    index = pd.DatetimeIndex(pd.unique(starts)).tz_convert(periods.tz)
    per_period = pd.Series(1, index=index).resample(offset, label="left", closed="left").count()
    counts = per_period.reindex(periods, fill_value=0).to_numpy()
    spans = ((edges[1:] - edges[:-1]) / step).to_numpy()
    return (counts > 0) & (counts < spans)


def _mark_partial_periods(
    ax: Axes,
    rows: pd.DataFrame,
    periods: pd.DatetimeIndex,
    edges: pd.DatetimeIndex,
    offset: Any,
    step: pd.Timedelta,
) -> bool:
    """Shade each resampled period that lacks some points, so a partial day does not read as a drop."""
    partial = partial_periods(rows["start"], periods, edges, offset, step)
    days = _days(edges.tz_convert("UTC"))
    for i in np.flatnonzero(partial):
        ax.axvspan(
            days[i], days[i + 1], **_PARTIAL_STYLE, zorder=0.4, gid=f"partial:{periods[int(i)].isoformat()}"
        )
    return bool(partial.any())


# --- the month's bandwidth points and what each billing method makes of them ---------------------------

#: the monthly bandwidth methods :func:`plot_percentile` draws, with their line styles
#: each monthly method's line: a colour of its own (Okabe-Ito, safe for colour-blind readers) and a dash,
#: so lines that lie on one another can still be told apart by their end labels and the legend
_PERCENTILE_METHODS = (
    ("month_95", "-", "#D55E00"),
    ("month_95_night_half", (0, (1, 1)), "#CC79A7"),
    ("month_avg_day_95", (0, (3, 1, 1, 1)), "#009E73"),
    ("month_avg_day_bandwidth", "--", "#E69F00"),
    ("month_4th_day_bandwidth", "-.", "#56B4E9"),
)
#: the least vertical distance between two end labels, as a fraction of the plot's height
_LABEL_GAP = 0.065
_CUT_COLOR = "#D55E00"
_PEAK_COLOR = "#0072B2"


def label_positions(values: list[float], gap: float) -> list[float]:
    """Where to write labels for lines at ``values`` (0..1 of the height) so no two are nearer than ``gap``.

    Labels keep their lines' order and move as little as they must: a run of crowded labels is spread
    around its middle, and kept inside 0..1.

    >>> [round(y, 2) for y in label_positions([0.5, 0.5, 0.5], 0.1)]
    [0.4, 0.5, 0.6]
    >>> label_positions([0.1, 0.9], 0.1)
    [0.1, 0.9]
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    groups: list[list[int]] = []  # runs of labels that must be spread together, bottom to top
    for index in order:
        groups.append([index])
        while len(groups) > 1:
            low, high = groups[-2], groups[-1]
            low_top = _centre(values, low) + gap * (len(low) - 1) / 2
            high_bottom = _centre(values, high) - gap * (len(high) - 1) / 2
            if high_bottom - low_top >= gap:
                break
            groups[-2:] = [low + high]
    placed = [0.0] * len(values)
    for group in groups:
        span = gap * (len(group) - 1)
        bottom = min(max(_centre(values, group) - span / 2, 0.0), max(1.0 - span, 0.0))
        for rank, index in enumerate(group):
            placed[index] = bottom + rank * gap
    return placed


def _centre(values: list[float], group: list[int]) -> float:
    return sum(values[i] for i in group) / len(group)


def _label_line_ends(ax: Axes, lines: list[tuple[float, str, str]]) -> None:
    """Name each horizontal line inside the plot at its right end, spread apart where lines coincide."""
    if not lines:
        return
    bottom, top = ax.get_ylim()
    height = (top - bottom) or 1.0
    spots = label_positions([(value - bottom) / height for value, _, _ in lines], _LABEL_GAP)
    for (value, method, color), spot in zip(lines, spots, strict=True):
        ax.annotate(
            method,
            xy=(0.995, (value - bottom) / height),
            xycoords="axes fraction",
            xytext=(0.965, 0.04 + 0.92 * spot),  # clear of the frame and the title
            textcoords="axes fraction",
            color=color,
            fontsize="small",
            va="center",
            ha="right",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            arrowprops={"arrowstyle": "-", "color": color, "linewidth": 0.6},
            gid=f"end-label:{method}",
        )


def _percentile_rows(
    usage: pd.DataFrame, account: str, month: str, region: str | None
) -> tuple[pd.DataFrame, str]:
    """The account's bandwidth rows of ``region`` in the Beijing ``month``, and the region chosen.

    Refuses a bad argument, an account without bandwidth, or a region it is not billed in.
    """
    from usagekit.billing import OVERSEAS

    if not isinstance(usage, pd.DataFrame):
        raise ArgumentError(f"plot_percentile needs a tidy usage frame, not {type(usage).__name__}")
    missing = {"account", "region", "metric", "start", "value"} - set(usage.columns)
    if missing:
        raise ArgumentError(
            f"plot_percentile needs the tidy frame's columns; missing: {', '.join(sorted(missing))}"
        )
    if not isinstance(month, str) or len(month) != 7 or month[4] != "-":
        raise ArgumentError(f"month must be a Beijing month such as '2026-10', not {month!r}")
    rows = usage[
        (usage["metric"].astype("object") == "bandwidth") & (usage["account"].astype("object") == account)
    ]
    regions = sorted({str(r) for r in rows["region"].dropna()})
    if not regions:
        raise ArgumentError(f"no bandwidth rows of account {account!r} in this frame")
    if region is None:
        region = regions[0] if len(regions) == 1 else "CN" if "CN" in regions else None
        if region is None:
            raise ArgumentError(
                f"account {account!r} is billed in {regions}: pass region= one of them or 'OVERSEAS'"
            )
    if region == OVERSEAS:
        chosen = rows[rows["region"].notna() & (rows["region"].astype("object") != "CN")]
    elif region in regions:
        chosen = rows[rows["region"].astype("object") == region]
    else:
        raise ArgumentError(f"account {account!r} has no bandwidth in region {region!r}; it has {regions}")
    chosen = chosen[chosen["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m") == month]
    if chosen.empty:
        raise ArgumentError(f"no bandwidth of account {account!r} in {region} in the Beijing month {month}")
    return chosen, region


def _draw_points_and_peaks(ax: Axes, chosen: pd.DataFrame, factor: float) -> np.ndarray:
    """Draw the points highest first, the discarded top 5 % and each Beijing day's peak; return the points."""
    points = chosen.groupby("start")["value"].sum()
    values = np.sort(points.to_numpy())[::-1]
    peaks = (
        points.groupby(cast("pd.DatetimeIndex", points.index).tz_convert(BEIJING).floor("D")).max().to_numpy()
    )
    ranks = np.arange(1, len(values) + 1)
    ax.plot(
        ranks,
        values / factor,
        color="#444444",
        linewidth=1.2,
        label="5-minute points, highest first",
        gid="points",
    )
    discard = len(values) * 5 // 100
    ax.axvspan(
        0.5,
        discard + 0.5,
        color=_CUT_COLOR,
        alpha=0.12,
        linewidth=0,
        label=f"top 5 % discarded ({discard} points)",
        gid="discarded",
    )
    peak_ranks = len(values) - np.searchsorted(values[::-1], peaks, side="right") + 1
    ax.scatter(
        peak_ranks,
        peaks / factor,
        s=18,
        color=_PEAK_COLOR,
        zorder=3,
        label=f"daily peaks ({len(peaks)} days)",
        gid="daily-peaks",
    )
    return values


def _draw_method_lines(
    ax: Axes, chosen: pd.DataFrame, month: str, region: str, scale: Any
) -> list[tuple[float, str, str]]:
    """Draw what each monthly method bills as a horizontal line; return each line's value, method and colour."""
    from usagekit.billing import OVERSEAS, billing_quantities

    suffix = "_overseas" if region == OVERSEAS else ""
    lines = []
    for method, style, color in _PERCENTILE_METHODS:
        frame = billing_quantities(chosen, method + suffix)
        frame = frame[(frame["period"] == month) & (frame["region"].astype("object") == region)]
        if not len(frame):
            continue
        value = float(frame["quantity"].iloc[0])
        ax.axhline(
            value / scale.factor,
            color=color,
            linestyle=style,
            linewidth=1.3,
            label=f"{method}: {value / scale.factor:,.2f} {scale.unit}",
            gid=f"method:{method}",
        )
        lines.append((value / scale.factor, method, color))
    return lines


def plot_percentile(
    usage: pd.DataFrame, account: str, month: str, *, region: str | None = None, ax: Axes | None = None
) -> Axes:
    """Draw one account's bandwidth points of a Beijing month, sorted, and what each method bills.

    The month's 5-minute points (the account's domains summed per point, in ``region``) are drawn
    highest first; the 95th-percentile cut (``month_95``: the top 5 % discarded, rounded down) is
    marked where it falls; each Beijing day's peak is a dot at its place in the sorted points; and a
    horizontal line shows what each monthly method (:func:`usagekit.billing_quantities`) would bill, its
    value in the legend. So a reader sees at a glance why ``month_95`` and the daily peaks differ.
    ``month`` is a Beijing month, ``"2026-10"``. ``region`` is a billing region, or ``"OVERSEAS"`` for
    the regions outside the mainland together (the ``_overseas`` methods); ``None`` takes the
    account's only region, or ``CN`` when it has several. Values are in Mbit/s or Gbit/s, from the data.

    >>> from usagekit.frames import tidy_frame
    >>> usage = tidy_frame({"account": ["shop"] * 3, "region": ["CN"] * 3, "metric": ["bandwidth"] * 3,
    ...     "start": ["2026-10-04T16:00Z", "2026-10-04T16:05Z", "2026-10-05T16:00Z"],
    ...     "end": ["2026-10-04T16:05Z", "2026-10-04T16:10Z", "2026-10-05T16:05Z"],
    ...     "value": [4e8, 1e8, 2e8], "unit": ["bit/s"] * 3})
    >>> ax = plot_percentile(usage, "shop", "2026-10")
    >>> ax.get_ylabel()
    'Bandwidth (Mbit/s)'
    """
    from usagekit.billing import OVERSEAS

    chosen, region = _percentile_rows(usage, account, month, region)
    scale = scale_for("bandwidth", float(chosen.groupby("start")["value"].sum().max()))
    ax = _new_axes(ax, 9.0, 4.2)
    values = _draw_points_and_peaks(ax, chosen, scale.factor)
    lines = _draw_method_lines(ax, chosen, month, region, scale)
    ax.set_xscale("log")
    ax.set_xlim(0.8, len(values) * 1.05)
    ax.set_ylim(bottom=0)
    _label_line_ends(ax, lines)
    ax.set_xlabel(f"5-minute points ranked, highest first (log scale; {len(values):,} points)")
    ax.set_ylabel(f"Bandwidth ({scale.unit})")
    where = "outside the mainland" if region == OVERSEAS else region
    ax.set_title(
        f"{account} · {where} · {month} (Beijing): bandwidth points and what each method bills",
        fontsize="medium",
    )
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    handles, _ = ax.get_legend_handles_labels()
    _legend(ax, list(handles))
    return ax
