"""What the sandbox bills: DescribeCdnUserBillHistory / Prediction against rules written out in this test.

Every expected quantity is computed here from ``truth.usage_over`` with the billing rule spelled out
below (never with ``usagekit.billing`` or ``usagekit.sandbox.billed``).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"  # 16:00 Beijing on 20 November
OCTOBER = ("2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z")
NOVEMBER_START = "2026-10-31T16:00:00Z"
PINNED = {"demo-shop": "month_95", "demo-media": "day_bandwidth", "demo-games": "hour_flow"}
HISTORY = "DescribeCdnUserBillHistory"
PREDICTION = "DescribeCdnUserBillPrediction"


def _box(**kwargs: Any) -> Sandbox:
    return Sandbox(seed=7, now=NOW, clock="frozen", **kwargs)


@pytest.fixture(scope="module")
def pinned() -> Any:
    with _box(bill_types=PINNED) as box:
        yield box


@pytest.fixture(scope="module")
def drifted() -> Any:
    drift = {"demo-media": 1.05, ("demo-shop", "2026-10-12"): 1.5}
    with _box(bill_types=PINNED, bill_drift=drift) as box:
        yield box


# --- the rules, written out -----------------------------------------------------------------------


def _points(box: Sandbox, account: str, metric: str, start: str, end: str) -> pd.DataFrame:
    """The account's points of ``metric`` with their Beijing day and hour labels."""
    usage = box.truth.usage_over(account, start, end)
    rows = usage[usage["metric"] == metric].copy()
    local = rows["start"].dt.tz_convert("Asia/Shanghai")
    rows["day"] = local.dt.strftime("%Y-%m-%d")
    rows["hour"] = local.dt.strftime("%Y-%m-%dT%H")
    rows["region"] = rows["region"].astype(str)
    return rows


def _active(rows: pd.DataFrame) -> pd.DataFrame:
    """Idle days (every point zero) do not count."""
    active = rows.groupby(["region", "day"])["value"].transform(lambda v: (v != 0).any())
    return rows[active]


def _month_95(rows: pd.DataFrame) -> dict[str, float]:
    """Per region: the points sorted high to low, the top 5 % (rounded down) dropped, the highest left."""
    result = {}
    for region, group in _active(rows).groupby("region"):
        values = np.sort(group["value"].to_numpy())[::-1]
        result[region] = float(values[len(values) * 5 // 100])
    return result


def _day_peaks(rows: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {k: float(v) for k, v in _active(rows).groupby(["region", "day"])["value"].max().items()}


def _hour_sums(rows: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {k: float(v) for k, v in rows.groupby(["region", "hour"])["value"].sum().items()}


def _label(bill_time: str, cycle: str) -> str:
    local = pd.Timestamp(bill_time).tz_convert("Asia/Shanghai")
    return local.strftime({"day": "%Y-%m-%d", "hour": "%Y-%m-%dT%H"}[cycle])


def _history(wire: Any, box: Sandbox, index: int, start: str, end: str) -> list[dict[str, Any]]:
    reply = wire.v3(box.accounts[index], HISTORY, {"StartTime": start, "EndTime": end})
    assert reply.status == 200, reply
    return reply.json["BillHistoryData"]["BillHistoryDataItem"]


# --- quantities -------------------------------------------------------------------------------------


def test_a_closed_months_bill_follows_the_written_rules(pinned: Sandbox, wire: Any) -> None:
    shop = _history(wire, pinned, 0, *OCTOBER)
    assert [(i["BillTime"], i["BillType"], i["Dimension"]) for i in shop] == [
        ("2026-09-30T16:00:00Z", "month_95", "flow")
    ]
    expected = _month_95(_points(pinned, "demo-shop", "bandwidth", *OCTOBER))
    assert {d["CdnRegion"]: d["Bandwidth"] for d in shop[0]["BillingData"]["BillingDataItem"]} == expected

    media = _history(wire, pinned, 1, *OCTOBER)
    got = {
        (d["CdnRegion"], _label(i["BillTime"], "day")): d["Bandwidth"]
        for i in media
        for d in i["BillingData"]["BillingDataItem"]
    }
    assert got == _day_peaks(_points(pinned, "demo-media", "bandwidth", *OCTOBER))
    assert len(media) == 31

    games = _history(wire, pinned, 2, *OCTOBER)
    got = {
        (d["CdnRegion"], _label(i["BillTime"], "hour")): d["Flow"]
        for i in games
        for d in i["BillingData"]["BillingDataItem"]
    }
    expected_hours = _hour_sums(_points(pinned, "demo-games", "traffic", *OCTOBER))
    assert got == expected_hours
    assert len(games) == 744 and len({r for r, _ in got}) == len(pinned.account_spec("demo-games").regions)
    # the truth says the same as the wire
    truth = pinned.truth.billed("demo-games", None, "2026-10")
    assert (
        dict(zip(zip(truth["region"], truth["period"], strict=True), truth["quantity"], strict=True))
        == expected_hours
    )


def test_every_monthly_method_agrees_with_its_written_rule(pinned: Sandbox) -> None:
    rows = _points(pinned, "demo-shop", "bandwidth", *OCTOBER)
    active = _active(rows)
    peaks = active.groupby("day")["value"].max()
    day_95 = active.groupby("day")["value"].apply(lambda v: np.sort(v.to_numpy())[::-1][len(v) * 5 // 100])
    night = (active["start"].dt.tz_convert("Asia/Shanghai").dt.hour < 8).to_numpy()
    halved = np.sort(np.where(night, active["value"] * 0.5, active["value"]))[::-1]
    expected = {
        "month_avg_day_bandwidth": peaks.mean(),
        "month_4th_day_bandwidth": np.sort(peaks.to_numpy())[::-1][3],
        "month_avg_day_95": day_95.mean(),
        "month_95_night_half": halved[len(halved) * 5 // 100],
    }
    for method, value in expected.items():
        billed = pinned.truth.billed("demo-shop", method, "2026-10")
        assert billed["quantity"].tolist() == [pytest.approx(value, rel=1e-12)], method


def test_the_bill_type_follows_bill_types(pinned: Sandbox, wire: Any) -> None:
    for account in pinned.accounts:
        reply = wire.v2(account, "DescribeCdnUserBillType", {"StartTime": OCTOBER[0], "EndTime": OCTOBER[1]})
        (item,) = reply.json["BillTypeData"]["BillTypeDataItem"]
        assert item["BillType"] == PINNED[account.name] == pinned.account_spec(account.name).bill_type


def test_requests_bill_per_hour_without_a_region(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(bill_types={"demo-shop": "hour_count"})
    account = box.accounts[0]
    reply = wire.v3(account, "DescribeCdnUserBillType", {"StartTime": OCTOBER[0], "EndTime": OCTOBER[1]})
    (kind,) = reply.json["BillTypeData"]["BillTypeDataItem"]
    assert (kind["BillType"], kind["BillingCycle"], kind["Dimension"]) == ("hour_count", "hour", "vas")
    items = _history(wire, box, 0, "2026-10-11T16:00:00Z", "2026-10-12T16:00:00Z")
    assert len(items) == 24 and {i["Dimension"] for i in items} == {"vas"}
    usage = box.truth.usage_over("demo-shop", "2026-10-11T16:00:00Z", "2026-10-12T16:00:00Z")
    requests = usage[usage["metric"] == "requests"]
    hours = requests.groupby(requests["start"].dt.floor("h"))["value"].sum()
    got = [(pd.Timestamp(i["BillTime"]), i["BillingData"]["BillingDataItem"]) for i in items]
    assert got == [
        (hour, [{"ChargeType": "StaticHttp", "Flow": 0.0, "Bandwidth": 0.0, "Count": float(count)}])
        for hour, count in hours.items()
    ]


def test_the_prediction_is_the_month_to_date_value(pinned: Sandbox, wire: Any) -> None:
    reply = wire.v3(pinned.accounts[0], PREDICTION, {})
    assert reply.status == 200, reply
    body = reply.json
    assert set(body) == {"RequestId", "BillType", "StartTime", "EndTime", "BillPredictionData"}
    assert (body["BillType"], body["StartTime"], body["EndTime"]) == (
        "month_95",
        NOVEMBER_START,
        "2026-11-20T06:00:00Z",
    )
    (item,) = body["BillPredictionData"]["BillPredictionDataItem"]
    rows = _points(pinned, "demo-shop", "bandwidth", NOVEMBER_START, "2026-11-20T06:00:00Z")
    assert item["Value"] == _month_95(rows)["CN"]
    chosen = rows.loc[rows["start"] == pd.Timestamp(item["TimeStp"]), "value"]
    assert chosen.tolist() == [item["Value"]]  # TimeStp names the billed point


def test_the_prediction_of_a_daily_mean_leaves_out_today(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(bill_types={"demo-shop": "month_avg_day_bandwidth"})
    (item,) = wire.v2(box.accounts[0], PREDICTION, {"Area": "cn"}).json["BillPredictionData"][
        "BillPredictionDataItem"
    ]
    rows = _points(box, "demo-shop", "bandwidth", NOVEMBER_START, "2026-11-20T06:00:00Z")
    peaks = rows[rows["day"] < "2026-11-20"].groupby("day")["value"].max()
    assert len(peaks) == 19
    assert item == {"Area": "CN", "Value": pytest.approx(peaks.mean(), rel=1e-12)}  # no TimeStp for a mean


# --- when a period is billed ------------------------------------------------------------------------


def test_a_period_is_billed_once_it_has_ended(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(bill_types=PINNED)
    window = (NOVEMBER_START, "2026-11-30T16:00:00Z")
    assert _history(wire, box, 0, *window) == []  # November's month_95 not yet
    days = _history(wire, box, 1, *window)
    assert days[-1]["BillTime"] == "2026-11-18T16:00:00Z" and len(days) == 19  # up to 19 Nov
    hours = _history(wire, box, 2, *window)
    assert hours[-1]["BillTime"] == "2026-11-20T07:00:00Z"  # the hour that ended at now
    box.advance(3599)
    assert _history(wire, box, 2, *window)[-1]["BillTime"] == "2026-11-20T07:00:00Z"
    box.advance(1)
    assert _history(wire, box, 2, *window)[-1]["BillTime"] == "2026-11-20T08:00:00Z"
    box.advance(7 * 3600 - 1)  # 2026-11-20T15:59:59Z
    assert len(_history(wire, box, 1, *window)) == 19
    box.advance(1)  # Beijing midnight
    assert _history(wire, box, 1, *window)[-1]["BillTime"] == "2026-11-19T16:00:00Z"
    box.advance(10 * 86400 - 1)  # a second before 1 December 00:00 Beijing
    assert _history(wire, box, 0, *window) == []
    box.advance(1)
    (month,) = _history(wire, box, 0, *window)
    assert month["BillTime"] == NOVEMBER_START


# --- drift: the bill differs from the exports -------------------------------------------------------


def test_an_account_drift_scales_every_billed_quantity(pinned: Sandbox, drifted: Sandbox, wire: Any) -> None:
    media = _history(wire, drifted, 1, *OCTOBER)
    expected = _day_peaks(_points(pinned, "demo-media", "bandwidth", *OCTOBER))
    got = {
        (d["CdnRegion"], _label(i["BillTime"], "day")): d["Bandwidth"]
        for i in media
        for d in i["BillingData"]["BillingDataItem"]
    }
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(1.05 * expected[k], rel=1e-12) for k in got)
    assert any(v != round(v) for v in got.values())  # full-precision floats, not rounded
    for method in ("month_95", "hour_flow", "month_4th_day_bandwidth", "month_avg_day_95", "hour_count"):
        plain = pinned.truth.billed("demo-media", method, "2026-10")["quantity"].to_numpy()
        scaled = drifted.truth.billed("demo-media", method, "2026-10")["quantity"].to_numpy()
        np.testing.assert_allclose(scaled, 1.05 * plain, rtol=1e-12, err_msg=method)
    # the exports' usage is the same; other accounts are billed as before
    exported, seen = (box.truth.usage_over("demo-media", *OCTOBER) for box in (drifted, pinned))
    assert exported["value"].tolist() == seen["value"].tolist() and len(seen) == 3 * 8928
    pd.testing.assert_frame_equal(
        drifted.truth.billed("demo-games", None, "2026-10"),
        pinned.truth.billed("demo-games", None, "2026-10"),
    )


@pytest.mark.parametrize(("method", "column"), [("day_bandwidth", "period"), ("hour_flow", "period")])
def test_a_one_day_drift_changes_exactly_that_days_rows(
    pinned: Sandbox, drifted: Sandbox, method: str, column: str
) -> None:
    plain = pinned.truth.billed("demo-shop", method, "2026-10")
    scaled = drifted.truth.billed("demo-shop", method, "2026-10")
    assert plain[column].tolist() == scaled[column].tolist()
    differs = scaled["quantity"].to_numpy() != plain["quantity"].to_numpy()
    on_the_day = plain[column].str.startswith("2026-10-12").to_numpy()
    assert (differs == on_the_day).all() and on_the_day.sum() == (1 if method == "day_bandwidth" else 24)
    np.testing.assert_allclose(
        scaled["quantity"][on_the_day], 1.5 * plain["quantity"][on_the_day], rtol=1e-12
    )


def test_a_month_95_absorbs_a_low_day_and_moves_with_the_busiest(fresh_sandbox: Any) -> None:
    # demo-video (the fifth account of seed 7) has October days whose every point lies below the cut
    video = {"accounts": 5, "tasks": 1, "bill_types": {"demo-video": "month_95"}}
    rows = _points(fresh_sandbox(**video), "demo-video", "bandwidth", *OCTOBER)
    cut = _month_95(rows)["CN"]
    peaks = rows.groupby("day")["value"].max()
    low, busiest = peaks.idxmin(), peaks.idxmax()
    assert peaks[low] < cut
    absorbed = fresh_sandbox(**video, bill_drift={("demo-video", low): 0.5})
    assert absorbed.truth.billed("demo-video", None, "2026-10")["quantity"].tolist() == [cut]
    moved = fresh_sandbox(**video, bill_drift={("demo-video", busiest): 1.5})
    (billed,) = moved.truth.billed("demo-video", None, "2026-10")["quantity"]
    scaled = rows["value"].where(rows["day"] != busiest, rows["value"] * 1.5)
    assert billed == _month_95(rows.assign(value=scaled))["CN"] != cut


def test_a_day_the_billing_side_sees_idle_is_not_counted(fresh_sandbox: Any) -> None:
    box = fresh_sandbox(bill_drift={("demo-shop", "2026-10-12"): 0})
    days = box.truth.billed("demo-shop", "day_bandwidth", "2026-10")
    assert len(days) == 30 and "2026-10-12" not in set(days["period"])
    rows = _points(box, "demo-shop", "bandwidth", *OCTOBER)  # the exports still carry that day
    assert (rows["day"] == "2026-10-12").sum() == 288
    month = box.truth.billed("demo-shop", "month_95", "2026-10")["quantity"].tolist()
    assert month == [_month_95(rows[rows["day"] != "2026-10-12"])["CN"]]  # 8,640 points, 432 dropped


# --- refusals and shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"StartTime": "2026-10-01T00:00:00Z"}, "MissingTimeParameter"),
        ({"EndTime": "2026-10-01T00:00:00Z"}, "MissingTimeParameter"),
        ({"StartTime": "2026-10-01", "EndTime": "2026-10-02T00:00:00Z"}, "InvalidStartTime.Malformed"),
        ({"StartTime": "2026-10-01T00:00:00Z", "EndTime": "2026-10-02 00:00"}, "InvalidEndTime.Malformed"),
        ({"StartTime": "2026-10-02T00:00:00Z", "EndTime": "2026-10-01T00:00:00Z"}, "InvalidTimeRange"),
        ({"StartTime": "2026-09-30T16:00:00Z", "EndTime": "2026-10-31T16:00:01Z"}, "InvalidTimeRange"),
        (
            {"StartTime": "2025-11-19T00:00:00Z", "EndTime": "2025-11-20T00:00:00Z"},
            "InvalidStartTime.ValueNotSupported",
        ),
        (
            {"StartTime": "2026-11-21T00:00:00Z", "EndTime": "2026-11-22T00:00:00Z"},
            "InvalidStartTime.ValueNotSupported",
        ),
    ],
)
def test_the_history_refuses_what_the_service_refuses(
    pinned: Sandbox, wire: Any, params: dict[str, str], code: str
) -> None:
    reply = wire.v3(pinned.accounts[0], HISTORY, params)
    assert (reply.status, reply.code) == (400, code), reply


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"StartTime": "2026-11-01"}, "InvalidStartTime.Malformed"),
        ({"EndTime": "now"}, "InvalidEndTime.Malformed"),
        ({"StartTime": "2026-11-19T00:00:00Z", "EndTime": "2026-11-18T00:00:00Z"}, "InvalidTimeRange"),
        ({"Dimension": "traffic"}, "InvalidParameter"),
        ({"Area": "CN,Mars"}, "InvalidParameter"),
    ],
)
def test_the_prediction_refuses_what_the_service_refuses(
    pinned: Sandbox, wire: Any, params: dict[str, str], code: str
) -> None:
    reply = wire.v2(pinned.accounts[0], PREDICTION, params)
    assert (reply.status, reply.code) == (400, code), reply


def test_the_history_takes_31_days_a_year_back_and_checks_the_signature(pinned: Sandbox, wire: Any) -> None:
    account = pinned.accounts[0]
    year_back = {"StartTime": "2025-11-21T00:00:00Z", "EndTime": "2025-12-22T00:00:00Z"}
    reply = wire.v2(account, HISTORY, year_back)
    assert reply.status == 200, reply
    assert set(reply.json) == {"RequestId", "BillHistoryData"}
    (item,) = reply.json["BillHistoryData"]["BillHistoryDataItem"]  # December 2025's month_95
    assert set(item) == {"BillTime", "BillType", "Dimension", "BillingData"}
    (data,) = item["BillingData"]["BillingDataItem"]
    assert set(data) == {"CdnRegion", "ChargeType", "Flow", "Bandwidth", "Count"}
    assert (data["ChargeType"], data["Flow"], data["Count"]) == ("StaticHttp", 0.0, 0.0)
    for sign in (wire.v2, wire.v3):
        forged = sign(account, HISTORY, {"StartTime": OCTOBER[0], "EndTime": OCTOBER[1]}, secret="wrong")
        assert (forged.status, forged.code) == (400, "SignatureDoesNotMatch")
        forged = sign(account, PREDICTION, {}, secret="wrong")
        assert (forged.status, forged.code) == (400, "SignatureDoesNotMatch")


def test_an_overseas_method_bills_cn_and_overseas(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(bill_types={"demo-games": "month_95_overseas"})
    (item,) = _history(wire, box, 2, *OCTOBER)
    regions = {d["CdnRegion"]: d["Bandwidth"] for d in item["BillingData"]["BillingDataItem"]}
    rows = _points(box, "demo-games", "bandwidth", *OCTOBER)
    rows["region"] = rows["region"].where(rows["region"] == "CN", "OverSeas")
    summed = rows.groupby(["region", "start", "day"], as_index=False)["value"].sum()
    assert regions == _month_95(summed)


def test_an_overseas_prediction_has_cn_and_overseas_areas(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(bill_types={"demo-games": "month_4th_day_bandwidth_overseas"})
    account = box.accounts[2]
    body = wire.v3(account, PREDICTION, {}).json
    areas = {i["Area"]: i for i in body["BillPredictionData"]["BillPredictionDataItem"]}
    assert set(areas) == {"CN", "OverSeas"}
    rows = _points(box, "demo-games", "bandwidth", NOVEMBER_START, "2026-11-20T06:00:00Z")
    rows["region"] = rows["region"].where(rows["region"] == "CN", "OverSeas")
    summed = rows.groupby(["region", "start", "day"], as_index=False)["value"].sum()
    for area, group in summed.groupby("region"):
        peaks = group.groupby("day")["value"].max().sort_values(ascending=False)
        assert areas[area]["Value"] == peaks.iloc[3]  # the 4th highest daily peak so far
        point = group.loc[group["start"] == pd.Timestamp(areas[area]["TimeStp"])]
        assert point[["day", "value"]].values.tolist() == [[peaks.index[3], peaks.iloc[3]]]
    only = wire.v2(account, PREDICTION, {"Area": "overseas"}).json["BillPredictionData"]
    assert only["BillPredictionDataItem"] == [areas["OverSeas"]]
    vas = wire.v2(account, PREDICTION, {"Dimension": "vas"}).json["BillPredictionData"]
    assert vas["BillPredictionDataItem"] == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bill_types": {"demo-nobody": "month_95"}},
        {"bill_types": {"demo-shop": "month_96"}},
        {"bill_drift": {"demo-nobody": 1.1}},
        {"bill_drift": {("demo-shop", "2026-10"): 1.1}},
        {"bill_drift": {"demo-shop": -1}},
        {"bill_drift": {"demo-shop": float("nan")}},
    ],
)
def test_bad_bill_settings_are_refused_before_the_sandbox_starts(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="bill_"):
        _box(**kwargs)


# --- the command line -------------------------------------------------------------------------------


def test_the_sandbox_command_takes_bill_types_and_drift() -> None:
    from usagekit.cli import build_parser

    args = build_parser().parse_args(
        ["sandbox", "--bill-type", "demo-shop=hour_flow", "--bill-drift", "demo-shop:2026-10-12=1.5",
         "--bill-drift", "demo-media=1.05"]
    )  # fmt: skip
    assert args.bill_type == [("demo-shop", "hour_flow")]
    assert args.bill_drift == [(("demo-shop", "2026-10-12"), 1.5), ("demo-media", 1.05)]
    for wrong in (["--bill-type", "demo-shop"], ["--bill-drift", "demo-shop:=2"], ["--bill-drift", "x=y"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["sandbox", *wrong])
    refused = subprocess.run(
        [sys.executable, "-m", "usagekit", "sandbox", "--bill-type", "demo-shop=month_96"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "month_96" in refused.stderr and "Traceback" not in refused.stderr
