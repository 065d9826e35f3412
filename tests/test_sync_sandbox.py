"""What the sandbox grew for sync: failed exports as a Faults rate, and truth over any period."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from usagekit.lifecycle import create_export, wait
from usagekit.sandbox import Faults, Sandbox
from usagekit.tidy import usage


@pytest.mark.parametrize(("rate", "expected"), [(0.0, {"success"}), (1.0, {"failed"})])
def test_failed_exports_follow_the_faults_rate(
    fresh_sandbox: Callable[..., Sandbox], rate: float, expected: set[str]
) -> None:
    box = fresh_sandbox(accounts=1, tasks=2, task_delay=1, faults=Faults(failed_exports=rate))
    account = box.accounts[0]
    made = [
        create_export(account, "detail", f"2026-11-{day:02d}T16:00:00Z", f"2026-11-{day + 1:02d}T16:00:00Z")
        for day in range(1, 13)
    ]
    done = wait(made, sleep=box.advance, progress=False)
    assert set(done["status"]) == expected


def test_the_default_still_fails_a_few_exports_and_the_same_ones_every_time(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    outcomes = []
    for _ in range(2):
        box = fresh_sandbox(accounts=1, tasks=2, task_delay=1)
        account = box.accounts[0]
        made = [
            create_export(account, "detail", "2026-11-01T16:00:00Z", "2026-11-02T16:00:00Z")
            for _ in range(30)
        ]
        done = wait(made, sleep=box.advance, progress=False)
        outcomes.append(done["status"].tolist())
    assert outcomes[0] == outcomes[1]
    assert 0 < outcomes[0].count("failed") < 10


def test_truth_over_a_period_equals_what_an_export_by_account_holds(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: object
) -> None:
    box = fresh_sandbox(accounts=3, tasks=2, task_delay=1, faults=Faults(failed_exports=0.0))
    account = box.accounts[2]  # the account with several billing regions
    start, end = "2026-11-17T16:00:00Z", "2026-11-19T16:00:00Z"
    made = [create_export(account, "detail", start, end, type=t) for t in ("flow", "vas")]
    done = wait(made, sleep=box.advance, progress=False)
    read = usage(done, cache_dir=tmp_path, progress=False)  # the workbooks, through the real reader
    truth = box.truth.usage_over(account.name, start, end)
    columns = ["domain", "region", "metric", "start", "end", "value", "unit"]
    key = ["region", "metric", "start"]
    got = read[columns].sort_values(key).reset_index(drop=True)
    want = truth[columns].sort_values(key).reset_index(drop=True)
    assert len(want) == 2 * 288 * (2 * 4 + 1)  # two days; traffic and bandwidth in 4 regions; requests
    pd.testing.assert_frame_equal(got, want, check_categorical=False)
    assert truth["task_id"].isna().all() and (truth["account"] == account.name).all()


def test_truth_over_a_period_stops_at_sandbox_now_and_lists_domains(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    box = fresh_sandbox(accounts=1, tasks=2)
    spec = box.account_spec("demo-shop")
    two = list(spec.domain_names[:2])
    frame = box.truth.usage_over("demo-shop", "2026-11-19T16:00:00Z", "2026-11-21T16:00:00Z", domains=two)
    assert frame["start"].max() == pd.Timestamp("2026-11-20T07:55:00Z")  # sandbox now is 08:00
    assert sorted(frame["domain"].dropna().unique()) == sorted(two)
    with pytest.raises(KeyError, match="no domains"):
        box.truth.usage_over(
            "demo-shop", "2026-11-19T16:00:00Z", "2026-11-20T16:00:00Z", domains=["x.example"]
        )
