"""The overlap rule on frames built by hand: counted once, newer wins, totals kept whole (see also
test_reconcile_overlap.py for account totals under per-domain exports)."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usagekit.frames import concat_frames, tidy_frame
from usagekit.reconcile import OverlapWarning, reconcile

T0 = pd.Timestamp("2026-11-01T16:00:00Z")
UNITS = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}


def rows(
    account: str,
    task: str,
    points: range,
    *,
    domains: tuple[str | None, ...] = ("a.example",),
    regions: tuple[str | None, ...] = ("CN",),
    metric: str = "traffic",
    value: float | None = None,
) -> pd.DataFrame:
    """One export's rows: every domain x region x point, value a pure function of the key unless given."""
    records = []
    for domain in domains:
        for region in regions:
            for i in points:
                start = T0 + pd.Timedelta(minutes=5 * i)
                truth = float(hash((account, domain, region, metric, i)) % 10_000)
                records.append(
                    {
                        "account": account,
                        "task_id": task,
                        "domain": domain,
                        "region": region,
                        "metric": metric,
                        "start": start,
                        "end": start + pd.Timedelta(minutes=5),
                        "value": truth if value is None else value,
                        "unit": UNITS[metric],
                    }
                )
    return tidy_frame(pd.DataFrame(records))


def updated(**days: int) -> dict[str, pd.Timestamp]:
    return {task: T0 + pd.Timedelta(days=n) for task, n in days.items()}


def test_identical_overlap_is_counted_once_and_reported() -> None:
    frame = concat_frames([rows("shop", "1", range(0, 10)), rows("shop", "2", range(5, 15))])
    with pytest.warns(OverlapWarning, match="task 1 gave way to 2") as caught:
        out = reconcile(frame, updated(**{"1": 1, "2": 2}))
    assert len(caught) == 1
    assert len(out) == 15
    assert out["start"].is_monotonic_increasing and not out.duplicated(["start"]).any()
    assert out.attrs["overlaps"] == [
        {
            "account": "shop",
            "metric": "traffic",
            "rule": "newer export",
            "kept_task_id": "2",
            "dropped_task_id": "1",
            "intervals": 5,
            "disagreeing": 0,
        }
    ]
    json.dumps(out.attrs)  # plain JSON-able
    assert out.dtypes.astype(str).equals(tidy_frame({}).dtypes.astype(str))


def test_disagreeing_exports_newer_wins_whatever_the_ids() -> None:
    older = rows("shop", "900", range(0, 4), value=1.0)  # larger id, older export
    newer = rows("shop", "100", range(2, 6), value=2.0)
    with pytest.warns(OverlapWarning, match="different values"):
        out = reconcile(concat_frames([older, newer]), updated(**{"900": 1, "100": 2}))
    assert out["value"].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert out["task_id"].tolist() == ["900", "900", "100", "100", "100", "100"]
    (record,) = out.attrs["overlaps"]
    assert (record["kept_task_id"], record["dropped_task_id"], record["disagreeing"]) == ("100", "900", 2)


def test_equal_updated_times_fall_back_to_the_later_task_id() -> None:
    a = rows("shop", "99", range(0, 2), value=1.0)
    b = rows("shop", "100", range(0, 2), value=2.0)
    with pytest.warns(OverlapWarning):
        out = reconcile(concat_frames([a, b]), updated(**{"99": 1, "100": 1}))
    assert out["value"].tolist() == [2.0, 2.0]


def test_the_same_task_id_in_two_accounts_is_two_exports() -> None:
    a = rows("shop", "7", range(0, 3), value=1.0)
    b = rows("media", "7", range(0, 3), value=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = reconcile(concat_frames([a, b]), {("shop", "7"): T0, ("media", "7"): T0})
    assert len(out) == 6 and out.attrs["overlaps"] == []


def test_no_overlap_no_warning_and_canonical_order() -> None:
    frame = concat_frames(
        [rows("b", "2", range(3)), rows("a", "1", range(3), domains=(None,)), rows("a", "3", range(3, 6))]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = reconcile(frame.iloc[::-1], {})
    assert out["account"].astype(str).tolist()[:3] == ["a"] * 3
    assert out["domain"].isna().tolist()[:3] == [True] * 3  # missing first
    assert out.attrs == {"overlaps": []}


ALL_DOMAINS = ("a.example", "b.example", "c.example")


def truth(account: str, domain: str, metric: str, point: int) -> float:
    """The world's value of one domain at one point (a pure function, written here, not read back)."""
    return float(hash((account, domain, metric, point)) % 10_000)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["shop", "media"]),
            st.sets(st.sampled_from(ALL_DOMAINS), max_size=3),  # empty: an export by account
            st.integers(0, 20),  # first point
            st.integers(1, 12),  # length
            st.sampled_from(["traffic", "requests"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_reconciled_totals_equal_the_truth_the_exports_were_cut_from(
    exports: list[tuple[str, set[str], int, int, str]],
) -> None:
    """Exports cut from one world at random; the answer comes from that world, not from the rule.

    Per account, metric and point: the rows add up to the account's total (all three domains) where an
    export by account covers the point, else to the listed domains; each listed domain holds its own
    value once; the remainder row, only when not zero, carries the newest account-wide export's id.
    """
    frames, ages = [], {}
    covered: dict[tuple[str, str, int], list[tuple[int, set[str]]]] = {}
    for number, (account, listed, first, length, metric) in enumerate(exports):
        records = []
        for point in range(first, first + length):
            covered.setdefault((account, metric, point), []).append((number, listed))
            start = T0 + pd.Timedelta(minutes=5 * point)
            values = (
                {domain: truth(account, domain, metric, point) for domain in sorted(listed)}
                if listed
                else {None: sum(truth(account, d, metric, point) for d in ALL_DOMAINS)}
            )
            for domain, value in values.items():
                records.append(
                    {
                        "account": account,
                        "task_id": str(number),
                        "domain": domain,
                        "region": "CN" if metric == "traffic" else None,
                        "metric": metric,
                        "start": start,
                        "end": start + pd.Timedelta(minutes=5),
                        "value": value,
                        "unit": UNITS[metric],
                    }
                )
        frames.append(tidy_frame(pd.DataFrame(records)))
        ages[str(number)] = T0 + pd.Timedelta(hours=number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        out = reconcile(concat_frames(frames), ages)

    expected: dict[tuple[str, str | None, str, int], tuple[float, str]] = {}
    for (account, metric, point), holders in covered.items():
        domains = {d: str(max(n for n, listed in holders if d in listed)) for h in holders for d in h[1]}
        for domain, newest in domains.items():
            expected[(account, domain, metric, point)] = (truth(account, domain, metric, point), newest)
        by_account = [n for n, listed in holders if not listed]
        if by_account:
            total = sum(truth(account, d, metric, point) for d in ALL_DOMAINS)
            rest = total - sum(truth(account, d, metric, point) for d in domains)
            if rest != 0:
                expected[(account, None, metric, point)] = (rest, str(max(by_account)))
        elif not domains:
            raise AssertionError("every export lists domains or is by account")
    got = {}
    for row in out.itertuples(index=False):
        point = int((row.start - T0) / pd.Timedelta(minutes=5))
        key = (str(row.account), None if pd.isna(row.domain) else str(row.domain), str(row.metric), point)
        assert key not in got, f"counted twice: {key}"
        got[key] = (float(row.value), str(row.task_id))
    assert got == expected
