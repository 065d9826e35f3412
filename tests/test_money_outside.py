"""The money tried from outside, as a FinOps analyst would: bill lines, price tables, check_cost, to_focus.

Expected values come from outside the code: numbers written here, DuckDB reading the frames, and the
sandbox's own bill (its reply items) as its truth.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from usagekit.bss import bill_lines
from usagekit.costcheck import check_cost
from usagekit.errors import ArgumentError, PriceTableError, UsagekitError, UsagekitWarning
from usagekit.focus import to_focus
from usagekit.frames import concat_frames
from usagekit.prices import example_prices, read_prices
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"  # Friday Nov 20th, 16:00 Beijing: October final, November provisional
OCTOBER = ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z")  # the Beijing month, in UTC


@pytest.fixture(scope="module")
def box() -> Sandbox:
    with Sandbox(
        seed=3,
        now=NOW,
        clock="frozen",
        accounts=2,
        tasks=2,
        bill_types={"demo-shop": "month_95", "demo-media": "day_bandwidth"},
    ) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def october(box: Sandbox) -> pd.DataFrame:
    return concat_frames([box.truth.usage_over(a.name, *OCTOBER) for a in box.accounts])


def test_bill_lines_of_a_frozen_sandbox_month_take_its_time_not_the_real_clock(box: Sandbox) -> None:
    # the sandbox stands at Nov 20th: November's bill is provisional (final after 12:00 Beijing on Dec 3rd)
    # and lines appear a day after their day, so none is dated after Nov 19th
    lines = bill_lines(box.accounts[1], month="2026-11")
    assert len(lines) > 0
    assert not lines["final"].any()
    assert lines["billing_date"].max() <= "2026-11-19"


def test_bill_lines_of_a_month_not_begun_is_refused_not_an_empty_frame(box: Sandbox) -> None:
    with pytest.raises(ArgumentError, match=r"2027-01.*(begun|not started)"):
        bill_lines(box.accounts, month="2027-01")


def test_focus_of_a_monthly_line_carries_the_months_traffic(box: Sandbox, october: pd.DataFrame) -> None:
    shop = box.accounts[0]
    lines = bill_lines(shop, month="2026-10", granularity="monthly")
    focus = to_focus(october, bill=lines)
    usage_rows = focus[focus["ChargeCategory"] == "Usage"]
    assert len(usage_rows) > 0
    traffic = october[(october["account"] == shop.name) & (october["metric"] == "traffic")]
    traffic = traffic.assign(region=traffic["region"].astype(str), value=traffic["value"].astype(float))
    gb = duckdb.sql(  # DuckDB sums the month's bytes per region, the independent reader
        "select region, sum(cast(value as hugeint)) as bytes from traffic group by region"
    ).fetchall()
    by_region = {region: Decimal(int(total)) / Decimal(1024**3) for region, total in gb}
    by_region["OVERSEAS"] = sum((v for r, v in by_region.items() if r != "CN"), Decimal(0))
    for row in usage_rows.itertuples(index=False):
        shares = (usage_rows["RegionId"] == row.RegionId).sum()
        expected = (by_region[row.RegionId] / shares).quantize(Decimal("0.00000001"))
        assert row.ConsumedQuantity > 0
        assert abs(row.ConsumedQuantity - expected) <= Decimal("0.00000001")


def test_focus_costs_are_the_sandboxs_bill_to_the_cent_read_back_by_duckdb(
    box: Sandbox, tmp_path: Path
) -> None:
    media = box.accounts[1]
    lines = bill_lines(media, month="2026-10")
    with pytest.warns(UsagekitWarning, match="ConsumedQuantity"):  # no usage: costs only
        focus = to_focus(_empty_usage(), bill=lines)
    path = tmp_path / "focus.parquet"
    focus.to_parquet(path, index=False)
    billed, listed, types = duckdb.execute(
        "select sum(BilledCost), sum(ListCost), typeof(sum(BilledCost)) from read_parquet(?)", [str(path)]
    ).fetchall()[0]
    assert types.startswith("DECIMAL")
    truth = box.instance_bills.lines(media.name, "2026-10")  # the sandbox's own reply items
    net = sum((Decimal(repr(i["PretaxAmount"])) for i in truth), Decimal(0))
    gross = sum(
        (
            Decimal(repr(i["PretaxGrossAmount"] if i["Item"] == "PayAsYouGoBill" else i["PretaxAmount"]))
            for i in truth
        ),
        Decimal(0),
    )
    assert len(focus) == len(truth) > 0
    assert billed == net and listed == gross
    assert lines["net"].sum() == net  # exact decimal sums, no float on the way


def _empty_usage() -> pd.DataFrame:
    from usagekit.frames import tidy_frame

    return tidy_frame({})


def test_check_cost_of_usage_lacking_a_day_says_incomplete_usage_not_that_the_bill_differs(
    box: Sandbox, october: pd.DataFrame
) -> None:
    shop = box.accounts[0]  # month_95: the month's one quantity moves when a day is missing
    lines = bill_lines(shop, month="2026-10", granularity="monthly")
    beijing = october["start"].dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")
    lacking = october[beijing != "2026-10-12"]
    check = check_cost(lacking, lines, prices=example_prices(), accounts=shop)
    assert len(check) > 0
    assert (check["verdict"] == "incomplete_usage").all(), check[["verdict", "explanation"]]
    assert check["explanation"].str.contains("288").all()  # one Beijing day of 5-minute points
    full = check_cost(october, lines, prices=example_prices(), accounts=shop)
    assert (full["verdict"] == "match").all(), full[["verdict", "explanation"]]


def test_a_price_beyond_what_money_columns_hold_is_a_price_table_error() -> None:
    table = pd.DataFrame(
        {"method": ["month_95"], "region": ["*"], "tier_from": [0], "tier_to": [None],
         "unit_price": ["12345678901.5"], "currency": ["CNY"]}
    )  # fmt: skip
    with pytest.raises(PriceTableError, match="unit_price"):
        read_prices(table)


def test_a_price_table_row_with_an_empty_region_or_not_a_table_is_refused() -> None:
    table = pd.DataFrame(
        {"method": ["month_95"], "region": [""], "tier_from": [0], "tier_to": [None],
         "unit_price": ["24"], "currency": ["CNY"]}
    )  # fmt: skip
    with pytest.raises(PriceTableError, match="region"):
        read_prices(table)
    with pytest.raises(ArgumentError, match="prices"):
        read_prices(42)  # type: ignore[arg-type]


def test_a_focus_estimate_under_a_method_the_table_does_not_price_is_refused_not_empty(
    october: pd.DataFrame,
) -> None:
    table = pd.DataFrame(
        {"method": ["month_95"], "region": ["*"], "tier_from": [0], "tier_to": [None],
         "unit_price": ["24"], "currency": ["CNY"]}
    )  # fmt: skip
    with pytest.raises(UsagekitError, match="day_bandwidth"):
        to_focus(october, prices=table, methods="day_bandwidth")
    estimate = to_focus(october, prices=table, methods="month_95")
    assert len(estimate) == 2  # two accounts, one region each (CN) in the seeded world, October


def test_the_demos_cost_check_csv_writes_money_as_plain_decimals(
    box: Sandbox, october: pd.DataFrame, tmp_path: Path
) -> None:
    import csv

    from usagekit.cli.demo_money import write_money_files

    list(write_money_files(box, october, tmp_path))  # the month before the sandbox's now: October
    with open(tmp_path / "cost_check.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        for column in ("gross", "deductions", "net", "adjustments", "expected"):
            assert "E" not in row[column].upper(), (column, row[column])  # '0E-8' is no amount a sheet shows
    truth = sum(
        (Decimal(repr(i["PretaxGrossAmount"])) for a in box.accounts
         for i in box.instance_bills.lines(a.name, "2026-10") if i["Item"] == "PayAsYouGoBill"),
        Decimal(0),
    )  # fmt: skip
    assert sum(Decimal(r["gross"]) for r in rows) == truth


def test_check_cost_with_a_table_in_another_currency_is_refused_not_a_match(
    box: Sandbox, october: pd.DataFrame
) -> None:
    media = box.accounts[1]
    lines = bill_lines(media, month="2026-10")
    assert set(lines["currency"]) == {"CNY"}  # the sandbox bills with the example table, in CNY
    in_dollars = example_prices().assign(currency="USD")  # the same numbers, another currency
    with pytest.raises(PriceTableError, match=r"CNY.*USD|USD.*CNY"):
        check_cost(october, lines, prices=in_dollars, accounts=media)


def test_price_periods_of_usage_instead_of_billed_quantities_is_an_argument_error(
    october: pd.DataFrame,
) -> None:
    with pytest.raises(ArgumentError, match="billing_quantities"):
        from usagekit.prices import price_periods

        price_periods(october, example_prices())


def test_check_cost_of_no_bill_line_for_the_accounts_is_refused_not_an_empty_check(
    box: Sandbox, october: pd.DataFrame
) -> None:
    shop, media = box.accounts
    lines = bill_lines(media, month="2026-10")
    with pytest.raises(ArgumentError, match="no bill line"):
        check_cost(october, lines.iloc[0:0], prices=example_prices(), accounts=media)
    with pytest.raises(ArgumentError, match="demo-shop"):
        check_cost(october, lines, prices=example_prices(), accounts=shop)


def test_check_cost_whose_accounts_hold_none_of_the_lines_is_refused(
    box: Sandbox, october: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # accounts=None is every discovered account; here none is discovered, and the lines are the sandbox's
    import usagekit.costcheck as costcheck

    monkeypatch.setattr(costcheck, "resolve_accounts", lambda accounts: [])
    lines = bill_lines(box.accounts[1], month="2026-10")
    with pytest.raises(ArgumentError, match="demo-media"):
        check_cost(october, lines, prices=example_prices())


def test_an_hour_flow_estimate_totals_the_months_traffic_through_the_tiers_to_the_cent(
    october: pd.DataFrame,
) -> None:
    shop = october[october["account"] == "demo-shop"]
    traffic = shop[shop["metric"] == "traffic"].assign(value=lambda f: f["value"].astype(float))
    con = duckdb.connect()
    con.register("traffic", traffic)
    (total_bytes,) = con.sql("select sum(cast(value as hugeint)) from traffic").fetchall()[0]
    gb = Decimal(int(total_bytes)) / Decimal(1024**3)
    assert gb < 10240  # the example's first tier: 0.24 CNY per GB up to 10,240 GB in the month
    expected = (gb * Decimal("0.24")).quantize(Decimal("0.01"))
    estimate = to_focus(shop, prices=example_prices(), methods="hour_flow")
    assert len(estimate) == 31 * 24
    total = sum(estimate["BilledCost"].tolist(), Decimal(0))
    assert abs(total - expected) <= Decimal("0.005")  # no cent lost or gained per hour


def test_a_bill_amount_beyond_what_money_columns_hold_is_a_response_error_naming_it() -> None:
    from usagekit.errors import ResponseError

    dear = pd.DataFrame(
        {
            "method": ["month_95"],
            "region": ["*"],
            "tier_from": [0],
            "tier_to": [None],
            "unit_price": ["50000000000"],
            "currency": ["CNY"],
        }
    )  # fmt: skip  5e10 CNY per Mbit/s: a month of a few Mbit/s bills beyond 10**10
    with (
        Sandbox(
            seed=3,
            now=NOW,
            clock="frozen",
            accounts=1,
            tasks=2,
            bill_types={"demo-shop": "month_95"},
            prices=dear,
        ) as sandbox,
        pytest.raises(ResponseError, match="gross"),
    ):
        bill_lines(sandbox.accounts, month="2026-10", granularity="monthly")


def test_an_account_billed_by_hour_count_gets_its_request_lines() -> None:
    # requests have no billing region: the sandbox must still bill them (it failed with an IndexError)
    with Sandbox(
        seed=3, now=NOW, clock="frozen", accounts=1, tasks=2, bill_types={"demo-shop": "hour_count"}
    ) as sandbox:
        lines = bill_lines(sandbox.accounts, month="2026-10", granularity="monthly")
        requests = sandbox.truth.usage_over("demo-shop", *OCTOBER)
    requests = requests[requests["metric"] == "requests"]
    total = Decimal(int(requests["value"].sum())) / Decimal(10**4)  # the example prices 10k requests
    usage_lines = lines[lines["item"] == "PayAsYouGoBill"]
    assert set(usage_lines["usage_unit"]) == {"10k requests"}
    assert abs(usage_lines["usage"].sum() - total) <= Decimal("0.000001")


def test_focus_of_a_request_line_consumes_the_days_requests_not_gigabytes() -> None:
    with Sandbox(
        seed=3, now=NOW, clock="frozen", accounts=1, tasks=2, bill_types={"demo-shop": "hour_count"}
    ) as sandbox:
        lines = bill_lines(sandbox.accounts, month="2026-10")
        usage = sandbox.truth.usage_over("demo-shop", *OCTOBER)
    focus = to_focus(usage, bill=lines)
    rows = focus[
        (focus["ChargeCategory"] == "Usage")
        & (focus["ChargePeriodStart"] == pd.Timestamp("2026-10-11T16:00Z"))
    ]
    assert len(rows) == 1 and rows["ConsumedUnit"].tolist() == ["Requests"]
    day = usage[(usage["metric"] == "requests") & (usage["start"] >= pd.Timestamp("2026-10-11T16:00Z"))
                & (usage["start"] < pd.Timestamp("2026-10-12T16:00Z"))]  # fmt: skip
    assert rows["ConsumedQuantity"].iloc[0] == Decimal(int(day["value"].sum()))  # Beijing Oct 12th's requests


def test_focus_of_lines_the_usage_does_not_cover_leaves_consumed_quantity_unknown_not_zero(
    box: Sandbox,
) -> None:
    lines = bill_lines(box.accounts[1], month="2026-10")
    november = box.truth.usage_over("demo-media", "2026-10-31T16:00:00Z", "2026-11-19T16:00:00Z")
    with pytest.warns(UsagekitWarning, match="ConsumedQuantity"):
        focus = to_focus(november, bill=lines)  # October's lines, November's usage: nothing consumed is known
    usage_rows = focus[focus["ChargeCategory"] == "Usage"]
    assert len(usage_rows) > 0
    assert usage_rows["ConsumedQuantity"].isna().all()


def test_check_cost_of_one_domains_usage_says_incomplete_usage_not_that_the_bill_differs(
    box: Sandbox,
) -> None:
    # exports of some domains only hold part of the account's total at every point: the bill is the account's
    shop = box.accounts[0]  # month_95
    first = box.world.account("demo-shop").domains[0].name
    one_domain = box.truth.usage_over("demo-shop", *OCTOBER, domains=[first])
    lines = bill_lines(shop, month="2026-10", granularity="monthly")
    check = check_cost(one_domain, lines, prices=example_prices(), accounts=shop)
    assert len(check) > 0
    assert (check["verdict"] == "incomplete_usage").all(), check[["verdict", "explanation"]]
    assert (
        check["explanation"].str.contains("8,928 of this period's 8,928").all()
    )  # every point of the 31 days


def test_bill_lines_of_a_month_beyond_the_18_the_service_keeps_is_refused_before_asking(box: Sandbox) -> None:
    # BssOpenApi's BillingCycle reaches back 18 months: at Nov 2026, May 2025 is the oldest
    with pytest.raises(ArgumentError, match="18 months"):
        bill_lines(box.accounts, month="2025-04", now=NOW)
    oldest = bill_lines(box.accounts[1], month="2025-05", now=NOW, granularity="monthly")
    assert (oldest["billing_cycle"] == "2025-05").all()  # the 18th month back is still asked
