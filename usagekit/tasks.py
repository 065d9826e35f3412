"""The export task: one row of the task frame, and reading the service's listing replies into tasks.

The service keeps two kinds of usage-export tasks: ``summary`` (a PDF) and ``detail`` (an Excel workbook
of 5-minute points). :class:`ExportTask` is one of them, :func:`frame_of` / :func:`tasks_of` turn tasks into
the task frame of :mod:`usagekit.frames` and back, and :func:`parse_page` reads one listing reply,
whatever its quirks. The rest of the task story lives beside this module, one concept each:

- :mod:`usagekit.listing`: :func:`~usagekit.listing.list_tasks` and :func:`~usagekit.listing.iter_tasks`,
  the concurrent, complete listing of many accounts into one frame;
- :mod:`usagekit.memory`: the full presigned URLs, kept in memory only, beside the listing that returned
  them;
- :mod:`usagekit.pool`: one client and one rate limiter per account, shared by every thread;
- :mod:`usagekit.lifecycle`: :func:`~usagekit.lifecycle.create_export`, :func:`~usagekit.lifecycle.wait`,
  :func:`~usagekit.lifecycle.delete_export`.

>>> task = ExportTask("prod", "detail", "129456", task_name="uk:flow:all:0a1b2c3d march", status="success")
>>> task.type, task.domains
('flow', 'all')
>>> task
ExportTask(account='prod', kind='detail', task_id='129456', task_name='uk:flow:all:0a1b2c3d march', status='success', type='flow', domains='all')
"""

from __future__ import annotations

import functools
import json
import operator
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pandas as pd

from usagekit.errors import ArgumentError, ResponseError, TimeRangeWarning
from usagekit.frames import KINDS, TaskTag, exclusive_end, parse_task_tag, strip_query, task_frame_of_columns
from usagekit.paging import Page

__all__ = [
    "CREATE_ACTIONS",
    "DELETE_ACTIONS",
    "FINAL_STATUSES",
    "LIST_ACTIONS",
    "ExportTask",
    "ListedTask",
    "TimeRangeWarning",
    "frame_of",
    "parse_page",
    "tasks_of",
]

LIST_ACTIONS = {
    "summary": "DescribeUserUsageDataExportTask",
    "detail": "DescribeUserUsageDetailDataExportTask",
}
CREATE_ACTIONS = {"summary": "CreateUserUsageDataExportTask", "detail": "CreateUsageDetailDataExportTask"}
DELETE_ACTIONS = {"summary": "DeleteUserUsageDataExportTask", "detail": "DeleteUsageDetailDataExportTask"}
FINAL_STATUSES = frozenset({"success", "failed"})


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
        for name in ("account", "task_id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ArgumentError(f"ExportTask.{name} must be non-empty text, not {getattr(self, name)!r}")
        for name in ("created", "updated", "window_start", "window_end"):
            value = getattr(self, name)
            if (
                value is not None
                and value is not pd.NaT
                and (not isinstance(value, datetime) or value.tzinfo is None)
            ):
                raise ArgumentError(f"ExportTask.{name} must be an aware datetime or None, not {value!r}")
        if self.kind not in KINDS:
            raise ArgumentError(f"ExportTask.kind must be 'summary' or 'detail', not {self.kind!r}")
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
    def from_row(cls, row: Mapping[Any, Any] | pd.Series) -> ExportTask:
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
                raise ArgumentError(f"a task row needs {required!r}")
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
    if isinstance(tasks, str | bytes | Mapping) or not isinstance(tasks, Iterable):
        raise ArgumentError(
            f"tasks must be a task frame (list_tasks()), rows of one or ExportTask values, not {type(tasks).__name__}"
        )
    out = []
    for task in tasks:
        if not isinstance(task, ExportTask):
            raise ArgumentError(f"expected task-frame rows or ExportTask values, not {type(task).__name__}")
        out.append(task)
    return out


_FIELDS = tuple(f.name for f in fields(ExportTask))
_GETTERS = {name: operator.attrgetter(name) for name in _FIELDS}


def frame_of(tasks: Iterable[ExportTask]) -> pd.DataFrame:
    """The task frame of ``tasks`` (columns and dtypes as in :func:`usagekit.frames.task_frame`)."""
    tasks = tasks if isinstance(tasks, list) else list(tasks)
    # one C loop per column: no tuple per task, so no garbage collections started by thousands of them
    return task_frame_of_columns({name: list(map(get, tasks)) for name, get in _GETTERS.items()})


# --- reading the service's replies -------------------------------------------------------------------


class ListedTask(NamedTuple):
    """A task as one listing returned it, with the full URL that must stay in memory."""

    task: ExportTask
    url: str | None
    listed_at: datetime

    def __repr__(self) -> str:  # the full URL is a credential: shown without its query
        return f"ListedTask(task={self.task!r}, url={strip_query(self.url)!r}, listed_at={self.listed_at!r})"


def parse_page(
    reply: Mapping[str, Any], *, account: str, kind: str, asked: int = 50, action: str | None = None
) -> Page[ListedTask]:
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
    detail, plain_kind = kind == "detail", kind in KINDS
    for item in data:
        if type(item) is dict and plain_kind:
            plain = _plain(item, account, kind, detail, listed_at)
            if plain is not None:
                items.append(plain)
                continue
        if not isinstance(item, Mapping):
            raise refuse(f"a DataItem entry is {type(item).__name__}, not an object")
        try:
            items.append(_listed(item, account, kind, listed_at))
        except ValueError as error:
            raise refuse(str(error)) from None
    return Page(number, size, total, tuple(items))


def _plain(
    item: dict[str, Any], account: str, kind: str, detail: bool, listed_at: datetime
) -> ListedTask | None:
    """:func:`_listed` of a task in the shape the service sends, in one go; ``None`` for any other shape.

    Text fields as text, four ISO 8601 UTC times pandas can hold, ``TaskConfig`` an object: thousands of
    these per listing, so no helper calls per field. Anything else goes the general way (``_listed``),
    which gives the same task for these and handles every quirk.
    """
    task_id, name, status = item.get("TaskId"), item.get("TaskName"), item.get("Status")
    config, url = item.get("TaskConfig"), item.get("DownloadUrl")
    if (
        type(task_id) is not str
        or type(name) is not str
        or type(status) is not str
        or type(config) is not dict
    ):
        return None
    if url is not None and type(url) is not str:
        return None
    try:
        created = _fromisoformat(item.get("CreateTime"))  # type: ignore[arg-type]
        updated = _fromisoformat(item.get("UpdateTime"))  # type: ignore[arg-type]
        start = _fromisoformat(config.get("StartTime"))  # type: ignore[arg-type]  # None: the TypeError below
        end = _fromisoformat(config.get("EndTime"))  # type: ignore[arg-type]  # None: the TypeError below
    except (TypeError, ValueError):  # a time missing, blank or in another form
        return None
    if not (
        created.tzinfo is UTC
        and updated.tzinfo is UTC
        and start.tzinfo is UTC
        and end.tzinfo is UTC
        and _EARLIEST <= created < _LATEST
        and _EARLIEST <= updated < _LATEST
        and _EARLIEST <= start < _LATEST
        and _EARLIEST <= end < _LATEST
    ):
        return None
    task_id = task_id.strip()
    if not task_id:
        return None
    name = name if name.strip() else None
    url = url if url and url.strip() else None
    tag = _task_tag(name) if detail and name is not None else None
    task = object.__new__(ExportTask)
    task.__dict__.update(
        {
            "account": account,
            "kind": kind,
            "task_id": task_id,
            "task_name": name,
            "status": status if status.strip() else None,
            "created": created,
            "updated": updated,
            "window_start": start,
            "window_end": end + _SECOND if end.second == 59 else end,
            "type": tag.type if tag else None,
            "domains": tag.domains if tag else None,
            "download_url": strip_query(url) if url else None,
        }
    )
    return ListedTask(task, url, listed_at)


def _listed(item: Mapping[str, Any], account: str, kind: str, listed_at: datetime) -> ListedTask:
    task_id = task_identifier(item.get("TaskId"))
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
    tag = _task_tag(name) if kind == "detail" and name is not None else None
    task = _trusted_task(
        account,
        kind,
        task_id,
        name,
        _text(item.get("Status")),
        reply_instant(item.get("CreateTime"), task_id, "CreateTime"),
        reply_instant(item.get("UpdateTime"), task_id, "UpdateTime"),
        reply_instant(config.get("StartTime"), task_id, "StartTime"),
        reply_window_end(config.get("EndTime"), task_id),
        tag.type if tag else None,
        tag.domains if tag else None,
        strip_query(url),
    )
    return ListedTask(task, url, listed_at)


def _trusted_task(*values: Any) -> ExportTask:
    """An :class:`ExportTask` of values already checked (kind known, tag read, URL stripped), in field order.

    ``_listed`` makes thousands per listing: this skips the frozen dataclass's ``__init__`` and
    ``__post_init__``, whose checks ``_listed`` has already made.
    """
    task = object.__new__(ExportTask)
    task.__dict__.update(zip(_FIELDS, values, strict=True))
    return task


@functools.lru_cache(maxsize=16384)
def _task_tag(name: str) -> TaskTag | None:
    """:func:`~usagekit.frames.parse_task_tag`, cached: the same names come back on every listing."""
    return parse_task_tag(name)


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


def task_identifier(value: Any) -> str | None:
    """A reply's ``TaskId`` as text (a whole float without its ``.0``); ``None`` when it is not one."""
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


def reply_instant(value: Any, task_id: str, name: str) -> datetime | None:
    """A reply's time field ``name`` as an aware UTC datetime: ``None`` when empty or (warning) out of
    pandas' range; text that is no time raises ``ValueError``."""
    if type(value) is str:  # the common case, ISO 8601 UTC text pandas can hold, without the general path
        try:
            moment = _fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is UTC and _EARLIEST <= moment < _LATEST:
            return moment
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    return _held(_parse_instant(text, task_id, name), task_id, name, text)


def _parse_instant(text: str, task_id: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = pd.Timestamp(text).to_pydatetime()
        except (ValueError, TypeError):
            raise ValueError(f"task {task_id}: {name} {text!r} is not an ISO 8601 time") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00: a valid time before datetime's first
        return datetime.min.replace(tzinfo=UTC)


_fromisoformat = datetime.fromisoformat
_SECOND = timedelta(seconds=1)

#: the times a pandas datetime64[ns] column holds (a day inside each bound, for offsets and exclusive ends)
_EARLIEST = datetime(1677, 9, 23, tzinfo=UTC)
_LATEST = datetime(2262, 4, 10, tzinfo=UTC)


def _held(moment: datetime, task_id: str, name: str, text: str) -> datetime | None:
    """``moment``, or ``None`` (NaT in the frame) with a warning when pandas cannot hold it."""
    if _EARLIEST <= moment < _LATEST:
        return moment
    warnings.warn(
        f"task {task_id}: {name} {text!r} is a valid time outside the years pandas holds (1677-2262); "
        "it is NaT in the task frame",
        TimeRangeWarning,
        stacklevel=2,
    )
    return None


@functools.lru_cache(maxsize=4096)
def _exclusive_text(text: str) -> datetime:
    """``exclusive_end`` of a window end, cached: windows of whole days repeat across tasks."""
    end = exclusive_end(text)
    assert end is not None
    return end.to_pydatetime()


def reply_window_end(value: Any, task_id: str) -> datetime | None:
    """A reply's ``EndTime`` as the window's exclusive end (see ``frames.exclusive_end``), or ``None``."""
    if type(value) is str:  # the common case, as in reply_instant; exclusive as in frames.exclusive_end
        try:
            moment = _fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is UTC and _EARLIEST <= moment < _LATEST:
            return moment + _SECOND if moment.second == 59 else moment
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    # raises a clear ValueError for a malformed end; a valid one pandas cannot hold becomes None
    if _held(_parse_instant(text, task_id, "EndTime"), task_id, "EndTime", text) is None:
        return None
    return _exclusive_text(text)
