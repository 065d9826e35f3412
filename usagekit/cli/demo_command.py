"""``usagekit demo``: the whole path, offline, in one command, against an in-process sandbox.

It starts a sandbox (seed 0, real clock, now = the real time), lists every task of its demo accounts,
fetches and reads their successful detail exports, writes the task frame (``tasks.csv``) and the tidy
usage (a Parquet dataset, ``usage/account=…/month=…``) into one folder, and prints a short summary.
Then the bill (:mod:`usagekit.report`): ``billing.csv`` (every billing method, priced with the example
price table), the timeline, usage and percentile plots as PNG (``plot`` extra) and ``report.html``, the
billing report notebook executed on that folder (``report`` extra). A missing extra skips its files
with one line naming it. ``showback.csv`` and ``anomalies.csv`` (:mod:`usagekit.cli.demo_showback`): last
month's bill split among domains, and the hours whose traffic left its baseline.

    $ usagekit demo --output ./usagekit-demo
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from usagekit.cli.checks import CommandLineError, cache_folder, iso_time
from usagekit.units import format_bandwidth, format_bytes, format_requests, unit_note

__all__ = ["handler", "human_bits", "human_bytes", "human_count", "register", "summary_lines"]

MARKER = ".usagekit-demo"
#: what the demo writes besides its marker: an earlier demo's copies are removed before a new run
OUTPUTS = (
    "tasks.csv",
    "billing.csv",
    "showback.csv",
    "anomalies.csv",
    "focus.parquet",
    "cost_check.csv",
    "bill_check.csv",
    "timeline.png",
    "usage.png",
    "percentile.png",
    "report.html",
)
_FIGURES = {
    "timeline.png": "every export's window, by account, kind and type (Beijing time)",
    "usage.png": "each account's daily peak bandwidth",
    "percentile.png": "one month's bandwidth points sorted, and what each billing method bills",
}


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole path against a local sandbox: list, fetch, read, write",
        description=(
            "Start an in-process sandbox, list every demo account's export tasks, fetch and read the "
            "successful detail exports, and write tasks.csv, a Parquet dataset of tidy usage, billing.csv "
            "(every billing method side by side), PNG plots and report.html (the billing report)."
        ),
    )
    parser.add_argument(
        "--output", default="usagekit-demo", help="folder to write into (default: ./usagekit-demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sandbox world seed (default 0)")
    parser.add_argument(
        "--now", type=iso_time, default=None, help="sandbox time at start, ISO-8601 (default: the real now)"
    )
    parser.add_argument(
        "--cache-dir", default=None, help="keep downloaded files here (default: a temporary folder, removed)"
    )
    parser.set_defaults(func=handler)


# --- human units: one convention for the summary, the plots and the notebooks (usagekit.units) -------


def human_bytes(value: float) -> str:
    """Bytes in the units Alibaba Cloud bills traffic in (1 GB = 1024³ bytes).

    >>> human_bytes(0), human_bytes(1_234_567_890_123)
    ('0 B', '1.12 TB')
    """
    return format_bytes(value)


def human_bits(value: float) -> str:
    """A bandwidth in bit/s, decimal units (1 Mbit/s = 10⁶ bit/s).

    >>> human_bits(456_700_000)
    '456.70 Mbit/s'
    """
    return format_bandwidth(value)


def human_count(value: float) -> str:
    """A count, in words past ten thousand.

    >>> human_count(9_999), human_count(12_345_678)
    ('9,999', '12.3 million')
    """
    return format_requests(value)


# --- the summary -------------------------------------------------------------------------------------


def per_account(frame: pd.DataFrame) -> pd.DataFrame:
    """Traffic (sum), peak bandwidth (peak of the per-interval sum) and requests (sum) per account."""
    accounts = sorted(str(a) for a in frame["account"].dropna().unique())
    rows = []
    for account in accounts:
        own = frame[frame["account"] == account]
        traffic = own.loc[own["metric"] == "traffic", "value"].sum()
        bandwidth = own[own["metric"] == "bandwidth"].groupby("start")["value"].sum()
        requests = own.loc[own["metric"] == "requests", "value"].sum()
        rows.append(
            {
                "account": account,
                "traffic": float(traffic),
                "peak_bandwidth": float(bandwidth.max()) if len(bandwidth) else 0.0,
                "requests": float(requests),
            }
        )
    return pd.DataFrame(rows, columns=["account", "traffic", "peak_bandwidth", "requests"])


def summary_lines(tasks: pd.DataFrame, frame: pd.DataFrame, exports: int) -> list[str]:
    """The printed summary: accounts, tasks by status and kind, usage per account in human units."""
    accounts = list(dict.fromkeys(str(a) for a in tasks["account"]))
    status = tasks["status"].astype(str).value_counts()
    kinds = tasks["kind"].astype(str).value_counts()
    by_status = ", ".join(f"{count} {name}" for name, count in status.items())
    by_kind = ", ".join(f"{kinds.get(kind, 0)} {kind}" for kind in ("summary", "detail"))
    overlaps = len(frame.attrs.get("overlaps", []))
    lines = [
        f"accounts  {len(accounts)}: {', '.join(accounts)}",
        f"tasks     {len(tasks)}: {by_status} ({by_kind})",
        f"usage     {exports} successful detail exports read: {len(frame):,} rows"
        + (
            f", {overlaps} overlaps between exports reconciled (each interval counted once)"
            if overlaps
            else ""
        ),
        "",
        f"  {'account':<16}{'traffic':>14}{'peak bandwidth':>18}{'requests':>18}",
    ]
    row: Any  # a named tuple of the frame's columns
    for row in per_account(frame).itertuples():
        lines.append(
            f"  {row.account:<16}{human_bytes(row.traffic):>14}{human_bits(row.peak_bandwidth):>18}"
            f"{human_count(row.requests):>18}"
        )
    lines.append(f"  ({unit_note()})")
    return lines


# --- the command -------------------------------------------------------------------------------------


def _prepare(output: Path) -> None:
    """Use ``output`` when it is new, empty, or an earlier demo's folder (then replace what it wrote)."""
    if output.exists() and not output.is_dir():
        raise CommandLineError(f"--output {str(output)!r} is a file: name a folder for the demo's output")
    if output.is_dir() and any(output.iterdir()):
        if not (output / MARKER).exists():
            raise CommandLineError(
                f"--output {str(output)!r} is not empty and not an earlier demo's folder: name a new folder"
            )
        shutil.rmtree(output / "usage", ignore_errors=True)
        for name in OUTPUTS:
            (output / name).unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_text("written by `usagekit demo`; safe to delete\n", encoding="utf-8")


@contextlib.contextmanager
def _cache(cache_dir: str | None) -> Iterator[str]:
    """The cache for downloads and parsed files: the one asked for, else a temporary folder removed after.

    ``usage(cache_dir=...)`` keeps both there, so a demo leaves nothing behind in the user's cache.
    """
    if cache_dir:
        yield cache_dir
        return
    with tempfile.TemporaryDirectory(prefix="usagekit-demo-") as root:
        yield root


def _bill(output: Path, tasks: pd.DataFrame, frame: pd.DataFrame) -> Iterator[str]:
    """Write billing.csv, the PNG plots and report.html, yielding a line as each is written or skipped."""
    from usagekit.errors import MissingExtraError
    from usagekit.report import EXAMPLE_PRICES_DATE, write_billing, write_figures, write_report

    billing = write_billing(frame, output / "billing.csv")
    yield (
        f"  {output / 'billing.csv'}  every billing method per account, region and Beijing month "
        f"({len(billing)} rows; costs from the EXAMPLE price table of {EXAMPLE_PRICES_DATE}, not real prices)"
    )
    with ThreadPoolExecutor(1, thread_name_prefix="usagekit-report") as pool:
        # the report's kernel runs on another core while the plots are drawn here
        report = None if billing.empty else pool.submit(write_report, output)
        try:
            figures = write_figures(tasks, frame, billing, output)
            for name in _FIGURES:
                if name in figures:
                    yield f"  {figures[name]}  {_FIGURES[name]}"
                else:
                    yield f"  ({name} skipped: the exports hold no bandwidth to bill)"
        except MissingExtraError as error:
            yield f"  (PNG plots skipped: {error})"
        if report is None:
            yield "  (report.html skipped: the exports hold no traffic or bandwidth to bill)"
            return
        try:
            yield f"  {report.result()}  the billing report: usage/ and billing.csv read by a notebook, as HTML"
        except MissingExtraError as error:
            yield f"  (report.html skipped: {error})"


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the demo, printing to ``out``."""
    from usagekit.cli.demo_billcheck import write_bill_check
    from usagekit.cli.demo_money import write_money_files
    from usagekit.cli.demo_showback import write_showback_files
    from usagekit.dataset import to_dataset
    from usagekit.discovery import sandbox_world
    from usagekit.listing import list_tasks
    from usagekit.reconcile import OverlapWarning
    from usagekit.sandbox import Sandbox
    from usagekit.tidy import usage

    began = time.perf_counter()
    if not args.output.strip():
        raise CommandLineError("--output is empty: name a folder for the demo's output")
    cache_folder(args.cache_dir)
    output = Path(args.output)
    _prepare(output)
    world = {**sandbox_world(os.environ), "seed": args.seed, "now": args.now}  # size from the environment
    with Sandbox(clock="real", **world) as box, _cache(args.cache_dir) as cache:
        print(
            f"usagekit demo: a local sandbox at {box.endpoint} (seed {box.seed}, "
            f"{pd.Timestamp(box.now).strftime('%Y-%m-%d %H:%M')} UTC)",
            file=out,
            flush=True,
        )
        tasks = list_tasks(box.accounts)
        tasks.to_csv(output / "tasks.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        details = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverlapWarning)  # counted in the summary instead
            frame = usage(details, cache_dir=cache)
        to_dataset(frame, output / "usage")
        showback = list(write_showback_files(box.accounts, frame, output, pd.Timestamp(box.now)))
        money = list(write_money_files(box, frame, output))
        checked = list(write_bill_check(box.accounts, frame, output, pd.Timestamp(box.now)))
    for line in summary_lines(tasks, frame, len(details)):
        print(line, file=out)
    print("", file=out)
    print("files", file=out)
    print(f"  {output / 'tasks.csv'}  the task frame ({len(tasks)} rows)", file=out)
    print(
        f"  {output / 'usage'}{os.sep}  tidy usage as Parquet, account=…/month=… ({len(frame):,} rows)",
        file=out,
        flush=True,
    )
    for line in _bill(output, tasks, frame):
        print(line, file=out, flush=True)
    for line in showback:
        print(line, file=out, flush=True)
    for line in money:
        print(line, file=out, flush=True)
    for line in checked:
        print(line, file=out, flush=True)
    print("", file=out)
    print(
        f"next: python -c \"import usagekit; print(usagekit.read_dataset('{output / 'usage'}'))\"", file=out
    )
    print(f"done in {time.perf_counter() - began:.1f} s", file=out, flush=True)
    return 0


def handler(args: argparse.Namespace) -> int:
    """Run ``usagekit demo``."""
    return run(args, sys.stdout)
