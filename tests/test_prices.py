"""Price tables and price_periods: each billed period's cost, exact, against tier arithmetic written here."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from _points import series

from usagekit.billing import billing_quantities, compare_billing
from usagekit.frames import tidy_frame
from usagekit.prices import PriceTableError, example_prices, money_dtype, price_periods, read_prices

DAY = "2026-10-04T16:00:00Z"  # 2026-10-05 00:00 Beijing

GB = 1024**3
PRICES = pd.DataFrame(
    {
        "method": ["hour_flow", "hour_flow", "day_bandwidth", "day_bandwidth", "month_95"],
        "region": ["CN", "CN", "*", "*", "CN"],
        "tier_from": [0, 10, 0, 100, 0],
        "tier_to": [10, None, 100, None, None],
        "unit_price": ["0.24", "0.23", "0.90", "0.85", "24.1"],
        "currency": ["CNY"] * 5,
    }
)


def usage(*parts: pd.DataFrame) -> pd.DataFrame:
    return tidy_frame(pd.concat(parts, ignore_index=True))


def test_hour_flow_hours_pay_at_their_month_to_date_position_in_the_tiers() -> None:
    # Three hours of 4 GB, 4 GB and 5 GB: 13 GB in the month. Hour 1: 4 x 0.24 = 0.96; hour 2: 4 x 0.24
    # = 0.96; hour 3 crosses 10 GB: 2 x 0.24 + 3 x 0.23 = 0.48 + 0.69 = 1.17. Sum 3.09 = 10 x 0.24 + 3 x 0.23.
    frame = usage(
        series(DAY, [4 * GB], metric="traffic"),
        series("2026-10-04T17:00:00Z", [4 * GB], metric="traffic"),
        series("2026-10-05T18:00:00Z", [5 * GB], metric="traffic"),
    )
    priced = price_periods(billing_quantities(frame, "hour_flow"), PRICES)
    assert priced["cost"].tolist() == [Decimal("0.96"), Decimal("0.96"), Decimal("1.17")]
    assert priced["cost"].dtype == money_dtype()
    assert priced["cost"].sum() == Decimal("3.09")  # exact: no binary float anywhere
    assert priced["pricing_unit"].tolist() == ["GB"] * 3
    assert priced["currency"].tolist() == ["CNY"] * 3


def test_day_bandwidth_prices_each_days_peak_and_monthly_methods_the_month() -> None:
    # Day peaks 150 and 50 Mbit/s: 100 x 0.90 + 50 x 0.85 = 132.50, then 50 x 0.90 = 45.00.
    frame = usage(series(DAY, [150e6, 20e6]), series("2026-10-05T16:00:00Z", [50e6, 10e6]))
    days = price_periods(billing_quantities(frame, "day_bandwidth"), PRICES)
    assert days["period"].tolist() == ["2026-10-05", "2026-10-06"]
    assert days["cost"].tolist() == [Decimal("132.5"), Decimal("45")]
    # month_95 of four points keeps the highest (none discarded): 150 Mbit/s x 24.1 = 3615.
    month = price_periods(billing_quantities(frame, "month_95"), PRICES)
    assert month["cost"].tolist() == [Decimal("3615")]
    # a method the table does not price: NA, not 0
    other = price_periods(billing_quantities(frame, "month_avg_day_95"), PRICES)
    assert other["cost"].isna().all() and other["currency"].isna().all()


def test_tiny_prices_are_not_rounded_through_binary_floats() -> None:
    # 0.1 GB at 0.1 per GB is 0.01 exactly (0.1 * 0.1 in binary floats is 0.010000000000000002)
    table = PRICES.assign(unit_price=[0.1, 0.1, 1, 1, 1])
    frame = usage(series(DAY, [0.1 * GB], metric="traffic"))
    priced = price_periods(billing_quantities(frame, "hour_flow"), table)
    assert priced["cost"].tolist() == [Decimal("0.01")]


def test_compare_billing_totals_are_price_periods_sums() -> None:
    frame = usage(
        series(DAY, [4 * GB], metric="traffic"),
        series("2026-10-05T18:00:00Z", [9 * GB], metric="traffic"),
    )
    table = compare_billing(frame, prices=PRICES, methods=["hour_flow"])
    assert table["cost"].tolist() == [pytest.approx(10 * 0.24 + 3 * 0.23, abs=1e-12)]


def test_read_prices_keeps_money_exact_and_refuses_a_negative_price() -> None:
    table = read_prices(PRICES)
    assert table["unit_price"].dtype == money_dtype()
    assert Decimal("24.1") in table["unit_price"].tolist()
    with pytest.raises(PriceTableError, match="unit_price must be a number >= 0"):
        read_prices(PRICES.assign(unit_price=["-1", "1", "1", "1", "1"]))
    assert example_prices().loc[lambda t: t["method"] == "month_95", "unit_price"].tolist() == [Decimal("24")]


def test_an_overseas_method_prices_the_mainland_as_its_base_method() -> None:
    # month_95_overseas bills CN on its own, as month_95 does: priced by month_95's CN tier (24.1), while
    # the combined OVERSEAS region takes the _overseas method's own price (30)
    table = pd.concat(
        [
            PRICES,
            pd.DataFrame(
                {
                    "method": ["month_95_overseas"],
                    "region": ["OVERSEAS"],
                    "tier_from": [0],
                    "tier_to": [None],
                    "unit_price": ["30"],
                    "currency": ["CNY"],
                }
            ),
        ],
        ignore_index=True,
    )
    frame = usage(series(DAY, [10e6], region="CN"), series(DAY, [2e6], region="AP1"))
    priced = price_periods(billing_quantities(frame, "month_95_overseas"), table).set_index("region")
    assert priced.loc["CN", "cost"] == Decimal("241") and priced.loc["OVERSEAS", "cost"] == Decimal("60")
