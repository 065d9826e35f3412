"""The demo's money: last Beijing month's bill lines from the sandbox, as FOCUS and as a cost check.

``focus.parquet`` holds :func:`usagekit.to_focus` of the demo's usage with the month's bill lines (FinOps
FOCUS 1.2 cost and usage, one row per line); ``cost_check.csv`` :func:`usagekit.check_cost` of them
against the shipped EXAMPLE price table (illustrative numbers, not Alibaba Cloud's prices).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["MONEY_FILES", "write_money_files"]

MONEY_FILES = ("focus.parquet", "cost_check.csv")


def write_money_files(box: Any, frame: pd.DataFrame, output: Path) -> Iterator[str]:
    """Write ``focus.parquet`` and ``cost_check.csv`` for the month before the sandbox's now; a line each."""
    from usagekit.billtypes import bill_types
    from usagekit.bss import bill_lines
    from usagekit.costcheck import check_cost
    from usagekit.focus import to_focus
    from usagekit.prices import example_prices
    from usagekit.times import month_bounds

    now = pd.Timestamp(box.now)
    month = (now.tz_convert("Asia/Shanghai").tz_localize(None).to_period("M") - 1).strftime("%Y-%m")
    accounts = list(box.accounts)
    # an account on a monthly method has one charge a month: one MONTHLY call instead of a call per day
    on = bill_types(accounts, *month_bounds(month))
    monthly = {str(r.account) for r in on.itertuples() if str(r.billing_cycle) == "month"}

    def lines_of(account: Any) -> pd.DataFrame:
        granularity = "monthly" if account.name in monthly else "daily"
        return bill_lines(account, month=month, granularity=granularity, now=now)

    with ThreadPoolExecutor(max(1, len(accounts)), thread_name_prefix="usagekit-bill-lines") as pool:
        parts = list(pool.map(lines_of, accounts))  # each account has a rate limit of its own
    if not parts or sum(len(p) for p in parts) == 0:
        yield f"  (focus.parquet and cost_check.csv skipped: no bill lines for {month})"
        return
    lines = pd.concat(parts, ignore_index=True)
    for column in ("account", "region", "item"):
        lines[column] = lines[column].astype(object).astype("category")
    to_focus(frame, bill=lines).to_parquet(output / "focus.parquet", index=False)
    yield f"  {output / 'focus.parquet'}  FinOps FOCUS 1.2 cost and usage, one row per bill line of {month}"
    check = check_cost(frame, lines, prices=example_prices(), accounts=accounts, now=now)
    _plain_money(check).to_csv(output / "cost_check.csv", index=False)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in check["verdict"].value_counts().items() if n)
    yield (
        f"  {output / 'cost_check.csv'}  the bill's money for {month} beside the EXAMPLE prices "
        f"({counts or 'no rows'})"
    )


def _plain_money(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its decimal columns as plain text (``0.00000000``, never ``0E-8``), for a CSV file."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.ArrowDtype) and "decimal" in str(out[column].dtype):
            out[column] = [None if v is None or v is pd.NA else f"{v:f}" for v in out[column]]
    return out
