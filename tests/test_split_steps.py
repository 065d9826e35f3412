"""A few of the steps issue 24 named out of long functions, each checked alone on values written here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from usagekit.billing import _month_quantity
from usagekit.timeline import _lay_out_lanes


@pytest.mark.parametrize(
    ("base", "values", "expected"),
    [
        ("hour_flow", [1024**3, 2 * 1024**3], (3.0, "GB")),  # summed, 1 GB = 1024**3 bytes
        ("hour_count", [10_000, 20_000], (3.0, "10k requests")),
        ("day_bandwidth", [1e6, 2e6], (3.0, "Mbit/s-days")),  # the daily peaks summed
        ("month_95", [5e6, 7e6], (5.0, "Mbit/s")),  # a monthly method's one figure, not a sum
    ],
)
def test_a_months_quantity_and_unit(base: str, values: list[float], expected: tuple[float, str]) -> None:
    assert _month_quantity(base, np.array(values, dtype=float)) == expected


def test_lanes_stack_overlapping_bars_in_rows_and_grow_with_them() -> None:
    detail, summary = ("shop", "detail", "flow"), ("shop", "summary", "")
    keys = pd.Series([detail, detail, summary, detail])
    lefts, rights = np.array([0.0, 1.0, 5.0, 2.0]), np.array([2.0, 3.0, 6.0, 4.0])
    drawable = np.array([True, True, True, True])
    lanes = _lay_out_lanes(keys, "account", drawable, lefts, rights)
    assert lanes.order == [summary, detail]  # summaries before details within an account
    # bars 0 [0, 2) and 1 [1, 3) overlap: two rows; bar 3 [2, 4) starts when bar 0 ends: row 0 again
    assert lanes.row_of == {0: 0, 1: 1, 2: 0, 3: 0}
    assert lanes.tracks_of == {summary: 1, detail: 2}
    assert lanes.heights == {summary: 1.0, detail: math.sqrt(2)}
    assert lanes.tops == {summary: 0.0, detail: 1.0}
    assert lanes.total == 1.0 + math.sqrt(2)
