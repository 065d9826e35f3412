"""``usagekit showback`` against a running sandbox: the month's bill lines split, exit codes, no traceback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from usagekit.bss import bill_lines
from usagekit.cli import main

SMALL = {"accounts": 1, "domains": (2, 3), "tasks": 3, "task_delay": 0}


@pytest.fixture
def box(fresh_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    running = fresh_sandbox(**SMALL, bill_types={"demo-shop": "day_bandwidth"})
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", running.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "7")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ACCOUNTS", "1")
    return running


def test_showback_splits_each_day_of_the_bill_and_exits_0(box: Any, tmp_path: Any, capsys: Any) -> None:
    out = tmp_path / "showback.csv"
    assert main(["showback", "--month", "2026-10", "--sandbox", "--create", "--output", str(out)]) == 0
    split = pd.read_csv(out, dtype={"amount": str})
    lines = bill_lines(box.accounts, month="2026-10")
    billed: dict[str, Decimal] = {}
    for date, net in zip(lines["billing_date"], lines["net"], strict=True):
        billed[date] = billed.get(date, Decimal(0)) + net
    got: dict[str, Decimal] = {}
    for period, amount in zip(split["period"], split["amount"], strict=True):
        got[period] = got.get(period, Decimal(0)) + Decimal(amount)
    assert got == billed and len(got) == 31  # every day of October, to the cent
    assert set(split["domain"]) == set(box.account_spec("demo-shop").domain_names)
    assert set(split["rule"]) == {"at_daily_peak"}
    assert "Traceback" not in capsys.readouterr().err


def test_a_mapping_that_leaves_a_domain_out_is_a_finding(box: Any, tmp_path: Any, capsys: Any) -> None:
    names = box.account_spec("demo-shop").domain_names
    teams = tmp_path / "teams.csv"
    teams.write_text(f"domain,team\n{names[0]},web\n")
    assert main(["showback", "--month", "2026-10", "--sandbox", "--create", "--mapping", str(teams)]) == 3
    out = capsys.readouterr().out
    assert "    web  " in out and "    unmapped  " in out


def test_a_wrong_command_line_is_exit_2_before_any_request(box: Any, tmp_path: Any, capsys: Any) -> None:
    before = len(box.requests)
    assert main(["showback", "--month", "2026-13", "--sandbox"]) == 2
    assert main(["showback", "--month", "2026-10", "--mapping", str(tmp_path / "none.csv"), "--sandbox"]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("domain,group\na,b\n")
    assert main(["showback", "--month", "2026-10", "--mapping", str(bad), "--sandbox"]) == 2
    assert main(["showback", "--month", "2026-10", "--method", "hour_count", "--sandbox"]) == 2
    assert len(box.requests) == before
    assert "Traceback" not in capsys.readouterr().err
