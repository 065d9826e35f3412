"""Tidy usage through CSV and back, the way the README shows: the region code ``NA`` (North America) stays
a region, an empty cell stays missing."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pandas as pd
import pytest

from usagekit.cli import build_parser
from usagekit.cli.fetch_command import run
from usagekit.frames import sort_tidy, tidy_frame
from usagekit.sandbox import Sandbox

NOW = "2026-11-20T08:00:00Z"


def read_back(source: Path | io.StringIO) -> pd.DataFrame:
    """The README's round trip, word for word."""
    return tidy_frame(pd.read_csv(source, keep_default_na=False, na_values=[""], dtype={"task_id": str}))


def test_a_tidy_frame_round_trips_through_csv_with_north_america_kept() -> None:
    frame = tidy_frame(
        {
            "account": ["games", "games", "games"],
            "task_id": ["7", "7", "8"],
            "domain": ["a.example", None, "a.example"],
            "region": ["NA", "NA", None],
            "metric": ["traffic", "traffic", "requests"],
            "start": ["2026-11-01T16:00:00Z"] * 3,
            "end": ["2026-11-01T16:05:00Z"] * 3,
            "value": [750.0, 1500.0, 12.0],
            "unit": ["byte", "byte", "request"],
        }
    )
    text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")  # as `usagekit fetch` writes
    assert (
        text.splitlines()[1]
        == "games,7,a.example,NA,traffic,2026-11-01T16:00:00Z,2026-11-01T16:05:00Z,750.0,byte"
    )
    back = read_back(io.StringIO(text))
    pd.testing.assert_frame_equal(back, frame, check_categorical=False)
    assert back["region"].astype(object).tolist()[:2] == ["NA", "NA"] and pd.isna(back["region"][2])
    naive = pd.read_csv(io.StringIO(text))  # pandas' defaults read the text NA as missing
    assert naive["region"].isna().all()


def test_usagekit_fetch_csv_keeps_north_america(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "0")
    monkeypatch.setenv("USAGEKIT_SANDBOX_NOW", NOW)
    with Sandbox(seed=0, now=NOW, clock="frozen") as twin:  # the world `--sandbox` starts
        (games,) = [a.name for a in twin.accounts if "NA" in twin.account_spec(a.name).regions]
        tasks = twin.truth.tasks(games, "detail")
        flow = tasks[(tasks["status"] == "success") & (tasks["type"] == "flow")]
        chosen = flow.sort_values("window_end")["task_id"].head(1).tolist()
        truth = twin.truth.usage(chosen[0])
    assert "NA" in set(truth["region"].dropna().astype(str))  # the seeded world bills North America
    args = build_parser().parse_args(
        ["fetch", "--sandbox", "--task-id", *chosen, "--output", str(tmp_path / "u.csv")]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(args, io.StringIO(), io.StringIO()) == 0
    back = read_back(tmp_path / "u.csv")
    pd.testing.assert_frame_equal(sort_tidy(back), sort_tidy(truth), check_categorical=False)
    north = back[back["region"] == "NA"]
    assert len(north) == (truth["region"] == "NA").sum() > 0
