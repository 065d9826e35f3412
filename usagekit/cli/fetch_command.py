"""``usagekit fetch``: list detail exports, fetch and read them, and write tidy usage as CSV or Parquet.

Accounts are the discovered profiles (``--profile`` picks some by name) or, with ``--sandbox``, the demo
accounts of an in-process sandbox (seed and time from ``USAGEKIT_SANDBOX_SEED`` / ``USAGEKIT_SANDBOX_NOW``).
Without ``--task-id`` every successful detail export is used (``--since`` keeps those created since).

    $ usagekit fetch --sandbox --since 2026-11-01 --output usage.csv
    $ usagekit fetch --profile prod --format parquet --output usage/
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from usagekit.cli.accounts_option import add_account_options, chosen_accounts
from usagekit.cli.checks import (
    CommandLineError,
    cache_folder,
    iso_time,
    non_empty,
    output_file,
    output_folder,
    since_until,
)
from usagekit.errors import TaskStateError

__all__ = ["handler", "register"]


def register(subparsers: Any) -> None:
    """Add the ``fetch`` subcommand."""
    parser = subparsers.add_parser(
        "fetch",
        help="fetch detail exports and write tidy usage (CSV or Parquet)",
        description=(
            "List the detail exports of the chosen accounts, fetch (cached) and read the successful ones, "
            "count overlapping exports once, and write the tidy usage frame."
        ),
    )
    add_account_options(parser)
    parser.add_argument(
        "--task-id",
        action="extend",
        nargs="+",
        type=non_empty,
        default=[],
        metavar="ID",
        help="only these exports",
    )
    parser.add_argument(
        "--since", type=iso_time, default=None, help="only exports created at or after this ISO-8601 time"
    )
    parser.add_argument(
        "--until", type=iso_time, default=None, help="only exports created before this ISO-8601 time"
    )
    parser.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default=None,
        help="csv (one file; '-' for stdout) or parquet (a dataset folder); default: by the output's suffix",
    )
    parser.add_argument("--output", required=True, help="where to write: a .csv file, '-', or a folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="let a Parquet output folder that already holds a dataset have its partitions replaced",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="folder of the download cache (default: USAGEKIT_CACHE_DIR or the user cache)",
    )
    parser.set_defaults(func=handler)


def _choose(tasks: pd.DataFrame, task_ids: Sequence[str]) -> pd.DataFrame:
    """The tasks to read: the ids asked for (each must exist and be ``success``), else every success."""
    details = tasks[tasks["kind"] == "detail"]
    if not task_ids:
        return details[details["status"] == "success"]
    chosen = details[details["task_id"].isin(task_ids)]
    missing = sorted(set(task_ids) - set(chosen["task_id"]))
    if missing:
        raise TaskStateError(f"no detail export {', '.join(missing)} among the tasks listed")
    not_ready = chosen[chosen["status"] != "success"]
    if len(not_ready):
        named = ", ".join(
            f"{t} ({s})" for t, s in zip(not_ready["task_id"], not_ready["status"], strict=True)
        )
        raise TaskStateError(f"only successful exports have a file: {named}")
    return chosen


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``usagekit fetch``; messages to ``err`` (``out`` may carry the CSV itself)."""
    from usagekit.dataset import to_dataset
    from usagekit.listing import list_tasks
    from usagekit.reconcile import OverlapWarning
    from usagekit.tidy import usage

    kind = args.format or ("csv" if args.output == "-" or args.output.lower().endswith(".csv") else "parquet")
    # Every path is checked before anything is listed or fetched (exit 2).
    if kind == "csv":
        output_file(args.output)
    elif args.output == "-":
        raise CommandLineError(
            "a Parquet dataset is a folder, not stdout: give --output FOLDER, or --format csv"
        )
    else:
        output_folder(args.output, overwrite=args.overwrite)
    cache_folder(args.cache_dir)
    since_until(args.since, args.until)
    with chosen_accounts(args) as accounts:
        tasks = list_tasks(accounts, kind="detail", since=args.since, until=args.until)
        chosen = _choose(tasks, [str(t) for t in args.task_id])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OverlapWarning)
            frame = usage(chosen, accounts=accounts, cache_dir=args.cache_dir)
    overlaps = [w for w in caught if issubclass(w.category, OverlapWarning)]
    for other in caught:
        if other not in overlaps:
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if kind == "csv":
        target: Any = out if args.output == "-" else args.output
        frame.to_csv(target, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    else:
        to_dataset(frame, args.output)
    where = "stdout" if args.output == "-" else str(Path(args.output))
    print(
        f"usagekit fetch: {len(frame):,} rows from {len(chosen)} detail exports of {len(accounts)} accounts "
        f"written to {where} ({kind})",
        file=err,
    )
    if overlaps:
        count = len(frame.attrs.get("overlaps", []))
        print(
            f"note: {count} overlap(s) between exports: each interval counted once (the newer export wins), "
            "and account totals kept whole (listed domains plus a remainder row with domain NA)",
            file=err,
        )
    if not len(chosen):
        print("note: no successful detail export matched", file=err)
    return 0


def handler(args: argparse.Namespace) -> int:
    """Run ``usagekit fetch``."""
    return run(args, sys.stdout, sys.stderr)
