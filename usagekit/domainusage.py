"""The per-domain usage of a window: read from the exports that list domains, created where asked.

Showback and anomalies need usage per domain; an export made by account holds only the account's total.
:func:`domain_usage` reads the successful detail exports of ``type`` that list domains and overlap the
window (every such export, reconciled by :func:`usagekit.usage`), or, with ``create=True``, first
creates exports of every domain :func:`usagekit.list_domains` lists for the window, in pieces of at most
31 days, waits for them, and creates a piece again (up to three times) when its export failed.

>>> windows = pieces(pd.Timestamp("2026-09-01T00:00Z"), pd.Timestamp("2026-11-15T00:00Z"))
>>> [(str(a.date()), str(b.date())) for a, b in windows]
[('2026-09-01', '2026-10-02'), ('2026-10-02', '2026-11-02'), ('2026-11-02', '2026-11-15')]
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from usagekit.accounts import Account

__all__ = ["domain_usage", "pieces"]

_PIECE = pd.Timedelta(days=31)
_ATTEMPTS = 3


def pieces(start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` cut into consecutive windows of at most 31 days (what one export may hold)."""
    cuts = []
    while start < end:
        cuts.append((start, min(start + _PIECE, end)))
        start = cuts[-1][1]
    return cuts


def _created(accounts: Sequence[Account], start: pd.Timestamp, end: pd.Timestamp, type_: str) -> pd.DataFrame:
    """Exports of every domain over the window, each piece created again (up to 3 times) when it failed."""
    from usagekit.domains import list_domains
    from usagekit.lifecycle import create_export, wait

    domains = list_domains(list(accounts))
    wanted = []
    for account in accounts:
        names = sorted(domains.loc[domains["account"] == account.name, "domain"].astype(str))
        wanted += [(account, lower, upper, names) for lower, upper in pieces(start, end) if names]
    done: list[pd.DataFrame] = []
    for _attempt in range(_ATTEMPTS):
        if not wanted:
            break
        created = [create_export(a, "detail", lo, hi, domains=n, type=type_) for a, lo, hi, n in wanted]
        finished = wait(created, accounts=list(accounts), progress=False)
        ok = finished["status"].astype(str).to_numpy() == "success"
        done.append(finished[ok])
        failed = set(finished.loc[~ok, "task_id"].astype(str))
        wanted = [w for w, task in zip(wanted, created, strict=True) if task.task_id in failed]
    return pd.concat(done, ignore_index=True) if done else pd.DataFrame()


def domain_usage(
    accounts: Sequence[Account],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    type: str = "flow",
    create: bool = False,
    progress: bool | None = False,
) -> pd.DataFrame:
    """The tidy usage of ``accounts`` in ``[start, end)`` from detail exports of ``type`` listing domains.

    Returns :func:`usagekit.usage`'s frame, cut to the window (empty when no such export exists; the
    caller says so). ``create`` makes the exports first (see the module docs).
    """
    from usagekit.listing import list_tasks
    from usagekit.tidy import usage

    if create:
        tasks = _created(accounts, start, end, type)
    else:
        tasks = list_tasks(list(accounts), kind="detail", status="success", progress=False)
        if len(tasks):
            keep = (
                (tasks["type"] == type)
                & (tasks["domains"] == "some")
                & (tasks["window_start"] < end)
                & (tasks["window_end"] > start)
            )
            tasks = tasks[keep.fillna(False).to_numpy(dtype=bool)]
    if len(tasks) == 0:
        return pd.DataFrame()
    frame = usage(tasks, accounts=list(accounts), progress=progress)
    return frame[(frame["start"] >= start) & (frame["start"] < end)].reset_index(drop=True)
