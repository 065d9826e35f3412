"""Shared by the reader tests: workbooks written with openpyxl (another writer than the sandbox's) and the
tidy frames ``read_usage`` should return for them, built from rows written in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

from usagekit.frames import sort_tidy, tidy_frame

T0 = pd.Timestamp("2024-03-01T16:00:00Z")  # 2024-03-02 00:00 in Beijing
STEP = pd.Timedelta(minutes=5)
UNITS = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}


def tidy(rows: list[tuple[str | None, str | None, str, pd.Timestamp, float]]) -> pd.DataFrame:
    """The frame read_usage returns for (domain, region, metric, start, value) rows, in its order."""
    frame = tidy_frame(
        {
            "domain": [r[0] for r in rows],
            "region": [r[1] for r in rows],
            "metric": [r[2] for r in rows],
            "start": [r[3] for r in rows],
            "end": [r[3] + STEP for r in rows],
            "value": [float(r[4]) for r in rows],
            "unit": [UNITS[r[2]] for r in rows],
        },
        with_source=False,
    )
    return sort_tidy(frame)


def build(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """An xlsx written by openpyxl, one sheet per entry."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path
