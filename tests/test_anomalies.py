"""anomalies on frames built here, and a spike planted in the sandbox found through the client and the CLI."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import usagekit
from usagekit.anomaly import ShortHistoryWarning
from usagekit.cli import main
from usagekit.errors import ArgumentError
from usagekit.frames import tidy_frame
from usagekit.sandbox import Sandbox, Spike

NOW = "2026-11-20T08:00:00Z"
SPIKE_START = "2026-11-14T03:00:00+08:00"  # 2026-11-13T19:00Z


def _hourly(
    values: np.ndarray, *, start: str = "2026-08-01T00:00:00Z", domain: str | None = "img.example"
) -> pd.DataFrame:
    """Hours of ``values`` (bytes per hour), as twelve equal 5-minute points each."""
    hours = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    starts = np.repeat(hours, 12) + pd.to_timedelta(np.tile(np.arange(12) * 5, len(hours)), unit="min")
    return tidy_frame(
        {"account": "shop", "task_id": "1", "domain": domain, "region": "CN", "metric": "traffic",
         "start": starts, "end": starts + pd.Timedelta(minutes=5), "value": np.repeat(values / 12, 12),
         "unit": "byte"}
    )  # fmt: skip


def test_a_rise_and_a_drop_against_the_same_hour_of_earlier_weeks() -> None:
    # nine weeks of 1 GB every hour, each hour of the week its own level (so the baseline must be the
    # same hour of the week, not the day's); in week nine one hour at 3x its level, another at 10 %.
    weeks = 9
    level = np.tile(np.arange(1.0, 169.0), weeks) * 12e8
    values = level.copy()
    values[-100] *= 3
    values[-50] *= 0.1
    found = usagekit.anomalies(_hourly(values))
    hours = pd.date_range("2026-08-01", periods=len(values), freq="h", tz="UTC")
    assert found["start"].tolist() == [hours[-100], hours[-50]]
    assert found["direction"].tolist() == ["up", "down"]
    assert found["expected"].tolist() == [level[-100], level[-50]]
    # spread = 0.1 x the median (the samples are equal, their MAD 0): (3 - 1) / 0.1 = 20, (0.1 - 1) / 0.1 = -9
    assert found["score"].round(9).tolist() == [20.0, -9.0]
    assert found.columns.tolist() == [
        "account", "domain", "metric", "start", "end", "value", "expected", "score", "direction",
    ]  # fmt: skip
    assert (found["end"] - found["start"]).eq(pd.Timedelta(hours=1)).all()


def test_the_spread_floor_keeps_small_wiggles_quiet() -> None:
    weeks = 9
    values = np.full(168 * weeks, 1e9)
    values[-10] *= 1.5  # +50 %: a score of 5 against the floored spread, under the default threshold 8
    assert usagekit.anomalies(_hourly(values)).empty
    found = usagekit.anomalies(_hourly(values), min_spread=0.01)
    assert found["score"].round(9).tolist() == [50.0]


def test_less_history_than_the_lookback_says_so_instead_of_alarming() -> None:
    values = np.full(168 * 5, 1e9)
    values[-3] *= 20
    with pytest.warns(ShortHistoryWarning, match="img.example"):
        found = usagekit.anomalies(_hourly(values))
    assert found.empty
    assert found.attrs["short_history"][0]["domain"] == "img.example"
    assert usagekit.anomalies(_hourly(values), lookback="28D")["direction"].tolist() == ["up"]


def test_bad_arguments_are_argument_errors() -> None:
    usage = _hourly(np.ones(10))
    with pytest.raises(ArgumentError, match="not list"):
        usagekit.anomalies([1, 2])  # type: ignore[arg-type]
    for kwargs in (
        {"metric": "bytes"},
        {"freq": "7min"},
        {"lookback": "10D"},
        {"threshold": -1},
        {"freq": "x"},
    ):
        with pytest.raises(ArgumentError):
            usagekit.anomalies(usage, **kwargs)


def _domain(**kwargs: Any) -> str:
    """The first domain of demo-shop with traffic in the test sandbox's world."""
    spec = Sandbox(seed=7, now=NOW, clock="frozen", **kwargs).account_spec("demo-shop")
    return next(d.name for d in spec.domains if not d.idle)


SMALL = {"accounts": 1, "domains": (2, 3), "tasks": 3}


def test_a_spike_is_real_traffic_in_the_truth_and_the_bill(fresh_sandbox: Any) -> None:
    domain = _domain(**SMALL)
    spike = Spike(account="demo-shop", domain=domain, start=SPIKE_START, hours=6, factor=8.0)
    plain = fresh_sandbox(**SMALL, bill_types={"demo-shop": "hour_flow"})
    spiked = fresh_sandbox(**SMALL, bill_types={"demo-shop": "hour_flow"}, spikes=[spike])
    window = ("2026-11-13T16:00:00Z", "2026-11-14T16:00:00Z")
    before = plain.truth.usage_over("demo-shop", *window, domains=[domain])
    after = spiked.truth.usage_over("demo-shop", *window, domains=[domain])
    inside = (after["start"] >= pd.Timestamp("2026-11-13T19:00Z")) & (
        after["start"] < pd.Timestamp("2026-11-14T01:00Z")
    )
    ratio = after["value"] / before["value"]
    assert inside.sum() == 6 * 12 * 3  # traffic, bandwidth, requests
    assert ratio[inside].between(7.99, 8.01).all() and (ratio[~inside] == 1).all()
    # the bill: the hour 2026-11-14T05 Beijing (21:00Z) is the account's traffic in that hour, spike included
    hour = spiked.truth.usage_over(
        "demo-shop", "2026-11-13T21:00:00Z", "2026-11-13T22:00:00Z", types=("flow",)
    )
    billed = spiked.truth.billed("demo-shop", "hour_flow", "2026-11-14T05")
    expected = hour.loc[hour["metric"] == "traffic", "value"].sum()
    assert float(billed["quantity"].sum()) == expected
    unspiked = plain.truth.billed("demo-shop", "hour_flow", "2026-11-14T05")
    assert float(billed["quantity"].sum()) > float(unspiked["quantity"].sum())


def test_a_planted_spike_is_found_through_the_sandbox(fresh_sandbox: Any) -> None:
    domain = _domain(**SMALL)
    spike = Spike(account="demo-shop", domain=domain, start=SPIKE_START, hours=6, factor=8.0)
    box = fresh_sandbox(**SMALL, task_delay=0, spikes=[spike])
    from usagekit.domainusage import domain_usage

    start, end = pd.Timestamp("2026-10-30T16:00Z"), pd.Timestamp("2026-11-14T16:00Z")
    usage = domain_usage(box.accounts, start, end, create=True)
    assert set(usage["domain"].dropna().astype(str)) == set(box.account_spec("demo-shop").domain_names)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortHistoryWarning)
        found = usagekit.anomalies(usage, lookback="14D")
    expected = pd.date_range("2026-11-13T19:00Z", periods=6, freq="h")
    assert found["domain"].astype(str).tolist() == [domain] * 6
    assert found["start"].tolist() == list(expected)
    assert (found["direction"] == "up").all() and (found["value"] / found["expected"]).between(6, 10).all()


def _cli_sandbox(fresh_sandbox: Any, monkeypatch: pytest.MonkeyPatch, spikes: list[Spike]) -> Sandbox:
    box = fresh_sandbox(**SMALL, task_delay=0, spikes=spikes)
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", box.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "7")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ACCOUNTS", "1")
    return box


def test_the_cli_finds_the_spike_and_exits_3(
    fresh_sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Any
) -> None:
    domain = _domain(**SMALL)
    spike = Spike(account="demo-shop", domain=domain, start=SPIKE_START, hours=6, factor=8.0)
    _cli_sandbox(fresh_sandbox, monkeypatch, [spike])
    out = tmp_path / "found.csv"
    args = [
        "anomalies",
        "--from",
        "2026-11-14",
        "--to",
        "2026-11-14",
        "--lookback",
        "14D",
        "--sandbox",
        "--create",
    ]
    assert main([*args, "--output", str(out)]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and all(domain in line and "up" in line for line in lines)
    assert lines[0].startswith(f"demo-shop  {domain}  2026-11-14 03:00 Beijing  traffic")
    assert len(pd.read_csv(out)) == 6


def test_the_cli_exits_0_without_a_spike_and_2_or_1_on_bad_input(
    fresh_sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _cli_sandbox(fresh_sandbox, monkeypatch, [])
    assert (
        main(
            [
                "anomalies",
                "--from",
                "2026-11-14",
                "--to",
                "2026-11-14",
                "--lookback",
                "14D",
                "--sandbox",
                "--create",
            ]
        )
        == 0
    )
    assert "0 anomalies found" in capsys.readouterr().err
    assert main(["anomalies", "--from", "2026-13-01", "--to", "2026-11-14"]) == 2
    assert main(["anomalies", "--from", "2026-11-14", "--to", "2026-11-13", "--sandbox"]) == 2
    assert (
        main(
            [
                "anomalies",
                "--from",
                "2026-11-14",
                "--to",
                "2026-11-14",
                "--lookback",
                "3D",
                "--sandbox",
                "--create",
            ]
        )
        == 2
    )
    assert main(["anomalies", "--from", "2026-03-01", "--to", "2026-03-02", "--sandbox"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--create" in err


def test_domain_less_rows_beside_domain_rows_are_not_a_series() -> None:
    # an account's remainder (domain NA) that is 2 GB where per-domain exports overlap an export by account
    # and the whole 6 GB elsewhere is no steady series: only the domain is checked, and it is flat
    weeks = 9
    domain = np.full(168 * weeks, 1e9)
    rest = np.full(168 * weeks, 2e9)
    rest[-24:] = 6e9
    both = pd.concat([_hourly(domain), _hourly(rest, domain=None)], ignore_index=True)
    assert usagekit.anomalies(both).empty
    alone = usagekit.anomalies(_hourly(rest, domain=None))  # an account with totals only keeps them
    assert len(alone) == 24 and alone["domain"].isna().all()
    # and the plot draws what was checked: the domain alone beside the rest, the account's total alone
    legend = [
        t.get_text()
        for t in usagekit.plot_anomalies(both, usagekit.anomalies(both), "shop").get_legend().get_texts()
    ]
    assert legend == ["img.example"]
    legend = [
        t.get_text()
        for t in usagekit.plot_anomalies(_hourly(rest, domain=None), alone, "shop").get_legend().get_texts()
    ]
    assert legend == ["rest of account", "anomaly (up)"]
