"""check_bill's verdicts on frames written here (compare_bill: no request); expected values are the test's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _points import series as _series

from usagekit.billcheck import CHECK_COLUMNS, VERDICTS, compare_bill, compare_prediction
from usagekit.billhistory import history_frame, prediction_frame
from usagekit.errors import ArgumentError
from usagekit.frames import concat_frames

OCT = pd.Timestamp("2026-09-30T16:00:00Z")  # 2026-10-01 00:00 Beijing
NOV = pd.Timestamp("2026-10-31T16:00:00Z")
DAY = pd.Timedelta(days=1)
AFTER = "2026-11-02T00:00:00Z"  # October closed


def series(start: str, values: object, **options: object) -> pd.DataFrame:
    """Points of the account's total (no domain: an export by account)."""
    return _series(start, values, domain=None, **options)  # type: ignore[arg-type]


def methods(method: str, account: str = "shop") -> pd.DataFrame:
    return pd.DataFrame({"account": [account], "start": [OCT], "end": [NOV], "bill_type": [method]})


def billed(
    method: str, rows: list[tuple[str, pd.Timestamp, pd.Timestamp, float]], **extra: str
) -> pd.DataFrame:
    """History rows: (period label, start, end, quantity), region CN, one charge type unless given."""
    unit = {"hour_flow": "byte"}.get(method, "bit/s")
    return history_frame(
        [
            {
                "account": extra.get("account", "shop"),
                "method": method,
                "dimension": "flow",
                "period": label,
                "period_start": start,
                "period_end": end,
                "region": "CN",
                "charge_type": extra.get("charge_type", "StaticHttp"),
                "quantity": quantity,
                "unit": unit,
            }
            for label, start, end, quantity in rows
        ]
    )


def two_days() -> tuple[pd.DataFrame, float, float]:
    """Oct 1 and Oct 2 (Beijing), 288 points each; peaks written out: 5e6 and 7e6 bit/s."""
    first = np.full(288, 1e6)
    first[100] = 5e6
    second = np.full(288, 2e6)
    second[7] = 7e6
    usage = series(OCT.isoformat(), np.concatenate([first, second]))
    return usage, 5e6, 7e6


def test_day_bandwidth_match_and_differs() -> None:
    usage, peak1, peak2 = two_days()
    history = billed(
        "day_bandwidth",
        [("2026-10-01", OCT, OCT + DAY, peak1), ("2026-10-02", OCT + DAY, OCT + 2 * DAY, peak2 * 1.05)],
    )
    check = compare_bill(usage, methods("day_bandwidth"), history, month="2026-10", now=AFTER)
    assert list(check.columns) == list(CHECK_COLUMNS)
    assert check["verdict"].tolist() == ["match", "differs"]
    assert check["computed"].tolist() == [peak1, peak2]
    assert check["relative"].iloc[1] == pytest.approx(0.05, abs=1e-12)
    assert check["difference"].iloc[1] == pytest.approx(peak2 * 0.05)
    assert "+5.000000%" in check["explanation"].iloc[1]
    assert list(check["verdict"].cat.categories) == list(VERDICTS)
    assert check["explanation"].dtype == pd.StringDtype()


def test_missing_points_are_incomplete_usage_naming_the_day_and_counts() -> None:
    usage, peak1, peak2 = two_days()
    usage = usage.drop(index=[288 + 10, 288 + 11, 288 + 200]).reset_index(drop=True)
    history = billed(
        "day_bandwidth",
        [("2026-10-01", OCT, OCT + DAY, peak1), ("2026-10-02", OCT + DAY, OCT + 2 * DAY, peak2)],
    )
    check = compare_bill(usage, methods("day_bandwidth"), history, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["match", "incomplete_usage"]
    assert "2026-10-02 (3 of 288 points missing)" in check["explanation"].iloc[1]


def test_a_day_billed_but_absent_from_usage_is_incomplete_not_differs() -> None:
    usage, peak1, _ = two_days()
    usage = usage.iloc[:288]  # only Oct 1
    history = billed(
        "day_bandwidth",
        [("2026-10-01", OCT, OCT + DAY, peak1), ("2026-10-02", OCT + DAY, OCT + 2 * DAY, 9e6)],
    )
    check = compare_bill(usage, methods("day_bandwidth"), history, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["match", "incomplete_usage"]
    assert "2026-10-02 (288 of 288 points missing)" in check["explanation"].iloc[1]


def test_open_period_is_not_billed_yet() -> None:
    usage, peak1, _ = two_days()
    history = billed("day_bandwidth", [("2026-10-01", OCT, OCT + DAY, peak1)])
    now = (OCT + DAY + pd.Timedelta(hours=5)).isoformat()
    check = compare_bill(usage, methods("day_bandwidth"), history, month="2026-10", now=now)
    assert check["verdict"].tolist() == ["match", "not_billed_yet"]
    assert np.isnan(check["billed"].iloc[1])


def test_no_usage_of_the_account() -> None:
    usage, _, _ = two_days()
    history = billed("day_bandwidth", [("2026-10-01", OCT, OCT + DAY, 5e6)], account="other")
    check = compare_bill(usage, methods("day_bandwidth", "other"), history, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["no_usage"]
    assert np.isnan(check["computed"].iloc[0])


def test_several_charge_types_for_bandwidth_unsupported_for_traffic_summed() -> None:
    usage, peak1, _ = two_days()
    history = concat_frames(
        [
            billed("day_bandwidth", [("2026-10-01", OCT, OCT + DAY, peak1 / 2)], charge_type="StaticHttp"),
            billed("day_bandwidth", [("2026-10-01", OCT, OCT + DAY, peak1 / 2)], charge_type="DynamicHttp"),
        ]
    )
    check = compare_bill(usage.iloc[:288], methods("day_bandwidth"), history, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["unsupported"]
    assert "not published" in check["explanation"].iloc[0]

    hour = series(OCT.isoformat(), [100.0] * 12, metric="traffic")
    flows = concat_frames(
        [
            billed(
                "hour_flow", [("2026-10-01T00", OCT, OCT + pd.Timedelta(hours=1), 700.0)], charge_type="A"
            ),
            billed(
                "hour_flow", [("2026-10-01T00", OCT, OCT + pd.Timedelta(hours=1), 500.0)], charge_type="B"
            ),
        ]
    )
    check = compare_bill(hour, methods("hour_flow"), flows, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["match"] and check["billed"].tolist() == [1200.0]


def month_points() -> pd.DataFrame:
    """Every point of October (8,928), the i-th holding i + 1 bit/s: the rule below is easy to follow."""
    return series(OCT.isoformat(), np.arange(1, 8929, dtype=float))


def test_month_95_explanation_names_both_points_times() -> None:
    usage = month_points()
    # floor(5 % of 8,928) = 446 discarded: the 447th highest is point 8,928 - 447 = index 8,481 (value 8,482),
    # at 2026-10-01 00:00 Beijing + 8,481 x 5 min = 2026-10-30 10:45 Beijing.
    history = billed("month_95", [("2026-10", OCT, NOV, 8482.0)])
    check = compare_bill(usage, methods("month_95"), history, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["match"]
    assert check["computed_at"].iloc[0] == OCT + 8481 * pd.Timedelta(minutes=5)

    # billed the value of index 8,400 (8,401 bit/s): 2026-10-30 04:00 Beijing
    history = billed("month_95", [("2026-10", OCT, NOV, 8401.0)])
    row = compare_bill(usage, methods("month_95"), history, month="2026-10", now=AFTER).iloc[0]
    assert row["verdict"] == "differs"
    assert (
        "2026-10-30 10:45 Beijing" in row["explanation"] and "2026-10-30 04:00 Beijing" in row["explanation"]
    )
    assert row["billed_at"] == OCT + 8400 * pd.Timedelta(minutes=5)

    # a value no point has: 446 points lie above 8,482.5
    history = billed("month_95", [("2026-10", OCT, NOV, 8482.5)])
    row = compare_bill(usage, methods("month_95"), history, month="2026-10", now=AFTER).iloc[0]
    assert row["verdict"] == "differs" and "446 of them lie above it" in row["explanation"]
    assert pd.isna(row["billed_at"])


def test_ceil_rounding_is_passed_on() -> None:
    usage = month_points()
    # ceil(5 % of 8,928) = 447 discarded: index 8,480, value 8,481
    history = billed("month_95", [("2026-10", OCT, NOV, 8481.0)])
    check = compare_bill(
        usage, methods("month_95"), history, month="2026-10", now=AFTER, percentile_rounding="ceil"
    )
    assert check["verdict"].tolist() == ["match"]


def test_current_month_monthly_row_is_not_billed_yet() -> None:
    usage = month_points().iloc[: 288 * 20]
    check = compare_bill(
        usage, methods("month_95"), billed("month_95", []), month="2026-10", now="2026-10-21T00:00:00Z"
    )
    assert check["verdict"].tolist() == ["not_billed_yet"]
    assert check["period"].tolist() == ["2026-10"]


@pytest.mark.parametrize(
    "options, words",
    [
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": float("nan")}, "tolerance"),
        ({"percentile_rounding": "up"}, "percentile_rounding"),
        ({"count_idle_days": "no"}, "count_idle_days"),
        ({"month": "2026-13"}, "month"),
        ({"month": "Oct 2026"}, "month"),
    ],
)
def test_bad_arguments(options: dict, words: str) -> None:
    arguments = {"month": "2026-10", "now": AFTER, **options}
    with pytest.raises(ArgumentError, match=words):
        compare_bill(month_points(), methods("month_95"), billed("month_95", []), **arguments)


def test_prediction_compared_over_its_window() -> None:
    usage = month_points().iloc[: 288 * 10]  # Oct 1..10 Beijing
    end = OCT + 10 * DAY
    # 2,880 points, floor(5 %) = 144 discarded: index 2,880 - 145 = 2,735, value 2,736
    prediction = prediction_frame(
        [
            {
                "account": "shop",
                "method": "month_95",
                "region": "CN",
                "quantity": 2736.0,
                "unit": "bit/s",
                "at": OCT + 2735 * pd.Timedelta(minutes=5),
                "start": OCT,
                "end": end,
            }
        ]
    )
    check = compare_prediction(usage, prediction)
    assert check["verdict"].tolist() == ["match"]
    assert check["computed_at"].iloc[0] == check["predicted_at"].iloc[0]
    prediction["quantity"] = 2736.0 * 1.1
    check = compare_prediction(usage, prediction)
    assert check["verdict"].tolist() == ["differs"]
    assert check["relative"].iloc[0] == pytest.approx(0.1)


def test_points_only_exports_of_some_domains_hold_are_incomplete() -> None:
    usage, peak1, _ = two_days()
    second = usage.index >= 288
    usage.loc[second, "domain"] = "a.example"  # the 2nd day only from an export of some domains
    history = billed(
        "day_bandwidth",
        [("2026-10-01", OCT, OCT + DAY, peak1), ("2026-10-02", OCT + DAY, OCT + 2 * DAY, 9e6)],
    )
    check = compare_bill(usage, methods("day_bandwidth"), history, month="2026-10", now=AFTER)
    assert check["verdict"].tolist() == ["match", "incomplete_usage"]
    assert "2026-10-02 (288 of 288 points missing)" in check["explanation"].iloc[1]
    assert "only exports of some domains" in check["explanation"].iloc[1]


def test_month_4th_day_bandwidth_names_the_peak_days_times() -> None:
    # five Beijing days, 288 points each at 1 bit/s, one peak a day written out: 10, 50, 30, 40, 20 bit/s
    peaks = {0: (10.0, 7), 1: (50.0, 100), 2: (30.0, 200), 3: (40.0, 3), 4: (20.0, 250)}
    values = np.ones(288 * 5)
    for day, (peak, at) in peaks.items():
        values[288 * day + at] = peak
    usage = series(OCT.isoformat(), values)
    # the 4th highest daily peak is 20 bit/s, Oct 5 (Beijing) at point 250: 20:50
    history = billed("month_4th_day_bandwidth", [("2026-10", OCT, NOV, 20.0)])
    row = compare_bill(usage, methods("month_4th_day_bandwidth"), history, month="2026-10", now=AFTER).iloc[0]
    assert row["verdict"] == "incomplete_usage"  # October has 31 days, the usage five
    full = np.ones(288 * 31)
    full[: len(values)] = values
    usage = series(OCT.isoformat(), full)
    row = compare_bill(usage, methods("month_4th_day_bandwidth"), history, month="2026-10", now=AFTER).iloc[0]
    assert row["verdict"] == "match" and row["computed"] == 20.0
    assert row["computed_at"] == OCT + pd.Timedelta(days=4, minutes=5 * 250)
    history = billed(
        "month_4th_day_bandwidth", [("2026-10", OCT, NOV, 40.0)]
    )  # the 2nd highest: Oct 4, 00:15
    row = compare_bill(usage, methods("month_4th_day_bandwidth"), history, month="2026-10", now=AFTER).iloc[0]
    assert row["verdict"] == "differs" and row["relative"] == pytest.approx(1.0)
    assert (
        "2026-10-05 20:50 Beijing" in row["explanation"] and "2026-10-04 00:15 Beijing" in row["explanation"]
    )
