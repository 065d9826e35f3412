"""How long the readers take to refuse hostile files, against reading a good workbook in the same run.

Prints one table, every figure measured in this run (median of ``--repeat`` fresh interpreters each,
the read alone timed inside the child, imports excluded): a good three-row workbook read by
``read_usage`` (the baseline), then each hostile case of ``tests/test_readers_hostile.py`` the
readers must refuse quickly: a single cell at XFD1048576, a cell at ZZ100000 under a forged dimension,
a row past Excel's last, and a PDF decompression bomb read by ``read_summary``; with each child's peak
memory (``VmHWM``). The readers' bound: every refusal within a second, under 300 MB.

Run: ``python benchmarks/bench_hostile.py`` (``--repeat 5``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_readers_hostile as cases  # the builders and the child harness of the tests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = [
            (
                "good workbook, 3 rows (baseline)",
                cases.book(
                    root / "good.xlsx",
                    [["Time", "Requests"], ["2024-03-02 00:00", 1], [datetime(2024, 3, 2, 0, 5), 2]],
                ),
                "usage",
            ),
            (
                "one cell at XFD1048576",
                cases.handmade(root / "x.xlsx", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'),
                "usage",
            ),
            (
                "a cell at ZZ100000, dimension A1:B3",
                cases.handmade(
                    root / "z.xlsx", '<row r="100000"><c r="ZZ100000"><v>1</v></c></row>', "A1:B3"
                ),
                "usage",
            ),
            (
                "a row past Excel's last",
                cases.handmade(root / "r.xlsx", '<row r="9000000"><c r="A9000000"><v>1</v></c></row>'),
                "usage",
            ),
            ("PDF decompression bomb (200 MiB)", cases._pdf_bomb(root / "bomb.pdf"), "summary"),
        ]
        rows = []
        for label, path, reader in files:
            outcomes = [cases.read_in_child(path, reader) for _ in range(args.repeat)]
            seconds = statistics.median(o["seconds"] for o in outcomes)
            peak = max(o["peak_mb"] for o in outcomes)
            rows.append((label, seconds, peak, outcomes[0]["error"] or "read"))
    baseline = rows[0][1]
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'seconds':>8}  {'ratio':>7}  {'peak MB':>7}  outcome")
    for label, seconds, peak, outcome in rows:
        print(f"{label:<{width}}  {seconds:>8.3f}  {seconds / baseline:>6.1f}x  {peak:>7.0f}  {outcome}")


if __name__ == "__main__":
    main()
