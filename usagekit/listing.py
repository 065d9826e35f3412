"""Listing export tasks: every page of every account, concurrently and completely, into one task frame.

:func:`list_tasks` lists one account, several or all discovered ones (see :mod:`usagekit.paging` for
what "complete" means: never a silently short listing); :func:`iter_tasks` yields
:class:`~usagekit.tasks.ExportTask` values lazily, page by page. Each complete listing leaves its full
presigned URLs in :mod:`usagekit.memory`; :func:`refresh` lists one task again for a fresh URL.

>>> import usagekit
>>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=2) as sandbox:
...     frame = list_tasks(sandbox.accounts, progress=False)
>>> frame.groupby("kind", observed=True).size().to_dict()
{'summary': 2, 'detail': 2}
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.errors import (
    ApiError,
    ArgumentError,
    ConfigurationError,
    DuplicateAccountWarning,
    StatusFilterWarning,
    TaskStateError,
    UsagekitError,
)
from usagekit.frames import KINDS, STATUSES
from usagekit.memory import Remembered, UrlMemory
from usagekit.paging import Page, PagingPolicy, collect, walk
from usagekit.pool import ClientFactory, lease
from usagekit.progress import ListingBars, progress_enabled
from usagekit.resolve import one_account, resolve_accounts
from usagekit.session import Session, chosen_session
from usagekit.tasks import LIST_ACTIONS, ExportTask, ListedTask, frame_of, parse_page
from usagekit.times import current, moment

__all__ = ["DuplicateAccountWarning", "StatusFilterWarning", "iter_tasks", "list_tasks", "refresh"]


#: listings (account x kind) run at once by default: I/O-bound threads, each mostly waiting on the network
_MAX_LISTINGS = 64


def _walk_one(
    account: Account,
    kind: str,
    client: CdnClient,
    policy: PagingPolicy,
    bars: ListingBars,
    memory: UrlMemory,
) -> Generator[Page[ListedTask], None, Any]:
    """The page walk of one account and kind, remembering the answer in ``memory`` when it completes.

    Each attempt of each page takes its token from the account's bucket inside the client (see
    :func:`usagekit.pool.limited`), retries included.
    """
    action = LIST_ACTIONS[kind]

    def fetch(number: int, size: int) -> Page[ListedTask]:
        reply = client.call(action, PageSize=size, PageNumber=number)
        bars.page()
        return parse_page(reply, account=account.name, kind=kind, asked=size, action=action)

    listing = yield from walk(
        fetch,
        key=lambda item: item.task.task_id,
        policy=policy,
        label=f"{kind} tasks of account {account.name!r}",
        account=account.name,
        kind=kind,
        partial=lambda items: frame_of(_ordered([item.task for item in items])),
        on_plan=bars.plan,
    )
    listed = list(listing.items.values())
    memory.store(account, kind, listed, complete=True)
    memory.store_ids(account, kind, (str(task_id) for task_id in listing.items))
    return listing


def list_one(
    account: Account,
    kind: str,
    client: CdnClient,
    policy: PagingPolicy,
    bars: ListingBars,
    session: Session | None = None,
) -> list[ExportTask]:
    """Every task of ``account``'s ``kind`` listing, newest first, its URLs remembered in ``session``."""
    memory = chosen_session(session).urls
    listing = collect(_walk_one(account, kind, client, policy, bars, memory))
    return _ordered(item.task for item in listing.items.values())


def _ordered(tasks: Iterable[ExportTask]) -> list[ExportTask]:
    """Newest first (unknown creation times last), then by id: a stable order for frames."""
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(tasks, key=lambda t: (t.created is not None, t.created or floor, t.task_id), reverse=True)


def iter_tasks(
    account: Account | str,
    kind: str = "all",
    *,
    client_factory: ClientFactory | None = None,
    session: Session | None = None,
) -> Iterator[ExportTask]:
    """Yield ``account``'s export tasks of ``kind`` (``summary``, ``detail`` or ``all``) page by page.

    Pages after the first are fetched ahead, concurrently. Each task is yielded once, as first seen;
    when the listing had to be walked again (it changed meanwhile), tasks it gained are yielded then,
    and a task removed during the walk may already have been yielded. When the listing cannot be
    completed, ``IncompleteListingError`` is raised after what was yielded: never a silently short
    listing. Use :func:`list_tasks` for the consistent frame. ``session`` holds the client, rate limiter
    and URL memory used (``None``: the default :class:`~usagekit.session.Session`).

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     kinds = [task.kind for task in iter_tasks(sandbox.accounts[0])]
    >>> kinds
    ['summary', 'summary', 'summary', 'detail', 'detail', 'detail']
    """
    account = one_account(account)  # checked when called, not at the first next()
    kinds = _kinds(kind)
    if client_factory is not None and not callable(client_factory):
        raise ArgumentError(
            f"client_factory must be a callable Account -> CdnClient, not {type(client_factory).__name__}"
        )
    return _iter_tasks(account, kinds, client_factory, chosen_session(session))


def _iter_tasks(
    account: Account, kinds: tuple[str, ...], client_factory: ClientFactory | None, session: Session
) -> Iterator[ExportTask]:
    with lease(account, client_factory, session=session) as client:
        for one in kinds:
            yielded: set[str] = set()
            walking = _walk_one(account, one, client, PagingPolicy(), ListingBars(False, 0), session.urls)
            with contextlib.closing(walking) as pages:  # an abandoned iteration stops the page threads
                for page in pages:
                    for item in page.items:
                        if item.task.task_id not in yielded:
                            yielded.add(item.task.task_id)
                            yield item.task


def list_tasks(
    accounts: Account | str | Sequence[Account | str] | None = None,
    kind: str = "all",
    status: str | Sequence[str] | None = None,
    *legacy: Any,
    since: datetime | pd.Timestamp | str | None = None,
    until: datetime | pd.Timestamp | str | None = None,
    errors: str = "raise",
    progress: bool | None = None,
    executor: Executor | None = None,
    client_factory: ClientFactory | None = None,
    now: datetime | pd.Timestamp | str | None = None,
    max_workers: int | None = None,
    session: Session | None = None,
) -> pd.DataFrame:
    """List export tasks of one account, several, or all discovered ones into a task frame.

    ``kind`` is ``summary``, ``detail`` or ``all`` (else :class:`~usagekit.errors.ArgumentError`, a
    ``ValueError``). ``status`` keeps the given status(es), as the service sends them (a value neither
    known nor met warns: :class:`StatusFilterWarning`); ``since`` and ``until`` keep tasks created at or
    after ``since`` and before ``until`` (aware, naive = UTC, or ISO text; ``start``/``end`` elsewhere
    name data windows). Accounts holding the same access key (and endpoint) are one
    account to the service: listed once, under the first name, with one :class:`DuplicateAccountWarning`.
    Accounts and kinds are listed
    concurrently (``max_workers`` listings at once), the pages of each concurrently within 100 calls
    per second per account; each listing is complete or raises ``IncompleteListingError`` (never a
    short frame). One account failing raises its error, naming it; with ``errors="collect"`` the other
    accounts' tasks are returned, the failures listed in ``frame.attrs["errors"]`` (records of
    ``account``, ``kind``, ``code``, ``message``) and named in one warning. ``frame.attrs["listed_at"]``
    is when the listing ended by the service's clock (the replies' ``Date``; a sandbox's own time, frozen
    or not), or ``now`` when given (ISO 8601 UTC text): a task not final was still running then. ``progress``
    shows tqdm bars (default: when interactive; ``TQDM_DISABLE=1`` silences them). ``client_factory`` makes the client
    of each account (default :class:`~usagekit.client.CdnClient`; e.g.
    ``functools.partial(CdnClient, retry=RetryPolicy(...))``). ``session`` holds the pooled clients, rate
    limiters and URL memory the listing uses (``None``: the default :class:`~usagekit.session.Session`).

    Columns (see :mod:`usagekit.frames`): ``account`` (category), ``kind`` (category), ``task_id``
    (string), ``task_name`` (string), ``status`` (category), ``created``, ``updated``, ``window_start``,
    ``window_end`` (datetime64[ns, UTC], end exclusive), ``type``, ``domains`` (category, detail exports
    named by usagekit, else NA), ``download_url`` (string, without its query). Rows: accounts in the
    order given, summary before detail, newest first.

    >>> import usagekit, pandas as pd
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=2, tasks=3) as sandbox:
    ...     frame = list_tasks(sandbox.accounts, progress=False)
    >>> len(frame), list(frame["account"].unique()), list(frame["kind"].unique())
    (12, ['demo-shop', 'demo-media'], ['summary', 'detail'])
    """
    since = _positional_since(legacy, since)
    kinds = _kinds(kind)
    _check_listing_options(errors, max_workers, executor, client_factory, progress)
    statuses = _statuses(status)
    chosen_state = chosen_session(session)
    since_utc, until_utc = _created_between(since, until)
    given_now = moment(now, "now") if now is not None else None
    chosen = _once_per_key(resolve_accounts(accounts))
    jobs = [(account, one) for account in chosen for one in kinds]
    results, failures, service_time = run_listings(
        jobs, errors, progress, executor or max_workers, client_factory, len(chosen), chosen_state
    )
    listed_at = given_now if given_now is not None else service_time or current()
    tasks = [task for index in range(len(jobs)) for task in results.get(index, [])]
    frame = _kept(frame_of(tasks), statuses, since_utc, until_utc)
    frame.attrs["listed_at"] = pd.Timestamp(listed_at).isoformat()
    if errors == "collect":
        _report_failures(frame, failures, len(jobs))
    return frame


def _check_listing_options(
    errors: str,
    max_workers: int | None,
    executor: Executor | None,
    client_factory: ClientFactory | None,
    progress: bool | None,
) -> None:
    """Refuse a bad option of :func:`list_tasks`; warn that ``max_workers=`` is deprecated."""
    if errors not in ("raise", "collect"):
        raise ArgumentError(f"errors must be 'raise' or 'collect', not {errors!r}")
    if max_workers is not None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ArgumentError(f"max_workers must be a whole number of at least 1, not {max_workers!r}")
        warnings.warn(
            "max_workers= is deprecated and will be removed in the next release: use executor= "
            "(e.g. concurrent.futures.ThreadPoolExecutor(max_workers))",
            DeprecationWarning,
            stacklevel=3,  # the caller of list_tasks
        )
    if executor is not None and not isinstance(executor, Executor):
        raise ArgumentError(
            f"executor must be a concurrent.futures.Executor or None, not {type(executor).__name__}"
        )
    if client_factory is not None and not callable(client_factory):
        raise ArgumentError(
            f"client_factory must be a callable Account -> CdnClient, not {type(client_factory).__name__}"
        )
    if progress is not None and not isinstance(progress, bool):
        raise ArgumentError(f"progress must be True, False or None, not {progress!r}")


def _created_between(
    since: datetime | pd.Timestamp | str | None, until: datetime | pd.Timestamp | str | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``since`` and ``until`` as UTC moments (``None`` where not given), ``since`` before ``until``."""
    since_utc = moment(since, "since") if since is not None else None
    until_utc = moment(until, "until") if until is not None else None
    if since_utc is not None and until_utc is not None and not since_utc < until_utc:
        raise ArgumentError(
            f"since ({since_utc.isoformat()}) must come before until ({until_utc.isoformat()})"
        )
    return since_utc, until_utc


def _kept(
    frame: pd.DataFrame,
    statuses: list[str] | None,
    since_utc: pd.Timestamp | None,
    until_utc: pd.Timestamp | None,
) -> pd.DataFrame:
    """The tasks of the given statuses (an unknown, unmet one warned of) created in ``[since, until)``."""
    if statuses is not None:
        _check_statuses(statuses, frame)
        frame = frame[frame["status"].isin(statuses)].reset_index(drop=True)
    if since_utc is not None:
        frame = frame[frame["created"] >= since_utc].reset_index(drop=True)
    if until_utc is not None:
        frame = frame[frame["created"] < until_utc].reset_index(drop=True)
    return frame


def _report_failures(
    frame: pd.DataFrame, failures: Sequence[tuple[tuple[Account, str], BaseException]], listings: int
) -> None:
    """Record the failed listings in ``frame.attrs["errors"]`` and name them in one warning."""
    records = [_failure_record(account, one, error) for (account, one), error in failures]
    frame.attrs["errors"] = records
    if records:
        named = "; ".join(f"{r['account']} ({r['kind']}): {r['code']}" for r in records)
        warnings.warn(
            f"{len(records)} of {listings} listings failed and are left out: {named}; "
            "see frame.attrs['errors']",
            UserWarning,
            stacklevel=3,  # the caller of list_tasks
        )


def run_listings(
    jobs: Sequence[tuple[Account, str]],
    errors: str,
    progress: bool | None,
    workers: Executor | int | None,
    client_factory: ClientFactory | None,
    n_accounts: int,
    session: Session | None = None,
) -> tuple[dict[int, list[ExportTask]], list[tuple[tuple[Account, str], BaseException]], datetime | None]:
    """Run the listings of ``jobs`` concurrently: tasks by job index, failures in job order, and the
    service's time by the latest reply (``None`` when no client says it)."""
    results: dict[int, list[ExportTask]] = {}
    failed: dict[int, BaseException] = {}
    if not jobs:
        return results, [], None
    state = chosen_session(session)
    clients: dict[str, CdnClient] = {}
    leases = contextlib.ExitStack()
    bars = ListingBars(progress_enabled(progress), n_accounts, len(jobs))
    remaining: dict[str, int] = {}
    for account, _ in jobs:
        remaining[account.name] = remaining.get(account.name, 0) + 1
    own = not isinstance(workers, Executor)
    pool = (
        ThreadPoolExecutor(workers or min(_MAX_LISTINGS, len(jobs)), thread_name_prefix="usagekit-list")
        if not isinstance(workers, Executor)
        else workers
    )
    try:
        unusable: dict[str, UsagekitError] = {}
        for account, _ in jobs:
            if account.name not in clients and account.name not in unusable:
                try:
                    clients[account.name] = leases.enter_context(
                        lease(account, client_factory, session=state)
                    )
                except UsagekitError as error:  # e.g. http:// to a remote host: this account's failure
                    unusable[account.name] = _named(error, account)
        for index, (account, _) in enumerate(jobs):
            if account.name in unusable:
                failed[index] = unusable[account.name]
                remaining[account.name] -= 1
                if remaining[account.name] == 0:
                    bars.account()
        if failed and errors == "raise":
            raise failed[min(failed)]
        running: dict[Future[list[ExportTask]], int] = {
            pool.submit(list_one, account, one, clients[account.name], PagingPolicy(), bars, state): index
            for index, (account, one) in enumerate(jobs)
            if account.name in clients
        }
        while running:
            done, _ = wait_futures(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                try:
                    results[index] = future.result()
                except UsagekitError as error:  # the service or the network failed this listing
                    failed[index] = error  # anything else is a bug: it surfaces as itself
                name = jobs[index][0].name
                remaining[name] -= 1
                if remaining[name] == 0:
                    bars.account()
            if failed and errors == "raise":
                for future in running:
                    future.cancel()
                wait_futures(running)
                raise failed[min(failed)]
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        leases.close()
        bars.close()
    seen = [
        t for t in (getattr(c, "service_time", None) for c in clients.values()) if isinstance(t, datetime)
    ]
    return results, [(jobs[index], failed[index]) for index in sorted(failed)], max(seen, default=None)


def _named(error: UsagekitError, account: Account) -> UsagekitError:
    """``error`` (raised making ``account``'s client) with the account named, as listing errors are."""
    if not isinstance(error, ConfigurationError) or repr(account.name) in str(error):
        return error
    named = ConfigurationError(f"account {account.name!r}: {error}")
    named.__cause__ = error
    return named


def _failure_record(account: Account, kind: str, error: BaseException) -> dict[str, str]:
    code = error.code if isinstance(error, ApiError) else type(error).__name__
    return {"account": account.name, "kind": kind, "code": str(code), "message": str(error)}


def _kinds(kind: str) -> tuple[str, ...]:
    if kind == "all":
        return KINDS
    return (one_kind(kind),)


def one_kind(kind: str) -> str:
    """``kind`` checked: ``'summary'`` or ``'detail'``, else an :class:`ArgumentError`."""
    if kind not in KINDS:
        raise ArgumentError(f"kind must be 'summary' or 'detail' (or 'all' for listings), not {kind!r}")
    return kind


def _check_statuses(statuses: list[str], frame: pd.DataFrame) -> None:
    """Warn about ``status=`` values neither known nor met: ``status="succes"`` would return nothing quietly."""
    seen = sorted({str(s) for s in frame["status"].dropna()})
    odd = [s for s in statuses if s not in STATUSES and s not in seen]
    if odd:
        warnings.warn(
            f"status={', '.join(map(repr, odd))} is not a known status and no task listed has it, so no row "
            f"matches it; statuses listed: {', '.join(map(repr, seen)) or 'none (no task)'}; known: "
            f"{', '.join(map(repr, STATUSES))}",
            StatusFilterWarning,
            stacklevel=4,  # the caller of list_tasks (through _kept)
        )


def _once_per_key(accounts: list[Account]) -> list[Account]:
    """The accounts with each access key (id and secret) and endpoint once, under the first name; one warning."""
    first: dict[tuple[str, str, str | None], Account] = {}
    doubles: list[tuple[Account, Account]] = []
    for account in accounts:
        # a different secret for the same key id is a broken profile, not a second account: it is listed
        # (and fails, named); the same key id, secret and endpoint would list the same tasks twice
        key = (account.access_key_id, account.access_key_secret, account.endpoint)
        if key in first:
            doubles.append((account, first[key]))
        else:
            first[key] = account
    if doubles:
        named = "; ".join(f"{again.name!r} is {kept.name!r}" for again, kept in doubles)
        warnings.warn(
            f"accounts holding the same access key id are one account to the service, listed once under the "
            f"first name: {named}",
            DuplicateAccountWarning,
            stacklevel=3,
        )
    return list(first.values())


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    if isinstance(status, str):
        return [status]
    return [str(s) for s in status]


def _positional_since(legacy: tuple[Any, ...], since: Any) -> Any:
    """``since`` given by position, as before it became keyword-only: used, with a DeprecationWarning."""
    if not legacy:
        return since
    if len(legacy) > 1:
        raise TypeError(f"list_tasks() takes at most 3 positional arguments ({3 + len(legacy)} given)")
    if since is not None:
        raise ArgumentError("since is given twice (by position and by name): give since= only")
    warnings.warn(
        "list_tasks' since by position is deprecated and will be keyword-only in the next release: use since=",
        DeprecationWarning,
        stacklevel=3,
    )
    return legacy[0]


def refresh(
    account: Account,
    kind: str,
    task_id: str,
    *,
    client_factory: ClientFactory | None = None,
    session: Session | None = None,
) -> Remembered:
    """List ``account``'s ``kind`` tasks again, remember them (in ``session``), return ``task_id``'s fresh entry.

    Raises ``TaskStateError`` when the task is not listed any more or is not ``success``.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     account = sandbox.accounts[0]
    ...     done = list_tasks(account, "detail", status="success", progress=False)
    ...     entry = refresh(account, "detail", done["task_id"].iloc[0])
    >>> entry.url.startswith(done["download_url"].iloc[0] + "?"), "Signature" in repr(entry)
    (True, False)
    """
    kind = one_kind(kind)
    task_id = str(task_id)
    state = chosen_session(session)
    with lease(account, client_factory, session=state) as client:
        found = list_one(account, kind, client, PagingPolicy(), ListingBars(False, 0), state)
    task = next((item for item in found if item.task_id == task_id), None)
    if task is None:
        raise TaskStateError(
            f"{kind} task {task_id} of account {account.name!r} is not listed any more: it was deleted, "
            "or is older than the three months the service keeps"
        )
    if task.status != "success":
        raise TaskStateError(
            f"{kind} task {task_id} of account {account.name!r} is {task.status!r}, not 'success': "
            "wait for it (usagekit.wait) before fetching its file"
        )
    entry = state.urls.get(account.name, kind, task_id)
    if entry is None:
        raise TaskStateError(
            f"{kind} task {task_id} of account {account.name!r} is 'success' but the listing gave no "
            "download URL; list it again later"
        )
    return entry
