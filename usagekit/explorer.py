"""The task explorer's logic, apart from any widget: labels, listing, choosing, fetching, one-line errors.

:mod:`usagekit.widgets` draws these; everything a widget shows is computed here, by plain functions that
tests call directly. Nothing here imports ipywidgets or matplotlib.

>>> from usagekit.accounts import Account
>>> account_label(Account("prod", "LTAIexample-0000KlMn", "not-shown", source="aliyun CLI config"))
'prod · aliyun CLI config · LTAI…KlMn'
>>> one_line(ValueError("first line\\nsecond line"), limit=20)
'first line second l…'
"""

from __future__ import annotations

import html
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from usagekit.accounts import Account, shorten_key_id
from usagekit.errors import ArgumentError
from usagekit.frames import BEIJING, METRICS
from usagekit.redact import strip_queries

__all__ = [
    "KIND_CHOICES",
    "STATUS_CHOICES",
    "Fetched",
    "Loaded",
    "account_label",
    "export_choices",
    "failure_lines",
    "fetch_usage",
    "load_tasks",
    "metric_to_show",
    "one_line",
    "plot_freq",
    "task_table_html",
    "tasks_summary",
    "usage_summary",
    "window_text",
]

KIND_CHOICES = ("all", "summary", "detail")
STATUS_CHOICES = ("created", "success", "failed")
#: the longest error line a widget shows (the full error stays on the explorer)
LINE_LIMIT = 200
#: the task table's columns, in order (``download_url`` is left out: it says nothing a user acts on)
TABLE_COLUMNS = ("account", "kind", "task_id", "task_name", "status", "window", "type", "created")


def account_label(account: Account) -> str:
    """How an account is named in a picker: name, where the profile came from, the shortened key id.

    Never the secret or the STS token (an STS account says so, without the token).

    >>> account_label(Account("ops", "LTAIexample-0000KlMn", "x", security_token="t", source="environment"))
    'ops · environment · LTAI…KlMn · STS'
    """
    parts = [account.name, account.source, shorten_key_id(account.access_key_id)]
    if account.uses_sts:
        parts.append("STS")
    return " · ".join(parts)


def one_line(error: BaseException | str, *, limit: int = LINE_LIMIT) -> str:
    """An error as one short line: whitespace collapsed, URL queries removed, cut at ``limit``.

    >>> one_line("GET http://h/f.xlsx?Signature=abc failed")
    'GET http://h/f.xlsx failed'
    """
    text = " ".join(strip_queries(str(error)).split())
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_lines(records: Iterable[dict[str, str]]) -> list[str]:
    """One line per failed account from ``list_tasks(errors="collect")``'s ``attrs["errors"]`` records.

    An account whose listings failed alike (both kinds, same code) gets one line, not one per kind.

    >>> failure_lines([
    ...     {"account": "old", "kind": "summary", "code": "Forbidden", "message": "Forbidden: no."},
    ...     {"account": "old", "kind": "detail", "code": "Forbidden", "message": "Forbidden: no!"}])
    ['old: Forbidden: no.']
    """
    by_account: dict[str, list[dict[str, str]]] = {}
    for record in records:
        by_account.setdefault(record["account"], []).append(record)
    lines = []
    for account, failed in by_account.items():
        codes = list(dict.fromkeys(r["code"] for r in failed))
        if len(codes) == 1:
            lines.append(one_line(f"{account}: {_said(failed[0])}"))
        else:
            detail = "; ".join(f"{r['kind']}: {_said(r)}" for r in failed)
            lines.append(one_line(f"{account}: {detail}"))
    return lines


def _said(record: dict[str, str]) -> str:
    """A failure record's code and what the service said, without the parts the line already names.

    An API error reads ``CODE (HTTP 404) from ACTION for account 'x': text [request id …]``; the line
    keeps ``CODE: text [request id …]``.

    >>> _said({"account": "x", "code": "Forbidden", "message": "Forbidden (HTTP 403) from A for account 'x': no"})
    'Forbidden: no'
    """
    message, code = record["message"], record["code"]
    marker = f" for account {record['account']!r}: "
    if message.startswith(code) and marker in message:
        return f"{code}: {message.split(marker, 1)[1]}"
    return message


@dataclass
class Loaded:
    """What :func:`load_tasks` found: the task frame of the accounts that answered, and one line per failure."""

    tasks: pd.DataFrame
    errors: list[str] = field(default_factory=list)


def load_tasks(
    accounts: Sequence[Account],
    kind: str = "all",
    statuses: Sequence[str] | None = None,
    *,
    list_tasks: Callable[..., pd.DataFrame] | None = None,
) -> Loaded:
    """List the export tasks of ``accounts``; an account that fails is a line in ``errors``, not an exception.

    ``kind`` is ``all``, ``summary`` or ``detail``; ``statuses`` keeps those statuses (``None`` or empty:
    all). ``list_tasks`` defaults to :func:`usagekit.listing.list_tasks` (tests may pass another). The
    listing's own warning about failed accounts is not repeated: the failures are in ``errors``.

    >>> load_tasks([]).tasks.empty
    True
    """
    if list_tasks is None:
        from usagekit.listing import list_tasks as listing_list_tasks

        list_tasks = listing_list_tasks
    if kind not in KIND_CHOICES:
        raise ArgumentError(f"kind must be one of {KIND_CHOICES}, not {kind!r}")
    if not accounts:
        from usagekit.frames import task_frame

        return Loaded(task_frame([]))
    status = list(statuses) if statuses else None
    with _quiet():
        frame = list_tasks(list(accounts), kind, status, errors="collect", progress=False)
    return Loaded(frame, failure_lines(frame.attrs.get("errors", [])))


def tasks_summary(tasks: pd.DataFrame, accounts: int) -> str:
    """One line saying what the task frame holds, per status.

    >>> from usagekit.frames import task_frame
    >>> tasks_summary(task_frame([{"account": "a", "kind": "detail", "task_id": "1", "status": "success"},
    ...                           {"account": "a", "kind": "summary", "task_id": "2", "status": "failed"}]), 2)
    '2 tasks of 1 of 2 accounts: 1 success, 1 failed'
    >>> tasks_summary(task_frame([{"account": "a", "kind": "detail", "task_id": "1", "status": "success"}]), 1)
    '1 task of 1 account: 1 success'
    """
    counts = tasks["status"].value_counts(sort=False)
    parts = [f"{int(counts[s])} {s}" for s in counts.index if counts[s]]
    listed = tasks["account"].nunique()
    whose = f"{accounts} account{'s' if accounts != 1 else ''}"
    if listed != accounts:  # some failed, or had no tasks
        whose = f"{listed} of {whose}"
    text = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} of {whose}"
    return text + (": " + ", ".join(parts) if parts else "")


def window_text(start: Any, end: Any) -> str:
    """An export window in Beijing time, the way the service counts days: whole days as dates.

    >>> window_text(pd.Timestamp("2026-10-05T16:00Z"), pd.Timestamp("2026-10-07T16:00Z"))
    '2026-10-06 – 2026-10-07'
    >>> window_text(pd.Timestamp("2026-10-05T16:00Z"), pd.Timestamp("2026-10-06T16:00Z"))
    '2026-10-06'
    >>> window_text(pd.Timestamp("2026-10-05T18:00Z"), pd.Timestamp("2026-10-05T20:00Z"))
    '2026-10-06 02:00 – 04:00'
    >>> window_text(pd.NaT, pd.NaT)
    ''
    """
    if pd.isna(start) or pd.isna(end):
        return ""
    first, after = pd.Timestamp(start).tz_convert(BEIJING), pd.Timestamp(end).tz_convert(BEIJING)
    if first == first.normalize() and after == after.normalize():
        last = (after - pd.Timedelta(days=1)).date()
        return str(first.date()) if last == first.date() else f"{first.date()} – {last}"
    end_text = f"{after:%H:%M}" if after.date() == first.date() else f"{after:%Y-%m-%d %H:%M}"
    return f"{first:%Y-%m-%d %H:%M} – {end_text}"


def task_table_html(tasks: pd.DataFrame, *, max_rows: int = 500) -> str:
    """The task frame as a plain HTML table (no ids, no URLs), windows in Beijing days, newest first.

    >>> from usagekit.frames import task_frame
    >>> "<td>26146741</td>" in task_table_html(task_frame([{"account": "a", "kind": "detail",
    ...     "task_id": "26146741", "status": "success"}]))
    True
    """
    if tasks.empty:
        return "<p>No export tasks.</p>"
    shown = tasks.head(max_rows)
    windows = [window_text(s, e) for s, e in zip(shown["window_start"], shown["window_end"], strict=True)]
    table = pd.DataFrame(
        {
            "account": shown["account"].astype("string"),
            "kind": shown["kind"].astype("string"),
            "task_id": shown["task_id"],
            "task_name": shown["task_name"],
            "status": shown["status"].astype("string"),
            "window": windows,
            "type": shown["type"].astype("string"),
            "created": shown["created"].dt.strftime("%Y-%m-%d %H:%M UTC"),
        },
        columns=list(TABLE_COLUMNS),
    ).astype(object)
    table = table.where(table.notna(), "")
    body = table.to_html(index=False, border=0, escape=True, justify="left", classes="usagekit-tasks")
    more = len(tasks) - len(shown)
    note = f"<p>… and {more} more (all in <code>.tasks</code>)</p>" if more > 0 else ""
    return body + note


def export_choices(tasks: pd.DataFrame) -> list[tuple[str, tuple[str, str]]]:
    """The successful detail exports of ``tasks`` as ``(label, (account, task_id))`` choices, newest first.

    >>> from usagekit.frames import task_frame
    >>> export_choices(task_frame([{"account": "a", "kind": "detail", "task_id": "7", "status": "success",
    ...     "type": "flow", "window_start": "2026-10-05T16:00Z", "window_end": "2026-10-06T16:00Z"}]))
    [('a · 7 · flow · 2026-10-06', ('a', '7'))]
    """
    done = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")]
    done = done.sort_values("created", ascending=False, kind="stable", na_position="last")
    choices = []
    row: Any  # a named tuple of the frame's columns
    for row in done.itertuples(index=False):
        parts = [str(row.account), str(row.task_id)]
        if not pd.isna(row.type):
            parts.append(str(row.type))
        window = window_text(row.window_start, row.window_end)
        if window:
            parts.append(window)
        choices.append((" · ".join(parts), (str(row.account), str(row.task_id))))
    return choices


def chosen_rows(tasks: pd.DataFrame, chosen: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """The detail-export rows of ``tasks`` whose ``(account, task_id)`` is in ``chosen``, in frame order.

    >>> from usagekit.frames import task_frame
    >>> tasks = task_frame([{"account": "a", "kind": k, "task_id": i} for k, i in
    ...     [("detail", "1"), ("summary", "2"), ("detail", "3")]])
    >>> chosen_rows(tasks, [("a", "3"), ("a", "2"), ("b", "1")]).task_id.tolist()
    ['3']
    """
    wanted = set(chosen)
    keys = zip(tasks["account"].astype("string"), tasks["task_id"], strict=True)
    mask = pd.Series([(str(a), str(t)) in wanted for a, t in keys], index=tasks.index, dtype=bool)
    return tasks[mask & (tasks["kind"] == "detail")]


@dataclass
class Fetched:
    """What :func:`fetch_usage` read: the tidy usage frame and notes (overlaps counted once) as lines."""

    usage: pd.DataFrame
    notes: list[str] = field(default_factory=list)


class _CountingExecutor(ThreadPoolExecutor):
    """A thread pool that reports each finished job, for a progress bar of files."""

    def __init__(self, on_done: Callable[[], None] | None, max_workers: int = 4) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="usagekit-explore")
        self._on_done = on_done

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        if self._on_done is not None:
            callback = self._on_done
            future.add_done_callback(lambda _f: callback())
        return future


def fetch_usage(
    rows: pd.DataFrame,
    *,
    accounts: Sequence[Account] | None = None,
    on_file: Callable[[], None] | None = None,
    usage: Callable[..., pd.DataFrame] | None = None,
) -> Fetched:
    """Fetch and read the detail exports of ``rows`` (task-frame rows) into one tidy usage frame.

    ``on_file`` is called as each file is done (fetched and read). Overlaps the reconciliation
    counted once are returned as notes, one line each, instead of a warning. Errors (a download that
    failed, a task gone) are raised: the caller shows them as one line. ``usage`` defaults to
    :func:`usagekit.tidy.usage`.
    """
    if usage is None:
        from usagekit.tidy import usage as tidy_usage

        usage = tidy_usage
    pool = _CountingExecutor(on_file)
    try:
        with _quiet():
            frame = usage(rows, accounts=accounts, executor=pool, progress=False)
    finally:
        pool.shutdown(wait=True)
    overlaps = frame.attrs.get("overlaps", [])
    notes = [f"{len(overlaps)} overlap(s) between exports counted once (see .usage.attrs['overlaps'])"]
    return Fetched(frame, notes if overlaps else [])


def metric_to_show(usage: pd.DataFrame, wanted: str) -> str:
    """``wanted`` when ``usage`` has rows of it, else the first metric it has (a ``vas`` export holds only
    requests, a ``flow`` export only traffic and bandwidth), so a plot is never empty for want of a click.

    >>> from usagekit.frames import tidy_frame
    >>> vas = tidy_frame({"metric": ["requests"], "start": ["2026-10-05T16:00Z"], "value": [1.0]})
    >>> metric_to_show(vas, "traffic"), metric_to_show(vas.iloc[:0], "traffic")
    ('requests', 'traffic')
    """
    present = set(usage["metric"].dropna().astype(str))
    if wanted in present or not present:
        return wanted
    return next(metric for metric in METRICS if metric in present)


def plot_freq(usage: pd.DataFrame) -> str | None:
    """The resample a usage plot of ``usage`` reads best at: 5-minute points up to two days, hours up to
    three weeks, days beyond (traffic and requests summed, bandwidth at its peak: see ``plot_usage``).

    >>> from usagekit.frames import tidy_frame
    >>> def span(days):
    ...     return tidy_frame({"metric": ["traffic"] * 2, "value": [1.0] * 2,
    ...         "start": ["2026-10-01T00:00Z", f"{pd.Timestamp('2026-10-01') + pd.Timedelta(days=days):%Y-%m-%d}T00:00Z"]})
    >>> plot_freq(span(1)), plot_freq(span(7)), plot_freq(span(30)), plot_freq(span(0).iloc[:0])
    (None, '1h', '1D', None)
    """
    if usage.empty:
        return None
    days = (usage["start"].max() - usage["start"].min()) / pd.Timedelta(days=1)
    if days <= 2:
        return None
    return "1h" if days <= 21 else "1D"


def usage_summary(usage: pd.DataFrame) -> str:
    """One line about a tidy usage frame: exports, accounts, rows and the period, in Beijing days.

    >>> from usagekit.frames import tidy_frame
    >>> usage_summary(tidy_frame({"account": ["a"], "task_id": ["7"], "metric": ["traffic"],
    ...     "start": ["2026-10-05T16:00Z"], "end": ["2026-10-05T16:05Z"], "value": [1.0], "unit": ["byte"]}))
    '1 export of 1 account: 1 row, 2026-10-06 (Beijing)'
    """
    if usage.empty:
        return "no usage rows"
    exports, accounts = usage["task_id"].nunique(), usage["account"].nunique()
    first = usage["start"].min().tz_convert(BEIJING).date()
    last = (usage["end"].max() - pd.Timedelta(microseconds=1)).tz_convert(BEIJING).date()
    period = str(first) if first == last else f"{first} – {last}"
    return (
        f"{exports} export{'s' if exports != 1 else ''} of {accounts} account{'s' if accounts != 1 else ''}: "
        f"{len(usage)} row{'s' if len(usage) != 1 else ''}, {period} (Beijing)"
    )


def lines_html(lines: Sequence[str], *, kind: str = "info") -> str:
    """Lines of text as escaped HTML, one ``<div>`` each (``kind`` ``error`` colours them)."""
    style = "color:#b3261e" if kind == "error" else "color:#444"
    return "".join(f'<div style="{style}">{html.escape(line)}</div>' for line in lines)


_quiet_lock = threading.Lock()


class _quiet:
    """Record (and so silence) warnings while the explorer's own work runs: it shows them as lines.

    ``warnings.catch_warnings`` swaps process-wide state, so explorers' workers take turns.
    """

    def __enter__(self) -> None:
        _quiet_lock.acquire()
        self._catcher = warnings.catch_warnings(record=True)
        self._catcher.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc: Any) -> None:
        try:
            self._catcher.__exit__(*exc)
        finally:
            _quiet_lock.release()
