"""plot_percentile's method lines can be told apart: a colour each, and a label at each line's end.

The billing report drew three monthly methods on one another at about 44 Mbit/s, two of them in the same
grey: a reader could not say which was which. Expected values are written here by hand.
"""

from __future__ import annotations

import itertools

import pandas as pd
from _points import series

from usagekit.frames import tidy_frame
from usagekit.plots import label_positions, plot_percentile

MBIT = 1e6
# Two Beijing days of 20 points at 12:00 Beijing: the same 100 Mbit/s peak each day, so month_95,
# month_95_night_half, month_avg_day_bandwidth and month_avg_day_95 all bill 100 Mbit/s: four lines on one another.
USAGE = tidy_frame(
    pd.concat(
        [
            series(
                "2026-10-05T04:00:00Z",
                [100 * MBIT] * 2 + [10 * MBIT] * 18,
                region="CN",
                account="shop",
                domain=None,
            ),
            series(
                "2026-10-06T04:00:00Z",
                [100 * MBIT] * 2 + [10 * MBIT] * 18,
                region="CN",
                account="shop",
                domain=None,
            ),
        ],
        ignore_index=True,
    )
)


def test_each_method_line_has_a_colour_of_its_own() -> None:
    ax = plot_percentile(USAGE, "shop", "2026-10")
    lines = [line for line in ax.get_lines() if str(line.get_gid()).startswith("method:")]
    assert len(lines) == 5
    colours = [line.get_color() for line in lines]
    assert len(set(colours)) == 5, colours


def test_coinciding_lines_get_end_labels_spread_apart() -> None:
    ax = plot_percentile(USAGE, "shop", "2026-10")
    labels = {text.get_gid(): text for text in ax.texts if str(text.get_gid()).startswith("end-label:")}
    assert sorted(labels) == [
        "end-label:month_4th_day_bandwidth",
        "end-label:month_95",
        "end-label:month_95_night_half",
        "end-label:month_avg_day_95",
        "end-label:month_avg_day_bandwidth",
    ]
    for gid, text in labels.items():
        assert text.get_text() == gid.removeprefix("end-label:")
    lines = {str(line.get_gid()).removeprefix("method:"): line for line in ax.get_lines()}
    for method, text in labels.items():
        assert text.get_color() == lines[method.removeprefix("end-label:")].get_color()
    heights = sorted(text.xyann[1] for text in labels.values())
    gaps = [b - a for a, b in itertools.pairwise(heights)]
    assert min(gaps) >= 0.05, heights  # four lines at one height: their labels do not overprint


def test_label_positions_by_hand() -> None:
    assert label_positions([0.5], 0.1) == [0.5]
    assert [round(y, 3) for y in label_positions([0.5, 0.5], 0.1)] == [0.45, 0.55]
    assert [round(y, 3) for y in label_positions([0.2, 0.21, 0.9], 0.1)] == [0.155, 0.255, 0.9]
    # Crowded at the top: kept inside the plot, order kept.
    assert [round(y, 3) for y in label_positions([1.0, 1.0, 1.0], 0.1)] == [0.8, 0.9, 1.0]
    # Order of the input is kept in the output (the second value is the lowest).
    assert [round(y, 3) for y in label_positions([0.6, 0.1, 0.62], 0.1)] == [0.56, 0.1, 0.66]
