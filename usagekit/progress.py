"""Whether to draw tqdm progress bars: one rule for every long-running function.

``progress=False`` never draws; ``TQDM_DISABLE=1`` (or any true value) never draws, whatever
``progress`` says; ``progress=True`` draws; ``progress=None`` (the default everywhere) draws when a person
is watching: in a notebook's kernel, or when stderr is a terminal.

The environment is read at each call: tqdm itself reads ``TQDM_DISABLE`` only once, when it is imported,
so bars drawn after this check are made with an explicit ``disable=False``.

>>> progress_enabled(False)
False
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

__all__ = ["ListingBars", "WaitBar", "progress_enabled"]


def progress_enabled(progress: bool | None) -> bool:
    """Whether to draw bars: ``False`` never, ``None`` when interactive; ``TQDM_DISABLE`` wins."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no", "off"):
        return False
    if progress is not None:
        return bool(progress)
    return _interactive()


def _interactive() -> bool:
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":  # a notebook's kernel
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class ListingBars:
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


class WaitBar:
    """A bar of tasks done, for :func:`usagekit.lifecycle.wait`."""

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
