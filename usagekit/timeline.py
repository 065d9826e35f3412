"""The task timeline: export tasks as bars in lanes, over the periods they export or the time they ran.

:func:`plot_timeline` is public as ``usagekit.plot_timeline`` (and ``usagekit.plots.plot_timeline``);
the lanes are the groups :func:`usagekit.coverage` uses (account, kind and, for detail exports, type),
so the gaps it finds are shaded in the lane they belong to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.frames import DETAIL_TYPES, KINDS, STATUSES, task_frame
from usagekit.plotstyle import (
    GAP_COLOR,
    STATUS_LABELS,
    check_zone,
    date_axis,
    legend_outside,
    new_axes,
    require_matplotlib,
    short_label,
    status_color,
    to_day,
    to_days,
    whose,
    zone_label,
)
from usagekit.times import moment
from usagekit.windows import UNKNOWN_TYPE, coverage

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["listed_moment", "plot_timeline"]

_VIEWS = ("windows", "runs")
_LANE_ORDERS = ("account", "kind")
_FINISHED = ("success", "failed")
_TYPE_ORDER = (*DETAIL_TYPES, UNKNOWN_TYPE)


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
        return moment(str(text), "attrs['listed_at']")
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
        return f"{short_label(account)} · {kind}"
    if kind_type == UNKNOWN_TYPE:
        return f"{short_label(account)} · detail, type unknown"
    return f"{short_label(account)} · detail {kind_type}"


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


def _timeline_frame(tasks: pd.DataFrame) -> pd.DataFrame:
    """The task frame to draw (its ``attrs`` kept), refusing what is not a task frame."""
    if not isinstance(tasks, pd.DataFrame) or not {"account", "kind", "task_id"} <= set(tasks.columns):
        raise ArgumentError(
            f"tasks must be a task frame (list_tasks()), not {type(tasks).__name__} {tasks!r:.40}"
        )
    frame = task_frame(tasks)
    frame.attrs = dict(getattr(tasks, "attrs", {}) or {})
    return frame


def _bar_ends(frame: pd.DataFrame, view: str) -> tuple[pd.Series, pd.Series]:
    """Each task's bar from left to right: its window, or its run (an unfinished one up to the listing)."""
    if view == "windows":
        return frame["window_start"], frame["window_end"]
    lefts = frame["created"]
    listed = listed_moment(frame)
    finished = frame["status"].astype("object").isin(_FINISHED)
    rights = frame["updated"].where(finished, listed if listed is not None else frame["updated"])
    rights = rights.where(rights.isna() | lefts.isna() | (rights >= lefts), lefts)
    return lefts, rights


@dataclass
class _Lanes:
    """Where each lane lies (top and height, in lane units) and each task's row within its lane."""

    order: list[tuple[str, str, str]]
    row_of: dict[int, int]
    tracks_of: dict[tuple[str, str, str], int]
    heights: dict[tuple[str, str, str], float]
    tops: dict[tuple[str, str, str], float]
    total: float


def _lay_out_lanes(
    keys: pd.Series, by: str, drawable: np.ndarray, left_days: np.ndarray, right_days: np.ndarray
) -> _Lanes:
    """Order the lanes, stack each lane's overlapping bars in rows, and make a lane taller the more rows it has."""
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
    return _Lanes(lanes, row_of, tracks_of, heights, tops, max(y, 1.0))


def _time_span(
    start: datetime | str | None,
    end: datetime | str | None,
    lefts: pd.Series,
    rights: pd.Series,
    drawable: np.ndarray,
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The time axis's span: ``start`` and ``end`` where given, else the span of the bars drawn."""
    lower = moment(start, "start") if start is not None else None
    upper = moment(end, "end") if end is not None else None
    if drawable.any():
        lower = lower if lower is not None else pd.Timestamp(lefts[drawable].min())
        upper = upper if upper is not None else pd.Timestamp(rights[drawable].max())
    return lower, upper


def _draw_gaps(
    ax: Axes, frame: pd.DataFrame, lower: pd.Timestamp, upper: pd.Timestamp, lanes: _Lanes
) -> bool:
    """Shade, in its lane, each gap :func:`usagekit.coverage` finds in ``[lower, upper)``; say whether any was."""
    patches = require_matplotlib("matplotlib.patches")
    parts = coverage(frame, lower, upper)
    gaps = parts[parts["part"] == "gap"]
    starts, ends = to_days(gaps["start"]), to_days(gaps["end"])
    drawn = False
    part: Any  # a row of the coverage frame (typed columns pandas-stubs cannot see)
    for part, x0, x1 in zip(gaps.itertuples(), starts, ends, strict=True):
        kind_type = "" if pd.isna(part.type) else str(part.type)
        lane = (str(part.account), str(part.kind), kind_type)
        if lane not in lanes.tops:
            continue
        ax.add_artist(  # limits are set below: add_patch's per-patch limit update is slow
            patches.Rectangle(
                (x0, lanes.tops[lane]),
                x1 - x0,
                lanes.heights[lane],
                facecolor=GAP_COLOR,
                alpha=0.28,
                edgecolor=GAP_COLOR,
                hatch="///",
                linewidth=0.0,
                zorder=0.5,
                gid=f"gap:{_lane_label(lane)}@{part.start.isoformat()}",
            )
        )
        drawn = True
    return drawn


def _draw_bars(
    ax: Axes,
    frame: pd.DataFrame,
    keys: pd.Series,
    drawable: np.ndarray,
    days: tuple[np.ndarray, np.ndarray],
    lanes: _Lanes,
    shortest: float,
) -> None:
    """Draw each drawable task as a bar in its lane's row, coloured by status, at least ``shortest`` days wide."""
    patches = require_matplotlib("matplotlib.patches")
    left_days, right_days = days
    statuses = frame["status"].astype("object")
    for i in np.flatnonzero(drawable):
        lane = keys.iloc[i]
        band = lanes.heights[lane] * 0.84 / lanes.tracks_of[lane]
        bottom = lanes.tops[lane] + lanes.heights[lane] * 0.08 + lanes.row_of[int(i)] * band
        color = status_color(str(statuses.iloc[i]))
        ax.add_artist(  # limits are set below: add_patch's per-patch limit update is slow
            patches.Rectangle(
                (left_days[i], bottom),
                max(right_days[i] - left_days[i], shortest),  # a one-day export is a bar, not a hairline
                band * 0.9,
                facecolor=color,
                edgecolor=color,
                linewidth=0.6,
                zorder=2,
                gid=f"task:{frame['account'].iloc[i]}/{frame['task_id'].iloc[i]}",
            )
        )


def _timeline_axes(
    ax: Axes, lower: pd.Timestamp | None, upper: pd.Timestamp | None, tz: str, lanes: _Lanes
) -> None:
    """Limits, the date axis, one labelled tick per lane and a line between lanes."""
    if lower is not None and upper is not None and lower < upper:
        pad = (to_day(upper) - to_day(lower)) * 0.01
        ax.set_xlim(to_day(lower) - pad, to_day(upper) + pad)
    ax.set_ylim(lanes.total, 0.0)
    date_axis(ax, tz)
    centers = [lanes.tops[lane] + lanes.heights[lane] / 2 for lane in lanes.order]
    ax.set_yticks(centers, [_lane_label(lane) for lane in lanes.order])
    ax.tick_params(axis="y", length=0)
    for boundary in list(lanes.tops.values())[1:]:
        ax.axhline(boundary, color="#dddddd", linewidth=0.6, zorder=0.2)
    _fit_lane_labels(ax, lanes.order, lanes.heights, lanes.total)


def _timeline_title(frame: pd.DataFrame, shown: int, view: str) -> str:
    """Whose export windows (runs) are drawn, how many tasks, and how many were left out for lack of times."""
    accounts = list(dict.fromkeys(str(a) for a in frame["account"].dropna()))
    what = "windows" if view == "windows" else "runs"
    title = f"Export {what} of {whose(accounts)}: {shown} task{'s' if shown != 1 else ''}"
    if not accounts:
        title = f"Export {what}: no tasks"
    left_out = len(frame) - shown
    if left_out:
        title += f" ({left_out} without {'a window' if view == 'windows' else 'times'} left out)"
    return title


def _timeline_legend(ax: Axes, statuses: pd.Series, gaps_drawn: bool, lanes: _Lanes) -> None:
    """The status legend beside the plot: each status met, the gap shading, and what 'type unknown' means."""
    patches = require_matplotlib("matplotlib.patches")
    met = [s for s in STATUSES if (statuses == s).any()]
    met += sorted({str(s) for s in statuses.dropna()} - set(STATUSES))
    handles = [
        patches.Patch(facecolor=status_color(s), edgecolor=status_color(s), label=STATUS_LABELS.get(s, s))
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
    if any(kind == "detail" and kind_type == UNKNOWN_TYPE for _, kind, kind_type in lanes.order):
        handles.append(
            patches.Patch(facecolor="none", edgecolor="none", label=f"type unknown: {UNKNOWN_TYPE_NOTE}")
        )
    legend_outside(ax, handles, title="status")


def plot_timeline(
    tasks: pd.DataFrame,
    *,
    view: str = "windows",
    by: str = "account",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    tz: str = "UTC",
    ax: Axes | None = None,
    now: datetime | str | None = None,
) -> Axes:
    """Draw export tasks as bars, one lane per account, kind and (detail exports) type; return the Axes.

    ``view="windows"``: a bar per task over the period its export covers, coloured by status, and the
    gaps that :func:`usagekit.coverage` finds in ``[start, end)`` shaded in each lane (``start`` and
    ``end`` default to the span of the windows drawn). ``view="runs"``: a bar per task from ``created``
    to ``updated``; a task not finished (any status but ``success``/``failed``) runs up to the moment
    the frame was listed, ``now`` when given, else ``tasks.attrs["listed_at"]`` (which :func:`usagekit.list_tasks` sets), or the
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
        raise ArgumentError(f"view must be 'windows' or 'runs', not {view!r}")
    if by not in _LANE_ORDERS:
        raise ArgumentError(f"by must be 'account' or 'kind', not {by!r}")
    tz = check_zone(tz)
    frame = _timeline_frame(tasks)
    if now is not None:  # the moment unfinished runs end, instead of the frame's listed_at
        frame.attrs["listed_at"] = moment(now, "now").isoformat()
    lefts, rights = _bar_ends(frame, view)
    drawable = (lefts.notna() & rights.notna()).to_numpy()
    days = (to_days(lefts), to_days(rights))
    keys = _lane_keys(frame)
    lanes = _lay_out_lanes(keys, by, drawable, *days)
    ax = new_axes(ax, 10.0, min(max(0.32 * lanes.total + 1.7, 2.6), 60.0))
    lower, upper = _time_span(start, end, lefts, rights, drawable)

    gaps_drawn = False
    if view == "windows" and lower is not None and upper is not None and lower < upper and len(frame):
        gaps_drawn = _draw_gaps(ax, frame, lower, upper, lanes)
    shortest = visible_width(lower, upper) if view == "windows" else 0.0  # runs keep their true length
    _draw_bars(ax, frame, keys, drawable, days, lanes, shortest)
    _timeline_axes(ax, lower, upper, tz, lanes)
    ax.set_title(_timeline_title(frame, int(drawable.sum()), view), fontsize="medium")
    axis = "Period exported" if view == "windows" else "Created to updated"
    ax.set_xlabel(f"{axis} ({zone_label(tz)})")
    _timeline_legend(ax, frame["status"].astype("object"), gaps_drawn, lanes)
    return ax


#: what a "detail, type unknown" lane holds, said beside the plot
UNKNOWN_TYPE_NOTE = "detail exports whose type\n(flow or vas) the listing\ndoes not give"
#: the narrowest a bar is drawn, as a share of the time axis
MIN_BAR_SHARE = 1 / 250


def visible_width(lower: pd.Timestamp | None, upper: pd.Timestamp | None) -> float:
    """The narrowest bar, in days, that still shows on an axis from ``lower`` to ``upper``.

    >>> visible_width(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-12-27", tz="UTC"))
    1.44
    >>> visible_width(None, None)
    0.0
    """
    if lower is None or upper is None or upper <= lower:
        return 0.0
    return (upper - lower) / pd.Timedelta("1D") * MIN_BAR_SHARE


def _fit_lane_labels(ax: Axes, lanes: list[Any], heights: dict[Any, float], total: float) -> None:
    """Lane labels no taller than their lanes: smaller type first, then every n-th label only."""
    if not lanes:
        return
    figure = cast("Figure", ax.figure)  # axes on a SubFigure (no get_figheight) were never supported
    points_per_unit = ax.get_position().height * figure.get_figheight() * 72.0 / total
    room = min(heights.values()) * points_per_unit * 0.8  # a label's line is about 1.2 times its size
    base = require_matplotlib("matplotlib").rcParams["ytick.labelsize"]
    size = require_matplotlib("matplotlib.font_manager").FontProperties(size=base).get_size_in_points()
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
