"""What the billing report says first: each account's options as whole bills, the cheapest, what it saves.

``billing.csv`` (:func:`usagekit.compare_billing`) has one row per account, billing *region*, month and
method. Those rows are not all bills an account could pay at once: a plain method bills every region
alone, and its ``_overseas`` form bills the mainland (``CN``) alone and every other region together as
``OVERSEAS``. So an account's per-region rows and its ``OVERSEAS`` row are **alternatives**: adding them
counts overseas traffic twice. :func:`account_options` adds up each alternative the right way, so the
report can compare whole bills.

>>> billing = pd.DataFrame({
...     "account": ["a"] * 6, "month": ["2026-10"] * 6,
...     "region": ["CN", "EU", "NA", "OVERSEAS", "CN", "EU"],
...     "method": ["month_95", "month_95", "month_95", "month_95_overseas", "hour_flow", "hour_flow"],
...     "cost": [10.0, 4.0, 5.0, 7.0, 30.0, 9.0], "currency": ["CNY"] * 6})
>>> for row in account_options(billing, "2026-10").itertuples():
...     print(row.option, "|", row.regions, "|", row.cost)
month_95_overseas | CN + OVERSEAS | 17.0
month_95 | CN, EU, NA | 19.0
hour_flow | CN, EU | 39.0
"""

from __future__ import annotations

import calendar

import pandas as pd

__all__ = ["account_options", "month_points", "summary"]

OVERSEAS = "OVERSEAS"
MAINLAND = "CN"


def month_points(month: str) -> tuple[int, int, int]:
    """A Beijing month's days, its 5-minute points, and how many of them ``month_95`` discards (rounded down).

    >>> month_points("2026-10")
    (31, 8928, 446)
    >>> month_points("2026-09")
    (30, 8640, 432)
    """
    year, number = (int(part) for part in month.split("-"))
    days = calendar.monthrange(year, number)[1]
    points = days * 288
    return days, points, points * 5 // 100


def _options(rows: pd.DataFrame) -> list[dict[str, object]]:
    """Every whole bill one account's month can be: each plain method, and each ``_overseas`` form."""
    rows = rows.assign(method=rows["method"].astype(str), region=rows["region"].astype(str))
    found: list[dict[str, object]] = []
    for method in sorted(set(rows["method"])):
        if method.endswith("_overseas"):
            base = method.removesuffix("_overseas")
            mainland = rows[(rows["method"] == base) & (rows["region"] == MAINLAND)]
            overseas = rows[(rows["method"] == method) & (rows["region"] == OVERSEAS)]
            parts = pd.concat([mainland, overseas])
        else:
            parts = rows[(rows["method"] == method) & (rows["region"] != OVERSEAS)]
        costs = parts["cost"]
        if parts.empty or costs.isna().any():
            continue  # no price for some part of it: not a bill that can be compared
        found.append(
            {
                "option": method,
                "regions": " + ".join(parts["region"])
                if method.endswith("_overseas")
                else ", ".join(parts["region"]),
                "cost": float(sum(float(cost) for cost in costs)),
                "currency": str(parts["currency"].iloc[0]),
            }
        )
    return found


def account_options(billing: pd.DataFrame, month: str) -> pd.DataFrame:
    """Each account's whole bill for ``month`` under every method, cheapest first.

    Columns: ``account``, ``option`` (a method, or its ``_overseas`` form), ``regions`` (what it bills:
    each region alone, or ``CN + OVERSEAS``), ``cost`` (float, in ``currency``), ``currency``. Methods
    without a price for every part are left out.
    """
    chosen = billing[billing["month"].astype(str) == month]
    records = []
    for account, rows in chosen.groupby(chosen["account"].astype(str), sort=True):
        for option in _options(rows):
            records.append({"account": account, **option})
    frame = pd.DataFrame(records, columns=["account", "option", "regions", "cost", "currency"])
    return frame.sort_values(["account", "cost"], kind="stable").reset_index(drop=True)


def summary(billing: pd.DataFrame, month: str, in_force: dict[str, str] | None = None) -> pd.DataFrame:
    """One line per account: the method in force (where known), the cheapest whole bill, and the saving.

    ``in_force`` maps an account to the method it is billed by (from the bill check); without it the
    saving is measured against the account's dearest option. Columns: ``account``, ``in force``,
    ``cheapest``, ``cheapest cost``, ``compared with``, ``saving``, ``saving %``, ``currency``.

    >>> billing = pd.DataFrame({"account": ["a", "a"], "month": ["2026-10"] * 2, "region": ["CN"] * 2,
    ...     "method": ["month_95", "day_bandwidth"], "cost": [60.0, 100.0], "currency": ["CNY"] * 2})
    >>> summary(billing, "2026-10", {"a": "day_bandwidth"}).iloc[0].to_dict()["saving"]
    40.0
    """
    options = account_options(billing, month)
    rows = []
    for account, own in options.groupby("account", sort=True):
        cheapest = own.iloc[0]
        method = (in_force or {}).get(str(account))
        against = own[own["option"] == method] if method else own.iloc[[-1]]
        if against.empty:
            against = own.iloc[[-1]]
        base = against.iloc[0]
        saving = float(base["cost"]) - float(cheapest["cost"])
        rows.append(
            {
                "account": account,
                "in force": method or "unknown",
                "cheapest": cheapest["option"],
                "cheapest cost": round(float(cheapest["cost"]), 2),
                "compared with": base["option"],
                "saving": round(saving, 2),
                "saving %": round(100 * saving / float(base["cost"]), 1) if float(base["cost"]) else 0.0,
                "currency": cheapest["currency"],
            }
        )
    return pd.DataFrame(rows)
