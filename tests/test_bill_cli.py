"""``usagekit bill`` on the command line, against a sandbox whose bill differs for one account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from usagekit.cli import main
from usagekit.sandbox import Faults, Sandbox

NOW = "2026-11-20T08:00:00Z"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(
        seed=0,
        now=NOW,
        accounts=2,
        tasks=6,
        task_delay=0,
        faults=Faults(failed_exports=0),
        bill_types={"demo-shop": "month_95", "demo-media": "day_bandwidth"},
        bill_drift={"demo-media": 1.05},
    ) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", box.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "0")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ACCOUNTS", "2")
    return box


def test_findings_exit_3_and_every_row_in_the_csv(
    env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bill_check.csv"
    assert main(["bill", "--sandbox", "--month", "2026-10", "--create", "--output", str(target)]) == 3
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("demo-media  day_bandwidth  31 differs  largest difference +5.0000%")
    assert lines[1].startswith("demo-shop  month_95  1 match")
    assert "Traceback" not in captured.err and "31 findings" in captured.err
    rows = pd.read_csv(target)
    assert len(rows) == 32
    media = rows[rows["account"] == "demo-media"]
    assert set(media["verdict"]) == {"differs"} and media["relative"].sub(0.05).abs().max() < 1e-9


def test_nothing_found_exits_0(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bill", "--profile", "demo-shop", "--month", "2026-10", "--create"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        line for line in captured.out.splitlines() if line.startswith("demo-shop")
    ]
    assert "0 findings" in captured.err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["bill", "--sandbox", "--month", "2026-13"], "2026-13"),
        (["bill", "--sandbox", "--month", "Oct 2026"], "Oct 2026"),
        (["bill", "--sandbox"], "--month"),
        (["bill", "--sandbox", "--month", "2026-10", "--output", "/no/such/folder/x.csv"], "--output"),
    ],
)
def test_wrong_command_line_exit_2_before_any_request(
    env: Sandbox, argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(env.requests)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert len(env.requests) == before


def test_a_check_that_cannot_be_made_exits_1(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    # history reaches back a year: the service refuses 2025-01, after the exports were listed
    assert main(["bill", "--sandbox", "--month", "2025-01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("usagekit: error:") and "Traceback" not in err


def test_days_no_export_covers_are_findings_even_when_no_row_can_be_checked(
    env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # November is the sandbox's current month: nothing is billed yet, and without --create the days no
    # export by account covers cannot be checked: that is a finding (exit 3), not "nothing found"
    assert main(["bill", "--profile", "demo-shop", "--month", "2026-11"]) == 3
    captured = capsys.readouterr()
    assert "not covered by any export: demo-shop" in captured.err and "(--create exports it)" in captured.err
    assert "uncovered" in captured.err.splitlines()[-1] and "Traceback" not in captured.err
