"""``usagekit demo`` run in-process: the files it writes, and the summary it prints, agree."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from _usage_truth import answer

from usagekit.cli import main
from usagekit.cli.checks import CommandLineError
from usagekit.cli.demo_command import MARKER, _prepare, human_bits, human_bytes, human_count, per_account
from usagekit.sandbox import Sandbox
from usagekit.tidy import read_dataset


@pytest.mark.slow
def test_demo_writes_its_files_and_prints_a_summary_that_agrees_with_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USAGEKIT_SANDBOX_NOW", raising=False)  # the real now, as a user runs it
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "user-cache"))
    output = tmp_path / "demo"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overlaps go into the summary, not into warnings
        assert main(["demo", "--output", str(output)]) == 0
    printed = capsys.readouterr()
    text = printed.out

    tasks = pd.read_csv(output / "tasks.csv", dtype={"task_id": str})
    assert len(tasks) == 240 and set(tasks["kind"]) == {"summary", "detail"}
    assert not tasks["download_url"].dropna().str.contains(r"\?").any()  # never a presigned query
    assert "Signature" not in (output / "tasks.csv").read_text()
    frame = read_dataset(output / "usage")
    assert set(frame["account"].astype(str)) == {"demo-shop", "demo-media", "demo-games"}
    assert list((output / "usage").glob("account=*/month=*/*.parquet"))
    assert (output / MARKER).exists()

    assert "accounts  3: demo-shop, demo-media, demo-games" in text
    counts = tasks["status"].value_counts()
    assert f"tasks     240: {counts['success']} success" in text
    successful = ((tasks["kind"] == "detail") & (tasks["status"] == "success")).sum()
    assert f"usage     {successful} successful detail exports read: {len(frame):,} rows" in text
    for row in per_account(frame).itertuples():
        line = next(line for line in text.splitlines() if line.strip().startswith(row.account))
        assert human_bytes(row.traffic) in line and human_bits(row.peak_bandwidth) in line
        assert human_count(row.requests) in line
    assert str(output / "tasks.csv") in text and str(output / "usage") in text
    seconds = float(re.search(r"done in ([0-9.]+) s", text)[1])
    assert seconds < 60
    assert printed.err == ""  # no progress bars when not on a terminal
    assert os.environ["USAGEKIT_CACHE_DIR"] == str(tmp_path / "user-cache")  # restored
    assert not (tmp_path / "user-cache").exists()  # the demo's downloads went to a temporary folder


def test_the_output_folder_is_never_one_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(CommandLineError, match="not empty"):
        _prepare(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    earlier = tmp_path / "earlier"
    _prepare(earlier)
    (earlier / "usage" / "account=x").mkdir(parents=True)
    (earlier / "tasks.csv").write_text("old")
    _prepare(earlier)  # an earlier demo's folder is reused, its old outputs removed
    assert not (earlier / "usage").exists() and not (earlier / "tasks.csv").exists()


def test_human_units() -> None:
    # one convention with the plots and notebooks: 1 GB = 1024**3 bytes, as Alibaba Cloud bills traffic
    assert human_bytes(999) == "999 B" and human_bytes(1_500_000) == "1.43 MB"
    assert human_bytes(1024**3) == "1.00 GB" and human_bytes(5 * 1024**4) == "5.00 TB"
    assert human_bits(2_000_000_000) == "2.00 Gbit/s"
    assert human_count(12_500) == "12.5 thousand" and human_count(3_200_000_000) == "3.2 billion"


@pytest.mark.slow
def test_the_demo_prints_each_accounts_true_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traffic, peak bandwidth and requests per account equal the sandbox's truth, worked out per export."""
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "user-cache"))
    now = "2026-11-20T08:00:00Z"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["demo", "--output", str(tmp_path / "demo"), "--now", now]) == 0
    text = capsys.readouterr().out
    with Sandbox(seed=0, now=now, clock="frozen") as twin:  # the demo's world: seed 0 at that moment
        done = pd.concat([twin.truth.tasks(a.name, "detail") for a in twin.accounts])
        done = done[done["status"] == "success"]
        expected = answer(twin, list(done["task_id"]))
    peaks = expected.totals[expected.totals.index.get_level_values("metric") == "bandwidth"]
    peaks = peaks.groupby(level=["account", "start"]).sum().groupby(level="account").max()
    traffic, requests = expected.per_account("traffic"), expected.per_account("requests")
    written = read_dataset(tmp_path / "demo" / "usage")
    on_disk = written[written["metric"] == "traffic"].groupby("account", observed=True)["value"].sum()
    assert {str(k): float(v) for k, v in on_disk.items()} == traffic  # exact, to the byte
    for account in ("demo-shop", "demo-media", "demo-games"):
        line = next(line for line in text.splitlines() if line.strip().startswith(account))
        assert human_bytes(traffic[account]) in line, (line, traffic[account])
        assert human_bits(float(peaks[account])) in line and human_count(requests[account]) in line
