"""The sandbox clock: sandbox time starts at ``now`` and then follows the real clock, or stays frozen.

Task lifecycles, presigned URL expiry and the three-month listing window run on this clock; request
signatures are checked against the real clock instead (see :mod:`usagekit.sandbox.verify`).

>>> clock = SandboxClock("2026-11-20T08:00:00Z", frozen=True)
>>> clock.now().isoformat()
'2026-11-20T08:00:00+00:00'
>>> clock.advance(90)
>>> clock.now().isoformat()
'2026-11-20T08:01:30+00:00'
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["SandboxClock", "format_time", "parse_now", "parse_time"]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_now(value: datetime | str | None) -> datetime:
    """The sandbox start time from a datetime, ISO-8601 text, ``USAGEKIT_SANDBOX_NOW`` or the real clock.

    The result is aware UTC, truncated to whole seconds (the API speaks whole seconds).

    >>> parse_now("2026-11-20T16:30:15.9+08:00").isoformat()
    '2026-11-20T08:30:15+00:00'
    """
    if value is None:
        value = os.environ.get("USAGEKIT_SANDBOX_NOW") or None
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(
                f"sandbox now {value!r} is not ISO-8601 text such as 2026-11-20T08:00:00Z"
            ) from None
    else:
        raise TypeError(f"sandbox now must be a datetime or ISO-8601 text, not {type(value).__name__}")
    if moment.tzinfo is None:
        raise ValueError(
            "sandbox now must carry a time zone (e.g. 2026-11-20T08:00:00Z), not a naive datetime"
        )
    return moment.astimezone(UTC).replace(microsecond=0)


def parse_time(text: str) -> datetime | None:
    """An API time ``yyyy-MM-ddTHH:mm:ssZ`` as aware UTC, or ``None`` when malformed.

    >>> parse_time("2026-10-31T15:59:59Z").isoformat()
    '2026-10-31T15:59:59+00:00'
    >>> parse_time("2026-10-31 15:59") is None
    True
    """
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def format_time(moment: datetime | float) -> str:
    """An aware datetime or epoch seconds as the API writes times (whole seconds, UTC, ``Z``).

    >>> format_time(0)
    '1970-01-01T00:00:00Z'
    """
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime(TIME_FORMAT)
    return _format_epoch(int(moment // 1))


@functools.lru_cache(maxsize=1 << 16)
def _format_epoch(seconds: int) -> str:
    # Listings format the same few thousand task times over and over: cached, and via time.gmtime,
    # which is several times cheaper than building an aware datetime for strftime.
    return time.strftime(TIME_FORMAT, time.gmtime(seconds))


class SandboxClock:
    """Sandbox time: ``start`` when created, then real elapsed time added (or, frozen, only ``advance``).

    ``monotonic`` is injectable for tests.
    """

    def __init__(
        self,
        start: datetime | str | None = None,
        *,
        frozen: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start = parse_now(start)
        self.frozen = frozen
        self._monotonic = monotonic
        self._origin = monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def timestamp(self) -> float:
        """Sandbox now as epoch seconds (float)."""
        with self._lock:
            elapsed = self._offset if self.frozen else self._offset + self._monotonic() - self._origin
        return self.start.timestamp() + elapsed

    def now(self) -> datetime:
        """Sandbox now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        """Move a frozen clock forward by ``seconds`` (a real clock cannot be moved)."""
        if not self.frozen:
            raise RuntimeError('advance() needs clock="frozen"; this sandbox follows the real clock')
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += float(seconds)

    def __repr__(self) -> str:
        mode = "frozen" if self.frozen else "real"
        return f"SandboxClock({self.now() + timedelta(0):%Y-%m-%dT%H:%M:%SZ}, {mode})"
