"""The report of one :func:`usagekit.sync`, and the client retries it names.

>>> SyncReport(pd.DataFrame(columns=["account", "month", *COUNTS])).complete
True
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import cast

import pandas as pd

__all__ = ["COUNTS", "LEGEND", "RetryLog", "SyncReport"]

COUNTS = ("found", "created", "waited", "fetched", "written", "skipped", "repaired", "failed")
#: the one line under the counts table that says what its columns count
LEGEND = (
    "(exports found: already there and used, created, waited for, fetched and read; written: rows written, "
    "0 when a partition was left alone; skipped: types already complete; repaired: partitions rewritten "
    "after a failed check; failed: exports that failed)"
)


@dataclass(frozen=True)
class SyncReport:
    """What one :func:`sync` did, per account and Beijing month, and what is still missing.

    ``counts`` columns: ``account``, ``month`` (``YYYY-MM``), ``found`` (existing exports used),
    ``created``, ``waited``, ``fetched`` (exports read), ``written`` (rows written; 0 when the
    partition was left alone), ``skipped`` (types already complete), ``repaired`` (1 when a partition
    that failed its check was rewritten from fresh exports), ``failed``. ``failures`` are
    records of ``account``, ``month``, ``type`` and ``reason``; ``missing`` records of ``account``,
    ``type``, ``start``, ``end`` (ISO, UTC) of what the dataset still lacks; ``retried`` names what was
    retried (API calls after throttling or errors, recreated exports); ``deleted`` the exports removed
    by ``cleanup``; ``repaired`` records of ``account``, ``month`` and ``reason`` for each partition
    rewritten because its file failed its check (its SHA-256, size or pages not as recorded, or no
    recorded hash and rows unlike fresh exports). ``complete`` is true when nothing is missing up to
    the last complete Beijing day.
    """

    counts: pd.DataFrame
    failures: tuple[dict[str, str], ...] = ()
    missing: tuple[dict[str, str], ...] = ()
    retried: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    through: str = ""
    repaired: tuple[dict[str, str], ...] = ()

    @property
    def complete(self) -> bool:
        """True when the dataset holds the whole period up to the last complete Beijing day."""
        return not self.failures and not self.missing

    @property
    def exit_code(self) -> int:
        """0 when complete, 1 when anything is missing or failed (the command's exit code)."""
        return 0 if self.complete else 1

    def __str__(self) -> str:
        lines = [
            self.counts.to_string(index=False) if len(self.counts) else "(no account-month in the period)"
        ]
        if len(self.counts):
            lines.append(LEGEND)
        for failure in self.failures:
            lines.append(
                f"failed: {failure['account']} {failure['month']} {failure['type']}: {failure['reason']}"
            )
        for gap in self.missing:
            lines.append(f"missing: {gap['account']} {gap['type']} {gap['start']} to {gap['end']}")
        for repair in self.repaired:
            lines.append(f"repaired: {repair['account']} {repair['month']}: {repair['reason']}")
        lines += [f"retried: {text}" for text in self.retried]
        lines += [f"deleted: {text}" for text in self.deleted]
        state = "complete" if self.complete else "INCOMPLETE"
        lines.append(f"{state} through {self.through} (Beijing; the current day is never final)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        totals = {name: int(self.counts[name].sum()) for name in COUNTS} if len(self.counts) else {}
        return f"SyncReport(complete={self.complete}, {totals}, failures={len(self.failures)})"


class RetryLog(logging.Filter):
    """Counts the client's retries (its ``retrying …`` debug records) while a sync runs."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[tuple[str, str, str]] = Counter()
        self.logger = logging.getLogger("usagekit.client")
        self.show_debug = self.logger.isEnabledFor(logging.DEBUG)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("retrying") and len(record.args or ()) >= 4:
            args = cast("tuple[object, ...]", record.args)  # retry messages log positional args
            action, account, _attempt, label = args[:4]
            self.seen[(str(account), str(action), str(label))] += 1
        return self.show_debug or record.levelno > logging.DEBUG  # nothing the user did not ask to see

    def __enter__(self) -> RetryLog:
        self.level = self.logger.level
        self.logger.addFilter(self)
        if not self.show_debug:
            self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeFilter(self)
        self.logger.setLevel(self.level)

    def lines(self) -> list[str]:
        return [f"{a}: {action} {n}x after {label}" for (a, action, label), n in sorted(self.seen.items())]
