"""The full sweep behind tests/test_sync_repair.py: 8 bytes flipped at 19 offsets of one partition file.

For each offset a copy of a synced dataset is damaged, then: ``read_dataset`` must refuse the file by
name (``CorruptDataError``), and the next ``sync`` must say ``repaired``, exit 0 and leave the dataset
equal to the sandbox's truth (``truth.usage_over``). One more case rewrites the file as valid Parquet
with its values doubled. Prints one line per case and exits 1 if any case fails.

Run: ``python scripts/sweep_sync_damage.py`` (about a second or two per offset on a quiet machine).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from usagekit.dataset import read_dataset
from usagekit.errors import CorruptDataError
from usagekit.sandbox import Faults, Sandbox
from usagekit.syncing import sync

VALUES = ["account", "domain", "region", "metric", "start", "end", "value", "unit"]
FIRST, TODAY = pd.Timestamp("2026-10-31T16:00:00Z"), pd.Timestamp("2026-11-03T16:00:00Z")
PARTITION = "account=demo-shop/month=2026-11/part-0.parquet"
OFFSETS = 19


def values(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[VALUES].astype({c: "string" for c in ("account", "domain", "region", "metric", "unit")})
    return frame.sort_values(VALUES[:5], na_position="first").reset_index(drop=True)


def damage_flip(file: Path, offset: int) -> None:
    data = bytearray(file.read_bytes())
    for i in range(offset, offset + 8):
        data[i] ^= 0xFF
    file.write_bytes(bytes(data))


def damage_values(file: Path) -> None:
    table = pq.read_table(file)
    doubled = pa.compute.multiply(table.column("value"), 2.0)
    pq.write_table(table.set_column(table.schema.get_field_index("value"), "value", doubled), file)


def main() -> int:
    failures = 0
    with (
        Sandbox(seed=7, now="2026-11-04T08:00:00Z", clock="frozen", accounts=1, tasks=2, task_delay=1,
                faults=Faults(failed_exports=0)) as box,
        tempfile.TemporaryDirectory() as folder,
    ):  # fmt: skip
        work = Path(folder)

        def run(root: Path) -> object:
            return sync(box.accounts, "2026-11", "2026-11", root, now=lambda: box.now, sleep=box.advance,
                        poll=1.0, cache_dir=work / "cache", progress=False)  # fmt: skip

        first = run(work / "synced")
        assert first.complete, str(first)
        truth = values(pd.concat([box.truth.usage_over(a.name, FIRST, TODAY) for a in box.accounts]))
        size = (work / "synced" / PARTITION).stat().st_size
        cases = [(f"flip @{offset}", offset) for offset in range(0, size - 8, (size - 8) // (OFFSETS - 1))]
        cases = [*cases[:OFFSETS], ("values x2", None)]
        for name, offset in cases:
            root = work / "case"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(work / "synced", root)
            file = root / PARTITION
            damage_values(file) if offset is None else damage_flip(file, offset)
            try:
                read_dataset(root)
                refused = False
            except CorruptDataError as error:
                refused = PARTITION in str(error)
            report = run(root)
            right = values(read_dataset(root)).equals(truth)
            said = [r["month"] for r in report.repaired] == ["2026-11"]  # type: ignore[attr-defined]
            ok = refused and said and right and report.exit_code == 0  # type: ignore[attr-defined]
            failures += not ok
            print(f"{name:<12} refused={refused} repaired={said} exit={report.exit_code} "  # type: ignore[attr-defined]
                  f"equal_to_truth={right} {'ok' if ok else 'FAILED'}")  # fmt: skip
    print(f"{len(cases) - failures} of {len(cases)} cases repaired to the truth")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
