"""Export tasks: listings as typed task frames, and the task lifecycle (create, wait, delete).

The service keeps two kinds of usage-export tasks: ``summary`` (a PDF) and ``detail`` (an Excel workbook
of 5-minute points). :func:`list_tasks` lists them for one account, several or all discovered ones,
concurrently and completely (see :mod:`usagekit.paging` for what "complete" means), into the task frame
of :mod:`usagekit.frames`. :func:`iter_tasks` yields :class:`ExportTask` values lazily, page by page.

Download URLs are presigned: whoever holds one can read the data. The frame carries them without their
query string; the full URL stays in memory only, beside the listing that returned it, for
:mod:`usagekit.downloads`: :func:`remembered`, :func:`refresh` and :func:`resolve_account`.

:func:`create_export`, :func:`wait` and :func:`delete_export` drive the lifecycle; :func:`coverage`
(from :mod:`usagekit.windows`) says which parts of a period successful exports cover.

>>> task = ExportTask("prod", "detail", "129456", task_name="uk:flow:all:0a1b2c3d march", status="success")
>>> task.type, task.domains
('flow', 'all')
>>> task
ExportTask(account='prod', kind='detail', task_id='129456', task_name='uk:flow:all:0a1b2c3d march', status='success', type='flow', domains='all')
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import secrets
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pandas as pd

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.errors import (
    ApiError,
    ConfigurationError,
    InvalidParameterError,
    MayHaveRunError,
    ResponseError,
    TaskStateError,
    UsagekitError,
    WaitTimeoutError,
)
from usagekit.frames import (
    KINDS,
    TaskTag,
    exclusive_end,
    format_task_tag,
    parse_task_tag,
    strip_query,
    task_frame,
)
from usagekit.paging import Page, PagingPolicy, RateLimiter, collect, walk
from usagekit.progress import progress_enabled
from usagekit.windows import coverage

__all__ = [
    "CREATE_ACTIONS",
    "DELETE_ACTIONS",
    "LIST_ACTIONS",
    "ExportTask",
    "Remembered",
    "coverage",
    "create_export",
    "delete_export",
    "frame_of",
    "iter_tasks",
    "list_tasks",
    "parse_page",
    "refresh",
    "remembered",
    "resolve_account",
    "tasks_of",
    "wait",
]

LIST_ACTIONS = {
    "summary": "DescribeUserUsageDataExportTask",
    "detail": "DescribeUserUsageDetailDataExportTask",
}
CREATE_ACTIONS = {"summary": "CreateUserUsageDataExportTask", "detail": "CreateUsageDetailDataExportTask"}
DELETE_ACTIONS = {"summary": "DeleteUserUsageDataExportTask", "detail": "DeleteUsageDetailDataExportTask"}
FINAL_STATUSES = frozenset({"success", "failed"})

#: a factory turning an :class:`Account` into a client; :class:`CdnClient` itself is the default
ClientFactory = Callable[[Account], CdnClient]

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MAX_WINDOW = timedelta(days=31)
_MAX_POLL = 30.0
#: listings (account x kind) run at once by default: I/O-bound threads, each mostly waiting on the network
_MAX_LISTINGS = 64


# --- one task -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportTask:
    """One export task: one row of the task frame (see :mod:`usagekit.frames` for the columns).

    Times are aware UTC datetimes (``None`` when the service sent none), ``window_end`` exclusive.
    ``type`` and ``domains`` are known for detail exports usagekit named (see
    :func:`usagekit.frames.parse_task_tag`): when left out they are read from ``task_name``.
    ``download_url`` never carries the presigned query. The repr leaves out what is not set.

    >>> ExportTask("prod", "summary", "42", status="created").to_row()["status"]
    'created'
    """

    account: str
    kind: str
    task_id: str
    task_name: str | None = None
    status: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    type: str | None = None
    domains: str | None = None
    download_url: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"ExportTask.kind must be 'summary' or 'detail', not {self.kind!r}")
        if self.kind == "detail" and self.type is None and self.domains is None:
            tag = parse_task_tag(self.task_name)
            if tag is not None:
                object.__setattr__(self, "type", tag.type)
                object.__setattr__(self, "domains", tag.domains)
        if self.download_url and any(mark in self.download_url for mark in "?#@"):
            object.__setattr__(self, "download_url", strip_query(self.download_url))

    def __repr__(self) -> str:
        shown = [(f.name, getattr(self, f.name)) for f in fields(self)]
        shown = [(k, v) for i, (k, v) in enumerate(shown) if i < 3 or v is not None]
        inner = ", ".join(f"{k}={v.isoformat() if isinstance(v, datetime) else v!r}" for k, v in shown)
        return f"ExportTask({inner})"

    @property
    def key(self) -> tuple[str, str, str]:
        """``(account, kind, task_id)``: what identifies a task across listings."""
        return (self.account, self.kind, self.task_id)

    def to_row(self) -> dict[str, Any]:
        """The task as a task-frame row (a plain dict)."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ExportTask:
        """The task of one task-frame row (a mapping or a ``Series``); NA becomes ``None``."""

        def value(name: str) -> Any:
            item = row.get(name)
            if item is None or (not isinstance(item, str | Mapping) and pd.isna(item)):
                return None
            if isinstance(item, pd.Timestamp):
                return item.to_pydatetime()
            return str(item) if name not in ("created", "updated", "window_start", "window_end") else item

        values = {f.name: value(f.name) for f in fields(cls)}
        for required in ("account", "kind", "task_id"):
            if values[required] is None:
                raise ValueError(f"a task row needs {required!r}")
        return cls(**values)


def tasks_of(tasks: pd.DataFrame | ExportTask | Iterable[ExportTask]) -> list[ExportTask]:
    """The :class:`ExportTask` values of task-frame rows, one task, or a list of them.

    >>> [t.task_id for t in tasks_of(ExportTask("a", "summary", "1"))]
    ['1']
    """
    if isinstance(tasks, ExportTask):
        return [tasks]
    if isinstance(tasks, pd.Series):
        return [ExportTask.from_row(tasks)]
    if isinstance(tasks, pd.DataFrame):
        return [ExportTask.from_row(row) for row in tasks.to_dict("records")]
    out = []
    for task in tasks:
        if not isinstance(task, ExportTask):
            raise TypeError(f"expected task-frame rows or ExportTask values, not {type(task).__name__}")
        out.append(task)
    return out


_FIELDS = tuple(f.name for f in fields(ExportTask))


def frame_of(tasks: Iterable[ExportTask]) -> pd.DataFrame:
    """The task frame of ``tasks`` (columns and dtypes as in :func:`usagekit.frames.task_frame`)."""
    tasks = list(tasks)
    columns = {name: pd.Series([getattr(t, name) for t in tasks], dtype="object") for name in _FIELDS}
    return task_frame(pd.DataFrame(columns))


# --- reading the service's replies -------------------------------------------------------------------


class _Listed(NamedTuple):
    """A task as one listing returned it, with the full URL that must stay in memory."""

    task: ExportTask
    url: str | None
    listed_at: datetime


def parse_page(
    reply: Mapping[str, Any], *, account: str, kind: str, asked: int = 50, action: str | None = None
) -> Page[_Listed]:
    """Read one listing reply into a :class:`~usagekit.paging.Page` of tasks, whatever its quirks.

    Accepted quirks: ``DataItem`` as one object instead of a list, ``TaskId`` as a number,
    ``TotalCount`` / ``PageSize`` / ``PageNumber`` as text (or at the top level, as a stale document
    shows them), ``TaskConfig`` missing or as JSON text, ``DownloadUrl`` missing, ``Data`` empty or
    missing. Unknown statuses are kept. A reply without ``TotalCount`` raises ``ResponseError``.

    >>> page = parse_page({"UsageDataPerPage": {"PageNumber": "1", "PageSize": "50", "TotalCount": "1",
    ...     "Data": {"DataItem": {"TaskId": 7, "Status": "success", "TaskName": "uk:vas:some:abcd",
    ...     "TaskConfig": {"StartTime": "2019-12-29T16:00:00Z", "EndTime": "2019-12-30T15:59:59Z"}}}}},
    ...     account="prod", kind="detail")
    >>> task = page.items[0].task
    >>> page.total, task.task_id, task.type, task.window_end.isoformat()
    (1, '7', 'vas', '2019-12-30T16:00:00+00:00')
    """
    action = action or LIST_ACTIONS.get(kind)

    def refuse(what: str) -> ResponseError:
        return ResponseError(f"{action} for account {account!r}: {what}", action=action, account=account)

    if not isinstance(reply, Mapping):
        raise refuse(f"the reply is {type(reply).__name__}, not a JSON object")
    body = reply.get("UsageDataPerPage")
    if not isinstance(body, Mapping):
        body = reply
    total = _integer(body.get("TotalCount"))
    if total is None or total < 0:
        raise refuse("the reply carries no TotalCount")
    size = _integer(body.get("PageSize")) or asked
    number = _integer(body.get("PageNumber")) or 0
    data = body.get("Data")
    if isinstance(data, Mapping):
        data = data.get("DataItem")
    if data is None or data == "":
        data = []
    elif isinstance(data, Mapping):
        data = [data]
    elif not isinstance(data, list):
        raise refuse(f"DataItem is {type(data).__name__}, not a list of tasks")
    listed_at = datetime.now(UTC)
    items = []
    for item in data:
        if not isinstance(item, Mapping):
            raise refuse(f"a DataItem entry is {type(item).__name__}, not an object")
        try:
            items.append(_listed(item, account, kind, listed_at))
        except ValueError as error:
            raise refuse(str(error)) from None
    return Page(number, size, total, tuple(items))


def _listed(item: Mapping[str, Any], account: str, kind: str, listed_at: datetime) -> _Listed:
    task_id = _identifier(item.get("TaskId"))
    if task_id is None:
        raise ValueError("a task without TaskId")
    name = _text(item.get("TaskName"))
    config = item.get("TaskConfig")
    if isinstance(config, str):
        try:
            config = json.loads(config) if config.strip() else None
        except ValueError:
            raise ValueError(f"task {task_id}: TaskConfig is not JSON") from None
    if not isinstance(config, Mapping):
        config = {}
    url = _text(item.get("DownloadUrl"))
    tag = parse_task_tag(name) if kind == "detail" else None
    task = ExportTask(
        account=account,
        kind=kind,
        task_id=task_id,
        task_name=name,
        status=_text(item.get("Status")),
        created=_instant(item.get("CreateTime"), task_id, "CreateTime"),
        updated=_instant(item.get("UpdateTime"), task_id, "UpdateTime"),
        window_start=_instant(config.get("StartTime"), task_id, "StartTime"),
        window_end=_exclusive(config.get("EndTime"), task_id),
        type=tag.type if tag else None,
        domains=tag.domains if tag else None,
        download_url=strip_query(url),
    )
    return _Listed(task, url, listed_at)


def _integer(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _identifier(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _instant(value: Any, task_id: str, name: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _parse_instant(str(value).strip(), task_id, name)


def _parse_instant(text: str, task_id: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = pd.Timestamp(text).to_pydatetime()
        except (ValueError, TypeError):
            raise ValueError(f"task {task_id}: {name} {text!r} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _exclusive_text(text: str) -> datetime:
    """``exclusive_end`` of a window end, cached: windows of whole days repeat across tasks."""
    _parse_instant(text, "?", "EndTime")  # raises a clear ValueError (never cached) for a malformed end
    end = exclusive_end(text)
    assert end is not None
    return end.to_pydatetime()


def _exclusive(value: Any, task_id: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return _exclusive_text(str(value).strip())
    except ValueError:
        raise ValueError(f"task {task_id}: EndTime {str(value)!r} is not an ISO 8601 time") from None


# --- the full URLs, in memory only --------------------------------------------------------------------


@dataclass(frozen=True)
class Remembered:
    """A task's full presigned download URL, the :class:`Account` that listed it, and when.

    The URL is a secret (whoever holds it can read the file): it is never shown in the repr.

    >>> entry = Remembered(Account("prod", "LTAIexample-0000KlMn", "s"), "https://b/x.xlsx?Signature=abc",
    ...                    datetime(2026, 1, 1, tzinfo=UTC))
    >>> "Signature" in repr(entry)
    False
    """

    account: Account
    url: str = field(repr=False)
    listed_at: datetime


class _Memory:
    """A thread-safe, bounded store: the latest listing's URLs per account name and kind."""

    def __init__(self, max_listings: int = 512) -> None:
        self._lock = threading.Lock()
        self._max = max_listings
        self._urls: OrderedDict[tuple[str, str], dict[str, Remembered]] = OrderedDict()
        self._ids: dict[tuple[str, str], frozenset[str]] = {}
        self._accounts: OrderedDict[str, Account] = OrderedDict()

    def store(self, account: Account, kind: str, listed: Iterable[_Listed], *, complete: bool) -> None:
        """Keep a listing: a complete one replaces what was known for the account and kind."""
        entries = {
            item.task.task_id: Remembered(account, item.url, item.listed_at) for item in listed if item.url
        }
        key = (account.name, kind)
        with self._lock:
            if complete or key not in self._urls:
                self._urls[key] = entries
            else:
                self._urls[key].update(entries)
            self._urls.move_to_end(key)
            self._accounts[account.name] = account
            self._accounts.move_to_end(account.name)
            while len(self._urls) > self._max:
                dropped, _ = self._urls.popitem(last=False)
                self._ids.pop(dropped, None)
            while len(self._accounts) > self._max:
                self._accounts.popitem(last=False)

    def use_account(self, account: Account) -> None:
        """Note the account used for its name by a call other than a listing (a create)."""
        with self._lock:
            self._accounts[account.name] = account
            self._accounts.move_to_end(account.name)
            while len(self._accounts) > self._max:
                self._accounts.popitem(last=False)

    def store_ids(self, account: Account, kind: str, ids: Iterable[str]) -> None:
        with self._lock:
            self._ids[(account.name, kind)] = frozenset(ids)

    def ids(self, account_name: str, kind: str) -> frozenset[str] | None:
        """The task ids of the latest complete listing of ``account_name`` and ``kind``; None if none."""
        with self._lock:
            return self._ids.get((account_name, kind))

    def get(self, account_name: str, kind: str, task_id: str) -> Remembered | None:
        with self._lock:
            return self._urls.get((account_name, kind), {}).get(str(task_id))

    def account(self, name: str) -> Account | None:
        with self._lock:
            return self._accounts.get(name)

    def forget(self, account_name: str, kind: str, task_id: str) -> None:
        with self._lock:
            self._urls.get((account_name, kind), {}).pop(str(task_id), None)

    def clear(self) -> None:
        with self._lock:
            self._urls.clear()
            self._ids.clear()
            self._accounts.clear()


_MEMORY = _Memory()


def remembered(account_name: str, kind: str, task_id: str) -> Remembered | None:
    """The full download URL the latest listing of ``account_name`` and ``kind`` gave ``task_id``.

    ``None`` when no listing in this process returned one (not listed yet, or not ``success``).

    >>> remembered("nobody", "detail", "1") is None
    True
    """
    return _MEMORY.get(account_name, kind, str(task_id))


def refresh(
    account: Account, kind: str, task_id: str, *, client_factory: ClientFactory | None = None
) -> Remembered:
    """List ``account``'s ``kind`` tasks again, remember them, and return ``task_id``'s fresh entry.

    Raises ``TaskStateError`` when the task is not listed any more or is not ``success``.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     account = sandbox.accounts[0]
    ...     done = list_tasks(account, "detail", status="success", progress=False)
    ...     entry = refresh(account, "detail", done["task_id"].iloc[0])
    >>> entry.url.startswith(done["download_url"].iloc[0] + "?"), "Signature" in repr(entry)
    (True, False)
    """
    kind = _one_kind(kind)
    task_id = str(task_id)
    with _open(account, client_factory) as client:
        found = _list_one(account, kind, client, _limiter(account), PagingPolicy(), _Bars(False, 0))
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
    entry = _MEMORY.get(account.name, kind, task_id)
    if entry is None:
        raise TaskStateError(
            f"{kind} task {task_id} of account {account.name!r} is 'success' but the listing gave no "
            "download URL; list it again later"
        )
    return entry


def resolve_account(name: str, accounts: Sequence[Account] | None = None) -> Account:
    """The :class:`Account` called ``name``: the very object the latest listing (or create) used.

    Given ``accounts=``, or discovering (``usagekit.discover_accounts``) when no listing used that name,
    the account is matched by name; two matches or none raise ``ConfigurationError``.

    >>> a = Account("prod", "LTAIexample-0000KlMn", "s")
    >>> resolve_account("prod", [a]) is a
    True
    """
    if accounts is None:
        known = _MEMORY.account(name)
        if known is not None:
            return known
        from usagekit.discovery import discover_accounts

        accounts = discover_accounts()
        where = "the discovered accounts"
    else:
        where = "the accounts given"
    matches = [account for account in accounts if account.name == name]
    if len(matches) > 1:
        raise ConfigurationError(
            f"{len(matches)} of {where} are named {name!r}; refusing to guess: pass the one you mean"
        )
    if not matches:
        names = ", ".join(repr(account.name) for account in accounts) or "none"
        raise ConfigurationError(f"no account named {name!r} among {where} ({names})")
    return matches[0]


# --- listing --------------------------------------------------------------------------------------------

_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiter(account: Account) -> RateLimiter:
    """The rate limiter every thread calling ``account`` shares (keyed by key id and endpoint)."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(account.cache_key)
        if limiter is None:
            limiter = _LIMITERS[account.cache_key] = RateLimiter()
        return limiter


_CLIENTS: OrderedDict[Account, CdnClient] = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 32


def _client(account: Account, factory: ClientFactory | None) -> tuple[CdnClient, bool]:
    """The client for ``account`` and whether the caller owns it (must close it).

    Without a factory, one client per account is kept for the process (the latest 32), so listings,
    the polls of :func:`wait` and creates reuse its connections instead of opening new ones (a TLS
    handshake each, against the real service). A factory's clients are the caller's, closed after use.
    """
    if factory is not None:
        return factory(account), True
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(account)
        if client is not None:
            _CLIENTS.move_to_end(account)
            return client, False
        client = _CLIENTS[account] = CdnClient(account)
        while len(_CLIENTS) > _MAX_CLIENTS:
            _, old = _CLIENTS.popitem(last=False)
            old.close()
        return client, False


@atexit.register
def _close_clients() -> None:
    with _CLIENTS_LOCK:
        while _CLIENTS:
            _CLIENTS.popitem()[1].close()


class _open:
    """A client for ``account`` (see :func:`_client`), closed on exit when the caller owns it."""

    def __init__(self, account: Account, factory: ClientFactory | None) -> None:
        self.client, self._owned = _client(account, factory)

    def __enter__(self) -> CdnClient:
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            self.client.close()


def _walk_one(
    account: Account,
    kind: str,
    client: CdnClient,
    limiter: RateLimiter,
    policy: PagingPolicy,
    bars: _Bars,
) -> Generator[Page[_Listed], None, Any]:
    """The page walk of one account and kind, remembering the answer when it completes."""
    action = LIST_ACTIONS[kind]

    def fetch(number: int, size: int) -> Page[_Listed]:
        limiter.acquire()
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
    _MEMORY.store(account, kind, listed, complete=True)
    _MEMORY.store_ids(account, kind, listing.items)
    return listing


def _list_one(
    account: Account, kind: str, client: CdnClient, limiter: RateLimiter, policy: PagingPolicy, bars: _Bars
) -> list[ExportTask]:
    listing = collect(_walk_one(account, kind, client, limiter, policy, bars))
    return _ordered(item.task for item in listing.items.values())


def _ordered(tasks: Iterable[ExportTask]) -> list[ExportTask]:
    """Newest first (unknown creation times last), then by id: a stable order for frames."""
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(tasks, key=lambda t: (t.created is not None, t.created or floor, t.task_id), reverse=True)


def iter_tasks(
    account: Account, kind: str = "all", *, client_factory: ClientFactory | None = None
) -> Iterator[ExportTask]:
    """Yield ``account``'s export tasks of ``kind`` (``summary``, ``detail`` or ``all``) page by page.

    Pages after the first are fetched ahead, concurrently. Each task is yielded once, as first seen;
    when the listing had to be walked again (it changed meanwhile), tasks it gained are yielded then,
    and a task removed during the walk may already have been yielded. When the listing cannot be
    completed, ``IncompleteListingError`` is raised after what was yielded: never a silently short
    listing. Use :func:`list_tasks` for the consistent frame.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     kinds = [task.kind for task in iter_tasks(sandbox.accounts[0])]
    >>> kinds
    ['summary', 'summary', 'summary', 'detail', 'detail', 'detail']
    """
    kinds = _kinds(kind)
    with _open(account, client_factory) as client:
        for one in kinds:
            yielded: set[str] = set()
            walking = _walk_one(account, one, client, _limiter(account), PagingPolicy(), _Bars(False, 0))
            with contextlib.closing(walking) as pages:  # an abandoned iteration stops the page threads
                for page in pages:
                    for item in page.items:
                        if item.task.task_id not in yielded:
                            yielded.add(item.task.task_id)
                            yield item.task


def list_tasks(
    accounts: Account | Sequence[Account] | None = None,
    kind: str = "all",
    status: str | Sequence[str] | None = None,
    since: datetime | pd.Timestamp | str | None = None,
    *,
    errors: str = "raise",
    progress: bool | None = None,
    max_workers: int | None = None,
    client_factory: ClientFactory | None = None,
) -> pd.DataFrame:
    """List export tasks of one account, several, or all discovered ones into a task frame.

    ``kind`` is ``summary``, ``detail`` or ``all``. ``status`` keeps the given status(es); ``since`` keeps
    tasks created at or after it (aware, naive = UTC, or ISO text). Accounts and kinds are listed
    concurrently (``max_workers`` listings at once), the pages of each concurrently within 100 calls
    per second per account; each listing is complete or raises ``IncompleteListingError`` (never a
    short frame). One account failing raises its error, naming it; with ``errors="collect"`` the other
    accounts' tasks are returned, the failures listed in ``frame.attrs["errors"]`` (records of
    ``account``, ``kind``, ``code``, ``message``) and named in one warning. ``progress`` shows tqdm bars
    (default: when interactive; ``TQDM_DISABLE=1`` silences them). ``client_factory`` makes the client
    of each account (default :class:`~usagekit.client.CdnClient`; e.g.
    ``functools.partial(CdnClient, retry=RetryPolicy(...))``).

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
    kinds = _kinds(kind)
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    statuses = _statuses(status)
    since_utc = _moment(since, "since") if since is not None else None
    chosen = _accounts(accounts)
    jobs = [(account, one) for account in chosen for one in kinds]
    results, failures = _run(jobs, errors, progress, max_workers, client_factory, len(chosen))
    tasks = [task for index in range(len(jobs)) for task in results.get(index, [])]
    frame = frame_of(tasks)
    if statuses is not None:
        frame = frame[frame["status"].isin(statuses)].reset_index(drop=True)
    if since_utc is not None:
        frame = frame[frame["created"] >= since_utc].reset_index(drop=True)
    if errors == "collect":
        records = [_failure_record(account, one, error) for (account, one), error in failures]
        frame.attrs["errors"] = records
        if records:
            named = "; ".join(f"{r['account']} ({r['kind']}): {r['code']}" for r in records)
            warnings.warn(
                f"{len(records)} of {len(jobs)} listings failed and are left out: {named}; "
                "see frame.attrs['errors']",
                UserWarning,
                stacklevel=2,
            )
    return frame


def _run(
    jobs: Sequence[tuple[Account, str]],
    errors: str,
    progress: bool | None,
    max_workers: int | None,
    client_factory: ClientFactory | None,
    n_accounts: int,
) -> tuple[dict[int, list[ExportTask]], list[tuple[tuple[Account, str], BaseException]]]:
    """Run the listings of ``jobs`` concurrently: tasks by job index, and failures in job order."""
    results: dict[int, list[ExportTask]] = {}
    failed: dict[int, BaseException] = {}
    if not jobs:
        return results, []
    clients: dict[str, CdnClient] = {}
    owned: list[CdnClient] = []
    bars = _Bars(progress_enabled(progress), n_accounts, len(jobs))
    remaining: dict[str, int] = {}
    for account, _ in jobs:
        remaining[account.name] = remaining.get(account.name, 0) + 1
    workers = max_workers or min(_MAX_LISTINGS, len(jobs))
    if workers < 1:
        raise ValueError("max_workers must be at least 1")
    pool = ThreadPoolExecutor(workers, thread_name_prefix="usagekit-list")
    try:
        unusable: dict[str, UsagekitError] = {}
        for account, _ in jobs:
            if account.name not in clients and account.name not in unusable:
                try:
                    client, is_owned = _client(account, client_factory)
                except UsagekitError as error:  # e.g. http:// to a remote host: this account's failure
                    unusable[account.name] = _named(error, account)
                else:
                    clients[account.name] = client
                    if is_owned:
                        owned.append(client)
        for index, (account, _) in enumerate(jobs):
            if account.name in unusable:
                failed[index] = unusable[account.name]
                remaining[account.name] -= 1
                if remaining[account.name] == 0:
                    bars.account()
        if failed and errors == "raise":
            raise failed[min(failed)]
        running: dict[Future[list[ExportTask]], int] = {
            pool.submit(
                _list_one, account, one, clients[account.name], _limiter(account), PagingPolicy(), bars
            ): index
            for index, (account, one) in enumerate(jobs)
            if account.name in clients
        }
        while running:
            done, _ = wait_futures(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                try:
                    results[index] = future.result()
                except Exception as error:
                    failed[index] = error
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
        pool.shutdown(wait=True, cancel_futures=True)
        for client in owned:
            client.close()
        bars.close()
    return results, [(jobs[index], failed[index]) for index in sorted(failed)]


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
    return (_one_kind(kind),)


def _one_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be 'summary' or 'detail' (or 'all' for listings), not {kind!r}")
    return kind


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    if isinstance(status, str):
        return [status]
    return [str(s) for s in status]


def _accounts(accounts: Account | Sequence[Account] | None) -> list[Account]:
    if accounts is None:
        from usagekit.discovery import discover_accounts

        accounts = discover_accounts()
    if isinstance(accounts, Account):
        return [accounts]
    chosen = list(accounts)
    for account in chosen:
        if not isinstance(account, Account):
            raise TypeError(f"accounts must be Account values, not {type(account).__name__}")
    names = [account.name for account in chosen]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ConfigurationError(
            f"several accounts given are named {', '.join(map(repr, doubled))}: names must be unique "
            "(the task frame tells accounts apart by name)"
        )
    return chosen


def _moment(value: datetime | pd.Timestamp | str, what: str) -> pd.Timestamp:
    """An aware UTC timestamp from a datetime or ISO text; naive values are taken as UTC."""
    if not isinstance(value, datetime | str):
        raise TypeError(f"{what} must be a datetime or ISO 8601 text, not {type(value).__name__}")
    try:
        moment = pd.Timestamp(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO 8601 time") from None
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


# --- the lifecycle: create, wait, delete -----------------------------------------------------------------


def create_export(
    account: Account,
    kind: str,
    start: datetime | pd.Timestamp | str,
    end: datetime | pd.Timestamp | str,
    *,
    domains: str | Sequence[str] | None = None,
    type: str = "flow",
    language: str = "en-us",
    name: str | None = None,
    client_factory: ClientFactory | None = None,
) -> ExportTask:
    """Create an export of ``[start, end)`` (end EXCLUSIVE) and return it, status ``created``.

    ``EndTime`` is sent as ``end`` minus one second, the console's own convention, so a day's export
    never holds the next day's first point. Times are aware datetimes, naive ones (UTC) or ISO text, on
    whole minutes. The service's rules are checked first and refused with
    ``InvalidParameterError(code="LocalValidation")`` (the class the service's own refusals raise):
    ``start < end``, at most 31 days, data from the last year only (by this machine's clock; left to
    a sandbox, which keeps its own time), ``type`` ``flow`` or ``vas``, ``language`` ``en-us`` or
    ``zh-cn``, domains only for detail exports.

    A detail export is named with the tag ``uk:<type>:<all|some>:<token>`` (your ``name`` after it), so
    listings know its type and domains, and a create that timed out (``MayHaveRunError``) is found by
    listing for its token instead of being created twice; if it is not there, it is created again
    (once). A summary export is named ``name`` and recognised after a timeout by its window and name
    among tasks the latest listing did not hold (listed before the create when this process has not
    listed that account's summaries yet): give it a unique name to make that exact.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     task = create_export(sandbox.accounts[0], "detail", "2026-11-18T16:00:00Z",
    ...                          "2026-11-19T16:00:00Z", type="vas", name="one day")
    >>> task.status, task.type, task.domains, task.window_end.isoformat()
    ('created', 'vas', 'all', '2026-11-19T16:00:00+00:00')
    """
    kind = _one_kind(kind)
    action = CREATE_ACTIONS[kind]
    lower, upper = _moment(start, "start"), _moment(end, "end")
    _check_request(account, action, lower, upper, kind, type, language, domains)
    params: dict[str, object] = {
        "StartTime": lower.strftime(_TIME_FORMAT),
        "EndTime": (upper - pd.Timedelta(seconds=1)).strftime(_TIME_FORMAT),
        "Language": language,
    }
    token: str | None = None
    if kind == "detail":
        domain_list = _domain_list(domains)
        token = secrets.token_hex(4)
        scope = "all" if domain_list is None else "some"
        task_name: str | None = format_task_tag(TaskTag(type, scope, token, name or None))
        params["Type"] = type
        params["DomainNames"] = ",".join(domain_list) if domain_list else None
    else:
        task_name = name
    params["TaskName"] = task_name
    _MEMORY.use_account(account)  # so that wait(create_export(...)) finds the very same account
    with _open(account, client_factory) as client:
        known = _MEMORY.ids(account.name, kind)
        if token is None and known is None:
            # A summary export has no tag: after a timeout it is told from older exports of the same
            # window only by what was listed before the create, so list first when nothing was.
            known = frozenset(
                task.task_id
                for task in _list_one(
                    account, kind, client, _limiter(account), PagingPolicy(), _Bars(False, 0)
                )
            )
        try:
            reply = client.call(action, **params)
        except MayHaveRunError as unknown:
            found = _find_created(account, kind, client, token, task_name, lower, upper, known)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                ids = ", ".join(task.task_id for task in found)
                unknown.add_note(
                    f"listing found several summary tasks that could be this one ({ids}); "
                    "delete the one you do not want"
                )
                raise
            reply = client.call(action, **params)
    return _created(reply, account, kind, task_name, lower, upper, action)


def _check_request(
    account: Account,
    action: str,
    lower: pd.Timestamp,
    upper: pd.Timestamp,
    kind: str,
    type: str,
    language: str,
    domains: object,
) -> None:
    def refuse(message: str) -> InvalidParameterError:
        return InvalidParameterError("LocalValidation", message, action=action, account=account.name)

    if not lower < upper:
        raise refuse(f"start ({lower.isoformat()}) must come before end ({upper.isoformat()})")
    if lower != lower.floor("min") or upper != upper.floor("min"):
        raise refuse("start and end must fall on whole minutes (the data has 5-minute points)")
    if upper - lower > _MAX_WINDOW:
        raise refuse(
            f"an export covers at most 31 days, not {(upper - lower) / pd.Timedelta(days=1):g}: split the period"
        )
    # The one-year rule is the service's, against its clock; a sandbox keeps its own time and checks it.
    oldest = pd.Timestamp.now(tz="UTC") - pd.DateOffset(years=1)
    if account.source != "sandbox" and lower < oldest:
        raise refuse(f"the service exports data from the last year only: start is before {oldest:%Y-%m-%d}")
    if language not in ("en-us", "zh-cn"):
        raise refuse(f"language must be 'en-us' or 'zh-cn', not {language!r}")
    if kind == "detail" and type not in ("flow", "vas"):
        raise refuse(f"type must be 'flow' (traffic and bandwidth) or 'vas' (requests), not {type!r}")
    if kind == "summary" and domains is not None:
        raise refuse("a summary export covers the whole account: domains are for detail exports")


def _domain_list(domains: str | Sequence[str] | None) -> list[str] | None:
    if domains is None:
        return None
    items = domains.split(",") if isinstance(domains, str) else list(domains)
    cleaned = [str(item).strip() for item in items]
    if not cleaned or not all(cleaned):
        raise ValueError("domains must be None (all domains) or a non-empty list of domain names")
    return cleaned


def _find_created(
    account: Account,
    kind: str,
    client: CdnClient,
    token: str | None,
    task_name: str | None,
    lower: pd.Timestamp,
    upper: pd.Timestamp,
    known: frozenset[str] | None,
) -> list[ExportTask]:
    """The tasks a create that may have run could have made: by token (detail) or window and name."""
    listed = _list_one(account, kind, client, _limiter(account), PagingPolicy(), _Bars(False, 0))
    if token is not None:
        return [t for t in listed if (tag := parse_task_tag(t.task_name)) is not None and tag.token == token]
    return [
        t
        for t in listed
        if t.task_id not in (known or ())
        and t.window_start == lower
        and t.window_end == upper
        and (task_name is None or t.task_name == task_name)
    ]


def _created(
    reply: Mapping[str, Any],
    account: Account,
    kind: str,
    task_name: str | None,
    lower: pd.Timestamp,
    upper: pd.Timestamp,
    action: str,
) -> ExportTask:
    task_id = _identifier(reply.get("TaskId")) if isinstance(reply, Mapping) else None
    if task_id is None:
        raise ResponseError(
            f"{action} for account {account.name!r} answered without a TaskId; list the tasks to find it",
            action=action,
            account=account.name,
        )
    try:
        start = _instant(reply.get("StartTime"), task_id, "StartTime") or lower.to_pydatetime()
        end = _exclusive(reply.get("EndTime"), task_id) or upper.to_pydatetime()
    except ValueError:
        start, end = lower.to_pydatetime(), upper.to_pydatetime()
    return ExportTask(
        account=account.name,
        kind=kind,
        task_id=task_id,
        task_name=task_name,
        status="created",
        window_start=start,
        window_end=end,
    )


def delete_export(
    account: Account, kind: str, task_id: str, *, client_factory: ClientFactory | None = None
) -> None:
    """Delete export ``task_id`` of ``account``; its remembered URL is forgotten.

    When the call may have run (``MayHaveRunError``), the tasks are listed and the call repeated
    only if the task is still there.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     account = sandbox.accounts[0]
    ...     task_id = list_tasks(account, "summary", progress=False)["task_id"].iloc[0]
    ...     delete_export(account, "summary", task_id)
    ...     task_id in set(list_tasks(account, "summary", progress=False)["task_id"])
    False
    """
    kind = _one_kind(kind)
    task_id = str(task_id)
    action = DELETE_ACTIONS[kind]
    with _open(account, client_factory) as client:
        try:
            client.call(action, TaskId=task_id)
        except MayHaveRunError:
            listed = _list_one(account, kind, client, _limiter(account), PagingPolicy(), _Bars(False, 0))
            if any(task.task_id == task_id for task in listed):
                client.call(action, TaskId=task_id)
    _MEMORY.forget(account.name, kind, task_id)


def wait(
    tasks: pd.DataFrame | ExportTask | Iterable[ExportTask],
    *,
    accounts: Sequence[Account] | None = None,
    timeout: float = 600,
    poll: float = 2.0,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    client_factory: ClientFactory | None = None,
) -> pd.DataFrame:
    """Wait until every task in ``tasks`` is ``success`` or ``failed``; return their updated rows.

    ``tasks`` is task-frame rows, an :class:`ExportTask` or a list of them. The accounts and kinds
    involved are listed every ``poll`` seconds, the pause growing by half each time up to 30 s. The
    accounts are the ones the latest listing used (see :func:`resolve_account`; ``accounts=`` to pass
    them). Raises ``WaitTimeoutError`` (a ``TimeoutError``) naming the tasks still running after
    ``timeout`` seconds, ``TaskStateError`` when a task is no longer listed. ``sleep`` and ``clock``
    are injectable.

    Columns: those of the task frame (see :func:`list_tasks`), one row per task, in the order given.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", accounts=1, tasks=3) as sandbox:
    ...     task = create_export(sandbox.accounts[0], "summary", "2026-11-18T16:00:00Z", "2026-11-19T16:00:00Z")
    ...     done = wait(task, sleep=sandbox.advance, progress=False)  # the frozen sandbox clock moves
    >>> done["task_id"].tolist() == [task.task_id], done["status"].iloc[0] in ("success", "failed")
    (True, True)
    """
    targets = list(dict.fromkeys(task.key for task in tasks_of(tasks)))
    if not targets:
        return task_frame([])
    if timeout < 0 or poll <= 0:
        raise ValueError("wait needs timeout >= 0 and poll > 0")
    resolved = {name: resolve_account(name, accounts) for name in dict.fromkeys(k[0] for k in targets)}
    jobs = [(resolved[name], kind) for name, kind in dict.fromkeys((k[0], k[1]) for k in targets)]
    bar = _WaitBar(progress_enabled(progress), len(targets))
    started = clock()
    delay = poll
    try:
        while True:
            results, _ = _run(jobs, "raise", False, None, client_factory, len(resolved))
            current = {task.key: task for found in results.values() for task in found}
            missing = [key for key in targets if key not in current]
            if missing:
                names = ", ".join(f"{k[2]} ({k[1]}, {k[0]})" for k in missing)
                raise TaskStateError(
                    f"no longer listed: {names}; deleted, or older than the three months the service keeps"
                )
            running = [key for key in targets if current[key].status not in FINAL_STATUSES]
            bar.show(len(targets) - len(running))
            if not running:
                return frame_of(current[key] for key in targets)
            elapsed = clock() - started
            if elapsed >= timeout:
                names = ", ".join(f"{k[2]} ({k[1]}, {k[0]}: {current[k].status})" for k in running)
                raise WaitTimeoutError(
                    f"still running after {timeout:g} s: {names}; wait again later",
                    task_ids=tuple(k[2] for k in running),
                )
            sleep(min(delay, timeout - elapsed))
            delay = min(delay * 1.5, _MAX_POLL)
    finally:
        bar.close()


class _WaitBar:
    def __init__(self, enabled: bool, total: int) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc="tasks done", unit="task", disable=False)

    def show(self, done: int) -> None:
        if self._bar is not None:
            self._bar.n = done
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --- progress -----------------------------------------------------------------------------------------


class _Bars:
    """A pages bar (its total grows as first pages tell how many follow) and an accounts bar."""

    def __init__(self, enabled: bool, accounts: int, first_pages: int = 0) -> None:
        self._lock = threading.Lock()
        self._pages: Any = None
        self._accounts: Any = None
        if not enabled:
            return
        from tqdm.auto import tqdm

        if accounts > 1:
            self._accounts = tqdm(total=accounts, desc="accounts", unit="account", position=0, disable=False)
        self._pages = tqdm(
            total=first_pages, desc="pages", unit="page", position=1 if accounts > 1 else 0, disable=False
        )

    def plan(self, more: int) -> None:
        if self._pages is not None and more:
            with self._lock:
                self._pages.total += more
                self._pages.refresh()

    def page(self) -> None:
        if self._pages is not None:
            with self._lock:
                self._pages.update(1)

    def account(self) -> None:
        if self._accounts is not None:
            with self._lock:
                self._accounts.update(1)

    def close(self) -> None:
        for bar in (self._pages, self._accounts):
            if bar is not None:
                bar.close()
