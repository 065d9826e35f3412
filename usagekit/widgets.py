"""Jupyter widgets: an account picker and a task explorer (the only module of ours importing ipywidgets).

:class:`AccountPicker` chooses accounts; :class:`TaskExplorer` lists their export tasks on **Load**,
shows the task table and the timeline, and on **Fetch** reads the chosen detail exports and plots their
usage. The logic lives in :mod:`usagekit.explorer`; this module only draws it. Work runs on a worker
thread, so the notebook stays responsive; :meth:`TaskExplorer.wait` blocks until it is done.

>>> import usagekit
>>> with usagekit.Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen", tasks=3) as sandbox:
...     explorer = usagekit.explore(sandbox.accounts[:2])
...     explorer.load()
...     explorer.wait()
>>> explorer
TaskExplorer(accounts=['demo-shop', 'demo-media'], chosen=2, tasks=12)
"""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.errors import ArgumentError, UsagekitError
from usagekit.explorer import (
    KIND_CHOICES,
    STATUS_CHOICES,
    account_label,
    chosen_rows,
    export_choices,
    fetch_usage,
    lines_html,
    load_tasks,
    metric_to_show,
    one_line,
    plot_freq,
    task_table_html,
    tasks_summary,
    usage_summary,
)
from usagekit.frames import METRICS
from usagekit.optional import require
from usagekit.resolve import resolve_accounts

ipywidgets: Any = require(  # ipywidgets ships no types
    "ipywidgets", extra="widgets", purpose="usagekit.widgets (the account picker and task explorer)"
)

__all__ = ["AccountPicker", "TaskExplorer", "explore"]

#: the time zone plots are drawn in: Beijing, whose days the service bills
PLOT_TZ = "Asia/Shanghai"
_HIDDEN = "none"


def _discovered() -> list[Account]:
    from usagekit.discovery import discover_accounts

    return discover_accounts()


class AccountPicker(ipywidgets.SelectMultiple):  # type: ignore[misc]  # an untyped base
    """Choose one or several accounts; ``.value`` is the tuple of chosen :class:`~usagekit.Account` objects.

    ``accounts`` defaults to every discovered one (:func:`usagekit.discover_accounts`); all start chosen.
    Each is labelled by name, where the profile came from and its shortened key id, never a secret.
    Observe it like any widget: ``picker.observe(callback, "value")``.

    >>> from usagekit.accounts import Account
    >>> picker = AccountPicker([Account("prod", "LTAIexample-0000KlMn", "not-shown")])
    >>> picker.value == tuple(picker.accounts), picker
    (True, AccountPicker(accounts=['prod'], chosen=['prod']))
    """

    def __init__(self, accounts: Sequence[Account] | None = None, **kwargs: Any) -> None:
        found = tuple(_discovered() if accounts is None else accounts)
        for account in found:
            if not isinstance(account, Account):
                raise ArgumentError(f"AccountPicker takes Account objects, not {type(account).__name__}")
        options = [(account_label(account), account) for account in found]
        defaults: dict[str, Any] = {
            "description": "Accounts",
            "rows": max(2, min(len(found), 8)),
            "tooltip": "Choose one or several accounts (Ctrl- or Shift-click)",
            "layout": ipywidgets.Layout(width="min(100%, 560px)"),
            "style": {"description_width": "80px"},
        }
        super().__init__(options=options, value=found, **{**defaults, **kwargs})
        self.accounts: tuple[Account, ...] = found
        self.add_class("usagekit-account-picker")

    def __repr__(self) -> str:
        names = [account.name for account in self.accounts]
        chosen = [account.name for account in self.value]
        return f"AccountPicker(accounts={names!r}, chosen={chosen!r})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✓' if account in self.value else ''}</td><td>{html.escape(account_label(account))}</td></tr>"
            for account in self.accounts
        )
        return f"<table><caption>AccountPicker</caption>{rows}</table>"


class TaskExplorer(ipywidgets.VBox):  # type: ignore[misc]  # an untyped base
    """Accounts, filters and **Load**; the task table and timeline; exports, a metric and **Fetch**; the usage plot.

    Listing happens on **Load** (or :meth:`load`), never on every click; **Fetch** (or :meth:`fetch`)
    reads the chosen successful detail exports. Both run on a worker thread with a progress bar;
    :meth:`wait` blocks until the work is done. An account that fails, or a file that cannot be
    fetched, is one short line in the widget (all of them in ``.errors``); the rest keeps working.
    ``.tasks`` and ``.usage`` are the frames shown, to go on in code.

    >>> from usagekit.accounts import Account
    >>> TaskExplorer([Account("prod", "LTAIexample-0000KlMn", "not-shown")])
    TaskExplorer(accounts=['prod'], chosen=1)
    """

    def __init__(self, accounts: Sequence[Account] | None = None) -> None:
        self.picker = AccountPicker(accounts)
        self.tasks: pd.DataFrame | None = None
        self.usage: pd.DataFrame | None = None
        self._load_errors: list[str] = []
        self._fetch_errors: list[str] = []
        self.last_error: BaseException | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usagekit-explorer")
        self._future: Future[None] | None = None
        self._lock = threading.Lock()
        self._pending = 0  # jobs submitted and not finished

        small = {"description_width": "80px"}
        self.kind = ipywidgets.ToggleButtons(
            options=list(KIND_CHOICES),
            value="all",
            description="Kind",
            style={**small, "button_width": "90px"},
        )
        self.status = ipywidgets.SelectMultiple(
            options=list(STATUS_CHOICES), value=STATUS_CHOICES, rows=3, description="Status", style=small
        )
        self.load_button = ipywidgets.Button(
            description="Load", button_style="primary", icon="list", tooltip="List the chosen accounts' tasks"
        )
        self.progress = ipywidgets.IntProgress(value=0, min=0, max=1, layout={"display": _HIDDEN})
        self.message = ipywidgets.HTML()
        self.table = ipywidgets.HTML(layout={"max_height": "220px", "overflow": "auto", "display": _HIDDEN})
        self.timeline = ipywidgets.Image(format="png", layout={"max_width": "100%", "display": _HIDDEN})
        self.exports = ipywidgets.SelectMultiple(
            options=[],
            rows=6,
            description="Exports",
            tooltip="Successful detail exports (Ctrl- or Shift-click for several)",
            layout={"width": "min(100%, 560px)"},
            style=small,
        )
        self.metric = ipywidgets.ToggleButtons(
            options=list(METRICS),
            value="traffic",
            description="Metric",
            style={**small, "button_width": "90px"},
        )
        self.fetch_button = ipywidgets.Button(
            description="Fetch", icon="download", disabled=True, tooltip="Fetch and read the chosen exports"
        )
        self.usage_message = ipywidgets.HTML()
        self.usage_plot = ipywidgets.Image(format="png", layout={"max_width": "100%", "display": _HIDDEN})
        for widget, name in [
            (self.table, "usagekit-task-table"),
            (self.timeline, "usagekit-timeline"),
            (self.exports, "usagekit-exports"),
            (self.usage_plot, "usagekit-usage-plot"),
            (self.message, "usagekit-message"),
            (self.usage_message, "usagekit-usage-message"),
        ]:
            widget.add_class(name)

        self.load_button.on_click(lambda _button: self.load())
        self.fetch_button.on_click(lambda _button: self.fetch())
        self.metric.observe(lambda _change: self._redraw_usage(), "value")
        self._fetch_row = ipywidgets.HBox(
            [self.exports, ipywidgets.VBox([self.metric, self.fetch_button])], layout={"display": _HIDDEN}
        )
        super().__init__(
            [
                ipywidgets.HTML("<b>usagekit</b> · export tasks"),
                ipywidgets.HBox([self.picker, ipywidgets.VBox([self.kind, self.status])]),
                ipywidgets.HBox([self.load_button, self.progress]),
                self.message,
                self.table,
                self.timeline,
                self._fetch_row,
                self.usage_message,
                self.usage_plot,
            ]
        )
        self.add_class("usagekit-explorer")

    # --- actions ---------------------------------------------------------------------------------------

    def load(self) -> None:
        """List the chosen accounts' tasks (kind and status filters applied), as **Load** does."""
        self._start(self._load, self.message)

    def fetch(self) -> None:
        """Fetch and read the chosen exports and plot their usage, as **Fetch** does."""
        self._start(self._fetch, self.usage_message)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current work is done (errors are shown in the widget, not raised here).

        A bug (an exception that is not a :class:`~usagekit.UsagekitError`) is shown as a line too, and
        raised here, so tests and scripts see it.
        """
        future = self._future
        if future is not None:
            future.result(timeout)

    # --- the work, on the worker thread ---------------------------------------------------------------

    def _start(self, job: Callable[[], None], line: Any) -> None:
        """Run ``job`` on the worker; its error, as one line, goes to the HTML widget ``line``."""
        with self._lock:
            self._pending += 1
            self._busy(True)
            self._future = self._pool.submit(self._run, job, line)

    def _run(self, job: Callable[[], None], line: Any) -> None:
        try:
            job()
        except UsagekitError as error:
            self._fail(error, one_line(error), line)
        except Exception as error:
            self._fail(error, one_line(f"unexpected {type(error).__name__}: {error}"), line)
            raise
        finally:
            with self._lock:
                self._pending -= 1
                self._busy(self._pending > 0)  # a job queued behind this one keeps the buttons off

    def _busy(self, busy: bool) -> None:
        self.load_button.disabled = busy
        self.fetch_button.disabled = busy or not self.exports.options
        self.progress.layout.display = None if busy else _HIDDEN
        if busy and self._pending == 1:  # a new piece of work: the bar starts empty
            self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, "info"

    @property
    def errors(self) -> list[str]:
        """The error lines the widget shows now: accounts that failed to list, then a failed fetch."""
        return [*self._load_errors, *self._fetch_errors]

    def _fail(self, error: BaseException, text: str, line: Any) -> None:
        self.last_error = error
        if line is self.message:
            self._load_errors = [text]
        else:
            self._fetch_errors = [text]
        line.value = lines_html([text], kind="error")

    def _load(self) -> None:
        accounts = list(self.picker.value)
        self._load_errors = []
        if not accounts:
            self.message.value = lines_html(["Choose at least one account, then Load."])
            return
        self.message.value = lines_html(
            [f"Listing {len(accounts)} account{'s' if len(accounts) > 1 else ''}…"]
        )
        loaded = load_tasks(accounts, self.kind.value, self.status.value)
        self.progress.value = 1
        self.tasks, self._load_errors = loaded.tasks, loaded.errors
        self.message.value = lines_html([tasks_summary(loaded.tasks, len(accounts))]) + lines_html(
            loaded.errors, kind="error"
        )
        self.table.value = task_table_html(loaded.tasks)
        self.table.layout.display = None
        if loaded.tasks.empty:
            self.timeline.layout.display = _HIDDEN
        else:
            self.timeline.value = _timeline_png(loaded.tasks)
            self.timeline.layout.display = None
        choices = export_choices(loaded.tasks)
        self.exports.options = choices
        self._fetch_row.layout.display = None if choices else _HIDDEN

    def _fetch(self) -> None:
        chosen = list(self.exports.value)
        self._fetch_errors = []
        if self.tasks is None or not chosen:
            self.usage_message.value = lines_html(["Choose one or more exports, then Fetch."])
            return
        rows = chosen_rows(self.tasks, chosen)
        self.progress.max = len(rows)
        self.usage_message.value = lines_html([f"Fetching {len(rows)} export{'s' if len(rows) > 1 else ''}…"])
        fetched = fetch_usage(rows, accounts=self.picker.accounts, on_file=self._file_done)
        self.usage, self._fetch_errors = fetched.usage, []
        self.usage_message.value = lines_html([usage_summary(fetched.usage), *fetched.notes])
        metric = metric_to_show(fetched.usage, self.metric.value)
        if metric != self.metric.value:
            self._switching = True  # the plot is drawn once, below, not again by the metric's observer
            try:
                self.metric.value = metric
            finally:
                self._switching = False
        self._draw_usage()

    def _file_done(self) -> None:
        self.progress.value = min(self.progress.value + 1, self.progress.max)

    _switching = False

    def _redraw_usage(self) -> None:
        if self.usage is not None and not self._switching:
            self._start(self._draw_usage, self.usage_message)

    def _draw_usage(self) -> None:
        if self.usage is None or self.usage.empty:
            self.usage_plot.layout.display = _HIDDEN
            return
        self.usage_plot.value = _usage_png(self.usage, self.metric.value)
        self.usage_plot.layout.display = None

    # --- reprs -------------------------------------------------------------------------------------------

    def _facts(self) -> list[tuple[str, str]]:
        facts = [
            ("accounts", ", ".join(a.name for a in self.picker.accounts)),
            ("chosen", ", ".join(a.name for a in self.picker.value)),
        ]
        if self.tasks is not None:
            facts.append(("tasks", tasks_summary(self.tasks, len(self.picker.value))))
        if self.usage is not None:
            facts.append(("usage", usage_summary(self.usage)))
        facts += [("error", line) for line in self.errors]
        return facts

    def __repr__(self) -> str:
        names = [account.name for account in self.picker.accounts]
        text = f"TaskExplorer(accounts={names!r}, chosen={len(self.picker.value)}"
        if self.tasks is not None:
            text += f", tasks={len(self.tasks)}"
        if self.usage is not None:
            text += f", usage_rows={len(self.usage)}"
        if self.errors:
            text += f", errors={len(self.errors)}"
        return text + ")"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
            for key, value in self._facts()
        )
        return f"<table><caption>TaskExplorer</caption>{rows}</table>"


def explore(accounts: Account | str | Sequence[Account | str] | None = None) -> TaskExplorer:
    """A :class:`TaskExplorer` of ``accounts`` (default: every discovered account), for a one-line start.

    In a notebook: ``usagekit.explore()`` as a cell's last line shows it.
    """
    return TaskExplorer(None if accounts is None else resolve_accounts(accounts))


# --- figures: plots makes its own matplotlib Figure (never pyplot: nothing registered, nothing shown) -----


def _png(axes: Any) -> bytes:
    """The figure of ``axes`` as PNG bytes (no software tag, so the same plot gives the same bytes)."""
    buffer = io.BytesIO()
    axes.figure.savefig(buffer, format="png", dpi=96, metadata={"Software": None})
    return buffer.getvalue()


def _timeline_png(tasks: pd.DataFrame) -> bytes:
    from usagekit.plots import plot_timeline

    return _png(plot_timeline(tasks, tz=PLOT_TZ))


def _usage_png(usage: pd.DataFrame, metric: str) -> bytes:
    from usagekit.plots import plot_usage

    return _png(plot_usage(usage, metric=metric, freq=plot_freq(usage), tz=PLOT_TZ))
