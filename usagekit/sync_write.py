"""Write one partition of a sync: fetch and read its exports, reconcile, write it, let its rows go.

:class:`PartitionWriter` is what one worker of :func:`usagekit.sync` does for one ``account=…/month=…``
partition: the exports the :class:`~usagekit.sync_plan.Planner` chose are fetched (cached) and read
with :func:`usagekit.usage`, the rows the partition's provenance vouches for are kept, the new pieces
added (each with its export's SHA-256 and when it was fetched), and the partition is replaced
atomically. A partition that failed its check is never copied from; it is reported as repaired
(one the manifest held no hash for only if its rows differ from the fresh exports, :func:`same_rows`).

>>> rows = pd.DataFrame({"domain": ["a"], "region": ["CN"], "metric": ["requests"],
...                      "start": [pd.Timestamp("2026-11-01", tz="UTC")],
...                      "end": [pd.Timestamp("2026-11-01 00:05", tz="UTC")], "value": [3.0], "unit": ["count"]})
>>> same_rows(rows, rows.assign(task_id="7")), same_rows(rows, rows.assign(value=4.0))
(True, False)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.dataset import read_partition, write_partition
from usagekit.errors import UsagekitError
from usagekit.frames import concat_frames, task_frame, tidy_frame
from usagekit.periods import iso, utc
from usagekit.sync_plan import TYPE_METRICS, Planner, SyncOptions, Tally, Unit

__all__ = ["PartitionWriter", "same_rows"]

#: an export as read: its tidy rows, its file's SHA-256 and when it was fetched (or why it could not be)
Read = tuple[pd.DataFrame, str, str]


class PartitionWriter:
    """Fetch, read, reconcile and write partitions of the dataset at ``root`` (one per call, any thread).

    ``created`` holds the (account, task id) of the exports this run created (counted as ``fetched``
    but not ``found``); ``repaired`` gathers the partitions rewritten because they failed their check.
    """

    def __init__(
        self,
        root: Path,
        accounts: list[Account],
        options: SyncOptions,
        planner: Planner,
        tally: Tally,
        created: set[tuple[str, str]],
    ) -> None:
        self.root, self.accounts, self.options = root, accounts, options
        self.planner, self.tally, self.created = planner, tally, created
        self.repaired: list[dict[str, str]] = []

    def sync_partition(self, account: str, month: str, units: list[Unit], bar: Any) -> None:
        """Fetch and read the exports one partition needs, then write it (its rows freed on return)."""
        read: dict[tuple[str, str], Read | UsagekitError] = {}
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
                    self.tally.fail(unit, f"export {task_id} could not be fetched or read: {read[key]}")
                else:
                    good.append((task_id, span))
            unit.pieces = good
            ids = {tid for tid, _ in good}
            self.tally.count(unit, "fetched", len(ids))
            self.tally.count(unit, "found", len({i for i in ids if (account, i) not in self.created}))
            if good:
                gained.append(unit)
        if gained:
            self.write(account, month, gained, read)

    def read_export(self, account: str, task_id: str) -> Read:
        """One export's tidy rows, its file's SHA-256 and when it was fetched."""
        from usagekit.dataset import file_digest
        from usagekit.downloads import fetch
        from usagekit.tidy import usage

        frame = task_frame([self.planner.pool[(account, task_id)]])
        common: dict[str, Any] = {
            "accounts": self.accounts,
            "cache_dir": self.options.cache_dir,
            "progress": False,
        }
        path = fetch(frame, executor=self.options.executor, **common)[0]
        digest, _ = file_digest(path)
        fetched = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return usage(frame, executor=self.options.executor, **common), digest, fetched

    def write(self, account: str, month: str, gained: list[Unit], read: dict[Any, Any]) -> None:
        """The rows the provenance vouches for and the gained pieces, written as the partition."""
        provenance = self.planner.provenance(account, month) or {}
        pieces = list(provenance.get("pieces", []))
        frames = self.kept_rows(account, month, pieces) if provenance else []
        for unit in gained:
            for task_id, (a, b) in unit.pieces:
                rows, digest, fetched = read[(account, task_id)]
                keep = (
                    rows["metric"].isin(TYPE_METRICS[unit.type]) & (rows["start"] >= a) & (rows["start"] < b)
                )
                frames.append(rows[keep])
                pieces.append(self.piece(account, task_id, unit.type, (a, b), digest, fetched))
        frame = concat_frames(frames) if frames else tidy_frame({})
        frame = frame.drop_duplicates(subset=["domain", "region", "metric", "start"], keep="last")
        self.note_repair(account, month, frame)
        write_partition(
            frame,
            self.root,
            account,
            month,
            provenance={
                "account": account,
                "month": month,
                "domains": self.options.domains,
                "pieces": pieces,
            },
        )
        with self.tally.lock:
            self.planner.rewritten.add((account, month))
        self.tally.count((account, month), "written", len(frame))

    def kept_rows(self, account: str, month: str, pieces: list[dict[str, Any]]) -> list[pd.DataFrame]:
        """The partition's rows its provenance vouches for (one frame per covered interval)."""
        # checked against its recorded hash when planned: read without checking it a second time
        old = read_partition(self.root, account, month, verify=False)
        frames = []
        for piece in pieces:
            for a, b in piece["covers"]:
                keep = (
                    old["metric"].isin(TYPE_METRICS[piece["type"]])
                    & (old["start"] >= utc(a))
                    & (old["start"] < utc(b))
                )
                frames.append(old[keep])
        return frames

    def piece(
        self, account: str, task_id: str, kind: str, span: tuple[Any, Any], digest: str, fetched: str
    ) -> dict[str, Any]:
        """What the provenance records of one export's interval in the partition."""
        task = self.planner.pool[(account, task_id)]
        return {
            "type": kind,
            "task_id": task_id,
            "task_name": task.get("task_name"),
            "window_start": iso(task["window_start"]),
            "window_end": iso(task["window_end"]),
            "created": iso(task["created"]) if task.get("created") is not None else None,
            "updated": iso(task["updated"]) if task.get("updated") is not None else None,
            "fetched": fetched,
            "sha256": digest,
            "covers": [[iso(span[0]), iso(span[1])]],
        }

    def note_repair(self, account: str, month: str, frame: pd.DataFrame) -> None:
        """Report a damaged partition being rewritten; an unhashed one only if its rows differ."""
        key = (account, month)
        if key not in self.planner.distrusted:
            return
        reason = self.planner.distrusted[key]
        if key in self.planner.unhashed:
            try:  # read only to compare with the fresh exports, never copied
                old = read_partition(self.root, account, month, verify=False)
            except UsagekitError as error:
                reason = f"{reason}, and it cannot be read ({error})"
            else:
                if same_rows(old, frame):
                    return  # the same data: from now on trusted under the hash written with it
                reason = f"{reason}, and its rows differ from fresh exports"
        with self.tally.lock:
            self.repaired.append({"account": account, "month": month, "reason": reason})
        self.tally.count(key, "repaired")


def same_rows(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """The same measurements (which export gave them aside)."""
    key = ["domain", "region", "metric", "start", "end", "value", "unit"]

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[key].astype({c: "string" for c in ("domain", "region", "metric", "unit")})
        return values.sort_values(key[:4], na_position="first").reset_index(drop=True)

    return len(old) == len(new) and plain(old).equals(plain(new))
