"""Under injected faults the synced dataset is the same as without them, and the report names the retries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from usagekit.dataset import read_dataset
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import sync

VALUES = ["account", "domain", "region", "metric", "start", "end", "value", "unit"]


def data(root: Path) -> pd.DataFrame:
    frame = read_dataset(root)[VALUES].astype(
        {c: "string" for c in ("account", "domain", "region", "metric", "unit")}
    )
    return frame.sort_values(VALUES[:5]).reset_index(drop=True)


def test_faults_change_nothing_in_the_dataset_and_the_report_names_the_retries(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    faults = Faults(
        throttle=0.15, unavailable=0.05, error500=0.05, drop=0.05, truncate=0.05, failed_exports=0.5
    )
    # a world in which the seed fails some of the first exports, so the test sees them recreated
    world = {"now": "2026-11-03T08:00:00Z", "accounts": 2, "tasks": 4, "task_delay": 2}
    rough = fresh_sandbox(**world, faults=faults)
    reports = []
    for _ in range(6):  # each run recreates a failed export once; an unlucky window needs another run
        reports.append(
            sync(
                rough.accounts,
                "2026-11",
                "2026-11",
                tmp_path / "rough",
                now=lambda: rough.now,
                sleep=rough.advance,
                poll=1.0,
                cache_dir=tmp_path / "c1",
            )
        )
        if reports[-1].complete:
            break
    assert reports[-1].complete, str(reports[-1])
    retried = [line for report in reports for line in report.retried]
    assert any("recreated after it failed" in line for line in retried), retried
    assert any((" after " in line and "Create" in line) or "Describe" in line for line in retried), retried
    failed_runs = [r for r in reports if not r.complete]
    assert all(r.failures or r.missing for r in failed_runs)  # an incomplete run says what and why

    calm = fresh_sandbox(**world, faults=Faults(failed_exports=0.0))
    clean = sync(
        calm.accounts,
        "2026-11",
        "2026-11",
        tmp_path / "calm",
        now=lambda: calm.now,
        sleep=calm.advance,
        cache_dir=tmp_path / "c2",
    )
    assert clean.complete and clean.retried == ()
    pd.testing.assert_frame_equal(data(tmp_path / "rough"), data(tmp_path / "calm"))
