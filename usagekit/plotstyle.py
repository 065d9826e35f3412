"""The look every plot shares: one palette, stable series colours, figures that show themselves, date axes.

Statuses have fixed colours (:data:`STATUS_COLORS`, Okabe-Ito: distinguishable with the common colour
vision deficiencies), gaps :data:`GAP_COLOR`, and each domain, region or account a colour that follows
its name from figure to figure (:func:`series_colors`). A figure made here is a plain matplotlib
``Figure`` (never pyplot: nothing registered, nothing to close) that renders itself as a PNG in Jupyter.
matplotlib comes from the ``plot`` extra through :func:`usagekit.optional.require`.

>>> series_colors(["a.example", "other"])["other"]
'#BBBBBB'
"""

from __future__ import annotations

import functools
import hashlib
import io
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.optional import require

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "GAP_COLOR",
    "MAX_LABEL",
    "NO_REGION_LABEL",
    "OTHER_COLOR",
    "OTHER_LABEL",
    "REST_COLOR",
    "REST_LABEL",
    "SERIES_PALETTE",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "UNKNOWN_STATUS_COLOR",
    "check_zone",
    "date_axis",
    "legend_outside",
    "new_axes",
    "require_matplotlib",
    "series_colors",
    "short_label",
    "status_color",
    "to_day",
    "to_days",
    "whose",
    "zone_label",
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
#: how a status reads in a legend
STATUS_LABELS = {"created": "created (running)"}
#: the longest name a lane label or legend entry shows before it is shortened with "…"
MAX_LABEL = 32


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


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, UNKNOWN_STATUS_COLOR)


# --- matplotlib, through the plot extra ----------------------------------------------------------------


def require_matplotlib(name: str) -> Any:
    return require(name, extra="plot", purpose="plotting")


@functools.cache
def _figure_class() -> type:
    base = require_matplotlib("matplotlib.figure").Figure

    class PlotFigure(base):  # type: ignore[misc, valid-type]
        """A plain Figure that shows itself as a PNG in Jupyter, with no pyplot (and no open figure) involved."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", metadata={"Software": None})
            return buffer.getvalue()

    PlotFigure.__module__ = __name__
    return PlotFigure


def new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    if ax is not None:
        from matplotlib.axes import Axes as MatplotlibAxes

        if not isinstance(ax, MatplotlibAxes):
            raise ArgumentError(
                f"ax must be a matplotlib Axes or None (a new figure), not {type(ax).__name__}"
            )
        return ax
    figure = _figure_class()(figsize=(width, height), layout="constrained")
    axes: Axes = figure.add_subplot()
    return axes


def check_zone(tz: str) -> str:
    if not isinstance(tz, str):
        raise ArgumentError(
            f"tz must be a time zone name such as 'UTC' or 'Asia/Shanghai', not {type(tz).__name__}"
        )
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ArgumentError(
            f"unknown time zone {tz!r}: use an IANA name such as 'UTC' or 'Asia/Shanghai'"
        ) from None
    return tz


def zone_label(tz: str) -> str:
    return "Beijing time, Asia/Shanghai" if tz in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else tz


def to_days(values: Any) -> np.ndarray:
    """Matplotlib date numbers of tz-aware times (NaT becomes NaN)."""
    series = pd.Series(pd.to_datetime(values, utc=True))
    naive = series.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return np.asarray(require_matplotlib("matplotlib.dates").date2num(naive), dtype=float)


def to_day(value: pd.Timestamp) -> float:
    return float(to_days([value])[0])


def date_axis(ax: Axes, tz: str) -> None:
    dates = require_matplotlib("matplotlib.dates")
    locator = dates.AutoDateLocator(tz=tz, minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator, tz=tz))


def whose(accounts: Sequence[str]) -> str:
    if not accounts:
        return ""
    if len(accounts) <= 3:
        return ", ".join(accounts)
    return f"{len(accounts)} accounts"


def short_label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def legend_outside(ax: Axes, handles: list[Any], title: str | None = None) -> None:
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
