"""coverage() when the answer is "nothing": every expected account, kind and type with no export is a gap."""

from __future__ import annotations

from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.frames import task_frame
from usagekit.windows import coverage

START, END = "2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z"


def task(
    account: str, kind: str, task_id: str, status: str, kind_type: str | None, first: int, last: int
) -> dict:
    return {
        "account": account,
        "kind": kind,
        "task_id": task_id,
        "status": status,
        "type": kind_type,
        "window_start": f"2026-11-0{first}T00:00:00Z",
        "window_end": f"2026-11-0{last}T00:00:00Z",
    }


def table(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as (account, kind, type, part, first day, last day exclusive, task ids)."""
    return [
        (
            str(r.account),
            str(r.kind),
            None if pd.isna(r.type) else str(r.type),
            str(r.part),
            r.start.day,
            r.end.day,
            None if pd.isna(r.task_ids) else r.task_ids,
        )
        for r in frame.itertuples()
    ]


TASKS = task_frame(
    [
        task("shop", "detail", "1", "success", "flow", 1, 3),
        task("shop", "detail", "2", "failed", "vas", 1, 5),  # a group whose only export failed
    ]
)


def test_every_expected_account_kind_and_type_without_an_export_is_a_whole_gap() -> None:
    out = coverage(TASKS, START, END, accounts=["shop", "media"])
    assert table(out) == [
        ("shop", "summary", None, "gap", 1, 5, None),
        ("shop", "detail", "flow", "covered", 1, 3, "1"),
        ("shop", "detail", "flow", "gap", 3, 5, None),
        ("shop", "detail", "vas", "gap", 1, 5, None),
        ("media", "summary", None, "gap", 1, 5, None),
        ("media", "detail", "flow", "gap", 1, 5, None),
        ("media", "detail", "vas", "gap", 1, 5, None),
    ]
    assert list(out["account"].cat.categories) == ["shop", "media"]
    assert str(out["start"].dtype) == "datetime64[ns, UTC]" and out["task_ids"].dtype == pd.StringDtype()


def test_by_default_the_accounts_in_the_frame_are_expected() -> None:
    out = coverage(TASKS, START, END)
    assert set(out["account"].astype(str)) == {"shop"}
    assert ("shop", "summary", None, "gap", 1, 5, None) in table(out)


def test_accounts_may_be_account_objects_and_the_frame_may_be_empty() -> None:
    media = Account("media", "LTAI-not-a-real-key", "not-a-secret")
    out = coverage(task_frame([]), START, END, accounts=[media])
    assert table(out) == [
        ("media", "summary", None, "gap", 1, 5, None),
        ("media", "detail", "flow", "gap", 1, 5, None),
        ("media", "detail", "vas", "gap", 1, 5, None),
    ]
    assert coverage(task_frame([]), START, END).empty
