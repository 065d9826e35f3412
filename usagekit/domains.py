"""An account's accelerated domains, as ``DescribeUserDomains`` lists them, one row per account and domain.

The action pages (``PageSize`` up to 500, ``PageNumber`` from 1, a ``TotalCount`` on every page); the
walk is :func:`usagekit.paging.walk`'s, so a listing is never returned silently short or doubled.

>>> import usagekit
>>> with usagekit.Sandbox(seed=7, now="2026-11-20T08:00:00Z", accounts=1) as sandbox:
...     frame = list_domains(sandbox.accounts)
>>> frame.columns.tolist()[:4], sorted(frame["status"].unique())
(['account', 'domain', 'status', 'cdn_type'], ['offline', 'online'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.errors import ResponseError
from usagekit.paging import Page, PagingPolicy, collect, walk
from usagekit.pool import lease
from usagekit.resolve import resolve_accounts

__all__ = ["ACTION", "DOMAIN_COLUMNS", "list_domains", "resolve_accounts"]

ACTION = "DescribeUserDomains"
DOMAIN_COLUMNS = (
    "account",
    "domain",
    "status",
    "cdn_type",
    "coverage",
    "cname",
    "domain_id",
    "created",
    "modified",
    "resource_group",
)
_PAGE_SIZE = 500


def _page(reply: Mapping[str, Any], account: str, number: int, asked: int) -> Page[dict[str, Any]]:
    def refuse(what: str) -> ResponseError:
        return ResponseError(f"{ACTION} for account {account!r}: {what}", action=ACTION, account=account)

    domains = reply.get("Domains") or {}
    if not isinstance(domains, Mapping):
        raise refuse(f"Domains is {type(domains).__name__}, not an object")
    items = domains.get("PageData") or []
    if isinstance(items, Mapping):  # one item may come as an object rather than a list of one
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, Mapping) and i.get("DomainName") for i in items):
        raise refuse("PageData is not a list of domains with a DomainName each")
    try:
        total = int(reply["TotalCount"])
        size = int(reply.get("PageSize") or asked)
    except (KeyError, TypeError, ValueError):
        raise refuse(f"TotalCount or PageSize is not a whole number: {reply.get('TotalCount')!r}") from None
    return Page(number, size, total, tuple(dict(i) for i in items))


def _rows(account: Account) -> list[dict[str, Any]]:
    with lease(account) as client:

        def fetch(number: int, size: int) -> Page[dict[str, Any]]:
            reply = client.call(ACTION, PageSize=size, PageNumber=number)
            return _page(reply, account.name, number, size)

        listing = collect(
            walk(
                fetch,
                key=lambda item: item["DomainName"],
                policy=PagingPolicy(page_size=_PAGE_SIZE, workers=2),
                label=f"{ACTION} of {account.name!r}",
                account=account.name,
            )
        )
    return [
        {
            "account": account.name,
            "domain": item["DomainName"],
            "status": item.get("DomainStatus"),
            "cdn_type": item.get("CdnType"),
            "coverage": item.get("Coverage"),
            "cname": item.get("Cname"),
            "domain_id": str(item["DomainId"]) if item.get("DomainId") is not None else None,
            "created": item.get("GmtCreated"),
            "modified": item.get("GmtModified"),
            "resource_group": item.get("ResourceGroupId"),
        }
        for item in listing.items.values()
    ]


def list_domains(accounts: Account | str | Sequence[Account | str] | None = None) -> pd.DataFrame:
    """Every accelerated domain of each account, as ``DescribeUserDomains`` pages them (all statuses).

    ``accounts=None`` lists every discovered account. Errors are usagekit's, naming the account.

    ==============  ===================  ==================================================
    column          dtype                meaning
    ==============  ===================  ==================================================
    account         category             the account's name
    domain          category             ``DomainName``
    status          category             ``DomainStatus``: ``online``, ``offline``, ...
    cdn_type        category             ``CdnType``: ``web``, ``download``, ``video``
    coverage        category             ``domestic``, ``overseas`` or ``global``
    cname           string               the CNAME the domain points at
    domain_id       string               ``DomainId`` as text
    created         datetime64[ns, UTC]  ``GmtCreated``
    modified        datetime64[ns, UTC]  ``GmtModified``
    resource_group  string               ``ResourceGroupId``
    ==============  ===================  ==================================================

    Rows are sorted by account and domain.
    """
    rows = [row for account in resolve_accounts(accounts) for row in _rows(account)]
    frame = pd.DataFrame(rows, columns=list(DOMAIN_COLUMNS))
    frame = frame.sort_values(["account", "domain"], ignore_index=True)
    for column in ("account", "domain", "status", "cdn_type", "coverage"):
        frame[column] = frame[column].astype(object).astype("category")
    for column in ("cname", "domain_id", "resource_group"):
        frame[column] = frame[column].astype(pd.StringDtype())
    for column in ("created", "modified"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce").astype("datetime64[ns, UTC]")
    return frame
