"""read_usage on workbook shapes beyond one sheet of xlsx: a region per sheet, legacy .xls, blank cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlwt
from _workbooks import STEP, T0, build, tidy

from usagekit.errors import ReadError
from usagekit.readers import clear_cache, read_usage


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()


def _flow(domain_value: int) -> list[list[Any]]:
    return [
        ["时间", "域名", "流量(Byte)", "带宽(bps)"],
        ["2024-03-02 00:00:00", "a.example.com", domain_value, domain_value * 8],
    ]


def test_sheets_named_like_billing_regions_give_their_region(tmp_path: Path) -> None:
    path = build(tmp_path / "r.xlsx", {"中国内地": _flow(10), "Overseas": _flow(20), "AP1": _flow(30)})
    expected = tidy(
        [
            ("a.example.com", region, metric, T0, value * (8 if metric == "bandwidth" else 1))
            for region, value in (("中国内地", 10), ("Overseas", 20), ("AP1", 30))
            for metric in ("traffic", "bandwidth")
        ]
    )
    frame = read_usage(path)
    pd.testing.assert_frame_equal(frame.astype({"region": "string"}), expected.astype({"region": "string"}))


def test_same_rows_on_sheets_not_named_like_regions_are_still_refused(tmp_path: Path) -> None:
    path = build(tmp_path / "n.xlsx", {"March": _flow(10), "April": _flow(20)})
    with pytest.raises(ReadError, match=r"two different traffic values for a\.example\.com"):
        read_usage(path)


def test_a_legacy_xls_reads(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("明细")
    rows = [
        ["CDN usage"],
        [],
        ["Time", "Domain", "Billing Region", "Traffic(Byte)", "Bandwidth(bps)"],
        ["2024-03-02 00:00:00", "a.example.com", "CN", 100, 800],
        ["2024-03-02 00:05:00", "a.example.com", "CN", 2.5, 20],
        ["Total", None, None, 102.5, 820],
    ]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    path = tmp_path / "legacy.xls"
    book.save(str(path))
    expected = tidy(
        [
            ("a.example.com", "CN", "traffic", T0, 100),
            ("a.example.com", "CN", "traffic", T0 + STEP, 2.5),
            ("a.example.com", "CN", "bandwidth", T0, 800),
            ("a.example.com", "CN", "bandwidth", T0 + STEP, 20),
        ]
    )
    pd.testing.assert_frame_equal(read_usage(path), expected)


def test_blank_value_cells_are_counted_per_column(tmp_path: Path) -> None:
    path = build(
        tmp_path / "b.xlsx",
        {
            "s": [
                ["Time", "Traffic(Byte)", "Bandwidth(bps)"],
                ["2024-03-02 00:00:00", 5, None],
                ["2024-03-02 00:05:00", None, None],
                ["2024-03-02 00:10:00", 7, 9],
            ]
        },
    )
    frame = read_usage(path, cache=False)
    assert frame.attrs["blank_cells"] == {"Traffic(Byte)": 1, "Bandwidth(bps)": 2}
    assert len(frame) == 3


def test_cells_are_named_where_the_sheet_really_holds_them(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "s"
    sheet["C4"], sheet["D4"] = "Time", "Requests"
    sheet["C5"], sheet["D5"] = "2024-03-02 00:00", 1
    sheet["C6"], sheet["D6"] = "2024-03-02 00:05", "many"
    path = tmp_path / "c.xlsx"
    book.save(path)
    with pytest.raises(ReadError, match=r"row 6, column 'Requests': is not a number: 'many' \(cell D6\)"):
        read_usage(path)


def test_exact_floats_survive(tmp_path: Path) -> None:
    values = [1.23456789012345, 1e-300, 123456.123456789, 1 / 3]  # openpyxl writes repr(value)
    rows = [["Time", "Traffic(GB)"]] + [
        [f"2024-03-02 00:{5 * i:02d}", value] for i, value in enumerate(values)
    ]
    frame = read_usage(build(tmp_path / "f.xlsx", {"s": rows}), cache=False)
    assert frame["value"].tolist() == [value * 1024**3 for value in values]
