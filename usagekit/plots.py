"""Plots of task frames and tidy usage frames, with matplotlib (the ``plot`` extra).

Every function takes ``ax=None``: given an Axes it draws there, otherwise it makes its own
:class:`matplotlib.figure.Figure` (never through pyplot, so no figure is left open in pyplot's
registry and nothing is shown or saved behind your back). It returns the Axes; in a notebook, end the
cell with ``ax.figure`` to show it (the figure renders itself as a PNG, pyplot or not), or save it
with ``ax.figure.savefig("timeline.png")``.

One palette everywhere: statuses in :data:`STATUS_COLORS`, gaps in :data:`GAP_COLOR`, and a stable
colour per domain, region or account (:func:`series_colors`), so ``example.com`` has the same colour in
every figure. Values are shown in the units of :mod:`usagekit.units` (1 GB = 1024³ bytes).

>>> import usagekit
>>> from usagekit.frames import task_frame
>>> tasks = task_frame([{"account": "prod", "kind": "detail", "task_id": "1", "status": "success",
...     "type": "flow", "window_start": "2026-11-01T16:00Z", "window_end": "2026-11-03T16:00Z"}])
>>> ax = plot_timeline(tasks, end="2026-11-05T16:00Z")
>>> [label.get_text() for label in ax.get_yticklabels()]
['prod · detail flow']
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import zoneinfo
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from usagekit.frames import KINDS, METRICS, STATUSES, task_frame
from usagekit.optional import require
from usagekit.units import scale_for
from usagekit.windows import UNKNOWN_TYPE, coverage

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "GAP_COLOR",
    "OTHER_COLOR",
    "OTHER_LABEL",
    "REST_COLOR",
    "REST_LABEL",
    "SERIES_PALETTE",
    "STATUS_COLORS",
    "plot_percentile",
    "plot_timeline",
    "plot_usage",
    "series_colors",
]

# --- the palette (Okabe-Ito for statuses: distinguishable with the common colour-vision deficiencies) --

STATUS_COLORS: dict[str, str] = {"success": "#009E73", "failed": "#D55E00", "created": "#0072B2"}
#: statuses the service may add and usagekit does not know
UNKNOWN_STATUS_COLOR = "#999999"
#: periods no successful export covers (timeline, ``view="windows"``)
GAP_COLOR = "#E69F00"
#: the domains beyond the top N, summed
OTHER_COLOR = "#BBBBBB"
OTHER_LABEL = "other"
#: rows with ``domain`` NA: an account's total, or the rest of it beyond the listed domains
REST_COLOR = "#555555"
REST_LABEL = "rest of account"
NO_REGION_LABEL = "no region"
#: colours for domains, regions and accounts (tab10 and its light tones, greys left out for "other")
SERIES_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)  # fmt: skip

_STRONG = 9  # the first colours of SERIES_PALETTE, the light tones after them
_STATUS_LABELS = {"created": "created (running)"}
_VIEWS = ("windows", "runs")
_LANE_ORDERS = ("account", "kind")
_BY = ("domain", "region", "account")
_FINISHED = ("success", "failed")
_TYPE_ORDER = ("flow", "vas", UNKNOWN_TYPE)
_MAX_LABEL = 32


def series_colors(names: Sequence[str]) -> dict[str, str]:
    """A colour per name: stable across figures (from a hash of the name), distinct within one.

    ``other`` and ``rest of account`` have their own greys. Each name hashes to one of the nine strong
    colours of :data:`SERIES_PALETTE`; when two names of one figure meet there, the later one in
    ``names`` takes the next free colour (the light tones come after the strong ones).

    >>> colors = series_colors(["a.example.com", "b.example.com", "other"])
    >>> colors["other"], colors == series_colors(["a.example.com", "b.example.com", "other"])
    ('#BBBBBB', True)
    """
    fixed = {OTHER_LABEL: OTHER_COLOR, REST_LABEL: REST_COLOR}
    taken: set[int] = set()
    out: dict[str, str] = {}
    size = len(SERIES_PALETTE)
    for name in names:
        if name in fixed:
            out[name] = fixed[name]
            continue
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest()
        index = int.from_bytes(digest, "big") % _STRONG  # a strong tone first, light ones on collisions
        if len(taken) < size:
            while index in taken:
                index = (index + 1) % size
        taken.add(index)
        out[name] = SERIES_PALETTE[index]
    return out


def _status_color(status: str) -> str:
    return STATUS_COLORS.get(status, UNKNOWN_STATUS_COLOR)


# --- matplotlib, through the plot extra ----------------------------------------------------------------


def _matplotlib(name: str) -> Any:
    return require(name, extra="plot", purpose="plotting")


@functools.cache
def _figure_class() -> type:
    base = _matplotlib("matplotlib.figure").Figure

    class PlotFigure(base):  # type: ignore[misc, valid-type]
        """A plain Figure that shows itself as a PNG in Jupyter, with no pyplot (and no open figure) involved."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", metadata={"Software": None})
            return buffer.getvalue()

    PlotFigure.__module__ = __name__
    return PlotFigure


def _new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    if ax is not None:
        return ax
    figure = _figure_class()(figsize=(width, height), layout="constrained")
    return figure.add_subplot()


def _zone(tz: str) -> str:
    if not isinstance(tz, str):
        raise TypeError(
            f"tz must be a time zone name such as 'UTC' or 'Asia/Shanghai', not {type(tz).__name__}"
        )
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r}: use an IANA name such as 'UTC' or 'Asia/Shanghai'"
        ) from None
    return tz


def _zone_label(tz: str) -> str:
    return "Beijing time, Asia/Shanghai" if tz in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else tz


def _days(values: Any) -> np.ndarray:
    """Matplotlib date numbers of tz-aware times (NaT becomes NaN)."""
    series = pd.Series(pd.to_datetime(values, utc=True))
    naive = series.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return np.asarray(_matplotlib("matplotlib.dates").date2num(naive), dtype=float)


def _day(value: pd.Timestamp) -> float:
    return float(_days([value])[0])


def _date_axis(ax: Axes, tz: str) -> None:
    dates = _matplotlib("matplotlib.dates")
    locator = dates.AutoDateLocator(tz=tz, minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator, tz=tz))


def _utc(value: datetime | str | pd.Timestamp, what: str) -> pd.Timestamp:
    if not isinstance(value, datetime | str):
        raise TypeError(f"{what} must be a datetime or ISO 8601 text, not {type(value).__name__}")
    moment = pd.Timestamp(value)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _whose(accounts: Sequence[str]) -> str:
    if not accounts:
        return ""
    if len(accounts) <= 3:
        return ", ".join(accounts)
    return f"{len(accounts)} accounts"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _legend(ax: Axes, handles: list[Any], title: str | None = None) -> None:
    if handles:
        ax.legend(
            handles=handles,
            title=title,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            fontsize="small",
            title_fontsize="small",
            frameon=False,
        )


# --- the task timeline ---------------------------------------------------------------------------------


def listed_moment(tasks: pd.DataFrame) -> pd.Timestamp | None:
    """When the frame was listed: ``tasks.attrs["listed_at"]``, else the latest ``updated`` in it.

    Never the wall clock, so a plot of one frame is the same every time it is drawn.

    >>> from usagekit.frames import task_frame
    >>> frame = task_frame([{"task_id": "1", "updated": "2026-11-20T07:00Z"}])
    >>> listed_moment(frame)
    Timestamp('2026-11-20 07:00:00+0000', tz='UTC')
    >>> frame.attrs["listed_at"] = "2026-11-20T08:00:00Z"
    >>> listed_moment(frame)
    Timestamp('2026-11-20 08:00:00+0000', tz='UTC')
    """
    text = tasks.attrs.get("listed_at") if hasattr(tasks, "attrs") else None
    if text:
        return _utc(str(text), "attrs['listed_at']")
    if "updated" in tasks and tasks["updated"].notna().any():
        return pd.Timestamp(tasks["updated"].max())
    return None


def _lane_keys(frame: pd.DataFrame) -> pd.Series:
    """(account, kind, type) per task: the groups :func:`usagekit.coverage` uses, type '' for summaries."""
    kinds = frame["kind"].astype("object")
    types = frame["type"].astype("object").where(frame["type"].notna(), None)
    types = types.where(kinds == "detail", "")
    types = types.where(types.notna(), UNKNOWN_TYPE)
    accounts = frame["account"].astype("object").where(frame["account"].notna(), "")
    return pd.Series(list(zip(accounts, kinds.fillna(""), types, strict=True)), index=frame.index)


def _lane_order(keys: Sequence[tuple[str, str, str]], by: str) -> list[tuple[str, str, str]]:
    def kind_rank(kind: str) -> int:
        return KINDS.index(kind) if kind in KINDS else len(KINDS)

    def type_rank(kind_type: str) -> tuple[int, str]:
        return (
            (_TYPE_ORDER.index(kind_type), "") if kind_type in _TYPE_ORDER else (len(_TYPE_ORDER), kind_type)
        )

    if by == "account":
        return sorted(set(keys), key=lambda k: (k[0], kind_rank(k[1]), type_rank(k[2])))
    return sorted(set(keys), key=lambda k: (kind_rank(k[1]), type_rank(k[2]), k[0]))


def _lane_label(key: tuple[str, str, str]) -> str:
    account, kind, kind_type = key
    if kind != "detail":
        return f"{_short(account)} · {kind}"
    if kind_type == UNKNOWN_TYPE:
        return f"{_short(account)} · detail, type unknown"
    return f"{_short(account)} · detail {kind_type}"


def _tracks(lefts: np.ndarray, rights: np.ndarray) -> tuple[np.ndarray, int]:
    """Pack intervals into the fewest rows with no overlap (greedy by start); the row of each, and how many."""
    order = np.lexsort((rights, lefts))
    ends: list[float] = []
    rows = np.zeros(len(lefts), dtype=int)
    for i in order:
        for row, end in enumerate(ends):
            if end <= lefts[i]:
                rows[i] = row
                ends[row] = rights[i]
                break
        else:
            rows[i] = len(ends)
            ends.append(rights[i])
    return rows, max(len(ends), 1)


def plot_timeline(
    tasks: pd.DataFrame,
    *,
    view: str = "windows",
    by: str = "account",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    tz: str = "UTC",
    ax: Axes | None = None,
) -> Axes:
    """Draw export tasks as bars, one lane per account, kind and (detail exports) type; return the Axes.

    ``view="windows"``: a bar per task over the period its export covers, coloured by status, and the
    gaps that :func:`usagekit.coverage` finds in ``[start, end)`` shaded in each lane (``start`` and
    ``end`` default to the span of the windows drawn). ``view="runs"``: a bar per task from ``created``
    to ``updated``; a task not finished (any status but ``success``/``failed``) runs up to the moment
    the frame was listed, ``tasks.attrs["listed_at"]`` (which :func:`usagekit.list_tasks` sets), or the
    latest ``updated`` in the frame when that is missing: never the wall clock, so a notebook draws the
    same twice. ``by="account"`` orders lanes by account first, ``by="kind"`` by kind and type first.
    ``tz`` is the zone of the time axis (``"Asia/Shanghai"``: the Beijing days the service bills in).
    Tasks without the times a view needs are left out and counted in the title.

    Overlapping bars in one lane are stacked in thin rows, so every task stays visible; lanes with
    more rows get taller, and a figure made here grows with the number of lanes.

    >>> from usagekit.frames import task_frame
    >>> tasks = task_frame([{"account": "prod", "kind": "summary", "task_id": "7", "status": "failed",
    ...     "created": "2026-11-01T08:00Z", "updated": "2026-11-01T08:05Z"}])
    >>> plot_timeline(tasks, view="runs").get_title()
    'Export runs of prod: 1 task'
    """
    if view not in _VIEWS:
        raise ValueError(f"view must be 'windows' or 'runs', not {view!r}")
    if by not in _LANE_ORDERS:
        raise ValueError(f"by must be 'account' or 'kind', not {by!r}")
    tz = _zone(tz)
    frame = task_frame(tasks)
    attrs = dict(getattr(tasks, "attrs", {}) or {})
    frame.attrs = attrs

    if view == "windows":
        lefts, rights = frame["window_start"], frame["window_end"]
    else:
        lefts = frame["created"]
        moment = listed_moment(frame)
        finished = frame["status"].astype("object").isin(_FINISHED)
        rights = frame["updated"].where(finished, moment if moment is not None else frame["updated"])
        rights = rights.where(rights.isna() | lefts.isna() | (rights >= lefts), lefts)
    drawable = (lefts.notna() & rights.notna()).to_numpy()
    left_days, right_days = _days(lefts), _days(rights)

    keys = _lane_keys(frame)
    lanes = _lane_order(list(keys), by)
    row_of: dict[int, int] = {}
    tracks_of: dict[tuple[str, str, str], int] = {}
    for lane in lanes:
        members = np.flatnonzero(keys.map(lambda k, lane=lane: k == lane).to_numpy() & drawable)
        rows, count = _tracks(left_days[members], right_days[members])
        tracks_of[lane] = count
        row_of.update(zip(members.tolist(), rows.tolist(), strict=True))
    heights = {lane: min(max(math.sqrt(tracks_of[lane]), 1.0), 4.0) for lane in lanes}
    tops: dict[tuple[str, str, str], float] = {}
    y = 0.0
    for lane in lanes:
        tops[lane] = y
        y += heights[lane]
    total = max(y, 1.0)

    ax = _new_axes(ax, 10.0, min(max(0.32 * total + 1.7, 2.6), 60.0))
    patches = _matplotlib("matplotlib.patches")

    lower = _utc(start, "start") if start is not None else None
    upper = _utc(end, "end") if end is not None else None
    if drawable.any():
        lower = lower if lower is not None else pd.Timestamp(lefts[drawable].min())
        upper = upper if upper is not None else pd.Timestamp(rights[drawable].max())

    gaps_drawn = False
    if view == "windows" and lower is not None and upper is not None and lower < upper and len(frame):
        parts = coverage(frame, lower, upper)
        for part in parts[parts["part"] == "gap"].itertuples():
            kind_type = "" if pd.isna(part.type) else str(part.type)
            lane = (str(part.account), str(part.kind), kind_type)
            if lane not in tops:
                continue
            x0, x1 = _day(part.start), _day(part.end)
            ax.add_patch(
                patches.Rectangle(
                    (x0, tops[lane]),
                    x1 - x0,
                    heights[lane],
                    facecolor=GAP_COLOR,
                    alpha=0.28,
                    edgecolor=GAP_COLOR,
                    hatch="///",
                    linewidth=0.0,
                    zorder=0.5,
                    gid=f"gap:{_lane_label(lane)}@{part.start.isoformat()}",
                )
            )
            gaps_drawn = True

    statuses = frame["status"].astype("object")
    for i in np.flatnonzero(drawable):
        lane = keys.iloc[i]
        count = tracks_of[lane]
        band = heights[lane] * 0.84 / count
        bottom = tops[lane] + heights[lane] * 0.08 + row_of[i] * band
        color = _status_color(str(statuses.iloc[i]))
        ax.add_patch(
            patches.Rectangle(
                (left_days[i], bottom),
                right_days[i] - left_days[i],
                band * 0.9,
                facecolor=color,
                edgecolor=color,
                linewidth=0.6,
                zorder=2,
                gid=f"task:{frame['account'].iloc[i]}/{frame['task_id'].iloc[i]}",
            )
        )

    # axes, ticks, labels
    if lower is not None and upper is not None and lower < upper:
        pad = (_day(upper) - _day(lower)) * 0.01
        ax.set_xlim(_day(lower) - pad, _day(upper) + pad)
    ax.set_ylim(total, 0.0)
    _date_axis(ax, tz)
    centers = [tops[lane] + heights[lane] / 2 for lane in lanes]
    ax.set_yticks(centers, [_lane_label(lane) for lane in lanes])
    ax.tick_params(axis="y", length=0)
    for boundary in list(tops.values())[1:]:
        ax.axhline(boundary, color="#dddddd", linewidth=0.6, zorder=0.2)
    _fit_lane_labels(ax, lanes, heights, total)

    accounts = list(dict.fromkeys(str(a) for a in frame["account"].dropna()))
    shown = int(drawable.sum())
    what = "windows" if view == "windows" else "runs"
    title = f"Export {what} of {_whose(accounts)}: {shown} task{'s' if shown != 1 else ''}"
    if not accounts:
        title = f"Export {what}: no tasks"
    left_out = len(frame) - shown
    if left_out:
        title += f" ({left_out} without {'a window' if view == 'windows' else 'times'} left out)"
    ax.set_title(title, fontsize="medium")
    axis = "Period exported" if view == "windows" else "Created to updated"
    ax.set_xlabel(f"{axis} ({_zone_label(tz)})")

    met = [s for s in STATUSES if (statuses == s).any()]
    met += sorted({str(s) for s in statuses.dropna()} - set(STATUSES))
    handles = [
        patches.Patch(facecolor=_status_color(s), edgecolor=_status_color(s), label=_STATUS_LABELS.get(s, s))
        for s in met
    ]
    if gaps_drawn:
        handles.append(
            patches.Patch(
                facecolor=GAP_COLOR,
                alpha=0.28,
                edgecolor=GAP_COLOR,
                hatch="///",
                label="gap: no successful export",
            )
        )
    _legend(ax, handles, title="status")
    return ax


def _fit_lane_labels(ax: Axes, lanes: list[Any], heights: dict[Any, float], total: float) -> None:
    """Lane labels no taller than their lanes: smaller type first, then every n-th label only."""
    if not lanes:
        return
    figure = ax.figure
    points_per_unit = ax.get_position().height * figure.get_figheight() * 72.0 / total
    room = min(heights.values()) * points_per_unit * 0.8  # a label's line is about 1.2 times its size
    base = _matplotlib("matplotlib").rcParams["ytick.labelsize"]
    size = _matplotlib("matplotlib.font_manager").FontProperties(size=base).get_size_in_points()
    fitted = min(size, room / 1.2)
    labels = ax.get_yticklabels()
    if fitted >= 5.0:
        for label in labels:
            label.set_fontsize(fitted)
        return
    step = math.ceil(5.0 * 1.2 / max(room, 1e-9))
    for index, label in enumerate(labels):
        label.set_fontsize(5.0)
        label.set_visible(index % step == 0)


# --- usage over time -----------------------------------------------------------------------------------


def _offset(freq: str) -> Any:
    from pandas.tseries.frequencies import to_offset

    try:
        return to_offset(freq)
    except ValueError:
        raise ValueError(f"freq {freq!r} is not a pandas frequency: use e.g. '1h' or '1D'") from None


def _fixed(offset: Any) -> pd.Timedelta | None:
    try:
        return pd.Timedelta(offset)
    except (TypeError, ValueError):
        return None


def _period_words(offset: Any) -> str:
    fixed = _fixed(offset)
    if fixed is None:
        name = offset.name if hasattr(offset, "name") else str(offset)
        return {"MS": "month", "ME": "month", "M": "month", "W": "week", "YS": "year"}.get(
            name.split("-")[0], f"{offset.freqstr} period"
        )
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count = fixed.total_seconds() / seconds
        if count >= 1 and float(count).is_integer():
            return unit if count == 1 else f"{int(count)} {unit}s"
    return str(fixed)


def _series_labels(rows: pd.DataFrame, by: str) -> pd.Series:
    values = rows[by].astype("object")
    missing = {"domain": REST_LABEL, "region": NO_REGION_LABEL}.get(by, "(no account)")
    return values.where(values.notna(), missing).astype(str)


def plot_usage(
    usage: pd.DataFrame,
    *,
    metric: str = "traffic",
    by: str = "domain",
    top: int | None = 10,
    freq: str | None = None,
    tz: str = "UTC",
    ax: Axes | None = None,
) -> Axes:
    """Draw one metric of a tidy usage frame over time, per domain (or region, or account); return the Axes.

    The ``top`` largest series are drawn by name (traffic and requests ranked by their total, bandwidth
    by its peak), the rest summed as ``other``. Rows whose ``domain`` is NA (an account's total, or the
    rest of an account beyond the domains an export listed) form their own series, ``rest of account``,
    never folded into ``other``; rows with no region are ``no region``. Traffic and requests are drawn
    as stacked areas, bandwidth as lines (bandwidth at one moment adds up across domains; the peak of a
    sum is not the sum of peaks, so it is not stacked).

    ``freq`` (``"1h"``, ``"1D"``, any pandas frequency no finer than the data) resamples in ``tz``:
    traffic and requests are summed, bandwidth takes the peak, so ``freq="1D", tz="Asia/Shanghai"``
    gives the Beijing days the service bills. Periods with no data stay empty, never drawn as zero.
    Values are scaled to one readable unit chosen from the data (GB with 1 GB = 1024³ bytes, Mbit/s,
    thousands of requests), named in the y label.

    >>> from usagekit.frames import tidy_frame
    >>> usage = tidy_frame({"account": ["prod"] * 2, "domain": ["a.example", None], "metric": ["traffic"] * 2,
    ...     "start": ["2026-11-01T00:00Z"] * 2, "end": ["2026-11-01T00:05Z"] * 2,
    ...     "value": [3 * 1024**3, 1024**3], "unit": ["byte"] * 2})
    >>> ax = plot_usage(usage)
    >>> ax.get_ylabel(), [text.get_text() for text in ax.get_legend().get_texts()]
    ('Traffic per 5 minutes (GB)', ['rest of account', 'a.example'])
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    if by not in _BY:
        raise ValueError(f"by must be one of {', '.join(_BY)}, not {by!r}")
    if not isinstance(usage, pd.DataFrame):
        raise TypeError(f"plot_usage needs a tidy usage frame, not {type(usage).__name__}")
    needed = {"metric", "start", "end", "value", by}
    if not needed <= set(usage.columns):
        missing = ", ".join(sorted(needed - set(usage.columns)))
        raise ValueError(f"plot_usage needs the tidy frame's columns; missing: {missing}")
    if top is not None and (not isinstance(top, int) or top < 0):
        raise ValueError(f"top must be a whole number >= 0 or None, not {top!r}")
    tz = _zone(tz)

    rows = usage[usage["metric"].astype("object") == metric]
    ax = _new_axes(ax, 10.0, 4.2)
    name = metric.capitalize()
    accounts = list(dict.fromkeys(str(a) for a in rows["account"].dropna())) if "account" in rows else []
    if rows.empty:
        ax.text(0.5, 0.5, f"no {metric} rows in this frame", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(f"{name} by {by}", fontsize="medium")
        ax.set_yticks([])
        ax.set_xticks([])
        return ax

    step = pd.Timedelta((rows["end"] - rows["start"]).mode().iloc[0])
    offset = _offset(freq) if freq is not None else _offset(f"{int(step.total_seconds())}s")
    fixed = _fixed(offset)
    if fixed is not None and fixed < step:
        raise ValueError(
            f"freq {freq!r} is finer than the data's {_period_words(_offset(f'{int(step.total_seconds())}s'))} intervals"
        )

    labels = _series_labels(rows, by)
    pivot = (
        rows.assign(_series=labels.to_numpy())
        .groupby(["start", "_series"], observed=True)["value"]
        .sum()
        .unstack("_series")
    )
    specials = [c for c in (REST_LABEL, NO_REGION_LABEL, "(no account)") if c in pivot.columns]
    named = [c for c in pivot.columns if c not in specials]
    score = pivot[named].max() if metric == "bandwidth" else pivot[named].sum()
    ranked = sorted(named, key=lambda c: (-float(score[c]), c))
    keep = ranked if top is None else ranked[:top]
    folded = ranked[len(keep) :]
    series: dict[str, pd.Series] = {c: pivot[c] for c in keep}
    series.update({c: pivot[c] for c in specials})
    if folded:
        series[OTHER_LABEL] = pivot[folded].sum(axis=1, min_count=1)

    table = pd.DataFrame(series)
    table.index = pd.DatetimeIndex(table.index).tz_convert(tz)
    resampled = table.resample(offset, label="left", closed="left")
    table = resampled.max() if metric == "bandwidth" else resampled.sum(min_count=1)
    edges_index = table.index.append(table.index[-1:] + offset)
    edges = _days(edges_index.tz_convert("UTC"))

    colors = series_colors(list(table.columns))
    if metric == "bandwidth":
        magnitude = float(np.nanmax(table.to_numpy())) if table.notna().any().any() else 0.0
    else:
        magnitude = float(table.sum(axis=1, min_count=1).max(skipna=True) or 0.0)
    scale = scale_for(metric, magnitude)
    scaled = table / scale.factor

    if metric == "bandwidth":
        for column in scaled.columns:
            ax.stairs(
                scaled[column].to_numpy(),
                edges,
                baseline=None,
                color=colors[column],
                linewidth=1.3,
                label=column,
                gid=f"series:{column}",
            )
    else:
        empty = scaled.isna().all(axis=1).to_numpy()
        bottom = np.zeros(len(scaled))
        for column in scaled.columns:
            values = scaled[column].fillna(0.0).to_numpy()
            top_edge = bottom + values
            ax.stairs(
                np.where(empty, np.nan, top_edge),
                edges,
                baseline=np.where(empty, np.nan, bottom),
                fill=True,
                color=colors[column],
                linewidth=0,
                label=column,
                gid=f"series:{column}",
            )
            bottom = top_edge

    native = freq is None or (fixed is not None and fixed == step)
    period = _period_words(offset)
    if metric == "bandwidth":
        quantity = "Bandwidth" if native else f"Peak bandwidth per {period}"
    else:
        quantity = f"{name} per {period}"
    unit = "" if scale.unit == "requests" else f" ({scale.unit})"
    ax.set_ylabel(f"{quantity}{unit}")
    ax.set_xlabel(f"Time ({_zone_label(tz)})")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(bottom=0)
    _date_axis(ax, tz)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)

    shown = f"top {len(keep)} of {len(ranked)}" if folded else f"{len(ranked)}"
    plural = {"domain": "domains", "region": "regions", "account": "accounts"}[by]
    title = f"{name} by {by}: {shown} {plural if len(ranked) != 1 or folded else by}"
    whose = _whose(accounts)
    if whose and by != "account":
        title += f" · {whose}"
    ax.set_title(title, fontsize="medium")

    handles, names = ax.get_legend_handles_labels()
    if metric != "bandwidth":  # the legend reads top to bottom like the stack
        handles, names = handles[::-1], names[::-1]
    for handle, text in zip(handles, names, strict=True):
        handle.set_label(_short(text))
    _legend(ax, list(handles))
    return ax


# --- the month's bandwidth points and what each billing method makes of them ---------------------------

#: the monthly bandwidth methods :func:`plot_percentile` draws, with their line styles
_PERCENTILE_METHODS = (
    ("month_95", "-"),
    ("month_95_night_half", (0, (1, 1))),
    ("month_avg_day_95", (0, (3, 1, 1, 1))),
    ("month_avg_day_bandwidth", "--"),
    ("month_4th_day_bandwidth", "-."),
)
_CUT_COLOR = "#D55E00"
_PEAK_COLOR = "#0072B2"


def plot_percentile(
    usage: pd.DataFrame, account: str, month: str, *, region: str | None = None, ax: Axes | None = None
) -> Axes:
    """Draw one account's bandwidth points of a Beijing month, sorted, and what each method bills.

    The month's 5-minute points (the account's domains summed per point, in ``region``) are drawn
    highest first; the 95th-percentile cut (``month_95``: the top 5 % discarded, rounded down) is
    marked where it falls; each Beijing day's peak is a dot at its place in the sorted points; and a
    horizontal line shows what each monthly method (:func:`usagekit.billing_quantities`) would bill, its
    value in the legend. So a reader sees at a glance why ``month_95`` and the daily peaks differ.
    ``month`` is a Beijing month, ``"2026-10"``. ``region`` is a billing region, or ``"OVERSEAS"`` for
    the regions outside the mainland together (the ``_overseas`` methods); ``None`` takes the
    account's only region, or ``CN`` when it has several. Values are in Mbit/s or Gbit/s, from the data.

    >>> from usagekit.frames import tidy_frame
    >>> usage = tidy_frame({"account": ["shop"] * 3, "region": ["CN"] * 3, "metric": ["bandwidth"] * 3,
    ...     "start": ["2026-10-04T16:00Z", "2026-10-04T16:05Z", "2026-10-05T16:00Z"],
    ...     "end": ["2026-10-04T16:05Z", "2026-10-04T16:10Z", "2026-10-05T16:05Z"],
    ...     "value": [4e8, 1e8, 2e8], "unit": ["bit/s"] * 3})
    >>> ax = plot_percentile(usage, "shop", "2026-10")
    >>> ax.get_ylabel()
    'Bandwidth (Mbit/s)'
    """
    from usagekit.billing import OVERSEAS, billing_quantities

    if not isinstance(usage, pd.DataFrame):
        raise TypeError(f"plot_percentile needs a tidy usage frame, not {type(usage).__name__}")
    if not isinstance(month, str) or len(month) != 7 or month[4] != "-":
        raise ValueError(f"month must be a Beijing month such as '2026-10', not {month!r}")
    rows = usage[
        (usage["metric"].astype("object") == "bandwidth") & (usage["account"].astype("object") == account)
    ]
    regions = sorted({str(r) for r in rows["region"].dropna()})
    if not regions:
        raise ValueError(f"no bandwidth rows of account {account!r} in this frame")
    if region is None:
        region = regions[0] if len(regions) == 1 else "CN" if "CN" in regions else None
        if region is None:
            raise ValueError(
                f"account {account!r} is billed in {regions}: pass region= one of them or 'OVERSEAS'"
            )
    overseas = region == OVERSEAS
    if overseas:
        chosen = rows[rows["region"].notna() & (rows["region"].astype("object") != "CN")]
    elif region in regions:
        chosen = rows[rows["region"].astype("object") == region]
    else:
        raise ValueError(f"account {account!r} has no bandwidth in region {region!r}; it has {regions}")
    local = chosen["start"].dt.tz_convert("UTC").dt.tz_localize(None) + pd.Timedelta(hours=8)
    chosen = chosen[local.dt.strftime("%Y-%m") == month]
    if chosen.empty:
        raise ValueError(f"no bandwidth of account {account!r} in {region} in the Beijing month {month}")
    points = chosen.groupby("start")["value"].sum()
    values = np.sort(points.to_numpy())[::-1]
    day = (points.index.tz_convert("UTC").tz_localize(None) + pd.Timedelta(hours=8)).floor("D")
    peaks = points.groupby(day).max().to_numpy()

    def billed(method: str) -> float | None:
        frame = billing_quantities(chosen, method + ("_overseas" if overseas else ""))
        frame = frame[(frame["period"] == month) & (frame["region"].astype("object") == region)]
        return float(frame["quantity"].iloc[0]) if len(frame) else None

    scale = scale_for("bandwidth", float(values[0]))
    ax = _new_axes(ax, 9.0, 4.2)
    ranks = np.arange(1, len(values) + 1)
    ax.plot(
        ranks,
        values / scale.factor,
        color="#444444",
        linewidth=1.2,
        label="5-minute points, highest first",
        gid="points",
    )
    discard = len(values) * 5 // 100
    cut = billed("month_95")
    ax.axvspan(
        0.5,
        discard + 0.5,
        color=_CUT_COLOR,
        alpha=0.12,
        linewidth=0,
        label=f"top 5 % discarded ({discard} points)",
        gid="discarded",
    )
    peak_ranks = len(values) - np.searchsorted(values[::-1], peaks, side="right") + 1
    ax.scatter(
        peak_ranks,
        peaks / scale.factor,
        s=18,
        color=_PEAK_COLOR,
        zorder=3,
        label=f"daily peaks ({len(peaks)} days)",
        gid="daily-peaks",
    )
    for method, style in _PERCENTILE_METHODS:
        value = cut if method == "month_95" else billed(method)
        if value is None:
            continue
        color = _CUT_COLOR if method == "month_95" else "#777777"
        ax.axhline(
            value / scale.factor,
            color=color,
            linestyle=style,
            linewidth=1.1,
            label=f"{method}: {value / scale.factor:,.2f} {scale.unit}",
            gid=f"method:{method}",
        )
    ax.set_xscale("log")
    ax.set_xlim(0.8, len(values) * 1.05)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"5-minute points ranked, highest first (log scale; {len(values):,} points)")
    ax.set_ylabel(f"Bandwidth ({scale.unit})")
    where = "outside the mainland" if overseas else region
    ax.set_title(
        f"{account} · {where} · {month} (Beijing): bandwidth points and what each method bills",
        fontsize="medium",
    )
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    handles, _ = ax.get_legend_handles_labels()
    _legend(ax, list(handles))
    return ax
