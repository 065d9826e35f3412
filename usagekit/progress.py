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

__all__ = ["progress_enabled"]


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
