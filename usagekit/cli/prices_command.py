"""``usagekit prices``: write the example price table, to start a table of your own from.

The table's numbers are illustrative, written in November 2026, NOT Alibaba Cloud's prices; the command
says so on stderr, and ``usagekit.read_csv`` / ``usagekit.compare_billing(frame, prices="prices.csv")``
read the file as it is.

    $ usagekit prices --example > prices.csv
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from usagekit.cli.checks import CommandLineError, output_file

__all__ = ["handler", "register"]


def register(subparsers: Any) -> None:
    """Add the ``prices`` subcommand."""
    parser = subparsers.add_parser(
        "prices",
        help="write the example price table (illustrative numbers, not Alibaba Cloud's) as CSV",
        description=(
            "Write the example price table shipped with usagekit as CSV, one row per tier (method, region, "
            "tier_from, tier_to, unit_price, currency): the shape compare_billing(prices=...) reads. Its numbers "
            "are illustrative, NOT Alibaba Cloud's prices: replace them with your contract's."
        ),
    )
    parser.add_argument(
        "--example", action="store_true", help="write the example table (the only table usagekit ships)"
    )
    parser.add_argument(
        "--output", default="-", metavar="PATH", help="a CSV file to write ('-', the default, is stdout)"
    )
    parser.set_defaults(func=handler)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the example table to ``--output`` (``out`` for ``-``) and a line saying what it is to ``err``."""
    from usagekit.prices import EXAMPLE_PRICES_NOTE, example_prices_file

    if not args.example:
        raise CommandLineError(
            "usagekit ships no real prices (no API returns them): --example writes the example table to start from"
        )
    target = output_file(args.output)
    text = example_prices_file().read_text(encoding="utf-8")
    if target is None:
        out.write(text)
        out.flush()
    else:
        target.write_text(text, encoding="utf-8")
    print(f"usagekit prices: {EXAMPLE_PRICES_NOTE}", file=err)
    return 0


def handler(args: argparse.Namespace) -> int:
    """Run ``usagekit prices``."""
    return run(args, sys.stdout, sys.stderr)
