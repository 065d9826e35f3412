"""The bill check as a picture: computed beside billed per period, the periods that differ highlighted.

Matplotlib from the ``plot`` extra, as in :mod:`usagekit.plots`: ``ax=None`` makes a figure of its own
(never through pyplot) and the Axes is returned.

>>> import pandas as pd
>>> from usagekit.billcheck import CHECK_COLUMNS
>>> check = pd.DataFrame([{"account": "shop", "region": "CN", "method": "day_bandwidth",
...     "period": "2026-10-05", "period_start": pd.Timestamp("2026-10-04T16:00Z"),
...     "period_end": pd.Timestamp("2026-10-05T16:00Z"), "unit": "bit/s", "computed": 5e6,
...     "billed": 5.25e6, "verdict": "differs"}])
>>> ax = plot_bill_check(check, "shop")
>>> ax.get_ylabel(), [c.get_gid() for c in ax.collections]
('Mbit/s', ['computed', 'billed'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError
from usagekit.plotstyle import date_axis, legend_outside, new_axes, require_matplotlib, series_colors, to_days
from usagekit.units import scale_for

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["BILLED_COLOR", "COMPUTED_COLOR", "DIFFERS_COLOR", "plot_bill_check"]

COMPUTED_COLOR = "#0072B2"
BILLED_COLOR = "#000000"
#: the background of a period whose verdict is a finding (differs, incomplete, ...)
DIFFERS_COLOR = "#D55E00"
_ZONE = "Asia/Shanghai"
_OK = ("match", "not_billed_yet")


def _rows(check: pd.DataFrame, account: str) -> pd.DataFrame:
    if not isinstance(check, pd.DataFrame) or not {"account", "computed", "billed", "verdict"} <= set(
        check.columns
    ):
        raise ArgumentError("check must be a frame from usagekit.check_bill")
    rows = check[check["account"].astype(str) == str(account)]
    if rows.empty:
        known = sorted({str(a) for a in check["account"]})
        raise ArgumentError(
            f"the check holds no row of account {account!r} (accounts: {', '.join(known) or 'none'})"
        )
    return rows


def _scale(rows: pd.DataFrame) -> tuple[float, str]:
    unit = str(rows["unit"].iloc[0])
    largest = np.nanmax(np.r_[rows["computed"].to_numpy(float), rows["billed"].to_numpy(float), 0.0])
    scale = scale_for(unit, largest)
    return scale.factor, scale.unit


def _periods(ax: Axes, rows: pd.DataFrame, factor: float) -> list[Any]:
    """Days or hours: computed as bars per region, billed as a black tick on each, findings shaded."""
    patches = require_matplotlib("matplotlib.patches")
    lines = require_matplotlib("matplotlib.lines")
    starts, ends = to_days(rows["period_start"]), to_days(rows["period_end"])
    regions = [str(r) if pd.notna(r) else "no region" for r in rows["region"]]
    names = list(dict.fromkeys(regions))
    colors = series_colors(names) if len(names) > 1 else {names[0]: COMPUTED_COLOR}
    slot = np.array([names.index(region) for region in regions])
    width = (ends - starts) / (len(names) + 0.5)
    left = starts + width * (0.25 + slot)
    findings = ~rows["verdict"].astype(str).isin(_OK).to_numpy()
    spans = sorted({(a, b) for a, b, f in zip(starts, ends, findings, strict=True) if f})
    if spans:  # full-height shading: x in data, y in axes coordinates
        lows, highs = np.array(spans).T
        ax.bar(
            lows, 1.0, width=highs - lows, bottom=0.0, align="edge", color=DIFFERS_COLOR, alpha=0.18,
            linewidth=0, transform=ax.get_xaxis_transform(), gid="finding",
        )  # fmt: skip
    computed = rows["computed"].to_numpy(float) / factor
    billed = rows["billed"].to_numpy(float) / factor
    polygons = require_matplotlib("matplotlib.collections").PolyCollection
    for name in names:  # one collection of rectangles per region: thousands of hours draw in a blink
        mine = (slot == names.index(name)) & np.isfinite(computed)
        x0, x1, top = left[mine], (left + width)[mine], computed[mine]
        corners = np.stack([np.c_[x0, 0 * top], np.c_[x0, top], np.c_[x1, top], np.c_[x1, 0 * top]], axis=1)
        ax.add_collection(polygons(corners, facecolors=colors[name], alpha=0.8, linewidths=0, gid="computed"))
    shown = np.isfinite(billed)
    ax.hlines(
        billed[shown], left[shown], (left + width)[shown], color=BILLED_COLOR, linewidth=1.6, gid="billed"
    )
    ax.autoscale_view()
    handles = [
        patches.Patch(color=colors[n], alpha=0.8, label=f"computed ({n})" if len(names) > 1 else "computed")
        for n in names
    ]
    handles.append(lines.Line2D([], [], color=BILLED_COLOR, linewidth=1.6, label="billed"))
    handles.append(patches.Patch(color=DIFFERS_COLOR, alpha=0.18, label="differs / not checked"))
    date_axis(ax, _ZONE)
    return handles


def _monthly(ax: Axes, rows: pd.DataFrame, factor: float) -> list[Any]:
    """A monthly method: the computed and the billed point, marked at their times, labelled."""
    lines = require_matplotlib("matplotlib.lines")
    for _, row in rows.iterrows():
        region = str(row["region"]) if pd.notna(row["region"]) else "no region"
        ax.axvspan(
            *to_days([row["period_start"], row["period_end"]]),
            color=DIFFERS_COLOR if row["verdict"] not in _OK else "#FFFFFF",
            alpha=0.08,
            linewidth=0,
        )
        computed_at = (
            row.get("computed_at")
            if pd.notna(row.get("computed_at"))
            else row["period_start"] + (row["period_end"] - row["period_start"]) / 2
        )
        billed_at = row.get("billed_at") if pd.notna(row.get("billed_at")) else computed_at
        same = row["verdict"] == "match" and billed_at == computed_at  # one label for both
        for value, at, color, marker, word in (
            (row["computed"], computed_at, COMPUTED_COLOR, "o", "computed"),
            (row["billed"], billed_at, BILLED_COLOR, "D", "billed"),
        ):
            if pd.isna(value):
                continue
            x = to_days([at])[0]
            ax.plot(
                [x], [value / factor], marker=marker, color=color, markersize=8, linestyle="none", gid=word
            )
            ax.axhline(value / factor, color=color, linewidth=0.8, linestyle=":")
            if same and word == "billed":
                continue
            when = (pd.Timestamp(cast(pd.Timestamp, at)).tz_convert(_ZONE)).strftime("%m-%d %H:%M")
            late = at > row["period_start"] + (row["period_end"] - row["period_start"]) / 2
            ax.annotate(
                f"{'computed = billed' if same else word} {region}: {value / factor:,.3f} ({when})",
                (x, value / factor),
                textcoords="offset points",
                xytext=(
                    -8 if late else 8,
                    8 if value >= np.nanmax([row["computed"], row["billed"]]) else -14,
                ),
                ha="right" if late else "left",
                fontsize="small",
                color=color,
            )
    values = np.r_[rows["computed"].to_numpy(float), rows["billed"].to_numpy(float)] / factor
    values = values[np.isfinite(values)]
    if values.size:
        low, high = float(values.min()), float(values.max())
        pad = max(high - low, abs(high) * 0.02, 1e-12)
        ax.set_ylim(low - 1.5 * pad, high + 1.5 * pad)
    date_axis(ax, _ZONE)
    return [
        lines.Line2D(
            [], [], marker="o", color=COMPUTED_COLOR, linestyle="none", label="computed (its point's time)"
        ),
        lines.Line2D([], [], marker="D", color=BILLED_COLOR, linestyle="none", label="billed"),
    ]


def plot_bill_check(check: pd.DataFrame, account: str, *, ax: Axes | None = None) -> Axes:
    """Computed and billed per period for ``account`` of a :func:`usagekit.check_bill` frame.

    Days and hours as bars (computed, per region) with the billed quantity as a black tick on each; a
    monthly method as two marked points, the computed one at its billed point's time (the 95th point,
    the 4th peak) and the billed one at the usage point it equals where one does. Periods whose verdict
    is a finding (``differs``, ``incomplete_usage``, ...) are shaded. Times in Beijing time.
    Returns the Axes.
    """
    rows = _rows(check, account)
    ax = new_axes(ax, 9.0, 3.6)
    factor, unit = _scale(rows)
    monthly = rows["period"].astype(str).str.len().eq(7).all()
    handles = _monthly(ax, rows, factor) if monthly else _periods(ax, rows, factor)
    counts = rows["verdict"].astype(str).value_counts()
    summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    methods = ", ".join(sorted({str(m) for m in rows["method"]}))
    ax.set_title(f"{account} · {methods} · {summary}", fontsize="medium", loc="left")
    ax.set_ylabel(unit)
    ax.set_xlabel("Beijing time, Asia/Shanghai")
    if not monthly:
        ax.set_ylim(bottom=0)
    legend_outside(ax, handles)
    return ax
