"""plot_bill_check read back: bar heights, billed ticks, shaded findings, the monthly points' places."""

from __future__ import annotations

import pandas as pd
import pytest

from usagekit.billplot import plot_bill_check
from usagekit.errors import ArgumentError

OCT = pd.Timestamp("2026-09-30T16:00:00Z")
DAY = pd.Timedelta(days=1)


def _check() -> pd.DataFrame:
    rows = []
    for i, (computed, billed, verdict) in enumerate(
        [
            (5e6, 5e6, "match"),
            (7e6, 7.35e6, "differs"),
            (6e6, 6e6, "match"),
            (4e6, float("nan"), "not_billed_yet"),
        ]
    ):
        rows.append(
            {
                "account": "shop",
                "region": "CN",
                "method": "day_bandwidth",
                "period": f"2026-10-0{i + 1}",
                "period_start": OCT + i * DAY,
                "period_end": OCT + (i + 1) * DAY,
                "unit": "bit/s",
                "computed": computed,
                "billed": billed,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


def test_days_as_bars_billed_as_ticks_differing_day_shaded() -> None:
    ax = plot_bill_check(_check(), "shop")
    (bars,) = [c for c in ax.collections if c.get_gid() == "computed"]
    assert [round(p.vertices[:, 1].max(), 6) for p in bars.get_paths()] == [5.0, 7.0, 6.0, 4.0]  # Mbit/s
    (ticks,) = [c for c in ax.collections if c.get_gid() == "billed"]
    heights = [round(float(segment[0][1]), 6) for segment in ticks.get_segments()]
    assert heights == [5.0, 7.35, 6.0]
    shaded = [p for p in ax.patches if p.get_gid() == "finding"]
    assert len(shaded) == 1
    assert ax.get_ylabel() == "Mbit/s" and "1 differs" in ax.get_title(loc="left")


def test_monthly_two_marked_points_at_their_times() -> None:
    at_computed, at_billed = OCT + pd.Timedelta(days=29, hours=10, minutes=45), OCT + pd.Timedelta(days=3)
    check = pd.DataFrame(
        [
            {
                "account": "shop",
                "region": "CN",
                "method": "month_95",
                "period": "2026-10",
                "period_start": OCT,
                "period_end": OCT + 31 * DAY,
                "unit": "bit/s",
                "computed": 8.0e8,
                "billed": 8.4e8,
                "verdict": "differs",
                "computed_at": at_computed,
                "billed_at": at_billed,
            }
        ]
    )
    ax = plot_bill_check(check, "shop")
    from matplotlib.dates import num2date

    points = {line.get_gid(): line for line in ax.get_lines() if line.get_gid() in ("computed", "billed")}
    for word, at, value in (("computed", at_computed, 800.0), ("billed", at_billed, 840.0)):
        x, y = points[word].get_xdata()[0], points[word].get_ydata()[0]
        assert num2date(x).replace(tzinfo=None) == at.tz_localize(None).to_pydatetime()
        assert y == pytest.approx(value)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "10-30 02:45" not in texts and "10-30 10:45" in texts  # Beijing time
    assert "10-04 00:00" in texts


def test_unknown_account_is_an_argument_error() -> None:
    with pytest.raises(ArgumentError, match=r"no row of account .other.*shop"):
        plot_bill_check(_check(), "other")
