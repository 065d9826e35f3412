"""The frame contracts: columns, dtypes, exclusive ends, URL stripping, task tags."""

from __future__ import annotations

import pandas as pd

from usagekit.frames import (
    TaskTag,
    concat_frames,
    exclusive_end,
    format_task_tag,
    parse_task_tag,
    strip_query,
    task_frame,
    task_frame_of_columns,
    tidy_frame,
)


def test_task_frame_dtypes_and_unknown_status_kept() -> None:
    frame = task_frame(
        [
            {
                "account": "a",
                "kind": "detail",
                "task_id": 123,
                "status": "paused",
                "created": "2019-12-31T08:43:21Z",
            }
        ]
    )
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert frame["task_id"].dtype == pd.StringDtype()
    assert frame.loc[0, "task_id"] == "123"
    assert list(frame["status"].cat.categories) == ["created", "success", "failed", "paused"]
    assert frame["window_end"].isna().all()


def test_task_frame_of_columns_is_the_task_frame_of_the_same_values() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    beijing = timezone(timedelta(hours=8))
    columns = {
        "account": ["b", "a", "b"],
        "kind": ["detail", "summary", "detail"],
        "task_id": ["3", "2", "1"],
        "task_name": ["uk:vas:some:abcd x", None, "march"],
        "status": ["paused", "success", None],
        "created": [datetime(2026, 11, 20, 8, tzinfo=UTC), None, datetime(2026, 1, 1, tzinfo=UTC)],
        "updated": [None, None, None],
        "window_start": [datetime(2026, 11, 20, 8, tzinfo=beijing), None, None],  # not UTC: the general path
        "window_end": ["2026-11-21T00:00:00Z", None, pd.Timestamp("2026-11-21", tz="UTC")],
        "type": ["vas", None, None],
        "domains": ["some", None, None],
    }
    frame = task_frame_of_columns(columns)
    assert frame["status"].cat.categories.tolist() == ["created", "success", "failed", "paused"]
    assert frame["account"].cat.categories.tolist() == ["a", "b"]
    assert frame["created"].tolist()[0] == pd.Timestamp("2026-11-20T08:00:00Z")
    assert frame["window_start"].tolist()[0] == pd.Timestamp("2026-11-20T00:00:00Z")
    assert frame["download_url"].isna().all() and str(frame["download_url"].dtype) == "string"
    pd.testing.assert_frame_equal(frame, task_frame(pd.DataFrame(columns, dtype="object")))
    pd.testing.assert_frame_equal(task_frame_of_columns({}), task_frame([]))


def test_concat_unions_categories() -> None:
    a = tidy_frame(
        {"account": ["x"], "domain": ["a.com"], "metric": ["traffic"], "value": [1], "unit": ["byte"]}
    )
    b = tidy_frame(
        {"account": ["y"], "domain": [None], "metric": ["requests"], "value": [2], "unit": ["request"]}
    )
    both = concat_frames([a, b])
    assert both["account"].dtype == "category"
    assert set(both["account"].cat.categories) == {"x", "y"}
    assert both["domain"].isna().tolist() == [False, True]


def test_exclusive_end_rule() -> None:
    assert exclusive_end("2019-12-30T15:59:59Z") == pd.Timestamp("2019-12-30T16:00:00Z")
    assert exclusive_end("2019-12-30T21:00:00Z") == pd.Timestamp("2019-12-30T21:00:00Z")
    assert exclusive_end(None) is None


def test_strip_query_drops_credentials() -> None:
    url = "https://user:pw@b.oss.example.com/x/1.xlsx?OSSAccessKeyId=AK&Signature=sig#frag"
    assert strip_query(url) == "https://b.oss.example.com/x/1.xlsx"


def test_task_tag_round_trip() -> None:
    tag = TaskTag("vas", "some", "abc123", "my report")
    assert parse_task_tag(format_task_tag(tag)) == tag
    assert parse_task_tag("uk:bogus:all:abc123") is None
