"""Checks of the command line made before any work: every wrong flag, value or path is exit code 2.

Values are checked as argparse parses them (``type=`` functions here raise ``ArgumentTypeError``, which
argparse prints as ``usagekit CMD: error: argument --since: ...`` and exits 2). Paths are checked by the
command before it lists or fetches anything, with :func:`output_file`, :func:`output_folder` and
:func:`cache_folder`, which raise :class:`CommandLineError` (exit 2 as well).

>>> iso_time("2026-11-01")
Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
>>> iso_time("01-10-2026")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: '01-10-2026' is not a moment; accepted: an aware datetime or pandas.Timestamp, ISO 8601 text with an offset (2026-10-01T00:00:00+08:00, 2026-09-30T16:00:00Z), or a date alone (2026-10-01, midnight UTC)
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import pandas as pd

from usagekit.errors import ArgumentError, CommandLineError
from usagekit.times import moment
from usagekit.times import month as checked_month

__all__ = [
    "CommandLineError",
    "cache_folder",
    "iso_time",
    "month",
    "non_empty",
    "number",
    "output_file",
    "output_folder",
    "positive_int",
    "seconds",
    "since_until",
]


def iso_time(text: str) -> pd.Timestamp:
    """An argparse type: a moment by the library's one rule (:func:`usagekit.times.moment`)."""
    try:
        return moment(text, "time")
    except ArgumentError as error:  # the message without the library's argument name: argparse names the flag
        raise argparse.ArgumentTypeError(str(error).removeprefix("time ")) from None


def non_empty(text: str) -> str:
    """An argparse type: any text but an empty (or blank) one."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value: give one, or leave the flag out")
    return text.strip()


def month(text: str) -> str:
    """An argparse type: a month as ``YYYY-MM`` (months on the command line are Beijing months).

    >>> month("2026-09")
    '2026-09'
    """
    try:
        return checked_month(text, "month")
    except ArgumentError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a month: write it as YYYY-MM, for example 2026-09"
        ) from None


def number(text: str) -> float:
    """An argparse type: a finite number (``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more."""
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"seconds cannot be negative: {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def since_until(since: pd.Timestamp | None, until: pd.Timestamp | None) -> None:
    """``--since`` must come before ``--until`` when both are given."""
    if since is not None and until is not None and not since < until:
        raise CommandLineError(f"--since {since.isoformat()} must come before --until {until.isoformat()}")


def _writable_parent(path: Path, flag: str) -> None:
    """The nearest existing folder above ``path`` must be a folder we may write in."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise CommandLineError(
            f"{flag} {str(path)!r}: the folder {str(parent)!r} does not exist; create it first"
        )
    if not parent.is_dir():
        raise CommandLineError(f"{flag} {str(path)!r}: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandLineError(f"{flag} {str(path)!r}: no permission to write in {str(parent)!r}")


def _path(text: str | None, flag: str) -> Path:
    if text is None or not str(text).strip():
        raise CommandLineError(f"{flag} is empty: name a path (an unset variable in a script?)")
    return Path(str(text)).expanduser()


def output_file(text: str | None, flag: str = "--output") -> Path | None:
    """A file to write: ``-`` (stdout, returned as ``None``) or a path whose folder exists and is writable.

    >>> output_file("-") is None
    True
    """
    if text == "-":
        return None
    path = _path(text, flag)
    if path.is_dir():
        raise CommandLineError(f"{flag} {str(path)!r} is a folder: name a file inside it")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandLineError(f"{flag} {str(path)!r}: no permission to write this file")
    _writable_parent(path, flag)
    return path


def output_folder(text: str | None, flag: str = "--output", *, overwrite: bool = False) -> Path:
    """A dataset folder to write: not a file, its parent writable, and no partitions replaced unasked.

    A folder that already holds ``account=…`` partitions is refused unless ``overwrite`` (``--overwrite``):
    the run may replace them, and an unset variable in a script must not overwrite data.
    """
    path = _path(text, flag)
    if path.exists() and not path.is_dir():
        raise CommandLineError(f"{flag} {str(path)!r} is a file: a Parquet dataset is a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise CommandLineError(f"{flag} {str(path)!r}: no permission to write in this folder")
        held = sorted(p.name for p in path.iterdir() if p.is_dir() and p.name.startswith("account="))
        if held and not overwrite:
            shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
            raise CommandLineError(
                f"{flag} {str(path)!r} already holds a dataset ({shown}) whose partitions this run may "
                "replace: add --overwrite, or name another folder"
            )
    else:
        _writable_parent(path, flag)
    return path


def cache_folder(text: str | None, flag: str = "--cache-dir") -> Path | None:
    """A cache folder: ``None`` (the default cache) or a folder, or a path where one can be made."""
    if text is None:
        return None
    path = _path(text, flag)
    if path.exists():
        if not path.is_dir():
            raise CommandLineError(f"{flag} {str(path)!r} is a file: the cache is a folder")
        return path
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CommandLineError(f"{flag} {str(path)!r}: {str(ancestor)!r} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommandLineError(f"{flag} {str(path)!r}: no permission to create it in {str(ancestor)!r}")
    return path
