"""What the service billed in money: the bill lines of BssOpenApi's ``DescribeInstanceBill``.

BssOpenApi (version 2017-12-14) is Alibaba Cloud's billing API, on its own endpoint: the account's site
decides it (``business.aliyuncs.com`` on the China site, ``business.ap-southeast-1.aliyuncs.com`` on the
international one; ``Account.bss_endpoint`` overrides it, and a sandbox account's is its sandbox). Calls are
signed, sent and retried as the CDN calls are (:class:`BssClient` is a :class:`~usagekit.client.CdnClient`
for that product) under a rate limit of their own: 10 calls per second per account.

:func:`bill_lines` reads every billing item of a month, one call per Beijing day (``DAILY``) or one for the
month (``MONTHLY``), paged with ``MaxResults=300`` and ``NextToken`` until the token comes back empty, and
checked against ``TotalCount``: a listing that cannot be completed raises
:class:`~usagekit.errors.IncompleteListingError`, never a short frame. Money is exact: the reply's JSON
numbers are read as decimals (never binary floats) into :func:`usagekit.prices.money_dtype` columns.

>>> from usagekit.accounts import Account
>>> BssClient(Account("shop", "LTAIexample-0000KlMn", "s")).endpoint_url
'https://business.aliyuncs.com'
>>> BssClient(Account("shop", "LTAIexample-0000KlMn", "s", site="international")).endpoint_url
'https://business.ap-southeast-1.aliyuncs.com'
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.errors import ArgumentError, IncompleteListingError, ResponseError
from usagekit.paging import RateLimiter
from usagekit.prices import money, money_array
from usagekit.progress import progress_enabled
from usagekit.resolve import resolve_accounts
from usagekit.session import RateLimiters, Session, chosen_session
from usagekit.times import BEIJING, current, month_bounds

__all__ = [
    "ACTION",
    "BILL_LINE_COLUMNS",
    "BSS_VERSION",
    "MAX_RESULTS",
    "SITE_ENDPOINTS",
    "BssClient",
    "bill_lines",
    "is_final",
    "service_now",
]

BSS_VERSION = "2017-12-14"
ACTION = "DescribeInstanceBill"
MAX_RESULTS = 300
#: how many months back DescribeInstanceBill's BillingCycle reaches
HISTORY_MONTHS = 18
#: the BssOpenApi endpoint of each site (:data:`usagekit.accounts.SITES`)
SITE_ENDPOINTS = {"china": "business.aliyuncs.com", "international": "business.ap-southeast-1.aliyuncs.com"}
#: BssOpenApi allows 10 calls per second per account: 9 a second and bursts of 1 stay within it
BSS_RATE, BSS_BURST = 9.0, 1
#: the reply's deduction fields and their columns
DEDUCTIONS = {
    "DeductedByCoupons": "deducted_by_coupons",
    "DeductedByCashCoupons": "deducted_by_cash_coupons",
    "DeductedByPrepaidCard": "deducted_by_prepaid_card",
    "DeductedByResourcePackage": "deducted_by_resource_package",
    "InvoiceDiscount": "invoice_discount",
}
BILL_LINE_COLUMNS = (
    "account",
    "account_id",
    "billing_cycle",
    "billing_date",
    "instance_id",
    "region",
    "billing_item",
    "billing_item_code",
    "usage",
    "usage_unit",
    "list_price",
    "list_price_unit",
    "gross",
    "net",
    *DEDUCTIONS.values(),
    "currency",
    "item",
    "final",
)
_TEXT = (
    "account_id",
    "billing_cycle",
    "billing_date",
    "instance_id",
    "billing_item",
    "billing_item_code",
    "usage_unit",
    "list_price_unit",
    "currency",
)
_MONEY = ("usage", "list_price", "gross", "net", *DEDUCTIONS.values())


class BssClient(CdnClient):
    """A client for BssOpenApi (version ``2017-12-14``) for one :class:`~usagekit.accounts.Account`.

    The endpoint is ``endpoint``, else ``account.bss_endpoint``, else the sandbox's own for a sandbox
    account, else the site's (:data:`SITE_ENDPOINTS`). Everything else is :class:`CdnClient`'s: signing,
    retries, errors, ``before_attempt``. JSON numbers with a fraction are read as :class:`~decimal.Decimal`.
    """

    api_version = BSS_VERSION
    default_endpoint = SITE_ENDPOINTS["china"]
    parse_float = Decimal

    @staticmethod
    def account_endpoint(account: Account) -> str | None:
        """``account.bss_endpoint``, the sandbox for a sandbox account, else its site's endpoint."""
        if account.bss_endpoint:
            return account.bss_endpoint
        if account.source == "sandbox" and account.endpoint:
            return account.endpoint  # the sandbox serves BssOpenApi on the same server
        return SITE_ENDPOINTS[account.site]


def _bss_bucket() -> RateLimiter:
    return RateLimiter(BSS_RATE, BSS_BURST)


def bss_limiter(account: Account, *, session: Session | None = None) -> RateLimiter:
    """The BssOpenApi token bucket every thread calling ``account`` in ``session`` shares (10 calls/s)."""
    return chosen_session(session).limiters.get("bss:" + account.cache_key, _bss_bucket)


def _make_client(account: Account, limiters: RateLimiters) -> BssClient:
    return BssClient(account, before_attempt=functools.partial(_take, account, limiters))


def _take(account: Account, limiters: RateLimiters) -> None:
    limiters.get("bss:" + account.cache_key, _bss_bucket).acquire()


@contextlib.contextmanager
def bss_lease(account: Account, *, session: Session | None = None) -> Iterator[BssClient]:
    """``account``'s shared BssOpenApi client in ``session`` (its own pool and its own 10 calls/s bucket)."""
    state = chosen_session(session)
    pool = state.pool("bss", functools.partial(_make_client, limiters=state.limiters))
    with pool.lease(account) as client:
        yield client  # type: ignore[misc]


# --- arguments ----------------------------------------------------------------------------------------


def service_now(accounts: Sequence[Account], now: datetime | str | None = None) -> pd.Timestamp:
    """``now`` as a moment; ``None`` is the service's time: the in-process sandbox's for its accounts, else
    the real clock (the README's Conventions).

    >>> service_now([], "2026-11-20T08:00:00+08:00")
    Timestamp('2026-11-20 00:00:00+0000', tz='UTC')
    """
    if now is not None:
        return current(now)
    from usagekit.discovery import running_sandbox

    box = running_sandbox()
    if box is not None and box.running and any(a.endpoint == box.endpoint for a in accounts):
        return pd.Timestamp(box.now).tz_convert("UTC")
    return current(None)


def is_final(month: str, now: pd.Timestamp) -> bool:
    """Whether ``month``'s bill is final at ``now``: after 12:00 Beijing on the 3rd of the next month.

    >>> is_final("2026-10", pd.Timestamp("2026-11-03T04:00:00Z")), is_final("2026-10", pd.Timestamp("2026-11-03T03:59:59Z"))
    (True, False)
    """
    _, end = month_bounds(month)
    return bool(now >= end + pd.Timedelta(days=2, hours=12))


def _days(month: str, now: pd.Timestamp) -> list[str]:
    """The Beijing days of ``month`` that have begun at ``now``, as ``YYYY-MM-DD``."""
    start, end = month_bounds(month)
    days = []
    day = start
    while day < end and day <= now:
        days.append(day.tz_convert(BEIJING).strftime("%Y-%m-%d"))
        day = day + pd.Timedelta(days=1)
    return days


# --- one listing --------------------------------------------------------------------------------------


def _refuse(account: Account, what: str) -> ResponseError:
    return ResponseError(
        f"{ACTION} for account {account.name!r}: {what}", action=ACTION, account=account.name
    )


def _listing(
    client: CdnClient, account: Account, params: Mapping[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every item of one ``DescribeInstanceBill`` listing, paged by ``NextToken``; checked by ``TotalCount``."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    head: dict[str, Any] = {}
    total = None
    while True:
        reply = client.call(ACTION, **params, MaxResults=MAX_RESULTS, NextToken=token)
        data = reply.get("Data")
        if not isinstance(data, Mapping):
            raise _refuse(account, f"the reply has no Data object ({type(data).__name__})")
        page = data.get("Items") or []
        if isinstance(page, Mapping):  # an SDK-style {"Item": [...]} wrapper
            page = page.get("Item") or []
        if not isinstance(page, list) or not all(isinstance(i, Mapping) for i in page):
            raise _refuse(account, "Data.Items is not a list of objects")
        items.extend(page)
        head = {k: data.get(k) for k in ("AccountID", "AccountName", "BillingCycle")}
        total = data.get("TotalCount", total)
        token = data.get("NextToken") or None
        if token is None:
            break
        if token in seen or not page:
            raise IncompleteListingError(
                f"{ACTION} for account {account.name!r} ({_where(params)}) sent the next-page token again "
                f"or an empty page with a token after {len(items)} items; the listing cannot be completed",
                account=account.name,
                kind="bill lines",
            )
        seen.add(token)
    if total is None or int(total) != len(items):
        raise IncompleteListingError(
            f"{ACTION} for account {account.name!r} ({_where(params)}) gave {len(items)} items where its "
            f"TotalCount says {total}; the bill lines are not returned short: ask again later",
            account=account.name,
            kind="bill lines",
        )
    return head, items


def _where(params: Mapping[str, str]) -> str:
    return params.get("BillingDate") or params["BillingCycle"]


def _row(account: Account, head: Mapping[str, Any], item: Mapping[str, Any], final: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account": account.name,
        "account_id": head.get("AccountID") or item.get("BillAccountID"),
        "billing_cycle": head.get("BillingCycle"),
        "billing_date": item.get("BillingDate") or None,
        "instance_id": item.get("InstanceID"),
        "region": item.get("Region"),
        "billing_item": item.get("BillingItem"),
        "billing_item_code": item.get("BillingItemCode"),
        "usage": item.get("Usage") if item.get("Usage") not in ("", None) else None,
        "usage_unit": item.get("UsageUnit"),
        "list_price": item.get("ListPrice") if item.get("ListPrice") not in ("", None) else None,
        "list_price_unit": item.get("ListPriceUnit"),
        "gross": item.get("PretaxGrossAmount"),
        "net": item.get("PretaxAmount"),
        "currency": item.get("Currency"),
        "item": item.get("Item"),
        "final": final,
    }
    for field, column in DEDUCTIONS.items():
        row[column] = item.get(field)
    for column in ("gross", "net", "usage", "list_price", *DEDUCTIONS.values()):
        if isinstance(row[column], float):  # never: the client reads numbers as decimals
            raise _refuse(account, f"{column} came as a binary float")
        try:
            money(row[column])
        except ValueError as error:
            raise _refuse(account, f"{column}: {error}") from None
    return row


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(BILL_LINE_COLUMNS))
    for column in _TEXT:
        frame[column] = pd.array(
            [None if v is None else str(v) for v in frame[column]], dtype=pd.StringDtype()
        )
    for column in _MONEY:
        frame[column] = money_array(frame[column].tolist())
    for column in ("account", "region", "item"):
        frame[column] = frame[column].astype(object).astype("category")
    frame["final"] = pd.array(frame["final"].astype(bool), dtype="boolean")  # type: ignore[call-overload]  # pandas-stubs: a bool Series
    return frame.reset_index(drop=True)


def bill_lines(
    accounts: Account | str | Sequence[Account | str] | None = None,
    *,
    month: str,
    granularity: str = "daily",
    product: str = "cdn",
    now: datetime | str | None = None,
) -> pd.DataFrame:
    """Every billing item of ``month`` (``YYYY-MM``, Beijing) from ``DescribeInstanceBill``, per account.

    ``granularity="daily"`` asks one Beijing day at a time (``DAILY`` with ``BillingDate``: every day of the
    month begun by ``now``); ``"monthly"`` asks the month at once. ``product`` is the ``ProductCode``.
    ``now`` (default: the service's time, the sandbox's for its accounts) decides which days are asked and
    ``final``. Lines with
    ``IsBillingItem=true``: one per billing item, with its usage and list price. The service's
    ``BillingItemCode`` values are not published: they are kept as sent, never interpreted.

    ======================  ================  ==================================================
    column                  dtype             meaning
    ======================  ================  ==================================================
    account                 category          the account's name
    account_id              string            the reply's ``AccountID`` (the UID)
    billing_cycle           string            ``YYYY-MM``
    billing_date            string            the Beijing day, ``YYYY-MM-DD`` (NA for monthly rows)
    instance_id             string            ``InstanceID``
    region                  category          ``Region`` as sent
    billing_item            string            ``BillingItem`` (its name)
    billing_item_code       string            ``BillingItemCode`` (as sent, unpublished values)
    usage                   decimal           ``Usage``, in ``usage_unit``
    usage_unit              string            ``UsageUnit``
    list_price              decimal           ``ListPrice`` per ``list_price_unit``
    list_price_unit         string            ``ListPriceUnit``
    gross                   decimal           ``PretaxGrossAmount``
    net                     decimal           ``PretaxAmount``
    deducted_by_coupons     decimal           ``DeductedByCoupons`` (and the four below alike:
    ...cash_coupons,        decimal           ``DeductedByCashCoupons``, ``DeductedByPrepaidCard``,
    ...prepaid_card,                          ``DeductedByResourcePackage``, ``InvoiceDiscount``)
    ...resource_package,
    invoice_discount
    currency                string            ``Currency``
    item                    category          ``PayAsYouGoBill``, ``Refund``, ``Adjustment``, ...
    final                   boolean           false until 12:00 Beijing on the 3rd of the next month
    ======================  ================  ==================================================

    Every decimal column is :func:`usagekit.prices.money_dtype` (exact; ``sum()`` gives a ``Decimal``).

    >>> bill_lines([], month="2026-13")
    Traceback (most recent call last):
    ...
    usagekit.errors.TimeValueError: month '2026-13' is not a month; accepted: YYYY-MM, a Beijing month (for example 2026-09)
    """
    month_bounds(month, "month")  # checks the month first: TimeValueError before anything else
    cycle = month.strip()
    if granularity not in ("daily", "monthly"):
        raise ArgumentError(f"granularity must be 'daily' or 'monthly', not {granularity!r}")
    if not isinstance(product, str) or not product.strip():
        raise ArgumentError(f"product must be a ProductCode such as 'cdn', not {product!r}")
    chosen = resolve_accounts(accounts)
    given = current(now) if now is not None else None
    if given is not None:
        _begun(cycle, given, "now")
    base = {"BillingCycle": cycle, "ProductCode": product.strip(), "IsBillingItem": "true"}
    first = (
        {"Granularity": "MONTHLY"}
        if granularity == "monthly"
        else {"Granularity": "DAILY", "BillingDate": f"{cycle}-01"}
    )
    rows: list[dict[str, Any]] = []
    bar = _bar(len(chosen) * (1 if granularity == "monthly" else len(_days(cycle, given or current(None)))))
    try:
        for account in chosen:
            rows.extend(_account_rows(account, cycle, base, first, granularity == "daily", given, bar))
    finally:
        if bar is not None:
            bar.close()
    return _frame(rows)


def _account_rows(
    account: Account,
    cycle: str,
    base: dict[str, str],
    first: dict[str, str],
    daily: bool,
    given: pd.Timestamp | None,
    bar: Any,
) -> list[dict[str, Any]]:
    """One account's bill lines of ``cycle``: the first call (``first``), then each further begun day when ``daily``."""
    with bss_lease(account) as client:
        head, items = _listing(client, account, {**base, **first})
        listed = [(head, items)]
        # now=None: the service's time, the Date of the reply just had (a sandbox's own, frozen or not)
        moment = given if given is not None else _service_time(client)
        _begun(cycle, moment, "the service's time")
        if daily:
            for day in _days(cycle, moment)[1:]:
                listed.append(_listing(client, account, {**base, "Granularity": "DAILY", "BillingDate": day}))
                if bar is not None:
                    bar.update(1)
        final = is_final(cycle, moment)
        rows = [_row(account, h, item, final) for h, page in listed for item in page]
        if bar is not None:
            bar.update(1)
    return rows


def _service_time(client: CdnClient) -> pd.Timestamp:
    stamp = client.service_time
    return pd.Timestamp(stamp).tz_convert("UTC") if stamp is not None else current(None)


def _begun(month: str, moment: pd.Timestamp, what: str) -> None:
    if month_bounds(month)[0] > moment:
        raise ArgumentError(
            f"month {month!r} has not begun by {what} ({moment.isoformat()}): it has no bill lines yet; "
            "ask for a month that has begun"
        )
    current_month = moment.tz_convert(BEIJING).strftime("%Y-%m")
    back = (int(current_month[:4]) - int(month[:4])) * 12 + int(current_month[5:]) - int(month[5:])
    if back > HISTORY_MONTHS:
        raise ArgumentError(
            f"month {month!r} is {back} months before {current_month} ({what}); BssOpenApi keeps bill lines "
            f"of the last {HISTORY_MONTHS} months only: ask for a month from {_months_before(current_month)}"
        )


def _months_before(month: str) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 - HISTORY_MONTHS
    return f"{index // 12}-{index % 12 + 1:02d}"


def _bar(total: int) -> Any:
    if total < 2 or not progress_enabled(None):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="bill lines", unit="call", leave=False)
