"""Export files fetched once: streamed within bounds, verified, resumed, and kept in a private cache.

:func:`fetch` takes tasks (a task frame, rows of one, or ``ExportTask`` objects) and returns the path of
each export file in the cache, downloading only what is not there yet. The parts:

- :mod:`usagekit.transfer`: one file over HTTP (:class:`DownloadPolicy`: chunks, attempts, timeouts, a
  deadline per file, a maximum size; same-host redirects only; ``identity`` encoding enforced; type and
  trailer checked);
- :mod:`usagekit.netguard`: where a download may connect (public addresses, the API endpoint's host, and
  hosts the policy allows), checked on the address actually connected to;
- :mod:`usagekit.filecache`: where each file lives, its record (size, SHA-256: never the URL), its lock,
  and the verification of every cache hit;
- :mod:`usagekit.cachedir`: the cache folder, created ``0700`` or checked (tightened, or refused).

The cache lives under ``cache_dir``, else ``$USAGEKIT_CACHE_DIR``, else the platform's user cache folder.
Two threads or processes fetching the same task wait for each other on a lock file (``fcntl.flock``, where
the platform has it) and in any case never leave a partial file in place.

The full presigned URL comes from the memory of the listing that returned it (``usagekit.tasks``); when it
is missing or has expired (HTTP 403 ``AccessDenied`` "Request has expired") the task is listed once more.
No error message (nor its cause or context), warning or record carries a URL's query string.

>>> DownloadPolicy(attempts=3)
DownloadPolicy(attempts=3)
>>> sniff(b"%PDF-1.7 ..."), sniff(b"PK\\x03\\x04rest"), sniff(b"<!DOCTYPE html>")
('pdf', 'xlsx', None)
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd

from usagekit import filecache
from usagekit.cachedir import cache_root
from usagekit.errors import ArgumentError, DownloadError, TaskStateError, UrlExpiredError, UsagekitError
from usagekit.filecache import EXPORT_TYPES, account_folder_name, cached_file
from usagekit.frames import KINDS
from usagekit.progress import progress_enabled
from usagekit.redact import strip_query
from usagekit.resolve import resolve_accounts
from usagekit.transfer import (
    DownloadPolicy,
    Expired,
    Transfer,
    keep_urls_out_of_logs,
    safe_text,
    sniff,
    stream,
)

if TYPE_CHECKING:
    import requests

    from usagekit.accounts import Account

__all__ = [
    "EXPORT_TYPES",
    "DownloadPolicy",
    "Job",
    "TaskRef",
    "account_folder_name",
    "cache_root",
    "cached_file",
    "check_fan_out",
    "fetch",
    "fetch_file",
    "require_success",
    "resolve",
    "run_jobs",
    "sniff",
    "task_refs",
]

ProgressCallback = Callable[[int, int], None]  # (bytes written, bytes added to the expected total)


# --- one file ----------------------------------------------------------------------------------------


def _refresh(account: Account, kind: str, task_id: str) -> str:
    """List the task again and return its fresh presigned URL (kept in memory only)."""
    from usagekit.listing import refresh

    return refresh(account, kind, task_id).url


def _allowance(account: Account, policy: DownloadPolicy) -> Any:
    """The hosts this account's downloads may reach beyond public ones: its endpoint's and the policy's."""
    from usagekit.netguard import Allowance

    endpoint = account.endpoint or ""
    host = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}").hostname
    return Allowance.of([host, *policy.allow_hosts])


def _detached(error: UsagekitError) -> UsagekitError:
    """``error`` with every cause and context that is not one of ours cut off (theirs quote the URL)."""
    seen: set[int] = set()
    item: BaseException | None = error
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        for name in ("__cause__", "__context__"):
            linked = getattr(item, name)
            if linked is not None and not isinstance(linked, UsagekitError):
                setattr(item, name, None)
        item = item.__cause__ or item.__context__
    return error


def _download(
    account: Account,
    kind: str,
    task_id: str,
    url: str | None,
    folder: Path,
    session: requests.Session,
    policy: DownloadPolicy,
    progress: ProgressCallback | None,
) -> Path:
    """Download one file into ``folder`` (its lock held) and record it; the URL is listed again if needed."""
    from usagekit import netguard

    stem = filecache.task_stem(task_id)
    resume = filecache.sweep(folder, stem, policy.stale_after)
    transfer = Transfer(folder, stem, policy.max_size, resume)
    deadline_at = policy.clock() + policy.deadline
    try:
        with netguard.allowing(_allowance(account, policy)):
            url = url or _refresh(account, kind, task_id)
            try:
                stream(session, url, transfer, policy, progress, deadline_at)
            except Expired:
                url = _refresh(account, kind, task_id)
                try:
                    stream(session, url, transfer, policy, progress, deadline_at)  # resumes what arrived
                except Expired as error:
                    raise UrlExpiredError(
                        f"the download URL of {kind} task {task_id} (account {account.name!r}) had "
                        f"expired again right after listing it ({error}); check the clock, then "
                        "list the tasks again",
                        task_id=task_id,
                        account=account.name,
                    ) from None
        final = folder / f"{stem}.{transfer.file_type}"
        size, digest, file_type = transfer.size, transfer.hasher.hexdigest(), transfer.file_type
        transfer.commit(final)
    except DownloadError as error:
        transfer.discard()
        if error.task_id is not None:
            raise
        raise type(error)(
            f"could not download {kind} task {task_id} of account {account.name!r} "
            f"({strip_query(url)}): {safe_text(str(error), url)}",
            task_id=task_id,
            account=account.name,
        ) from None
    except BaseException:
        transfer.discard()
        raise
    meta = {
        "version": filecache.META_VERSION,
        "account": account.name,
        "kind": kind,
        "task_id": task_id,
        "file_type": file_type,
        "size": size,
        "sha256": digest,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    filecache.write_private(folder / f"{stem}.json", json.dumps(meta, indent=1).encode("utf-8"))
    return final


def fetch_file(
    account: Account,
    kind: str,
    task_id: str,
    url: str | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    session: requests.Session | None = None,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The cached export file of one task, downloaded first when it is not in the cache.

    A module-level function of plain values, so an executor can run it anywhere (a dask worker
    receives the ``Account`` and the URL: that is the caller's choice of executor). ``url`` is the full
    presigned URL; ``None`` (or an expired one) lists the task again, once. Raises
    :class:`~usagekit.errors.UrlExpiredError` when even the fresh URL has expired,
    :class:`~usagekit.errors.DownloadError` when the file could not be fetched whole within the policy's
    bounds (nothing is cached then), and :class:`~usagekit.errors.ConfigurationError` for a cache folder
    that is not private. A ``session`` passed in is used as it is: only usagekit's own sessions check the
    address actually connected to (others have the host checked beforehand).

    >>> path = fetch_file(account, "detail", "129456", url)  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    '129456.xlsx'
    """
    task_id = str(task_id)
    if kind not in KINDS:
        raise ArgumentError(f"kind must be 'summary' or 'detail', not {kind!r}")
    policy = policy or DownloadPolicy()
    keep_urls_out_of_logs()
    folder = filecache.export_folder(cache_root(cache_dir), account, kind)
    hit = filecache.lookup(folder, task_id)
    if hit is not None:
        return hit
    failure: UsagekitError | None = None
    with filecache.locked(folder, filecache.task_stem(task_id)):
        hit = filecache.lookup(folder, task_id)  # another thread or process may have finished it meanwhile
        if hit is not None:
            return hit
        own_session = session is None
        if own_session:
            from usagekit.netguard import guarded_session

            session = guarded_session()
        assert session is not None
        try:
            return _download(account, kind, task_id, url, folder, session, policy, progress)
        except UsagekitError as error:
            failure = error
        finally:
            if own_session:
                session.close()
    # raised here, outside any except block, so no context holds what the transfer raised inside
    raise _detached(failure)


# --- many tasks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRef:
    """What fetching needs to know of one task row: account name, kind, id, status, last update."""

    account: str
    kind: str
    task_id: str
    status: str | None = None
    updated: pd.Timestamp | None = None


def _field(item: Any, name: str) -> Any:
    value = item.get(name) if isinstance(item, Mapping | pd.Series) else getattr(item, name, None)
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def task_refs(tasks: Any) -> list[TaskRef]:
    """Task references from a task frame, rows of one (``Series``/mappings) or ``ExportTask`` objects.

    >>> frame = pd.DataFrame({"account": ["shop"], "kind": ["detail"], "task_id": ["12"], "status": ["success"]})
    >>> task_refs(frame)
    [TaskRef(account='shop', kind='detail', task_id='12', status='success', updated=None)]
    """
    if isinstance(tasks, pd.DataFrame):
        items: Iterable[Any] = tasks.to_dict("records")
    elif isinstance(tasks, pd.Series | Mapping) or hasattr(tasks, "task_id"):
        items = [tasks]
    elif isinstance(tasks, Iterable) and not isinstance(tasks, str | bytes):
        items = list(tasks)
    else:
        alone = " (a task id alone does not say its account and kind: pick its row of list_tasks())"
        raise ArgumentError(
            f"tasks must be a task frame (list_tasks()), rows of one or ExportTask objects, not "
            f"{type(tasks).__name__} {tasks!r:.40}" + (alone if isinstance(tasks, str | int) else "")
        )
    refs = []
    for item in items:
        account, kind, task_id = (_field(item, name) for name in ("account", "kind", "task_id"))
        if account is None or kind is None or task_id is None:
            raise ArgumentError(
                f"each task needs an account, a kind and a task_id (rows of list_tasks() have them), not {item!r:.60}"
            )
        updated = _field(item, "updated")
        status = _field(item, "status")
        refs.append(
            TaskRef(
                str(account),
                str(kind),
                str(task_id),
                None if status is None else str(status),
                None if updated is None else pd.Timestamp(updated),
            )
        )
    return refs


def require_success(refs: Sequence[TaskRef]) -> None:
    """Raise :class:`TaskStateError` naming every task that is not ``success``."""
    bad = [ref for ref in refs if ref.status != "success"]
    if bad:
        named = ", ".join(
            f"{r.kind} task {r.task_id} of {r.account!r} is {r.status or 'of unknown status'}"
            for r in bad[:5]
        )
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise TaskStateError(
            f"only tasks in status 'success' have a file: {named}{more}; wait() for running ones, "
            "or filter with list_tasks(status='success')"
        )


def check_fan_out(*, executor: object, progress: object, cache_dir: object, policy: object) -> None:
    """The arguments fetch and usage share, each an :class:`ArgumentError` naming it when wrong."""
    if executor is not None and not isinstance(executor, Executor):
        raise ArgumentError(
            f"executor must be a concurrent.futures.Executor or None, not {type(executor).__name__}"
        )
    if progress is not None and not isinstance(progress, bool):
        raise ArgumentError(f"progress must be True, False or None, not {progress!r}")
    if cache_dir is not None and (not isinstance(cache_dir, str | os.PathLike) or not str(cache_dir).strip()):
        raise ArgumentError(f"cache_dir must be a folder path or None, not {cache_dir!r}")
    if policy is not None and not isinstance(policy, DownloadPolicy):
        raise ArgumentError(f"policy must be a DownloadPolicy or None, not {type(policy).__name__}")


def resolve(
    ref: TaskRef, accounts: Account | str | Sequence[Account | str] | None
) -> tuple[Account, str | None]:
    """The account a task was listed with and its remembered full URL (``None`` when not remembered)."""
    from usagekit.memory import remembered, resolve_account

    entry = remembered(ref.account, ref.kind, ref.task_id)
    if entry is not None:
        return entry.account, entry.url
    return resolve_account(ref.account, None if accounts is None else resolve_accounts(accounts)), None


class _ByteBar:
    """A thread-safe byte progress bar (``tqdm.auto``) whose total grows as replies announce lengths."""

    def __init__(self, enabled: bool, description: str) -> None:
        self.bar = None
        self.lock = threading.Lock()
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=description)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        with self.lock:
            if total:
                self.bar.total = (self.bar.total or 0) + total
                self.bar.refresh()
            if done:
                self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_jobs(
    executor: Executor,
    jobs: Sequence[Callable[[], Any]],
    *,
    on_done: Callable[[Future[Any]], None] | None = None,
) -> list[Any]:
    """Run zero-argument jobs on ``executor``; results in order, the first failure raised after all ran.

    ``on_done`` is called with each future as it completes (from whichever thread completes it).

    >>> with ThreadPoolExecutor(2) as pool:
    ...     run_jobs(pool, [Job(pow, 2, 3), Job(pow, 3, 2)])
    [8, 9]
    """
    futures: list[Future[Any]] = []
    for job in jobs:
        future = executor.submit(job)
        if on_done is not None:
            future.add_done_callback(on_done)
        futures.append(future)
    results, errors = [], []
    for future in futures:
        try:
            results.append(future.result())
        except Exception as error:
            results.append(None)
            errors.append(error)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more of the {len(jobs)} jobs failed as well")
        raise first
    return results


class Job:
    """A picklable call of a module-level function with fixed arguments (executors may ship it away).

    Its repr names the function only, never the arguments (one of them may be a presigned URL).

    >>> Job(pow, 2, "https://example.com/f?Signature=x")
    Job(pow)
    """

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs

    def __call__(self) -> Any:
        return self.function(*self.args, **self.kwargs)

    def __repr__(self) -> str:  # never shows the URL among the arguments
        return f"Job({self.function.__name__})"


def fetch(
    tasks: Any,
    *,
    accounts: Account | str | Sequence[Account | str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    executor: Executor | None = None,
    session: requests.Session | None = None,
    policy: DownloadPolicy | None = None,
) -> list[Path]:
    """The export files of successful tasks, from the cache or downloaded once; paths in task order.

    ``tasks`` is a task frame (``list_tasks()``), rows of one, or ``ExportTask`` objects; every one must
    be ``success`` (else :class:`~usagekit.errors.TaskStateError` naming them). URLs come from the
    listing's memory, or the task is listed again with the account of the same name (``accounts=``,
    or the accounts usagekit knows). ``executor`` is any ``concurrent.futures.Executor`` (default:
    a few threads); ``progress`` draws a byte progress bar (``None``: when interactive;
    ``TQDM_DISABLE=1`` silences it). A second call for the same tasks touches no network.

    >>> fetch([])
    []
    """
    check_fan_out(executor=executor, progress=progress, cache_dir=cache_dir, policy=policy)
    if session is not None and not (callable(getattr(session, "get", None)) and hasattr(session, "mount")):
        raise ArgumentError(f"session must be a requests.Session or None, not {type(session).__name__}")
    accounts = None if accounts is None else resolve_accounts(accounts)
    refs = task_refs(tasks)
    if not refs:
        return []
    require_success(refs)
    root = cache_root(cache_dir)
    unique = list(dict.fromkeys(refs))
    plans = [(ref, *resolve(ref, accounts)) for ref in unique]
    own_executor = executor is None
    in_threads = own_executor or isinstance(executor, ThreadPoolExecutor)
    own_session = session is None and in_threads
    if own_session:
        from usagekit.netguard import guarded_session

        session = guarded_session(pool_maxsize=8)
    bar = _ByteBar(progress_enabled(progress) and in_threads, "fetch")
    pool = executor or ThreadPoolExecutor(max_workers=min(4, len(plans)), thread_name_prefix="usagekit-fetch")
    try:
        jobs = [
            Job(
                fetch_file,
                account,
                ref.kind,
                ref.task_id,
                url,
                cache_dir=root,
                session=session,
                policy=policy,
                progress=bar if in_threads else None,
            )
            for ref, account, url in plans
        ]
        paths = dict(zip(unique, run_jobs(pool, jobs), strict=True))
    finally:
        bar.close()
        if own_executor:
            pool.shutdown(wait=True)
        if own_session and session is not None:
            session.close()
    return [paths[ref] for ref in refs]
