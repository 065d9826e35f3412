"""Usage together: every successful detail export fetched, read, and combined into one tidy frame.

:func:`usage` is the one call from a task frame to tidy usage: each file is one job (fetch, then read)
submitted to an executor, the frames are concatenated and reconciled (overlapping exports counted once,
see :mod:`usagekit.reconcile`). :func:`to_focus` (:mod:`usagekit.focus`) maps a tidy frame onto FinOps FOCUS columns.
:func:`to_dataset` / :func:`read_dataset` (from :mod:`usagekit.dataset`) keep tidy frames as Parquet.

>>> from usagekit.frames import tidy_frame
>>> frame = tidy_frame({"account": ["shop"], "task_id": ["7"], "domain": ["img.shop.example"],
...                     "region": ["CN"], "metric": ["traffic"], "start": ["2026-10-31T16:00:00Z"],
...                     "end": ["2026-10-31T16:05:00Z"], "value": [750.0], "unit": ["byte"]})
>>> focus = to_focus(frame)
>>> focus.loc[0, ["ConsumedUnit", "ResourceId", "SubAccountName", "ServiceName", "x_Metric"]].tolist()
['B', 'img.shop.example', 'shop', 'CDN', 'traffic']
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pandas as pd

from usagekit.dataset import read_dataset, to_dataset
from usagekit.downloads import (
    DownloadPolicy,
    Job,
    cache_root,
    check_fan_out,
    fetch_file,
    resolve,
    task_refs,
)
from usagekit.errors import (
    ArgumentError,
    ExportsFailedError,
    SkippedTasksWarning,
    UsagekitError,
    UsagekitWarning,
)
from usagekit.focus import FOCUS_UNITS, to_focus  # moved to usagekit.focus; still importable from here
from usagekit.frames import concat_frames, tidy_frame
from usagekit.progress import progress_enabled
from usagekit.reconcile import OverlapWarning, reconcile
from usagekit.redact import strip_queries
from usagekit.resolve import resolve_accounts

if TYPE_CHECKING:
    from usagekit.accounts import Account

__all__ = [
    "FOCUS_UNITS",
    "OverlapWarning",
    "SkippedTasksWarning",
    "read_dataset",
    "read_export",
    "to_dataset",
    "to_focus",
    "usage",
]


def read_export(
    account: Account,
    task_id: str,
    url: str | None,
    cache_dir: str | os.PathLike[str] | None,
    policy: DownloadPolicy | None = None,
) -> pd.DataFrame:
    """One job of :func:`usage`: fetch one detail export (or take it from the cache) and read it.

    Module-level and of plain values, so any executor (threads, processes, a dask cluster) can run it.
    Returns the tidy frame of that file with ``account`` (the account's name) and ``task_id`` added.
    """
    from usagekit.readers import read_usage

    path = fetch_file(account, "detail", task_id, url, cache_dir=cache_dir, policy=policy)
    frame = read_usage(path, cache_dir=cache_dir)  # parsed frames beside the files, where the caller said
    n = len(frame)
    # pandas-stubs: insert takes any array (a Categorical, a StringArray)
    frame.insert(0, "account", pd.Categorical([account.name] * n))  # type: ignore[arg-type]
    frame.insert(1, "task_id", pd.array([str(task_id)] * n, dtype=pd.StringDtype()))  # type: ignore[arg-type]
    return frame


class _FileBar:
    """Files done, as a ``tqdm.auto`` bar (callbacks may come from worker threads)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.lock = threading.Lock()
        self.bar = None
        if enabled and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="file", desc="usage")

    def done(self, _future: Any) -> None:
        if self.bar is not None:
            with self.lock:
                self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def usage(
    tasks: Any,
    *,
    accounts: Account | str | Sequence[Account | str] | None = None,
    executor: Executor | None = None,
    progress: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    policy: DownloadPolicy | None = None,
    errors: str = "raise",
) -> pd.DataFrame:
    """Tidy usage of every successful detail export among ``tasks``, overlapping exports counted once.

    ``tasks`` is a task frame (``list_tasks()``), rows of one, or ``ExportTask`` objects; summary
    exports are skipped, and so are detail exports not ``success``, named in one
    :class:`SkippedTasksWarning`. Each file is one job (fetch, read) on ``executor``
    (any ``concurrent.futures.Executor``: ``dask.distributed.Client.get_executor()`` runs the jobs on a
    cluster; default: a few threads). Files come from the cache when they are there (``cache_dir`` and
    ``policy`` as for :func:`usagekit.fetch`). Overlaps follow the architecture's rule (see
    :func:`usagekit.reconcile.reconcile`): reported in one :class:`OverlapWarning` and in
    ``frame.attrs["overlaps"]``. ``progress`` shows files done (default: when interactive).

    An export that cannot be fetched or read never costs the others: every job runs to its end, and
    what succeeded is cached. Then ``errors="raise"`` (the default) raises one
    :class:`~usagekit.errors.ExportsFailedError` naming every export that failed (a second call
    reads the others from the cache); ``errors="collect"`` returns the usage of the exports that
    succeeded, the failures in ``frame.attrs["errors"]`` (records of ``account``, ``task_id``,
    ``error``, ``message``: plain text) and named in one warning.

    A row with ``domain`` NA is the account's total from an export by account, where no export of
    some domains lists any domain for that interval, else the rest of that total beyond the listed
    domains (the remainder, with the account-wide export's ``task_id``). Either way, for every
    account, region, metric and interval the rows add up to the account's total wherever an export by
    account carries it, and no domain is counted twice.

    ===========  ===================  ==================================================
    column       dtype                meaning
    ===========  ===================  ==================================================
    account      category             the account's name
    task_id      string               the export the row came from
    domain       category             NA: the account's total, or its remainder (above)
    region       category             billing region, NA where the file has none
    metric       category             ``traffic``, ``bandwidth``, ``requests``
    start, end   datetime64[ns, UTC]  the 5-minute interval, end exclusive
    value        float64              in the base unit
    unit         category             ``byte``, ``bit/s``, ``request``
    ===========  ===================  ==================================================

    Rows are sorted by account, domain, region, metric, start (missing first).

    >>> empty = usage([])
    >>> empty.columns.tolist()[:4], empty.attrs
    (['account', 'task_id', 'domain', 'region'], {'overlaps': []})
    """
    check_fan_out(executor=executor, progress=progress, cache_dir=cache_dir, policy=policy)
    if errors not in ("raise", "collect"):
        raise ArgumentError(f"errors must be 'raise' or 'collect', not {errors!r}")
    accounts = None if accounts is None else resolve_accounts(accounts)
    refs = _successful_details(tasks)
    if not refs:
        empty = tidy_frame({})
        empty.attrs = {"overlaps": [], **({"errors": []} if errors == "collect" else {})}
        return empty
    jobs, keys, updated = _export_jobs(refs, accounts, cache_root(cache_dir), policy)
    outcomes = _run_jobs(executor, jobs, progress)
    failures, frames, kept = _sorted_outcomes(keys, outcomes, updated)
    if failures and errors == "raise":
        first = next(o for o in outcomes if isinstance(o, UsagekitError))
        raise ExportsFailedError(_failed(failures, len(jobs)), failures=tuple(failures)) from first
    frame = reconcile(concat_frames(frames), kept, stacklevel=2) if frames else tidy_frame({})
    frame.attrs.setdefault("overlaps", [])
    if errors == "collect":
        frame.attrs["errors"] = failures
        if failures:
            warnings.warn(
                f"{_failed(failures, len(jobs))}; they are left out, see frame.attrs['errors']",
                UsagekitWarning,
                stacklevel=2,
            )
    return frame


def _successful_details(tasks: Any) -> list[Any]:
    """The successful detail exports among ``tasks``, once each; the other detail exports named in a warning."""
    details = list(dict.fromkeys(ref for ref in task_refs(tasks) if ref.kind == "detail"))
    refs = [ref for ref in details if ref.status == "success"]
    skipped = [ref for ref in details if ref.status != "success"]
    if skipped:  # stacklevel 3: the caller of usage()
        warnings.warn(_skipped(skipped, none_left=not refs), SkippedTasksWarning, stacklevel=3)
    return refs


def _export_jobs(
    refs: Sequence[Any], accounts: list[Account] | None, root: Any, policy: DownloadPolicy | None
) -> tuple[list[Job], list[tuple[str, str]], dict[tuple[str, str], pd.Timestamp | None]]:
    """One fetch-and-read job per export, its (account, task id), and when each export was updated."""
    jobs, keys = [], []
    updated: dict[tuple[str, str], pd.Timestamp | None] = {}
    for ref in refs:
        account, url = resolve(ref, accounts)
        jobs.append(Job(read_export, account, ref.task_id, url, os.fspath(root), policy))
        keys.append((account.name, ref.task_id))
        updated[(account.name, ref.task_id)] = ref.updated
    return jobs, keys, updated


def _run_jobs(executor: Executor | None, jobs: Sequence[Job], progress: bool | None) -> list[Any]:
    """Every job's frame or error, on ``executor`` (default: a few threads of our own), with a bar of files."""
    pool = executor or ThreadPoolExecutor(max_workers=min(4, len(jobs)), thread_name_prefix="usagekit-usage")
    bar = _FileBar(progress_enabled(progress), len(jobs))
    try:
        return _every_outcome(pool, jobs, bar.done)
    finally:
        bar.close()
        if executor is None:
            pool.shutdown(wait=True)


def _sorted_outcomes(
    keys: Sequence[tuple[str, str]],
    outcomes: Sequence[Any],
    updated: dict[tuple[str, str], pd.Timestamp | None],
) -> tuple[list[dict[str, str]], list[pd.DataFrame], dict[tuple[str, str], pd.Timestamp | None]]:
    """The failures' records, the frames read, and when each export read was updated."""
    failures, frames, kept = [], [], {}
    for (name, task_id), outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, UsagekitError):
            failures.append(_failure(name, task_id, outcome))
        else:
            frames.append(outcome)
            kept[(name, task_id)] = updated[(name, task_id)]
    return failures, frames, kept


def _every_outcome(executor: Executor, jobs: Sequence[Job], on_done: Any) -> list[Any]:
    """Each job's frame or its ``UsagekitError``, once every job has ended; any other error (a bug) is
    raised, also only once every job has ended."""
    futures = []
    for job in jobs:
        future = executor.submit(job)
        future.add_done_callback(on_done)
        futures.append(future)
    outcomes, bugs = [], []
    for future in futures:
        try:
            outcomes.append(future.result())
        except UsagekitError as error:
            outcomes.append(error)
        except Exception as error:
            outcomes.append(None)
            bugs.append(error)
    if bugs:
        raise bugs[0]
    return outcomes


def _failure(account: str, task_id: str, error: UsagekitError) -> dict[str, str]:
    """A failed export as plain text (never the error object, never a presigned URL's query)."""
    return {
        "account": account,
        "task_id": str(task_id),
        "error": type(error).__name__,
        "message": strip_queries(str(error)),
    }


def _failed(failures: Sequence[dict[str, str]], total: int) -> str:
    named = "; ".join(f"{f['account']} {f['task_id']}: {f['error']}: {f['message']}" for f in failures)
    text = f"{len(failures)} of {total} detail exports could not be fetched or read: {named}"
    if len(failures) < total:
        text += f"; the other {total - len(failures)} are fetched and cached (a second call reads them from the cache)"
    return text


def _skipped(refs: Sequence[Any], *, none_left: bool, limit: int = 5) -> str:
    """The warning's text: which detail exports were left out, and why."""
    named = ", ".join(
        f"{ref.task_id} of {ref.account!r} ({ref.status or 'status unknown'})" for ref in refs[:limit]
    )
    more = f" and {len(refs) - limit} more" if len(refs) > limit else ""
    head = (
        f"none of the {len(refs)} detail exports given is 'success', so the frame is empty"
        if none_left
        else f"{len(refs)} detail export(s) not 'success' left out"
    )
    return (
        f"{head}: {named}{more}; only a successful export has a file (wait() for running ones, or "
        "filter with tasks[tasks.status == 'success'])"
    )
