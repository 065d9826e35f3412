"""Every partition file is checked before it is used: the SHA-256 and size the manifest recorded, and the
Parquet page checksums. Damaged files are refused by name, never read as data.

The expected values are numbers written here; the damage is done with pyarrow and plain byte writes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usagekit.dataset import (
    UnverifiedPartitionWarning,
    check_partition,
    read_dataset,
    read_manifest,
    read_partition,
    to_dataset,
)
from usagekit.errors import CorruptDataError, ReadError
from usagekit.frames import tidy_frame

NOVEMBER = "account=shop/month=2026-11/part-0.parquet"


def frame() -> pd.DataFrame:
    """Two accounts, 2 x 288 points of November (Beijing) each, values 0..575 times 1,000."""
    starts = pd.date_range("2026-10-31T16:00:00Z", periods=576, freq="5min")
    rows = {
        "account": ["shop"] * 576 + ["media"] * 576,
        "task_id": ["7"] * 1152,
        "metric": ["requests"] * 1152,
        "start": list(starts) * 2,
        "end": list(starts + pd.Timedelta(minutes=5)) * 2,
        "value": [1000.0 * i for i in range(576)] * 2,
        "unit": ["request"] * 1152,
    }
    return tidy_frame(rows)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    to_dataset(frame(), tmp_path / "usage")
    return tmp_path / "usage"


def flip(file: Path, offset: int, count: int = 8) -> None:
    data = bytearray(file.read_bytes())
    for i in range(offset, offset + count):
        data[i] ^= 0xFF
    file.write_bytes(bytes(data))


def rewrite_with_changed_values(file: Path) -> None:
    """The same file, valid Parquet with the same schema and footer, every value doubled."""
    table = pq.read_table(file)
    doubled = pa.compute.multiply(table.column("value"), 2.0)
    pq.write_table(table.set_column(table.schema.get_field_index("value"), "value", doubled), file)


def test_the_manifest_records_each_files_sha256_and_size(dataset: Path) -> None:
    entries = read_manifest(dataset)["partitions"]
    assert sorted(entries) == ["media/2026-11", "shop/2026-11"]
    for entry in entries.values():
        data = (dataset / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
        assert entry["rows"] == 576
        assert check_partition(dataset, entry) is None
    on_disk = json.loads((dataset / "_manifest.json").read_text())
    assert on_disk["partitions"]["shop/2026-11"]["sha256"] == entries["shop/2026-11"]["sha256"]


@pytest.mark.parametrize("damage", ["flipped", "changed values", "truncated"])
def test_a_damaged_partition_is_refused_by_name(dataset: Path, damage: str) -> None:
    file = dataset / NOVEMBER
    recorded = read_manifest(dataset)["partitions"]["shop/2026-11"]
    if damage == "flipped":
        flip(file, file.stat().st_size // 3)
    elif damage == "truncated":
        file.write_bytes(file.read_bytes()[:-100])
    else:
        rewrite_with_changed_values(file)
    with pytest.raises(CorruptDataError, match=r"month=2026-11/part-0\.parquet") as caught:
        read_dataset(dataset)
    assert caught.value.path == str(file) and isinstance(caught.value, ReadError)
    with pytest.raises(CorruptDataError, match="sync rewrites it"):
        read_partition(dataset, "shop", "2026-11")
    # the refresh keeps the hash recorded at writing, not one computed from the damaged file
    assert read_manifest(dataset)["partitions"]["shop/2026-11"] == recorded
    assert "recorded" in (check_partition(dataset, recorded) or "")
    # the undamaged account is still read; filters pick the files that are checked
    media = read_dataset(dataset, filters=[("account", "=", "media")])
    assert media["value"].sum() == 1000.0 * sum(range(576))


def test_verify_false_reads_what_is_there(dataset: Path) -> None:
    rewrite_with_changed_values(dataset / NOVEMBER)
    shop = read_dataset(dataset, filters=[("account", "=", "shop")], verify=False)
    assert shop["value"].sum() == 2 * 1000.0 * sum(range(576))  # doubled: unchecked, as asked


def test_pages_are_checksummed_so_a_file_without_a_recorded_hash_still_fails_on_a_flipped_page(
    dataset: Path,
) -> None:
    (dataset / "_manifest.json").unlink()  # the hashes are lost: only the page checksums are left
    file = dataset / NOVEMBER
    metadata = pq.read_metadata(file)
    column = metadata.row_group(0).column(metadata.schema.names.index("value"))
    flip(file, column.data_page_offset + 40)  # inside the value column's first data page
    with pytest.warns(UnverifiedPartitionWarning), pytest.raises(CorruptDataError, match=str(dataset)):
        read_dataset(dataset)
    with pytest.raises(CorruptDataError, match="no SHA-256"):
        read_partition(dataset, "shop", "2026-11")


def test_a_writer_killed_before_its_move_leaves_the_old_file_trusted(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from usagekit.dataset import write_partition

    real_replace = os.replace

    def killed(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if Path(source).name.startswith(".part-0.parquet"):
            raise KeyboardInterrupt  # stands in for SIGKILL between the manifest write and the move
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", killed)
    shop = frame()[lambda f: f["account"] == "shop"]
    with pytest.raises(KeyboardInterrupt):
        write_partition(shop.assign(value=1.0), dataset, "shop", "2026-11")
    monkeypatch.setattr(os, "replace", real_replace)
    assert "previous" in json.loads((dataset / "_manifest.json").read_text())["partitions"]["shop/2026-11"]
    back = read_partition(dataset, "shop", "2026-11")
    assert back["value"].sum() == 1000.0 * sum(range(576))  # the old file, checked against its old hash
    assert "previous" not in read_manifest(dataset)["partitions"]["shop/2026-11"]


def test_reading_never_rewrites_the_manifest(dataset: Path) -> None:
    import shutil

    shutil.rmtree(dataset / "account=media")  # the manifest still lists it: a refresh would drop it
    before = (dataset / "_manifest.json").read_bytes()
    assert read_dataset(dataset)["value"].sum() == 1000.0 * sum(range(576))
    assert len(read_partition(dataset, "shop", "2026-11")) == 576
    assert (dataset / "_manifest.json").read_bytes() == before
