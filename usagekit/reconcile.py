"""The overlap rule: every 5-minute interval counted once when exports overlap.

Exports of the same account may cover the same intervals (two detail exports with overlapping windows,
or an export by account beside exports per domain). :func:`reconcile` applies the architecture's rule to
a tidy frame gathered from several exports:

1. A row is identified by ``(account, domain, region, metric, start)``. When two exports hold the same
   row it is counted once; if their values disagree, the newer export (by ``updated``, then task id)
   wins.
2. Rows of an export made by account (``domain`` NA, the account's totals) are never added to the rows
   per domain of the same account, metric and interval: where any per-domain row exists for that
   ``(account, metric, start)``, the by-account rows are dropped.

What overlapped is returned as plain JSON-able records (in ``frame.attrs["overlaps"]``) and reported in
one :class:`OverlapWarning`.

>>> import pandas as pd
>>> from usagekit.frames import tidy_frame
>>> rows = tidy_frame({"account": ["a", "a"], "task_id": ["1", "2"], "domain": ["x.example"] * 2,
...                    "metric": ["traffic"] * 2, "start": ["2026-11-01T00:00:00Z"] * 2,
...                    "end": ["2026-11-01T00:05:00Z"] * 2, "value": [10.0, 12.0], "unit": ["byte"] * 2})
>>> updated = {"1": pd.Timestamp("2026-11-02", tz="UTC"), "2": pd.Timestamp("2026-11-03", tz="UTC")}
>>> out = reconcile(rows, updated, warn=False)
>>> out["value"].tolist(), out["task_id"].tolist()
([12.0], ['2'])
>>> out.attrs["overlaps"]
[{'account': 'a', 'metric': 'traffic', 'rule': 'newer export', 'kept_task_id': '2', 'dropped_task_id': '1', 'intervals': 1, 'disagreeing': 1}]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from usagekit.frames import TIDY_COLUMNS, tidy_frame

__all__ = ["OverlapWarning", "reconcile"]

_KEY = ("account", "domain", "region", "metric")
NEWER = "newer export"
PER_DOMAIN = "per-domain rows"
SAME_EXPORT = "same export"


class OverlapWarning(UserWarning):
    """Exports overlapped: some intervals were held twice and counted once (see ``attrs["overlaps"]``)."""


def reconcile(
    frame: pd.DataFrame,
    updated: Mapping[str, Any],
    *,
    warn: bool = True,
    stacklevel: int = 2,
) -> pd.DataFrame:
    """Count every interval once: apply the overlap rule to a tidy frame gathered from several exports.

    ``updated`` maps each export, ``(account, task_id)`` or just ``task_id``, to its ``updated`` time
    (an export missing from it counts as the oldest). Returns a tidy frame (same columns and dtypes as the input contract: ``account``,
    ``task_id``, ``domain``, ``region``, ``metric``, ``start``, ``end``, ``value``, ``unit``) sorted by
    ``account, domain, region, metric, start`` (missing first), with ``attrs["overlaps"]``: a list of
    records ``{account, metric, rule, kept_task_id, dropped_task_id, intervals, disagreeing}`` where
    ``rule`` is ``"newer export"`` (the same rows in two exports; ``disagreeing`` counts the intervals
    whose values differed) or ``"per-domain rows"`` (by-account rows dropped; ``disagreeing`` is
    ``None``: a per-domain export may cover only some domains, so its sum need not equal the total).
    With any overlap, one :class:`OverlapWarning` says what was dropped (unless ``warn=False``).

    >>> reconcile(tidy_frame({}), {}, warn=False).attrs["overlaps"]
    []
    """
    frame = _contract(frame)
    n = len(frame)
    if n == 0:
        out = frame.reset_index(drop=True)
        out.attrs = {"overlaps": []}
        return out

    # Codes that sort like the labels (missing first), so the result comes out in label order.
    codes = {name: _sorted_codes(frame[name]) for name in _KEY}
    id_codes, ids = pd.factorize(frame["task_id"].astype("object"), use_na_sentinel=False)
    # an export is (account, task id): two accounts may hold the same id
    width = len(ids) + 1
    account_codes = frame["account"].cat.codes.to_numpy(np.int64)
    pairs, task_codes = np.unique(account_codes * width + id_codes, return_inverse=True)
    accounts = frame["account"].cat.categories
    owners = [str(accounts[int(p) // width]) if p >= 0 else "" for p in pairs]
    task_ids = [str(ids[int(p) % width]) for p in pairs]
    rank = _rank(owners, task_ids, updated).astype(np.int32)[task_codes]
    start = frame["start"].to_numpy("datetime64[ns]").view(np.int64)

    # Rule 1: sort so that equal keys are adjacent, newest export first; keep the first of each run.
    order = np.lexsort((-rank, start, codes["metric"], codes["region"], codes["domain"], codes["account"]))
    del rank
    first = np.ones(n, dtype=bool)
    differs = np.zeros(n - 1, dtype=bool)
    for values in (*codes.values(), start):
        ordered = values[order]
        differs |= ordered[1:] != ordered[:-1]
    first[1:] = differs
    records: list[dict[str, Any]] = []
    if not first.all():
        records += _newer_records(frame, order, first, task_codes, task_ids)
    kept = order[first]
    del order, first, differs

    # Rule 2: by-account rows give way to per-domain rows of the same account, metric and interval.
    by_account = codes["domain"][kept] < 0
    if by_account.any() and (~by_account).any():
        group = codes["account"][kept].astype(np.int64) * 8 + codes["metric"][kept]
        per_domain = pd.MultiIndex.from_arrays([group[~by_account], start[kept][~by_account]])
        candidates = pd.MultiIndex.from_arrays([group[by_account], start[kept][by_account]])
        shadowed = candidates.isin(per_domain)
        if shadowed.any():
            dropped_rows = kept[by_account][shadowed]
            records += _per_domain_records(frame, dropped_rows, kept[~by_account], task_codes, task_ids)
            keep_mask = np.ones(len(kept), dtype=bool)
            keep_mask[np.flatnonzero(by_account)[shadowed]] = False
            kept = kept[keep_mask]

    out = frame.iloc[kept].reset_index(drop=True)  # ``kept`` is in key order already
    for name in _KEY[:3]:  # the values met, sorted (as tidy_frame makes them)
        column = out[name].cat.remove_unused_categories()
        out[name] = column.cat.reorder_categories(sorted(column.cat.categories, key=str))
    out.attrs = {"overlaps": records}
    if records and warn:
        warnings.warn(_describe(records), OverlapWarning, stacklevel=stacklevel + 1)
    return out


def _contract(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's contract columns, coerced with :func:`tidy_frame` only when a dtype is not the contract's."""
    ok = all(name in frame and str(frame[name].dtype) == str(dtype) for name, dtype in TIDY_COLUMNS.items())
    return frame[list(TIDY_COLUMNS)] if ok else tidy_frame(frame)


def _sorted_codes(column: pd.Series) -> np.ndarray:
    """Category codes renumbered so that they sort like the labels (``metric`` keeps its fixed order)."""
    codes = column.cat.codes.to_numpy()
    if column.name == "metric":
        return codes
    labels = [str(c) for c in column.cat.categories]
    if labels == sorted(labels):
        return codes
    remap = np.empty(len(labels) + 1, dtype=np.int32)
    remap[np.argsort(labels, kind="stable")] = np.arange(len(labels), dtype=np.int32)
    remap[-1] = -1  # code -1 (missing) indexes the last slot
    return remap[codes]


def _rank(owners: list[str], task_ids: list[str], updated: Mapping[Any, Any]) -> np.ndarray:
    """Each export's age rank: 0 the oldest. Ties on ``updated`` are broken by task id (numeric order)."""
    oldest = pd.Timestamp.min.tz_localize("UTC")

    def key(index: int) -> tuple[pd.Timestamp, int, str]:
        task_id = task_ids[index]
        when = updated.get((owners[index], task_id), updated.get(task_id))
        when = oldest if when is None or pd.isna(when) else pd.Timestamp(when)
        if when.tzinfo is None:
            when = when.tz_localize("UTC")
        return (when, len(task_id), task_id)

    ranks = np.empty(len(task_ids), dtype=np.int64)
    for position, index in enumerate(sorted(range(len(task_ids)), key=key)):
        ranks[index] = position
    return ranks


def _newer_records(
    frame: pd.DataFrame, order: np.ndarray, first: np.ndarray, task_codes: np.ndarray, task_ids: list[str]
) -> list[dict[str, Any]]:
    """Records of rule 1: which export's rows were dropped in favour of which, and how many differed."""
    positions = np.arange(len(order))
    winner = np.maximum.accumulate(np.where(first, positions, 0))
    losers = ~first
    values = frame["value"].to_numpy("float64")[order]
    a, b = values[losers], values[winner[losers]]
    differs = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    lost = order[losers]
    table = pd.DataFrame(
        {
            "account": frame["account"].cat.codes.to_numpy()[lost],
            "metric": frame["metric"].cat.codes.to_numpy()[lost],
            "kept": task_codes[order[winner[losers]]],
            "dropped": task_codes[lost],
            "start": frame["start"].to_numpy("datetime64[ns]")[lost],
            "differs": differs,
        }
    )
    table["differing_start"] = table["start"].where(table["differs"])
    grouped = table.groupby(["account", "metric", "kept", "dropped"], sort=True).agg(
        intervals=("start", "nunique"), disagreeing=("differing_start", "nunique")
    )
    accounts = frame["account"].cat.categories
    metrics = frame["metric"].cat.categories
    return [
        {
            "account": str(accounts[acct]),
            "metric": str(metrics[metric]),
            "rule": SAME_EXPORT if kept == dropped else NEWER,
            "kept_task_id": task_ids[kept],
            "dropped_task_id": task_ids[dropped],
            "intervals": int(row.intervals),
            "disagreeing": int(row.disagreeing),
        }
        for (acct, metric, kept, dropped), row in grouped.iterrows()
    ]


def _per_domain_records(
    frame: pd.DataFrame,
    dropped_rows: np.ndarray,
    per_domain_rows: np.ndarray,
    task_codes: np.ndarray,
    task_ids: list[str],
) -> list[dict[str, Any]]:
    """Records of rule 2: by-account rows dropped, with the per-domain exports that shadowed them."""
    account = frame["account"].cat.codes.to_numpy()
    metric = frame["metric"].cat.codes.to_numpy()
    start = frame["start"].to_numpy("datetime64[ns]")

    def table(rows: np.ndarray, task: str) -> pd.DataFrame:
        return pd.DataFrame(
            {"account": account[rows], "metric": metric[rows], "start": start[rows], task: task_codes[rows]}
        ).drop_duplicates()

    joined = table(dropped_rows, "dropped").merge(
        table(per_domain_rows, "kept"), on=["account", "metric", "start"], how="inner"
    )
    grouped = joined.groupby(["account", "metric", "kept", "dropped"], sort=True)["start"].nunique()
    accounts = frame["account"].cat.categories
    metrics = frame["metric"].cat.categories
    return [
        {
            "account": str(accounts[acct]),
            "metric": str(metrics[met]),
            "rule": PER_DOMAIN,
            "kept_task_id": task_ids[kept],
            "dropped_task_id": task_ids[dropped],
            "intervals": int(intervals),
            "disagreeing": None,
        }
        for (acct, met, kept, dropped), intervals in grouped.items()
    ]


def _describe(records: list[dict[str, Any]], limit: int = 6) -> str:
    """One warning's text: what overlapped, counted once; the full list is in ``attrs['overlaps']``."""
    lines = []
    for record in records[:limit]:
        line = (
            f"{record['account']} {record['metric']}: task {record['dropped_task_id']} gave way to "
            f"{record['kept_task_id']} ({record['rule']}) on {record['intervals']} intervals"
        )
        if record["disagreeing"]:
            line += f", {record['disagreeing']} of them with different values"
        lines.append(line)
    if len(records) > limit:
        lines.append(f"... and {len(records) - limit} more")
    return (
        f"overlapping exports: {len(records)} overlap(s) counted once; see frame.attrs['overlaps']:\n  "
        + "\n  ".join(lines)
    )
