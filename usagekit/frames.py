"""The frame contracts: column names and dtypes of the task frame and the tidy usage frame.

Every module that builds one of these frames builds it here, so the dtypes are the same everywhere
(tasks, readers, the sandbox's truth). See the architecture page for the meaning of each column.

Task frame (one row per export task):

==================  ======================  =====================================================
column              dtype                   meaning
==================  ======================  =====================================================
account             category                the account's unique name
kind                category                ``summary`` or ``detail``
task_id             string                  always text
task_name           string                  as the service holds it
status              category                ``created``, ``success``, ``failed`` (+ unknown values)
created, updated    datetime64[ns, UTC]     ``CreateTime``, ``UpdateTime``
window_start        datetime64[ns, UTC]     ``TaskConfig.StartTime``
window_end          datetime64[ns, UTC]     ``TaskConfig.EndTime`` made exclusive
type                category                ``flow`` / ``vas`` for detail exports when known
domains             category                ``all`` / ``some`` for detail exports when known
download_url        string                  the presigned URL without its query string
==================  ======================  =====================================================

Tidy usage frame (one row per measurement): ``account`` (category), ``task_id`` (string), ``domain``
and ``region`` (category, NA where the file has none), ``metric`` (category: traffic, bandwidth,
requests), ``start`` and ``end`` (datetime64[ns, UTC], end exclusive), ``value`` (float64, base
unit), ``unit`` (category: byte, bit/s, request).

>>> task_frame([]).dtypes["created"]
datetime64[ns, UTC]
>>> list(tidy_frame({}, with_source=False).columns)
['domain', 'region', 'metric', 'start', 'end', 'value', 'unit']
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.redact import strip_query
from usagekit.times import BEIJING

__all__ = [
    "BEIJING",
    "KINDS",
    "METRICS",
    "METRIC_UNITS",
    "STATUSES",
    "TASK_COLUMNS",
    "TIDY_COLUMNS",
    "UNITS",
    "TaskTag",
    "checked_tidy",
    "concat_frames",
    "exclusive_end",
    "format_task_tag",
    "parse_task_tag",
    "sort_tidy",
    "strip_query",
    "task_frame",
    "task_frame_of_columns",
    "tidy_frame",
]

KINDS = ("summary", "detail")
STATUSES = ("created", "success", "failed")
METRICS = ("traffic", "bandwidth", "requests")
UNITS = ("byte", "bit/s", "request")
METRIC_UNITS = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}
DETAIL_TYPES = ("flow", "vas")
DOMAIN_SCOPES = ("all", "some")

UTC_NS: Final = "datetime64[ns, UTC]"
STRING = pd.StringDtype()

TASK_COLUMNS: dict[str, Any] = {
    "account": "category",
    "kind": pd.CategoricalDtype(list(KINDS)),
    "task_id": STRING,
    "task_name": STRING,
    "status": "category",  # created/success/failed first, unknown values appended
    "created": UTC_NS,
    "updated": UTC_NS,
    "window_start": UTC_NS,
    "window_end": UTC_NS,
    "type": "category",
    "domains": "category",
    "download_url": STRING,
}

TIDY_COLUMNS: dict[str, Any] = {
    "account": "category",
    "task_id": STRING,
    "domain": "category",
    "region": "category",
    "metric": pd.CategoricalDtype(list(METRICS)),
    "start": UTC_NS,
    "end": UTC_NS,
    "value": "float64",
    "unit": pd.CategoricalDtype(list(UNITS)),
}
_SOURCE_COLUMNS = ("account", "task_id")


def _to_utc(values: Any) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True, format="ISO8601")).astype(UTC_NS)


def _categorical(values: Any, fixed: Sequence[str] = ()) -> pd.Categorical[Any]:
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # fast path: no object round trip
        values = pd.Series(values).cat.remove_unused_categories()
        met = sorted(str(c) for c in values.cat.categories if c not in fixed)
        return pd.Categorical(values.cat.set_categories([*fixed, *met]))
    series = pd.Series(values, dtype="object")
    met = [v for v in pd.unique(series.dropna()) if v not in fixed]
    return pd.Categorical(series, categories=[*fixed, *sorted(map(str, met))])


def _coerce(frame: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    out: dict[str, Any] = {}
    n = len(frame)
    for name, dtype in columns.items():
        values = frame[name] if name in frame else pd.Series([pd.NA] * n, dtype="object")
        values = values.reset_index(drop=True)
        if dtype == UTC_NS:
            out[name] = _to_utc(values) if n else pd.Series([], dtype=UTC_NS)
        elif isinstance(dtype, pd.CategoricalDtype):
            out[name] = pd.Categorical(values.astype("object"), dtype=dtype)
        elif dtype == "category":
            fixed = STATUSES if name == "status" else ()
            if not isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype("object").where(values.notna(), None)
            out[name] = _categorical(values, fixed)
        elif dtype is STRING:
            if isinstance(values.dtype, pd.StringDtype) and values.dtype.na_value is pd.NA:
                out[name] = values
            else:
                obj = values.astype("object").where(values.notna(), None)
                out[name] = pd.array([None if v is None else str(v) for v in obj], dtype=STRING)
        else:
            out[name] = values.astype(dtype)
    return pd.DataFrame(out, columns=list(columns))


def task_frame_of_columns(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The task frame of plain Python columns, one list per contract column, built column-wise once.

    Faster than :func:`task_frame` (no object round trips, no per-value checks) for values already of
    their column's kind: ``str`` or ``None`` in text and category columns, aware datetimes, ``Timestamp``
    or ``None`` in time columns (what :class:`usagekit.tasks.ExportTask` holds). The frame is the one
    :func:`task_frame` builds from the same values.

    >>> frame = task_frame_of_columns({"account": ["a"], "kind": ["detail"], "task_id": ["7"]})
    >>> frame["status"].dtype.categories.tolist(), str(frame["task_id"].dtype), frame["created"].isna().all()
    (['created', 'success', 'failed'], 'string', np.True_)
    """
    n = len(next(iter(columns.values()), ()))
    out: dict[str, Any] = {}
    for name, dtype in TASK_COLUMNS.items():
        values = list(columns.get(name) or [None] * n)
        if dtype == UTC_NS:
            out[name] = _utc_column(values)
        elif dtype is STRING:
            out[name] = pd.array(values, dtype=STRING)
        else:
            if isinstance(dtype, pd.CategoricalDtype):
                categories = list(dtype.categories)
            else:  # "category": the fixed values first (statuses), then the others met, sorted
                fixed = STATUSES if name == "status" else ()
                categories = [*fixed, *sorted(set(values).difference(fixed, [None]))]
            out[name] = _categorical_of_codes(values, categories, dtype)
    return pd.DataFrame(out, columns=list(TASK_COLUMNS))


def _utc_column(values: list[Any]) -> pd.Series:
    """A UTC time column of aware UTC datetimes and ``None`` in one conversion; anything else as ``_to_utc``."""
    if values and set(map(type, values)) <= _DATETIME_OR_NONE:  # C loops: no Python code per value
        zones = set(map(_TZINFO, filter(None, values)))
        if not zones:
            return pd.Series([pd.NaT] * len(values), dtype=UTC_NS)
        if zones == {UTC}:
            return pd.Series(pd.DatetimeIndex(values).as_unit("ns"))
    return _to_utc(values) if values else pd.Series([], dtype=UTC_NS)


_DATETIME_OR_NONE = {datetime, type(None)}
_TZINFO = operator.attrgetter("tzinfo")


def _categorical_of_codes(values: list[Any], categories: list[Any], dtype: Any) -> pd.Categorical:
    """``values`` as a categorical of ``categories`` through one dict lookup each (unknown values NA)."""
    index: dict[Any, int] = {c: i for i, c in enumerate(categories)}
    try:
        codes = list(map(index.get, values, itertools.repeat(-1)))
    except TypeError:  # an unhashable value: pandas' own path says what is wrong
        return pd.Categorical(values, categories=categories)
    ordered = dtype.ordered if isinstance(dtype, pd.CategoricalDtype) else False
    return pd.Categorical.from_codes(codes, categories=categories, ordered=ordered)  # type: ignore[call-overload]  # pandas-stubs: categories may be a list


def task_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Build a task frame, with the contract's columns and dtypes, from row mappings or a frame.

    Times may be datetimes or ISO 8601 text; a missing column is all NA. Windows are taken as given
    (already exclusive: see :func:`exclusive_end`).
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    return _coerce(frame, TASK_COLUMNS)


def tidy_frame(data: Mapping[str, Any] | pd.DataFrame, *, with_source: bool = True) -> pd.DataFrame:
    """Build a tidy usage frame with the contract's columns and dtypes.

    ``with_source=False`` leaves out ``account`` and ``task_id`` (what ``read_usage`` returns).
    """
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(dict(data))
    columns = (
        TIDY_COLUMNS if with_source else {k: v for k, v in TIDY_COLUMNS.items() if k not in _SOURCE_COLUMNS}
    )
    return _coerce(frame, columns)


def checked_tidy(usage: object, who: str) -> pd.DataFrame:
    """``usage`` checked as a tidy usage frame (:func:`usagekit.usage`), or an ArgumentError naming what lacks.

    >>> checked_tidy(pd.DataFrame({"x": [1]}), "anomalies")
    Traceback (most recent call last):
    ...
    usagekit.errors.ArgumentError: anomalies needs a tidy usage frame (usagekit.usage()) as usage; this one lacks ['account', 'domain', 'metric', 'region', 'start', 'value']
    """
    if not isinstance(usage, pd.DataFrame):
        raise ArgumentError(
            f"{who} needs a tidy usage frame (usagekit.usage()) as usage, not {type(usage).__name__}"
        )
    lacking = sorted({"account", "domain", "region", "metric", "start", "value"} - set(usage.columns))
    if lacking:
        raise ArgumentError(
            f"{who} needs a tidy usage frame (usagekit.usage()) as usage; this one lacks {lacking}"
        )
    return usage


def sort_tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical row order of a tidy frame (for comparisons), index reset."""
    keys = [c for c in ("account", "task_id", "domain", "region", "metric", "start") if c in frame]
    return frame.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def concat_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate task or tidy frames, unioning the categories of categorical columns.

    Plain ``pd.concat`` turns categoricals with different categories into ``object``; this keeps them.
    """
    frames = [f for f in frames if f is not None]
    if not frames:
        raise ValueError("concat_frames needs at least one frame")
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    first = frames[0]
    aligned = []
    categories: dict[str, list[Any]] = {}
    for name in first.columns:
        if isinstance(first[name].dtype, pd.CategoricalDtype):
            seen: list[Any] = []
            for f in frames:
                for c in f[name].cat.categories:
                    if c not in seen:
                        seen.append(c)
            fixed = list(first[name].cat.categories) if first[name].cat.ordered else None
            categories[name] = fixed or seen
    for f in frames:
        f = f.copy()
        for name, cats in categories.items():
            f[name] = f[name].cat.set_categories(cats)
        aligned.append(f)
    return pd.concat(aligned, ignore_index=True)


def exclusive_end(end: datetime | pd.Timestamp | str | None) -> pd.Timestamp | None:
    """Make an inclusive window end exclusive: second 59 gains a second, a whole minute is kept.

    >>> exclusive_end("2019-12-30T15:59:59Z")
    Timestamp('2019-12-30 16:00:00+0000', tz='UTC')
    >>> exclusive_end("2019-12-30T21:00:00Z")
    Timestamp('2019-12-30 21:00:00+0000', tz='UTC')
    """
    if end is None or (isinstance(end, str) and not end.strip()) or pd.isna(end):
        return None
    ts = pd.Timestamp(end)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts.second == 59:
        ts = ts + pd.Timedelta(seconds=1)
    return ts


# --- the task-name tag -------------------------------------------------------------------------------

_TAG = re.compile(
    r"^uk:(?P<type>flow|vas):(?P<domains>all|some):(?P<token>[0-9a-z]{4,32})(?:\s+(?P<name>.*))?$", re.S
)


@dataclass(frozen=True)
class TaskTag:
    """What usagekit writes into the name of a detail export it creates: ``uk:<type>:<all|some>:<token>``."""

    type: str
    domains: str
    token: str
    name: str | None = None


def format_task_tag(tag: TaskTag) -> str:
    """The task name for ``tag``, the user's own name after it when given.

    >>> format_task_tag(TaskTag("flow", "some", "k3x9q2", "march report"))
    'uk:flow:some:k3x9q2 march report'
    """
    text = f"uk:{tag.type}:{tag.domains}:{tag.token}"
    return f"{text} {tag.name}" if tag.name else text


def parse_task_tag(task_name: str | None) -> TaskTag | None:
    """The tag in a task name, or ``None`` for a name usagekit did not write.

    >>> parse_task_tag("uk:vas:all:0a1b2c3d")
    TaskTag(type='vas', domains='all', token='0a1b2c3d', name=None)
    >>> parse_task_tag("march") is None
    True
    """
    if not task_name:
        return None
    match = _TAG.match(task_name.strip())
    if match is None:
        return None
    return TaskTag(match["type"], match["domains"], match["token"], match["name"] or None)
