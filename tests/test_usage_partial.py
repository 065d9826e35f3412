"""plot_usage shades a resampled period that lacks points (a partial last day), so it does not read as a drop.

Expected values are written by hand: two whole Beijing days of 288 points and a third day of 100.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from usagekit.frames import tidy_frame
from usagekit.plots import partial_periods, plot_usage

BEIJING_DAY_ONE = "2026-10-31T16:00:00Z"  # 1 November 00:00 Beijing


def traffic(points: int) -> pd.DataFrame:
    starts = pd.date_range(BEIJING_DAY_ONE, periods=points, freq="5min", tz="UTC")
    return tidy_frame(
        {
            "account": ["shop"] * points,
            "domain": ["img.example"] * points,
            "metric": ["traffic"] * points,
            "start": starts,
            "end": starts + pd.Timedelta("5min"),
            "value": [1024.0**3] * points,
            "unit": ["byte"] * points,
        }
    )


def partial_spans(ax: object) -> list[str]:
    return [str(p.get_gid()) for p in ax.patches if str(p.get_gid()).startswith("partial:")]  # type: ignore[attr-defined]


def test_a_partial_last_beijing_day_is_shaded_and_named_in_the_legend() -> None:
    ax = plot_usage(traffic(2 * 288 + 100), freq="1D", tz="Asia/Shanghai")
    assert partial_spans(ax) == ["partial:2026-11-03T00:00:00+08:00"]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "partial period: points missing" in legend


def test_whole_days_and_the_native_interval_are_not_shaded() -> None:
    assert partial_spans(plot_usage(traffic(3 * 288), freq="1D", tz="Asia/Shanghai")) == []
    assert partial_spans(plot_usage(traffic(2 * 288 + 100))) == []  # 5-minute points: nothing is partial


def test_partial_periods_by_hand() -> None:
    step = pd.Timedelta("5min")
    hours = pd.date_range("2026-11-01", periods=3, freq="1h", tz="UTC")
    edges = hours.append(hours[-1:] + pd.Timedelta("1h"))
    starts = pd.Series(pd.date_range("2026-11-01T00:30Z", "2026-11-01T02:25Z", freq="5min"))
    # 00:30-00:55 is 6 of 12 points, 01:00-01:55 all 12, 02:00-02:25 6 of 12.
    assert partial_periods(starts, hours, edges, pd.Timedelta("1h"), step).tolist() == [True, False, True]
    assert not np.any(partial_periods(starts[6:18], hours, edges, pd.Timedelta("1h"), step))
