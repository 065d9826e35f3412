"""The seeded world is fixed on the calendar: ``now`` decides what exists yet, never what it holds.

Two sandboxes of one seed started minutes or an hour apart share nearly every task, with the same ids,
windows and usage (the numbers a demo prints); ``tasks=N`` shows N tasks of each kind at any ``now``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from usagekit.listing import list_tasks
from usagekit.reconcile import OverlapWarning
from usagekit.sandbox import Sandbox
from usagekit.sandbox.store import TaskStore
from usagekit.sandbox.world import WorldParams, build_world
from usagekit.tidy import usage

NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)
ACCOUNTS = ("demo-shop", "demo-media", "demo-games")


def _finished(box: Sandbox) -> dict[str, pd.Series]:
    """Every finished task of every account (the running ones depend on ``now`` by design), by id."""
    frames = [box.truth.tasks(name) for name in ACCOUNTS]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["status"] != "created"].drop(columns="download_url")
    return {row.task_id: row for _, row in frame.set_index("task_id", drop=False).iterrows()}


@pytest.mark.parametrize("later", [timedelta(minutes=5), timedelta(hours=1)])
def test_sandboxes_started_apart_share_nearly_every_task_with_equal_usage(
    sandbox: Sandbox, later: timedelta
) -> None:
    with Sandbox(seed=7, now=NOW + later, clock="frozen") as twin:
        mine, theirs = _finished(sandbox), _finished(twin)
        shared = mine.keys() & theirs.keys()
        assert len(shared) >= 0.95 * len(mine), (len(shared), len(mine))
        for task_id in shared:  # the same task: name, window, type, domains, times, outcome
            pd.testing.assert_series_equal(mine[task_id], theirs[task_id])
        details = sorted(i for i in shared if mine[i]["kind"] == "detail" and mine[i]["status"] == "success")
        summaries = sorted(
            i for i in shared if mine[i]["kind"] == "summary" and mine[i]["status"] == "success"
        )
        assert len(details) > 30 and len(summaries) > 30
        for task_id in random.Random(25).sample(details, 12):
            one, two = sandbox.truth.usage(task_id), twin.truth.usage(task_id)
            assert len(one) > 0 and one.equals(two), task_id
        for task_id in random.Random(25).sample(summaries, 4):
            assert sandbox.truth.summary(task_id).equals(twin.truth.summary(task_id)), task_id


def test_the_demos_steps_give_equal_totals_five_minutes_apart(fresh_sandbox) -> None:  # type: ignore[no-untyped-def]
    """What ``usagekit demo`` does (list, read every successful detail export), at two moments."""
    totals = []
    for moment in ("2026-11-20T06:00:00Z", "2026-11-20T06:05:00Z"):
        box = fresh_sandbox(seed=0, now=moment, accounts=2, tasks=8)
        tasks = list_tasks(box.accounts, progress=False)
        details = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")]
        with pytest.warns(OverlapWarning):  # as the demo, each interval counted once
            frame = usage(details, progress=False)
        per_export = frame.groupby(["task_id", "metric"], observed=True)["value"].sum()
        totals.append((sorted(details["task_id"]), per_export))
    (ids_one, one), (ids_two, two) = totals
    assert ids_one == ids_two and len(ids_one) >= 8
    pd.testing.assert_series_equal(one, two)


@pytest.mark.parametrize("tasks", [1, 2, 3, 40, 400])
def test_tasks_n_are_visible_at_any_now_and_an_hour_later(tasks: int) -> None:
    rng = random.Random(tasks)
    for _ in range(8):
        now = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(3 * 365 * 86_400))
        store = TaskStore(build_world(WorldParams(seed=rng.randrange(99), now=now, accounts=2, tasks=tasks)))
        for later in (0, 3600):
            for account in ("demo-shop", "demo-media"):
                for kind in ("summary", "detail"):
                    seen = store.visible(account, kind, now=now.timestamp() + later)
                    assert len(seen) == tasks, (now, later, account, kind)
                    assert seen[0].status(now.timestamp()) == "created"  # the newest is still running


def test_a_task_of_the_world_keeps_its_id_and_window_whatever_now() -> None:
    early = build_world(WorldParams(seed=3, now=NOW, accounts=1, tasks=40))
    late = build_world(WorldParams(seed=3, now=NOW + timedelta(days=20), accounts=1, tasks=40))
    one = {t.task_id: t for t in early.tasks if t.completes < NOW.timestamp()}
    two = {t.task_id: t for t in late.tasks}
    shared = one.keys() & two.keys()
    assert 40 < len(shared) < len(one)  # twenty days on, some aged out and the rest are the same tasks
    assert all(one[i] == two[i] for i in shared)


def test_no_tasks_is_no_tasks() -> None:
    world = build_world(WorldParams(seed=3, now=NOW, accounts=2, tasks=0))
    assert world.tasks == ()
