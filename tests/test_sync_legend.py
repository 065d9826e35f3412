"""The sync table ends with one line that says what each of its columns counts."""

from __future__ import annotations

import pandas as pd

from usagekit.sync_report import COUNTS, SyncReport


def test_the_sync_table_ends_with_one_line_naming_every_column() -> None:
    counts = pd.DataFrame(
        [["demo-shop", "2026-11", *range(len(COUNTS))]], columns=["account", "month", *COUNTS]
    )
    lines = str(SyncReport(counts, through="2026-11-03")).splitlines()
    header = lines[0].split()
    assert header == ["account", "month", *COUNTS]
    legend = lines[2]  # the header, one row, then the legend
    assert all(f"{column}" in legend for column in COUNTS), legend
    assert lines[3].startswith("complete through")
