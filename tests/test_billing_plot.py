"""plot_percentile read back: the sorted points, the cut, the daily peaks and each method's line, by hand."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from _points import series as points

from usagekit.frames import tidy_frame
from usagekit.plots import plot_percentile

MBIT = 1e6


def series(start: str, values: list[float], *, region: str = "CN", account: str = "shop") -> pd.DataFrame:
    """Bandwidth points of the account's total (no domain)."""
    return points(start, values, region=region, account=account, domain=None)


# 5 October 12:00 Beijing (04:00Z): 20 points; 6 October 12:00 Beijing: 10 points. None at night.
DAY_ONE = [100 * MBIT, 90 * MBIT, 80 * MBIT] + [10 * MBIT] * 17
DAY_TWO = [50 * MBIT] + [5 * MBIT] * 9
USAGE = tidy_frame(
    pd.concat(
        [series("2026-10-05T04:00:00Z", DAY_ONE), series("2026-10-06T04:00:00Z", DAY_TWO)], ignore_index=True
    )
)


def _legend(ax: object) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]  # type: ignore[attr-defined]


def _line(ax: object, gid: str) -> object:
    (line,) = [item for item in ax.get_lines() if item.get_gid() == gid]  # type: ignore[attr-defined]
    return line


def test_sorted_points_cut_daily_peaks_and_every_method() -> None:
    ax = plot_percentile(USAGE, "shop", "2026-10")
    points = _line(ax, "points")
    # 30 points highest first, in Mbit/s: 100, 90, 80, 50, seventeen 10s, nine 5s.
    assert list(points.get_ydata()) == [100, 90, 80, 50] + [10] * 17 + [5] * 9
    assert list(points.get_xdata()) == list(range(1, 31))
    assert ax.get_ylabel() == "Bandwidth (Mbit/s)"
    # 5 % of 30 is 1.5: one point discarded, the 2nd highest (90) billed.
    assert _line(ax, "method:month_95").get_ydata()[0] == 90
    (peaks,) = [c for c in ax.collections if c.get_gid() == "daily-peaks"]
    assert peaks.get_offsets().tolist() == [[1.0, 100.0], [4.0, 50.0]]  # the days' peaks at ranks 1 and 4
    legend = _legend(ax)
    assert "top 5 % discarded (1 points)" in legend
    assert "daily peaks (2 days)" in legend
    assert "month_95: 90.00 Mbit/s" in legend
    assert "month_95_night_half: 90.00 Mbit/s" in legend  # no point before 08:00 Beijing
    assert "month_avg_day_bandwidth: 75.00 Mbit/s" in legend  # (100 + 50) / 2
    assert "month_4th_day_bandwidth: 0.00 Mbit/s" in legend  # fewer than four days
    # Day one: 20 points, 1 discarded: 90. Day two: 10 points, none discarded: 50. Mean 70.
    assert "month_avg_day_95: 70.00 Mbit/s" in legend
    assert "2026-10" in ax.get_title() and "shop" in ax.get_title()


def test_units_follow_the_data_and_overseas_regions_are_summed_per_point() -> None:
    big = tidy_frame(series("2026-10-05T04:00:00Z", [2e9, 1e9]))
    assert plot_percentile(big, "shop", "2026-10").get_ylabel() == "Bandwidth (Gbit/s)"
    world = tidy_frame(
        pd.concat(
            [
                series("2026-10-05T04:00:00Z", [9e8, 9e8], region="CN"),
                series("2026-10-05T04:00:00Z", [3e8, 6e8], region="AP1"),
                series("2026-10-05T04:00:00Z", [4e8, 0.0], region="EU"),
            ],
            ignore_index=True,
        )
    )
    ax = plot_percentile(world, "shop", "2026-10", region="OVERSEAS")
    assert list(_line(ax, "points").get_ydata()) == [700, 600]  # 3 + 4, then 6 + 0 (x 100 Mbit/s)
    assert "outside the mainland" in ax.get_title()
    assert list(_line(plot_percentile(world, "shop", "2026-10"), "points").get_ydata()) == [900, 900]  # CN


def test_what_cannot_be_drawn_is_named() -> None:
    with pytest.raises(ValueError, match="no bandwidth in region 'EU'"):
        plot_percentile(USAGE, "shop", "2026-10", region="EU")
    with pytest.raises(ValueError, match="Beijing month 2026-11"):
        plot_percentile(USAGE, "shop", "2026-11")
    with pytest.raises(ValueError, match="no bandwidth rows of account 'media'"):
        plot_percentile(USAGE, "media", "2026-10")
    with pytest.raises(ValueError, match="such as '2026-10'"):
        plot_percentile(USAGE, "shop", "October")


def test_an_axes_given_is_drawn_on_and_no_pyplot_figure_is_left_open() -> None:
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    assert plot_percentile(USAGE, "shop", "2026-10", ax=ax) is ax
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []
