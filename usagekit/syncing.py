"""Keep a usage dataset complete and current: find what is missing, export it, and add it, once.

:func:`sync` makes a Parquet dataset (:mod:`usagekit.dataset`) hold every account's detail usage of a
period, one ``account=…/month=…`` partition per account and Beijing month:

1. **What the dataset holds** comes from the provenance each partition carries (which export, which
   interval, per type), so data older than the three months the listing shows still counts. Every
   partition kept is first checked against the SHA-256 and size the manifest recorded; one that fails
   (or that the manifest holds no hash for) holds nothing: it is exported again, rewritten without a
   row copied from it, and reported as ``repaired``.
2. **What exists**: the detail exports of the accounts with gaps are listed. An export covers a gap
   when it is of the right type and scope: by account (``domains=None``: the tag ``uk:<type>:all``),
   or of exactly the domains asked (exports ``sync`` made for that set carry its digest in their
   name). An export holds data only up to its ``created`` time: the rest of its window is a gap.
   Each interval is taken from the newest covering export (by ``updated``), the rule
   :func:`usagekit.usage` follows where exports overlap.
3. **What is missing** is exported: whole Beijing days, one window per gap and month (at most one
   month, the last year only), never more than ``max_in_flight`` running per account. A failed
   export is created once more, then reported.
4. **Fetch, read, write**, one partition at a time per worker (``PARTITION_WORKERS``): the exports a
   partition needs are fetched (cached) and read with :func:`usagekit.usage`, the partition is
   replaced atomically, its provenance in the same file, and its rows are let go, so memory depends
   on the workers and one partition's size, not on the number of accounts or months.

Nothing is written for the current Beijing day, which is never final. A second run finds no gap:
it lists nothing, creates nothing, downloads nothing and writes nothing.

>>> import tempfile
>>> from usagekit.sandbox import Faults, Sandbox
>>> with Sandbox(seed=1, now="2026-11-03T08:00:00Z", clock="frozen", accounts=1, tasks=2,
...              faults=Faults(failed_exports=0)) as box, tempfile.TemporaryDirectory() as folder:
...     report = sync(box.accounts, "2026-11", "2026-11", folder, now=lambda: box.now,
...                   sleep=box.advance, cache_dir=folder + "/cache", progress=False)
...     again = sync(box.accounts, "2026-11", "2026-11", folder, now=lambda: box.now,
...                  sleep=box.advance, cache_dir=folder + "/cache", progress=False)
>>> report.complete, int(report.counts["created"].sum()), int(again.counts["created"].sum())
(True, 2, 0)
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.dataset import check_partition, read_manifest, read_partition, write_partition
from usagekit.errors import (
    ConfigurationError,
    TaskStateError,
    UsagekitError,
    WaitTimeoutError,
)
from usagekit.frames import BEIJING, concat_frames, parse_task_tag, task_frame, tidy_frame
from usagekit.periods import (
    Span,
    day_ceil,
    day_floor,
    iso,
    merge,
    month_bounds,
    months,
    newest_cover,
    subtract,
    utc,
)
from usagekit.progress import progress_enabled
from usagekit.sync_arguments import (
    Elapsed,
    checked_period_and_options,
    chosen_accounts,
    domain_scope,
    refuse_start_end,
    service_clock,
)
from usagekit.sync_report import COUNTS, RetryLog, SyncReport

__all__ = ["SyncReport", "sync"]

#: the metrics each detail export type carries
TYPE_METRICS = {"flow": ("traffic", "bandwidth"), "vas": ("requests",)}
#: what ``sync`` writes after the tag in the names of the exports it creates
MARK = "sync"
_POINT = pd.Timedelta(minutes=5)
_MAX_CREATES = 2  # per window and run: a failed export is created once more, then reported
#: partitions fetched, read and written at once (peak memory is about this many partitions' worth)
PARTITION_WORKERS = 4


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One sync per dataset at a time (``_sync.lock``, released by the OS if the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, the atomic writes still hold
        yield
        return
    descriptor = os.open(root / "_sync.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigurationError(
                f"another sync is writing the dataset {str(root)!r}: wait for it to finish"
            ) from None
        yield
    finally:
        os.close(descriptor)


# --- one run -----------------------------------------------------------------------------------------


@dataclass
class _Unit:
    """One account, Beijing month and export type: what is wanted, what is missing, what fills it."""

    account: str
    month: str
    type: str
    wanted: Span
    gaps: list[Span]
    pieces: list[tuple[str, Span]] = field(default_factory=list)  # (task id, interval) chosen


class _Sync:
    def __init__(self, accounts: list[Account], root: Path, options: dict[str, Any]) -> None:
        self.accounts = {a.name: a for a in accounts}
        self.root = root
        self.o = options
        self.domains, self.mark = domain_scope(options["domains"], MARK)
        self.counts: dict[tuple[str, str], Counter[str]] = {}
        self.failures: list[dict[str, str]] = []
        self.retried: list[str] = []
        self.deleted: list[str] = []
        self.pool: dict[tuple[str, str], dict[str, Any]] = {}  # (account, task id) -> task row
        self.listed_ok: set[str] = set()
        self.list_errors: dict[str, str] = {}
        self.created: set[tuple[str, str]] = set()  # (account, task id) of exports this run created
        self.attempts: Counter[tuple[str, str, pd.Timestamp, pd.Timestamp]] = Counter()
        self.distrusted: dict[tuple[str, str], str] = {}  # partitions failing their check: why
        self.unhashed: set[tuple[str, str]] = set()  # partitions the manifest holds no hash for
        self.rewritten: set[tuple[str, str]] = set()
        self.repaired: list[dict[str, str]] = []
        self.lock = threading.Lock()  # partitions are written on several threads
        self.clock = Elapsed(options["now"], options["sleep"])
        self.deadline = self.clock() + options["timeout"]

    def count(self, unit: _Unit | tuple[str, str], name: str, n: int = 1) -> None:
        key = (unit.account, unit.month) if isinstance(unit, _Unit) else unit
        with self.lock:
            self.counts.setdefault(key, Counter())[name] += n

    def fail(self, unit: _Unit, reason: str) -> None:
        with self.lock:
            self.failures.append(
                {"account": unit.account, "month": unit.month, "type": unit.type, "reason": reason}
            )
        self.count(unit, "failed")

    # --- 1. what the dataset holds ---

    def plan(self, lower: pd.Timestamp, upper: pd.Timestamp, now: pd.Timestamp) -> list[_Unit]:
        self.manifest = read_manifest(self.root)
        self.horizon = min(upper, day_floor(now))
        self.oldest = day_ceil(now - pd.Timedelta(days=365))
        units = []
        for name in self.accounts:
            for month in months(lower, self.horizon):
                first, last = month_bounds(month)
                wanted = (max(first, lower), min(last, self.horizon))
                self.counts.setdefault((name, month), Counter())
                self.verify(name, month)
                held = self.held(name, month)
                for kind in self.o["types"]:
                    gaps = subtract([wanted], [span for t, _, span in held if t == kind])
                    units.append(_Unit(name, month, kind, wanted, gaps))
                    if not gaps:
                        self.count((name, month), "skipped")
        return units

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

    def held(self, account: str, month: str) -> list[tuple[str, dict[str, Any], Span]]:
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

    def list_exports(self, names: Sequence[str]) -> None:
        from usagekit.listing import list_tasks

        accounts = [self.accounts[n] for n in names]
        frame = list_tasks(accounts, kind="detail", errors="collect", progress=False)
        self.list_errors = {
            r["account"]: f"listing failed: {r['code']}: {r['message']}" for r in frame.attrs["errors"]
        }
        self.listed_ok = {n for n in names if n not in self.list_errors}
        for row in frame.to_dict("records"):
            if self.matches(row):
                self.pool[(row["account"], row["task_id"])] = row

    def matches(self, row: dict[str, Any]) -> bool:
        tag = parse_task_tag(row.get("task_name"))
        if tag is None or pd.isna(row.get("window_start")) or pd.isna(row.get("window_end")):
            return False
        if self.domains is None:
            return tag.domains == "all"
        return tag.domains == "some" and tag.name == self.mark

    @staticmethod
    def cover(row: dict[str, Any]) -> Span:
        """What an export holds: its window, but nothing after the moment it was created."""
        start, end = row["window_start"], row["window_end"]
        created = row.get("created")
        if created is not None and not pd.isna(created):
            end = min(end, created.floor("5min"))
        return start, end

    def candidates(self, unit: _Unit, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
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
        self, unit: _Unit, statuses: tuple[str, ...] = ("success",)
    ) -> tuple[list[tuple[str, Span]], list[Span]]:
        """Which export gives each gap interval (the newest covering one), and what no export covers."""
        rows = self.candidates(unit, statuses)
        if not rows or not unit.gaps:
            return [], list(unit.gaps)
        epoch = pd.Timestamp(0, tz="UTC")
        covers = [
            (
                *self.cover(row),
                epoch if row.get("updated") is None or pd.isna(row["updated"]) else row["updated"],
                int(row["task_id"]) if str(row["task_id"]).isdigit() else 0,
                str(row["task_id"]),
            )
            for row in rows
        ]
        return newest_cover(covers, unit.gaps)

    # --- 3. what is missing is exported ---

    def windows(self, unit: _Unit, left: Sequence[Span]) -> list[Span]:
        spans = []
        for a, b in merge([(day_floor(a), day_ceil(b)) for a, b in left]):
            a, b = max(a, unit.wanted[0]), min(b, unit.wanted[1])
            if a < self.oldest:
                if b <= self.oldest:
                    continue  # reported as missing: the service exports the last year only
                a = self.oldest
            spans.append((a, b))
        return spans

    def fill(self, units: list[_Unit]) -> None:
        from usagekit.lifecycle import create_export, wait

        open_units = [u for u in units if u.gaps and u.account in self.listed_ok]
        while True:
            to_wait: dict[tuple[str, str], dict[str, Any]] = {}
            to_create: dict[str, list[tuple[_Unit, Span]]] = {}
            for unit in open_units:
                _, left = self.assign(unit)
                running, still = self.assign(
                    _Unit(unit.account, unit.month, unit.type, unit.wanted, left), ("created",)
                )
                for task_id, _span in running:
                    to_wait[(unit.account, task_id)] = self.pool[(unit.account, task_id)]
                for span in self.windows(unit, still):
                    key = (unit.account, unit.type, *span)
                    if self.attempts[key] < _MAX_CREATES:
                        to_create.setdefault(unit.account, []).append((unit, span))
            if not to_wait and not to_create:
                break
            for name, wanted in to_create.items():
                room = self.o["max_in_flight"] - sum(1 for (a, _) in to_wait if a == name)
                for unit, (a, b) in wanted[: max(0, room)]:
                    self.attempts[(unit.account, unit.type, a, b)] += 1
                    if self.attempts[(unit.account, unit.type, a, b)] > 1:
                        self.retried.append(
                            f"{unit.account}: {unit.type} export of {iso(a)} to {iso(b)} recreated after it failed"
                        )
                    try:
                        task = create_export(
                            self.accounts[name],
                            "detail",
                            a,
                            b,
                            type=unit.type,
                            domains=self.domains,
                            language=self.o["language"],
                            name=self.mark,
                        )
                    except UsagekitError as error:
                        self.attempts[(unit.account, unit.type, a, b)] = _MAX_CREATES
                        self.fail(
                            unit,
                            f"could not create the {unit.type} export of {iso(a)} to {iso(b)}: {error}",
                        )
                        continue
                    row = task.to_row()
                    self.created.add((name, task.task_id))
                    self.pool[(name, task.task_id)] = row
                    to_wait[(name, task.task_id)] = row
                    self.count(unit, "created")
            if not to_wait:
                break
            remaining = self.deadline - self.clock()
            try:
                done = wait(
                    task_frame(list(to_wait.values())),
                    accounts=list(self.accounts.values()),
                    timeout=max(0.0, remaining),
                    poll=self.o["poll"],
                    sleep=self.clock.sleep,
                    clock=self.clock,
                    progress=self.o["progress"],
                )
            except (WaitTimeoutError, TaskStateError) as error:
                for unit in open_units:
                    if any(a == unit.account for a, _ in to_wait):
                        self.fail(unit, f"{error}; run sync again later to use them")
                return
            for row in done.to_dict("records"):
                self.pool[(row["account"], row["task_id"])] = row
                for unit in open_units:
                    if unit.account == row["account"] and unit.type == row["type"]:
                        lo, hi = self.cover(row)
                        if lo < unit.wanted[1] and hi > unit.wanted[0]:
                            self.count(unit, "waited")
        for unit in open_units:  # windows whose exports failed twice: reported, not created again
            for a, b in self.windows(unit, self.assign(unit)[1]):
                if self.attempts[(unit.account, unit.type, a, b)] >= _MAX_CREATES:
                    reason = f"the {unit.type} export of {iso(a)} to {iso(b)} failed {_MAX_CREATES} times"
                    self.fail(unit, reason)

    # --- 4. fetch, read, write: one partition at a time per worker ---

    def read_export(self, account: str, task_id: str) -> tuple[pd.DataFrame, str, str]:
        """One export's tidy rows, its file's SHA-256 and when it was fetched."""
        from usagekit.dataset import file_digest
        from usagekit.downloads import fetch
        from usagekit.tidy import usage

        frame = task_frame([self.pool[(account, task_id)]])
        accounts = list(self.accounts.values())
        common = {"accounts": accounts, "cache_dir": self.o["cache_dir"], "progress": False}
        path = fetch(frame, executor=self.o["executor"], **common)[0]
        digest, _ = file_digest(path)
        fetched = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return usage(frame, executor=self.o["executor"], **common), digest, fetched

    def write(self, units: list[_Unit]) -> None:
        """Each partition that gains rows is read, reconciled and written by one worker, then released.

        Peak memory is a few partitions' worth (one per worker), whatever the accounts and months.
        """
        partitions: dict[tuple[str, str], list[_Unit]] = {}
        for unit in units:
            if unit.account in self.listed_ok:
                unit.pieces, _ = self.assign(unit)
                if unit.pieces:
                    partitions.setdefault((unit.account, unit.month), []).append(unit)
        if not partitions:
            return
        reads = sum(len({t for u in us for t, _ in u.pieces}) for us in partitions.values())
        bar = _bar(self.o["progress"], reads, "exports read")
        workers = min(PARTITION_WORKERS, len(partitions))
        with ThreadPoolExecutor(workers, thread_name_prefix="usagekit-sync") as threads:
            jobs = [
                threads.submit(self.sync_partition, *key, us, bar) for key, us in sorted(partitions.items())
            ]
            for job in jobs:
                job.result()
        if bar is not None:
            bar.close()

    def sync_partition(self, account: str, month: str, units: list[_Unit], bar: Any) -> None:
        """Fetch and read the exports one partition needs, then write it (its rows freed on return)."""
        read: dict[tuple[str, str], Any] = {}
        gained = []
        for unit in units:
            good = []
            for task_id, span in unit.pieces:
                key = (account, task_id)
                if key not in read:
                    try:
                        read[key] = self.read_export(account, task_id)
                    except UsagekitError as error:
                        read[key] = error
                    if bar is not None:
                        bar.update(1)
                if isinstance(read[key], UsagekitError):
                    self.fail(unit, f"export {task_id} could not be fetched or read: {read[key]}")
                else:
                    good.append((task_id, span))
            unit.pieces = good
            ids = {tid for tid, _ in good}
            self.count(unit, "fetched", len(ids))
            self.count(unit, "found", len({i for i in ids if (account, i) not in self.created}))
            if good:
                gained.append(unit)
        if gained:
            self.write_partition(account, month, gained, read)

    def write_partition(self, account: str, month: str, gained: list[_Unit], read: dict[Any, Any]) -> None:
        provenance = self.provenance(account, month) or {}
        # checked against its recorded hash in plan(): read without checking it a second time
        old = read_partition(self.root, account, month, verify=False) if provenance else None
        pieces = list(provenance.get("pieces", []))
        frames = []
        for piece in pieces if old is not None else []:  # rows the provenance vouches for
            for a, b in piece["covers"]:
                keep = (
                    old["metric"].isin(TYPE_METRICS[piece["type"]])
                    & (old["start"] >= utc(a))
                    & (old["start"] < utc(b))
                )
                frames.append(old[keep])
        for unit in gained:
            for task_id, (a, b) in unit.pieces:
                rows, digest, fetched = read[(account, task_id)]
                keep = (
                    rows["metric"].isin(TYPE_METRICS[unit.type]) & (rows["start"] >= a) & (rows["start"] < b)
                )
                frames.append(rows[keep])
                task = self.pool[(account, task_id)]
                pieces.append(
                    {
                        "type": unit.type,
                        "task_id": task_id,
                        "task_name": task.get("task_name"),
                        "window_start": iso(task["window_start"]),
                        "window_end": iso(task["window_end"]),
                        "created": iso(task["created"]) if task.get("created") is not None else None,
                        "updated": iso(task["updated"]) if task.get("updated") is not None else None,
                        "fetched": fetched,
                        "sha256": digest,
                        "covers": [[iso(a), iso(b)]],
                    }
                )
        frame = concat_frames(frames) if frames else tidy_frame({})
        frame = frame.drop_duplicates(subset=["domain", "region", "metric", "start"], keep="last")
        self.note_repair(account, month, frame)
        write_partition(
            frame,
            self.root,
            account,
            month,
            provenance={"account": account, "month": month, "domains": self.domains, "pieces": pieces},
        )
        with self.lock:
            self.rewritten.add((account, month))
        self.count((account, month), "written", len(frame))

    def note_repair(self, account: str, month: str, frame: pd.DataFrame) -> None:
        """Report a damaged partition being rewritten; an unhashed one only if its rows differ."""
        key = (account, month)
        if key not in self.distrusted:
            return
        reason = self.distrusted[key]
        if key in self.unhashed:
            try:  # read only to compare with the fresh exports, never copied
                old = read_partition(self.root, account, month, verify=False)
            except UsagekitError as error:
                reason = f"{reason}, and it cannot be read ({error})"
            else:
                if _same_rows(old, frame):
                    return  # the same data: from now on trusted under the hash written with it
                reason = f"{reason}, and its rows differ from fresh exports"
        with self.lock:
            self.repaired.append({"account": account, "month": month, "reason": reason})
        self.count(key, "repaired")

    # --- cleanup and the report ---

    def cleanup(self) -> None:
        from usagekit.lifecycle import delete_export

        manifest = read_manifest(self.root)
        damaged = {
            k for k in self.distrusted if k not in self.rewritten
        }  # its provenance vouches for nothing
        kept = {
            (entry["account"], piece["task_id"])
            for entry in manifest["partitions"].values()
            if (entry["account"], entry["month"]) not in damaged
            for piece in (entry.get("provenance") or {}).get("pieces", [])
        }
        for (account, task_id), row in sorted(self.pool.items()):
            if self.ours(row) and (
                row.get("status") == "failed"
                or (row.get("status") == "success" and (account, task_id) in kept)
            ):
                try:
                    delete_export(self.accounts[account], "detail", task_id)
                except UsagekitError as error:
                    self.retried.append(f"{account}: could not delete export {task_id}: {error}")
                else:
                    self.deleted.append(f"{account}: export {task_id}")

    def report(self, units: list[_Unit], retries: RetryLog) -> SyncReport:
        held: dict[tuple[str, str], list[tuple[str, dict[str, Any], Span]]] = {}
        self.manifest = read_manifest(self.root)
        missing = []
        for unit in units:
            spans = held.setdefault((unit.account, unit.month), self.held(unit.account, unit.month))
            for a, b in subtract([unit.wanted], [s for t, _, s in spans if t == unit.type]):
                missing.append({"account": unit.account, "type": unit.type, "start": iso(a), "end": iso(b)})
                if a < self.oldest:
                    reason = (
                        f"{iso(a)} to {iso(min(b, self.oldest))} is older than the year the service "
                        "exports; only a dataset that already held it has it"
                    )
                    self.fail(unit, reason)
            if unit.gaps and unit.account in self.list_errors:
                self.fail(unit, self.list_errors[unit.account])
        for (account, month), problem in sorted(self.distrusted.items()):
            if (account, month) not in self.rewritten:
                self.failures.append(
                    {"account": account, "month": month, "type": "all",
                     "reason": f"the partition cannot be trusted ({problem}) and was not rewritten yet"}
                )  # fmt: skip
        records = [
            {"account": a, "month": m, **{n: c.get(n, 0) for n in COUNTS}}
            for (a, m), c in sorted(self.counts.items())
        ]
        counts = pd.DataFrame(records, columns=["account", "month", *COUNTS])
        last_day = (self.horizon - pd.Timedelta(seconds=1)).tz_convert(BEIJING).strftime("%Y-%m-%d")
        return SyncReport(
            counts=counts,
            failures=tuple(self.failures),
            missing=tuple(missing),
            retried=tuple(retries.lines() + self.retried),
            repaired=tuple(self.repaired),
            deleted=tuple(self.deleted),
            through=last_day,
        )


def _same_rows(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """The same measurements (which export gave them aside)."""
    key = ["domain", "region", "metric", "start", "end", "value", "unit"]

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[key].astype({c: "string" for c in ("domain", "region", "metric", "unit")})
        return values.sort_values(key[:4], na_position="first").reset_index(drop=True)

    return len(old) == len(new) and plain(old).equals(plain(new))


def _bar(enabled: bool, total: int, what: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="export", disable=False)


def sync(
    accounts: Account | Sequence[Account] | None,
    first_month: str | None = None,
    last_month: str | None = None,
    dataset: str | os.PathLike[str] | None = None,
    *,
    types: Sequence[str] = ("flow", "vas"),
    domains: str | Sequence[str] | None = None,
    language: str = "en-us",
    max_in_flight: int = 4,
    timeout: float = 3600,
    executor: Executor | None = None,
    progress: bool | None = None,
    cleanup: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    now: datetime | str | Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 2.0,
    **refused: Any,
) -> SyncReport:
    """Make ``dataset`` hold the detail usage of ``accounts`` over a period; returns a :class:`SyncReport`.

    ``first_month`` and ``last_month`` are Beijing months (``YYYY-MM``), both inclusive (``"2026-09"``,
    ``"2026-11"``: September to November); the period stops before the current Beijing day (by ``now``:
    the service's time, default this machine's clock; a sandbox passes ``lambda: box.now``).
    ``accounts=None`` is every discovered account. ``types`` are ``flow`` and/or ``vas``;
    ``domains=None`` exports by account (the account's totals, what the bill needs), a domain or a
    list exports exactly those domains (a dataset holds one of the two). Exports are created in
    ``language``, at most ``max_in_flight`` running per account, waited for up to ``timeout`` seconds
    in all, measured on the injected clock (``now`` as it moves, or the seconds ``sleep`` slept;
    ``poll`` as for :func:`usagekit.wait`), fetched into ``cache_dir`` and read on ``executor`` (as
    :func:`usagekit.usage`). ``cleanup`` deletes the exports sync created once their data is in the
    dataset (and the failed ones). ``progress`` shows tqdm bars while sync waits for exports and reads
    them (default: when a person is watching; ``TQDM_DISABLE=1`` silences them).

    Every partition kept is first checked against the SHA-256 and size the manifest recorded; one that
    fails, or that the manifest holds no hash for, is exported again and rewritten (never copied from),
    and the report names it under ``repaired``. Every argument is checked before any folder is made
    or request sent: a bad one is an :class:`~usagekit.errors.ArgumentError`, as are the keywords
    ``start``/``end``, which now mean moments everywhere else (use ``first_month``/``last_month``).
    """
    refuse_start_end(refused)
    lower, upper, types, root = checked_period_and_options(
        first_month, last_month, dataset, types=types, domains=domains, max_in_flight=max_in_flight,
        timeout=timeout, known_types=tuple(TYPE_METRICS),
    )  # fmt: skip
    clock = service_clock(now)
    chosen = chosen_accounts(accounts)
    root.mkdir(parents=True, exist_ok=True)
    options = {
        "types": tuple(dict.fromkeys(types)),
        "domains": domains,
        "language": language,
        "max_in_flight": max_in_flight,
        "timeout": timeout,
        "executor": executor,
        "cache_dir": cache_dir,
        "now": clock,
        "sleep": sleep,
        "poll": poll,
        "progress": progress_enabled(progress),
    }
    run = _Sync(chosen, root, options)
    with _locked(root), RetryLog() as retries:
        units = run.plan(lower, upper, utc(clock()))
        gapped = sorted({u.account for u in units if u.gaps} | (set(run.accounts) if cleanup else set()))
        if gapped:
            run.list_exports(gapped)
            run.fill(units)
            run.write(units)
        if cleanup:
            run.cleanup()
        return run.report(units, retries)
