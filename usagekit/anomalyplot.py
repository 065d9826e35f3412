"""The plot of :func:`usagekit.anomalies`: an account's series per domain, what was found marked on them.

>>> import numpy as np, pandas as pd
>>> from usagekit.frames import tidy_frame
>>> from usagekit.anomaly import anomalies
>>> hours = pd.date_range("2026-08-01", periods=24 * 7 * 9, freq="h", tz="UTC")
>>> values = np.full(len(hours), 1e9); values[-3] = 8e9
>>> starts = np.repeat(hours, 12) + pd.to_timedelta(np.tile(np.arange(12) * 5, len(hours)), unit="min")
>>> usage = tidy_frame({"account": "shop", "task_id": "1", "domain": "img.example", "region": "CN",
...     "metric": "traffic", "start": starts, "end": starts + pd.Timedelta(minutes=5),
...     "value": np.repeat(values / 12, 12), "unit": "byte"})
>>> ax = plot_anomalies(usage, anomalies(usage), "shop")
>>> ax.get_title(), [t.get_text() for t in ax.get_legend().get_texts()]
('shop: traffic per 1h, 1 anomaly', ['img.example', 'anomaly (up)'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from usagekit.anomaly import ANOMALY_COLUMNS, period_series, steady_rows
from usagekit.errors import ArgumentError
from usagekit.frames import checked_tidy
from usagekit.plotstyle import (
    REST_LABEL,
    date_axis,
    legend_outside,
    new_axes,
    series_colors,
    short_label,
    to_days,
)
from usagekit.units import scale_for

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

__all__ = ["plot_anomalies"]

_MARKS = {"up": ("^", "#D55E00"), "down": ("v", "#0072B2")}


def _metric_and_freq(found: pd.DataFrame) -> tuple[str, pd.Timedelta]:
    if found.empty:  # anomalies() notes what it looked at in attrs
        return str(found.attrs.get("metric", "traffic")), pd.Timedelta(found.attrs.get("freq", "1h"))
    metrics = sorted(set(found["metric"].astype(str)))
    if len(metrics) > 1:
        raise ArgumentError(f"found holds several metrics {metrics}: plot one at a time")
    return metrics[0], pd.Timedelta((found["end"] - found["start"]).iloc[0])


def plot_anomalies(usage: pd.DataFrame, found: pd.DataFrame, account: str, *, ax: Axes | None = None) -> Axes:
    """``account``'s series per domain (as :func:`usagekit.anomalies` saw them), anomalies marked.

    The metric and period come from ``found`` (``traffic`` per hour when it is empty); each domain a line
    in its stable colour, each anomaly a triangle (up or down) on its period. Times in UTC. Returns the
    Axes (a new figure when ``ax`` is None).
    """
    checked_tidy(usage, "plot_anomalies")
    if not isinstance(found, pd.DataFrame) or not set(ANOMALY_COLUMNS) <= set(found.columns):
        raise ArgumentError("found must be the frame usagekit.anomalies() returns")
    if not isinstance(account, str):
        raise ArgumentError(f"account must be an account name (text), not {type(account).__name__}")
    metric, step = _metric_and_freq(found)
    wide = period_series(steady_rows(usage[usage["account"] == account]), metric, step)
    if wide.empty:
        raise ArgumentError(f"usage holds no {metric} of account {account!r}")
    ax = new_axes(ax, 10, 4)
    names = [
        REST_LABEL if pd.isna(domain) else str(domain) for _, domain in cast("pd.MultiIndex", wide.columns)
    ]
    colors = series_colors(names)
    scale = scale_for(metric, float(np.nanmax(wide.to_numpy(dtype=float))))
    days = to_days(wide.index)
    handles: list[Artist] = []
    for position, name in enumerate(names):
        (line,) = ax.plot(
            days,
            scale.apply(wide.iloc[:, position].to_numpy()),
            color=colors[name],
            lw=1.0,
            label=short_label(name),
        )
        handles.append(line)
    mine = found[found["account"] == account]
    for direction, (marker, color) in _MARKS.items():
        rows = mine[mine["direction"] == direction]
        if len(rows):
            handles.append(
                ax.scatter(
                    to_days(rows["start"]), scale.apply(rows["value"].to_numpy()), marker=marker, s=60,
                    color=color, edgecolor="black", linewidths=0.5, zorder=3, label=f"anomaly ({direction})",
                )
            )  # fmt: skip
    count = len(mine)
    ax.set_title(f"{account}: {metric} per {_words(step)}, {count} anomal{'y' if count == 1 else 'ies'}")
    ax.set_ylabel(scale.unit)
    date_axis(ax, "UTC")
    legend_outside(ax, handles)
    return ax


def _words(step: pd.Timedelta) -> str:
    hours = step / pd.Timedelta(hours=1)
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)}h" if hours < 24 or hours % 24 else f"{int(hours // 24)}D"
    return f"{int(step / pd.Timedelta(minutes=1))}min"
