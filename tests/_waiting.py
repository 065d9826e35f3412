"""Waiting for an event instead of sleeping a fixed time: poll a condition, or look where a thread is.

``wait_until`` polls until the condition holds; its timeout only turns a hang into a failure, it never
decides a pass, so a slow machine waits longer and still passes. ``sandbox_handler_in`` tells whether a
sandbox connection thread is inside a function of the sandbox server (e.g. reading a request's body,
or holding a reply back for its latency), seen from its live stack.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``condition`` until it holds (a failed assertion after ``timeout`` seconds: a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the awaited condition never held"
        time.sleep(0.005)


def sandbox_handler_in(*functions: str) -> bool:
    """Whether a sandbox connection thread is inside all of ``functions``: the first a function of
    ``usagekit/sandbox/server.py`` on its stack, the others called from it (``"_serve", "wait"``: the
    handler holds a reply back; ``"_serve", "readinto"``: it reads a request's body)."""
    frames = sys._current_frames()
    for thread in threading.enumerate():
        if thread.name != "usagekit-sandbox-conn" or thread.ident not in frames:
            continue
        names, frame, in_server = [], frames[thread.ident], False
        while frame is not None:
            names.append(frame.f_code.co_name)
            if frame.f_code.co_name == functions[0] and frame.f_code.co_filename.endswith("server.py"):
                in_server = True
                break
            frame = frame.f_back
        if in_server and all(name in names for name in functions[1:]):
            return True
    return False
