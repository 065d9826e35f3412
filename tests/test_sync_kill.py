"""A sync killed at random points, then run again, ends with the dataset an uninterrupted run makes.

A child process runs the sync against the test's sandbox (a real clock, so exports finish while the
child runs); the test kills it (SIGKILL: no cleanup code runs) several times at random moments, checks
after each kill that every partition on disk is whole and holds only rows its provenance vouches for,
then lets a last run finish.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from usagekit.dataset import read_dataset, read_manifest, read_partition
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import TYPE_METRICS, sync

NOW = "2026-11-04T08:00:00Z"
WORLD = {"seed": 7, "now": NOW, "accounts": 2, "tasks": 4, "faults": Faults(failed_exports=0.0)}
CHILD = """
import sys
from usagekit.sandbox.core import demo_accounts
from usagekit.syncing import sync

endpoint, dataset, cache, first = sys.argv[1:5]
accounts = demo_accounts(7, endpoint=endpoint, accounts=2)
report = sync(accounts, first, "2026-11", dataset, now="2026-11-04T08:00:00Z", cache_dir=cache, poll=0.2)
print(report)
sys.exit(report.exit_code)
"""
VALUES = ["account", "domain", "region", "metric", "start", "end", "value", "unit"]


def data(root: Path) -> pd.DataFrame:
    frame = read_dataset(root)[VALUES].astype({"account": "string", "domain": "string", "region": "string"})
    return frame.astype({"metric": "string", "unit": "string"}).sort_values(VALUES[:5]).reset_index(drop=True)


def assert_whole(root: Path) -> None:
    """Every partition readable, and every row inside what its provenance says it holds."""
    if not root.exists():
        return
    for entry in read_manifest(root)["partitions"].values():
        rows = read_partition(root, entry["account"], entry["month"])
        assert len(rows) == entry["rows"] and entry["provenance"] is not None
        inside = pd.Series(False, index=rows.index)
        for piece in entry["provenance"]["pieces"]:
            for a, b in piece["covers"]:
                metric = rows["metric"].isin(TYPE_METRICS[piece["type"]])
                inside |= metric & (rows["start"] >= pd.Timestamp(a)) & (rows["start"] < pd.Timestamp(b))
        assert inside.all()


def test_killed_syncs_then_one_more_equal_an_uninterrupted_sync(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = fresh_sandbox(**WORLD, clock="real", task_delay=0.6)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root, cache = tmp_path / "usage", tmp_path / "cache"
    command = [sys.executable, str(script), box.endpoint, str(root), str(cache)]
    rng = random.Random(16)
    kills = 0
    first = pd.Timestamp("2026-10-30")
    for _ in range(10):  # each try starts two days earlier, so it always has exports to make and read
        first -= pd.Timedelta(days=2)
        child = subprocess.Popen(
            [*command, f"{first:%Y-%m-%d}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(1.5, 4.5))  # imports take about a second: kill in planning, waiting or writing
        if child.poll() is None:
            child.kill()
            kills += 1
        child.communicate()
        assert_whole(root)
        if kills == 5:
            break
    assert kills >= 3
    last = subprocess.run([*command, f"{first:%Y-%m-%d}"], capture_output=True, text=True, timeout=120)
    assert last.returncode == 0, last.stdout + last.stderr
    assert_whole(root)

    calm = fresh_sandbox(**WORLD, task_delay=1)
    reference = sync(
        calm.accounts,
        f"{first:%Y-%m-%d}",
        "2026-11",
        tmp_path / "reference",
        now=lambda: calm.now,
        sleep=calm.advance,
        cache_dir=tmp_path / "cache2",
    )
    assert reference.complete
    pd.testing.assert_frame_equal(data(root), data(tmp_path / "reference"))
    until = pd.Timestamp("2026-11-03T16:00:00Z")
    since = (first - pd.Timedelta(hours=8)).tz_localize("UTC")  # Beijing midnight of the first day
    truth = [calm.truth.usage_over(a.name, since, until) for a in calm.accounts]
    assert data(root)["value"].sum() == sum(f["value"].sum() for f in truth)
