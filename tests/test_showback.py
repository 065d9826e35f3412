"""allocate_cost on frames built here, the answers worked out by hand in each test."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from _points import series
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usagekit
from usagekit.billing import BASE_METHODS
from usagekit.errors import ArgumentError
from usagekit.frames import concat_frames, tidy_frame
from usagekit.prices import price_periods

MBIT = 1e6
GB = 1024**3
DAY1 = "2026-10-04T16:00:00Z"  # 2026-10-05 00:00 Beijing
DAY2 = "2026-10-05T16:00:00Z"  # 2026-10-06 00:00 Beijing


def _usage(*parts: pd.DataFrame) -> pd.DataFrame:
    return concat_frames([tidy_frame(p) for p in parts])


def _prices(method: str, price: str, region: str = "*", currency: str = "CNY") -> pd.DataFrame:
    return pd.DataFrame(
        {"method": [method], "region": [region], "tier_from": [0], "tier_to": [None], "unit_price": [price],
         "currency": [currency]}
    )  # fmt: skip


def _amounts(frame: pd.DataFrame, column: str = "domain") -> dict[tuple[str, str], str]:
    return {(r.period, str(getattr(r, column))): str(r.amount) for r in frame.itertuples()}


def test_day_bandwidth_splits_at_the_account_peak_and_a_domain_absent_there_owes_nothing() -> None:
    # day 1: a carries 1 Mbit/s, 50 at point 100; b is idle but 30 at point 150 (total 31 there).
    # The account peaks at point 100 (50 Mbit/s), where b carries nothing: a owes all of 50 x 2.00.
    a1 = np.full(288, 1.0) * MBIT
    a1[100] = 50 * MBIT
    b1 = np.zeros(288)
    b1[150] = 30 * MBIT
    # day 2: a 10 everywhere; b 20 at point 50 only: the peak is 30 there, a 10/30 and b 20/30 of 60.00.
    a2 = np.full(288, 10.0) * MBIT
    b2 = np.zeros(288)
    b2[50] = 20 * MBIT
    usage = _usage(
        series(DAY1, np.concatenate([a1, a2]), domain="a.example"),
        series(DAY1, np.concatenate([b1, b2]), domain="b.example"),
    )
    split = usagekit.allocate_cost(usage, method="day_bandwidth", prices=_prices("day_bandwidth", "2.00"))
    assert split.columns.tolist() == [
        "account",
        "method",
        "period",
        "domain",
        "share",
        "amount",
        "currency",
        "rule",
        "at",
    ]
    assert _amounts(split) == {
        ("2026-10-05", "a.example"): "100.00000000",
        ("2026-10-05", "b.example"): "0E-8",
        ("2026-10-06", "a.example"): "20.00000000",
        ("2026-10-06", "b.example"): "40.00000000",
    }
    assert set(split["at"]) == {"2026-10-05T00:20:00Z", "2026-10-05T20:10:00Z"}  # points 100 and 288+50
    assert split["share"].round(6).tolist() == [1.0, 0.0, round(1 / 3, 6), round(2 / 3, 6)]
    assert set(split["rule"]) == {"at_daily_peak"}


def _night_month() -> pd.DataFrame:
    """November 2026 (30 Beijing days, 8,640 points, 432 discarded): 'night' only from 00:00 to 08:00 Beijing."""
    start = pd.Timestamp("2026-10-31T16:00:00Z")
    local_hour = ((np.arange(8640) * 5) // 60) % 24
    night_time = local_hour < 8
    night = np.where(night_time, 100.0, 0.0)
    day = np.where(night_time, 10.0, 50.0)
    daytime = np.flatnonzero(~night_time)
    day[daytime[::13][:432]] = 200.0  # exactly 432 points above every night point: the discarded top 5 %
    assert (day[daytime] == 200).sum() == 432
    return _usage(
        series(str(start), night * MBIT, domain="night.example"),
        series(str(start), day * MBIT, domain="day.example"),
    )


def test_month_95_where_the_billed_point_falls_in_the_night_only_domains_hours() -> None:
    # Sorted, 432 daytime points of 200 go; the next is the first night point (100 + 10 = 110 Mbit/s), the
    # earliest of the equal ones: 2026-11-01 00:00 Beijing. At 1.00 per Mbit/s the month costs 110.00:
    # night owes 100/110 of it, day 10/110.
    split = usagekit.allocate_cost(_night_month(), method="month_95", prices=_prices("month_95", "1.00"))
    assert _amounts(split) == {
        ("2026-11", "day.example"): "10.00000000",
        ("2026-11", "night.example"): "100.00000000",
    }
    assert set(split["at"]) == {"2026-10-31T16:00:00Z"}


def test_month_95_top_band_averages_the_shares_over_the_discarded_points_and_the_billed_one() -> None:
    # 432 points where day carries everything, plus the billed point (night 100/110): night's share is
    # (100/110) / 433 of 110.00 = 0.2309...: 23 cents, and day takes the remaining 109.77.
    split = usagekit.allocate_cost(
        _night_month(), method="month_95", prices=_prices("month_95", "1.00"), rule="top_band"
    )
    assert _amounts(split) == {
        ("2026-11", "day.example"): "109.77000000",
        ("2026-11", "night.example"): "0.23000000",
    }
    assert set(split["rule"]) == {"top_band"}
    assert split["at"].iloc[0] == "2026-10-31T16:00:00Z and the 432 points above it"


def test_unattributed_is_its_own_line_and_a_mapping_leaves_unmapped_domains_apart() -> None:
    # hour_flow, one Beijing day: a 3 GB, b 2 GB, the rest of the account (no domain) 1 GB; 1.00 per GB.
    usage = _usage(
        series(DAY1, [3 * GB], domain="a.example", metric="traffic"),
        series(DAY1, [2 * GB], domain="b.example", metric="traffic"),
        series(DAY1, [1 * GB], domain=None, metric="traffic"),
    )
    prices = _prices("hour_flow", "1.00")
    split = usagekit.allocate_cost(usage, method="hour_flow", prices=prices)
    assert _amounts(split) == {
        ("2026-10-05", "a.example"): "3.00000000",
        ("2026-10-05", "b.example"): "2.00000000",
        ("2026-10-05", "unattributed"): "1.00000000",
    }
    mapping = pd.DataFrame({"domain": ["a.example"], "team": ["web"]})
    teams = usagekit.allocate_cost(usage, method="hour_flow", prices=prices, mapping=mapping, by="team")
    assert teams.columns[3] == "team"
    assert _amounts(teams, "team") == {
        ("2026-10-05", "web"): "3.00000000",
        ("2026-10-05", "unmapped"): "2.00000000",
        ("2026-10-05", "unattributed"): "1.00000000",
    }
    as_dict = usagekit.allocate_cost(
        usage, method="hour_flow", prices=prices, mapping={"a.example": "web"}, by="team"
    )
    assert _amounts(as_dict, "team") == _amounts(teams, "team")
    by_domain = usagekit.allocate_cost(usage, method="hour_flow", prices=prices, mapping=mapping)
    assert dict(zip(by_domain["domain"], by_domain["team"], strict=True)) == {
        "a.example": "web", "b.example": "unmapped", "unattributed": "unattributed",
    }  # fmt: skip


def test_bill_lines_are_split_to_the_cent_by_largest_remainder() -> None:
    # a and b equal all day: 10.01 splits 5.01 / 5.00 (the odd cent to the first), a refund of -0.03 as
    # -0.02 / -0.01; JPY has no minor unit: 101 yen split 51 / 50.
    usage = _usage(
        series(DAY1, [5 * MBIT] * 2, domain="a.example"),
        series(DAY1, [5 * MBIT] * 2, domain="b.example"),
        series(DAY1, [5 * MBIT], domain="a.example", account="jp"),
        series(DAY1, [5 * MBIT], domain="b.example", account="jp"),
    )
    bill = pd.DataFrame(
        {
            "account": ["shop", "shop", "jp"],
            "billing_cycle": ["2026-10"] * 3,
            "billing_date": ["2026-10-05"] * 3,
            "net": [Decimal("10.04"), Decimal("-0.03"), Decimal("101")],
            "currency": ["CNY", "CNY", "JPY"],
        }
    )
    split = usagekit.allocate_cost(usage, method="day_bandwidth", bill=bill)
    got = {(r.account, r.domain): str(r.amount) for r in split.itertuples()}
    assert got == {
        ("jp", "a.example"): "51.00000000",
        ("jp", "b.example"): "50.00000000",
        ("shop", "a.example"): "5.01000000",
        ("shop", "b.example"): "5.00000000",
    }


METHODS = [*BASE_METHODS, "month_95_overseas", "day_bandwidth_overseas"]


@st.composite
def _month(draw: st.DrawFn) -> tuple[pd.DataFrame, str, str]:
    method = draw(st.sampled_from(METHODS))
    days = draw(st.integers(1, 5))
    domains = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    metric = "traffic" if method.startswith("hour_flow") else "bandwidth"
    regions = ["CN", "EU"] if method.endswith("_overseas") else ["CN"]
    parts = []
    for region in regions:
        for d in range(domains):
            values = rng.integers(0, 1000, size=days * 288).astype(float)
            values[rng.random(len(values)) < 0.3] = 0
            parts.append(
                series(
                    "2026-09-30T16:00:00Z", values * 1e5, domain=f"d{d}.example", region=region, metric=metric
                )
            )
        parts.append(
            series(
                "2026-09-30T16:00:00Z",
                rng.integers(0, 100, size=days * 288) * 1e5,
                domain=None,
                region=region,
                metric=metric,
            )
        )
    price = str(draw(st.decimals("0.0001", "9.9999", places=4)))
    return _usage(*parts), method, price


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_month())
def test_every_method_conserves_each_period_to_the_cent(case: tuple[pd.DataFrame, str, str]) -> None:
    usage, method, price = case
    prices = pd.concat([_prices(method, price, region=r) for r in ("CN", "OVERSEAS")], ignore_index=True)
    split = usagekit.allocate_cost(usage, method=method, prices=prices)
    assert split.attrs["unpriced"] == []
    # the periods' amounts, independently: each region's priced cost of the period (hour_flow: its hours
    # summed per Beijing day), rounded to the cent (half to even), then the regions added
    costs = price_periods(usagekit.billing_quantities(usage, method), prices)
    exact: dict[tuple[str, str], Decimal] = {}
    for row in costs.itertuples():
        key = (row.period[:10] if method.startswith("hour_flow") else row.period, str(row.region))
        exact[key] = exact.get(key, Decimal(0)) + row.cost
    expected: dict[str, Decimal] = {}
    for (period, _region), cost in exact.items():
        expected[period] = expected.get(period, Decimal(0)) + cost.quantize(Decimal("0.01"))
    got: dict[str, Decimal] = {}
    for row in split.itertuples():
        got[row.period] = got.get(row.period, Decimal(0)) + row.amount
        assert row.amount == row.amount.quantize(Decimal("0.01"))
    assert got == expected
    assert set(split["domain"].astype(str)) <= {"d0.example", "d1.example", "d2.example", "unattributed"}


def test_bad_arguments_are_refused_before_anything_is_done() -> None:
    usage = _usage(series(DAY1, [1.0]))
    prices = _prices("day_bandwidth", "1")
    with pytest.raises(ArgumentError, match="lacks"):
        usagekit.allocate_cost(pd.DataFrame({"x": [1]}), method="day_bandwidth", prices=prices)
    with pytest.raises(ArgumentError, match="exactly one source"):
        usagekit.allocate_cost(usage, method="day_bandwidth")
    with pytest.raises(ArgumentError, match="rule"):
        usagekit.allocate_cost(usage, method="day_bandwidth", prices=prices, rule="peak")
    with pytest.raises(ArgumentError, match="mapping"):
        usagekit.allocate_cost(usage, method="day_bandwidth", prices=prices, by="team")
    with pytest.raises(ArgumentError, match="more than once"):
        usagekit.allocate_cost(usage, method="day_bandwidth", prices=prices,
                               mapping=pd.DataFrame({"domain": ["a", "a"], "team": ["x", "y"]}))  # fmt: skip
    with pytest.raises(ArgumentError, match="hour_count"):
        usagekit.allocate_cost(usage, method="hour_count", prices=prices)


def test_periods_the_price_table_does_not_price_are_named_not_split() -> None:
    from usagekit.showback import UnpricedWarning

    # month_95_overseas bills CN and OVERSEAS apart; the table prices OVERSEAS only (2.00 per Mbit/s)
    usage = _usage(
        series(DAY1, [10 * MBIT], domain="a.example", region="CN"),
        series(DAY1, [4 * MBIT], domain="a.example", region="EU"),
    )
    with pytest.warns(UnpricedWarning, match="shop month_95_overseas CN"):
        split = usagekit.allocate_cost(
            usage, method="month_95_overseas", prices=_prices("month_95_overseas", "2.00", region="OVERSEAS")
        )
    assert _amounts(split) == {("2026-10", "a.example"): "8.00000000"}
    assert split["at"].tolist() == ["OVERSEAS: 2026-10-04T16:00:00Z"]
    assert split.attrs["unpriced"] == [
        {"account": "shop", "method": "month_95_overseas", "region": "CN", "period": "2026-10"}
    ]
