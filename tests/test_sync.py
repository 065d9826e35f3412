"""usagekit.sync through the sandbox: fill, idempotence, a deleted partition, a new day.

Expected values come from the sandbox's truth (``truth.usage_over``: what the accounts really used),
and the sandbox's request log says what was created and downloaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from usagekit.dataset import read_dataset, read_manifest
from usagekit.frames import BEIJING
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import sync

VALUES = ["account", "domain", "region", "metric", "start", "end", "value", "unit"]
FIRST = pd.Timestamp("2026-10-31T16:00:00Z")  # 2026-11-01 00:00 in Beijing
TODAY = pd.Timestamp("2026-11-03T16:00:00Z")  # the sandbox's now (2026-11-04T08:00Z) is on this Beijing day


def run(box: Sandbox, folder: Path, **options: Any) -> Any:
    return sync(
        box.accounts,
        options.pop("first_month", "2026-11"),
        options.pop("last_month", "2026-11"),
        folder / "usage",
        now=lambda: box.now,
        sleep=box.advance,
        poll=1.0,
        cache_dir=folder / "cache",
        **options,
    )


def truth(box: Sandbox, until: pd.Timestamp) -> pd.DataFrame:
    frames = [box.truth.usage_over(a.name, FIRST, until) for a in box.accounts]
    return _values(pd.concat([f.astype({"account": "string"}) for f in frames]))


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[VALUES].astype({c: "string" for c in ("account", "domain", "region", "metric", "unit")})
    return frame.sort_values(["account", "region", "metric", "start"], na_position="first").reset_index(
        drop=True
    )


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.glob("account=*/month=*/*.parquet"))
    }


def calls(box: Sandbox, since: int) -> list[dict[str, Any]]:
    return box.requests[since:]


@pytest.fixture
def box(fresh_sandbox: Callable[..., Sandbox]) -> Sandbox:
    # three demo accounts (one with four billing regions), a short history, exports that take a
    # moment and sometimes fail (Faults().failed_exports: 1 in 10). Seed 0: of the exports this test
    # creates, its first sync's demo-media export fails once and is recreated (seed 7's world, fixed on the
    # calendar since 5c7d140, fails none, so the recreate path went untested)
    return fresh_sandbox(seed=0, now="2026-11-04T08:00:00Z", tasks=6, task_delay=3)


def test_sync_fills_stays_put_restores_and_adds_a_day(box: Sandbox, tmp_path: Path) -> None:
    root = tmp_path / "usage"
    first = run(box, tmp_path)
    assert first.complete and first.exit_code == 0, str(first)
    assert first.through == "2026-11-03"
    assert any("recreated after it failed" in line for line in first.retried)  # the seed fails one
    got = _values(read_dataset(root))
    pd.testing.assert_frame_equal(got, truth(box, TODAY))
    assert got["start"].max() < TODAY  # the current Beijing day is never written
    manifest = read_manifest(root)
    assert sorted(manifest["partitions"]) == [
        f"{a.name}/2026-11" for a in sorted(box.accounts, key=lambda a: a.name)
    ]
    sandbox_tasks = pd.concat([box.truth.tasks(a.name, "detail") for a in box.accounts])
    status = dict(zip(sandbox_tasks["task_id"], sandbox_tasks["status"], strict=True))
    for entry in manifest["partitions"].values():
        for piece in entry["provenance"]["pieces"]:
            assert status[piece["task_id"]] == "success" and len(piece["sha256"]) == 64
    assert int(first.counts["created"].sum()) >= 1 and int(first.counts["written"].sum()) == len(got)

    # nothing new: nothing listed, created, downloaded or written
    before, seen = files(root), len(box.requests)
    second = run(box, tmp_path)
    assert second.complete and calls(box, seen) == [] and files(root) == before
    assert int(second.counts[["created", "fetched", "written"]].sum().sum()) == 0

    # one partition deleted: exactly that one comes back, from the exports that exist
    gone = root / "account=demo-media" / "month=2026-11"
    original = before["account=demo-media/month=2026-11/part-0.parquet"]
    for path in gone.iterdir():
        path.unlink()
    gone.rmdir()
    seen = len(box.requests)
    third = run(box, tmp_path)
    assert third.complete, str(third)
    assert [c for c in calls(box, seen) if c["action"].startswith("Create")] == []
    after = files(root)
    assert {k: v for k, v in after.items() if "demo-media/month=2026-11" not in k} == {
        k: v for k, v in before.items() if "demo-media/month=2026-11" not in k
    }
    assert "account=demo-media/month=2026-11/part-0.parquet" in after
    pd.testing.assert_frame_equal(_values(read_dataset(root)), truth(box, TODAY))
    assert original  # the restored file may differ in bytes (a newer export may give the rows), not in data

    # a day later: only that day is exported and added
    box.advance(86_400)
    seen = len(box.requests)
    fourth = run(box, tmp_path)
    assert fourth.complete and fourth.through == "2026-11-04", str(fourth)
    creates = [c for c in calls(box, seen) if c["action"].startswith("Create") and c["status"] == 200]
    assert creates and {(c["params"]["StartTime"], c["params"]["EndTime"]) for c in creates} == {
        ("2026-11-03T16:00:00Z", "2026-11-04T15:59:59Z")
    }
    assert set(files(root)) == set(after)
    pd.testing.assert_frame_equal(_values(read_dataset(root)), truth(box, TODAY + pd.Timedelta(days=1)))
    days = read_dataset(root)["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m-%d")
    assert days.max() == "2026-11-04"


def test_a_sync_never_runs_more_exports_at_once_than_asked(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = fresh_sandbox(
        now="2026-11-04T08:00:00Z", accounts=1, tasks=0, task_delay=3, faults=Faults(failed_exports=0)
    )
    report = run(box, tmp_path, max_in_flight=1)
    assert report.complete, str(report)
    creates = [c for c in box.requests if c["action"].startswith("Create") and c["status"] == 200]
    assert len(creates) == 2  # one month, two types
    times = [c["time"] for c in creates]
    assert len(set(times)) == 2  # one at a time: the second created only after the first had finished


def test_exports_of_other_domain_sets_do_not_count_and_a_dataset_keeps_its_scope(
    fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    box = fresh_sandbox(
        now="2026-11-04T08:00:00Z", accounts=1, tasks=0, task_delay=0, faults=Faults(failed_exports=0)
    )
    spec = box.account_spec("demo-shop")
    two = sorted(spec.domain_names[:2])
    report = run(box, tmp_path, domains=two, types=("vas",))
    assert report.complete, str(report)
    got = read_dataset(tmp_path / "usage")
    assert sorted(got["domain"].astype(str).unique()) == two
    want = box.truth.usage_over("demo-shop", FIRST, TODAY, domains=two, types=("vas",))
    assert got["value"].sum() == want["value"].sum()
    from usagekit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="same domains"):
        run(box, tmp_path, types=("vas",))
    other = run(box, tmp_path / "other", domains=two[0], types="vas")  # one domain as a string
    assert int(other.counts["created"].sum()) == 1  # the export of two domains does not cover one


def test_the_public_names_are_the_function_and_the_report_whatever_was_imported_first() -> None:
    import subprocess
    import sys

    code = "import usagekit.syncing, usagekit; print(callable(usagekit.sync), usagekit.SyncReport.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "SyncReport"]


def test_progress_bars_while_waiting_and_reading_and_tqdm_disable_silences_them(
    fresh_sandbox: Callable[..., Sandbox],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = fresh_sandbox(now="2026-11-04T08:00:00Z", accounts=1, tasks=2, task_delay=3)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    report = run(box, tmp_path, progress=True)
    assert report.exit_code == 0, str(report)
    err = capsys.readouterr().err
    assert "exports read" in err and "tasks done" in err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    run(box, tmp_path / "again", progress=True)
    assert "exports read" not in capsys.readouterr().err
