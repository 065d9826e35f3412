"""The sandbox's task store: the seeded history plus what clients create and delete, over sandbox time.

Thread safe. Statuses are read as of a sandbox time (``Task.status(now)``): a task created here stays
``created`` for ``task_delay`` seconds of sandbox time, then becomes ``success`` or, for a share
``faults.failed_exports`` of them decided by a hash of the seed and its id, ``failed``. Listings show only the tasks created within the
last three calendar months of sandbox time, newest ``CreateTime`` first.

>>> from datetime import datetime, timezone
>>> from usagekit.sandbox.world import WorldParams, build_world
>>> store = TaskStore(build_world(WorldParams(seed=7, now=datetime(2026, 11, 20, 8, tzinfo=timezone.utc))))
>>> len(store.visible("demo-shop", "detail", now=store.world.params.now.timestamp()))
40
"""

from __future__ import annotations

import calendar
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from usagekit.sandbox.faults import FAILED_EXPORTS, Faults, export_fails
from usagekit.sandbox.world import Task, World, task_id_of

__all__ = ["FAILURE_RATE", "TaskStore", "three_months_before"]

#: the default share of tasks created in the sandbox that end ``failed`` (see ``Faults.failed_exports``)
FAILURE_RATE = FAILED_EXPORTS


def three_months_before(now: float) -> float:
    """Epoch seconds three calendar months before ``now`` (the listing window's start).

    >>> datetime.fromtimestamp(three_months_before(1795161600), UTC).date().isoformat()
    '2026-08-20'
    """
    # plain calendar arithmetic (as pandas' DateOffset(months=3): the day clamped to the month's last):
    # every listing call asks, and a DateOffset took a sixth of the sandbox's CPU per call
    moment = datetime.fromtimestamp(now, UTC)
    year, month = divmod(moment.year * 12 + moment.month - 1 - 3, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day).timestamp()


class TaskStore:
    """Every task of every account, with create and delete; ``faults`` decides which exports fail."""

    def __init__(self, world: World, *, task_delay: float = 2.0, faults: Faults | None = None) -> None:
        self.world = world
        self.task_delay = float(task_delay)
        self.faults = faults or Faults()
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {t.task_id: t for t in world.tasks}
        self._by_account: dict[tuple[str, str], list[Task]] = {}
        #: each account and kind's tasks newest first, kept until a create or delete changes them
        self._newest_first: dict[tuple[str, str], list[Task]] = {}
        for task in world.tasks:  # world tasks come oldest first
            self._by_account.setdefault((task.account, task.kind), []).append(task)
        #: tasks created here so far: the n-th gets the id of a seeded task created n seconds after the
        #: start (world.task_id_of), above every seeded id, the same whatever the real clock did meanwhile
        self._created = 0
        self._start = int(world.params.now.timestamp())

    def get(self, task_id: str) -> Task:
        """The task with ``task_id`` (KeyError when there is none, or it was deleted)."""
        with self._lock:
            return self._tasks[str(task_id)]

    def visible(self, account: str, kind: str, *, now: float) -> list[Task]:
        """Tasks of ``account`` and ``kind`` created within the last three months, newest first."""
        since = three_months_before(now)
        key = (account, kind)
        with self._lock:
            ordered = self._newest_first.get(key)
            if ordered is None:
                ordered = sorted(
                    self._by_account.get(key, ()), key=lambda t: (t.created, int(t.task_id)), reverse=True
                )
                self._newest_first[key] = ordered
        return [t for t in ordered if since <= t.created <= now]

    def all_visible(self, accounts: Iterable[str], kinds: Iterable[str], *, now: float) -> list[Task]:
        """The visible tasks of several accounts and kinds, newest first."""
        tasks = [t for a in accounts for k in kinds for t in self.visible(a, k, now=now)]
        tasks.sort(key=lambda t: (t.created, int(t.task_id)), reverse=True)
        return tasks

    def create(
        self,
        *,
        account: str,
        kind: str,
        name: str,
        window_start: int,
        window_end: int,
        language: str,
        now: float,
        type: str | None = None,
        domains: str | None = None,
        domain_names: tuple[str, ...] = (),
    ) -> Task:
        """A new task, ``created`` now, finishing ``task_delay`` seconds of sandbox time later."""
        with self._lock:
            self._created += 1
            task_id = task_id_of(self._start + self._created, self.world.account(account).index, kind)
            outcome = "failed" if export_fails(self.faults, self.world.params.seed, task_id) else "success"
            created = int(now)
            task = Task(
                task_id=task_id,
                account=account,
                kind=kind,
                name=name,
                created=created,
                window_start=window_start,
                window_end=window_end,
                completes=now + self.task_delay,
                outcome=outcome,
                language=language,
                type=type,
                domains=domains,
                domain_names=domain_names,
            )
            self._tasks[task_id] = task
            self._by_account.setdefault((account, kind), []).append(task)
            self._newest_first.pop((account, kind), None)
            return task

    def delete(self, account: str, kind: str, task_id: str) -> Task:
        """Remove a task of ``account`` and ``kind`` (KeyError when it has no such task)."""
        with self._lock:
            task = self._tasks.get(str(task_id))
            if task is None or task.account != account or task.kind != kind:
                raise KeyError(task_id)
            del self._tasks[task.task_id]
            self._by_account[(account, kind)].remove(task)
            self._newest_first.pop((account, kind), None)
            return task
