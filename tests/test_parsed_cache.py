"""The parsed-frame cache on disk is verified like the downloads: a file changed after it was written
(valid Parquet with other values, or bytes flipped) is never served; it is parsed again from the export
file with a warning. Temporary files of writers that died are swept; a live writer's are not.

Expected values come from the workbooks written here (openpyxl) and from pyarrow reading the cache file
independently; a child process stands in for a writer (killed, or alive and blocked mid-write).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from _workbooks import build

import usagekit.readers.detail as detail
from usagekit.errors import CacheWarning
from usagekit.readers import cache_dir, clear_cache, read_usage


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real parses behind read_usage."""
    calls: list[int] = []
    real = detail.parse_workbook

    def counting(*args: Any, **kwargs: Any) -> pd.DataFrame:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(detail, "parse_workbook", counting)
    return calls


def workbook(tmp_path: Path, name: str = "c.xlsx") -> Path:
    rows = [["Time", "Requests"], ["2024-03-02 00:00", 1], ["2024-03-02 00:05", 2], ["2024-03-02 00:10", 4]]
    return build(tmp_path / name, {"s": rows})


def cached_file() -> Path:
    (path,) = cache_dir().glob("*.parquet")
    return path


def read_again_expecting_a_warning(path: Path, cached: Path) -> pd.DataFrame:
    clear_cache()  # as a new process would start: only the disk cache is left
    with pytest.warns(CacheWarning, match=rf"{cached.name}.*does not match the SHA-256") as caught:
        frame = read_usage(path)
    assert len(caught) == 1
    return frame


def test_values_changed_on_disk_in_valid_parquet_are_never_served(tmp_path: Path, parses: list[int]) -> None:
    path = workbook(tmp_path)
    assert read_usage(path)["value"].tolist() == [1.0, 2.0, 4.0]
    cached = cached_file()
    table = pq.read_table(cached).to_pandas()  # pyarrow, not the cache, reads and rewrites it
    assert table["value"].tolist() == [1.0, 2.0, 4.0]
    table["value"] *= 2
    table.to_parquet(cached, index=False, compression=None)
    assert pq.read_table(cached).to_pandas()["value"].tolist() == [2.0, 4.0, 8.0]  # valid, and wrong
    frame = read_again_expecting_a_warning(path, cached)
    assert frame["value"].tolist() == [1.0, 2.0, 4.0]
    assert len(parses) == 2  # parsed again from the workbook
    clear_cache()
    assert read_usage(path)["value"].tolist() == [1.0, 2.0, 4.0]  # the rewritten file is served, quietly
    assert len(parses) == 2


@pytest.mark.parametrize("where", [0.1, 0.35, 0.6, 0.9])
def test_flipped_bytes_are_never_served(tmp_path: Path, parses: list[int], where: float) -> None:
    path = workbook(tmp_path)
    expected = read_usage(path)
    cached = cached_file()
    data = bytearray(cached.read_bytes())
    at = int(len(data) * where)
    data[at : at + 8] = bytes(b ^ 0xFF for b in data[at : at + 8])
    cached.write_bytes(bytes(data))
    frame = read_again_expecting_a_warning(path, cached)
    pd.testing.assert_frame_equal(frame, expected)
    assert len(parses) == 2


def test_a_file_without_its_record_is_parsed_again_quietly(tmp_path: Path, parses: list[int]) -> None:
    """What an older usagekit left, or a writer killed between the file and its record: never trusted."""
    path = workbook(tmp_path)
    read_usage(path)
    (record,) = cache_dir().glob("*.json")
    record.unlink()
    clear_cache()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_usage(path)
    assert [w for w in caught if issubclass(w.category, CacheWarning)] == []
    assert frame["value"].tolist() == [1.0, 2.0, 4.0]
    assert len(parses) == 2
    assert len(list(cache_dir().glob("*.json"))) == 1  # recorded again


WRITER = r"""
import os, sys
from pathlib import Path
os.environ["USAGEKIT_CACHE_DIR"] = sys.argv[2]
real = os.replace

def replace(src, dst, *args, **kwargs):
    if Path(dst).suffix == ".parquet":  # the temporary file is whole and locked: stop right here
        print("WRITING", src, flush=True)
        sys.stdin.read()
    return real(src, dst, *args, **kwargs)

os.replace = replace
from usagekit.readers import read_usage
read_usage(sys.argv[1])
"""


def writer_blocked_before_its_rename(script: Path, workbook_path: Path) -> tuple[subprocess.Popen[str], Path]:
    child = subprocess.Popen(
        [sys.executable, str(script), str(workbook_path), os.environ["USAGEKIT_CACHE_DIR"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("WRITING "), line
    return child, Path(line.split(" ", 1)[1].strip())


def test_temporary_files_of_dead_writers_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    killed, stale = writer_blocked_before_its_rename(script, workbook(tmp_path, "a.xlsx"))
    killed.kill()
    killed.communicate()
    alive, live = writer_blocked_before_its_rename(script, workbook(tmp_path, "b.xlsx"))
    try:
        assert stale.parent == live.parent == cache_dir()
        assert stale.name.startswith(".") and live.name.startswith(".")
        for leftover in (stale, live):  # both older than the grace a new writer gets to take its lock
            os.utime(leftover, (leftover.stat().st_atime - 3600, leftover.stat().st_mtime - 3600))
        assert read_usage(workbook(tmp_path, "c.xlsx"))["value"].tolist() == [1.0, 2.0, 4.0]  # a write
        assert not stale.exists()
        assert live.exists()  # its writer still holds it
    finally:
        alive.kill()
        alive.communicate()
