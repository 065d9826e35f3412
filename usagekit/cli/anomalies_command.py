"""``usagekit anomalies``: the periods of Beijing days whose per-domain usage leaves its baseline.

Reads the successful detail exports that list domains (``--create`` creates them for the window and the
lookback before it), runs :func:`usagekit.anomalies` and prints one line per period found. Exit codes:
0 nothing found, 3 findings, 1 a failure, 2 a wrong command line.

>>> beijing_day("2026-10-14")
Timestamp('2026-10-13 16:00:00+0000', tz='UTC')
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from typing import Any, TextIO

import pandas as pd

from usagekit.cli.accounts_option import add_account_options, chosen_accounts
from usagekit.cli.checks import CommandLineError, output_file

__all__ = ["beijing_day", "handler", "register"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_BEIJING = pd.Timedelta(hours=8)


def beijing_day(text: str) -> pd.Timestamp:
    """``YYYY-MM-DD``, a Beijing day, as the UTC moment it starts (argparse type: bad text is exit 2)."""
    if not _DAY.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a day; accepted: YYYY-MM-DD, a Beijing day (2026-10-14)"
        )
    try:
        day = pd.Timestamp(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a calendar day") from None
    return (day - _BEIJING).tz_localize("UTC")


def _duration(text: str) -> str:
    try:
        if pd.Timedelta(text) <= pd.Timedelta(0):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 56D or 1h") from None
    return text


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "anomalies",
        help="periods whose per-domain usage leaves its baseline (exit 3 when any is found)",
        description="Each account and domain's periods over Beijing days --from to --to (inclusive) whose "
        "usage leaves the median of the same period of the week over the lookback by more than the "
        "threshold (see usagekit.anomalies). Exit codes: 0 nothing found, 3 findings, 1 a failure, "
        "2 a wrong command line.",
    )
    parser.add_argument(
        "--from",
        dest="first",
        type=beijing_day,
        required=True,
        metavar="YYYY-MM-DD",
        help="first Beijing day",
    )
    parser.add_argument(
        "--to", dest="last", type=beijing_day, required=True, metavar="YYYY-MM-DD",
        help="last Beijing day (inclusive)",
    )  # fmt: skip
    parser.add_argument(
        "--metric", choices=("traffic", "bandwidth", "requests"), default="traffic",
        help="the metric to look at (default: traffic)",
    )  # fmt: skip
    parser.add_argument(
        "--freq", type=_duration, default="1h", metavar="DURATION", help="period length (default 1h)"
    )
    parser.add_argument(
        "--lookback", type=_duration, default="56D", metavar="DURATION", help="baseline history (default 56D)"
    )
    parser.add_argument("--threshold", type=_number, default=8.0, help="score to report (default 8)")
    parser.add_argument(
        "--min-spread",
        type=_number,
        default=0.1,
        metavar="FACTOR",
        help="spread floor, x median (default 0.1)",
    )
    parser.add_argument("--create", action="store_true", help="create per-domain exports of the window first")
    parser.add_argument("--output", metavar="FILE.csv", help="also write what was found as CSV")
    add_account_options(parser)
    parser.set_defaults(func=handler)


def _line(row: Any) -> str:
    local = (row.start.tz_convert("UTC") + _BEIJING).strftime("%Y-%m-%d %H:%M")
    domain = "(rest of account)" if pd.isna(row.domain) else row.domain
    return (
        f"{row.account}  {domain}  {local} Beijing  {row.metric} {row.value:.6g} "
        f"(expected {row.expected:.6g}, score {row.score:+.1f}, {row.direction})"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from usagekit.anomaly import anomalies, check_settings
    from usagekit.domainusage import domain_usage
    from usagekit.errors import ArgumentError

    if args.last < args.first:
        raise CommandLineError(
            f"--to {args.last + _BEIJING:%Y-%m-%d} is before --from {args.first + _BEIJING:%Y-%m-%d}"
        )
    target = output_file(args.output) if args.output is not None else None
    try:
        check_settings(args.metric, args.freq, args.lookback, args.threshold, args.min_spread)
    except ArgumentError as error:
        raise CommandLineError(str(error)) from None
    end = args.last + pd.Timedelta(days=1)
    begin = args.first - pd.Timedelta(args.lookback)
    type_ = "vas" if args.metric == "requests" else "flow"
    with chosen_accounts(args) as accounts:
        usage = domain_usage(accounts, begin, end, type=type_, create=args.create)
    if usage.empty:
        print(
            f"usagekit anomalies: no per-domain {type_} exports cover {begin:%Y-%m-%d} to {end:%Y-%m-%d} (UTC): "
            "run with --create to create them",
            file=err,
        )
        return 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = anomalies(
            usage, metric=args.metric, freq=args.freq, lookback=args.lookback,
            threshold=args.threshold, min_spread=args.min_spread,
        )  # fmt: skip
    for short in found.attrs.get("short_history", []):
        print(
            f"not checked (less history than {args.lookback}): {short['account']} {short['domain'] or '(rest of account)'}",
            file=err,
        )
    for warning in caught:
        if "not checked for anomalies" not in str(warning.message):
            print(f"usagekit anomalies: warning: {warning.message}", file=err)
    found = found[(found["start"] >= args.first) & (found["start"] < end)].reset_index(drop=True)
    for row in found.itertuples():
        print(_line(row), file=out)
    if target is not None:
        found.to_csv(target, index=False)
    print(f"{len(found)} anomal{'y' if len(found) == 1 else 'ies'} found", file=err)
    return 3 if len(found) else 0


def handler(args: argparse.Namespace) -> int:
    return run(args, sys.stdout, sys.stderr)
