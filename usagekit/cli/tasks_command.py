"""``usagekit tasks``: list the export tasks of some accounts as a table, CSV, JSON or Parquet.

Accounts are the discovered profiles (``--profile`` picks some by name) or, with ``--sandbox``, the demo
accounts of an in-process sandbox (seed and time from ``USAGEKIT_SANDBOX_SEED`` / ``USAGEKIT_SANDBOX_NOW``).
An account that fails is named on stderr and the exit code is 1; the others are still written. Download
URLs are written without their query string, as in the task frame.

    $ usagekit tasks --sandbox --kind detail --status success
    $ usagekit tasks --profile prod --since 2026-11-01 --format csv --output tasks.csv
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from usagekit.cli.accounts_option import add_account_options, chosen_accounts
from usagekit.cli.checks import CommandLineError, iso_time, output_file, since_until
from usagekit.errors import ConfigurationError

__all__ = ["handler", "register"]

FORMATS = ("table", "csv", "json", "parquet")
#: the statuses the service documents (a listing keeps any other value it meets, as it comes)
STATUSES = ("created", "success", "failed")


def register(subparsers: Any) -> None:
    """Add the ``tasks`` subcommand."""
    parser = subparsers.add_parser(
        "tasks",
        help="list export tasks (table, CSV, JSON or Parquet)",
        description="List the summary and detail export tasks of the chosen accounts, complete and typed.",
    )
    add_account_options(parser)
    parser.add_argument(
        "--kind",
        choices=("all", "summary", "detail"),
        default="all",
        help="summary, detail or all exports (default: all)",
    )
    parser.add_argument(
        "--status",
        action="extend",
        nargs="+",
        default=[],
        choices=STATUSES,
        metavar="STATUS",
        help=f"keep these statuses ({', '.join(STATUSES)})",
    )
    parser.add_argument(
        "--since", type=iso_time, default=None, help="keep tasks created at or after this ISO-8601 time"
    )
    parser.add_argument(
        "--until", type=iso_time, default=None, help="keep tasks created before this ISO-8601 time"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: by the output's suffix, else table)",
    )
    parser.add_argument("--output", default="-", help="a file to write ('-', the default, is stdout)")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """List, write, name failed accounts on stderr; 1 when any account failed, else 0."""
    from usagekit.listing import list_tasks

    chosen = _format(args.format, args.output)
    if chosen == "parquet" and args.output == "-":
        raise CommandLineError("Parquet is binary: give --output FILE.parquet")
    output_file(args.output)  # checked before anything is listed
    since_until(args.since, args.until)
    with chosen_accounts(args) as accounts, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # failures are printed below, one line each
        frame = list_tasks(
            accounts,
            kind=args.kind,
            status=args.status or None,
            since=args.since,
            until=args.until,
            errors="collect",
        )
    _write(frame, chosen, args.output)
    failures = frame.attrs.get("errors", [])
    for failure in failures:
        print(f"usagekit: {failure['account']} ({failure['kind']}): {failure['message']}", file=sys.stderr)
    return 1 if failures else 0


def _format(given: str | None, output: str) -> str:
    if given is not None:
        return given
    suffix = Path(output).suffix.lower().lstrip(".") if output != "-" else ""
    return {"csv": "csv", "json": "json", "parquet": "parquet", "pq": "parquet"}.get(suffix, "table")


def _write(frame: pd.DataFrame, chosen: str, output: str) -> None:
    if chosen == "parquet":
        try:
            frame.to_parquet(output, index=False)
        except ImportError:
            raise ConfigurationError(
                "writing Parquet needs pyarrow: pip install 'usagekit[parquet]'"
            ) from None
        return
    if chosen == "csv":
        text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    elif chosen == "json":
        text = frame.to_json(orient="records", date_format="iso", date_unit="s", indent=1, force_ascii=False)
        text += "\n"
    else:
        text = (frame.to_string(index=False) if len(frame) else "no tasks") + "\n"
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
