"""Price tables and money: reading a contract's tiered prices, and pricing each billed period exactly.

Money is never a binary float in usagekit: amounts are Python :class:`~decimal.Decimal` values, and frame
columns of money are :data:`MONEY` (pandas over pyarrow ``decimal128(18, 8)``), so sums are exact.

A price table has one row per tier (:data:`PRICE_COLUMNS`): ``method`` (a ``BillType`` code), ``region``
(a billing region, ``OVERSEAS`` for ``_overseas`` methods, or ``*`` for any region without rows of its
own), ``tier_from`` / ``tier_to`` (tier bounds in the method's pricing unit, :data:`PRICING_UNITS`;
``tier_to`` empty for the open last tier), ``unit_price`` (per pricing unit) and ``currency``.

:func:`price_periods` prices the rows of :func:`usagekit.billing_quantities`: tiers cumulative over the
month for ``hour_flow`` and ``hour_count`` (each hour pays for its quantity at its month-to-date position
in the tiers), per day for ``day_bandwidth`` (each day's peak through the tiers), and the month's one
quantity for the monthly methods.

>>> table = read_prices(pd.DataFrame({"method": ["hour_flow"] * 2, "region": ["CN"] * 2,
...                                   "tier_from": [0, 10], "tier_to": [10, None],
...                                   "unit_price": [0.24, 0.23], "currency": ["CNY"] * 2}))
>>> [str(p) for p in table["unit_price"]]
['0.24000000', '0.23000000']
>>> tiered(Decimal(15), table)  # 10 GB at 0.24, 5 GB at 0.23
Decimal('3.55000000')
"""

from __future__ import annotations

import os
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from importlib import resources
from typing import Any, cast

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError, PriceTableError
from usagekit.optional import require

__all__ = [
    "EXAMPLE_PRICES_DATE",
    "EXAMPLE_PRICES_NOTE",
    "PRICE_COLUMNS",
    "PRICING_UNITS",
    "PriceTableError",
    "example_prices",
    "example_prices_file",
    "money",
    "money_array",
    "money_dtype",
    "price_periods",
    "pricing_quantity",
    "read_prices",
    "tiered",
    "tiers_for",
]

PRICE_COLUMNS = ("method", "region", "tier_from", "tier_to", "unit_price", "currency")
#: when the shipped example price table's illustrative numbers were written (they are not anyone's prices)
EXAMPLE_PRICES_DATE = "2026-11"
_EXAMPLE_FILE = f"example_prices_{EXAMPLE_PRICES_DATE}.csv"
#: what the example table is, in one line (for its frame's attrs and the command that writes it)
EXAMPLE_PRICES_NOTE = (
    f"an EXAMPLE price table: illustrative numbers written in {EXAMPLE_PRICES_DATE}, NOT Alibaba Cloud's prices; "
    "put your contract's prices in its place"
)
#: digits after the decimal point every money column keeps, and digits in all (up to 10**10 per value;
#: 18, not arrow's 38, so that differences of two columns still fit: 38 leaves no room for a subtraction)
SCALE = 8
PRECISION = 18
_QUANTUM = Decimal(1).scaleb(-SCALE)
_LIMIT = Decimal(10) ** (PRECISION - SCALE)  # decimal128(18, 8) holds magnitudes below 10**10
#: exact decimal arithmetic with room for any tier product (28 digits, the default, could round)
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
#: the pricing unit of each kind of billed quantity: its name and how many of billing_quantities' units
#: make one (bytes per GB as Alibaba Cloud bills traffic, 1024**3; bit/s per Mbit/s; requests per 10k)
PRICING_UNITS = {
    "byte": ("GB", 1024**3),
    "bit/s": ("Mbit/s", 10**6),
    "request": ("10k requests", 10**4),
}
_CUMULATIVE = frozenset({"hour_flow", "hour_flow_overseas", "hour_count"})


def _pyarrow() -> Any:
    return require("pyarrow", extra="parquet", purpose="exact money columns (decimal128)")


def money_dtype() -> pd.ArrowDtype:
    """The dtype of every money column: pandas over pyarrow ``decimal128(18, 8)``.

    A column's ``sum()`` is an exact :class:`~decimal.Decimal`; for ratios take ``astype(float)`` first
    (arrow divides decimals only where the result's precision fits).

    >>> str(money_dtype())
    'decimal128(18, 8)[pyarrow]'
    """
    return pd.ArrowDtype(_pyarrow().decimal128(PRECISION, SCALE))


def __getattr__(name: str) -> Any:
    if name == "MONEY":  # module attribute built lazily: pyarrow is imported on first use
        return money_dtype()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def money(value: Any) -> Decimal | None:
    """``value`` as an exact money amount (a :class:`~decimal.Decimal` with 8 places), ``None`` for missing.

    Text and decimals are taken as written; a float is taken by its shortest repr (``0.1`` is ``0.1``,
    not the binary expansion), so a price typed into a frame keeps the digits the user typed.

    >>> money("12.345"), money(0.1), money(None)
    (Decimal('12.34500000'), Decimal('0.10000000'), None)
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float | np.floating):
        number = Decimal(repr(float(value)))
    elif isinstance(value, int | np.integer):
        number = Decimal(int(value))
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount of money") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite amount of money")
    if abs(number) >= _LIMIT:
        raise ValueError(
            f"{value!r} is beyond what a money column holds (less than 10**{PRECISION - SCALE} in magnitude)"
        )
    return number.quantize(_QUANTUM, context=_CONTEXT)


def money_array(values: Any) -> pd.api.extensions.ExtensionArray:
    """``values`` (decimals, text, ints, floats by repr, ``None``) as a :data:`MONEY` array.

    >>> money_array(["1.10", None, 2]).tolist()
    [Decimal('1.10000000'), <NA>, Decimal('2.00000000')]
    """
    pa = _pyarrow()
    amounts = [money(v) for v in values]
    return pd.array(pa.array(amounts, type=pa.decimal128(PRECISION, SCALE)), dtype=money_dtype())


# --- reading a table ----------------------------------------------------------------------------------


def _read_csv(where: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            where,
            dtype={"method": str, "region": str, "currency": str, "unit_price": str},
            keep_default_na=False,
            na_values={"tier_to": [""]},
        )
    except (OSError, ValueError) as error:
        raise PriceTableError(f"cannot read the price table {where}: {error}") from None


def read_prices(prices: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    """A price table, checked: a frame, or a CSV file, with the columns of :data:`PRICE_COLUMNS`.

    The tiers of a method and region start at 0, follow each other without gaps, and share one
    currency. Tiers are applied as tiers: each slice of a quantity is priced at its own tier's rate.
    Returned sorted by method, region and ``tier_from``: ``method``, ``region``, ``currency`` string,
    ``tier_from`` / ``tier_to`` float64 (``inf`` for the open tier), ``unit_price`` :data:`MONEY`.

    >>> read_prices(pd.DataFrame({"method": ["month_95"], "region": ["*"], "tier_from": [0],
    ...                           "tier_to": [None], "unit_price": ["24.0"], "currency": ["CNY"]})).loc[0, "unit_price"]
    Decimal('24.00000000')
    """
    from usagekit.billing import METHODS  # the BillType codes (billing imports this module at its top)

    where = None
    if isinstance(prices, str | os.PathLike):
        where = os.fspath(prices)
        prices = _read_csv(where)
    if not isinstance(prices, pd.DataFrame):
        raise ArgumentError(
            f"prices must be a price table: a DataFrame or a CSV path, not {type(prices).__name__}"
        )
    name = f"price table {where}" if where else "price table"
    lacking = [c for c in PRICE_COLUMNS if c not in prices.columns]
    if lacking:
        raise PriceTableError(
            f"the {name} lacks the columns {lacking}; it needs {list(PRICE_COLUMNS)}, one row per tier"
        )
    table = prices[list(PRICE_COLUMNS)].copy()
    for column in ("method", "region", "currency"):
        table[column] = table[column].astype(pd.StringDtype()).str.strip()
    unknown = sorted(set(table["method"].dropna()) - set(METHODS))
    if unknown or table["method"].isna().any():
        raise PriceTableError(
            f"the {name} names unknown methods {unknown}; use BillType codes: {', '.join(METHODS)}"
        )
    for column in ("tier_from", "tier_to"):
        numbers = pd.to_numeric(table[column], errors="coerce")
        bad = numbers.isna() & table[column].notna() | (numbers < 0)
        if column != "tier_to":
            bad |= numbers.isna()
        if bad.any():
            rows = [int(i) for i in table.index[bad][:5]]
            raise PriceTableError(f"the {name}: {column} must be a number >= 0 (rows {rows})")
        table[column] = numbers.astype(np.float64)
    table["unit_price"] = _prices(table["unit_price"], name)
    table["tier_to"] = table["tier_to"].fillna(np.inf)
    empty = table[["region", "currency"]].isna() | (table[["region", "currency"]] == "")
    if empty.to_numpy().any():
        raise PriceTableError(f"the {name}: every row needs a region (or *) and a currency")
    table = table.sort_values(["method", "region", "tier_from"], ignore_index=True)
    for (method, region), tiers in table.groupby(["method", "region"], sort=False):
        problem = _tier_problem(tiers)
        if problem:
            raise PriceTableError(f"the {name}, {method} in {region}: {problem}")
    return table


def _prices(column: pd.Series, name: str) -> pd.api.extensions.ExtensionArray:
    amounts, bad = [], []
    for index, value in column.items():
        try:
            amount = money(value)
        except ValueError:
            amount = None
        if amount is None or amount < 0:
            bad.append(int(cast(int, index)))
        amounts.append(amount)
    if bad:
        raise PriceTableError(f"the {name}: unit_price must be a number >= 0 (rows {bad[:5]})")
    return money_array(amounts)


def _tier_problem(tiers: pd.DataFrame) -> str | None:
    bounds = tiers[["tier_from", "tier_to"]].to_numpy()
    if bounds[0, 0] != 0:
        return "the first tier must start at 0"
    if (bounds[:, 1] <= bounds[:, 0]).any():
        return "a tier ends where it starts or before"
    if (bounds[1:, 0] != bounds[:-1, 1]).any():
        return "each tier must start where the one before ends (no gaps, no overlaps)"
    if tiers["currency"].nunique() > 1:
        return "its tiers have different currencies"
    return None


def example_prices() -> pd.DataFrame:
    """The example price table shipped with usagekit (``usagekit/report/example_prices_2026-11.csv``).

    Illustrative numbers written in November 2026 (:data:`EXAMPLE_PRICES_DATE`), NOT Alibaba Cloud's
    prices: take yours from your contract or the console.

    The frame says so itself: ``attrs["example"]`` is true and ``attrs["dated"]`` is the month the
    numbers were written. ``usagekit prices --example > prices.csv`` writes the same table as a file.

    >>> table = example_prices()
    >>> [str(p) for p in table.loc[table["method"] == "month_95", "unit_price"]]
    ['24.00000000']
    >>> table.attrs["example"], table.attrs["dated"]
    (True, '2026-11')
    """
    with resources.as_file(example_prices_file()) as path:
        table = read_prices(path)
    table.attrs.update(example=True, dated=EXAMPLE_PRICES_DATE, note=EXAMPLE_PRICES_NOTE)
    return table


def example_prices_file() -> Any:
    """The shipped example price table as a package resource (a ``Traversable``: ``.read_bytes()``)."""
    return resources.files("usagekit").joinpath("report", _EXAMPLE_FILE)


# --- tiers --------------------------------------------------------------------------------------------


def tiers_for(table: pd.DataFrame, method: str, region: Any) -> pd.DataFrame | None:
    """The tiers pricing ``method`` in ``region``: its own rows, else the ``*`` rows, else ``None``.

    An ``_overseas`` method bills the mainland (``CN``) as its base method does: without rows of its own
    for ``CN``, the base method's prices it.
    """
    rows = table[table["method"] == method]
    exact = rows[rows["region"] == region] if isinstance(region, str) else rows.iloc[0:0]
    chosen = exact if not exact.empty else rows[rows["region"] == "*"]
    if method.endswith("_overseas") and region == "CN" and exact.empty:
        return tiers_for(table, method.removesuffix("_overseas"), region)
    return None if chosen.empty else chosen


def tiered(quantity: Decimal, tiers: pd.DataFrame) -> Decimal:
    """``quantity`` (in the pricing unit) through ``tiers``: each slice at its own tier's rate, exact.

    >>> t = read_prices(pd.DataFrame({"method": ["day_bandwidth"] * 2, "region": ["*"] * 2,
    ...     "tier_from": [0, 100], "tier_to": [100, None], "unit_price": [2, 1], "currency": ["CNY"] * 2}))
    >>> tiered(Decimal(150), t)  # 100 x 2 + 50 x 1
    Decimal('250.00000000')
    """
    total = Decimal(0)
    for low, high, price in zip(tiers["tier_from"], tiers["tier_to"], tiers["unit_price"], strict=True):
        start = Decimal(repr(float(low)))
        if quantity <= start:
            break
        top = quantity if np.isinf(high) else min(quantity, Decimal(repr(float(high))))
        total = _CONTEXT.add(total, _CONTEXT.multiply(_CONTEXT.subtract(top, start), price))
    return total.quantize(_QUANTUM, context=_CONTEXT)


def pricing_quantity(quantity: float, unit: str) -> Decimal:
    """A billed quantity (``billing_quantities``' unit) in its pricing unit, as an exact decimal.

    The float is taken by its shortest repr, then divided exactly (to 30 places).

    >>> pricing_quantity(1.5 * 1024**3, "byte"), pricing_quantity(2.5e6, "bit/s")
    (Decimal('1.5'), Decimal('2.5'))
    """
    _, scale = PRICING_UNITS[unit]
    exact = _CONTEXT.divide(Decimal(repr(float(quantity))), Decimal(scale))
    return exact.quantize(Decimal(1).scaleb(-30), context=_CONTEXT).normalize(_CONTEXT)


# --- pricing billed periods ---------------------------------------------------------------------------


def price_periods(quantities: pd.DataFrame, prices: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    """The cost of each billed period of ``quantities`` (rows of ``billing_quantities``), exactly.

    ``hour_flow`` and ``hour_count`` tiers are cumulative over the Beijing month: each hour pays for its
    quantity at its month-to-date position in the tiers (the hours of a month, in time order, add up
    to the month's total through the tiers). ``day_bandwidth`` tiers apply to each day's peak; a monthly
    method prices the month's one quantity. A method and region the table does not price gets NA.

    The frame is ``quantities`` with these columns added:

    ================  ===========  ======================================================
    column            dtype        meaning
    ================  ===========  ======================================================
    pricing_quantity  MONEY        the quantity in the pricing unit (decimal, exact)
    pricing_unit      string       ``GB``, ``Mbit/s``, ``10k requests``
    cost              MONEY        the period's cost (8 places), NA where not priced
    currency          string       the price table's currency
    ================  ===========  ======================================================

    >>> from usagekit.billing import billing_quantities
    >>> from usagekit.frames import tidy_frame
    >>> usage = tidy_frame({"account": ["shop"] * 2, "task_id": ["1"] * 2, "domain": ["a.example"] * 2,
    ...     "region": ["CN"] * 2, "metric": ["traffic"] * 2, "start": ["2026-10-04T16:00:00Z",
    ...     "2026-10-04T17:00:00Z"], "end": ["2026-10-04T16:05:00Z", "2026-10-04T17:05:00Z"],
    ...     "value": [8 * 1024**3, 4 * 1024**3], "unit": ["byte"] * 2})
    >>> table = pd.DataFrame({"method": ["hour_flow"] * 2, "region": ["*"] * 2, "tier_from": [0, 10],
    ...     "tier_to": [10, None], "unit_price": [1, "0.5"], "currency": ["CNY"] * 2})
    >>> [str(c) for c in price_periods(billing_quantities(usage, "hour_flow"), table)["cost"]]
    ['8.00000000', '3.00000000']
    """
    lacking = (
        ["a frame"]
        if not isinstance(quantities, pd.DataFrame)
        else [
            c
            for c in ("account", "region", "method", "period", "period_start", "quantity", "unit")
            if c not in quantities.columns
        ]
    )
    if lacking:
        raise ArgumentError(
            f"quantities must be the rows of usagekit.billing_quantities(usage, method); this lacks {lacking}"
        )
    table = read_prices(prices)
    frame = quantities.reset_index(drop=True).copy()
    costs: list[Decimal | None] = [None] * len(frame)
    currencies: list[str | None] = [None] * len(frame)
    amounts = [pricing_quantity(q, str(u)) for q, u in zip(frame["quantity"], frame["unit"], strict=True)]
    if len(frame):
        month = frame["period"].astype(str).str.slice(0, 7)
        keys = [
            frame["account"].astype(object),
            frame["region"].astype(object),
            frame["method"].astype(str),
            month,
        ]
        for (_, region, method, _), group in frame.groupby(keys, dropna=False, sort=False):
            tiers = tiers_for(table, cast(str, method), region if isinstance(region, str) else None)
            if tiers is None:
                continue
            currency = str(tiers["currency"].iloc[0])
            before = Decimal(0)
            for index in group.sort_values("period_start").index:
                if method in _CUMULATIVE:
                    after = before + amounts[index]
                    costs[index] = tiered(after, tiers) - tiered(before, tiers)
                    before = after
                else:
                    costs[index] = tiered(amounts[index], tiers)
                currencies[index] = currency
    frame["pricing_quantity"] = money_array([a.quantize(_QUANTUM, context=_CONTEXT) for a in amounts])
    frame["pricing_unit"] = pd.array(
        [PRICING_UNITS[str(u)][0] for u in frame["unit"]], dtype=pd.StringDtype()
    )
    frame["cost"] = money_array(costs)
    frame["currency"] = pd.array(currencies, dtype=pd.StringDtype())
    return frame
