"""The overlap rule: every 5-minute interval counted once, account totals kept whole, when exports overlap.

Exports of the same account may cover the same intervals (two detail exports with overlapping windows,
or an export by account beside exports of some domains). :func:`reconcile` applies the architecture's
rule to a tidy frame gathered from several exports, as read from them:

1. A row is identified by ``(account, domain, region, metric, start)``. When two exports hold the same
   row it is counted once; if their values disagree, the newer export (by ``updated``, then task id)
   wins. So an account's total (``domain`` NA, from an export by account) comes from the newest export
   that carries it, and each domain's value from the newest export that lists it.
2. For every ``(account, region, metric, start)`` where an account total meets rows of listed domains,
   the domain rows stay and the total gives way to one remainder row (``domain`` NA, the account-wide
   export's ``task_id``): the total minus the listed domains, so the rows add up to the total and no
   domain is counted twice. A remainder of zero (every domain listed) is not written. Where the listed
   domains add up to more than the total, the domain rows stand, no remainder is written, and the
   excess is reported.

What overlapped is returned as plain JSON-able records (in ``frame.attrs["overlaps"]``) and reported in
one :class:`OverlapWarning`.

>>> import pandas as pd
>>> from usagekit.frames import tidy_frame
>>> rows = tidy_frame({"account": ["a"] * 3, "task_id": ["1", "2", "3"], "domain": ["x.example"] * 2 + [None],
...                    "region": ["CN"] * 3, "metric": ["traffic"] * 3, "start": ["2026-11-01T00:00:00Z"] * 3,
...                    "end": ["2026-11-01T00:05:00Z"] * 3, "value": [10.0, 12.0, 100.0], "unit": ["byte"] * 3})
>>> updated = {"1": pd.Timestamp("2026-11-02", tz="UTC"), "2": pd.Timestamp("2026-11-03", tz="UTC")}
>>> out = reconcile(rows, updated, warn=False)
>>> out["domain"].isna().tolist(), out["task_id"].tolist(), out["value"].tolist()
([True, False], ['3', '2'], [88.0, 12.0])
>>> [record["rule"] for record in out.attrs["overlaps"]]
['newer export', 'remainder']
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from usagekit.errors import OverlapWarning
from usagekit.frames import TIDY_COLUMNS, tidy_frame
from usagekit.times import API_TIME_FORMAT

__all__ = ["OverlapWarning", "reconcile"]

_KEY = ("account", "domain", "region", "metric")
NEWER = "newer export"
SAME_EXPORT = "same export"
REMAINDER = "remainder"
EXCESS = "domains exceed total"
_RELATIVE = 1e-9  # a remainder this small against the total is float rounding: zero, not written


def reconcile(
    frame: pd.DataFrame,
    updated: Mapping[Any, Any],
    *,
    warn: bool = True,
    stacklevel: int = 2,
) -> pd.DataFrame:
    """Count every interval once and keep account totals whole: the overlap rule on rows read from exports.

    ``frame`` holds the rows as the exports carry them (a reconciled frame's remainder rows are no longer
    totals: reconcile the exports' rows again, not a result). ``updated`` maps each export,
    ``(account, task_id)`` or just ``task_id``, to its ``updated`` time (an export missing from it counts
    as the oldest). Returns a tidy frame (the contract's columns and dtypes: ``account``, ``task_id``,
    ``domain``, ``region``, ``metric``, ``start``, ``end``, ``value``, ``unit``) sorted by
    ``account, domain, region, metric, start`` (missing first). A ``domain`` NA row is the account's
    total where no listed domain shares the interval, else the remainder beyond the listed domains.

    ``attrs["overlaps"]`` lists plain JSON-able records, each with ``account``, ``metric`` and ``rule``:

    * ``"newer export"`` (``"same export"`` for a file holding a row twice): the same rows in two
      exports; ``kept_task_id``, ``dropped_task_id``, ``intervals``, ``disagreeing`` (intervals whose
      values differed).
    * ``"remainder"``: per ``region``, the total of export ``total_task_id`` met the domains of
      ``domain_task_ids`` on ``intervals`` intervals from ``start`` to ``end`` (ISO text, end exclusive);
      ``remainder_rows`` of them kept a remainder row (the others: the domains were the whole total).
    * ``"domains exceed total"``: as ``"remainder"``, where the listed domains add up to more than the
      total; the domain rows stand, and ``total``, ``domains`` and ``excess`` sum the amounts.

    With any record, one :class:`OverlapWarning` says what happened (unless ``warn=False``).

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
    task_codes, task_ids, rank = _exports(frame, updated)
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

    # Rule 2: an account total met by listed domains keeps the domains and gives way to the remainder.
    values = frame["value"].to_numpy("float64")[kept]
    keep, values, split = _split_totals(frame, kept, codes["domain"][kept] < 0, values, task_codes, task_ids)
    records += split
    kept = kept[keep]

    out = frame.iloc[kept].reset_index(drop=True)  # ``kept`` is in key order already
    out["value"] = values[keep]
    for name in _KEY[:3]:  # the values met, sorted (as tidy_frame makes them)
        column = out[name].cat.remove_unused_categories()
        out[name] = column.cat.reorder_categories(sorted(column.cat.categories, key=str))
    out.attrs = {"overlaps": records}
    if records and warn:
        warnings.warn(_describe(records), OverlapWarning, stacklevel=stacklevel + 1)
    return out


def _exports(frame: pd.DataFrame, updated: Mapping[Any, Any]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each row's export code, each export's task id, and each row's export age rank (0: the oldest).

    An export is (account, task id): two accounts may hold the same id.
    """
    id_codes, ids = pd.factorize(frame["task_id"].astype("object"), use_na_sentinel=False)
    width = len(ids) + 1
    account_codes = frame["account"].cat.codes.to_numpy(np.int64)
    pairs, task_codes = np.unique(account_codes * width + id_codes, return_inverse=True)
    accounts = frame["account"].cat.categories
    owners = [str(accounts[int(p) // width]) if p >= 0 else "" for p in pairs]
    task_ids = [str(ids[int(p) % width]) for p in pairs]
    rank = _rank(owners, task_ids, updated).astype(np.int32)[task_codes]
    return task_codes, task_ids, rank


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
        for (acct, metric, kept, dropped), row in _coded_rows(grouped)
    ]


def _split_totals(
    frame: pd.DataFrame,
    kept: np.ndarray,
    is_total: np.ndarray,
    values: np.ndarray,
    task_codes: np.ndarray,
    task_ids: list[str],
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Rule 2 on the rows rule 1 kept: ``(rows to keep, their values, records)``.

    Per ``(account, region, metric, start)`` there is at most one total row (rule 1 made keys unique);
    where it meets listed domains its value becomes the remainder, dropped when zero or negative.
    """
    keep = np.ones(len(kept), dtype=bool)
    if is_total.all() or not is_total.any():
        return keep, values, []
    raw = {name: frame[name].cat.codes.to_numpy(np.int64)[kept] for name in ("account", "region", "metric")}
    start = frame["start"].to_numpy("datetime64[ns]")[kept]
    group = pd.DataFrame({**raw, "start": start}).groupby([*raw, "start"], sort=False).ngroup().to_numpy()
    groups = int(group.max()) + 1
    listed = ~is_total
    count = np.bincount(group[listed], minlength=groups)
    sums = np.bincount(group[listed], weights=values[listed], minlength=groups)
    totals = np.flatnonzero(is_total)
    met = totals[count[group[totals]] > 0]  # totals that share their interval with listed domains
    if len(met) == 0:
        return keep, values, []
    total, domains = values[met], sums[group[met]]
    rest = total - domains
    tolerance = _RELATIVE * np.abs(total)
    excess = rest < -tolerance
    zero = np.abs(rest) <= tolerance
    values = values.copy()
    values[met] = rest
    keep[met[zero | excess]] = False

    # Records: per account, region, metric, total export and outcome, the domain exports it met.
    table = pd.DataFrame(
        {
            "account": raw["account"][met],
            "region": raw["region"][met],
            "metric": raw["metric"][met],
            "total_task": task_codes[kept[met]],
            "excess": excess,
            "start": start[met],
            "end": frame["end"].to_numpy("datetime64[ns]")[kept[met]],
            "total": total,
            "domains": domains,
            "written": ~(zero | excess),
        }
    )
    key = ["account", "region", "metric", "total_task", "excess"]
    owner = np.full(groups, -1, dtype=np.int64)
    owner[group[met]] = np.arange(len(met))
    rows = np.flatnonzero(listed)
    rows = rows[owner[group[rows]] >= 0]
    links = pd.DataFrame({"at": owner[group[rows]], "domain_task": task_codes[kept[rows]]})
    links = links.drop_duplicates().join(table[key], on="at").drop_duplicates([*key, "domain_task"])
    domain_tasks = links.groupby(key, sort=False)["domain_task"].agg(list)
    grouped = table.groupby(key, sort=False).agg(
        intervals=("start", "size"),
        first=("start", "min"),
        last=("end", "max"),
        total=("total", "sum"),
        domains=("domains", "sum"),
        written=("written", "sum"),
    )
    return keep, values, _remainder_records(frame, grouped, domain_tasks, task_ids)


def _remainder_records(
    frame: pd.DataFrame, grouped: pd.DataFrame, domain_tasks: pd.Series, task_ids: list[str]
) -> list[dict[str, Any]]:
    """Records of rule 2 from its coded groups: one per account, region, metric, total export and outcome."""
    accounts, regions = frame["account"].cat.categories, frame["region"].cat.categories
    metrics = frame["metric"].cat.categories
    records = []
    for (account, region, metric, total_task, is_excess), row in _coded_rows(grouped):
        record: dict[str, Any] = {
            "account": str(accounts[account]),
            "region": str(regions[region]) if region >= 0 else None,
            "metric": str(metrics[metric]),
            "rule": EXCESS if is_excess else REMAINDER,
            "total_task_id": task_ids[total_task],
            "domain_task_ids": sorted(
                (task_ids[t] for t in domain_tasks[(account, region, metric, total_task, is_excess)]),
                key=lambda text: (len(text), text),
            ),
            "intervals": int(row.intervals),
            "start": _iso(row["first"]),
            "end": _iso(row["last"]),
        }
        if is_excess:
            record.update(
                total=float(row.total), domains=float(row.domains), excess=float(row.domains - row.total)
            )
        else:
            record["remainder_rows"] = int(row.written)
        records.append(record)
    order = {name: i for i, name in enumerate(metrics)}
    records.sort(
        key=lambda r: (r["account"], r["region"] or "", order[r["metric"]], r["rule"], r["total_task_id"])
    )
    return records


def _iso(moment: Any) -> str:
    """A UTC instant as ISO text (attrs stay JSON-able)."""
    return pd.Timestamp(moment).strftime(API_TIME_FORMAT)


def _amount(value: float) -> str:
    """An amount for the warning: whole numbers exact with thousands separators."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"


def _line(record: dict[str, Any]) -> str:
    """One record as a line of the warning."""
    where = " ".join(str(record[k]) for k in ("account", "region", "metric") if record.get(k) is not None)
    if record["rule"] in (REMAINDER, EXCESS):
        listed = ", ".join(record["domain_task_ids"])
        span = f"{record['intervals']} intervals ({record['start']} to {record['end']})"
        if record["rule"] == EXCESS:
            return (
                f"{where}: the domains of task {listed} add up to more than the account total of task "
                f"{record['total_task_id']} on {span}: total {_amount(record['total'])}, domains "
                f"{_amount(record['domains'])}, excess {_amount(record['excess'])}; the domain rows stand"
            )
        return (
            f"{where}: the account total of task {record['total_task_id']} met the domains of task {listed} "
            f"on {span}; {record['remainder_rows']} remainder row(s) (domain NA) carry the rest"
        )
    line = (
        f"{where}: task {record['dropped_task_id']} gave way to "
        f"{record['kept_task_id']} ({record['rule']}) on {record['intervals']} intervals"
    )
    if record["disagreeing"]:
        line += f", {record['disagreeing']} of them with different values"
    return line


def _describe(records: list[dict[str, Any]], limit: int = 6) -> str:
    """One warning's text, disagreements first; the full list is in ``attrs['overlaps']``."""
    ranked = sorted(records, key=lambda r: r["rule"] != EXCESS)  # stable: otherwise in record order
    lines = [_line(record) for record in ranked[:limit]]
    if len(records) > limit:
        lines.append(f"... and {len(records) - limit} more")
    return (
        f"overlapping exports: {len(records)} overlap(s), each interval counted once and account totals "
        "split into the listed domains plus a remainder; see frame.attrs['overlaps']:\n  "
        + "\n  ".join(lines)
    )


def _coded_rows(grouped: pd.DataFrame) -> Iterator[tuple[tuple[Any, ...], pd.Series]]:
    """``grouped``'s rows with their index keys as tuples (of category codes and flags)."""
    for key, row in grouped.iterrows():
        yield tuple(key) if isinstance(key, tuple) else (key,), row
