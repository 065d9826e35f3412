"""Reading DescribeCdnUserBillHistory / DescribeCdnUserBillPrediction replies, written here in the reference's shapes."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from usagekit.billhistory import (
    HISTORY_COLUMNS,
    PREDICTION_COLUMNS,
    UnknownBillTypeWarning,
    bill_history,
    history_frame,
    history_rows,
    prediction_frame,
    prediction_rows,
    warn_unknown_methods,
)
from usagekit.errors import ArgumentError, ResponseError, UsagekitError


def _item(bill_time: str, bill_type: str, entries: list[dict], dimension: str = "flow") -> dict:
    return {
        "BillTime": bill_time,
        "BillType": bill_type,
        "Dimension": dimension,
        "BillingData": {"BillingDataItem": entries},
    }


def _history(*items: dict) -> dict:
    return {"RequestId": "r", "BillHistoryData": {"BillHistoryDataItem": list(items)}}


def test_history_rows_periods_regions_units_and_dtypes() -> None:
    reply = _history(
        _item(
            "2026-10-05T05:00:00Z",
            "hour_flow",
            [
                {
                    "CdnRegion": "CN",
                    "ChargeType": "StaticHttp",
                    "Flow": 123456789012,
                    "Bandwidth": 0,
                    "Count": 0,
                }
            ],
        ),
        _item(
            "2026-10-04T16:00:00Z",
            "day_bandwidth",
            [
                {
                    "CdnRegion": "AP1",
                    "ChargeType": "StaticHttp",
                    "Flow": 0,
                    "Bandwidth": "2500000.5",
                    "Count": 0,
                }
            ],
        ),
        _item(
            "2026-09-30T16:00:00Z",
            "month_95_overseas",
            [
                {"CdnRegion": "CN", "ChargeType": "StaticHttp", "Flow": 0, "Bandwidth": 1.25e8, "Count": 0},
                {
                    "CdnRegion": "OverSeas",
                    "ChargeType": "StaticHttp",
                    "Flow": 0,
                    "Bandwidth": 3e7,
                    "Count": 0,
                },
            ],
        ),
        _item(
            "2026-10-05T05:00:00Z",
            "hour_count",
            [{"ChargeType": "StaticHttps", "Flow": 0, "Bandwidth": 0, "Count": 4321}],
            dimension="vas",
        ),
    )
    frame = history_frame(history_rows(reply, "shop"))
    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert str(frame["period_start"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["period_end"].dtype) == "datetime64[ns, UTC]"
    assert frame["period"].dtype == pd.StringDtype()
    assert frame["quantity"].dtype == "float64"
    for column in ("account", "method", "dimension", "region", "charge_type", "unit"):
        assert frame[column].dtype == "category", column
    got = {
        (r.method, r.period, r.region if pd.notna(r.region) else None): (
            r.period_end.isoformat(),
            r.quantity,
            r.unit,
        )
        for r in frame.itertuples()
    }
    assert got == {
        ("hour_flow", "2026-10-05T13", "CN"): ("2026-10-05T06:00:00+00:00", 123456789012.0, "byte"),
        ("day_bandwidth", "2026-10-05", "AP1"): ("2026-10-05T16:00:00+00:00", 2500000.5, "bit/s"),
        ("month_95_overseas", "2026-10", "CN"): ("2026-10-31T16:00:00+00:00", 1.25e8, "bit/s"),
        ("month_95_overseas", "2026-10", "OVERSEAS"): ("2026-10-31T16:00:00+00:00", 3e7, "bit/s"),
        ("hour_count", "2026-10-05T13", None): ("2026-10-05T06:00:00+00:00", 4321.0, "request"),
    }


@pytest.mark.parametrize(
    "data",
    [None, {}, [], "", {"BillHistoryDataItem": []}],
)
def test_history_empty_shapes_give_no_rows(data: object) -> None:
    frame = history_frame(history_rows({"BillHistoryData": data}, "shop"))
    assert frame.empty and list(frame.columns) == list(HISTORY_COLUMNS)


def test_history_one_item_as_an_object_not_a_list() -> None:
    entry = {"CdnRegion": "CN", "ChargeType": "StaticHttp", "Flow": 0, "Bandwidth": 7.0, "Count": 0}
    item = _item("2026-10-04T16:00:00Z", "day_bandwidth", [])
    item["BillingData"] = {"BillingDataItem": entry}
    reply = {"BillHistoryData": {"BillHistoryDataItem": item}}
    assert [r["quantity"] for r in history_rows(reply, "shop")] == [7.0]


@pytest.mark.parametrize(
    "reply, words",
    [
        ({"BillHistoryData": "x"}, "not an object"),
        ({"BillHistoryData": {"BillHistoryDataItem": [{"BillTime": "2026-10-01T00:00:00Z"}]}}, "no BillType"),
        (_history(_item("yesterday", "day_bandwidth", [])), "BillTime"),
        (_history(_item("2026-10-04T16:00:00", "day_bandwidth", [])), "BillTime"),
        (
            _history(
                _item("2026-10-04T16:00:00Z", "day_bandwidth", [{"CdnRegion": "CN", "Bandwidth": "lots"}])
            ),
            "not a number",
        ),
    ],
)
def test_history_bad_shapes_are_response_errors_naming_the_account(reply: dict, words: str) -> None:
    with pytest.raises(ResponseError, match=words) as caught:
        history_rows(reply, "shop")
    assert "'shop'" in str(caught.value) and isinstance(caught.value, UsagekitError)


def test_unknown_bill_type_kept_with_a_warning_naming_it() -> None:
    reply = _history(
        _item(
            "2026-10-04T16:00:00Z",
            "month_fancy_peak",
            [{"CdnRegion": "CN", "ChargeType": "S", "Bandwidth": 9.0}],
        ),
        _item("2026-10-04T16:00:00Z", "cdn_mystery", [{"CdnRegion": "CN", "ChargeType": "S", "Flow": 5.0}]),
    )
    rows = history_rows(reply, "shop")
    with pytest.warns(UnknownBillTypeWarning, match="cdn_mystery, month_fancy_peak"):
        warn_unknown_methods(r["method"] for r in rows)
    frame = history_frame(rows)
    kept = {r.method: (r.quantity, r.unit, r.period_end) for r in frame.itertuples()}
    assert kept["month_fancy_peak"][:2] == (9.0, "bit/s")
    assert kept["month_fancy_peak"][2] == pd.Timestamp("2026-10-31T16:00:00Z")  # a month, by its name
    assert kept["cdn_mystery"][:2] == (5.0, "byte") and pd.isna(kept["cdn_mystery"][2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_unknown_methods(["month_95", "hour_vas"])  # known: no warning


def test_prediction_rows() -> None:
    reply = {
        "RequestId": "r",
        "BillType": "month_95_overseas",
        "StartTime": "2026-10-31T16:00:00Z",
        "EndTime": "2026-11-20T06:00:00Z",
        "BillPredictionData": {
            "BillPredictionDataItem": [
                {"Area": "CN", "Value": 123456.5, "TimeStp": "2026-11-12T13:05:00Z"},
                {"Area": "OverSeas", "Value": "42"},
            ]
        },
    }
    frame = prediction_frame(prediction_rows(reply, "shop"))
    assert list(frame.columns) == list(PREDICTION_COLUMNS)
    assert frame["region"].tolist() == ["CN", "OVERSEAS"]
    assert frame["quantity"].tolist() == [123456.5, 42.0]
    assert frame["at"].iloc[0] == pd.Timestamp("2026-11-12T13:05:00Z") and pd.isna(frame["at"].iloc[1])
    assert (frame["start"] == pd.Timestamp("2026-10-31T16:00:00Z")).all()
    assert (frame["end"] == pd.Timestamp("2026-11-20T06:00:00Z")).all()
    for column in ("at", "start", "end"):
        assert str(frame[column].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ResponseError, match="no BillType"):
        prediction_rows({"StartTime": "2026-10-31T16:00:00Z"}, "shop")


def test_bill_history_arguments_refused_before_any_request() -> None:
    with pytest.raises(ArgumentError, match="empty sequence"):
        bill_history([], start="2026-10-01", end="2026-11-01")
    with pytest.raises(ArgumentError, match="start before end"):
        bill_history([], start="2026-11-01", end="2026-10-01")
    with pytest.raises(ArgumentError, match="start"):
        bill_history([], start="Nov 2026", end="2026-10-01")
