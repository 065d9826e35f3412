"""One rule for the moments users hand in: aware UTC ``pandas.Timestamp`` values.

Every public function that takes a time (``since``, ``start``, ``end``) accepts an aware ``datetime``, a
naive one (taken as UTC) or ISO 8601 text, and turns it into an aware UTC timestamp here, so they all
accept and refuse the same things with the same message.

>>> to_utc("2026-11-01T08:00:00+08:00", "start")
Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
>>> to_utc("yesterday", "since")
Traceback (most recent call last):
...
usagekit.times.TimeValueError: since 'yesterday' is not an ISO 8601 time (for example 2026-11-01 or 2026-11-01T08:00:00Z)
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from usagekit.errors import ArgumentError

__all__ = ["TimeValueError", "to_utc"]

EXAMPLE = "2026-11-01 or 2026-11-01T08:00:00Z"


class TimeValueError(ArgumentError):
    """A time given to a usagekit function that is not one: a local argument error (also a ValueError)."""


def to_utc(value: datetime | pd.Timestamp | str, what: str) -> pd.Timestamp:
    """``value`` as an aware UTC timestamp; naive values are UTC; ``what`` names it in errors.

    Raises ``TypeError`` for a value that is not a time at all, and :class:`TimeValueError` (an
    ``ArgumentError``: a ``UsagekitError`` and a ``ValueError``) for text that does not parse or a time outside what pandas holds (years 1677-2262).
    """
    if not isinstance(value, datetime | str):
        raise TypeError(f"{what} must be a datetime or ISO 8601 text, not {type(value).__name__}")
    try:
        moment = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        raise TimeValueError(f"{what} {value!r} is not an ISO 8601 time (for example {EXAMPLE})") from None
    if moment is pd.NaT:
        raise TimeValueError(f"{what} {value!r} is not an ISO 8601 time (for example {EXAMPLE})")
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
