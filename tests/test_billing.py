"""Billing methods on series the tests build: every expected answer is worked out by hand here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _points import series

from usagekit.billing import PriceTableError, billing_quantities, compare_billing, read_prices
from usagekit.frames import tidy_frame


def usage(*parts: pd.DataFrame) -> pd.DataFrame:
    return tidy_frame(pd.concat(parts, ignore_index=True))


def only(frame: pd.DataFrame, **where: object) -> pd.Series:
    chosen = frame
    for column, value in where.items():
        chosen = chosen[chosen[column] == value]
    assert len(chosen) == 1, chosen
    return chosen.iloc[0]


# 2026-10-05 00:00 Beijing is 2026-10-04T16:00Z.
DAY = "2026-10-04T16:00:00Z"


def test_domains_are_summed_per_point_before_the_peak() -> None:
    # a peaks at the first point, b at the second: per point the account carries 11, 12, 3.
    frame = usage(
        series(DAY, [10, 3, 2], domain="a.example"),
        series(DAY, [1, 9, 1], domain="b.example"),
    )
    day = billing_quantities(frame, "day_bandwidth")
    assert len(day) == 1
    row = day.iloc[0]
    assert (row.account, row.region, row.period, row.quantity, row.points) == (
        "shop",
        "CN",
        "2026-10-05",
        12.0,
        3,
    )
    assert row.missing_points == 288 - 3
    assert row.period_start == pd.Timestamp("2026-10-04T16:00:00Z")
    assert row.period_end == pd.Timestamp("2026-10-05T16:00:00Z")
    month = only(billing_quantities(frame, "month_avg_day_bandwidth"), period="2026-10")
    assert month.quantity == 12.0


def test_accounts_are_billed_apart() -> None:
    frame = usage(series(DAY, [5, 1], account="shop"), series(DAY, [2, 7], account="media"))
    day = billing_quantities(frame, "day_bandwidth").set_index("account")["quantity"]
    assert day.to_dict() == {"media": 7.0, "shop": 5.0}


def test_beijing_days_and_months_decide_where_a_point_belongs() -> None:
    # 23:55 Beijing on 31 October is 15:55Z; 00:05 Beijing on 1 November is 16:05Z on 31 October (UTC
    # still October); 00:00 Beijing on 1 October is 16:00Z on 30 September (UTC still September).
    frame = usage(
        series("2026-09-30T16:00:00Z", [30]),  # October in Beijing
        series("2026-10-31T15:55:00Z", [50, 10, 80]),  # 23:55 (Oct), 00:00 and 00:05 (Nov)
    )
    months = billing_quantities(frame, "month_4th_day_bandwidth")
    assert months["period"].tolist() == ["2026-10", "2026-11"]
    days = billing_quantities(frame, "day_bandwidth")
    assert dict(zip(days["period"], days["quantity"], strict=True)) == {
        "2026-10-01": 30.0,
        "2026-10-31": 50.0,
        "2026-11-01": 80.0,
    }
    avg = billing_quantities(frame, "month_avg_day_bandwidth").set_index("period")["quantity"]
    assert avg.to_dict() == {"2026-10": 40.0, "2026-11": 80.0}  # UTC months would give Sep 30, Oct 65
    assert only(months, period="2026-10").period_start == pd.Timestamp("2026-09-30T16:00:00Z")
    assert only(months, period="2026-10").period_end == pd.Timestamp("2026-10-31T16:00:00Z")
    hours = billing_quantities(
        usage(series("2026-10-31T15:55:00Z", [75, 150, 300], metric="traffic")), "hour_flow"
    )
    assert dict(zip(hours["period"], hours["quantity"], strict=True)) == {
        "2026-10-31T23": 75.0,
        "2026-11-01T00": 450.0,
    }


@pytest.mark.parametrize(
    ("month_start", "points", "rounding", "expected"),
    [
        # November 2026: 30 days, 8,640 points, 5 % = 432 exactly: the 433rd highest, 8640 - 432.
        ("2026-10-31T16:00:00Z", 8640, "floor", 8208.0),
        ("2026-10-31T16:00:00Z", 8640, "ceil", 8208.0),
        # October 2026: 31 days, 8,928 points, 5 % = 446.4: 446 (floor) or 447 (ceil) discarded.
        ("2026-09-30T16:00:00Z", 8928, "floor", 8482.0),
        ("2026-09-30T16:00:00Z", 8928, "ceil", 8481.0),
    ],
)
def test_month_95_discards_the_top_five_percent(
    month_start: str, points: int, rounding: str, expected: float
) -> None:
    values = np.random.default_rng(3).permutation(np.arange(1, points + 1))  # 1..n, shuffled
    frame = usage(series(month_start, values))
    row = only(billing_quantities(frame, "month_95", percentile_rounding=rounding), method="month_95")
    assert (row.quantity, row.points, row.missing_points) == (expected, points, 0)


def test_month_95_night_half_counts_night_points_at_half() -> None:
    # 20 points, 1 discarded. 07:55 Beijing (23:55Z) holds 100, 08:00 (00:00Z) 60, 08:05 55, then 17 x 10.
    values = [100, 60, 55] + [10] * 17
    frame = usage(series("2026-10-04T23:55:00Z", values))
    assert only(billing_quantities(frame, "month_95"), period="2026-10").quantity == 60.0
    # At half the night point is 50: 60, 55, 50, ... with the top one discarded leaves 55.
    assert only(billing_quantities(frame, "month_95_night_half"), period="2026-10").quantity == 55.0


def test_fourth_daily_peak_and_fewer_than_four_days() -> None:
    days = [pd.Timestamp(DAY) + pd.Timedelta(days=d) for d in range(5)]
    peaks = [5, 9, 7, 3, 8]
    frame = usage(*(series(str(day), [peak, 1]) for day, peak in zip(days, peaks, strict=True)))
    assert only(billing_quantities(frame, "month_4th_day_bandwidth"), period="2026-10").quantity == 5.0
    three = usage(*(series(str(day), [peak, 1]) for day, peak in zip(days[:3], peaks[:3], strict=True)))
    row = only(billing_quantities(three, "month_4th_day_bandwidth"), period="2026-10")
    assert (row.quantity, row.points) == (0.0, 6)


def test_mean_of_daily_95ths() -> None:
    # 288 points a day; 5 % of 288 = 14.4: floor discards 14 (15th highest), ceil 15 (16th highest).
    first = np.arange(1, 289)  # 15th highest 274, 16th 273
    second = 2 * np.arange(1, 289)  # 548 and 546
    frame = usage(series(DAY, first[::-1]), series("2026-10-05T16:00:00Z", second))
    assert only(billing_quantities(frame, "month_avg_day_95"), period="2026-10").quantity == 411.0
    ceil = billing_quantities(frame, "month_avg_day_95", percentile_rounding="ceil")
    assert only(ceil, period="2026-10").quantity == 409.5


def test_missing_points_are_reported_and_empty_periods_absent() -> None:
    frame = usage(series(DAY, [4.0] * 200), series("2026-10-07T16:00:00Z", [6.0] * 5))
    days = billing_quantities(frame, "day_bandwidth")
    assert days["period"].tolist() == ["2026-10-05", "2026-10-08"]  # 6 and 7 October: no data, no row
    assert days["missing_points"].tolist() == [88, 283]
    month = only(billing_quantities(frame, "month_95"), period="2026-10")
    assert (month.points, month.missing_points) == (205, 8928 - 205)
    assert month.quantity == 4.0  # 205 points, 10 discarded: five 6s, then the 11th highest is a 4
    hours = billing_quantities(usage(series(DAY, [75.0] * 5, metric="traffic")), "hour_flow")
    assert (hours["points"].tolist(), hours["missing_points"].tolist()) == ([5], [7])


def test_overseas_methods_bill_the_regions_outside_the_mainland_together() -> None:
    frame = usage(
        series(DAY, [5, 1], region="CN"),
        series(DAY, [3, 6], region="AP1"),
        series(DAY, [4, 0], region="EU"),
    )
    regional = billing_quantities(frame, "day_bandwidth").set_index("region")["quantity"]
    assert regional.to_dict() == {"AP1": 6.0, "CN": 5.0, "EU": 4.0}
    combined = billing_quantities(frame, "day_bandwidth_overseas")
    # Outside the mainland the account carries 3 + 4 = 7, then 6 + 0 = 6: one peak of 7 (not 6 + 4).
    assert combined.set_index("region")["quantity"].to_dict() == {"CN": 5.0, "OVERSEAS": 7.0}
    assert set(combined["method"]) == {"day_bandwidth_overseas"}


def test_idle_days_count_only_when_asked() -> None:
    frame = usage(series(DAY, [8, 2]), series("2026-10-05T16:00:00Z", [0, 0]))
    assert len(billing_quantities(frame, "day_bandwidth")) == 1
    assert len(billing_quantities(frame, "day_bandwidth", count_idle_days=True)) == 2
    default = only(billing_quantities(frame, "month_avg_day_bandwidth"), period="2026-10")
    counted = only(
        billing_quantities(frame, "month_avg_day_bandwidth", count_idle_days=True), period="2026-10"
    )
    assert (default.quantity, default.points) == (8.0, 2)
    assert (counted.quantity, counted.points) == (4.0, 4)
    assert default.missing_points == counted.missing_points == 8928 - 4


def test_requests_bill_per_beijing_hour() -> None:
    frame = usage(
        series(DAY, [10, 20], metric="requests", region=None, domain="a.example"),
        series(DAY, [1, 2], metric="requests", region=None, domain="b.example"),
    )
    row = only(billing_quantities(frame, "hour_count"), period="2026-10-05T00")
    assert (row.quantity, row.unit, row.points) == (33.0, "request", 2)
    assert pd.isna(row.region)


def test_unknown_method_and_rounding_are_refused() -> None:
    frame = usage(series(DAY, [1]))
    with pytest.raises(ValueError, match="unknown billing method 'month_96'"):
        billing_quantities(frame, "month_96")
    with pytest.raises(ValueError, match="percentile_rounding"):
        billing_quantities(frame, "month_95", percentile_rounding="nearest")


PRICES = pd.DataFrame(
    {
        "method": ["hour_flow", "hour_flow", "day_bandwidth", "day_bandwidth", "month_95"],
        "region": ["CN", "CN", "*", "*", "CN"],
        "tier_from": [0, 10, 0, 100, 0],
        "tier_to": [10, None, 100, None, None],
        "unit_price": [1.0, 0.5, 2.0, 1.0, 30.0],
        "currency": ["CNY"] * 5,
    }
)


def test_tiered_prices_across_a_tier_boundary() -> None:
    gb = 1024**3
    # Traffic: 5 GB in each of three hours, 15 GB in the month: 10 GB at 1.0 and 5 GB at 0.5 = 12.5.
    traffic = usage(
        series(DAY, [5 * gb], metric="traffic"),
        series("2026-10-04T17:00:00Z", [5 * gb], metric="traffic"),
        series("2026-10-05T17:00:00Z", [5 * gb], metric="traffic"),
    )
    # Bandwidth: day peaks 150 and 50 Mbit/s; each day through the tiers: 100*2 + 50*1 = 250, then
    # 50*2 = 100; 350 in all (a flat first-tier rate would give 400). month_95 of 4 points (none
    # discarded): 150 Mbit/s at 30 = 4500.
    bandwidth = usage(series(DAY, [150e6, 20e6]), series("2026-10-05T16:00:00Z", [50e6, 10e6]))
    table = compare_billing(
        usage(traffic, bandwidth), prices=PRICES, methods=["hour_flow", "day_bandwidth", "month_95"]
    )
    rows = table.set_index("method")
    assert rows.loc["hour_flow", "quantity"] == 15.0
    assert rows.loc["hour_flow", "unit"] == "GB"
    assert rows.loc["hour_flow", "cost"] == 12.5
    assert rows.loc["day_bandwidth", "quantity"] == 200.0
    assert rows.loc["day_bandwidth", "unit"] == "Mbit/s-days"
    assert rows.loc["day_bandwidth", "days"] == 2
    assert rows.loc["day_bandwidth", "cost"] == 350.0
    assert rows.loc["month_95", "quantity"] == 150.0
    assert rows.loc["month_95", "cost"] == 4500.0
    assert rows.index.tolist() == ["hour_flow", "day_bandwidth", "month_95"]
    assert rows["cheapest"].tolist() == [True, False, False]
    assert set(table["currency"]) == {"CNY"}
    assert (table["month"] == "2026-10").all()


def test_compare_without_prices_has_no_costs_and_overseas_rows_only_outside_the_mainland() -> None:
    frame = usage(series(DAY, [5e6, 1e6], region="CN"), series(DAY, [3e6, 6e6], region="AP1"))
    table = compare_billing(frame)
    assert table["cost"].isna().all() and table["cheapest"].isna().all()
    overseas = table[table["method"] == "day_bandwidth_overseas"]
    assert overseas["region"].tolist() == ["OVERSEAS"]
    assert overseas["quantity"].tolist() == [6.0]
    assert set(table.loc[table["region"] == "CN", "method"]) == {
        "day_bandwidth",
        "month_95",
        "month_avg_day_bandwidth",
        "month_4th_day_bandwidth",
        "month_avg_day_95",
        "month_95_night_half",
    }  # no traffic rows in this frame: hour_flow is absent, not zero


def test_price_tables_are_checked(tmp_path: Path) -> None:
    gap = PRICES.copy()
    gap.loc[1, "tier_from"] = 12
    with pytest.raises(PriceTableError, match="hour_flow in CN: each tier must start where"):
        read_prices(gap)
    with pytest.raises(PriceTableError, match="lacks the columns"):
        read_prices(PRICES.drop(columns="currency"))
    unknown = PRICES.assign(method=["hour_flows", *PRICES["method"][1:]])
    with pytest.raises(PriceTableError, match="unknown methods"):
        read_prices(unknown)
    path = tmp_path / "prices.csv"
    PRICES.to_csv(path, index=False)
    table = read_prices(path)
    assert table.loc[table["method"] == "hour_flow", "tier_to"].tolist() == [10.0, float("inf")]
    assert isinstance(PriceTableError("x"), ValueError)
