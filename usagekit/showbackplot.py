"""The plot of :func:`usagekit.allocate_cost`: an account's bill per period, stacked by domain or team.

>>> import pandas as pd
>>> from decimal import Decimal
>>> split = pd.DataFrame({"account": ["shop"] * 3, "period": ["2026-10-05", "2026-10-05", "2026-10-06"],
...     "domain": ["a.example", "b.example", "a.example"], "amount": [Decimal("2.50"), Decimal("1.00"), Decimal("4")],
...     "currency": ["CNY"] * 3, "method": ["day_bandwidth"] * 3, "rule": ["at_daily_peak"] * 3})
>>> ax = plot_shares(split, "shop")
>>> ax.get_title(), [float(p.get_height()) for p in ax.patches]
('shop: the bill by domain (day_bandwidth, at_daily_peak)', [2.5, 4.0, 1.0, 0.0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from usagekit.plotstyle import legend_outside, new_axes, series_colors, short_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_shares"]


def plot_shares(split: pd.DataFrame, account: str, *, ax: Axes | None = None) -> Axes:
    """``account``'s amount per period as bars stacked by domain (or ``team``), in the bill's currency.

    ``split`` is :func:`usagekit.allocate_cost`'s frame. Each domain keeps its colour across figures;
    ``unattributed`` and ``unmapped`` are named as they are. Returns the Axes (a new figure when ``ax``
    is None).
    """
    by = "team" if "team" in split.columns and "domain" not in split.columns else "domain"
    mine = split[split["account"].astype(str) == account]
    if mine.empty:
        raise ValueError(f"split holds no rows of account {account!r}")
    table = (
        mine.assign(amount=[float(a) for a in mine["amount"]], name=mine[by].astype(str))
        .pivot_table(index="period", columns="name", values="amount", aggfunc="sum", fill_value=0.0)
        .sort_index()
    )
    ax = new_axes(ax, max(6.0, 0.3 * len(table) + 4), 4)
    colors = series_colors(list(table.columns))
    bottom = np.zeros(len(table))
    positions = np.arange(len(table))
    handles = []
    for name in table.columns:
        values = table[name].to_numpy()
        handles.append(ax.bar(positions, values, bottom=bottom, color=colors[name], label=short_label(name)))
        bottom += values
    ax.set_xticks(positions, list(table.index), rotation=90 if len(table) > 6 else 0)
    ax.set_ylabel(str(mine["currency"].iloc[0]))
    method, rule = str(mine["method"].iloc[0]), str(mine["rule"].iloc[0])
    ax.set_title(f"{account}: the bill by {by} ({method}, {rule})")
    legend_outside(ax, handles)
    return ax
