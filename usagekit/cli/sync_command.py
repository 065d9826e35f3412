"""``usagekit sync``: make a Parquet usage dataset complete for a period, or show where its data came from.

Accounts are the discovered profiles (``--profile`` picks some by name) or, with ``--sandbox``, the demo
accounts of an in-process sandbox. ``--from`` and ``--to`` are Beijing months, both inclusive. The exit
code is 0 when the dataset holds the period up to the last complete Beijing day, 1 when anything is
missing or failed, so a scheduler can alert on it.

    $ usagekit sync --profile prod --from 2026-09 --to 2026-11 --dataset usage/
    $ usagekit sync --status --dataset usage/
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from usagekit.cli.accounts_option import add_account_options, chosen_accounts
from usagekit.cli.checks import (
    CommandLineError,
    cache_folder,
    iso_time,
    month,
    non_empty,
    positive_int,
    seconds,
)

__all__ = ["handler", "register", "status_text"]


def register(subparsers: Any) -> None:
    """Add the ``sync`` subcommand."""
    parser = subparsers.add_parser(
        "sync",
        help="make a Parquet usage dataset complete for a period (exports only what is missing)",
        description=(
            "Find what the dataset lacks for the period, reuse or create detail exports for it, wait, "
            "fetch and read them, and replace the account-month partitions that gained data atomically. "
            "Exit 0 when complete up to the last complete Beijing day, 1 otherwise."
        ),
    )
    add_account_options(parser)
    parser.add_argument(
        "--from", dest="first_month", type=month, metavar="YYYY-MM", help="first Beijing month (inclusive)"
    )
    parser.add_argument(
        "--to",
        dest="last_month",
        type=month,
        metavar="YYYY-MM",
        help="last Beijing month (inclusive; default: the current one)",
    )
    parser.add_argument("--dataset", required=True, help="the dataset folder (account=…/month=… Parquet)")
    parser.add_argument(
        "--type", dest="types", action="extend", nargs="+", choices=("flow", "vas"), default=[],
        help="flow (traffic and bandwidth) and/or vas (requests); default: both",
    )  # fmt: skip
    parser.add_argument(
        "--domain", dest="domains", action="extend", nargs="+", type=non_empty, default=[], metavar="NAME",
        help="export these domains instead of account totals (a dataset holds one or the other)",
    )  # fmt: skip
    parser.add_argument(
        "--language",
        choices=("en-us", "zh-cn"),
        default="en-us",
        help="language of the exports' headers (default: en-us)",
    )
    parser.add_argument(
        "--max-in-flight", type=positive_int, default=4, help="running exports per account (default 4)"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=3600, help="seconds to wait for exports in all (default 3600)"
    )
    parser.add_argument("--cleanup", action="store_true", help="delete the exports sync made once written")
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="folder of the download cache (default: USAGEKIT_CACHE_DIR or the user cache)",
    )
    parser.add_argument(
        "--now", type=iso_time, default=None, metavar="ISO",
        help="the service's current time (default: this machine's clock, or the sandbox's)",
    )  # fmt: skip
    parser.add_argument(
        "--status", action="store_true", help="show what the dataset holds and where it came from, then exit"
    )
    parser.set_defaults(func=handler)


def status_text(dataset: str) -> str:
    """The dataset's provenance as text: one line per partition and export (``usagekit sync --status``)."""
    from pathlib import Path

    from usagekit.dataset import read_manifest

    if not Path(dataset).is_dir():
        return f"no dataset at {dataset}"
    manifest = _unchanged_manifest(Path(dataset), read_manifest(dataset, refresh=False))
    lines = [f"{'partition':<28} {'type':<5} {'task':>10}  {'covers (UTC)':<43} {'updated':<20} sha256"]
    for key, entry in sorted(manifest["partitions"].items()):
        provenance = entry.get("provenance")
        if not entry.get("sha256"):
            lines.append(f"{key:<28} no recorded SHA-256: the next sync compares it with fresh exports")
        if not provenance:
            rows = "unreadable" if entry.get("rows") is None else f"{entry['rows']:,} rows"
            lines.append(f"{key:<28} {rows} without provenance (written by to_dataset?)")
            continue
        for piece in provenance.get("pieces", []):
            for a, b in piece["covers"]:
                lines.append(
                    f"{key:<28} {piece['type']:<5} {piece['task_id']:>10}  {a} {b}  "
                    f"{piece.get('updated') or '':<20} {(piece.get('sha256') or '')[:12]}"
                )
    lines.append(f"{len(manifest['partitions'])} partitions; manifest: {Path(dataset) / '_manifest.json'}")
    return "\n".join(lines)


def _unchanged_manifest(root: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """The index as stored, plus the partition files it does not know (from their footers): read only.

    A status query never writes: ``read_manifest``'s refresh would rewrite ``_manifest.json``.
    """
    import json
    from urllib.parse import unquote

    import pyarrow.parquet as pq

    from usagekit.dataset import PART_NAME, PROVENANCE_KEY

    partitions = dict(stored["partitions"])
    known = {entry.get("file") for entry in partitions.values() if isinstance(entry, dict)}
    for file in sorted(root.glob(f"account=*/month=*/{PART_NAME}")):
        relative = file.relative_to(root).as_posix()
        if relative in known:
            continue
        try:
            footer = pq.read_metadata(file)
            rows, text = footer.num_rows, (footer.metadata or {}).get(PROVENANCE_KEY)
            provenance = json.loads(text) if text else None
        except (OSError, ValueError):
            rows, provenance = None, None
        account, month = (unquote(part.name.split("=", 1)[1]) for part in (file.parent.parent, file.parent))
        key = f"{account}/{month} (not indexed)"
        partitions[key] = {"file": relative, "rows": rows, "provenance": provenance, "sha256": None}
    return {**stored, "partitions": partitions}


@contextlib.contextmanager
def _accounts_and_clock(args: argparse.Namespace) -> Iterator[tuple[list[Any], Callable[[], datetime]]]:
    """The accounts to sync and the service's clock: ``--now``, a sandbox's own time, or this machine's."""
    fixed = args.now

    def clock_of(box: Any) -> Callable[[], datetime]:
        if fixed is not None:
            return lambda: fixed.to_pydatetime()
        if box is not None:
            return lambda: box.now
        return lambda: datetime.now(UTC)

    if args.sandbox and not os.environ.get("USAGEKIT_SANDBOX_ENDPOINT", "").strip():
        from usagekit.discovery import sandbox_world
        from usagekit.sandbox import Sandbox

        with Sandbox(clock="real", **sandbox_world(os.environ)) as box:
            yield box.accounts, clock_of(box)
        return
    with chosen_accounts(args) as accounts:
        from usagekit.discovery import running_sandbox

        yield accounts, clock_of(running_sandbox())


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``usagekit sync``: the report to ``out``, notes to ``err``; returns the exit code."""
    if args.status:
        if not Path(args.dataset).expanduser().is_dir():
            raise CommandLineError(f"--dataset {args.dataset!r}: no dataset folder there (nothing to show)")
        print(status_text(args.dataset), file=out)
        return 0
    if not args.first_month:
        raise CommandLineError("--from YYYY-MM is required (or --status)")
    if args.last_month and args.last_month < args.first_month:
        raise CommandLineError(
            f"--to {args.last_month} comes before --from {args.first_month}: the months are inclusive"
        )
    if not args.dataset.strip():
        raise CommandLineError("--dataset is empty: name the dataset folder (an unset variable in a script?)")
    dataset = Path(args.dataset).expanduser()
    if dataset.exists() and not dataset.is_dir():
        raise CommandLineError(f"--dataset {args.dataset!r} is a file: a Parquet dataset is a folder")
    if not dataset.exists() and not dataset.parent.is_dir():
        raise CommandLineError(
            f"--dataset {args.dataset!r}: the folder {str(dataset.parent)!r} does not exist"
        )
    cache_folder(args.cache_dir)
    from usagekit.frames import BEIJING
    from usagekit.syncing import sync

    with _accounts_and_clock(args) as (accounts, clock):
        last_month = args.last_month or clock().astimezone(BEIJING).strftime("%Y-%m")
        report = sync(
            accounts,
            first_month=args.first_month,
            last_month=last_month,
            dataset=args.dataset,
            types=tuple(args.types) or ("flow", "vas"),
            domains=args.domains or None,
            language=args.language,
            max_in_flight=args.max_in_flight,
            timeout=args.timeout,
            cleanup=args.cleanup,
            cache_dir=args.cache_dir,
            now=clock,
        )
    print(report, file=out)
    return report.exit_code


def handler(args: argparse.Namespace) -> int:
    """Run ``usagekit sync``."""
    return run(args, sys.stdout, sys.stderr)
