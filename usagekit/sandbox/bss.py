"""BssOpenApi's ``DescribeInstanceBill`` (version 2017-12-14), as the sandbox answers it: bill lines in money.

The lines are made from what the sandbox billed (:class:`usagekit.sandbox.billed.Bills`: each account's
method applied to its own usage, ``bill_drift`` included) through a contract price table, with code of its
own (never ``usagekit.prices`` or ``usagekit.billing``, so the client's cost check is checked against it).

The sandbox's rules, its own assumptions where the service publishes none:

* **Prices.** ``Sandbox(prices=...)``: a frame or CSV with ``method, region, tier_from, tier_to,
  unit_price, currency`` (the columns usagekit's price tables have); default the shipped example table
  (``usagekit/report/example_prices_2026-11.csv``, illustrative numbers, not Alibaba Cloud's). Tiers are in
  the pricing unit: GB (1024**3 bytes) for traffic, Mbit/s (10**6 bit/s) for bandwidth, 10k requests. A
  region's own rows win over ``*``.
* **Charges.** ``hour_flow``/``hour_count``: each Beijing day's hours, each hour priced at its month-to-date
  position in the tiers; ``day_bandwidth``: each day's peak through the tiers; monthly methods: the month's
  one quantity, on the month's last day. One charge per account, billing region and day (or month),
  rounded half up to the cent.
* **Lines.** ``Sandbox(bill_split=N)`` splits each charge into N lines (as a real bill splits by region and
  charge type), the cents shared out so the lines sum exactly to the charge. A seeded fifth of the charges
  carry a coupon deduction (10 %) and another fifth a resource-package deduction (25 %); ``PretaxAmount`` is
  the gross less its deductions. A seeded twentieth of the charges get a ``Refund`` line (10 % of the
  charge back, negative) and a fiftieth an ``Adjustment`` line (+0.50): items of their own, beside the
  ``PayAsYouGoBill`` lines.
* **Time.** A day's lines appear a day after the day has ended (at 00:00 Beijing two days after its start);
  a monthly charge a day after the month has ended. ``BillingCycle`` reaches back 18 months.
* **Codes.** ``BillingItemCode`` values are the sandbox's own (``sbx_`` + the ``BillType``), not the
  service's (which publishes none); ``InstanceID`` is ``cdn-<account>``, ``AccountID`` a seeded 16-digit UID.
* **Paging.** ``MaxResults`` 1..300 (default 20; more is ``InvalidParameter``); ``NextToken`` is opaque,
  bound to the account and the call's parameters (another call's token is ``InvalidParameter``), and
  empty on the last page. ``DAILY`` without ``BillingDate`` is ``MissingParameter``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from importlib import resources
from typing import Any, cast

import numpy as np
import pandas as pd

from usagekit.sandbox.verify import Rejection
from usagekit.sandbox.world import BEIJING_OFFSET, DAY, World

__all__ = ["ACTION", "BSS_ACTIONS", "BSS_VERSION", "ContractPrices", "InstanceBills"]

BSS_VERSION = "2017-12-14"
ACTION = "DescribeInstanceBill"
BSS_ACTIONS = frozenset({ACTION})
MAX_RESULTS = 300
_CENT = Decimal("0.01")
_EXACT = Context(prec=60)
#: pricing units: name, how many billed units make one, the reply's UsageUnit
_UNITS = {"byte": (1024**3, "GB"), "bit/s": (10**6, "Mbps"), "request": (10**4, "10k requests")}
_LINE_FIELDS = (
    "gross",
    "net",
    "coupons",
    "package",
    "usage",
)


# --- the contract's prices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    low: Decimal
    high: Decimal | None
    price: Decimal


class ContractPrices:
    """A contract price table, read by the sandbox's own code: tiers per ``(method, region)``.

    >>> table = ContractPrices.read(None)
    >>> [str(t.price) for t in table.tiers("month_95", "CN")], table.currency("month_95", "CN")
    (['24.0'], 'CNY')
    """

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._tiers: dict[tuple[str, str], list[Tier]] = {}
        self._currency: dict[tuple[str, str], str] = {}
        for row in rows:
            key = (str(row["method"]).strip(), str(row["region"]).strip())
            high = str(row.get("tier_to") if row.get("tier_to") is not None else "").strip()
            tier = Tier(
                _decimal(row["tier_from"]),
                _decimal(high) if high not in ("", "nan", "None", "inf") else None,
                _decimal(row["unit_price"]),
            )
            self._tiers.setdefault(key, []).append(tier)
            self._currency[key] = str(row["currency"]).strip()
        for tiers in self._tiers.values():
            tiers.sort(key=lambda t: t.low)

    @classmethod
    def read(cls, prices: Any) -> ContractPrices:
        """From a frame, a CSV path, or ``None`` (the shipped example table)."""
        if isinstance(prices, ContractPrices):
            return prices
        if prices is None:
            data = resources.files("usagekit").joinpath("report", "example_prices_2026-11.csv")
            with resources.as_file(data) as path, open(path, newline="", encoding="utf-8") as handle:
                return cls(list(csv.DictReader(handle)))
        if isinstance(prices, str | os.PathLike):
            with open(prices, newline="", encoding="utf-8") as handle:
                return cls(list(csv.DictReader(handle)))
        if isinstance(prices, pd.DataFrame):
            rows = prices.astype(object).where(prices.notna(), None).to_dict("records")
            return cls(cast("list[dict[str, Any]]", rows))
        raise TypeError(f"prices must be a DataFrame, a CSV path or None, not {type(prices).__name__}")

    def _key(self, method: str, region: str | None) -> tuple[str, str] | None:
        keys = [(method, region or ""), (method, "*")]
        if method.endswith("_overseas") and region == "CN":  # the mainland billed as by the base method
            base = method.removesuffix("_overseas")
            keys = [(method, "CN"), (base, "CN"), (base, "*")]
        for key in keys:
            if key in self._tiers:
                return key
        return None

    def tiers(self, method: str, region: str | None) -> list[Tier]:
        key = self._key(method, region)
        return self._tiers[key] if key else []

    def currency(self, method: str, region: str | None) -> str:
        key = self._key(method, region)
        return self._currency[key] if key else "CNY"

    def cost(self, method: str, region: str | None, quantity: Decimal) -> Decimal:
        """``quantity`` (pricing unit) through the tiers, each slice at its tier's rate, unrounded."""
        total = Decimal(0)
        for tier in self.tiers(method, region):
            if quantity <= tier.low:
                break
            top = quantity if tier.high is None else min(quantity, tier.high)
            total = _EXACT.add(total, _EXACT.multiply(_EXACT.subtract(top, tier.low), tier.price))
        return total


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value).strip())


def pricing(quantity: float, unit: str) -> Decimal:
    """A billed quantity in its pricing unit, exactly (the float by its shortest repr)."""
    return _EXACT.divide(Decimal(repr(float(quantity))), Decimal(_UNITS[unit][0]))


# --- charges and lines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """One account's charge for one billing region and Beijing day (or month, dated its last day)."""

    account: str
    method: str
    region: str | None
    day: str  # YYYY-MM-DD, Beijing
    usage: Decimal  # pricing unit
    unit: str  # billed unit: byte, bit/s, request
    gross: Decimal  # to the cent
    currency: str
    list_price: Decimal
    visible: int  # epoch seconds from which its lines are listed


def _day_label(start: int) -> str:
    return datetime.fromtimestamp(start + BEIJING_OFFSET, UTC).strftime("%Y-%m-%d")


def _day_start(label: str) -> int:
    return int(datetime.strptime(label, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()) - BEIJING_OFFSET


def _split(amount: Decimal, parts: int) -> list[Decimal]:
    """``amount`` in ``parts`` shares to the cent that sum to it exactly (the last takes the rest)."""
    share = (amount / parts).quantize(_CENT, rounding=ROUND_DOWN)
    return [share] * (parts - 1) + [amount - share * (parts - 1)]


def _json_money(amount: Decimal) -> float:
    """A cent amount as the JSON number the reply carries (its shortest repr is the amount's digits)."""
    value = float(amount)
    return 0.0 if value == 0 else value


class InstanceBills:
    """The bill lines of every account, from :class:`~usagekit.sandbox.billed.Bills` and a price table.

    ``history(account, start, end)`` is ``Bills.history`` (closed periods, drift included); ``now`` the
    sandbox time (epoch seconds); ``seed`` decides deductions, refunds and adjustments; ``split`` the lines
    per charge; ``secret`` signs ``NextToken`` values.
    """

    def __init__(
        self,
        world: World,
        history: Callable[[str, int, int], pd.DataFrame],
        *,
        now: Callable[[], float],
        prices: Any = None,
        split: int = 1,
        secret: bytes = b"",
    ) -> None:
        if not isinstance(split, int) or split < 1:
            raise ValueError(f"bill_split must be a whole number >= 1, not {split!r}")
        self.world = world
        self._history = history
        self._now = now
        self.prices = ContractPrices.read(prices)
        self.split = split
        self._settled: dict[tuple[str, str], list[Charge]] = {}  # months whose every line is listed
        self._secret = secret or hashlib.sha256(f"bss-{world.params.seed}".encode()).digest()

    def uid(self, account: str) -> str:
        """The account's seeded 16-digit UID (``AccountID``)."""
        digest = hashlib.sha256(f"uid:{self.world.params.seed}:{account}".encode()).hexdigest()
        return str(1_000_000_000_000_000 + int(digest[:15], 16) % 9_000_000_000_000_000)

    # --- charges ------------------------------------------------------------------------------------

    def charges(self, account: str, month: str) -> list[Charge]:
        """Every charge of ``account`` in Beijing ``month`` (``YYYY-MM``) closed by sandbox now."""
        start = _day_start(f"{month}-01")
        year, number = int(month[:4]), int(month[5:])
        end = _day_start(f"{year + number // 12}-{number % 12 + 1:02d}-01")
        if (account, month) in self._settled:
            return self._settled[(account, month)]
        periods = self._history(account, start, end)
        if periods.empty:
            return []
        method = str(periods["method"].iloc[0])
        charges: list[Charge] = []
        regions = periods["region"].astype(object).where(periods["region"].notna(), None)
        for region in dict.fromkeys(regions):
            chosen = regions.isna() if region is None else regions == region  # requests have no region
            rows = periods[chosen.to_numpy()].sort_values("period_start")
            charges.extend(self._region_charges(account, method, region, rows, end))
        if end + 2 * DAY <= self._now():  # closed and every line listed: it never changes again
            self._settled[(account, month)] = charges
        return charges

    def _region_charges(
        self, account: str, method: str, region: str | None, rows: pd.DataFrame, month_end: int
    ) -> list[Charge]:
        unit = str(rows["unit"].iloc[0])
        starts = rows["period_start"].to_numpy(dtype="datetime64[s]").astype(np.int64)
        usage = [pricing(q, unit) for q in rows["quantity"]]
        cycle = "month" if method.removesuffix("_overseas").startswith("month_") else "day"
        costs: list[Decimal] = []
        if method.removesuffix("_overseas") in ("hour_flow", "hour_count"):
            before = Decimal(0)
            for amount in usage:  # month-to-date position in the tiers
                after = before + amount
                costs.append(
                    self.prices.cost(method, region, after) - self.prices.cost(method, region, before)
                )
                before = after
        else:
            costs = [self.prices.cost(method, region, amount) for amount in usage]
        days: dict[str, list[int]] = {}
        for index, start in enumerate(starts):
            label = _day_label(int(start)) if cycle == "day" else _day_label(month_end - DAY)
            days.setdefault(label, []).append(index)
        tiers = self.prices.tiers(method, region)
        charges = []
        for label, indexes in days.items():
            gross = sum((costs[i] for i in indexes), Decimal(0)).quantize(_CENT, rounding=ROUND_HALF_UP)
            charges.append(
                Charge(
                    account=account,
                    method=method,
                    region=region,
                    day=label,
                    usage=sum((usage[i] for i in indexes), Decimal(0)),
                    unit=unit,
                    gross=gross,
                    currency=self.prices.currency(method, region),
                    list_price=tiers[0].price if tiers else Decimal(0),
                    visible=_day_start(label) + 2 * DAY,
                )
            )
        return charges

    # --- lines --------------------------------------------------------------------------------------

    def lines(
        self, account: str, month: str, *, day: str | None = None, visible_only: bool = True
    ) -> list[dict[str, Any]]:
        """The lines of ``account``'s ``month`` (one ``day`` of it) as reply items, those listed by now."""
        now = self._now()
        items: list[dict[str, Any]] = []
        for charge in self.charges(account, month):
            if (visible_only and charge.visible > now) or (day is not None and charge.day != day):
                continue
            items.extend(self._charge_lines(charge))
        return items

    def _charge_lines(self, charge: Charge) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.world.params.seed}:{charge.account}:{charge.region}:{charge.day}")
        draw = rng.random()
        coupon_rate = Decimal("0.10") if draw < 0.2 else Decimal(0)
        package_rate = Decimal("0.25") if 0.2 <= draw < 0.4 else Decimal(0)
        refund, adjust = rng.random() < 0.05, rng.random() < 0.02
        grosses = _split(charge.gross, self.split)
        usages = [
            (charge.usage / self.split).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
            for _ in range(self.split)
        ]
        usages[-1] = charge.usage.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP) - sum(usages[:-1])
        lines = []
        for index, (gross, usage) in enumerate(zip(grosses, usages, strict=True)):
            coupons = (gross * coupon_rate).quantize(_CENT, rounding=ROUND_HALF_UP)
            package = (gross * package_rate).quantize(_CENT, rounding=ROUND_HALF_UP)
            lines.append(
                self._item(
                    charge, index, "PayAsYouGoBill", gross, gross - coupons - package, usage, coupons, package
                )
            )
        if refund:
            back = -(charge.gross * Decimal("0.10")).quantize(_CENT, rounding=ROUND_HALF_UP)
            lines.append(
                self._item(charge, self.split, "Refund", back, back, Decimal(0), Decimal(0), Decimal(0))
            )
        if adjust:
            plus = Decimal("0.50")
            lines.append(
                self._item(
                    charge, self.split + 1, "Adjustment", plus, plus, Decimal(0), Decimal(0), Decimal(0)
                )
            )
        return lines

    def _item(
        self,
        charge: Charge,
        index: int,
        item: str,
        gross: Decimal,
        net: Decimal,
        usage: Decimal,
        coupons: Decimal,
        package: Decimal,
    ) -> dict[str, Any]:
        unit = _UNITS[charge.unit][1]
        region = charge.region or ""
        return {
            "BillingDate": charge.day,
            "InstanceID": f"cdn-{charge.account}",
            "ProductCode": "cdn",
            "ProductName": "CDN",
            "ProductType": "",
            "ProductDetail": "CDN",
            "PipCode": "cdn",
            "CommodityCode": "cdn",
            "SubscriptionType": "PayAsYouGo",
            "Item": item,
            "BillingType": "Normal",
            "BillingItem": f"{charge.method} ({region or 'all regions'}) part {index + 1}",
            "BillingItemCode": f"sbx_{charge.method}",
            "Usage": f"{usage:f}",
            "UsageUnit": unit,
            "ListPrice": f"{charge.list_price:f}",
            "ListPriceUnit": f"{charge.currency}/{unit}",
            "PretaxGrossAmount": _json_money(gross),
            "PretaxAmount": _json_money(net),
            "DeductedByCoupons": _json_money(coupons),
            "DeductedByCashCoupons": 0.0,
            "DeductedByPrepaidCard": 0.0,
            "DeductedByResourcePackage": _json_money(package),
            "InvoiceDiscount": 0.0,
            "AdjustAmount": 0.0,
            "AfterDiscountAmount": _json_money(gross),
            "PaymentAmount": _json_money(net),
            "CashAmount": _json_money(net),
            "OutstandingAmount": 0.0,
            "Currency": charge.currency,
            "Region": region,
            "Zone": "",
            "BillAccountID": self.uid(charge.account),
            "BillAccountName": charge.account,
            "OwnerID": self.uid(charge.account),
            "NickName": "",
            "ResourceGroup": "",
            "CostUnit": "",
            "Tag": "",
            "ServicePeriod": "",
            "ServicePeriodUnit": "",
        }

    # --- the action ---------------------------------------------------------------------------------

    def handle(self, account: str, params: dict[str, str]) -> dict[str, Any]:
        """The reply of ``DescribeInstanceBill`` for ``account``; raises :class:`Rejection`."""
        cycle = (params.get("BillingCycle") or "").strip()
        if not cycle:
            raise Rejection("MissingParameter", 400, "The input parameter BillingCycle is mandatory.")
        if (
            len(cycle) != 7
            or cycle[4] != "-"
            or not cycle.replace("-", "").isdigit()
            or not 1 <= int(cycle[5:]) <= 12
        ):
            raise Rejection("InvalidParameter", 400, f"BillingCycle {cycle!r} is not YYYY-MM.")
        granularity = (params.get("Granularity") or "MONTHLY").upper()
        if granularity not in ("MONTHLY", "DAILY"):
            raise Rejection(
                "InvalidParameter", 400, f"Granularity must be MONTHLY or DAILY, not {granularity!r}."
            )
        date = (params.get("BillingDate") or "").strip()
        if granularity == "DAILY" and not date:
            raise Rejection("MissingParameter", 400, "BillingDate is mandatory when Granularity is DAILY.")
        if date and (len(date) != 10 or not date.startswith(cycle + "-") or not date[8:].isdigit()):
            raise Rejection("InvalidParameter", 400, f"BillingDate {date!r} is not a day of {cycle}.")
        size = _max_results(params.get("MaxResults"))
        now = self._now()
        months_back = _month_index(_day_label(int(now))[:7]) - _month_index(cycle)
        if months_back > 18:
            raise Rejection("InvalidParameter", 400, "BillingCycle reaches back 18 months at most.")
        product = (params.get("ProductCode") or "").strip().lower()
        listed = months_back >= 0 and product in ("", "cdn")
        items = self.lines(account, cycle, day=date or None) if listed else []
        if granularity == "MONTHLY":
            items = _monthly(items)
        scope = "|".join([account, cycle, granularity, date, product, str(params.get("IsBillingItem"))])
        offset = self._offset(params.get("NextToken"), scope)
        page = items[offset : offset + size]
        following = offset + size
        token = self._token(scope, following) if following < len(items) else ""
        return {
            "Success": True,
            "Code": "Success",
            "Message": "Successful!",
            "Data": {
                "AccountID": self.uid(account),
                "AccountName": account,
                "BillingCycle": cycle,
                "MaxResults": size,
                "NextToken": token,
                "TotalCount": len(items),
                "Items": page,
            },
        }

    def _token(self, scope: str, offset: int) -> str:
        mac = hmac.new(self._secret, f"{scope}#{offset}".encode(), hashlib.sha256).hexdigest()[:24]
        return f"{offset}.{mac}"

    def _offset(self, token: str | None, scope: str) -> int:
        if not token:
            return 0
        head, _, mac = token.partition(".")
        if head.isdigit() and hmac.compare_digest(self._token(scope, int(head)), token):
            return int(head)
        del mac
        raise Rejection(
            "InvalidParameter",
            400,
            "The specified NextToken is not valid for this request: pass the token the previous page of the "
            "same call returned.",
        )


def _max_results(text: str | None) -> int:
    if text is None or text == "":
        return 20
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RESULTS:
        raise Rejection(
            "InvalidParameter", 400, f"MaxResults must be a whole number from 1 to {MAX_RESULTS}."
        )
    return int(text)


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def _monthly(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The month's lines summed per instance, region, item code, item and part, without ``BillingDate``."""
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    summed = (
        "PretaxGrossAmount",
        "PretaxAmount",
        "DeductedByCoupons",
        "DeductedByResourcePackage",
        "AfterDiscountAmount",
        "PaymentAmount",
        "CashAmount",
    )
    for item in items:
        key = (item["InstanceID"], item["Region"], item["BillingItemCode"], item["Item"], item["BillingItem"])
        if key not in merged:
            merged[key] = {**item, "BillingDate": "", "Usage": Decimal(item["Usage"])}
            for name in summed:
                merged[key][name] = Decimal(repr(item[name]))
            continue
        line = merged[key]
        line["Usage"] += Decimal(item["Usage"])
        for name in summed:
            line[name] += Decimal(repr(item[name]))
    result = []
    for line in merged.values():
        line["Usage"] = f"{line['Usage']:f}"
        for name in summed:
            line[name] = _json_money(line[name])
        result.append(line)
    return result
