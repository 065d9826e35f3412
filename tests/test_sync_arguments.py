"""sync's arguments by the README Conventions: inclusive Beijing months ``first_month``/``last_month``,
``start``/``end`` refused (they mean moments elsewhere), every bad argument an ArgumentError before any
folder is made or request sent, and a deadline on the injected clock, never the machine's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from usagekit.errors import ArgumentError
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import sync

NOW = "2026-11-04T08:00:00Z"


@pytest.fixture
def box(fresh_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return fresh_sandbox(now=NOW, accounts=1, tasks=0, task_delay=0, faults=Faults(failed_exports=0))


def refused(box: Sandbox, folder: Path, match: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ArgumentError, match=match):
        sync(*args, now=NOW, cache_dir=folder / "cache", progress=False, **kwargs)
    assert not folder.exists() and box.requests == []  # nothing made, nothing asked


def test_start_and_end_are_refused_naming_first_month_and_last_month(box: Sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "usage"
    refused(box, folder, "first_month and last_month", box.accounts, start="2026-09", end="2026-11",
            dataset=folder)  # fmt: skip
    refused(box, folder, "first_month and last_month", box.accounts, "2026-09", end="2026-11", dataset=folder)


@pytest.mark.parametrize("bad", ["Nov 2026", "2026/09", "2026-13", "2026-00", "2026-10-31", "", 202609])
def test_a_month_that_is_not_one_is_refused_before_anything_is_done(
    box: Sandbox, tmp_path: Path, bad: Any
) -> None:
    folder = tmp_path / "usage"
    refused(box, folder, "first_month .* YYYY-MM", box.accounts, bad, "2026-11", folder)
    refused(box, folder, "last_month .* YYYY-MM", box.accounts, "2026-09", bad, folder)


def test_other_bad_arguments_are_argument_errors_before_anything_is_done(
    box: Sandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "usage"
    refused(box, folder, "comes before first_month", box.accounts, "2026-11", "2026-09", folder)
    refused(box, folder, "accounts is empty", [], "2026-11", "2026-11", folder)
    refused(box, folder, "domains names no domain", box.accounts, "2026-11", "2026-11", folder, domains=[])
    refused(box, folder, "domains must be", box.accounts, "2026-11", "2026-11", folder, domains=[7])
    refused(box, folder, "types are", box.accounts, "2026-11", "2026-11", folder, types=("flows",))
    refused(box, folder, "max_in_flight", box.accounts, "2026-11", "2026-11", folder, max_in_flight=0)
    refused(box, folder, "needs dataset", box.accounts, "2026-11", "2026-11")
    with pytest.raises(ArgumentError, match="now"):
        sync(box.accounts, "2026-11", "2026-11", folder, now="2026-11-04T08:00")  # no time zone
    assert not folder.exists() and box.requests == []
    (tmp_path / "a file").write_text("not a folder")
    with pytest.raises(ArgumentError, match="is a file"):
        sync(box.accounts, "2026-11", "2026-11", tmp_path / "a file", now=NOW)
    assert box.requests == []


def test_the_deadline_is_kept_on_the_injected_clock(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = fresh_sandbox(now=NOW, accounts=1, tasks=0, task_delay=10_000, faults=Faults(failed_exports=0))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        box.advance(seconds)

    report = sync(box.accounts, "2026-11", "2026-11", tmp_path / "usage", now=NOW, sleep=sleep, poll=10,
                  timeout=120, cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    assert report.exit_code == 1 and any("run sync again later" in f["reason"] for f in report.failures)
    assert 120 <= sum(slept) <= 130  # gave up after 120 s of its injected clock (a fixed now: what it slept)

    slept.clear()
    moving = sync(box.accounts, "2026-11", "2026-11", tmp_path / "again", now=lambda: box.now,
                  sleep=box.advance, poll=10, timeout=60, cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    assert moving.exit_code == 1 and slept == []
