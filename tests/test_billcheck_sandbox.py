"""check_bill / check_prediction against the sandbox: what it billed (its truth) beside the usage the exports carry.

Expected values come from the sandbox's truth and from rules written here (the 95th point: sort, skip 446),
never from usagekit.billing.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from usagekit.billcheck import check_bill, check_prediction
from usagekit.frames import concat_frames
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"
PINNED = {"demo-shop": "month_95", "demo-media": "day_bandwidth", "demo-games": "hour_flow"}
OCTOBER = ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z")
SEED = 0


def _sandbox(**drift: object) -> Sandbox:
    return Sandbox(seed=SEED, now=NOW, clock="frozen", bill_types=PINNED, **drift)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with _sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def october(box: Sandbox) -> pd.DataFrame:
    """The true October usage of every account (traffic and bandwidth), as exports by account carry it."""
    return concat_frames([box.truth.usage_over(name, *OCTOBER, types=("flow",)) for name in PINNED])


def _beijing(moment: pd.Timestamp) -> str:
    return (pd.Timestamp(moment).tz_convert("UTC") + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def _shop_points(october: pd.DataFrame) -> pd.DataFrame:
    rows = october[(october["account"] == "demo-shop") & (october["metric"] == "bandwidth")]
    return rows.sort_values("value", ascending=False, kind="stable").reset_index(drop=True)


def _accounts(sandbox: Sandbox, *names: str) -> list:
    return [a for a in sandbox.accounts if a.name in names] if names else sandbox.accounts


def test_closed_month_matches_on_every_row(box: Sandbox, october: pd.DataFrame) -> None:
    check = check_bill(october, box.accounts, month="2026-10", now=box.now)
    assert set(check["verdict"].astype(str)) == {"match"}
    methods = check.groupby("account", observed=True)["method"].agg(lambda m: set(m.astype(str)))
    assert methods.to_dict() == {name: {method} for name, method in PINNED.items()}
    regions = len(box.account_spec("demo-games").regions)
    sizes = check.groupby("account", observed=True).size().to_dict()
    assert sizes == {"demo-shop": 1, "demo-media": 31, "demo-games": 744 * regions}
    # the rule written here: 8,928 points, the 446 highest discarded, the next one billed
    points = _shop_points(october)
    assert len(points) == 8928
    shop = check[check["account"] == "demo-shop"].iloc[0]
    assert shop["computed"] == points["value"].iloc[446]
    assert shop["computed_at"] == points["start"].iloc[446]
    assert shop["billed"] == box.truth.billed("demo-shop", None, "2026-10")["quantity"].iloc[0]


def test_account_drift_every_row_differs_by_five_percent(october: pd.DataFrame) -> None:
    with _sandbox(bill_drift={"demo-media": 1.05}) as sandbox:
        check = check_bill(october, sandbox.accounts, month="2026-10", now=sandbox.now)
    media = check[check["account"] == "demo-media"]
    assert len(media) == 31 and set(media["verdict"].astype(str)) == {"differs"}
    assert np.allclose(media["relative"], 0.05, rtol=0, atol=1e-9)
    assert set(check.loc[check["account"] != "demo-media", "verdict"].astype(str)) == {"match"}


def test_one_day_drift_exactly_that_days_rows_and_month_95_busiest_day(october: pd.DataFrame) -> None:
    points = _shop_points(october)
    days = (points["start"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=8)).dt.strftime(
        "%Y-%m-%d"
    )
    busiest = days.iloc[0]  # the day holding the month's highest point
    drift = {
        ("demo-media", "2026-10-12"): 1.5,
        ("demo-games", "2026-10-12"): 1.5,
        ("demo-shop", busiest): 1.5,
    }
    with _sandbox(bill_drift=drift) as sandbox:
        check = check_bill(october, sandbox.accounts, month="2026-10", now=sandbox.now)
        billed = sandbox.truth.billed("demo-shop", None, "2026-10").iloc[0]
    differs = check[check["verdict"] == "differs"]
    assert differs.loc[differs["account"] == "demo-media", "period"].tolist() == ["2026-10-12"]
    regions = len(_sandbox_regions(check, "demo-games"))
    games = differs[differs["account"] == "demo-games"]
    assert sorted(set(games["period"])) == [f"2026-10-12T{h:02d}" for h in range(24)]
    assert len(games) == 24 * regions
    assert (check.loc[check["verdict"] != "differs", "verdict"] == "match").all()
    # month_95: the drifted busiest day pushes points above the old cut, so the billed point moves
    shop = check[check["account"] == "demo-shop"].iloc[0]
    assert shop["verdict"] == "differs"
    assert billed["at"] != points["start"].iloc[446]
    assert _beijing(points["start"].iloc[446]) in shop["explanation"]
    assert _beijing(billed["at"]) in shop["explanation"]


def _sandbox_regions(check: pd.DataFrame, account: str) -> set[str]:
    return {str(r) for r in check.loc[check["account"] == account, "region"]}


def test_month_95_drift_on_a_day_below_the_cut_is_absorbed(october: pd.DataFrame) -> None:
    points = _shop_points(october)
    cut = points["value"].iloc[446]
    local = (points["start"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=8)).dt.strftime(
        "%Y-%m-%d"
    )
    peaks = points.groupby(local)["value"].max()
    quiet = peaks[peaks < cut].index[0]  # every point of this day lies below the cut
    with _sandbox(bill_drift={("demo-shop", quiet): 0.5}) as sandbox:
        check = check_bill(october, _accounts(sandbox, "demo-shop"), month="2026-10", now=sandbox.now)
    assert check["verdict"].tolist() == ["match"]


def test_usage_missing_a_beijing_day_is_incomplete_naming_it(box: Sandbox, october: pd.DataFrame) -> None:
    local = (october["start"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=8)).dt.strftime(
        "%Y-%m-%d"
    )
    holed = october[local != "2026-10-12"]
    check = check_bill(holed, _accounts(box, "demo-shop", "demo-media"), month="2026-10", now=box.now)
    shop = check[check["account"] == "demo-shop"].iloc[0]
    assert shop["verdict"] == "incomplete_usage"
    assert "2026-10-12 (288 of 288 points missing)" in shop["explanation"]
    media = check[check["account"] == "demo-media"]
    assert media.loc[media["verdict"] != "match", "period"].tolist() == ["2026-10-12"]
    assert media.loc[media["period"] == "2026-10-12", "verdict"].tolist() == ["incomplete_usage"]


def test_current_month_monthly_rows_not_billed_yet(box: Sandbox) -> None:
    november = concat_frames(
        [
            box.truth.usage_over(name, "2026-10-31T16:00:00Z", NOW, types=("flow",))
            for name in ("demo-shop", "demo-media")
        ]
    )
    # now=None: the service's time, from its replies (the frozen sandbox's 2026-11-20, not this machine's clock)
    check = check_bill(november, _accounts(box, "demo-shop", "demo-media"), month="2026-11")
    shop = check[check["account"] == "demo-shop"]
    assert shop[["method", "period", "verdict"]].astype(str).to_numpy().tolist() == [
        ["month_95", "2026-11", "not_billed_yet"]
    ]
    media = check[check["account"] == "demo-media"]
    # 20 November 16:00 Beijing: the 1st..19th closed and billed, the 20th open
    assert media.loc[media["verdict"] == "match", "period"].tolist() == [
        f"2026-11-{d:02d}" for d in range(1, 20)
    ]
    assert media.loc[media["verdict"] == "not_billed_yet", "period"].tolist() == ["2026-11-20"]


def test_a_month_no_usage_covers_is_no_usage(box: Sandbox, october: pd.DataFrame) -> None:
    check = check_bill(october, _accounts(box, "demo-shop", "demo-media"), month="2026-09", now=box.now)
    assert len(check) == 1 + 30
    assert set(check["verdict"].astype(str)) == {"no_usage"}


def test_prediction_matches_the_month_to_date(box: Sandbox) -> None:
    november = box.truth.usage_over("demo-shop", "2026-10-31T16:00:00Z", NOW, types=("flow",))
    check = check_prediction(november, _accounts(box, "demo-shop"), now=box.now)
    predicted = box.truth.bill_prediction("demo-shop").iloc[0]
    assert check["verdict"].tolist() == ["match"]
    assert check["predicted"].iloc[0] == predicted["quantity"]
    assert check["predicted_at"].iloc[0] == predicted["at"]
    assert check["computed_at"].iloc[0] == predicted["at"]


@pytest.mark.parametrize(
    "pinned",
    [
        {"demo-shop": "hour_count", "demo-media": "month_4th_day_bandwidth", "demo-games": "month_95_night_half_overseas"},
        {"demo-shop": "month_avg_day_bandwidth", "demo-media": "month_95_night_half", "demo-games": "month_avg_day_95_overseas"},
    ],
)  # fmt: skip
def test_every_other_method_matches_on_a_closed_month(pinned: dict[str, str]) -> None:
    with Sandbox(seed=SEED, now=NOW, clock="frozen", bill_types=pinned) as sandbox:
        usage = concat_frames([sandbox.truth.usage_over(name, *OCTOBER) for name in pinned])
        check = check_bill(usage, sandbox.accounts, month="2026-10")
    assert set(check["verdict"].astype(str)) == {"match"}
    methods = check.groupby("account", observed=True)["method"].agg(lambda m: set(m.astype(str)))
    assert methods.to_dict() == {name: {method} for name, method in pinned.items()}
    if "demo-games" in pinned and pinned["demo-games"].endswith("_overseas"):
        games = check[check["account"] == "demo-games"]
        assert sorted(games["region"].astype(str)) == ["CN", "OVERSEAS"]
