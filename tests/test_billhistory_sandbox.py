"""bill_history / bill_prediction against the sandbox: the frames are what its truth billed, months asked apart."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from usagekit import bill_history, bill_prediction
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(
        seed=0, now=NOW, clock="frozen", bill_types={"demo-shop": "month_95", "demo-media": "day_bandwidth"}
    ) as sandbox:
        yield sandbox


def _accounts(box: Sandbox, *names: str) -> list:
    return [a for a in box.accounts if a.name in names]


def test_a_range_over_a_month_is_asked_month_by_month_and_equals_the_truth(box: Sandbox) -> None:
    start, end = "2026-09-15T00:00:00+08:00", "2026-11-15T00:00:00+08:00"
    before = len(box.requests)
    frame = bill_history(_accounts(box, "demo-shop", "demo-media"), start=start, end=end)
    calls = [r for r in box.requests[before:] if r["action"] == "DescribeCdnUserBillHistory"]
    assert len(calls) == 2 * 3  # two accounts, three Beijing months (15 Sep-1 Oct, October, 1-15 Nov)
    for call in calls:
        span = pd.Timestamp(call["params"]["EndTime"]) - pd.Timestamp(call["params"]["StartTime"])
        assert pd.Timedelta(0) < span <= pd.Timedelta(days=31)
    assert all(call["status"] == 200 for call in calls)
    for name in ("demo-shop", "demo-media"):
        truth = box.truth.bill_history(name, start, end)
        mine = frame[frame["account"] == name]
        assert mine["period"].tolist() == truth["period"].tolist()
        assert mine["quantity"].tolist() == truth["quantity"].tolist()  # full precision, as sent
        assert (mine["period_start"].to_numpy() == truth["period_start"].to_numpy()).all()
        assert (mine["period_end"].to_numpy() == truth["period_end"].to_numpy()).all()
    media = frame[frame["account"] == "demo-media"]
    assert set(media["method"].astype(str)) == {"day_bandwidth"} and set(media["unit"].astype(str)) == {
        "bit/s"
    }
    assert media["period"].iloc[0] == "2026-09-15" and media["period"].iloc[-1] == "2026-11-14"
    shop = frame[frame["account"] == "demo-shop"]
    assert shop["period"].tolist() == ["2026-10"]  # September began before start; November is not billed yet


def test_prediction_equals_the_truth(box: Sandbox) -> None:
    frame = bill_prediction(_accounts(box, "demo-shop"))
    truth = box.truth.bill_prediction("demo-shop")
    assert frame["quantity"].tolist() == truth["quantity"].tolist()
    assert frame["at"].tolist() == truth["at"].tolist()
    assert frame["region"].astype(str).tolist() == truth["region"].astype(str).tolist()
    assert (frame["start"] == pd.Timestamp("2026-10-31T16:00:00Z")).all()
