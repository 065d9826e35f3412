"""A damaged partition is never trusted: the next sync rewrites it from fresh exports, says ``repaired``,
and exits 0 only once the data equals the sandbox's truth (``truth.usage_over``).

Damage: 8 bytes flipped at a few offsets (the full sweep is ``scripts/sweep_sync_damage.py``), a file
rewritten as valid Parquet with changed values, an unreadable partition of the current month, and a
lost manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usagekit.dataset import read_dataset, read_manifest
from usagekit.errors import CorruptDataError
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import sync

VALUES = ["account", "domain", "region", "metric", "start", "end", "value", "unit"]
NOW = "2026-11-04T08:00:00Z"
FIRST = pd.Timestamp("2026-10-31T16:00:00Z")  # 2026-11-01 00:00 in Beijing
TODAY = pd.Timestamp("2026-11-03T16:00:00Z")  # the Beijing day of NOW: never written
NOVEMBER = "account=demo-shop/month=2026-11/part-0.parquet"


def run(box: Sandbox, folder: Path, **options: Any) -> Any:
    return sync(
        box.accounts, "2026-11", "2026-11", folder / "usage", now=lambda: box.now, sleep=box.advance,
        poll=1.0, cache_dir=folder / "cache", progress=False, **options,
    )  # fmt: skip


def values(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[VALUES].astype({c: "string" for c in ("account", "domain", "region", "metric", "unit")})
    return frame.sort_values(VALUES[:5], na_position="first").reset_index(drop=True)


def truth(box: Sandbox, until: pd.Timestamp = TODAY) -> pd.DataFrame:
    return values(pd.concat([box.truth.usage_over(a.name, FIRST, until) for a in box.accounts]))


def flip(file: Path, offset: int) -> None:
    data = bytearray(file.read_bytes())
    for i in range(offset, offset + 8):
        data[i] ^= 0xFF
    file.write_bytes(bytes(data))


def scale_values(file: Path, factor: float) -> None:
    """Valid Parquet, the same schema and footer (provenance included), every value times ``factor``."""
    table = pq.read_table(file)
    scaled = pa.compute.multiply(table.column("value"), factor)
    pq.write_table(table.set_column(table.schema.get_field_index("value"), "value", scaled), file)


@pytest.fixture
def box(fresh_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return fresh_sandbox(now=NOW, accounts=1, tasks=2, task_delay=1, faults=Faults(failed_exports=0))


def synced(box: Sandbox, folder: Path) -> Path:
    first = run(box, folder)
    assert first.complete and first.repaired == (), str(first)
    return folder / "usage"


def assert_repaired(report: Any, root: Path, box: Sandbox, partition: str, reason: str) -> None:
    assert report.complete and report.exit_code == 0, str(report)
    assert [(r["account"], r["month"]) for r in report.repaired] == [tuple(partition.split("/"))]
    assert reason in report.repaired[0]["reason"]
    assert f"repaired: {partition.replace('/', ' ')}: " in str(report)
    assert int(report.counts["repaired"].sum()) == 1
    pd.testing.assert_frame_equal(values(read_dataset(root)), truth(box))


@pytest.mark.parametrize("where", [0.1, 0.5, 0.93])
def test_flipped_bytes_are_refused_and_the_next_sync_repairs_them(
    box: Sandbox, tmp_path: Path, where: float
) -> None:
    root = synced(box, tmp_path)
    file = root / NOVEMBER
    flip(file, int((file.stat().st_size - 8) * where))
    with pytest.raises(CorruptDataError, match=r"month=2026-11/part-0\.parquet"):
        read_dataset(root)
    seen = len(box.requests)
    report = run(box, tmp_path)
    assert_repaired(report, root, box, "demo-shop/2026-11", "SHA-256")
    assert any(c["action"].startswith("Describe") for c in box.requests[seen:])  # exports listed again
    again = run(box, tmp_path)
    assert again.complete and again.repaired == () and int(again.counts["written"].sum()) == 0


def test_valid_parquet_with_changed_values_is_repaired_to_the_truth(box: Sandbox, tmp_path: Path) -> None:
    root = synced(box, tmp_path)
    scale_values(root / NOVEMBER, 10.9)
    with pytest.raises(CorruptDataError, match="month=2026-11"):
        read_dataset(root)
    assert_repaired(run(box, tmp_path), root, box, "demo-shop/2026-11", "recorded")


def test_a_damaged_current_month_does_not_stop_the_next_days_sync_nor_leak_into_it(
    box: Sandbox, tmp_path: Path
) -> None:
    root = synced(box, tmp_path)
    scale_values(root / NOVEMBER, 1.43)  # readable, wrong: its rows must not be copied into the rewrite
    box.advance(86_400)
    report = run(box, tmp_path)
    assert report.complete and report.through == "2026-11-04", str(report)
    assert [r["month"] for r in report.repaired] == ["2026-11"]
    pd.testing.assert_frame_equal(values(read_dataset(root)), truth(box, TODAY + pd.Timedelta(days=1)))

    (root / NOVEMBER).write_bytes(b"PAR1" + b"\0" * 4000 + b"PAR1")  # unreadable
    box.advance(86_400)
    report = run(box, tmp_path)
    assert report.complete and [r["month"] for r in report.repaired] == ["2026-11"], str(report)
    pd.testing.assert_frame_equal(values(read_dataset(root)), truth(box, TODAY + pd.Timedelta(days=2)))


def test_without_its_manifest_a_partition_is_compared_with_fresh_exports(
    box: Sandbox, tmp_path: Path
) -> None:
    root = synced(box, tmp_path)
    (root / "_manifest.json").unlink()
    scale_values(root / NOVEMBER, 2.0)  # wrong, and with it no hash to say so
    report = run(box, tmp_path)
    assert_repaired(report, root, box, "demo-shop/2026-11", "differ from fresh exports")
    assert all(e["sha256"] for e in read_manifest(root)["partitions"].values())


def test_a_sync_that_cannot_repair_exits_1_and_says_so(
    box: Sandbox, fresh_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    root = synced(box, tmp_path)
    flip(root / NOVEMBER, 100)
    failing = fresh_sandbox(now=NOW, accounts=1, tasks=0, task_delay=1, faults=Faults(failed_exports=1.0))
    report = run(failing, tmp_path)  # the same account and keys; every export it makes fails
    assert not report.complete and report.exit_code == 1
    assert report.repaired == ()
    assert any("cannot be trusted" in f["reason"] and f["month"] == "2026-11" for f in report.failures)
    with pytest.raises(CorruptDataError):
        read_dataset(root)  # still refused: nothing was copied out of it or written over it
    assert_repaired(run(box, tmp_path), root, box, "demo-shop/2026-11", "SHA-256")
