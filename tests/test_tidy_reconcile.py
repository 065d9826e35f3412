"""The overlap rule on frames built by hand: counted once, newer wins, per-domain rows over by-account."""

from __future__ import annotations

import json
import warnings

import numpy as np
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


def test_per_domain_rows_win_over_by_account_rows() -> None:
    by_account = rows("shop", "10", range(0, 6), domains=(None,), regions=("CN", "EU"))
    per_domain = rows("shop", "11", range(3, 6), domains=("a.example", "b.example"))
    other_account = rows("media", "12", range(0, 6), domains=(None,))
    other_metric = rows("shop", "13", range(0, 6), domains=(None,), regions=(None,), metric="requests")
    frame = concat_frames([by_account, per_domain, other_account, other_metric])
    # the per-domain export is OLDER: the rule is about domains, not age
    with pytest.warns(OverlapWarning) as caught:
        out = reconcile(frame, updated(**{"10": 5, "11": 1, "12": 1, "13": 1}))
    assert len(caught) == 1
    shop_traffic = out[(out["account"] == "shop") & (out["metric"] == "traffic")]
    by_account_left = shop_traffic[shop_traffic["domain"].isna()]
    assert sorted(by_account_left["start"].unique()) == [T0 + pd.Timedelta(minutes=5 * i) for i in range(3)]
    assert len(by_account_left) == 3 * 2  # both regions, first three intervals only
    assert len(shop_traffic[shop_traffic["domain"].notna()]) == 3 * 2
    assert len(out[out["account"] == "media"]) == 6
    assert len(out[out["metric"] == "requests"]) == 6
    assert out.attrs["overlaps"] == [
        {
            "account": "shop",
            "metric": "traffic",
            "rule": "per-domain rows",
            "kept_task_id": "11",
            "dropped_task_id": "10",
            "intervals": 3,
            "disagreeing": None,
        }
    ]


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


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["shop", "media"]),
            st.booleans(),  # by account?
            st.integers(0, 20),  # first point
            st.integers(1, 12),  # length
            st.sampled_from(["traffic", "requests"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_reconciled_frame_equals_the_truth_it_was_cut_from(
    exports: list[tuple[str, bool, int, int, str]],
) -> None:
    """Exports cut from one truth, overlapping at random: each key once, by-account only where no domain."""
    frames, ages = [], {}
    for number, (account, by_account, first, length, metric) in enumerate(exports):
        domains = (None,) if by_account else ("a.example", "b.example")
        frames.append(
            rows(account, str(number), range(first, first + length), domains=domains, metric=metric)
        )
        ages[str(number)] = T0 + pd.Timedelta(hours=number)
    everything = concat_frames(frames)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        out = reconcile(everything, ages)
    key = ["account", "domain", "region", "metric", "start"]
    expected = everything.drop_duplicates(key)
    per_domain = expected[expected["domain"].notna()][["account", "metric", "start"]].drop_duplicates()
    marked = expected.merge(per_domain.assign(shadow=True), on=["account", "metric", "start"], how="left")
    expected = marked[~(marked["domain"].isna() & marked["shadow"].eq(True))]
    assert not out.duplicated(key).any()

    def plain(frame: pd.DataFrame) -> pd.Series:
        text = frame.astype({c: "object" for c in ["account", "domain", "region", "metric"]}).fillna(
            {"domain": "", "region": ""}
        )
        return text.set_index(key)["value"].sort_index()

    left, right = plain(out), plain(expected)
    assert left.index.equals(right.index)
    assert np.array_equal(left.to_numpy(), right.to_numpy())
    # the newest export holding a key is the one kept
    newest = (
        everything.assign(age=everything["task_id"].map(ages))
        .sort_values("age")
        .drop_duplicates(key, keep="last")
    )
    merged = out.merge(newest[[*key, "task_id"]], on=key, suffixes=("", "_newest"))
    assert (merged["task_id"] == merged["task_id_newest"]).all()
