"""Optional dependencies fail late and clearly: the error names the extra that installs the package."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from usagekit.errors import MissingExtraError, UsagekitError


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` raise ImportError


def test_reading_a_workbook_without_fastexcel_names_the_files_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import openpyxl

    from usagekit.readers import read_usage

    path = tmp_path / "export.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Time", "Domain", "Requests"])
    book.active.append(["2026-11-01 00:00:00", "a.example", 1])
    book.save(path)
    _hide(monkeypatch, "fastexcel")  # the engine the files extra installs
    with pytest.raises(MissingExtraError, match=r"usagekit\[files\]") as caught:
        read_usage(path, cache=False)
    assert isinstance(caught.value, UsagekitError) and isinstance(caught.value, ImportError)
    assert caught.value.extra == "files"


def test_writing_a_dataset_without_pyarrow_names_the_parquet_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from usagekit.dataset import to_dataset
    from usagekit.frames import tidy_frame

    _hide(monkeypatch, "pyarrow", "pyarrow.dataset", "pyarrow.parquet")
    frame = tidy_frame(
        {
            "account": ["a"],
            "metric": ["traffic"],
            "value": [1.0],
            "unit": ["byte"],
            "start": [pd.Timestamp("2026-11-01T00:00Z")],
            "end": [pd.Timestamp("2026-11-01T00:05Z")],
        }
    )
    with pytest.raises(MissingExtraError, match=r"usagekit\[parquet\]"):
        to_dataset(frame, tmp_path / "usage")


def test_the_sandbox_writers_name_the_sandbox_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from usagekit.sandbox.files import summary_frame, write_summary_pdf

    _hide(monkeypatch, "fpdf")
    summary = summary_frame(
        [{"item": "Traffic", "region": "CN", "period": "2026-11", "value": 1.0, "unit": "byte"}]
    )
    with pytest.raises(MissingExtraError, match=r"usagekit\[sandbox\]"):
        write_summary_pdf(summary, title="t")
