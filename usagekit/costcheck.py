"""Does the money match? Bill lines beside the cost the user's price table gives for the usage.

A cost check compares quantities first and money second (the reference, "What the service says it
billed"): for each account and billed period (a Beijing day for ``hour_flow``, ``hour_count`` and
``day_bandwidth``, the Beijing month for the monthly methods) and billing region, :func:`check_cost`
puts side by side

* the cost :func:`usagekit.price_periods` gives for the quantity ``usage`` gives, under the method the
  service billed the account by (from :func:`usagekit.bill_history`), with the user's ``prices``;
* the bill's gross (``PretaxGrossAmount`` of its ``PayAsYouGoBill`` lines), deductions, net, and the
  refunds and adjustments (its other lines);
* the billed quantity (the bill history's) and the implied unit price (gross / billed quantity, in the
  pricing unit) beside the table's (the table's cost / the usage's quantity: its tier rate, or the mean
  rate where the period crosses tiers).

Verdicts: ``provisional`` (the month's bill is not final yet: after 12:00 Beijing on the 3rd of the next
month), ``incomplete_usage`` (the usage lacks the account's total at points of the period, as
:func:`usagekit.check_bill` counts them: no point, or only exports of some domains; its quantity cannot tell
whether the bill differs), ``quantity_differs`` (the billed quantity is not the usage's, as :func:`usagekit.check_bill` finds:
beyond a relative 1e-6), ``match`` (the same quantity and the gross within one cent of the table's cost),
``price_differs`` (the same quantity at another price: the table is out of date, or a contract price
applies). ``explanation`` says which, with the numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import pandas as pd

from usagekit.accounts import Account
from usagekit.billcover import POINT, account_points, lacking_points, metric_of
from usagekit.billing import billing_quantities
from usagekit.bss import DEDUCTIONS, is_final, service_now
from usagekit.errors import ArgumentError, PriceTableError
from usagekit.prices import money_array, price_periods, pricing_quantity, read_prices
from usagekit.resolve import resolve_accounts
from usagekit.times import month_bounds

__all__ = ["COST_CHECK_COLUMNS", "VERDICTS", "check_cost"]

VERDICTS = ("match", "quantity_differs", "price_differs", "provisional", "incomplete_usage")
COST_CHECK_COLUMNS = (
    "account",
    "method",
    "period",
    "region",
    "pricing_unit",
    "usage_quantity",
    "billed_quantity",
    "expected",
    "gross",
    "deductions",
    "net",
    "adjustments",
    "difference",
    "implied_unit_price",
    "table_unit_price",
    "currency",
    "final",
    "verdict",
    "explanation",
)
_CENT = Decimal("0.01")
_DAILY = ("hour_flow", "hour_count", "day_bandwidth")
_RELATIVE = 1e-6


def _period(method: str, label: str) -> str:
    """The checked period of a billed period's label: its Beijing day, or its month."""
    return label[:10] if method.removesuffix("_overseas") in _DAILY else label[:7]


def _region(value: Any) -> str:
    return (
        "" if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)
    )


def _usage_side(usage: pd.DataFrame, account: str, method: str, table: pd.DataFrame, month: str) -> dict:
    """Per (period, region): the usage's pricing quantity and its cost through the table."""
    mine = usage[usage["account"].astype(str) == account]
    quantities = billing_quantities(mine, method)
    quantities = quantities[quantities["period"].astype(str).str.startswith(month)]
    result: dict[tuple[str, str], dict[str, Any]] = {}
    if quantities.empty:
        return result
    priced = price_periods(quantities, table)
    # the bill is the account's: a point holds it only with an export by account (as check_bill counts)
    points = account_points(mine, metric_of(method), method.endswith("_overseas"))
    lacking = {
        region: lacking_points(
            points, cast(str, region), group["period_start"].min(), group["period_end"].max()
        )
        for region, group in priced.assign(key=priced["region"].map(_region)).groupby("key")
    }
    row: Any  # a named tuple of the frame's columns
    for row in priced.itertuples(index=False):
        key = (_period(method, str(row.period)), _region(row.region))
        holes = lacking[key[1]]
        inside = int(holes.searchsorted(row.period_end) - holes.searchsorted(row.period_start))
        entry = result.setdefault(
            key, {"quantity": Decimal(0), "cost": Decimal(0), "priced": True, "points": 0, "missing": 0}
        )
        entry["quantity"] += pricing_quantity(row.quantity, str(row.unit))
        entry["points"] += int((row.period_end - row.period_start) / POINT)
        entry["missing"] += inside
        if row.cost is pd.NA or row.cost is None:
            entry["priced"] = False
        else:
            entry["cost"] += row.cost
        entry["unit"] = row.pricing_unit
    return result


def _billed_side(history: pd.DataFrame, account: str, month: str) -> tuple[str | None, dict]:
    mine = history[(history["account"].astype(str) == account)]
    mine = mine[mine["period"].astype(str).str.startswith(month)]
    if mine.empty:
        return None, {}
    method = str(mine["method"].iloc[0])
    result: dict[tuple[str, str], Decimal] = {}
    row: Any  # a named tuple of the frame's columns
    for row in mine.itertuples(index=False):
        key = (_period(method, str(row.period)), _region(row.region))
        result[key] = result.get(key, Decimal(0)) + pricing_quantity(row.quantity, str(row.unit))
    return method, result


def _bill_side(lines: pd.DataFrame, account: str, method: str, month: str) -> dict:
    mine = lines[(lines["account"].astype(str) == account) & (lines["billing_cycle"].astype(str) == month)]
    result: dict[tuple[str, str], dict[str, Any]] = {}
    monthly = method.removesuffix("_overseas") not in _DAILY
    for row in mine.to_dict("records"):
        day = row["billing_date"]
        period = month if monthly or day is None or day is pd.NA else str(day)
        key = (period, _region(row["region"]))
        entry = result.setdefault(
            key,
            {
                "gross": Decimal(0),
                "deductions": Decimal(0),
                "net": Decimal(0),
                "adjustments": Decimal(0),
                "currency": row["currency"],
                "final": True,
            },
        )
        net = row["net"] if row["net"] is not pd.NA else Decimal(0)
        entry["net"] += net
        entry["final"] &= bool(row["final"])
        if str(row["item"]) == "PayAsYouGoBill":
            entry["gross"] += row["gross"] if row["gross"] is not pd.NA else Decimal(0)
            entry["deductions"] += sum(
                (row[c] for c in DEDUCTIONS.values() if row[c] is not pd.NA and row[c] is not None),
                Decimal(0),
            )
        else:
            entry["adjustments"] += net
    return result


def _number(amount: Decimal | None) -> str:
    return "none" if amount is None else f"{amount:.6f}"


def _money(amount: Decimal | None) -> str:
    return "none" if amount is None else f"{amount:.2f}"


def _verdict(row: dict[str, Any]) -> tuple[str, str]:
    usage_q, billed_q = row["usage_quantity"], row["billed_quantity"]
    unit = row["pricing_unit"] or ""
    if not row["final"]:
        return "provisional", (
            f"the bill of {row['period'][:7]} is not final until 12:00 Beijing on the 3rd of the next month; "
            f"so far gross {_money(row['gross'])} against {_money(row['expected'])} from the usage"
        )
    if usage_q is None and billed_q is not None:
        return "incomplete_usage", (
            "the usage has no point of this billed period: export it by account and read it to check it"
        )
    if row["missing"]:
        return "incomplete_usage", (
            f"the usage lacks {row['missing']:,} of this period's {row['points']:,} 5-minute points, so its "
            f"quantity ({usage_q:.6f} {unit}, billed {_number(billed_q)}) says nothing about the bill: export "
            "the missing days by account and read them (check_bill names them)"
        )
    if usage_q is None or billed_q is None:
        return (
            "quantity_differs",
            "the bill history has no quantity for this period: the quantities cannot agree",
        )
    scale = max(abs(usage_q), abs(billed_q), Decimal("1e-12"))
    if abs(billed_q - usage_q) / scale > Decimal(str(_RELATIVE)):
        relative = (billed_q - usage_q) / usage_q if usage_q else None
        shown = f" ({float(relative):+.4%})" if relative is not None else ""
        return "quantity_differs", (
            f"billed {billed_q:.6f} {unit} where the usage gives {usage_q:.6f} {unit}{shown}: the quantity "
            "differs, so the money does (see check_bill)"
        )
    if row["expected"] is None:
        return "price_differs", "the price table does not price this method and region"
    if abs(row["difference"]) <= _CENT:
        return "match", f"gross {_money(row['gross'])} is the table's {_money(row['expected'])} to the cent"
    return "price_differs", (
        f"same quantity ({usage_q:.6f} {unit}) but gross {_money(row['gross'])} against "
        f"{_money(row['expected'])} from the "
        f"table: billed at {row['implied_unit_price']:.6f} per {unit}, the table says "
        f"{row['table_unit_price']:.6f} (out of date, or a contract price applies)"
    )


def check_cost(
    usage: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    prices: pd.DataFrame | str | os.PathLike[str],
    accounts: Account | str | Sequence[Account | str] | None = None,
    now: datetime | str | None = None,
) -> pd.DataFrame:
    """Bill lines beside the cost ``prices`` gives for ``usage``, per account, billed period and region.

    ``usage`` is tidy usage (:func:`usagekit.usage`), ``lines`` what :func:`usagekit.bill_lines` returns
    (daily lines for daily methods), ``prices`` the user's price table (:func:`usagekit.read_prices`).
    The method and billed quantities come from :func:`usagekit.bill_history` of ``accounts`` (``None``:
    every discovered account; only the accounts and months ``lines`` holds are checked). ``now`` (default:
    the service's time) decides which months are final.

    ==================  =========  ==============================================================
    column              dtype      meaning
    ==================  =========  ==============================================================
    account             category   the account
    method              category   the ``BillType`` it was billed by
    period              string     a Beijing day (``2026-10-05``) or month (``2026-10``)
    region              string     billing region (``OVERSEAS`` combined; empty for requests)
    pricing_unit        string     ``GB``, ``Mbit/s``, ``10k requests``
    usage_quantity      MONEY      what ``usage`` gives, in the pricing unit (NA: none)
    billed_quantity     MONEY      what the bill history says was billed (NA: none)
    expected            MONEY      ``price_periods`` of the usage's quantity (NA: not priced)
    gross, net          MONEY      the bill's gross (its ``PayAsYouGoBill`` lines) and net (all lines)
    deductions          MONEY      coupons, resource packages, discounts of those lines
    adjustments         MONEY      the net of refund and adjustment lines
    difference          MONEY      ``gross - expected``
    implied_unit_price  MONEY      ``gross / billed_quantity``
    table_unit_price    MONEY      ``expected / usage_quantity``
    currency            string     the bill's currency
    final               boolean    the month's bill is final
    verdict             category   ``match``, ``quantity_differs``, ``price_differs``, ``provisional``,
                                   ``incomplete_usage``
    explanation         string     which, with the numbers
    ==================  =========  ==============================================================

    MONEY is :func:`usagekit.prices.money_dtype` (exact decimals).
    """
    from usagekit.billhistory import bill_history

    if not isinstance(lines, pd.DataFrame) or "gross" not in lines.columns:
        raise ArgumentError("lines must be the frame usagekit.bill_lines() returns")
    if not isinstance(usage, pd.DataFrame) or "metric" not in usage.columns:
        raise ArgumentError("usage must be a tidy usage frame (usagekit.usage())")
    table = read_prices(prices)
    _same_currency(lines, table)
    chosen = resolve_accounts(accounts)
    moment = service_now(chosen, now)
    names = set(lines["account"].astype(str))
    if not names:
        raise ArgumentError(
            "lines hold no bill line: nothing to check (usagekit.bill_lines of a month that has some)"
        )
    if accounts is not None and any(a.name not in names for a in chosen):
        raise ArgumentError(
            f"lines hold no bill line of {sorted(a.name for a in chosen if a.name not in names)}: read their "
            "lines with usagekit.bill_lines, or leave them out of accounts="
        )
    if not any(a.name in names for a in chosen):
        raise ArgumentError(
            f"lines hold bill lines of {sorted(names)}, none of which is among the accounts to check "
            f"({', '.join(a.name for a in chosen) or 'none discovered'}): pass accounts= the lines were read with"
        )
    chosen = [a for a in chosen if a.name in names]
    rows: list[dict[str, Any]] = []
    for month in sorted(set(lines["billing_cycle"].dropna().astype(str))):
        start, end = month_bounds(month)
        history = bill_history(chosen, start=start, end=end) if chosen else None
        for account in chosen:
            method, billed = _billed_side(history, account.name, month) if history is not None else (None, {})
            if method is None:
                continue
            rows.extend(
                _month_rows(usage, lines, table, account.name, method, month, billed, is_final(month, moment))
            )
    return _frame(rows)


def _same_currency(lines: pd.DataFrame, table: pd.DataFrame) -> None:
    """Refuse a table none of whose rows is in the bill's currency: amounts in two currencies never compare."""
    billed = sorted(set(lines["currency"].dropna().astype(str)))
    priced = set(table["currency"].astype(str))
    foreign = [c for c in billed if c not in priced]
    if foreign:
        raise PriceTableError(
            f"the bill lines are in {', '.join(billed)} and the price table in {', '.join(sorted(priced))}: "
            "amounts in different currencies cannot be compared; give the table in the bill's currency"
        )


def _month_rows(
    usage: pd.DataFrame,
    lines: pd.DataFrame,
    table: pd.DataFrame,
    account: str,
    method: str,
    month: str,
    billed: dict,
    final: bool,
) -> list[dict[str, Any]]:
    computed = _usage_side(usage, account, method, table, month)
    bill = _bill_side(lines, account, method, month)
    rows = []
    for key in sorted(set(computed) | set(billed) | set(bill)):
        period, region = key
        side = computed.get(key)
        money = bill.get(key, {})
        gross = money.get("gross", Decimal(0))
        expected = side["cost"] if side and side["priced"] else None
        usage_q = side["quantity"] if side else None
        billed_q = billed.get(key)
        row = {
            "account": account,
            "method": method,
            "period": period,
            "region": region,
            "pricing_unit": side["unit"] if side else None,
            "usage_quantity": usage_q,
            "billed_quantity": billed_q,
            "expected": expected,
            "gross": gross,
            "deductions": money.get("deductions", Decimal(0)),
            "net": money.get("net", Decimal(0)),
            "adjustments": money.get("adjustments", Decimal(0)),
            "difference": gross - expected if expected is not None else None,
            "implied_unit_price": gross / billed_q if billed_q else None,
            "table_unit_price": expected / usage_q if expected is not None and usage_q else None,
            "currency": money.get("currency"),
            "final": final and money.get("final", True),
            "missing": side["missing"] if side else 0,
            "points": side["points"] if side else 0,
        }
        row["verdict"], row["explanation"] = _verdict(row)
        del row["missing"], row["points"]
        rows.append(row)
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COST_CHECK_COLUMNS))
    for column in (
        "usage_quantity",
        "billed_quantity",
        "expected",
        "gross",
        "deductions",
        "net",
        "adjustments",
        "difference",
        "implied_unit_price",
        "table_unit_price",
    ):
        frame[column] = money_array(frame[column].tolist())
    for column in ("period", "region", "pricing_unit", "currency", "explanation"):
        frame[column] = pd.array(
            [None if v is None else str(v) for v in frame[column]], dtype=pd.StringDtype()
        )
    frame["account"] = frame["account"].astype(object).astype("category")
    frame["method"] = frame["method"].astype(object).astype("category")
    frame["verdict"] = pd.Categorical(frame["verdict"], categories=list(VERDICTS))
    frame["final"] = pd.array(frame["final"].astype(bool), dtype="boolean")  # type: ignore[call-overload]  # pandas-stubs: a bool Series
    return frame
