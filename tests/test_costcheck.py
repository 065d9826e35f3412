"""check_cost against the sandbox: amounts the test works out itself from the truth and the price table."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import numpy as np
import pandas as pd

from usagekit.bss import bill_lines
from usagekit.costcheck import check_cost
from usagekit.frames import concat_frames
from usagekit.prices import example_prices
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"
OCTOBER = ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z")  # the Beijing month, in UTC
GB, MBIT = Decimal(1024**3), Decimal(10**6)
CENT = Decimal("0.01")
# The shipped example table's tiers, as the sandbox prices with it by default (written out here):
# hour_flow 0.24 CNY per GB up to 10,240 GB in the month and 0.23 above; day_bandwidth 0.90 CNY per Mbit/s
# of a day's peak up to 500 and 0.85 above; month_95 24.0 CNY per Mbit/s.


def _exact(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _beijing(starts: pd.Series) -> pd.Series:
    return starts.dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=8)


def _usage(box: Sandbox) -> pd.DataFrame:
    return concat_frames([box.truth.usage_over(a.name, *OCTOBER) for a in box.accounts])


def _hour_flow_by_hand(usage: pd.DataFrame, account: str) -> dict[tuple[str, str], Decimal]:
    rows = usage[(usage["account"] == account) & (usage["metric"] == "traffic")]
    result: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for region, group in rows.groupby(rows["region"].astype(str)):
        hours = group.groupby(_beijing(group["start"]).dt.floor("h"))["value"].sum().sort_index()
        before = Decimal(0)
        for hour, value in hours.items():
            after = before + _exact(value) / GB
            low, high = min(before, Decimal(10240)), min(after, Decimal(10240))
            cost = (high - low) * Decimal("0.24") + (after - before - (high - low)) * Decimal("0.23")
            result[(hour.strftime("%Y-%m-%d"), region)] += cost
            before = after
    return result


def _day_bandwidth_by_hand(usage: pd.DataFrame, account: str) -> dict[tuple[str, str], Decimal]:
    rows = usage[(usage["account"] == account) & (usage["metric"] == "bandwidth")]
    result = {}
    for (region, day), values in rows.groupby(
        [rows["region"].astype(str), _beijing(rows["start"]).dt.strftime("%Y-%m-%d")]
    )["value"]:
        peak = _exact(values.max()) / MBIT
        if peak == 0:
            continue  # an idle day is not billed
        result[(day, region)] = min(peak, Decimal(500)) * Decimal("0.90") + max(
            peak - 500, Decimal(0)
        ) * Decimal("0.85")
    return result


def _month_95_by_hand(usage: pd.DataFrame, account: str) -> dict[tuple[str, str], Decimal]:
    rows = usage[(usage["account"] == account) & (usage["metric"] == "bandwidth")]
    result = {}
    for region, group in rows.groupby(rows["region"].astype(str)):
        day = _beijing(group["start"]).dt.date
        active = group.groupby(day)["value"].transform(lambda v: bool((v != 0).any()))
        values = np.sort(group.loc[active.astype(bool), "value"].to_numpy())[::-1]  # idle days left out
        point = values[len(values) * 5 // 100]  # the top 5 % (rounded down) discarded
        result[("2026-10", region)] = _exact(point) / MBIT * Decimal("24.0")
    return result


def test_a_closed_month_without_drift_matches_on_every_row_to_amounts_worked_out_here() -> None:
    methods = {"demo-shop": "hour_flow", "demo-media": "day_bandwidth", "demo-games": "month_95"}
    with Sandbox(seed=4, now=NOW, clock="frozen", accounts=3, tasks=2, bill_types=methods) as box:
        usage = _usage(box)
        lines = bill_lines(box.accounts, month="2026-10", now=NOW)
        check = check_cost(usage, lines, prices=example_prices(), accounts=box.accounts, now=NOW)
    by_hand = {
        "demo-shop": _hour_flow_by_hand(usage, "demo-shop"),
        "demo-media": _day_bandwidth_by_hand(usage, "demo-media"),
        "demo-games": _month_95_by_hand(usage, "demo-games"),
    }
    assert set(check["account"]) == set(methods)
    assert (check["verdict"] == "match").all(), check[check["verdict"] != "match"]["explanation"].tolist()
    for row in check.itertuples(index=False):
        mine = by_hand[row.account][(row.period, row.region)]
        assert abs(row.expected - mine) < Decimal("1e-7"), (row.account, row.period, row.region)
        assert abs(row.gross - mine) <= CENT / 2, (row.account, row.period, row.region)  # billed to the cent
    counts = check.groupby("account", observed=True).size()
    assert counts["demo-shop"] == 31 * len({k[1] for k in by_hand["demo-shop"]})
    assert counts["demo-games"] == len(by_hand["demo-games"])


def test_a_drifted_account_is_quantity_differs() -> None:
    with Sandbox(seed=4, now=NOW, clock="frozen", accounts=1, tasks=2, bill_drift={"demo-shop": 1.05}) as box:
        lines = bill_lines(box.accounts, month="2026-10", now=NOW)
        check = check_cost(_usage(box), lines, prices=example_prices(), accounts=box.accounts, now=NOW)
    assert len(check) > 0 and (check["verdict"] == "quantity_differs").all()
    assert check["explanation"].str.contains(r"\+5\.0000%").all()


def test_a_contract_price_other_than_the_table_is_price_differs_at_the_sandboxs_price() -> None:
    contract = pd.DataFrame(
        {
            "method": ["hour_flow"],
            "region": ["*"],
            "tier_from": [0],
            "tier_to": [None],
            "unit_price": ["0.31"],
            "currency": ["CNY"],
        }
    )
    with Sandbox(
        seed=4,
        now=NOW,
        clock="frozen",
        accounts=1,
        tasks=2,
        bill_types={"demo-shop": "hour_flow"},
        prices=contract,
    ) as box:
        lines = bill_lines(box.accounts, month="2026-10", now=NOW)
        check = check_cost(_usage(box), lines, prices=example_prices(), accounts=box.accounts, now=NOW)
    assert len(check) == 31 and (check["verdict"] == "price_differs").all()
    for row in check.itertuples(index=False):
        # gross is the quantity x 0.31 rounded to the cent: the implied price is 0.31 to within half a cent
        # spread over the quantity
        assert abs(row.implied_unit_price - Decimal("0.31")) <= CENT / 2 / row.billed_quantity + Decimal(
            "1e-8"
        )
        assert row.table_unit_price == Decimal("0.24")  # the user's table, first tier
        assert "billed at 0.3" in row.explanation and "the table says 0.240000" in row.explanation


def test_the_current_month_is_provisional() -> None:
    now = "2026-11-03T03:00:00Z"  # 11:00 Beijing on the 3rd: October's bill is not final for another hour
    with Sandbox(
        seed=4, now=now, clock="frozen", accounts=1, tasks=2, bill_types={"demo-shop": "month_95"}
    ) as box:
        lines = bill_lines(box.accounts, month="2026-10", granularity="monthly", now=now)
        check = check_cost(_usage(box), lines, prices=example_prices(), accounts=box.accounts, now=now)
    assert len(check) > 0 and (check["verdict"] == "provisional").all()
    assert check["explanation"].str.contains("not final").all()
