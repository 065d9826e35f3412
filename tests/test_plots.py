"""The plots draw what the frames hold: bars per task in their lane and status colour, gaps where coverage
finds them, top-N series with "other" and "rest of account", units from the data, the resample rules.

Expected values are written here by hand (times, colours, sums), or come from ``coverage`` and the
sandbox's truth, never from the plotting code itself. Figures are read back from the artists they hold.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import usagekit
from usagekit.frames import task_frame, tidy_frame
from usagekit.plots import plot_timeline, plot_usage, series_colors
from usagekit.windows import coverage

GREEN, VERMILLION, BLUE, GREY = "#009E73", "#D55E00", "#0072B2", "#999999"  # success, failed, created, other
EPOCH = pd.Timestamp("1970-01-01T00:00Z")


def day(text: str) -> float:
    """Matplotlib's date number of an instant, computed here: days since 1970-01-01 UTC."""
    return (pd.Timestamp(text) - EPOCH) / pd.Timedelta(days=1)


def bars(ax: Any, prefix: str) -> dict[str, Any]:
    return {p.get_gid().split(":", 1)[1]: p for p in ax.patches if (p.get_gid() or "").startswith(prefix)}


def lanes(ax: Any) -> list[tuple[str, float, float]]:
    """(label, top, bottom) of each lane: labels sit at lane centres, lanes stack from y = 0 down."""
    out, edge = [], 0.0
    for label, centre in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True):
        out.append((label.get_text(), edge, 2 * centre - edge))
        edge = 2 * centre - edge
    return out


def lane_of(ax: Any, patch: Any) -> str:
    y0, y1 = patch.get_y(), patch.get_y() + patch.get_height()
    found = [label for label, top, bottom in lanes(ax) if top - 1e-9 <= y0 and y1 <= bottom + 1e-9]
    assert len(found) == 1, (y0, y1, lanes(ax))
    return found[0]


def x_extent(patch: Any) -> tuple[float, float]:
    return patch.get_x(), patch.get_x() + patch.get_width()


def render(ax: Any) -> Any:
    """Draw the figure to PNG bytes (Agg) and return its renderer."""
    canvas = FigureCanvasAgg(ax.figure)
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    return canvas.get_renderer()


def assert_no_overlap(texts: list[Any], renderer: Any) -> int:
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
    for a, b in itertools.combinations(boxes, 2):
        apart = a.x1 <= b.x0 + 0.5 or b.x1 <= a.x0 + 0.5 or a.y1 <= b.y0 + 0.5 or b.y1 <= a.y0 + 0.5
        assert apart, f"tick labels overlap: {a} and {b}"
    return len(boxes)


def close_to(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


def same_days(got: Any, want: Any) -> bool:
    """Date numbers equal to a tenth of a second (np.allclose's relative default would allow hours)."""
    return bool(np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=0, atol=1e-6))


# --- the timeline ------------------------------------------------------------------------------------

TASKS = [
    # prod, detail flow: 1 covers Nov 1-3 (Beijing days), 2 failed over Nov 2-4
    {"account": "prod", "kind": "detail", "task_id": "1", "status": "success", "type": "flow",
     "created": "2026-11-06T01:00Z", "updated": "2026-11-06T01:10Z",
     "window_start": "2026-10-31T16:00Z", "window_end": "2026-11-02T16:00Z"},
    {"account": "prod", "kind": "detail", "task_id": "2", "status": "failed", "type": "flow",
     "created": "2026-11-06T02:00Z", "updated": "2026-11-06T02:03Z",
     "window_start": "2026-11-01T16:00Z", "window_end": "2026-11-03T16:00Z"},
    # prod, detail vas: 3 still running
    {"account": "prod", "kind": "detail", "task_id": "3", "status": "created", "type": "vas",
     "created": "2026-11-06T03:00Z", "updated": "2026-11-06T03:00Z",
     "window_start": "2026-11-02T16:00Z", "window_end": "2026-11-04T16:00Z"},
    # prod, summary: 4 covers the whole span
    {"account": "prod", "kind": "summary", "task_id": "4", "status": "success",
     "created": "2026-11-06T00:00Z", "updated": "2026-11-06T00:20Z",
     "window_start": "2026-10-31T16:00Z", "window_end": "2026-11-04T16:00Z"},
    # staging, detail of unknown type (a name usagekit did not write), Nov 3 only
    {"account": "staging", "kind": "detail", "task_id": "5", "status": "success",
     "created": "2026-11-05T00:00Z", "updated": "2026-11-05T00:01Z",
     "window_start": "2026-11-02T16:00Z", "window_end": "2026-11-03T16:00Z"},
]  # fmt: skip


@pytest.fixture
def tasks() -> pd.DataFrame:
    return task_frame(TASKS)


def test_windows_one_bar_per_task_in_its_lane_and_status_colour(tasks: pd.DataFrame) -> None:
    ax = plot_timeline(tasks)
    drawn = bars(ax, "task:")
    assert sorted(drawn) == ["prod/1", "prod/2", "prod/3", "prod/4", "staging/5"]
    expected = {
        "prod/1": ("prod · detail flow", GREEN, "2026-10-31T16:00Z", "2026-11-02T16:00Z"),
        "prod/2": ("prod · detail flow", VERMILLION, "2026-11-01T16:00Z", "2026-11-03T16:00Z"),
        "prod/3": ("prod · detail vas", BLUE, "2026-11-02T16:00Z", "2026-11-04T16:00Z"),
        "prod/4": ("prod · summary", GREEN, "2026-10-31T16:00Z", "2026-11-04T16:00Z"),
        "staging/5": ("staging · detail, type unknown", GREEN, "2026-11-02T16:00Z", "2026-11-03T16:00Z"),
    }
    for key, (lane, colour, start, end) in expected.items():
        patch = drawn[key]
        assert lane_of(ax, patch) == lane, key
        assert patch.get_facecolor() == to_rgba(colour), key
        assert same_days(x_extent(patch), (day(start), day(end))), key
    # lanes by account, then summary before detail, then flow, vas, unknown
    assert [label for label, _, _ in lanes(ax)] == [
        "prod · summary",
        "prod · detail flow",
        "prod · detail vas",
        "staging · detail, type unknown",
    ]
    # overlapping bars of one lane do not cover each other
    one, two = drawn["prod/1"], drawn["prod/2"]
    assert one.get_y() + one.get_height() <= two.get_y() or two.get_y() + two.get_height() <= one.get_y()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:4] == ["created (running)", "success", "failed", "gap: no successful export"]
    assert legend[4].startswith("type unknown: detail exports whose type")  # staging has such a lane
    assert "prod, staging" in ax.get_title() and "5 tasks" in ax.get_title()


def test_gaps_are_shaded_exactly_where_coverage_finds_them(tasks: pd.DataFrame) -> None:
    ax = plot_timeline(tasks, start="2026-10-30T16:00Z", end="2026-11-05T16:00Z")
    gaps = sorted((lane_of(ax, p), *x_extent(p)) for p in bars(ax, "gap:").values())
    written = sorted(
        [
            ("prod · summary", day("2026-10-30T16:00Z"), day("2026-10-31T16:00Z")),
            ("prod · summary", day("2026-11-04T16:00Z"), day("2026-11-05T16:00Z")),
            ("prod · detail flow", day("2026-10-30T16:00Z"), day("2026-10-31T16:00Z")),
            ("prod · detail flow", day("2026-11-02T16:00Z"), day("2026-11-05T16:00Z")),  # 2 failed
            ("prod · detail vas", day("2026-10-30T16:00Z"), day("2026-11-05T16:00Z")),  # 3 still running
            ("staging · detail, type unknown", day("2026-10-30T16:00Z"), day("2026-11-02T16:00Z")),
            ("staging · detail, type unknown", day("2026-11-03T16:00Z"), day("2026-11-05T16:00Z")),
        ]
    )
    assert len(gaps) == len(written)
    for got, want in zip(gaps, written, strict=True):
        assert got[0] == want[0] and close_to(got[1], want[1]) and close_to(got[2], want[2]), (got, want)
    for label, top, bottom in lanes(ax):  # a gap fills its lane's whole height
        for patch in (p for p in bars(ax, "gap:").values() if lane_of(ax, p) == label):
            assert close_to(patch.get_y(), top) and close_to(patch.get_y() + patch.get_height(), bottom)
    left, right = ax.get_xlim()
    assert left <= day("2026-10-30T16:00Z") and right >= day("2026-11-05T16:00Z")


def test_gaps_default_to_the_span_of_the_windows_drawn(tasks: pd.DataFrame) -> None:
    ax = plot_timeline(tasks)
    spans = sorted(x_extent(p) for p in bars(ax, "gap:").values())
    assert min(a for a, _ in spans) >= day("2026-10-31T16:00Z") - 1e-9
    assert max(b for _, b in spans) <= day("2026-11-04T16:00Z") + 1e-9
    assert not any(lane_of(ax, p) == "prod · summary" for p in bars(ax, "gap:").values())  # 4 covers it


def test_runs_end_at_the_listing_moment_never_the_wall_clock(tasks: pd.DataFrame) -> None:
    ax = plot_timeline(tasks, view="runs")
    drawn = bars(ax, "task:")
    assert same_days(x_extent(drawn["prod/1"]), (day("2026-11-06T01:00Z"), day("2026-11-06T01:10Z")))
    # no listing moment kept: the latest `updated` in the frame
    assert same_days(x_extent(drawn["prod/3"]), (day("2026-11-06T03:00Z"), day("2026-11-06T03:00Z")))
    listed = tasks.copy()
    listed.attrs["listed_at"] = "2026-11-06T05:30:00Z"
    ax = plot_timeline(listed, view="runs")
    drawn = bars(ax, "task:")
    assert same_days(x_extent(drawn["prod/3"]), (day("2026-11-06T03:00Z"), day("2026-11-06T05:30Z")))
    assert same_days(x_extent(drawn["prod/2"]), (day("2026-11-06T02:00Z"), day("2026-11-06T02:03Z")))
    assert not bars(ax, "gap:")
    again = plot_timeline(listed, view="runs")
    assert [x_extent(p) for p in bars(again, "task:").values()] == [x_extent(p) for p in drawn.values()]


def test_tasks_without_a_window_are_left_out_and_counted(tasks: pd.DataFrame) -> None:
    rows = [*TASKS, {"account": "prod", "kind": "summary", "task_id": "9", "status": "failed"}]
    ax = plot_timeline(task_frame(rows))
    assert "9" not in " ".join(bars(ax, "task:")) and "1 without a window left out" in ax.get_title()


def test_beijing_time_puts_the_day_ticks_at_beijing_midnight(tasks: pd.DataFrame) -> None:
    ax = plot_timeline(tasks, tz="Asia/Shanghai")
    render(ax)
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks
    for tick in ticks:  # 00:00 in Beijing is 16:00 UTC
        assert close_to((tick * 24) % 24, 16.0), tick
    assert "Asia/Shanghai" in ax.get_xlabel()
    ax = plot_timeline(tasks)
    render(ax)
    assert all(close_to((t * 24) % 24, 0.0) for t in ax.get_xticks())


def test_an_axes_given_is_drawn_on_and_returned_and_no_figure_is_left_open(tasks: pd.DataFrame) -> None:
    plt.close("all")
    figure = Figure()
    ax = figure.add_subplot()
    assert plot_timeline(tasks, ax=ax) is ax and len(bars(ax, "task:")) == 5
    own = plot_timeline(tasks)
    usage = plot_usage(usage_frame())
    assert own.figure is not usage.figure
    assert plt.get_fignums() == []  # nothing registered with pyplot, nothing to close


def test_bad_arguments_name_what_is_allowed(tasks: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'windows' or 'runs'"):
        plot_timeline(tasks, view="bars")
    with pytest.raises(ValueError, match="unknown time zone"):
        plot_timeline(tasks, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="traffic, bandwidth, requests"):
        plot_usage(usage_frame(), metric="latency")
    with pytest.raises(ValueError, match="finer than the data"):
        plot_usage(usage_frame(), freq="1min")


# --- tick labels at one task and at five hundred -----------------------------------------------------


def many_tasks(count: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [f"account-{i:02d}" for i in range(22)] + ["finance-team-with-a-rather-long-profile-name"]
    origin = pd.Timestamp("2026-08-20T16:00Z")
    rows = []
    for i in range(count):
        start = origin + pd.Timedelta(days=int(rng.integers(0, 80)))
        kind = str(rng.choice(["summary", "detail"]))
        rows.append(
            {
                "account": str(rng.choice(names)),
                "kind": kind,
                "task_id": str(1000 + i),
                "status": str(rng.choice(["success", "success", "failed", "created"])),
                "type": str(rng.choice(["flow", "vas"])) if kind == "detail" and rng.random() < 0.8 else None,
                "created": start + pd.Timedelta(days=int(rng.integers(1, 20))),
                "updated": start + pd.Timedelta(days=int(rng.integers(1, 20)), minutes=9),
                "window_start": start,
                "window_end": start + pd.Timedelta(days=int(rng.integers(1, 31))),
            }
        )
    return task_frame(rows)


@pytest.mark.parametrize("count", [1, 500])
@pytest.mark.parametrize("view", ["windows", "runs"])
def test_one_task_and_five_hundred_render_with_no_overlapping_tick_labels(count: int, view: str) -> None:
    frame = many_tasks(count)
    ax = plot_timeline(frame, view=view, tz="Asia/Shanghai")
    assert len(bars(ax, "task:")) == count
    renderer = render(ax)
    assert assert_no_overlap(ax.get_xticklabels(), renderer) >= 2
    shown = assert_no_overlap(ax.get_yticklabels(), renderer)
    lanes_drawn = len(ax.get_yticks())
    assert shown == lanes_drawn  # every lane named: the figure grows with its lanes
    if count == 500:
        assert lanes_drawn > 60
        sizes = {label.get_fontsize() for label in ax.get_yticklabels()}
        assert min(sizes) >= 6  # still legible
        assert any("…" in label.get_text() for label in ax.get_yticklabels())


def test_many_lanes_in_a_small_axes_given_thin_their_labels_instead_of_overlapping() -> None:
    figure = Figure(figsize=(6, 3))
    ax = figure.add_subplot()
    plot_timeline(many_tasks(500), ax=ax)
    renderer = render(ax)
    shown = assert_no_overlap(ax.get_yticklabels(), renderer)
    assert 0 < shown < len(ax.get_yticks())


# --- usage over time ---------------------------------------------------------------------------------


def usage_frame(values: dict[str | None, list[float]] | None = None, metric: str = "traffic") -> pd.DataFrame:
    """Five-minute rows from 2026-11-01T00:00Z, one list of values per domain (None: rest of account)."""
    values = values or {"a.example": [1.0, 2.0], "b.example": [3.0, 4.0]}
    unit = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}[metric]
    rows = []
    for domain, series in values.items():
        for i, value in enumerate(series):
            start = pd.Timestamp("2026-11-01T00:00Z") + pd.Timedelta(minutes=5 * i)
            rows.append(
                {"account": "prod", "task_id": "1", "domain": domain, "region": "CN", "metric": metric,
                 "start": start, "end": start + pd.Timedelta(minutes=5), "value": value, "unit": unit}
            )  # fmt: skip
    return tidy_frame(pd.DataFrame(rows))


def series(ax: Any) -> dict[str, Any]:
    return {p.get_gid().split(":", 1)[1]: p for p in ax.patches if (p.get_gid() or "").startswith("series:")}


def band(patch: Any) -> np.ndarray:
    """The height of a stacked band at each step."""
    data = patch.get_data()
    return np.asarray(data.values) - np.asarray(data.baseline)


GiB = 1024**3


def test_top_n_keeps_the_largest_domains_sums_the_rest_as_other_and_keeps_rest_of_account_apart() -> None:
    frame = usage_frame(
        {
            "a.example": [10 * GiB, 10 * GiB],  # total 20 GB
            "b.example": [4 * GiB, 8 * GiB],  # 12
            "c.example": [1 * GiB, 2 * GiB],  # 3
            "d.example": [2 * GiB, 2 * GiB],  # 4
            None: [5 * GiB, 1 * GiB],  # the rest of the account: never "other"
        }
    )
    ax = plot_usage(frame, top=2)
    drawn = series(ax)
    assert set(drawn) == {"a.example", "b.example", "other", "rest of account"}
    assert np.allclose(band(drawn["a.example"]), [10, 10])
    assert np.allclose(band(drawn["b.example"]), [4, 8])
    assert np.allclose(band(drawn["other"]), [3, 4])  # c + d
    assert np.allclose(band(drawn["rest of account"]), [5, 1])
    assert np.allclose(drawn["other"].get_data().values, [22, 23])  # the stack's top is the total
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["other", "rest of account", "b.example", "a.example"]  # top of the stack first
    assert ax.get_ylabel() == "Traffic per 5 minutes (GB)"
    assert "top 2 of 4 domains" in ax.get_title() and "prod" in ax.get_title()
    assert drawn["other"].get_facecolor() == to_rgba("#BBBBBB")
    assert same_days(
        drawn["a.example"].get_data().edges, [day("2026-11-01T00:00Z") + i / 288 for i in range(3)]
    )


def test_the_unit_in_the_axis_label_follows_the_size_of_the_data() -> None:
    cases = [
        ("traffic", 500 * 1024**2, "Traffic per 5 minutes (MB)", 500),
        ("traffic", 5 * GiB, "Traffic per 5 minutes (GB)", 5),
        ("traffic", 3 * 1024**4, "Traffic per 5 minutes (TB)", 3),
        ("bandwidth", 250e6, "Bandwidth (Mbit/s)", 250),
        ("bandwidth", 2e9, "Bandwidth (Gbit/s)", 2),
        ("requests", 900, "Requests per 5 minutes", 900),
        ("requests", 45_000, "Requests per 5 minutes (thousands)", 45),
        ("requests", 7e6, "Requests per 5 minutes (millions)", 7),
    ]
    for metric, value, label, shown in cases:
        ax = plot_usage(usage_frame({"a.example": [value, value / 2]}, metric=metric), metric=metric)
        assert ax.get_ylabel() == label, (metric, value)
        assert np.isclose(np.nanmax(series(ax)["a.example"].get_data().values), shown), (metric, value)


def test_resampling_sums_traffic_and_requests_and_takes_the_peak_of_bandwidth() -> None:
    hour = [float(v) for v in range(1, 13)] + [100.0]  # twelve points in the first hour, one in the next
    for metric, expected in (("traffic", [78, 100]), ("requests", [78, 100]), ("bandwidth", [12, 100])):
        ax = plot_usage(usage_frame({"a.example": hour}, metric=metric), metric=metric, freq="1h")
        drawn = series(ax)["a.example"]
        values = drawn.get_data().values if metric == "bandwidth" else band(drawn)
        assert np.allclose(values, expected), metric
        assert same_days(drawn.get_data().edges, [day("2026-11-01T00:00Z") + h / 24 for h in range(3)])
    assert ax.get_ylabel() == "Peak bandwidth per hour (bit/s)"


def test_daily_resampling_in_beijing_time_cuts_days_at_16_utc() -> None:
    rows = []
    for start, value in (("2026-11-01T15:55Z", 1.0), ("2026-11-01T16:00Z", 2.0), ("2026-11-02T09:00Z", 4.0)):
        moment = pd.Timestamp(start)
        rows.append({"account": "prod", "task_id": "1", "domain": "a.example", "metric": "traffic",
                     "start": moment, "end": moment + pd.Timedelta(minutes=5), "value": value, "unit": "byte"})  # fmt: skip
    frame = tidy_frame(pd.DataFrame(rows))
    beijing = series(plot_usage(frame, freq="1D", tz="Asia/Shanghai"))["a.example"]
    assert np.allclose(band(beijing), [1, 6])
    assert same_days(
        beijing.get_data().edges,
        [day("2026-10-31T16:00Z"), day("2026-11-01T16:00Z"), day("2026-11-02T16:00Z")],
    )
    utc = series(plot_usage(frame, freq="1D"))["a.example"]
    assert np.allclose(band(utc), [3, 4])


def test_periods_without_data_stay_empty_not_zero() -> None:
    rows = []
    for start in ("2026-11-01T00:00Z", "2026-11-01T03:00Z"):  # nothing from 01:00 to 03:00
        moment = pd.Timestamp(start)
        rows.append({"account": "prod", "task_id": "1", "domain": "a.example", "metric": "traffic",
                     "start": moment, "end": moment + pd.Timedelta(minutes=5), "value": 5.0, "unit": "byte"})  # fmt: skip
    drawn = series(plot_usage(tidy_frame(pd.DataFrame(rows)), freq="1h"))["a.example"]
    values = drawn.get_data().values
    assert np.allclose(values[[0, 3]], [5, 5]) and np.isnan(values[1]) and np.isnan(values[2])


def test_bandwidth_is_drawn_as_lines_and_regions_and_accounts_group_too() -> None:
    frame = usage_frame({"a.example": [2e6, 3e6], "b.example": [1e6, 1e6]}, metric="bandwidth")
    ax = plot_usage(frame, metric="bandwidth")
    assert not any(p.get_fill() for p in series(ax).values())
    assert np.allclose(series(ax)["a.example"].get_data().values, [2, 3])  # Mbit/s, not stacked
    by_region = series(plot_usage(frame, metric="bandwidth", by="region"))
    assert list(by_region) == ["CN"] and np.allclose(by_region["CN"].get_data().values, [3, 4])
    by_account = plot_usage(frame, metric="bandwidth", by="account")
    assert list(series(by_account)) == ["prod"]


def test_a_domain_keeps_its_colour_from_figure_to_figure() -> None:
    first = series(plot_usage(usage_frame({"a.example": [9.0], "b.example": [1.0]})))
    second = series(plot_usage(usage_frame({"a.example": [9.0], "zz.example": [2.0], "q.example": [1.0]})))
    assert first["a.example"].get_facecolor() == second["a.example"].get_facecolor()
    names = [f"d{i}.example" for i in range(12)]
    assert len(set(series_colors(names).values())) == 12  # distinct within a figure


def test_a_frame_without_the_metric_draws_a_note_instead_of_failing() -> None:
    ax = plot_usage(usage_frame(), metric="requests")
    assert not series(ax) and "no requests rows" in ax.texts[0].get_text()


# --- against the sandbox -----------------------------------------------------------------------------


def test_timeline_of_a_sandbox_listing_matches_coverage_and_the_truth(sandbox: Any) -> None:
    frame = usagekit.list_tasks(sandbox.accounts)
    truth = sum(len(sandbox.truth.tasks(a.name, "all")) for a in sandbox.accounts)
    ax = plot_timeline(frame, start="2026-09-30T16:00Z", end="2026-10-31T16:00Z", tz="Asia/Shanghai")
    assert len(bars(ax, "task:")) == len(frame) == truth
    parts = coverage(frame, "2026-09-30T16:00Z", "2026-10-31T16:00Z")
    gaps = parts[parts["part"] == "gap"]
    drawn = sorted((round(a, 6), round(b, 6)) for a, b in (x_extent(p) for p in bars(ax, "gap:").values()))
    want = sorted((round(day(str(g.start)), 6), round(day(str(g.end)), 6)) for g in gaps.itertuples())
    assert drawn == want and len(drawn) > 0
    renderer = render(ax)
    assert_no_overlap(ax.get_yticklabels(), renderer)
    assert_no_overlap(ax.get_xticklabels(), renderer)


def test_runs_of_a_sandbox_listing_end_running_tasks_when_list_tasks_says_it_listed(sandbox: Any) -> None:
    frame = usagekit.list_tasks(sandbox.accounts, progress=False)
    listed = pd.Timestamp(frame.attrs["listed_at"])
    assert listed == pd.Timestamp("2026-11-20T08:00:00Z")  # the frozen sandbox's time, not this machine's
    running = frame[frame["status"] == "created"]
    assert len(running) > 0
    drawn = bars(plot_timeline(frame, view="runs"), "task:")
    for row in running.itertuples():
        left, right = x_extent(drawn[f"{row.account}/{row.task_id}"])
        assert close_to(left, day(str(row.created))) and close_to(right, day(str(listed)))
    done = frame[frame["status"] == "success"].iloc[0]
    assert same_days(
        x_extent(drawn[f"{done.account}/{done.task_id}"]), (day(str(done.created)), day(str(done.updated)))
    )


def test_usage_plot_of_sandbox_truth_sums_to_the_truth(sandbox: Any) -> None:
    tasks = sandbox.truth.tasks("demo-shop", "detail")
    flow = tasks[(tasks["status"] == "success") & (tasks["type"] == "flow") & (tasks["domains"] == "all")]
    truth = sandbox.truth.usage(str(flow["task_id"].iloc[0]))
    ax = plot_usage(truth, metric="traffic", freq="1D", tz="Asia/Shanghai", top=1)
    unit = ax.get_ylabel().split("(")[1].rstrip(")")
    factor = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}[unit]
    top = max(series(ax).values(), key=lambda p: np.nanmax(p.get_data().values))
    drawn_total = np.nansum(np.asarray(top.get_data().values)) * factor  # stacked: the top band's upper edge
    expected = truth.loc[truth["metric"] == "traffic", "value"].sum()
    assert np.isclose(drawn_total, expected, rtol=1e-9)


def test_import_usagekit_loads_matplotlib_only_when_a_plot_is_asked_for_and_never_pyplot() -> None:
    code = (
        "import sys, usagekit; before = 'matplotlib' in sys.modules; "
        "f = usagekit.plot_timeline; "
        "from usagekit.frames import task_frame; f(task_frame([])); "
        "print(before, 'matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "False"]


def test_a_figure_made_here_shows_itself_in_jupyter_as_the_same_png_twice(tasks: pd.DataFrame) -> None:
    from IPython.core.formatters import DisplayFormatter

    first, _ = DisplayFormatter().format(plot_timeline(tasks, view="runs").figure)
    second, _ = DisplayFormatter().format(plot_timeline(tasks, view="runs").figure)
    assert first["image/png"].startswith(b"\x89PNG") and first["image/png"] == second["image/png"]


def test_an_export_made_by_account_is_titled_as_account_totals_not_zero_domains() -> None:
    ax = plot_usage(usage_frame({None: [1.0, 2.0]}, metric="requests"), metric="requests")
    assert ax.get_title() == "Requests: account totals, no domain listed · prod"
    assert set(series(ax)) == {"rest of account"}
