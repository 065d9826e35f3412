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

The parts: :class:`~usagekit.sync_plan.Planner` decides what is held, what exists and what is
missing (steps 1-3, no request), :class:`~usagekit.sync_write.PartitionWriter` does step 4 for one
partition, and this module runs them (listing, creating and waiting for exports, cleanup, the report).

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
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd

from usagekit.accounts import Account
from usagekit.dataset import read_manifest
from usagekit.errors import ConfigurationError, TaskStateError, UsagekitError, WaitTimeoutError
from usagekit.frames import BEIJING, task_frame
from usagekit.periods import Span, iso, subtract, utc
from usagekit.progress import progress_enabled
from usagekit.sync_arguments import (
    Elapsed,
    checked_period_and_options,
    checked_run_options,
    chosen_accounts,
    domain_scope,
    refuse_start_end,
    service_clock,
)
from usagekit.sync_plan import TYPE_METRICS, Held, Planner, SyncOptions, Tally, Unit, export_cover
from usagekit.sync_report import COUNTS, RetryLog, SyncReport
from usagekit.sync_write import PartitionWriter

__all__ = ["SyncReport", "sync"]

#: what ``sync`` writes after the tag in the names of the exports it creates
MARK = "sync"
_MAX_CREATES = 2  # per window and run: a failed export is created once more, then reported
#: partitions fetched, read and written at once (peak memory is about this many partitions' worth)
PARTITION_WORKERS = 4
#: exports to wait for, (account, task id) -> task row; exports to create, account -> (unit, window)
_Waits = dict[tuple[str, str], dict[str, Any]]
_Creates = dict[str, list[tuple[Unit, Span]]]


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


class _Sync:
    """One run: the planner says what is missing, exports are created and waited for, the writer writes."""

    def __init__(self, accounts: list[Account], root: Path, options: SyncOptions) -> None:
        self.accounts = {a.name: a for a in accounts}
        self.root = root
        self.options = options
        self.tally = Tally()
        self.planner = Planner(
            root, domains=options.domains, mark=options.mark, types=options.types, tally=self.tally
        )
        self.created: set[tuple[str, str]] = set()  # (account, task id) of exports this run created
        self.writer = PartitionWriter(
            root, list(self.accounts.values()), options, self.planner, self.tally, self.created
        )
        self.retried: list[str] = []
        self.deleted: list[str] = []
        self.listed_ok: set[str] = set()
        self.list_errors: dict[str, str] = {}
        self.attempts: Counter[tuple[str, str, pd.Timestamp, pd.Timestamp]] = Counter()
        self.clock = Elapsed(options.now, options.sleep)
        self.deadline = self.clock() + options.timeout

    # --- 2. what exists ---

    def list_exports(self, names: Sequence[str]) -> None:
        from usagekit.listing import list_tasks

        accounts = [self.accounts[n] for n in names]
        frame = list_tasks(accounts, kind="detail", errors="collect", progress=False)
        self.list_errors = {
            r["account"]: f"listing failed: {r['code']}: {r['message']}" for r in frame.attrs["errors"]
        }
        self.listed_ok = {n for n in names if n not in self.list_errors}
        self.planner.take_listing(_records(frame))

    # --- 3. what is missing is exported ---

    def fill(self, units: list[Unit]) -> None:
        """Create the exports the gaps need and wait for them, until every gap is filled or given up."""
        open_units = [u for u in units if u.gaps and u.account in self.listed_ok]
        while True:
            to_wait, to_create = self.pending(open_units)
            if not to_wait and not to_create:
                break
            self.create(to_create, to_wait)
            if not to_wait:
                break
            if not self.await_exports(to_wait, open_units):
                return
        for unit in open_units:  # windows whose exports failed twice: reported, not created again
            for a, b in self.planner.windows(unit, self.planner.assign(unit)[1]):
                if self.attempts[(unit.account, unit.type, a, b)] >= _MAX_CREATES:
                    reason = f"the {unit.type} export of {iso(a)} to {iso(b)} failed {_MAX_CREATES} times"
                    self.tally.fail(unit, reason)

    def pending(self, open_units: list[Unit]) -> tuple[_Waits, _Creates]:
        """The running exports sync made that cover gaps, and the windows still to be created."""
        to_wait: _Waits = {}
        to_create: _Creates = {}
        for unit in open_units:
            _, left = self.planner.assign(unit)
            running, still = self.planner.assign(
                Unit(unit.account, unit.month, unit.type, unit.wanted, left), ("created",)
            )
            for task_id, _span in running:
                to_wait[(unit.account, task_id)] = self.planner.pool[(unit.account, task_id)]
            for span in self.planner.windows(unit, still):
                key = (unit.account, unit.type, *span)
                if self.attempts[key] < _MAX_CREATES:
                    to_create.setdefault(unit.account, []).append((unit, span))
        return to_wait, to_create

    def create(self, to_create: _Creates, to_wait: _Waits) -> None:
        """Create the windows' exports, at most ``max_in_flight`` running per account, adding to ``to_wait``."""
        from usagekit.lifecycle import create_export

        for name, wanted in to_create.items():
            room = self.options.max_in_flight - sum(1 for (a, _) in to_wait if a == name)
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
                        domains=self.options.domains,
                        language=self.options.language,
                        name=self.options.mark,
                    )
                except UsagekitError as error:
                    self.attempts[(unit.account, unit.type, a, b)] = _MAX_CREATES
                    self.tally.fail(
                        unit,
                        f"could not create the {unit.type} export of {iso(a)} to {iso(b)}: {error}",
                    )
                    continue
                row = task.to_row()
                self.created.add((name, task.task_id))
                self.planner.pool[(name, task.task_id)] = row
                to_wait[(name, task.task_id)] = row
                self.tally.count(unit, "created")

    def await_exports(self, to_wait: _Waits, open_units: list[Unit]) -> bool:
        """Wait for the exports until the run's deadline; ``False`` (the units failed) if they did not end."""
        from usagekit.lifecycle import wait

        remaining = self.deadline - self.clock()
        try:
            done = wait(
                task_frame(list(to_wait.values())),
                accounts=list(self.accounts.values()),
                timeout=max(0.0, remaining),
                poll=self.options.poll,
                sleep=self.clock.sleep,
                clock=self.clock,
                progress=self.options.progress,
            )
        except (WaitTimeoutError, TaskStateError) as error:
            for unit in open_units:
                if any(a == unit.account for a, _ in to_wait):
                    self.tally.fail(unit, f"{error}; run sync again later to use them")
            return False
        for row in _records(done):
            self.planner.pool[(row["account"], row["task_id"])] = row
            for unit in open_units:
                if unit.account == row["account"] and unit.type == row["type"]:
                    lo, hi = export_cover(row)
                    if lo < unit.wanted[1] and hi > unit.wanted[0]:
                        self.tally.count(unit, "waited")
        return True

    # --- 4. fetch, read, write: one partition at a time per worker ---

    def write(self, units: list[Unit]) -> None:
        """Each partition that gains rows is read, reconciled and written by one worker, then released.

        Peak memory is a few partitions' worth (one per worker), whatever the accounts and months.
        """
        partitions: dict[tuple[str, str], list[Unit]] = {}
        for unit in units:
            if unit.account in self.listed_ok:
                unit.pieces, _ = self.planner.assign(unit)
                if unit.pieces:
                    partitions.setdefault((unit.account, unit.month), []).append(unit)
        if not partitions:
            return
        reads = sum(len({t for u in us for t, _ in u.pieces}) for us in partitions.values())
        bar = _bar(self.options.progress, reads, "exports read")
        workers = min(PARTITION_WORKERS, len(partitions))
        with ThreadPoolExecutor(workers, thread_name_prefix="usagekit-sync") as threads:
            jobs = [
                threads.submit(self.writer.sync_partition, *key, us, bar)
                for key, us in sorted(partitions.items())
            ]
            for job in jobs:
                job.result()
        if bar is not None:
            bar.close()

    # --- cleanup and the report ---

    def cleanup(self) -> None:
        from usagekit.lifecycle import delete_export

        manifest = read_manifest(self.root)
        damaged = {
            k for k in self.planner.distrusted if k not in self.planner.rewritten
        }  # its provenance vouches for nothing
        kept = {
            (entry["account"], piece["task_id"])
            for entry in manifest["partitions"].values()
            if (entry["account"], entry["month"]) not in damaged
            for piece in (entry.get("provenance") or {}).get("pieces", [])
        }
        for (account, task_id), row in sorted(self.planner.pool.items()):
            if self.planner.ours(row) and (
                row.get("status") == "failed"
                or (row.get("status") == "success" and (account, task_id) in kept)
            ):
                try:
                    delete_export(self.accounts[account], "detail", task_id)
                except UsagekitError as error:
                    self.retried.append(f"{account}: could not delete export {task_id}: {error}")
                else:
                    self.deleted.append(f"{account}: export {task_id}")

    def report(self, units: list[Unit], retries: RetryLog) -> SyncReport:
        planner, tally = self.planner, self.tally
        held: dict[tuple[str, str], list[Held]] = {}
        planner.reload()
        missing = []
        for unit in units:
            spans = held.setdefault((unit.account, unit.month), planner.held(unit.account, unit.month))
            for a, b in subtract([unit.wanted], [s for t, _, s in spans if t == unit.type]):
                missing.append({"account": unit.account, "type": unit.type, "start": iso(a), "end": iso(b)})
                if a < planner.oldest:
                    reason = (
                        f"{iso(a)} to {iso(min(b, planner.oldest))} is older than the year the service "
                        "exports; only a dataset that already held it has it"
                    )
                    tally.fail(unit, reason)
            if unit.gaps and unit.account in self.list_errors:
                tally.fail(unit, self.list_errors[unit.account])
        for (account, month), problem in sorted(planner.distrusted.items()):
            if (account, month) not in planner.rewritten:
                tally.failures.append(
                    {"account": account, "month": month, "type": "all",
                     "reason": f"the partition cannot be trusted ({problem}) and was not rewritten yet"}
                )  # fmt: skip
        records = [
            {"account": a, "month": m, **{n: c.get(n, 0) for n in COUNTS}}
            for (a, m), c in sorted(tally.counts.items())
        ]
        counts = pd.DataFrame(records, columns=["account", "month", *COUNTS])
        last_day = (planner.horizon - pd.Timedelta(seconds=1)).tz_convert(BEIJING).strftime("%Y-%m-%d")
        return SyncReport(
            counts=counts,
            failures=tuple(tally.failures),
            missing=tuple(missing),
            retried=tuple(retries.lines() + self.retried),
            repaired=tuple(self.writer.repaired),
            deleted=tuple(self.deleted),
            through=last_day,
        )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A task frame's rows as dicts keyed by column name."""
    return cast("list[dict[str, Any]]", frame.to_dict("records"))


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
    checked_run_options(
        language=language, executor=executor, progress=progress, cleanup=cleanup, cache_dir=cache_dir,
        sleep=sleep, poll=poll,
    )  # fmt: skip
    clock = service_clock(now)
    chosen = chosen_accounts(accounts)
    root.mkdir(parents=True, exist_ok=True)
    scoped, mark = domain_scope(domains, MARK)
    options = SyncOptions(
        types=tuple(dict.fromkeys(types)),
        domains=scoped,
        mark=mark,
        language=language,
        max_in_flight=max_in_flight,
        timeout=timeout,
        executor=executor,
        cache_dir=cache_dir,
        now=clock,
        sleep=sleep,
        poll=poll,
        progress=progress_enabled(progress),
    )
    run = _Sync(chosen, root, options)
    with _locked(root), RetryLog() as retries:
        units = run.planner.plan(list(run.accounts), lower, upper, utc(clock()))
        gapped = sorted({u.account for u in units if u.gaps} | (set(run.accounts) if cleanup else set()))
        if gapped:
            run.list_exports(gapped)
            run.fill(units)
            run.write(units)
        if cleanup:
            run.cleanup()
        return run.report(units, retries)
