"""``usagekit bill``: does the bill of a Beijing month match the usage the exports carry?

Lists each account's successful detail exports of the month and reads them (cached); ``--create``
first creates and waits for exports by account of the days none covers. Then
:func:`usagekit.check_bill` puts what the service billed beside what the usage gives, and one line per
account and method says the verdict counts and the largest difference. ``--output FILE.csv`` writes
every row. Exit codes: 0 nothing found (every row ``match`` or ``not_billed_yet``), 3 findings
(anything differs, is incomplete, uncovered or unsupported), 1 a failure, 2 a wrong command line.

    $ usagekit bill --sandbox --month 2026-10 --create
    $ usagekit bill --profile prod --month 2026-10 --output bill_check.csv
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, TextIO

import pandas as pd

from usagekit.cli.accounts_option import add_account_options, chosen_accounts
from usagekit.cli.checks import month, output_file

__all__ = ["handler", "register", "summary_lines"]


def register(subparsers: Any) -> None:
    """Add the ``bill`` subcommand."""
    parser = subparsers.add_parser(
        "bill",
        help="does the bill of a month match the usage? (exit 3 when anything differs)",
        description="Put what the service billed for a Beijing month (DescribeCdnUserBillHistory) beside what "
        "the month's detail exports give, per account, method and period. Exit codes: 0 nothing found, "
        "3 findings, 1 a failure, 2 a wrong command line.",
    )
    parser.add_argument("--month", type=month, required=True, metavar="YYYY-MM", help="the Beijing month")
    parser.add_argument(
        "--create",
        action="store_true",
        help="create (and wait for) exports by account of the days none covers",
    )
    parser.add_argument("--output", metavar="FILE.csv", help="also write every row of the check as CSV")
    add_account_options(parser)
    parser.set_defaults(func=handler)


def summary_lines(check: pd.DataFrame) -> list[str]:
    """One line per account and method: verdict counts and the largest relative difference.

    >>> check = pd.DataFrame({"account": ["shop", "shop"], "method": ["day_bandwidth"] * 2,
    ...     "period": ["2026-10-01", "2026-10-02"], "region": ["CN", "CN"], "relative": [0.0, 0.05],
    ...     "verdict": ["match", "differs"]})
    >>> summary_lines(check)
    ['shop  day_bandwidth  1 match, 1 differs  largest difference +5.0000% (2026-10-02 CN)']
    """
    lines = []
    for (account, method), rows in check.groupby(["account", "method"], observed=True, sort=True):
        counts = rows["verdict"].astype(str).value_counts()
        order = ("match", "differs", "incomplete_usage", "not_billed_yet", "no_usage", "unsupported")
        words = ", ".join(f"{counts[v]} {v}" for v in order if v in counts)
        relative = rows["relative"].astype(float).abs()
        if relative.notna().any():
            worst = rows.loc[relative.idxmax()]  # type: ignore[call-overload]  # pandas-stubs: a Hashable label
            region = worst["region"] if pd.notna(worst["region"]) else "no region"
            words += f"  largest difference {worst['relative']:+.4%} ({worst['period']} {region})"
        lines.append(f"{account}  {method}  {words}")
    return lines


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from usagekit.billcheck import FINDINGS, check_bill
    from usagekit.billusage import month_usage

    target = output_file(args.output) if args.output is not None else None  # checked before any request
    with chosen_accounts(args) as accounts, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        usage = month_usage(accounts, args.month, create=args.create)  # now: the service's, by its replies
        check = check_bill(usage, accounts, month=args.month)
    for warning in caught:
        if warning.category.__name__ != "OverlapWarning":  # overlapping exports are expected and resolved
            print(f"usagekit bill: warning: {str(warning.message).splitlines()[0]}", file=err)
    uncovered = usage.attrs.get("uncovered", [])
    for gap in uncovered:
        hint = "" if args.create else " (--create exports it)"
        print(f"not covered by any export: {gap['account']} {gap['start']} to {gap['end']}{hint}", file=err)
    for line in summary_lines(check):
        print(line, file=out)
    if target is not None:
        check.to_csv(target, index=False)
    # a span no export covers cannot be checked: a finding, as a row that differs is
    findings = int(check["verdict"].astype(str).isin(FINDINGS).sum()) + len(uncovered)
    spans = f" ({len(uncovered)} uncovered span{'' if len(uncovered) == 1 else 's'})" if uncovered else ""
    print(f"{len(check)} rows checked, {findings} finding{'' if findings == 1 else 's'}{spans}", file=err)
    return 3 if findings else 0


def handler(args: argparse.Namespace) -> int:
    return run(args, sys.stdout, sys.stderr)
