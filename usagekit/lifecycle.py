"""The export lifecycle: create an export, wait for it, delete it.

:func:`create_export` checks the service's rules first and never creates an export twice after a lost
reply; :func:`wait` polls listings until tasks are final; :func:`delete_export` removes one. All three
use the account's shared client and rate limiter (:mod:`usagekit.pool`).

>>> import usagekit
>>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", accounts=1, tasks=1) as sandbox:
...     task = create_export(sandbox.accounts[0], "detail", "2026-11-18T16:00:00Z", "2026-11-19T16:00:00Z")
...     final = wait(task, sleep=sandbox.advance, progress=False)
...     delete_export(sandbox.accounts[0], "detail", task.task_id)
>>> final["task_id"].tolist() == [task.task_id]
True
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.errors import (
    ArgumentError,
    MayHaveRunError,
    ResponseError,
    TaskStateError,
    WaitTimeoutError,
)
from usagekit.frames import DETAIL_TYPES, TaskTag, format_task_tag, parse_task_tag, task_frame
from usagekit.listing import list_one, one_kind, run_listings
from usagekit.memory import resolve_account
from usagekit.paging import PagingPolicy
from usagekit.pool import ClientFactory, lease
from usagekit.progress import ListingBars, WaitBar, progress_enabled
from usagekit.resolve import one_account, resolve_accounts
from usagekit.session import Session, chosen_session
from usagekit.tasks import (
    CREATE_ACTIONS,
    DELETE_ACTIONS,
    FINAL_STATUSES,
    ExportTask,
    frame_of,
    reply_instant,
    reply_window_end,
    task_identifier,
    tasks_of,
)
from usagekit.times import api_time, current, moment

__all__ = ["create_export", "delete_export", "wait"]

_MAX_WINDOW = timedelta(days=31)
_MAX_POLL = 30.0


def create_export(
    account: Account | str,
    kind: str,
    start: datetime | pd.Timestamp | str,
    end: datetime | pd.Timestamp | str,
    *,
    domains: str | Sequence[str] | None = None,
    type: str = "flow",
    language: str = "en-us",
    name: str | None = None,
    client_factory: ClientFactory | None = None,
    now: datetime | pd.Timestamp | str | None = None,
    session: Session | None = None,
) -> ExportTask:
    """Create an export of ``[start, end)`` (end EXCLUSIVE) and return it, status ``created``.

    ``EndTime`` is sent as ``end`` minus one second, the console's own convention, so a day's export
    never holds the next day's first point. Times are aware datetimes, naive ones (UTC) or ISO text, on
    whole minutes. The service's rules are checked first and refused with
    :class:`~usagekit.errors.ArgumentError` (a ``ValueError``; never an ``ApiError``: the service refused nothing):
    ``start < end``, at most 31 days, data from the last year only (before ``now``, default this machine's
    clock; left to a sandbox, which keeps its own time), ``type`` ``flow`` or ``vas``, ``language`` ``en-us`` or
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
    account = one_account(account)
    kind = one_kind(kind)
    if name is not None and not isinstance(name, str):
        raise ArgumentError(f"name must be text or None, not {name.__class__.__name__}")
    action = CREATE_ACTIONS[kind]
    lower, upper = moment(start, "start"), moment(end, "end")
    _check_client_factory(client_factory)
    state = chosen_session(session)
    today = current(now)
    _check_request(account, action, lower, upper, kind, type, language, domains, today)
    params, token, task_name = _create_params(kind, lower, upper, type, language, domains, name)
    state.urls.use_account(account)  # so that wait(create_export(...)) finds the very same account
    with lease(account, client_factory, session=state) as client:
        known = state.urls.ids(account.name, kind)
        if token is None and known is None:
            # A summary export has no tag: after a timeout it is told from older exports of the same
            # window only by what was listed before the create, so list first when nothing was.
            known = frozenset(
                task.task_id
                for task in list_one(account, kind, client, PagingPolicy(), ListingBars(False, 0), state)
            )
        try:
            reply = client.call(action, **params)
        except MayHaveRunError as unknown:
            found = _find_created(account, kind, client, token, task_name, lower, upper, known, state)
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


def _create_params(
    kind: str,
    lower: pd.Timestamp,
    upper: pd.Timestamp,
    type: str,
    language: str,
    domains: str | Sequence[str] | None,
    name: str | None,
) -> tuple[dict[str, object], str | None, str | None]:
    """The create call's parameters, the detail export's token (``None`` for a summary) and the task name.

    A detail export's name is its tag, ``uk:<type>:<all|some>:<token>`` with ``name`` after it.
    """
    params: dict[str, object] = {
        "StartTime": api_time(lower),
        "EndTime": api_time(upper - pd.Timedelta(seconds=1)),
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
    return params, token, task_name


def _check_request(
    account: Account,
    action: str,
    lower: pd.Timestamp,
    upper: pd.Timestamp,
    kind: str,
    type: str,
    language: str,
    domains: object,
    today: pd.Timestamp,
) -> None:
    def refuse(message: str) -> ArgumentError:
        return ArgumentError(message, action=action, account=account.name)

    if not lower < upper:
        raise refuse(f"start ({lower.isoformat()}) must come before end ({upper.isoformat()})")
    if lower != lower.floor("min") or upper != upper.floor("min"):
        raise refuse("start and end must fall on whole minutes (the data has 5-minute points)")
    if upper - lower > _MAX_WINDOW:
        raise refuse(
            f"an export covers at most 31 days, not {(upper - lower) / pd.Timedelta(days=1):g}: split the period"
        )
    # The one-year rule is the service's, against its clock; a sandbox keeps its own time and checks it.
    oldest = today - pd.DateOffset(years=1)
    if account.source != "sandbox" and lower < oldest:
        raise refuse(f"the service exports data from the last year only: start is before {oldest:%Y-%m-%d}")
    if language not in ("en-us", "zh-cn"):
        raise refuse(f"language must be 'en-us' or 'zh-cn', not {language!r}")
    if kind == "detail" and type not in DETAIL_TYPES:
        raise refuse(f"type must be 'flow' (traffic and bandwidth) or 'vas' (requests), not {type!r}")
    if kind == "summary" and domains is not None:
        raise refuse("a summary export covers the whole account: domains are for detail exports")


def _check_client_factory(client_factory: object) -> None:
    if client_factory is not None and not callable(client_factory):
        raise ArgumentError(
            f"client_factory must be a callable Account -> CdnClient, not {type(client_factory).__name__}"
        )


def _domain_list(domains: str | Sequence[str] | None) -> list[str] | None:
    if domains is None:
        return None
    forms = "one domain as a string, a non-empty sequence of them, or None (all domains)"
    if isinstance(domains, str):
        items: list[object] = [domains]
    elif isinstance(domains, Sequence | set | frozenset):
        items = list(domains)
    else:
        raise ArgumentError(f"domains must be {forms}, not {type(domains).__name__}")
    if not items or not all(isinstance(item, str) and item.strip() for item in items):
        raise ArgumentError(f"domains must be {forms}, not {domains!r:.60}")
    cleaned = [str(item).strip() for item in items]
    bad = [item for item in cleaned if "," in item or any(c.isspace() for c in item)]
    if bad:
        raise ArgumentError(
            f"domains: {bad[0]!r} is not one domain name; give a list of names, not joined text"
        )
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
    session: Session,
) -> list[ExportTask]:
    """The tasks a create that may have run could have made: by token (detail) or window and name."""
    listed = list_one(account, kind, client, PagingPolicy(), ListingBars(False, 0), session)
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
    task_id = task_identifier(reply.get("TaskId")) if isinstance(reply, Mapping) else None
    if task_id is None:
        raise ResponseError(
            f"{action} for account {account.name!r} answered without a TaskId; list the tasks to find it",
            action=action,
            account=account.name,
        )
    try:
        start = reply_instant(reply.get("StartTime"), task_id, "StartTime") or lower.to_pydatetime()
        end = reply_window_end(reply.get("EndTime"), task_id) or upper.to_pydatetime()
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
    account: Account | str,
    kind: str,
    task_id: str,
    *,
    client_factory: ClientFactory | None = None,
    session: Session | None = None,
) -> None:
    """Delete export ``task_id`` of ``account``; its remembered URL is forgotten.

    When the call may have run (``MayHaveRunError``), the tasks are listed and the call repeated
    only if the task is still there.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=3) as sandbox:
    ...     account = sandbox.accounts[0]
    ...     task_id = usagekit.list_tasks(account, "summary", progress=False)["task_id"].iloc[0]
    ...     delete_export(account, "summary", task_id)
    ...     task_id in set(usagekit.list_tasks(account, "summary", progress=False)["task_id"])
    False
    """
    account = one_account(account)
    kind = one_kind(kind)
    if not isinstance(task_id, str | int) or isinstance(task_id, bool) or not str(task_id).strip():
        raise ArgumentError(f"task_id must be a task's id (text), not {task_id!r}")
    task_id = str(task_id)
    action = DELETE_ACTIONS[kind]
    _check_client_factory(client_factory)
    state = chosen_session(session)
    with lease(account, client_factory, session=state) as client:
        try:
            client.call(action, TaskId=task_id)
        except MayHaveRunError:
            listed = list_one(account, kind, client, PagingPolicy(), ListingBars(False, 0), state)
            if any(task.task_id == task_id for task in listed):
                client.call(action, TaskId=task_id)
    state.urls.forget(account.name, kind, task_id)


def _check_wait_options(
    timeout: float,
    poll: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    progress: bool | None,
) -> None:
    """Refuse a bad option of :func:`wait` before any request."""
    for label, value in (("timeout", timeout), ("poll", poll)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ArgumentError(f"{label} must be a number of seconds, not {value!r}")
    if timeout < 0 or poll <= 0:
        raise ArgumentError("wait needs timeout >= 0 and poll > 0")
    for label, function in (("sleep", sleep), ("clock", clock)):
        if not callable(function):
            raise ArgumentError(f"{label} must be callable, not {type(function).__name__}")
    if progress is not None and not isinstance(progress, bool):
        raise ArgumentError(f"progress must be True, False or None, not {progress!r}")


def wait(
    tasks: pd.DataFrame | ExportTask | Iterable[ExportTask],
    *,
    accounts: Account | str | Sequence[Account | str] | None = None,
    timeout: float = 600,
    poll: float = 2.0,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    client_factory: ClientFactory | None = None,
    session: Session | None = None,
) -> pd.DataFrame:
    """Wait until every task in ``tasks`` is ``success`` or ``failed``; return their updated rows.

    ``tasks`` is task-frame rows, an :class:`ExportTask` or a list of them. The accounts and kinds
    involved are listed every ``poll`` seconds, the pause growing by half each time up to 30 s. The
    accounts are the ones the latest listing used (see :func:`resolve_account`; ``accounts=`` to pass
    them). Raises ``WaitTimeoutError`` (a ``TimeoutError``) naming the tasks still running after
    ``timeout`` seconds, ``TaskStateError`` when a task is no longer listed. ``sleep`` and ``clock``
    are injectable. ``session`` (``None``: the default :class:`~usagekit.session.Session`) holds the
    clients, rate limiters and the memory of which account listed or created a task.

    Columns: those of the task frame (see :func:`list_tasks`), one row per task, in the order given.

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", accounts=1, tasks=3) as sandbox:
    ...     task = create_export(sandbox.accounts[0], "summary", "2026-11-18T16:00:00Z", "2026-11-19T16:00:00Z")
    ...     done = wait(task, sleep=sandbox.advance, progress=False)  # the frozen sandbox clock moves
    >>> done["task_id"].tolist() == [task.task_id], done["status"].iloc[0] in ("success", "failed")
    (True, True)
    """
    _check_wait_options(timeout, poll, sleep, clock, progress)
    _check_client_factory(client_factory)
    state = chosen_session(session)
    accounts = None if accounts is None else resolve_accounts(accounts)
    targets = list(dict.fromkeys(task.key for task in tasks_of(tasks)))
    if not targets:
        return task_frame([])
    resolved = {
        name: resolve_account(name, accounts, session=state) for name in dict.fromkeys(k[0] for k in targets)
    }
    jobs = [(resolved[name], kind) for name, kind in dict.fromkeys((k[0], k[1]) for k in targets)]
    bar = WaitBar(progress_enabled(progress), len(targets))
    started = clock()
    delay = poll
    try:
        while True:
            results, _, service_time = run_listings(
                jobs, "raise", False, None, client_factory, len(resolved), state
            )
            listed = {task.key: task for found in results.values() for task in found}
            missing = [key for key in targets if key not in listed]
            if missing:
                names = ", ".join(f"{k[2]} ({k[1]}, {k[0]})" for k in missing)
                raise TaskStateError(
                    f"no longer listed: {names}; deleted, or older than the three months the service keeps"
                )
            running = [key for key in targets if listed[key].status not in FINAL_STATUSES]
            bar.show(len(targets) - len(running))
            if not running:
                frame = frame_of(listed[key] for key in targets)
                frame.attrs["listed_at"] = pd.Timestamp(service_time or current()).isoformat()
                return frame
            elapsed = clock() - started
            if elapsed >= timeout:
                names = ", ".join(f"{k[2]} ({k[1]}, {k[0]}: {listed[k].status})" for k in running)
                raise WaitTimeoutError(
                    f"still running after {timeout:g} s: {names}; wait again later",
                    task_ids=tuple(k[2] for k in running),
                )
            sleep(min(delay, timeout - elapsed))
            delay = min(delay * 1.5, _MAX_POLL)
    finally:
        bar.close()
