"""The one time rule (usagekit.times): which moments and months are accepted, and what a refusal says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest

from usagekit.errors import ArgumentError, UsagekitError
from usagekit.times import api_time, current, moment, month, month_bounds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-01T00:00:00+08:00", "2026-09-30T16:00:00+00:00"),
        ("2026-09-30T16:00:00Z", "2026-09-30T16:00:00+00:00"),
        ("2026-10-01 08:30+0800", "2026-10-01T00:30:00+00:00"),
        ("2026-10-01T00:00:00.5-01:00", "2026-10-01T01:00:00.500000+00:00"),
        ("2026-10-01", "2026-10-01T00:00:00+00:00"),  # a date alone: midnight UTC, as documented
        (" 2026-10-01 ", "2026-10-01T00:00:00+00:00"),
        (datetime(2026, 10, 1, tzinfo=timezone(timedelta(hours=8))), "2026-09-30T16:00:00+00:00"),
        (pd.Timestamp("2026-10-01T00:00", tz="Asia/Tokyo"), "2026-09-30T15:00:00+00:00"),
        (date(2026, 10, 1), "2026-10-01T00:00:00+00:00"),
    ],
)
def test_accepted_moments(value: object, expected: str) -> None:
    found = moment(value, "start")
    assert found.isoformat() == expected
    assert str(found.tz) == "UTC" and found.unit == "ns"


@pytest.mark.parametrize(
    "value",
    [
        "Nov 2026",
        "2026/09",
        "01-10-2026",
        "2026-13-01",
        "2026-02-30",
        "2026-10",
        "",
        "yesterday",
        "9999-01-01",
    ],
)
def test_loose_text_is_refused_showing_the_accepted_forms(value: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        moment(value, "since")
    text = str(caught.value)
    assert text.startswith(f"since {value!r} is not a moment; accepted: ")
    assert "2026-10-01T00:00:00+08:00" in text and "2026-09-30T16:00:00Z" in text and "midnight UTC" in text


@pytest.mark.parametrize(
    "value", [datetime(2026, 10, 1), pd.Timestamp("2026-10-01"), "2026-10-01T00:00:00", "2026-10-01 00:00"]
)
def test_a_value_without_zone_shows_both_readings(value: object) -> None:
    with pytest.raises(ArgumentError, match="has no time zone") as caught:
        moment(value, "end")
    text = str(caught.value)
    assert "2026-10-01T00:00:00Z for UTC" in text
    assert "2026-10-01T00:00:00+08:00 for Beijing (= 2026-09-30T16:00:00Z)" in text


@pytest.mark.parametrize("value", [None, 5, 1.5, True, b"2026-10-01", ["2026-10-01"]])
def test_a_value_of_another_type_is_an_argument_error(value: object) -> None:
    with pytest.raises(ArgumentError, match=r"^until must be a moment, not "):
        moment(value, "until")


def test_out_of_range_aware_datetime_is_refused() -> None:
    with pytest.raises(UsagekitError, match="is not a moment"):
        moment(datetime(1, 1, 1, tzinfo=UTC), "start")


@pytest.mark.parametrize("value", ["2026-09", " 2026-12 "])
def test_months(value: str) -> None:
    assert month(value, "first_month") == value.strip()


@pytest.mark.parametrize(
    "value", ["Nov 2026", "2026/09", "2026-13", "2026-00", "2026-9", "2026-09-01", "", 202609]
)
def test_not_months(value: object) -> None:
    with pytest.raises(
        ArgumentError, match=r"^last_month .*YYYY-MM, a Beijing month \(for example 2026-09\)"
    ):
        month(value, "last_month")


def test_month_bounds_are_beijing_midnights() -> None:
    assert [t.isoformat() for t in month_bounds("2026-12")] == [
        "2026-11-30T16:00:00+00:00",
        "2026-12-31T16:00:00+00:00",
    ]


def test_api_time_and_current() -> None:
    assert api_time(pd.Timestamp("2026-10-01T08:00:00+08:00")) == "2026-10-01T00:00:00Z"
    assert current("2026-11-20T08:00:00Z") == pd.Timestamp("2026-11-20T08:00:00Z")
    assert current().tz is not None
