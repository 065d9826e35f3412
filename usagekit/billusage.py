"""The usage of one Beijing month, as a bill check reads it: the month's successful detail exports.

:func:`month_usage` lists each account's successful detail exports that carry traffic and the
account's total (``flow`` or not known, by account: an export of some domains lacks the rest of the
account, so it cannot confirm a bill) and overlap the month, and reads them (cached, reconciled) with
:func:`usagekit.usage`. With ``create=True`` it first creates, as a user would, one export by account
for each part of the month no such export covers (up to the last whole Beijing day before ``now``) and
waits for it. What is still uncovered is in ``frame.attrs["uncovered"]``.

>>> gaps([("2026-10-01T00:00Z", "2026-10-05T00:00Z"), ("2026-10-04T00:00Z", "2026-10-07T00:00Z")],
...      pd.Timestamp("2026-09-30T16:00Z"), pd.Timestamp("2026-10-10T00:00Z"))
[('2026-09-30T16:00:00Z', '2026-10-01T00:00:00Z'), ('2026-10-07T00:00:00Z', '2026-10-10T00:00:00Z')]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.times import api_time, month_bounds

__all__ = ["gaps", "month_usage", "month_window"]

_BEIJING = pd.Timedelta(hours=8)


def gaps(windows: Iterable[tuple[Any, Any]], start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[str, str]]:
    """The parts of ``[start, end)`` no window covers, as ``(start, end)`` in the service's format."""
    spans = sorted((pd.Timestamp(a).tz_convert("UTC"), pd.Timestamp(b).tz_convert("UTC")) for a, b in windows)
    found, cursor = [], start
    for lower, upper in spans:
        if upper <= cursor:
            continue
        if lower > cursor:
            found.append((cursor, min(lower, end)))
        cursor = max(cursor, upper)
        if cursor >= end:
            break
    if cursor < end:
        found.append((cursor, end))
    return [(api_time(a), api_time(b)) for a, b in found if a < b]


def month_window(month: str, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The part of ``month`` an export can hold by ``now``: up to the month's end or today's Beijing midnight."""
    lower, upper = month_bounds(month)
    today = (now.tz_convert("UTC") + _BEIJING).floor("D") - _BEIJING
    return lower, max(lower, min(upper, today))


def _usable(tasks: pd.DataFrame) -> pd.DataFrame:
    if tasks.empty:
        return tasks
    keep = (tasks["type"].astype(object) != "vas") & (tasks["domains"].astype(object) != "some")
    keep &= tasks["window_start"].notna() & tasks["window_end"].notna()
    return tasks[keep.fillna(True).to_numpy(dtype=bool)]


def _day_gaps(
    frame: pd.DataFrame, accounts: Sequence[Account], first: pd.Timestamp, last: pd.Timestamp
) -> dict[str, list[tuple[str, str]]]:
    """Per account, the Beijing days of ``[first, last)`` lacking bandwidth points, joined into spans.

    Only points that carry the account's total count (a row without a domain: an export by account, or the
    rest of the account beside listed domains); a day that only exports of some domains hold is lacking, as
    :func:`usagekit.billcover.account_points` judges it for the check.
    """
    days = pd.date_range(first, last, freq="D", inclusive="left")
    rows = frame[(frame["metric"] == "bandwidth") & frame["domain"].isna()] if len(frame) else frame
    found: dict[str, list[tuple[str, str]]] = {}
    for account in accounts:
        mine = rows[rows["account"].astype(str) == account.name] if len(rows) else rows
        starts = pd.DatetimeIndex(mine["start"].unique()) if len(mine) else pd.DatetimeIndex([], tz="UTC")
        counts = pd.Series(1, index=starts).groupby((starts + _BEIJING).floor("D") - _BEIJING).sum()
        whole = {day for day, n in counts.items() if n >= 288}
        found[account.name] = _joined([(day, day + pd.Timedelta(days=1)) for day in days if day not in whole])
    return found


def _joined(spans: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[tuple[str, str]]:
    joined: list[list[pd.Timestamp]] = []
    for a, b in spans:
        if joined and joined[-1][1] == a:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    return [(api_time(a), api_time(b)) for a, b in joined]


def _read(
    tasks: pd.DataFrame,
    accounts: Sequence[Account],
    lower: pd.Timestamp,
    upper: pd.Timestamp,
    progress: bool | None,
) -> pd.DataFrame:
    from usagekit.frames import tidy_frame
    from usagekit.tidy import usage

    if not len(tasks):
        return tidy_frame({})
    frame = usage(tasks, accounts=list(accounts), progress=progress)
    return frame[(frame["start"] >= lower) & (frame["start"] < upper)].reset_index(drop=True)


def month_usage(
    accounts: Sequence[Account],
    month: str,
    *,
    now: datetime | pd.Timestamp | None = None,
    create: bool = False,
    progress: bool | None = False,
) -> pd.DataFrame:
    """The tidy usage of ``accounts`` in Beijing ``month``, from their successful detail exports.

    The exports read are those that may hold the account's traffic total (``flow`` or a type the
    listing cannot tell, not of some domains only). ``create`` then creates and waits for exports by
    account of the Beijing days still lacking points (up to the last whole day before ``now``) and
    reads them too. Returns :func:`usagekit.usage`'s frame cut to the month; ``attrs["uncovered"]``
    lists ``{"account", "start", "end"}`` of the days no export covers.
    """
    from usagekit.billhistory import service_now
    from usagekit.lifecycle import create_export, wait
    from usagekit.listing import list_tasks

    lower, upper = month_bounds(month)
    tasks = _usable(list_tasks(list(accounts), kind="detail", status="success", progress=False))
    first, last = month_window(month, service_now(accounts, now))  # None: the service's time, by its reply
    if len(tasks):
        tasks = tasks[(tasks["window_start"] < upper) & (tasks["window_end"] > lower)]
    frame = _read(tasks, accounts, lower, upper, progress)
    missing = _day_gaps(frame, accounts, first, last)
    rounds = 3 if create else 0  # an export may fail: the days it should have held are asked again
    for _ in range(rounds):
        if not any(missing.values()):
            break
        created = [
            create_export(account, "detail", a, b, type="flow")
            for account in accounts
            for a, b in missing[account.name]
        ]
        done = wait(created, accounts=list(accounts), progress=progress)
        tasks = pd.concat([tasks, done[done["status"] == "success"]], ignore_index=True)
        frame = _read(tasks, accounts, lower, upper, progress)
        missing = _day_gaps(frame, accounts, first, last)
    frame.attrs["uncovered"] = [
        {"account": name, "start": a, "end": b} for name, spans in missing.items() for a, b in spans
    ]
    return frame
