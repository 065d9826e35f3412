"""The days ``usagekit bill --create`` exports: those lacking the account's total, not merely lacking points.

A day that only an export of some domains covers holds points, but not the account's total, so the check
calls it incomplete; the days to create must include it. Expected spans written by hand.
"""

from __future__ import annotations

import pandas as pd

from usagekit.accounts import Account
from usagekit.billusage import _day_gaps

ACCOUNT = Account(name="shop", access_key_id="LTAIexample-0000AbCd", access_key_secret="s")
DAY_ONE = pd.Timestamp("2026-10-31T16:00:00Z")  # 1 November, Beijing


def day(start: pd.Timestamp, domain: str | None) -> pd.DataFrame:
    starts = pd.date_range(start, periods=288, freq="5min")
    return pd.DataFrame(
        {
            "account": "shop",
            "domain": pd.Series([domain] * 288, dtype="string"),
            "metric": "bandwidth",
            "start": starts,
            "value": 1.0,
        }
    )


def test_a_day_held_only_by_some_domains_is_still_to_export() -> None:
    frame = pd.concat(
        [day(DAY_ONE, None), day(DAY_ONE + pd.Timedelta(days=1), "img.example")], ignore_index=True
    )
    gaps = _day_gaps(frame, [ACCOUNT], DAY_ONE, DAY_ONE + pd.Timedelta(days=3))
    assert gaps == {"shop": [("2026-11-01T16:00:00Z", "2026-11-03T16:00:00Z")]}


def test_days_of_the_accounts_total_are_covered() -> None:
    frame = pd.concat([day(DAY_ONE, None), day(DAY_ONE + pd.Timedelta(days=1), None)], ignore_index=True)
    assert _day_gaps(frame, [ACCOUNT], DAY_ONE, DAY_ONE + pd.Timedelta(days=2)) == {"shop": []}
