"""``usagekit showback --month YYYY-MM``: each account's bill of a month split among domains or teams.

The amounts are the month's bill lines (``DescribeInstanceBill``), or ``--prices FILE.csv`` applied to
the billed quantities; the split follows the method in force (:func:`usagekit.allocate_cost`). Prints one
line per account, period total and domain (or team with ``--mapping``); ``--output`` writes the frame as
CSV. Exit codes: 0 everything attributed, 3 findings (an amount left ``unattributed`` or ``unmapped``),
1 a failure, 2 a wrong command line.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from typing import Any, TextIO

import pandas as pd

from usagekit.cli.accounts_option import add_account_options, chosen_accounts
from usagekit.cli.checks import CommandLineError, month, output_file
from usagekit.shares import RULES

__all__ = ["handler", "register"]

#: the methods a split has a rule for (usagekit.shares), and their _overseas forms
METHODS = (*RULES, *(f"{m}_overseas" for m in RULES))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "showback",
        help="a month's bill split among domains or teams (exit 3 when some stays unattributed)",
        description="Split each account's bill of a Beijing month among its domains (or teams, with "
        "--mapping) at the points the billing method took (see usagekit.allocate_cost). Exit codes: "
        "0 everything attributed, 3 an amount left unattributed or unmapped, 1 a failure, 2 a wrong "
        "command line.",
    )
    parser.add_argument(
        "--month", type=month, required=True, metavar="YYYY-MM", help="the Beijing month to split"
    )
    parser.add_argument("--mapping", metavar="TEAMS.csv", help="a CSV of domain,team: split among teams")
    parser.add_argument(
        "--prices", metavar="PRICES.csv", help="price the billed quantities instead of reading the bill lines"
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        metavar="BILLTYPE",
        help="the BillType to split by (default: the one in force)",
    )
    parser.add_argument(
        "--rule", choices=("at_billed_point", "top_band"), default="at_billed_point",
        help="how a peak-billed amount is split among domains (default: at_billed_point)",
    )  # fmt: skip
    parser.add_argument("--create", action="store_true", help="create per-domain exports of the month first")
    parser.add_argument("--output", metavar="FILE.csv", help="write the split as CSV")
    add_account_options(parser)
    parser.set_defaults(func=handler)


def _checked(args: argparse.Namespace) -> tuple[Any, Any]:
    from usagekit.errors import ArgumentError
    from usagekit.showback import read_mapping

    target = output_file(args.output) if args.output is not None else None
    mapping = None
    if args.mapping is not None:
        try:
            mapping = pd.DataFrame(list(read_mapping(args.mapping).items()), columns=["domain", "team"])
        except ArgumentError as error:
            raise CommandLineError(f"--mapping: {error}") from None
    if args.prices is not None:
        from usagekit.prices import read_prices

        try:
            read_prices(args.prices)
        except (ArgumentError, ValueError) as error:
            raise CommandLineError(f"--prices: {error}") from None
    return target, mapping


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from usagekit.domainusage import domain_usage
    from usagekit.showback import UNATTRIBUTED, UNMAPPED, allocate_cost
    from usagekit.times import month_bounds

    target, mapping = _checked(args)
    start, end = month_bounds(args.month)
    by = "team" if mapping is not None else "domain"
    with chosen_accounts(args) as accounts:
        usage = domain_usage(accounts, start, end, type="flow", create=args.create)
        if usage.empty:
            print(
                f"usagekit showback: no per-domain flow exports cover {args.month}: run with --create",
                file=err,
            )
            return 1
        source: dict[str, Any] = {"prices": args.prices}
        if args.prices is None:
            from usagekit.bss import bill_lines

            source = {"bill": bill_lines(accounts, month=args.month)}
        split = allocate_cost(
            usage, method=args.method, by=by, mapping=mapping, rule=args.rule, accounts=accounts, **source
        )
    name = "team" if by == "team" else "domain"
    for (account, period), rows in split.groupby(["account", "period"], observed=True, sort=True):
        total = sum(rows["amount"], Decimal(0))
        currency = rows["currency"].iloc[0] if len(rows) else ""
        print(
            f"{account}  {period}  {total} {currency}  ({rows['method'].iloc[0]}, {rows['rule'].iloc[0]})",
            file=out,
        )
        for row in rows.itertuples():
            print(f"    {getattr(row, name)}  {row.amount} {row.currency}  {row.share:.1%}", file=out)
    if target is not None:
        split.to_csv(target, index=False)
    left = split[split[name].astype(str).isin([UNATTRIBUTED, UNMAPPED]) & (split["amount"] != 0)]
    if len(left):
        print(f"{len(left)} amounts left unattributed or unmapped (see the lines above)", file=err)
    return 3 if len(left) else 0


def handler(args: argparse.Namespace) -> int:
    return run(args, sys.stdout, sys.stderr)
