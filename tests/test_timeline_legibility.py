"""plot_timeline explains its "type unknown" lane and draws a one-day export as a visible bar.

Expected values written by hand.
"""

from __future__ import annotations

import pandas as pd

from usagekit.frames import task_frame
from usagekit.timeline import plot_timeline


def tasks(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"account": "prod", "kind": "detail", "status": "success"}
    return task_frame([{**base, "task_id": str(i), **row} for i, row in enumerate(rows)])


def legend(ax: object) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]  # type: ignore[attr-defined]


def bar_width(ax: object, task_id: str) -> float:
    (bar,) = [p for p in ax.patches if p.get_gid() == f"task:prod/{task_id}"]  # type: ignore[attr-defined]
    return float(bar.get_width())


def test_a_detail_export_of_unknown_type_is_explained_in_the_legend() -> None:
    ax = plot_timeline(
        tasks([{"window_start": "2026-10-01T00:00Z", "window_end": "2026-10-02T00:00Z", "type": None}])
    )
    assert any(text.startswith("type unknown:") and "flow or vas" in text for text in legend(ax))


def test_no_note_when_every_detail_export_has_its_type() -> None:
    ax = plot_timeline(
        tasks([{"window_start": "2026-10-01T00:00Z", "window_end": "2026-10-02T00:00Z", "type": "flow"}])
    )
    assert not any(text.startswith("type unknown") for text in legend(ax))


def test_a_one_day_export_on_a_year_long_axis_is_wider_than_a_day() -> None:
    ax = plot_timeline(
        tasks(
            [
                {"window_start": "2026-01-01T00:00Z", "window_end": "2026-12-27T00:00Z", "type": "flow"},
                {"window_start": "2026-06-01T00:00Z", "window_end": "2026-06-02T00:00Z", "type": "flow"},
            ]
        )
    )
    assert bar_width(ax, "0") == 360.0  # a long export keeps its true width
    assert bar_width(ax, "1") == 360 / 250  # 1.44 days: 0.4 % of the axis, not a 1-day hairline
