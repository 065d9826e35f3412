"""FOCUS 1.2 cost-and-usage rows from bill lines and from prices, checked against the sandbox and DuckDB."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd
import pytest
from _points import series

from usagekit.bss import bill_lines
from usagekit.errors import ArgumentError
from usagekit.focus import FOCUS_COST_COLUMNS, to_focus
from usagekit.frames import concat_frames, tidy_frame
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"
OCTOBER = ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z")
GB = 1024**3


@pytest.fixture(scope="module")
def month() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    methods = {"demo-shop": "hour_flow", "demo-media": "month_95"}
    with Sandbox(
        seed=8, now=NOW, clock="frozen", accounts=2, tasks=2, bill_types=methods, bill_split=2
    ) as box:
        usage = concat_frames([box.truth.usage_over(a.name, *OCTOBER) for a in box.accounts])
        lines = bill_lines(box.accounts, month="2026-10", now=NOW)
        uids = {a.name: box.instance_bills.uid(a.name) for a in box.accounts}
    return usage, lines, uids


def test_one_focus_row_per_bill_line_with_the_bills_money(month: tuple, tmp_path: object) -> None:
    usage, lines, uids = month
    focus = to_focus(usage, bill=lines)
    assert list(focus.columns) == list(FOCUS_COST_COLUMNS) and len(focus) == len(lines)
    assert focus["BillingAccountId"].tolist() == [uids[a] for a in lines["account"].astype(str)]
    assert (focus["BillingPeriodStart"] == pd.Timestamp("2026-09-30T16:00:00Z")).all()
    assert (focus["BillingPeriodEnd"] == pd.Timestamp("2026-10-31T16:00:00Z")).all()
    assert focus["BilledCost"].tolist() == lines["net"].tolist()
    usage_rows = (lines["item"] == "PayAsYouGoBill").to_numpy()
    assert focus.loc[usage_rows, "ListCost"].tolist() == lines.loc[usage_rows, "gross"].tolist()
    expected = {"PayAsYouGoBill": "Usage", "Refund": "Credit", "Adjustment": "Adjustment"}
    assert focus["ChargeCategory"].tolist() == [expected[str(i)] for i in lines["item"]]
    assert not focus["x_Provisional"].any() and not focus["x_Estimate"].any()
    # a daily line's charge period is its Beijing day
    first = focus[lines["billing_date"] == "2026-10-05"].iloc[0]
    assert (first["ChargePeriodStart"], first["ChargePeriodEnd"]) == (
        pd.Timestamp("2026-10-04T16:00:00Z"),
        pd.Timestamp("2026-10-05T16:00:00Z"),
    )
    # ConsumedQuantity: that Beijing day's traffic of the account and region, shared over the day's lines
    shop = usage[(usage["account"] == "demo-shop") & (usage["metric"] == "traffic")]
    local = shop["start"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=8)
    day = shop[(local.dt.strftime("%Y-%m-%d") == "2026-10-05") & (shop["region"] == "CN")]
    on_day = focus[
        (lines["billing_date"] == "2026-10-05").to_numpy() & (lines["region"] == "CN").to_numpy() & usage_rows
    ]
    by_hand = Decimal(repr(float(day["value"].sum()))) / GB
    assert abs(on_day["ConsumedQuantity"].sum() - by_hand) < Decimal("1e-6")
    # an independent reader: the sums DuckDB reads back from Parquet are the bill's, to the cent
    path = f"{tmp_path}/focus.parquet"
    focus.to_parquet(path)
    billed, listed = duckdb.sql(
        f"SELECT sum(BilledCost), sum(ListCost) FROM read_parquet('{path}')"  # noqa: S608 (a test's own path)
    ).fetchall()[0]
    assert billed == lines["net"].sum()
    assert listed == lines.loc[usage_rows, "gross"].sum() + lines.loc[~usage_rows, "net"].sum()


def test_prices_alone_give_an_estimate_marked_as_such() -> None:
    usage = tidy_frame(
        pd.concat(
            [
                series("2026-10-04T16:00:00Z", [8 * GB], metric="traffic"),
                series("2026-10-04T17:00:00Z", [4 * GB], metric="traffic"),
            ],
            ignore_index=True,
        )
    )
    table = pd.DataFrame(
        {
            "method": ["hour_flow", "hour_flow", "month_95"],
            "region": ["*"] * 3,
            "tier_from": [0, 10, 0],
            "tier_to": [10, None, None],
            "unit_price": ["1", "0.5", "20"],
            "currency": ["CNY"] * 3,
        }
    )
    focus = to_focus(usage, prices=table, methods="hour_flow")
    # hour 1: 8 GB x 1 = 8; hour 2: 2 GB x 1 + 2 GB x 0.5 = 3 (month-to-date tiers)
    assert focus["BilledCost"].tolist() == [Decimal("8"), Decimal("3")]
    assert focus["x_Estimate"].all() and focus["x_BillingAccountIdIsName"].all()
    assert focus["BillingAccountId"].tolist() == ["shop", "shop"]
    assert focus["PricingUnit"].tolist() == ["GB", "GB"] and focus["PricingQuantity"].tolist() == [8, 4]
    with pytest.raises(ArgumentError, match="methods="):
        to_focus(usage, prices=table)  # two methods priced: which is the account's?
    with pytest.raises(ArgumentError, match="not both"):
        to_focus(usage, prices=table, bill=pd.DataFrame({"gross": []}))


def test_usage_alone_keeps_the_usage_only_frame() -> None:
    usage = tidy_frame(series("2026-10-04T16:00:00Z", [1.0], metric="traffic"))
    focus = to_focus(usage)
    assert "BilledCost" not in focus.columns and focus["ConsumedUnit"].tolist() == ["B"]
    assert "NOT a FOCUS cost" in (to_focus.__doc__ or "")
