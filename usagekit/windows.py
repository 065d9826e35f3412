"""Export windows: which parts of a period the successful exports cover, where the gaps and overlaps are.

Exports are grouped by account, kind and, for detail exports, type: a ``flow`` export says nothing
about requests, so it never fills a ``vas`` gap. A detail export whose type the listing cannot know
(a name usagekit did not write) forms its own group, type ``unknown``, reported as such rather than
assumed to be ``flow``. Only ``success`` exports with a known window count; a group whose exports all
failed or still run is one gap, and so is every expected group with no task at all: each account
(``accounts=``, by default those in the frame) expects summary exports and detail exports of both
types, ``flow`` and ``vas``.

>>> import pandas as pd
>>> from usagekit.frames import task_frame
>>> tasks = task_frame([
...     {"account": "prod", "kind": "detail", "task_id": "1", "status": "success", "type": "flow",
...      "window_start": "2026-11-01T16:00:00Z", "window_end": "2026-11-03T16:00:00Z"},
...     {"account": "prod", "kind": "detail", "task_id": "2", "status": "success", "type": "flow",
...      "window_start": "2026-11-02T16:00:00Z", "window_end": "2026-11-04T16:00:00Z"}])
>>> table = coverage(tasks, "2026-11-01T16:00:00Z", "2026-11-05T16:00:00Z", accounts=["prod", "test"])
>>> for row in table.itertuples():
...     print(row.account, row.kind, row.type, row.part, row.start.day, row.end.day, row.task_ids)
prod summary nan gap 1 5 <NA>
prod detail flow covered 1 2 1
prod detail flow overlap 2 3 1,2
prod detail flow covered 3 4 2
prod detail flow gap 4 5 <NA>
prod detail vas gap 1 5 <NA>
test summary nan gap 1 5 <NA>
test detail flow gap 1 5 <NA>
test detail vas gap 1 5 <NA>
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import pandas as pd

from usagekit.accounts import Account
from usagekit.errors import ArgumentError
from usagekit.frames import KINDS, task_frame
from usagekit.resolve import ACCOUNT_FORMS
from usagekit.times import moment

__all__ = ["EXPECTED", "PARTS", "UNKNOWN_TYPE", "coverage"]

PARTS = ("covered", "gap", "overlap")
#: the ``type`` of detail exports whose type the listing cannot know
UNKNOWN_TYPE = "unknown"

_COLUMNS = ("account", "kind", "type", "part", "start", "end", "task_ids")
#: the groups every account is expected to have: (kind, type)
EXPECTED = (("summary", None), ("detail", "flow"), ("detail", "vas"))


def coverage(
    tasks: Any,
    start: datetime | str,
    end: datetime | str,
    *,
    accounts: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Which parts of ``[start, end)`` the successful exports in ``tasks`` cover, miss and overlap.

    ``tasks`` is a task frame (or :class:`~usagekit.tasks.ExportTask` values); ``start`` and ``end`` are
    moments (README Conventions). ``accounts`` (an Account, a profile name or a sequence of either; default:
    the accounts in ``tasks``) are the accounts expected: each expects summary exports and detail
    exports of type ``flow`` and ``vas``, and a group with no task at all in ``tasks`` is one whole gap.
    One group per account, kind and type (NA for summary exports, ``unknown`` for detail exports of
    unknown type), every group split into maximal runs, in time order; groups in the order of
    ``accounts`` (then of the frame), summary before detail, types in label order:

    ============  ====================  ==========================================================
    column        dtype                 meaning
    ============  ====================  ==========================================================
    account       category              the account's name
    kind          category              ``summary`` or ``detail``
    type          category              ``flow``, ``vas``, ``unknown`` (detail); NA (summary)
    part          category              ``covered`` (one export), ``gap`` (none), ``overlap`` (several)
    start, end    datetime64[ns, UTC]   the run, end exclusive
    task_ids      string                the exports covering the run, comma separated; NA for gaps
    ============  ====================  ==========================================================
    """
    lower, upper = moment(start, "start"), moment(end, "end")
    if not lower < upper:
        raise ArgumentError(f"coverage needs start < end, got {lower} and {upper}")
    frame = _task_frame(tasks)
    names = _expected(accounts) if accounts is not None else []
    names = list(dict.fromkeys([*names, *(str(a) for a in frame["account"].dropna().unique())]))
    rows: list[dict[str, Any]] = []
    if len(frame):
        labels = frame["type"].astype("object").where(frame["type"].notna(), None)
        labels = labels.where((frame["kind"] != "detail") | labels.notna(), UNKNOWN_TYPE)
        keyed = frame.assign(_type=labels.astype("object"))
        groups = keyed.groupby(["account", "kind", "_type"], observed=True, dropna=False, sort=False)
        for (account, kind, kind_type), group in groups:
            type_value = None if pd.isna(cast(Any, kind_type)) else kind_type
            for part, run_start, run_end, ids in _runs(group, lower, upper):
                rows.append(
                    {
                        "account": account,
                        "kind": kind,
                        "type": type_value,
                        "part": part,
                        "start": run_start,
                        "end": run_end,
                        "task_ids": ",".join(ids) if ids else None,
                    }
                )
    seen = {(str(r["account"]), str(r["kind"]), r["type"]) for r in rows}
    for name in names:
        for kind, kind_type in EXPECTED:
            if (name, kind, kind_type) not in seen:  # not one task of that kind: the whole period is a gap
                rows.append(
                    {
                        "account": name,
                        "kind": kind,
                        "type": kind_type,
                        "part": "gap",
                        "start": lower,
                        "end": upper,
                    }
                )
    order = {name: i for i, name in enumerate(names)}
    rows.sort(
        key=lambda r: (
            order[str(r["account"])],
            KINDS.index(str(r["kind"])),
            "" if r["type"] is None else str(r["type"]),
            r["start"],
        )
    )
    return _frame(rows, frame, names)


def _runs(
    group: pd.DataFrame, lower: pd.Timestamp, upper: pd.Timestamp
) -> list[tuple[str, pd.Timestamp, pd.Timestamp, list[str]]]:
    done = group[(group["status"] == "success") & group["window_start"].notna() & group["window_end"].notna()]
    windows = [
        (max(s, lower), min(e, upper), str(i))
        for s, e, i in zip(done["window_start"], done["window_end"], done["task_id"], strict=True)
        if s < upper and e > lower and s < e
    ]
    cuts = sorted({lower, upper, *(s for s, _, _ in windows), *(e for _, e, _ in windows)})
    runs: list[tuple[str, pd.Timestamp, pd.Timestamp, list[str]]] = []
    for a, b in itertools.pairwise(cuts):
        ids = sorted((i for s, e, i in windows if s <= a and e >= b), key=_id_order)
        part = "gap" if not ids else "covered" if len(ids) == 1 else "overlap"
        if runs and runs[-1][0] == part and runs[-1][2] == a:
            previous = runs[-1]
            merged = sorted(set(previous[3]) | set(ids), key=_id_order)
            runs[-1] = (part, previous[1], b, merged)
        else:
            runs.append((part, a, b, ids))
    return runs


def _id_order(task_id: str) -> tuple[int, int | str]:
    return (0, int(task_id)) if task_id.isdigit() else (1, task_id)


def _task_frame(tasks: Any) -> pd.DataFrame:
    if isinstance(tasks, pd.DataFrame):
        missing = {"account", "kind", "task_id"} - set(tasks.columns)
        if missing:
            raise ArgumentError(
                f"coverage needs a task frame (list_tasks()); this one lacks {sorted(missing)}"
            )
        return task_frame(tasks)
    if hasattr(tasks, "to_row"):
        tasks = [tasks]
    if isinstance(tasks, Iterable) and not isinstance(tasks, str | bytes | Mapping):
        items = list(tasks)
        if all(hasattr(task, "to_row") for task in items):
            return task_frame([task.to_row() for task in items])
    raise ArgumentError(f"coverage needs a task frame or ExportTask values, not {type(tasks).__name__}")


def _frame(rows: list[dict[str, Any]], tasks: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=list(_COLUMNS))
    accounts = [str(a) for a in tasks["account"].cat.categories] if len(tasks) else []
    accounts += [name for name in names if name not in accounts]
    met_types = sorted({str(t) for t in data["type"].dropna()})
    return pd.DataFrame(
        {
            "account": pd.Categorical(data["account"].astype("object"), categories=accounts),
            "kind": pd.Categorical(data["kind"].astype("object"), categories=list(KINDS)),
            "type": pd.Categorical(data["type"].astype("object"), categories=met_types),
            "part": pd.Categorical(data["part"].astype("object"), categories=list(PARTS)),
            "start": pd.to_datetime(data["start"], utc=True).astype("datetime64[ns, UTC]"),
            "end": pd.to_datetime(data["end"], utc=True).astype("datetime64[ns, UTC]"),
            # pandas-stubs: pd.array takes a Series of any dtype
            "task_ids": pd.array(data["task_ids"].astype("object"), dtype=pd.StringDtype()),  # type: ignore[call-overload]
        }
    )


def _expected(accounts: object) -> list[str]:
    """The account names ``accounts=`` expects (no discovery: coverage only compares names)."""
    items = [accounts] if isinstance(accounts, str | Account) else accounts
    if not isinstance(items, Sequence | set | frozenset) or isinstance(items, bytes):
        raise ArgumentError(f"accounts must be {ACCOUNT_FORMS}, not {type(accounts).__name__}")
    names = []
    for item in items:
        if not (isinstance(item, Account) or (isinstance(item, str) and item.strip())):
            raise ArgumentError(f"accounts holds {item!r:.40}: give {ACCOUNT_FORMS}")
        names.append(item.name if isinstance(item, Account) else item.strip())
    if not names:
        raise ArgumentError(f"accounts is an empty sequence: give {ACCOUNT_FORMS}")
    return names
