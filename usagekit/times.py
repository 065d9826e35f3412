"""The one time rule for the library and the command line: moments, Beijing months, the service's format.

A *moment* is an aware ``datetime`` or ``pandas.Timestamp``, or ISO 8601 text with an offset; a date alone
means midnight UTC. A *month* is ``YYYY-MM``, a Beijing month, as the service bills. Anything else is an
:class:`~usagekit.errors.ArgumentError` naming the argument and the accepted forms; a value without a time
zone shows both readings (UTC and Beijing) to choose from, because guessing one silently moves a day.

>>> moment("2026-11-01T08:00:00+08:00", "start")
Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
>>> moment("2026-11-01", "since")
Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
>>> moment("2026-11-01T08:00", "start")
Traceback (most recent call last):
...
usagekit.errors.TimeValueError: start '2026-11-01T08:00' has no time zone: write 2026-11-01T08:00:00Z for UTC, or 2026-11-01T08:00:00+08:00 for Beijing (= 2026-11-01T00:00:00Z)
>>> month("2026-09", "first_month")
'2026-09'
>>> api_time(moment("2026-10-01T00:00:00+08:00", "start"))
'2026-09-30T16:00:00Z'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from usagekit.errors import TimeValueError

if TYPE_CHECKING:  # pandas is imported where it is used: the client imports this module without pandas
    import pandas as pd

__all__ = [
    "API_TIME_FORMAT",
    "BEIJING",
    "MOMENT_FORMS",
    "MONTH_FORMS",
    "TimeValueError",
    "api_time",
    "current",
    "moment",
    "month",
    "month_bounds",
    "to_utc",
]

#: Beijing time (UTC+8): it decides days and months wherever the service bills
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
#: the service's time format, in requests and replies (UTC, whole seconds)
API_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MOMENT_FORMS = (
    "an aware datetime or pandas.Timestamp, ISO 8601 text with an offset "
    "(2026-10-01T00:00:00+08:00, 2026-09-30T16:00:00Z), or a date alone (2026-10-01, midnight UTC)"
)
MONTH_FORMS = "YYYY-MM, a Beijing month (for example 2026-09)"

_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_MONTH = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])")


def moment(value: object, name: str) -> pd.Timestamp:
    """``value`` as an aware UTC timestamp (nanoseconds), by the one rule; ``name`` names it in errors.

    >>> moment(datetime(2026, 10, 1, tzinfo=BEIJING), "end")
    Timestamp('2026-09-30 16:00:00+0000', tz='UTC')
    >>> moment("01-10-2026", "since")
    Traceback (most recent call last):
    ...
    usagekit.errors.TimeValueError: since '01-10-2026' is not a moment; accepted: an aware datetime or pandas.Timestamp, ISO 8601 text with an offset (2026-10-01T00:00:00+08:00, 2026-09-30T16:00:00Z), or a date alone (2026-10-01, midnight UTC)
    """
    import pandas as pd

    if isinstance(value, str):
        return _from_text(value, name)
    if isinstance(value, datetime):  # pandas.Timestamp too
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(name, value, pd.Timestamp(value).isoformat())
        return _bounded(lambda: pd.Timestamp(value).tz_convert("UTC"), name, value)
    if isinstance(value, date):
        return _bounded(lambda: pd.Timestamp(value.isoformat(), tz="UTC"), name, value)
    raise TimeValueError(f"{name} must be a moment, not {type(value).__name__}; accepted: {MOMENT_FORMS}")


def _from_text(value: str, name: str) -> pd.Timestamp:
    import pandas as pd

    text = value.strip()
    found = _ISO.fullmatch(text)
    if found is None:
        raise TimeValueError(f"{name} {value!r} is not a moment; accepted: {MOMENT_FORMS}")
    if found["time"] is not None and found["zone"] is None:
        raise _naive(name, value, text)
    if found["time"] is None:
        return _bounded(lambda: pd.Timestamp(found["date"], tz="UTC"), name, value)
    return _bounded(lambda: pd.Timestamp(text).tz_convert("UTC"), name, value)


def _bounded(make: Callable[[], pd.Timestamp], name: str, value: object) -> pd.Timestamp:
    import pandas as pd

    try:
        stamp = make().as_unit("ns")
    except (ValueError, OverflowError):  # a month 13, a day 31 of a short month, out of pandas' range
        raise TimeValueError(f"{name} {value!r} is not a moment; accepted: {MOMENT_FORMS}") from None
    if pd.isna(stamp):
        raise TimeValueError(f"{name} {value!r} is not a moment; accepted: {MOMENT_FORMS}")
    return stamp


def _naive(name: str, value: object, text: str) -> TimeValueError:
    import pandas as pd

    try:
        wall = pd.Timestamp(text).tz_localize(None)
    except (ValueError, OverflowError):
        return TimeValueError(f"{name} {value!r} is not a moment; accepted: {MOMENT_FORMS}")
    as_utc = wall.strftime("%Y-%m-%dT%H:%M:%S")
    in_utc = (wall - pd.Timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return TimeValueError(
        f"{name} {value!r} has no time zone: write {as_utc}Z for UTC, or {as_utc}+08:00 for Beijing (= {in_utc})"
    )


def to_utc(value: object, what: str) -> pd.Timestamp:
    """The earlier name of :func:`moment` (same rule)."""
    return moment(value, what)


def month(value: object, name: str) -> str:
    """``value`` checked as ``YYYY-MM`` (a Beijing month) and returned as it is.

    >>> month("2026/09", "last_month")
    Traceback (most recent call last):
    ...
    usagekit.errors.TimeValueError: last_month '2026/09' is not a month; accepted: YYYY-MM, a Beijing month (for example 2026-09)
    """
    if not isinstance(value, str):
        raise TimeValueError(f"{name} must be a month, not {type(value).__name__}; accepted: {MONTH_FORMS}")
    if _MONTH.fullmatch(value.strip()) is None:
        raise TimeValueError(f"{name} {value!r} is not a month; accepted: {MONTH_FORMS}")
    return value.strip()


def month_bounds(value: object, name: str = "month") -> tuple[pd.Timestamp, pd.Timestamp]:
    """The Beijing month ``value`` as ``[start, end)`` in UTC.

    >>> [t.isoformat() for t in month_bounds("2026-10")]
    ['2026-09-30T16:00:00+00:00', '2026-10-31T16:00:00+00:00']
    """
    import pandas as pd

    first = pd.Timestamp(f"{month(value, name)}-01").tz_localize(BEIJING)
    return first.tz_convert("UTC"), (first + pd.DateOffset(months=1)).tz_convert("UTC")


def api_time(value: datetime) -> str:
    """A moment in the service's format, ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

    >>> api_time(datetime(2026, 10, 1, 8, 30, tzinfo=BEIJING))
    '2026-10-01T00:30:00Z'
    """
    import pandas as pd

    return pd.Timestamp(value).tz_convert("UTC").strftime(API_TIME_FORMAT)


def current(now: object = None, name: str = "now") -> pd.Timestamp:
    """``now`` as a moment, or the real clock's time when it is ``None`` (the one place that reads it).

    >>> current("2026-11-20T08:00:00Z")
    Timestamp('2026-11-20 08:00:00+0000', tz='UTC')
    """
    import pandas as pd

    if now is None:
        return pd.Timestamp(datetime.now(UTC)).as_unit("ns")
    return moment(now, name)
