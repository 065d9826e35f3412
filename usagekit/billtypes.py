"""Which billing method each account is on, as the service says (``DescribeCdnUserBillType``).

The action answers at most one month at a time, so :func:`bill_types` asks once per Beijing calendar month
of the range (each window at most 31 days) and joins the answers back together.

>>> [(a.isoformat(), b.isoformat()) for a, b in month_windows("2026-09-20T00:00:00Z", "2026-11-01T00:00:00Z")]
[('2026-09-20T00:00:00+00:00', '2026-09-30T16:00:00+00:00'), ('2026-09-30T16:00:00+00:00', '2026-10-31T16:00:00+00:00'), ('2026-10-31T16:00:00+00:00', '2026-11-01T00:00:00+00:00')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.errors import ArgumentError, ResponseError
from usagekit.pool import ClientFactory, lease
from usagekit.resolve import resolve_accounts
from usagekit.times import BEIJING, api_time, moment, month_bounds

__all__ = ["ACTION", "BILL_TYPE_COLUMNS", "bill_types", "month_windows"]

ACTION = "DescribeCdnUserBillType"
BILL_TYPE_COLUMNS = ("account", "start", "end", "bill_type", "billing_cycle", "dimension")


def month_windows(start: datetime | str, end: datetime | str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` cut at Beijing month boundaries: the one-month windows the action accepts."""
    lower, upper = moment(start, "start"), moment(end, "end")
    if lower >= upper:
        raise ArgumentError(
            f"bill_types needs start before end, got start {api_time(lower)} and end {api_time(upper)}"
        )
    windows = []
    while lower < upper:
        cut = min(month_bounds(lower.tz_convert(BEIJING).strftime("%Y-%m"))[1], upper)
        windows.append((lower, cut))
        lower = cut
    return windows


def _items(reply: Mapping[str, Any], account: str) -> list[dict[str, Any]]:
    def refuse(what: str) -> ResponseError:
        return ResponseError(f"{ACTION} for account {account!r}: {what}", action=ACTION, account=account)

    data = reply.get("BillTypeData")
    if data is None or data == {} or data == []:
        return []
    if not isinstance(data, Mapping):
        raise refuse(f"BillTypeData is {type(data).__name__}, not an object")
    items = data.get("BillTypeDataItem") or []
    if isinstance(items, Mapping):  # one item may come as an object rather than a list of one
        items = [items]
    if not isinstance(items, list):
        raise refuse(f"BillTypeDataItem is {type(items).__name__}, not a list")
    rows = []
    for item in items:
        if not isinstance(item, Mapping) or not item.get("BillType"):
            raise refuse("an item carries no BillType")
        try:
            start = pd.Timestamp(item["StartTime"]).tz_convert("UTC")
            end = pd.Timestamp(item["EndTime"]).tz_convert("UTC")
        except (KeyError, TypeError, ValueError):
            raise refuse(
                f"an item's StartTime or EndTime is not an ISO 8601 UTC time: {dict(item)!r}"
            ) from None
        if end.second == 59:  # an inclusive end (…:59Z), as exports write them: made exclusive
            end += pd.Timedelta(seconds=1)
        rows.append(
            {
                "account": account,
                "start": start,
                "end": end,
                "bill_type": str(item["BillType"]),
                "billing_cycle": item.get("BillingCycle"),
                "dimension": item.get("Dimension"),
            }
        )
    return rows


def _merge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join an account's items that continue each other with the same method (our month cuts)."""
    merged: list[dict[str, Any]] = []
    same = ("account", "bill_type", "billing_cycle", "dimension")
    for row in sorted(rows, key=lambda r: (r["account"], r["start"])):
        last = merged[-1] if merged else None
        if last is not None and all(last[k] == row[k] for k in same) and row["start"] <= last["end"]:
            last["end"] = max(last["end"], row["end"])
        else:
            merged.append(dict(row))
    return merged


def bill_types(
    accounts: Account | str | Sequence[Account | str] | None,
    start: datetime | str,
    end: datetime | str,
    *,
    client_factory: ClientFactory | None = None,
) -> pd.DataFrame:
    """The billing method each account is on over ``[start, end)``, as ``DescribeCdnUserBillType`` says.

    ``start`` and ``end`` are moments (README Conventions: aware, or ISO 8601 with an offset). The range is asked one
    Beijing calendar month at a time (the action answers at most one month); items that continue each
    other with the same method are joined. Errors are usagekit's (:class:`~usagekit.ApiError` and the
    rest), naming the account.

    =============  ===================  ==============================================
    column         dtype                meaning
    =============  ===================  ==============================================
    account        category             the account's name
    start, end     datetime64[ns, UTC]  when the method applies (end exclusive)
    bill_type      category             the ``BillType`` code (``month_95``, ...)
    billing_cycle  category             ``hour``, ``day`` or ``month``
    dimension      category             ``flow``, ``bandwidth``, ``vas``, ... as sent
    =============  ===================  ==============================================

    >>> import usagekit
    >>> with usagekit.Sandbox(seed=1, now="2026-11-20T08:00:00Z", accounts=1, tasks=1) as box:
    ...     frame = bill_types(box.accounts, "2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00")
    >>> frame.columns.tolist()
    ['account', 'start', 'end', 'bill_type', 'billing_cycle', 'dimension']
    """
    windows = month_windows(start, end)
    if client_factory is not None and not callable(client_factory):
        raise ArgumentError(
            f"client_factory must be a callable Account -> CdnClient, not {type(client_factory).__name__}"
        )
    chosen = resolve_accounts(accounts)
    rows: list[dict[str, Any]] = []
    for account in chosen:
        with lease(
            account, client_factory
        ) as client:  # the account's shared client: every attempt takes its token
            for lower, upper in windows:
                reply = client.call(ACTION, StartTime=api_time(lower), EndTime=api_time(upper))
                rows.extend(_items(reply, account.name))
    frame = pd.DataFrame(_merge(rows), columns=list(BILL_TYPE_COLUMNS))
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    for column in ("account", "bill_type", "billing_cycle", "dimension"):
        frame[column] = frame[column].astype("category")
    return frame
