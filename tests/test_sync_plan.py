"""The sync's planner on datasets and listed exports written here, no server: what is held, what fills a gap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from usagekit.dataset import read_manifest, write_partition
from usagekit.errors import ConfigurationError
from usagekit.frames import tidy_frame
from usagekit.sync_plan import Planner, Tally, Unit

T = pd.Timestamp
OCTOBER = T("2026-09-30T16:00:00Z")  # Beijing 2026-10-01 00:00
NOVEMBER = T("2026-10-31T16:00:00Z")
DECEMBER = T("2026-11-30T16:00:00Z")
NOW = T("2026-11-03T08:00:00Z")  # Beijing 2026-11-03 16:00: the period stops at 2026-11-03 00:00 Beijing
HORIZON = T("2026-11-02T16:00:00Z")


def planner(
    root: Path, types: tuple[str, ...] = ("flow", "vas"), domains: list[str] | None = None
) -> Planner:
    return Planner(root, domains=domains, mark="sync", types=types, tally=Tally())


def held_partition(
    root: Path, account: str, month: str, pieces: list[dict[str, Any]], domains: Any = None
) -> None:
    provenance = {"account": account, "month": month, "domains": domains, "pieces": pieces}
    write_partition(tidy_frame({}), root, account, month, provenance=provenance)


def export(task_id: str, start: str, end: str, **row: Any) -> dict[str, Any]:
    """A listed detail export's row (what list_tasks gives), by account, vas unless said."""
    return {
        "account": "shop",
        "task_id": task_id,
        "task_name": row.pop("task_name", f"uk:vas:all:t{task_id}00"),
        "type": row.pop("type", "vas"),
        "status": row.pop("status", "success"),
        "window_start": T(start),
        "window_end": T(end),
        "created": row.pop("created", T("2026-11-20T00:00:00Z")),
        "updated": row.pop("updated", T("2026-11-20T00:00:00Z")),
        **row,
    }


def test_an_empty_dataset_wants_every_account_month_and_type_up_to_the_current_beijing_day(
    tmp_path: Path,
) -> None:
    plan = planner(tmp_path)
    units = plan.plan(["shop", "blog"], OCTOBER, DECEMBER, NOW)
    got = [(u.account, u.month, u.type, u.gaps) for u in units]
    assert got == [
        ("shop", "2026-10", "flow", [(OCTOBER, NOVEMBER)]),
        ("shop", "2026-10", "vas", [(OCTOBER, NOVEMBER)]),
        ("shop", "2026-11", "flow", [(NOVEMBER, HORIZON)]),
        ("shop", "2026-11", "vas", [(NOVEMBER, HORIZON)]),
        ("blog", "2026-10", "flow", [(OCTOBER, NOVEMBER)]),
        ("blog", "2026-10", "vas", [(OCTOBER, NOVEMBER)]),
        ("blog", "2026-11", "flow", [(NOVEMBER, HORIZON)]),
        ("blog", "2026-11", "vas", [(NOVEMBER, HORIZON)]),
    ]
    assert plan.horizon == HORIZON and plan.oldest == T("2025-11-03T16:00:00Z")
    assert set(plan.tally.counts) == {
        ("shop", "2026-10"),
        ("shop", "2026-11"),
        ("blog", "2026-10"),
        ("blog", "2026-11"),
    }


def test_what_the_provenance_holds_is_no_gap_and_a_month_held_whole_is_skipped(tmp_path: Path) -> None:
    day = [["2026-10-31T16:00:00Z", "2026-11-01T16:00:00Z"]]  # Beijing 2026-11-01
    held_partition(tmp_path, "shop", "2026-11", [{"type": "vas", "task_id": "7", "covers": day}])
    whole = [["2026-09-30T16:00:00Z", "2026-10-31T16:00:00Z"]]
    held_partition(tmp_path, "shop", "2026-10", [{"type": "vas", "task_id": "5", "covers": whole}])
    plan = planner(tmp_path, types=("vas",))
    units = plan.plan(["shop"], OCTOBER, DECEMBER, NOW)
    assert [(u.month, u.gaps) for u in units] == [
        ("2026-10", []),
        ("2026-11", [(T("2026-11-01T16:00:00Z"), HORIZON)]),
    ]
    assert plan.tally.counts[("shop", "2026-10")]["skipped"] == 1
    assert plan.tally.counts[("shop", "2026-11")]["skipped"] == 0
    assert plan.distrusted == {}


def test_a_damaged_partition_holds_nothing_and_is_named(tmp_path: Path) -> None:
    whole = [["2026-10-31T16:00:00Z", "2026-11-30T16:00:00Z"]]
    held_partition(tmp_path, "shop", "2026-11", [{"type": "vas", "task_id": "7", "covers": whole}])
    entry = read_manifest(tmp_path)["partitions"]["shop/2026-11"]
    path = tmp_path / entry["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    plan = planner(tmp_path, types=("vas",))
    (unit,) = plan.plan(["shop"], NOVEMBER, DECEMBER, NOW)
    assert unit.gaps == [(NOVEMBER, HORIZON)]
    assert list(plan.distrusted) == [("shop", "2026-11")] and plan.unhashed == set()
    assert plan.provenance("shop", "2026-11") is None
    plan.rewritten.add(("shop", "2026-11"))  # once rewritten, its (new) provenance counts again
    assert plan.provenance("shop", "2026-11") is not None


def test_a_dataset_of_another_domain_scope_is_refused(tmp_path: Path) -> None:
    day = [["2026-10-31T16:00:00Z", "2026-11-01T16:00:00Z"]]
    held_partition(tmp_path, "shop", "2026-11", [{"type": "vas", "task_id": "7", "covers": day}])
    with pytest.raises(ConfigurationError, match="holds usage by account"):
        planner(tmp_path, domains=["img.shop.example"]).plan(["shop"], NOVEMBER, DECEMBER, NOW)


def test_each_gap_interval_comes_from_the_newest_covering_export(tmp_path: Path) -> None:
    plan = planner(tmp_path, types=("vas",))
    plan.take_listing(
        [
            export("10", "2026-10-31T16:00:00Z", "2026-11-02T16:00:00Z", updated=T("2026-11-05T00:00:00Z")),
            export("11", "2026-11-01T16:00:00Z", "2026-11-02T16:00:00Z", updated=T("2026-11-06T00:00:00Z")),
            export("12", "2026-10-31T16:00:00Z", "2026-11-02T16:00:00Z", type="flow"),  # another type
            export("13", "2026-10-31T16:00:00Z", "2026-11-02T16:00:00Z", task_name="march"),  # not usagekit's
            export("14", "2026-10-31T16:00:00Z", "2026-11-02T16:00:00Z", task_name="uk:vas:some:t1400 sync"),
        ]
    )
    assert sorted(plan.pool) == [("shop", "10"), ("shop", "11"), ("shop", "12")]  # by account only
    unit = Unit("shop", "2026-11", "vas", (NOVEMBER, HORIZON), [(NOVEMBER, HORIZON)])
    pieces, left = plan.assign(unit)
    assert sorted(pieces) == [
        ("10", (NOVEMBER, T("2026-11-01T16:00:00Z"))),
        ("11", (T("2026-11-01T16:00:00Z"), HORIZON)),
    ]
    assert left == []


def test_an_export_holds_nothing_after_it_was_created_and_others_running_exports_are_gaps(
    tmp_path: Path,
) -> None:
    plan = planner(tmp_path, types=("vas",))
    plan.take_listing(
        [
            # created at Beijing 2026-11-02 10:07: holds up to 10:05 (UTC 02:05)
            export("20", "2026-10-31T16:00:00Z", "2026-11-02T16:00:00Z", created=T("2026-11-02T02:07:00Z")),
            export("21", "2026-10-31T16:00:00Z", "2026-11-02T16:00:00Z", status="created",
                   updated=T("2026-11-21T00:00:00Z")),  # someone else's (newer: it would win if waited for)
            export("22", "2026-11-01T16:00:00Z", "2026-11-02T16:00:00Z", status="created",
                   task_name="uk:vas:all:t2200 sync"),  # ours, from an interrupted run
        ]
    )  # fmt: skip
    unit = Unit("shop", "2026-11", "vas", (NOVEMBER, HORIZON), [(NOVEMBER, HORIZON)])
    pieces, left = plan.assign(unit)
    assert pieces == [("20", (NOVEMBER, T("2026-11-02T02:05:00Z")))]
    assert left == [(T("2026-11-02T02:05:00Z"), HORIZON)]
    running, still = plan.assign(Unit("shop", "2026-11", "vas", unit.wanted, left), ("created",))
    assert running == [("22", (T("2026-11-02T02:05:00Z"), HORIZON))] and still == []


def test_windows_to_create_are_whole_beijing_days_of_the_last_year(tmp_path: Path) -> None:
    plan = planner(tmp_path, types=("vas",))
    plan.plan(
        ["shop"], NOVEMBER, DECEMBER, NOW
    )  # sets the year the service exports: from 2025-11-04 Beijing (the first whole day)
    unit = Unit("shop", "2026-11", "vas", (NOVEMBER, HORIZON), [])
    left = [(T("2026-11-01T02:05:00Z"), T("2026-11-01T03:00:00Z")), (T("2026-11-01T20:00:00Z"), HORIZON)]
    assert plan.windows(unit, left) == [(NOVEMBER, HORIZON)]  # two Beijing days, merged into one window
    old = Unit("shop", "2025-11", "vas", (T("2025-10-31T16:00:00Z"), T("2025-11-30T16:00:00Z")), [])
    assert plan.windows(old, [old.wanted]) == [(T("2025-11-03T16:00:00Z"), T("2025-11-30T16:00:00Z"))]
    assert plan.windows(old, [(T("2025-10-31T16:00:00Z"), T("2025-11-01T16:00:00Z"))]) == []
