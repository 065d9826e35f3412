"""What a sync must do: what the dataset holds, what exists, what to create (no request made here).

:class:`Planner` reads the dataset's manifest (checking each kept partition against its recorded
SHA-256 and size), turns the period into :class:`Unit` s (one account, Beijing month and export type
with its gaps), and, given the listed exports (:attr:`Planner.pool`), says which export fills each gap
(the newest covering one) and which export windows are still to be created. :class:`SyncOptions`
holds a run's checked options, :class:`Tally` its counts and failures.

>>> import tempfile
>>> from usagekit.periods import iso
>>> with tempfile.TemporaryDirectory() as folder:
...     planner = Planner(Path(folder), domains=None, mark="sync", types=("vas",), tally=Tally())
...     units = planner.plan(["shop"], utc("2026-10-31T16:00:00Z"), utc("2026-11-30T16:00:00Z"),
...                          utc("2026-11-03T08:00:00Z"))
>>> [(u.account, u.month, u.type, iso(u.gaps[0][0]), iso(u.gaps[0][1])) for u in units]
[('shop', '2026-11', 'vas', '2026-10-31T16:00:00Z', '2026-11-02T16:00:00Z')]
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from usagekit.dataset import check_partition, read_manifest
from usagekit.errors import ConfigurationError
from usagekit.frames import parse_task_tag
from usagekit.periods import (
    Span,
    day_ceil,
    day_floor,
    merge,
    month_bounds,
    months,
    newest_cover,
    subtract,
    utc,
)

__all__ = ["TYPE_METRICS", "Held", "Planner", "SyncOptions", "Tally", "Unit", "export_cover"]

#: the metrics each detail export type carries
TYPE_METRICS = {"flow": ("traffic", "bandwidth"), "vas": ("requests",)}

#: one piece a partition's provenance vouches for: (export type, the piece, the interval it covers)
Held = tuple[str, dict[str, Any], Span]


@dataclass(frozen=True)
class SyncOptions:
    """The checked options of one :func:`usagekit.sync` run (``domains`` as :func:`domain_scope` gives)."""

    types: tuple[str, ...]
    domains: list[str] | None  # None: by account; else the sorted domains (provenance keeps a list)
    mark: str  # what sync writes after the tag in the names of the exports it creates
    language: str
    max_in_flight: int
    timeout: float
    executor: Executor | None
    cache_dir: str | os.PathLike[str] | None
    now: Callable[[], Any]
    sleep: Callable[[float], None]
    poll: float
    progress: bool


@dataclass
class Unit:
    """One account, Beijing month and export type: what is wanted, what is missing, what fills it."""

    account: str
    month: str
    type: str
    wanted: Span
    gaps: list[Span]
    pieces: list[tuple[str, Span]] = field(default_factory=list)  # (task id, interval) chosen


class Tally:
    """A run's counts per (account, month) and its failures, safe to add to from several threads."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], Counter[str]] = {}
        self.failures: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def count(self, unit: Unit | tuple[str, str], name: str, n: int = 1) -> None:
        key = (unit.account, unit.month) if isinstance(unit, Unit) else unit
        with self.lock:
            self.counts.setdefault(key, Counter())[name] += n

    def fail(self, unit: Unit, reason: str) -> None:
        with self.lock:
            self.failures.append(
                {"account": unit.account, "month": unit.month, "type": unit.type, "reason": reason}
            )
        self.count(unit, "failed")


def export_cover(row: dict[str, Any]) -> Span:
    """What an export holds: its window, but nothing after the moment it was created.

    >>> export_cover({"window_start": utc("2026-11-01T00:00:00Z"), "window_end": utc("2026-11-03T00:00:00Z"),
    ...               "created": utc("2026-11-02T10:07:30Z")})[1].isoformat()
    '2026-11-02T10:05:00+00:00'
    """
    start, end = row["window_start"], row["window_end"]
    created = row.get("created")
    if created is not None and not pd.isna(created):
        end = min(end, created.floor("5min"))
    return start, end


class Planner:
    """What the dataset at ``root`` holds, what the listed exports (:attr:`pool`) give, what is missing."""

    def __init__(
        self, root: Path, *, domains: list[str] | None, mark: str, types: Sequence[str], tally: Tally
    ) -> None:
        self.root = root
        self.domains, self.mark, self.types = domains, mark, tuple(types)
        self.tally = tally
        self.pool: dict[tuple[str, str], dict[str, Any]] = {}  # (account, task id) -> task row
        self.distrusted: dict[tuple[str, str], str] = {}  # partitions failing their check: why
        self.unhashed: set[tuple[str, str]] = set()  # partitions the manifest holds no hash for
        self.rewritten: set[tuple[str, str]] = set()  # partitions this run wrote
        self.manifest: dict[str, Any] = {"partitions": {}}
        self.horizon = self.oldest = pd.Timestamp(0, tz="UTC")

    # --- 1. what the dataset holds ---

    def plan(
        self, accounts: Sequence[str], lower: pd.Timestamp, upper: pd.Timestamp, now: pd.Timestamp
    ) -> list[Unit]:
        """The units of ``accounts`` over ``[lower, upper)``, stopping before ``now``'s Beijing day."""
        self.manifest = read_manifest(self.root)
        self.horizon = min(upper, day_floor(now))
        self.oldest = day_ceil(now - pd.Timedelta(days=365))
        units = []
        for name in accounts:
            for month in months(lower, self.horizon):
                first, last = month_bounds(month)
                wanted = (max(first, lower), min(last, self.horizon))
                with self.tally.lock:
                    self.tally.counts.setdefault((name, month), Counter())
                self.verify(name, month)
                held = self.held(name, month)
                for kind in self.types:
                    gaps = subtract([wanted], [span for t, _, span in held if t == kind])
                    units.append(Unit(name, month, kind, wanted, gaps))
                    if not gaps:
                        self.tally.count((name, month), "skipped")
        return units

    def reload(self) -> None:
        """Read the manifest again (after partitions were written)."""
        self.manifest = read_manifest(self.root)

    def verify(self, account: str, month: str) -> None:
        """Check a kept partition against its recorded hash; one that fails is treated as missing."""
        entry = self.manifest["partitions"].get(f"{account}/{month}")
        if entry is None:
            return
        problem = check_partition(self.root, entry)
        if problem is None:
            return
        if not entry.get("sha256"):
            self.unhashed.add((account, month))  # compared with fresh exports before it is trusted
        self.distrusted[(account, month)] = problem

    def provenance(self, account: str, month: str) -> dict[str, Any] | None:
        if (account, month) in self.distrusted and (account, month) not in self.rewritten:
            return None  # nothing of a file that failed its check is used
        entry = self.manifest["partitions"].get(f"{account}/{month}")
        return entry.get("provenance") if entry else None

    def held(self, account: str, month: str) -> list[Held]:
        provenance = self.provenance(account, month)
        if not provenance:
            return []
        if provenance.get("domains") != self.domains:
            scope = "by account" if provenance.get("domains") is None else f"of {provenance.get('domains')}"
            raise ConfigurationError(
                f"the dataset {str(self.root)!r} holds usage {scope} ({account} {month}): sync the same "
                "domains into it, or another domain set into another dataset"
            )
        return [
            (piece["type"], piece, (utc(a), utc(b)))
            for piece in provenance.get("pieces", [])
            for a, b in piece["covers"]
        ]

    # --- 2. what exists ---

    def take_listing(self, rows: Sequence[dict[str, Any]]) -> None:
        """Keep the listed exports that can fill this dataset's gaps (type and scope match)."""
        for row in rows:
            if self.matches(row):
                self.pool[(row["account"], row["task_id"])] = row

    def matches(self, row: dict[str, Any]) -> bool:
        tag = parse_task_tag(row.get("task_name"))
        if tag is None or pd.isna(row.get("window_start")) or pd.isna(row.get("window_end")):
            return False
        if self.domains is None:
            return tag.domains == "all"
        return tag.domains == "some" and tag.name == self.mark

    def candidates(self, unit: Unit, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """Exports of the unit's account and type in ``statuses``; running ones only if sync made them.

        A running export sync made (in a run that was interrupted) is waited for; someone else's may
        take hours, so its window counts as a gap until it has succeeded.
        """
        return [
            row
            for (account, _), row in self.pool.items()
            if account == unit.account
            and row.get("type") == unit.type
            and row.get("status") in statuses
            and (row.get("status") == "success" or self.ours(row))
        ]

    def ours(self, row: dict[str, Any]) -> bool:
        tag = parse_task_tag(row.get("task_name"))
        return tag is not None and tag.name == self.mark

    def assign(
        self, unit: Unit, statuses: tuple[str, ...] = ("success",)
    ) -> tuple[list[tuple[str, Span]], list[Span]]:
        """Which export gives each gap interval (the newest covering one), and what no export covers."""
        rows = self.candidates(unit, statuses)
        if not rows or not unit.gaps:
            return [], list(unit.gaps)
        epoch = pd.Timestamp(0, tz="UTC")
        covers = [
            (
                *export_cover(row),
                epoch if row.get("updated") is None or pd.isna(row["updated"]) else row["updated"],
                int(row["task_id"]) if str(row["task_id"]).isdigit() else 0,
                str(row["task_id"]),
            )
            for row in rows
        ]
        return newest_cover(covers, unit.gaps)

    # --- 3. what is missing ---

    def windows(self, unit: Unit, left: Sequence[Span]) -> list[Span]:
        """The exports to create for what is ``left``: whole Beijing days, the last year only."""
        spans = []
        for a, b in merge([(day_floor(a), day_ceil(b)) for a, b in left]):
            a, b = max(a, unit.wanted[0]), min(b, unit.wanted[1])
            if a < self.oldest:
                if b <= self.oldest:
                    continue  # reported as missing: the service exports the last year only
                a = self.oldest
            spans.append((a, b))
        return spans
