"""Regenerate the README's showback image: ``python scripts/make_showback_image.py [FOLDER]``.

A frozen sandbox (seed 0 at 2026-11-20T08:00:00Z, two accounts, demo-media billed by ``day_bandwidth``),
one per-domain ``flow`` export of October 2026, its bill lines split by :func:`usagekit.allocate_cost`,
and ``plot_shares`` of demo-media into ``docs/images/showback.png``. The same seed gives the same image.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import usagekit
from usagekit.domainusage import domain_usage
from usagekit.showbackplot import plot_shares

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT / "docs" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    box = usagekit.Sandbox(
        seed=0, now="2026-11-20T08:00:00Z", clock="frozen", task_delay=0, accounts=2,
        bill_types={"demo-shop": "month_95", "demo-media": "day_bandwidth"},
    )  # fmt: skip
    with box:
        start, end = pd.Timestamp("2026-09-30T16:00Z"), pd.Timestamp("2026-10-31T16:00Z")
        usage = domain_usage(box.accounts, start, end, create=True)
        bill = usagekit.bill_lines(box.accounts, month="2026-10")
        split = usagekit.allocate_cost(usage, bill=bill, accounts=box.accounts)
    ax = plot_shares(split, "demo-media")
    ax.figure.savefig(folder / "showback.png", dpi=80, metadata={"Software": None})
    print(folder / "showback.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
