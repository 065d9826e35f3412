"""The sandbox's truth: what it holds now, as the frames usagekit's readers should produce.

Tests compare what a client lists, downloads and reads against these frames. Presigned URLs and
request ids are never part of truth (``download_url`` is the URL stripped of its query).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

import pandas as pd

from usagekit.frames import concat_frames, exclusive_end, sort_tidy, task_frame
from usagekit.sandbox.billed import Bills
from usagekit.sandbox.store import TaskStore
from usagekit.sandbox.usage import (  # one generator for files and truth
    POINT,
    account_totals,
    blocks_frame,
    detail_usage,
    flow_blocks,
    point_starts,
    vas_blocks,
)
from usagekit.sandbox.world import Task, World

__all__ = ["Truth"]

_KINDS = {"all": ("summary", "detail"), "summary": ("summary",), "detail": ("detail",)}


class Truth:
    """Ground truth of a running sandbox: ``tasks``, ``usage`` and ``summary`` frames, and what it billed
    (``billed``, ``bill_history``, ``bill_prediction``, ``bill_type``).

    ``now`` gives sandbox time (epoch seconds); ``endpoint`` the base URL of download links.
    """

    def __init__(
        self,
        world: World,
        store: TaskStore,
        *,
        now: Callable[[], float],
        endpoint: Callable[[], str],
        period: Callable[[Task], str],
        bills: Bills | None = None,
    ) -> None:
        self._world = world
        self._store = store
        self._now = now
        self._endpoint = endpoint
        self._period = period
        self._bills = bills
        self._cache: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Truth(accounts={[a.name for a in self._world.accounts]})"

    def tasks(self, account_name: str, kind: str = "all") -> pd.DataFrame:
        """The task frame of what ``account_name`` holds now (created within the last three months).

        Columns as :func:`usagekit.frames.task_frame`: ``account``, ``kind``, ``task_id``, ``task_name``,
        ``status`` (as of sandbox now), ``created``, ``updated``, ``window_start``, ``window_end``
        (exclusive), ``type`` and ``domains`` (the REAL ones for every detail export; NA for summaries),
        ``download_url`` (scheme, host and path of the file for ``success`` tasks, else NA).
        Sorted by ``created`` descending. ``kind`` is ``summary``, ``detail`` or ``all``.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'summary', 'detail' or 'all', not {kind!r}")
        self._world.account(account_name)  # KeyError for an unknown account
        now = self._now()
        tasks = self._store.all_visible([account_name], _KINDS[kind], now=now)
        endpoint = self._endpoint()
        rows = [
            {
                "account": t.account,
                "kind": t.kind,
                "task_id": t.task_id,
                "task_name": t.name,
                "status": t.status(now),
                "created": pd.Timestamp(t.created, unit="s", tz="UTC"),
                "updated": pd.Timestamp(t.updated(now), unit="s", tz="UTC"),
                "window_start": pd.Timestamp(t.window_start, unit="s", tz="UTC"),
                "window_end": exclusive_end(pd.Timestamp(t.window_end, unit="s", tz="UTC")),
                "type": t.type,
                "domains": t.domains,
                "download_url": (
                    f"{endpoint}/files/{t.task_id}.{t.file_extension}" if t.status(now) == "success" else None
                ),
            }
            for t in tasks
        ]
        return task_frame(rows)

    def _task(self, task_id: str, kind: str) -> Task:
        try:
            task = self._store.get(str(task_id))
        except KeyError:
            raise KeyError(f"the sandbox holds no task {task_id!r}") from None
        if task.kind != kind:
            other = "summary" if kind == "detail" else "usage"
            raise ValueError(f"task {task_id!r} is a {task.kind} export: use truth.{other}({task_id!r})")
        return task

    def usage(self, task_id: str) -> pd.DataFrame:
        """The tidy frame behind detail export ``task_id`` (KeyError for an unknown id).

        Columns (:func:`usagekit.frames.tidy_frame`): ``account``, ``task_id``, ``domain`` (NA for an
        export by account: then the rows are the account's totals, summed over its domains), ``region``
        (billing region for flow, NA for vas), ``metric`` (flow: ``traffic`` in ``byte`` and
        ``bandwidth`` in ``bit/s``; vas: ``requests``), ``start`` / ``end`` (the 5-minute point, UTC,
        end exclusive), ``value`` (float64, whole numbers), ``unit``.
        """
        task = self._task(task_id, "detail")
        with self._lock:
            cached = self._cache.get(task.task_id)
            if cached is not None:
                self._cache.move_to_end(task.task_id)
                return cached.copy()
        frame = detail_usage(self._world.params.seed, self._world.account(task.account), task)
        with self._lock:
            self._cache[task.task_id] = frame
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return frame.copy()

    def usage_over(
        self,
        account_name: str,
        start: datetime | str,
        end: datetime | str,
        *,
        types: Sequence[str] = ("flow", "vas"),
        domains: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The true usage of ``account_name`` over ``[start, end)``, whatever exports exist.

        ``start`` and ``end`` are aware datetimes or ISO text (naive: UTC); points run from ``start``
        (floored to 5 minutes) and stop before ``end`` and before sandbox now (no data from the
        future). ``types`` picks ``flow`` (traffic, bandwidth per billing region) and ``vas``
        (requests). With ``domains=None`` the rows are the account's totals (``domain`` NA), as an
        export by account holds them; with a list, one row per listed domain. ``task_id`` is NA. The
        columns are those of :meth:`usage`, sorted as :func:`usagekit.frames.sort_tidy` sorts.

        >>> from usagekit.sandbox import Sandbox
        >>> with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen", accounts=1) as box:
        ...     day = box.truth.usage_over("demo-shop", "2026-11-18T16:00:00Z", "2026-11-19T16:00:00Z")
        >>> len(day) == 288 * 3, bool(day["domain"].isna().all())
        (True, True)
        """
        unknown = set(types) - {"flow", "vas"}
        if unknown:
            raise ValueError(f"types are 'flow' and 'vas', not {sorted(unknown)}")
        spec = self._world.account(account_name)
        lower, upper = (_epoch(value) for value in (start, end))
        upper = min(upper, int(self._now()) // POINT * POINT)
        by_account = domains is None
        chosen = [d for d in spec.domains if by_account or d.name in set(domains or ())]
        missing = set(domains or ()) - {d.name for d in chosen}
        if missing:
            raise KeyError(f"{account_name!r} has no domains {sorted(missing)}")
        starts = point_starts(lower, upper)
        seed = self._world.params.seed
        blocks = []
        if "flow" in types:
            blocks += flow_blocks(seed, spec, chosen, starts, by_account)
        if "vas" in types:
            blocks += vas_blocks(seed, spec, chosen, starts, by_account)
        frame = blocks_frame(spec.name, "", blocks, starts)
        frame["task_id"] = pd.array([pd.NA] * len(frame), dtype=pd.StringDtype())
        return sort_tidy(concat_frames([frame]))

    def account_usage(self, task_id: str) -> pd.DataFrame:
        """The account totals (domain NA) a summary export ``task_id`` summarises, as a tidy frame."""
        task = self._task(task_id, "summary")
        end = exclusive_end(pd.Timestamp(task.window_end, unit="s", tz="UTC"))
        assert end is not None  # a whole number of seconds is never NaT
        stop = min(int(end.timestamp()), task.created)
        return account_totals(
            self._world.params.seed, self._world.account(task.account), task.window_start, stop, task.task_id
        )

    def summary(self, task_id: str) -> pd.DataFrame:
        """The table behind summary export ``task_id``: ``item``, ``region``, ``period``, ``value``, ``unit``.

        Computed by ``usagekit.sandbox.files.summarise`` from the account's usage over the window.
        """
        from usagekit.sandbox import files

        return files.summarise(
            self.account_usage(task_id), period=self._period(self._task(task_id, "summary"))
        )

    # --- what the sandbox billed (usagekit.sandbox.billed) -------------------------------------------

    def _billing(self) -> Bills:
        if self._bills is None:
            raise RuntimeError("this truth has no bills: it belongs to no Sandbox")
        return self._bills

    def billed(self, account_name: str, method: str | None, period: str) -> pd.DataFrame:
        """What the sandbox billed ``account_name`` under ``method`` (None: its own) in Beijing ``period``.

        ``period`` (``2026-10``, ``2026-10-05``, ``2026-10-05T13``) no finer than the method's cycle; only
        closed periods, drift included. Columns: see :meth:`usagekit.sandbox.billed.Bills.billed`.
        """
        return self._billing().billed(account_name, method, period)

    def bill_history(
        self, account_name: str, start: datetime | str, end: datetime | str, method: str | None = None
    ) -> pd.DataFrame:
        """Every period billed (closed) whose start lies in ``[start, end)``: what the history lists.

        One row per period and region, columns as :meth:`billed`; ``method`` defaults to the account's.
        """
        return self._billing().history(account_name, _epoch(start), _epoch(end), method)

    def bill_prediction(self, account_name: str) -> pd.DataFrame:
        """The current month's prediction per area, as ``DescribeCdnUserBillPrediction`` answers it now."""
        return self._billing().prediction(account_name)

    def bill_type(self, account_name: str) -> str:
        """The ``BillType`` the account is billed by (``bill_types`` or seeded)."""
        return self._billing().method(account_name)


def _epoch(value: datetime | str) -> int:
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return int(moment.timestamp())
