"""FinOps FOCUS 1.2: usage, and cost-and-usage rows from bill lines or a price table.

:func:`to_focus` has three forms:

* ``to_focus(usage)``: the tidy frame as FOCUS *usage* columns only, one row per 5-minute point. It is NOT
  a FOCUS cost-and-usage dataset (it has no cost, billing account or billing period columns).
* ``to_focus(usage, bill=lines)``: one FOCUS 1.2 cost-and-usage row per bill line of
  :func:`usagekit.bill_lines`, its costs from the bill, that day's usage (a monthly line's: that month's) as ``ConsumedQuantity``.
* ``to_focus(usage, prices=table)``: an *estimate*: one row per account, billing region and billed
  period, priced by :func:`usagekit.price_periods` under each account's method (``methods=``), marked
  ``x_Estimate`` true.

Costs, as FOCUS 1.2 defines them, from a bill line: ``ListCost`` and ``ContractedCost`` are the gross amount
(``PretaxGrossAmount``: the quantity through the contract's tiers, before deductions), ``BilledCost`` and
``EffectiveCost`` the net (``PretaxAmount``: less coupons, resource packages and discounts, what is
invoiced). A ``Refund`` is a ``Credit`` and an ``Adjustment`` an ``Adjustment``; for those every cost is the
billed amount, as the spec requires of charges unrelated to others. Billing periods are Beijing months
(in UTC); a daily line's charge period is its Beijing day. ``InvoiceId`` is null: the bill lines name
no invoice (the FinOps validator checks InvoiceId-C-004-C and -C-005-C without their conditions, so a
dataset with the column fails one of the two whatever it holds).

>>> from usagekit.frames import checked_tidy, tidy_frame
>>> frame = tidy_frame({"account": ["shop"], "task_id": ["7"], "domain": ["img.shop.example"],
...                     "region": ["CN"], "metric": ["traffic"], "start": ["2026-10-31T16:00:00Z"],
...                     "end": ["2026-10-31T16:05:00Z"], "value": [750.0], "unit": ["byte"]})
>>> to_focus(frame).loc[0, ["ConsumedUnit", "ResourceId", "SubAccountName", "ServiceName"]].tolist()
['B', 'img.shop.example', 'shop', 'CDN']
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError, PriceTableError, UsagekitWarning
from usagekit.frames import checked_tidy, tidy_frame
from usagekit.prices import money_array, price_periods, read_prices

__all__ = ["FOCUS_COST_COLUMNS", "FOCUS_UNITS", "to_focus"]

#: tidy units as FOCUS writes them (FOCUS "Unit Format": data size abbreviations, ratio with a slash)
FOCUS_UNITS = {"byte": "B", "bit/s": "b/Second", "request": "Requests"}
#: pricing units as FOCUS writes them
_PRICING = {"GB": "GB", "Mbps": "Mb/Second", "Mbit/s": "Mb/Second", "10k requests": "10000 Requests"}
_CATEGORY = {"PayAsYouGoBill": "Usage", "Refund": "Credit", "Adjustment": "Adjustment"}
_PROVIDER = "Alibaba Cloud"
_BEIJING = pd.Timedelta(hours=8)
FOCUS_COST_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
    "x_BillingAccountIdIsName",
    "x_BillingItemCode",
    "x_DeductedByCoupons",
    "x_DeductedByResourcePackage",
    "x_Estimate",
    "x_Item",
    "x_Method",
    "x_Provisional",
)


def to_focus(
    usage: pd.DataFrame,
    *,
    bill: pd.DataFrame | None = None,
    prices: pd.DataFrame | str | os.PathLike[str] | None = None,
    methods: Mapping[str, str] | str | None = None,
) -> pd.DataFrame:
    """FOCUS columns of ``usage``: usage only, or FOCUS 1.2 cost-and-usage rows from ``bill`` or ``prices``.

    ``to_focus(usage)`` alone is NOT a FOCUS cost dataset: it maps each 5-minute point onto FOCUS usage
    columns (``ChargePeriodStart``/``End``, ``ConsumedQuantity``/``Unit`` in ``B``, ``b/Second``,
    ``Requests``, ``ResourceId``/``Name`` the domain, ``RegionId``/``Name``, ``SubAccountName``,
    ``ServiceName`` ``CDN``, ``ServiceCategory`` ``Networking``, ``ProviderName``/``PublisherName``
    ``Alibaba Cloud``, ``ChargeCategory`` ``Usage``, ``x_Metric``, ``x_TaskId``); bandwidth rows are a
    rate: filter ``x_Metric`` before summing.

    ``bill`` (:func:`usagekit.bill_lines`' frame) gives one row per bill line with the columns of
    :data:`FOCUS_COST_COLUMNS`: costs (:func:`usagekit.prices.money_dtype` decimals) from the bill,
    ``PricingQuantity``/``PricingUnit`` the line's usage, ``BillingAccountId`` the UID, ``ConsumedQuantity``
    that Beijing day's (a monthly line: that month's) traffic of the account and region in ``usage`` (GB;
    a request line: its requests, ``Requests``; shared over the day's lines; NA, with a warning, where the
    usage holds nothing of that day),
    ``x_Provisional`` true until the bill is final. ``prices`` (with no ``bill``) gives an estimate: one
    row per account, billing region and billed period of the account's method (``methods``: a mapping
    account -> ``BillType``, or one for all; ``None`` when the table prices a single method), priced by
    :func:`usagekit.price_periods`; ``x_Estimate`` true, ``BillingAccountId`` the account name
    (``x_BillingAccountIdIsName`` true: the profiles carry no UID).

    >>> to_focus(tidy_frame({})).columns[:4].tolist()
    ['ChargePeriodStart', 'ChargePeriodEnd', 'ConsumedQuantity', 'ConsumedUnit']
    """
    frame = tidy_frame(checked_tidy(usage, "to_focus"))
    _check_methods(methods, prices is not None)
    if bill is not None and prices is not None:
        raise ArgumentError("give bill= (costs from the bill) or prices= (an estimate), not both")
    if bill is not None:
        if not isinstance(bill, pd.DataFrame) or "gross" not in bill.columns:
            raise ArgumentError("bill must be the frame usagekit.bill_lines() returns")
        return _from_bill(frame, bill)
    if prices is not None:
        return _estimate(frame, read_prices(prices), methods)
    return _usage_only(frame)


def _check_methods(methods: object, priced: bool) -> None:
    """Refuse ``methods`` that is not None, a BillType, or a mapping account -> BillType (or not with prices)."""
    from usagekit.billing import METHODS

    if methods is None:
        return
    named = list(methods.values()) if isinstance(methods, Mapping) else [methods]
    keys = list(methods) if isinstance(methods, Mapping) else [""]
    if (
        not named
        or not all(isinstance(k, str) for k in keys)
        or not all(isinstance(m, str) and m in METHODS for m in named)
    ):
        raise ArgumentError(
            "methods must be a BillType (one of " + ", ".join(METHODS) + ") or a non-empty mapping "
            f"account name -> BillType, not {methods!r}"
        )
    if not priced:
        raise ArgumentError("methods= names the BillTypes of an estimate: it applies only with prices=")


def _usage_only(frame: pd.DataFrame) -> pd.DataFrame:
    n = len(frame)

    def constant(text: str) -> pd.Categorical[str]:
        return pd.Categorical([text] * n, categories=[text])

    return pd.DataFrame(
        {
            "ChargePeriodStart": frame["start"],
            "ChargePeriodEnd": frame["end"],
            "ConsumedQuantity": frame["value"],
            "ConsumedUnit": frame["unit"].cat.rename_categories(FOCUS_UNITS),
            "ResourceId": frame["domain"],
            "ResourceName": frame["domain"],
            "RegionId": frame["region"],
            "RegionName": frame["region"],
            "SubAccountName": frame["account"],
            "ServiceName": constant("CDN"),
            "ServiceCategory": constant("Networking"),
            "ProviderName": constant(_PROVIDER),
            "PublisherName": constant(_PROVIDER),
            "ChargeCategory": constant("Usage"),
            "x_Metric": frame["metric"],
            "x_TaskId": frame["task_id"],
        }
    )


# --- helpers ------------------------------------------------------------------------------------------


def _month_bounds(months: pd.Series) -> tuple[pd.Series, pd.Series]:
    first = pd.to_datetime(months.astype(str) + "-01")
    start = (first - _BEIJING).dt.tz_localize("UTC")
    end = (first + pd.offsets.MonthBegin(1) - _BEIJING).dt.tz_localize("UTC")
    return start.astype("datetime64[ns, UTC]"), end.astype("datetime64[ns, UTC]")


def _daily_usage(frame: pd.DataFrame, metric: str, per: int) -> dict[tuple[str, str, str], Decimal]:
    """``metric``'s sum / ``per`` per account, billing region (``OVERSEAS`` too; ``""`` for requests, which
    have none) and Beijing day or month, from tidy usage."""
    rows = frame[frame["metric"] == metric]
    if rows.empty:
        return {}
    day = (rows["start"].dt.tz_convert("UTC").dt.tz_localize(None) + _BEIJING).dt.strftime("%Y-%m-%d")
    region = rows["region"].astype(object).where(rows["region"].notna(), "").astype(str)
    sums = rows.groupby([rows["account"].astype(str), region, day])["value"].sum()
    result: dict[tuple[str, str, str], Decimal] = {}
    items = cast(
        "Iterable[tuple[tuple[str, str, str], float]]", sums.items()
    )  # one key level per groupby key
    for (account, where, label), value in items:
        amount = Decimal(repr(float(value))) / Decimal(per)
        for period in (label, label[:7]):  # the Beijing day, and its month (a monthly line's period)
            for area in (where, "OVERSEAS") if where not in ("CN", "") else (where,):
                key = (account, area, period)
                result[key] = result.get(key, Decimal(0)) + amount
    return result


def _share(amount: Decimal | None, parts: int) -> Decimal | None:
    return None if amount is None else amount / parts


def _text(values: Any) -> pd.api.extensions.ExtensionArray:
    return pd.array([None if v is None or v is pd.NA else str(v) for v in values], dtype=pd.StringDtype())


def _times(values: list[pd.Timestamp]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[ns, UTC]")


# --- from bill lines --------------------------------------------------------------------------------------


def _charge_periods(lines: pd.DataFrame) -> tuple[pd.Series, pd.Series, list[Any], list[Any]]:
    """Each line's billing month (start, end) and charge period: its Beijing day, or its month for a monthly line."""
    n = len(lines)
    days = lines["billing_date"].astype(object)
    month_start, month_end = _month_bounds(lines["billing_cycle"])
    day_start = pd.to_datetime(days.where(days.notna(), None)) - _BEIJING
    charge_start = [
        month_start[i] if days[i] is None or days[i] is pd.NA else pd.Timestamp(day_start[i], tz="UTC")
        for i in range(n)
    ]
    charge_end = [
        month_end[i] if days[i] is None or days[i] is pd.NA else charge_start[i] + pd.Timedelta(days=1)
        for i in range(n)
    ]
    return month_start, month_end, charge_start, charge_end


def _consumed(
    frame: pd.DataFrame, lines: pd.DataFrame, usage_rows: np.ndarray, asks: list[bool]
) -> list[Decimal | None]:
    """Each usage line's share of its account, region and period's usage (GB, or requests); warned where NA.

    Lines of one account, region and period share its usage equally; other lines have none.
    """
    traffic = _daily_usage(frame, "traffic", 1024**3)  # GB
    requests = _daily_usage(frame, "requests", 1)
    days = lines["billing_date"].astype(object)
    periods = [  # a daily line's Beijing day, a monthly line's month
        str(cycle) if day is None or day is pd.NA else str(day)
        for day, cycle in zip(days, lines["billing_cycle"].astype(object), strict=True)
    ]
    keys = list(zip(lines["account"].astype(str), lines["region"].astype(str), periods, strict=True))
    sharing: dict[tuple[str, str, str], int] = {}
    for key, is_usage in zip(keys, usage_rows, strict=True):
        if is_usage:
            sharing[key] = sharing.get(key, 0) + 1
    consumed = [  # NA where the usage holds nothing of the line's day (unknown, not zero)
        _share((requests if ask else traffic).get(key), sharing[key]) if is_usage else None
        for key, is_usage, ask in zip(keys, usage_rows, asks, strict=True)
    ]
    unknown = sum(1 for c, u in zip(consumed, usage_rows, strict=True) if u and c is None)
    if unknown:
        warnings.warn(
            f"{unknown} of {int(usage_rows.sum())} bill lines' ConsumedQuantity is NA: the usage holds nothing of "
            "their account, region and day (FOCUS wants it on every Usage row): read the usage of those days",
            UsagekitWarning,
            stacklevel=4,  # the caller of to_focus (through _from_bill)
        )
    return consumed


def _from_bill(frame: pd.DataFrame, bill: pd.DataFrame) -> pd.DataFrame:
    lines = bill.reset_index(drop=True)
    n = len(lines)
    categories = [_CATEGORY.get(str(item), "Adjustment") for item in lines["item"].astype(object)]
    usage_rows = np.array([c == "Usage" for c in categories], dtype=bool)
    month_start, month_end, charge_start, charge_end = _charge_periods(lines)
    gross, net = lines["gross"].tolist(), lines["net"].tolist()
    billed = money_array(net)
    listed = money_array([g if usage_rows[i] else net[i] for i, g in enumerate(gross)])
    asks = ["request" in str(u).lower() for u in lines["usage_unit"].astype(object)]
    consumed = _consumed(frame, lines, usage_rows, asks)
    units = [_PRICING.get(str(u), str(u)) for u in lines["usage_unit"].astype(object)]
    return _cost_frame(
        {
            "BilledCost": billed,
            "BillingAccountId": _text(lines["account_id"]),
            "BillingAccountName": _text(lines["account"].astype(object)),
            "BillingCurrency": _text(lines["currency"]),
            "BillingPeriodStart": month_start,
            "BillingPeriodEnd": month_end,
            "ChargeCategory": _text(categories),
            "ChargeClass": _text([None] * n),
            "ChargeDescription": _text(lines["billing_item"]),
            "ChargeFrequency": _text(["Usage-Based" if u else "One-Time" for u in usage_rows]),
            "ChargePeriodStart": _times(charge_start),
            "ChargePeriodEnd": _times(charge_end),
            "ConsumedQuantity": money_array(consumed),
            "ConsumedUnit": _text(
                [
                    ("Requests" if ask else "GB") if u else None
                    for u, ask in zip(usage_rows, asks, strict=True)
                ]
            ),
            "ContractedCost": listed,
            "EffectiveCost": billed,
            "InvoiceId": _text([None] * n),
            "InvoiceIssuerName": _text([_PROVIDER] * n),
            "ListCost": listed,
            "PricingCategory": _text(["Standard" if u else None for u in usage_rows]),
            "PricingQuantity": money_array(
                [q if u else None for q, u in zip(lines["usage"], usage_rows, strict=True)]
            ),
            "PricingUnit": _text([unit if u else None for unit, u in zip(units, usage_rows, strict=True)]),
            "RegionId": _text(lines["region"].astype(object)),
            "RegionName": _text(lines["region"].astype(object)),
            "ResourceId": _text(lines["instance_id"]),
            "ResourceName": _text(lines["instance_id"]),
            "SkuId": _text(lines["billing_item_code"]),
            "SubAccountId": _text(lines["account_id"]),
            "SubAccountName": _text(lines["account"].astype(object)),
            "x_BillingAccountIdIsName": pd.array([False] * n, dtype="boolean"),
            "x_BillingItemCode": _text(lines["billing_item_code"]),
            "x_DeductedByCoupons": money_array(lines["deducted_by_coupons"].tolist()),
            "x_DeductedByResourcePackage": money_array(lines["deducted_by_resource_package"].tolist()),
            "x_Estimate": pd.array([False] * n, dtype="boolean"),
            "x_Item": _text(lines["item"].astype(object)),
            "x_Method": _text([None] * n),
            "x_Provisional": pd.array(~lines["final"].astype(bool).to_numpy(), dtype="boolean"),
        },
        n,
    )


def _cost_frame(columns: dict[str, Any], n: int) -> pd.DataFrame:
    for name in ("ProviderName", "PublisherName"):
        columns[name] = _text([_PROVIDER] * n)
    columns["ServiceName"] = _text(["CDN"] * n)
    columns["ServiceCategory"] = _text(["Networking"] * n)
    columns["ServiceSubcategory"] = _text(["Content Delivery"] * n)
    frame = pd.DataFrame({name: columns[name] for name in FOCUS_COST_COLUMNS})
    return frame.reset_index(drop=True)


# --- an estimate from prices ----------------------------------------------------------------------------


def _methods_of(
    table: pd.DataFrame, accounts: list[str], methods: Mapping[str, str] | str | None
) -> dict[str, str]:
    if isinstance(methods, str):
        return dict.fromkeys(accounts, methods)
    if isinstance(methods, Mapping):
        missing = [a for a in accounts if a not in methods]
        if missing:
            raise ArgumentError(f"methods names no BillType for the accounts {missing}")
        return {a: str(methods[a]) for a in accounts}
    priced = sorted({m.removesuffix("_overseas") for m in table["method"].astype(str)})
    if len(priced) != 1:
        raise ArgumentError(
            f"the price table prices {len(priced)} methods ({', '.join(priced)}): say which each account is "
            "billed by with methods= (a BillType, or a mapping account -> BillType; usagekit.bill_types tells)"
        )
    return dict.fromkeys(accounts, priced[0])


def _estimate(
    frame: pd.DataFrame, table: pd.DataFrame, methods: Mapping[str, str] | str | None
) -> pd.DataFrame:
    from usagekit.billing import billing_quantities

    accounts = sorted(frame["account"].astype(str).unique())
    chosen = _methods_of(table, accounts, methods)
    parts = []
    for account, method in chosen.items():
        mine = frame[frame["account"].astype(str) == account]
        quantities = billing_quantities(mine, method)
        if not quantities.empty:
            parts.append(price_periods(quantities, table))
    if not parts:
        return _cost_frame({name: [] for name in FOCUS_COST_COLUMNS}, 0)
    priced = pd.concat(parts, ignore_index=True)
    unpriced = priced[priced["cost"].isna()]
    if len(unpriced):  # never a silently short estimate
        pairs = sorted(
            {
                f"{m} in {r}"
                for m, r in zip(unpriced["method"].astype(str), unpriced["region"].astype(str), strict=True)
            }
        )
        raise PriceTableError(
            f"the price table does not price {', '.join(pairs)} ({len(unpriced)} billed periods): add tiers "
            "for that method (region or *), or name the method each account is billed by with methods="
        )
    n = len(priced)
    month_start, month_end = _month_bounds(priced["period"].astype(str).str.slice(0, 7))
    # 8 places, not cents: an hour's cent rounding, 744 times, moved a month's estimate by 0.15
    cost = money_array(priced["cost"].tolist())
    names = _text(priced["account"].astype(object))
    return _cost_frame(
        {
            "BilledCost": cost,
            "BillingAccountId": names,
            "BillingAccountName": names,
            "BillingCurrency": _text(priced["currency"]),
            "BillingPeriodStart": month_start,
            "BillingPeriodEnd": month_end,
            "ChargeCategory": _text(["Usage"] * n),
            "ChargeClass": _text([None] * n),
            "ChargeDescription": _text(
                [
                    f"{m} ({r}) estimate"
                    for m, r in zip(priced["method"].astype(str), priced["region"].astype(str), strict=True)
                ]
            ),
            "ChargeFrequency": _text(["Usage-Based"] * n),
            "ChargePeriodStart": priced["period_start"].astype("datetime64[ns, UTC]"),
            "ChargePeriodEnd": priced["period_end"].astype("datetime64[ns, UTC]"),
            "ConsumedQuantity": money_array(priced["pricing_quantity"].tolist()),
            "ConsumedUnit": _text([_PRICING.get(str(u), str(u)) for u in priced["pricing_unit"]]),
            "ContractedCost": cost,
            "EffectiveCost": cost,
            "InvoiceId": _text([None] * n),
            "InvoiceIssuerName": _text([_PROVIDER] * n),
            "ListCost": cost,
            "PricingCategory": _text(["Standard"] * n),
            "PricingQuantity": money_array(priced["pricing_quantity"].tolist()),
            "PricingUnit": _text([_PRICING.get(str(u), str(u)) for u in priced["pricing_unit"]]),
            "RegionId": _text(priced["region"].astype(object)),
            "RegionName": _text(priced["region"].astype(object)),
            "ResourceId": _text([None] * n),
            "ResourceName": _text([None] * n),
            "SkuId": _text([None] * n),
            "SubAccountId": names,
            "SubAccountName": names,
            "x_BillingAccountIdIsName": pd.array([True] * n, dtype="boolean"),
            "x_BillingItemCode": _text([None] * n),
            "x_DeductedByCoupons": money_array([None] * n),
            "x_DeductedByResourcePackage": money_array([None] * n),
            "x_Estimate": pd.array([True] * n, dtype="boolean"),
            "x_Item": _text([None] * n),
            "x_Method": _text(priced["method"].astype(str)),
            "x_Provisional": pd.array([True] * n, dtype="boolean"),
        },
        n,
    )
