"""The overlap rule between exports by account and exports of some domains, on numbers written here.

Every expected value below is written by hand from the case's own story (the account's total, the
domains' values), never computed with :func:`usagekit.reconcile.reconcile`: for every account, region,
metric and interval the rows add up to the account's total where an export by account carries it, each
listed domain keeps its own value, and the rest sits in one remainder row (``domain`` NA, the
account-wide export's ``task_id``).
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from usagekit.frames import concat_frames, tidy_frame
from usagekit.reconcile import OverlapWarning, reconcile

T0 = pd.Timestamp("2026-11-01T16:00:00Z")
UNITS = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}


def export(
    task: str,
    values: dict[tuple[str | None, str | None, int], float],
    *,
    account: str = "shop",
    metric: str = "traffic",
) -> pd.DataFrame:
    """One export's rows: ``{(domain, region, point): value}``; domain None is a row of an export by account."""
    records = [
        {
            "account": account,
            "task_id": task,
            "domain": domain,
            "region": region,
            "metric": metric,
            "start": T0 + pd.Timedelta(minutes=5 * point),
            "end": T0 + pd.Timedelta(minutes=5 * point + 5),
            "value": value,
            "unit": UNITS[metric],
        }
        for (domain, region, point), value in values.items()
    ]
    return tidy_frame(pd.DataFrame(records))


def cells(frame: pd.DataFrame) -> dict[tuple[str, str | None, str | None, str, int, str], float]:
    """The frame as ``{(account, domain, region, metric, point, task_id): value}`` (NA as None)."""
    out = {}
    for row in frame.itertuples(index=False):
        point = int((row.start - T0) / pd.Timedelta(minutes=5))
        domain = None if pd.isna(row.domain) else str(row.domain)
        region = None if pd.isna(row.region) else str(row.region)
        key = (str(row.account), domain, region, str(row.metric), point, str(row.task_id))
        assert key not in out, f"row twice: {key}"
        out[key] = float(row.value)
    return out


def days(**ages: int) -> dict[str, pd.Timestamp]:
    return {task: T0 + pd.Timedelta(days=n) for task, n in ages.items()}


def quiet(frame: pd.DataFrame, updated: dict[str, pd.Timestamp]) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        return reconcile(frame, updated)


def test_partial_domains_under_an_account_export_keep_the_total_with_a_remainder_row() -> None:
    # the account used 100 and 90 bytes in CN; the per-domain export lists a.example only (30, 20)
    by_account = export("10", {(None, "CN", 0): 100.0, (None, "CN", 1): 90.0, (None, "CN", 2): 80.0})
    per_domain = export("11", {("a.example", "CN", 0): 30.0, ("a.example", "CN", 1): 20.0})
    with pytest.warns(OverlapWarning, match="remainder") as caught:
        out = reconcile(concat_frames([by_account, per_domain]), days(**{"10": 1, "11": 2}))
    assert len(caught) == 1
    assert cells(out) == {
        ("shop", None, "CN", "traffic", 0, "10"): 70.0,  # the rest of the account beyond a.example
        ("shop", None, "CN", "traffic", 1, "10"): 70.0,
        ("shop", None, "CN", "traffic", 2, "10"): 80.0,  # no domain listed: the total as it is
        ("shop", "a.example", "CN", "traffic", 0, "11"): 30.0,
        ("shop", "a.example", "CN", "traffic", 1, "11"): 20.0,
    }
    assert out.groupby("start")["value"].sum().tolist() == [100.0, 90.0, 80.0]
    (record,) = out.attrs["overlaps"]
    assert record["rule"] == "remainder"
    assert (record["account"], record["region"], record["metric"]) == ("shop", "CN", "traffic")
    assert (record["total_task_id"], record["domain_task_ids"], record["intervals"]) == ("10", ["11"], 2)
    assert (record["start"], record["end"]) == ("2026-11-01T16:00:00Z", "2026-11-01T16:10:00Z")
    json.dumps(out.attrs)
    assert out.dtypes.astype(str).equals(tidy_frame({}).dtypes.astype(str))


def test_the_per_domain_export_older_than_the_account_export_changes_nothing() -> None:
    by_account = export("10", {(None, "CN", 0): 100.0})
    per_domain = export("11", {("a.example", "CN", 0): 30.0})
    out = quiet(concat_frames([per_domain, by_account]), days(**{"10": 5, "11": 1}))
    assert cells(out) == {
        ("shop", None, "CN", "traffic", 0, "10"): 70.0,
        ("shop", "a.example", "CN", "traffic", 0, "11"): 30.0,
    }


def test_all_domains_under_an_account_export_leave_no_remainder_row() -> None:
    by_account = export("10", {(None, "CN", 0): 100.0, (None, "CN", 1): 7.0})
    per_domain = export(
        "11",
        {
            ("a.example", "CN", 0): 60.0,
            ("b.example", "CN", 0): 40.0,
            ("a.example", "CN", 1): 7.0,
            ("b.example", "CN", 1): 0.0,
        },
    )
    out = quiet(concat_frames([by_account, per_domain]), days(**{"10": 1, "11": 2}))
    assert cells(out) == {
        ("shop", "a.example", "CN", "traffic", 0, "11"): 60.0,
        ("shop", "a.example", "CN", "traffic", 1, "11"): 7.0,
        ("shop", "b.example", "CN", "traffic", 0, "11"): 40.0,
        ("shop", "b.example", "CN", "traffic", 1, "11"): 0.0,
    }


def test_a_newer_partial_export_that_disagrees_wins_its_domains_and_the_remainder_follows() -> None:
    by_account = export("10", {(None, "CN", 0): 100.0, (None, "CN", 1): 100.0})
    older = export("11", {("a.example", "CN", 0): 30.0, ("b.example", "CN", 0): 40.0})
    newer = export("12", {("a.example", "CN", 0): 50.0, ("a.example", "CN", 1): 10.0})
    out = quiet(concat_frames([by_account, older, newer]), days(**{"10": 1, "11": 2, "12": 3}))
    assert cells(out) == {
        ("shop", None, "CN", "traffic", 0, "10"): 10.0,  # 100 - a.example 50 (newer) - b.example 40
        ("shop", None, "CN", "traffic", 1, "10"): 90.0,
        ("shop", "a.example", "CN", "traffic", 0, "12"): 50.0,
        ("shop", "a.example", "CN", "traffic", 1, "12"): 10.0,
        ("shop", "b.example", "CN", "traffic", 0, "11"): 40.0,
    }
    rules = sorted(record["rule"] for record in out.attrs["overlaps"])
    assert rules == ["newer export", "remainder"]


def test_domains_adding_up_to_more_than_the_total_stand_and_the_excess_is_reported() -> None:
    by_account = export("10", {(None, "EU", 0): 100.0, (None, "EU", 1): 100.0, (None, "EU", 2): 100.0})
    per_domain = export(
        "12",
        {
            ("a.example", "EU", 1): 80.0,
            ("b.example", "EU", 1): 50.0,
            ("a.example", "EU", 2): 90.0,
            ("b.example", "EU", 2): 20.0,
        },
    )
    with pytest.warns(OverlapWarning) as caught:
        out = reconcile(concat_frames([by_account, per_domain]), days(**{"10": 1, "12": 3}))
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "more than the account total" in text and "excess 40" in text and "task 10" in text
    assert cells(out) == {
        ("shop", None, "EU", "traffic", 0, "10"): 100.0,
        ("shop", "a.example", "EU", "traffic", 1, "12"): 80.0,
        ("shop", "a.example", "EU", "traffic", 2, "12"): 90.0,
        ("shop", "b.example", "EU", "traffic", 1, "12"): 50.0,
        ("shop", "b.example", "EU", "traffic", 2, "12"): 20.0,
    }
    (excess,) = [r for r in out.attrs["overlaps"] if r["rule"] == "domains exceed total"]
    assert excess == {
        "account": "shop",
        "region": "EU",
        "metric": "traffic",
        "rule": "domains exceed total",
        "total_task_id": "10",
        "domain_task_ids": ["12"],
        "intervals": 2,
        "start": "2026-11-01T16:05:00Z",
        "end": "2026-11-01T16:15:00Z",
        "total": 200.0,
        "domains": 240.0,
        "excess": 40.0,
    }
    json.dumps(out.attrs)


def test_account_exports_of_two_regions_under_per_domain_exports_of_one() -> None:
    by_account = export("10", {(None, "CN", 0): 100.0, (None, "EU", 0): 50.0, (None, "CN", 1): 60.0})
    per_domain = export("11", {("a.example", "CN", 0): 30.0, ("a.example", "CN", 1): 60.0})
    other_account = export("20", {(None, "CN", 0): 5.0}, account="media")
    out = quiet(concat_frames([by_account, per_domain, other_account]), days(**{"10": 1, "11": 2, "20": 1}))
    assert cells(out) == {
        ("media", None, "CN", "traffic", 0, "20"): 5.0,
        ("shop", None, "CN", "traffic", 0, "10"): 70.0,
        ("shop", None, "EU", "traffic", 0, "10"): 50.0,  # no domain rows in EU: the EU total stays whole
        ("shop", "a.example", "CN", "traffic", 0, "11"): 30.0,
        ("shop", "a.example", "CN", "traffic", 1, "11"): 60.0,  # all of CN at point 1: no remainder
    }


def test_domain_rows_of_one_region_never_replace_the_total_of_another() -> None:
    by_account = export("10", {(None, "CN", 0): 100.0, (None, "EU", 0): 50.0})
    per_domain = export("11", {("a.example", "EU", 0): 20.0})
    out = quiet(concat_frames([by_account, per_domain]), days(**{"10": 1, "11": 2}))
    assert cells(out) == {
        ("shop", None, "CN", "traffic", 0, "10"): 100.0,
        ("shop", None, "EU", "traffic", 0, "10"): 30.0,
        ("shop", "a.example", "EU", "traffic", 0, "11"): 20.0,
    }


def test_requests_without_a_region_and_each_metric_apart() -> None:
    requests = export("30", {(None, None, 0): 500.0}, metric="requests")
    per_domain = export("31", {("a.example", None, 0): 200.0}, metric="requests")
    traffic = export("10", {(None, "CN", 0): 100.0})  # no per-domain traffic: untouched
    out = quiet(concat_frames([requests, per_domain, traffic]), days(**{"30": 1, "31": 2, "10": 1}))
    assert cells(out) == {
        ("shop", None, None, "requests", 0, "30"): 300.0,
        ("shop", "a.example", None, "requests", 0, "31"): 200.0,
        ("shop", None, "CN", "traffic", 0, "10"): 100.0,
    }


def test_the_newest_account_export_gives_the_total() -> None:
    old_total = export("10", {(None, "CN", 0): 100.0})
    new_total = export("13", {(None, "CN", 0): 120.0})
    per_domain = export("11", {("a.example", "CN", 0): 30.0})
    out = quiet(concat_frames([old_total, new_total, per_domain]), days(**{"10": 1, "13": 4, "11": 2}))
    assert cells(out) == {
        ("shop", None, "CN", "traffic", 0, "13"): 90.0,
        ("shop", "a.example", "CN", "traffic", 0, "11"): 30.0,
    }


def test_bandwidth_follows_the_same_rule() -> None:
    by_account = export("10", {(None, "CN", 0): 8.0}, metric="bandwidth")
    per_domain = export("11", {("a.example", "CN", 0): 2.0}, metric="bandwidth")
    out = quiet(concat_frames([by_account, per_domain]), days(**{"10": 1, "11": 2}))
    assert cells(out) == {
        ("shop", None, "CN", "bandwidth", 0, "10"): 6.0,
        ("shop", "a.example", "CN", "bandwidth", 0, "11"): 2.0,
    }
