"""Showback: each domain's (or team's) share of what an account was billed, period by period.

An account is billed as a whole: its domains' points are summed before any peak or percentile, so a
peak-based bill is not split by traffic shares. :func:`allocate_cost` splits each period's amount by the
rule of the method in force, at the point(s) the bill came from (see :mod:`usagekit.shares`):

* ``hour_flow``: a Beijing day's amount (a day's line) by each domain's share of that day's traffic;
* ``day_bandwidth``: a day's amount by each domain's bandwidth at the 5-minute point where the account
  peaked that day (a domain absent at that point owes nothing);
* ``month_95`` and ``month_95_night_half``: ``rule="at_billed_point"``, the domains' shares at the point
  the bill took (the highest left once the top 5 % is discarded), or ``rule="top_band"``, their shares
  averaged over the billed point and every point ranked above it (the discarded top 5 %: steadier from
  month to month);
* ``month_4th_day_bandwidth``: the shares at the 4th-peak day's peak point;
* ``month_avg_day_bandwidth`` and ``month_avg_day_95``: each counted day's shares at its peak (or 95th)
  point, weighted by that day's billed quantity;
* rows without a domain (an account's rest beyond the domains its exports listed) are their own line,
  ``unattributed``, never spread over the named domains; so is a period's amount where the usage shows
  nothing at the point(s) taken, or no usage at all (``at`` then says so).

Each period's amount is split in decimal to the currency's smallest unit (cents; none for JPY and KRW)
by largest remainder, so the shares of a period add up to its amount exactly.

>>> import pandas as pd
>>> from usagekit.frames import tidy_frame
>>> usage = tidy_frame({"account": "shop", "task_id": "1", "domain": ["a.example", "b.example"] * 2,
...     "region": "CN", "metric": "bandwidth", "start": ["2026-10-04T16:00Z"] * 2 + ["2026-10-04T16:05Z"] * 2,
...     "end": ["2026-10-04T16:05Z"] * 2 + ["2026-10-04T16:10Z"] * 2, "value": [3e6, 0, 1e6, 5e6], "unit": "bit/s"})
>>> prices = pd.DataFrame({"method": ["day_bandwidth"], "region": ["*"], "tier_from": [0], "tier_to": [None],
...     "unit_price": ["1.00"], "currency": ["CNY"]})
>>> split = allocate_cost(usage, method="day_bandwidth", prices=prices)
>>> [(r.domain, str(r.amount), r.at) for r in split.itertuples()]
[('a.example', '1.00000000', '2026-10-04T16:05:00Z'), ('b.example', '5.00000000', '2026-10-04T16:05:00Z')]
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Context, Decimal
from typing import Any

import numpy as np
import pandas as pd

from usagekit.accounts import Account
from usagekit.errors import ArgumentError, UsagekitWarning
from usagekit.frames import checked_tidy
from usagekit.shares import PERCENTILE_RULES, RULES, method_rule, period_shares

__all__ = [
    "SHOWBACK_COLUMNS",
    "UNATTRIBUTED",
    "UNMAPPED",
    "UnpricedWarning",
    "allocate_cost",
    "largest_remainder",
    "read_mapping",
]

SHOWBACK_COLUMNS = ("account", "method", "period", "domain", "share", "amount", "currency", "rule", "at")
#: the line of an account's usage that no domain carries
UNATTRIBUTED = "unattributed"
#: the team of domains the mapping does not name
UNMAPPED = "unmapped"
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0}
_CONTEXT = Context(prec=60)
_MAINLAND, _OVERSEAS = "CN", "OVERSEAS"


class UnpricedWarning(UsagekitWarning):
    """The price table has no tiers for some method and region: those periods are left out of the split."""


def largest_remainder(amount: Decimal, weights: Sequence[float], places: int = 2) -> list[Decimal]:
    """``amount`` (rounded to ``places``) split in proportion to ``weights``, summing to it exactly.

    Each part is floored to the smallest unit; the units left go one each to the largest remainders (the
    earlier part among equal ones). A negative amount (a refund) is split as its size, then negated. All
    weights zero: nothing can be split (``ValueError``).

    >>> [str(p) for p in largest_remainder(Decimal("10.00"), [1, 1, 1])]
    ['3.34', '3.33', '3.33']
    """
    unit = Decimal(1).scaleb(-places)
    whole = amount.quantize(unit, context=_CONTEXT)
    units = int((abs(whole) / unit).to_integral_value(context=_CONTEXT))
    exact = [Decimal(float(w)) for w in weights]  # exact binary values: no rounding before the split
    if any(w < 0 or not w.is_finite() for w in exact):
        raise ValueError("weights must be finite and >= 0")
    total = sum(exact, Decimal(0))
    if total == 0:
        if units == 0:
            return [Decimal(0).quantize(unit)] * len(exact)
        raise ValueError("all weights are zero: the amount cannot be split")
    raw = [_CONTEXT.divide(_CONTEXT.multiply(units, w), total) for w in exact]
    floors = [int(r.to_integral_value(rounding=ROUND_FLOOR, context=_CONTEXT)) for r in raw]
    left = units - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    sign = -1 if whole < 0 else 1
    return [(sign * n * unit).quantize(unit) for n in floors]


def read_mapping(mapping: Mapping[str, str] | pd.DataFrame | str | os.PathLike[str]) -> dict[str, str]:
    """A ``domain, team`` table (a frame, a CSV file, or a ``{domain: team}`` dict) as ``{domain: team}``.

    Each domain once, each with a team.

    >>> read_mapping(pd.DataFrame({"domain": ["a.example"], "team": ["web"]}))
    {'a.example': 'web'}
    """
    where = None
    if isinstance(mapping, Mapping):
        mapping = pd.DataFrame({"domain": list(mapping), "team": list(mapping.values())})
    if isinstance(mapping, str | os.PathLike):
        where = os.fspath(mapping)
        try:
            mapping = pd.read_csv(where, dtype=str, keep_default_na=False)
        except (OSError, ValueError) as error:
            raise ArgumentError(f"mapping: cannot read {where}: {error}") from None
    if not isinstance(mapping, pd.DataFrame):
        raise ArgumentError(
            f"mapping must be a frame or a CSV path with columns domain, team, not {type(mapping).__name__}"
        )
    name = f"mapping {where}" if where else "mapping"
    lacking = [c for c in ("domain", "team") if c not in mapping.columns]
    if lacking:
        raise ArgumentError(f"{name} lacks the columns {lacking}: it needs domain, team (one row per domain)")
    domains = mapping["domain"].astype(str).str.strip()
    teams = mapping["team"].astype(str).str.strip()
    doubled = sorted(set(domains[domains.duplicated()]))
    if doubled:
        raise ArgumentError(f"{name} names domains more than once: {doubled}; give each domain one team")
    empty = sorted(set(domains[(teams == "") | (domains == "")]))
    if empty or (domains == "").any():
        raise ArgumentError(f"{name} has rows without a domain or a team: {empty}")
    return dict(zip(domains, teams, strict=True))


# --- the amounts ----------------------------------------------------------------------------------------


def _base(method: str) -> tuple[str, bool]:
    if not isinstance(method, str):
        raise ArgumentError(
            f"method must be a BillType name ({', '.join(RULES)} or their _overseas forms), "
            f"not {type(method).__name__}"
        )
    base = method.removesuffix("_overseas")
    if base not in RULES:
        raise ArgumentError(
            f"method {method!r} has no showback rule; choose from {', '.join(RULES)} (or their _overseas forms)"
        )
    return base, method.endswith("_overseas")


def _priced(usage: pd.DataFrame, method: str, prices: Any, unpriced: list[dict[str, str]]) -> pd.DataFrame:
    """Amounts per account, billing region and period from ``prices`` (hour_flow's hours summed per day).

    Periods the table has no tiers for are left out and added to ``unpriced``.
    """
    from usagekit.billing import billing_quantities
    from usagekit.prices import price_periods

    priced = price_periods(billing_quantities(usage, method), prices)
    amounts = pd.DataFrame(
        {
            "account": priced["account"].astype(str),
            "region": priced["region"].astype(object),
            "period": priced["period"]
            .astype(str)
            .str.slice(0, 10 if method.startswith("hour_flow") else None),
            "amount": [Decimal(0) if pd.isna(c) else c for c in priced["cost"]],
            "currency": priced["currency"].astype(object),
        }
    )
    missing = priced["cost"].isna().to_numpy()
    row: Any  # a named tuple of the frame's columns
    for row in amounts[missing].drop_duplicates(["account", "region", "period"]).itertuples():
        unpriced.append(
            {"account": row.account, "method": method, "region": str(row.region), "period": row.period}
        )
    amounts = amounts[~missing]
    keys = ["account", "region", "period", "currency"]
    return amounts.groupby(keys, dropna=False, sort=True)["amount"].agg(_decimal_sum).reset_index()


def _billed(bill: pd.DataFrame, monthly: bool) -> pd.DataFrame:
    """Amounts per account and period from bill lines: ``net`` per Beijing day, or per month for monthly methods."""
    lacking = {"account", "billing_cycle", "billing_date", "net", "currency"} - set(bill.columns)
    if lacking:
        raise ArgumentError(f"bill lacks the columns {sorted(lacking)}: pass usagekit.bill_lines(...)")
    period = bill["billing_cycle"].astype(str) if monthly else bill["billing_date"].astype(object)
    if not monthly and period.isna().any():
        raise ArgumentError(
            "bill holds monthly lines (no billing_date) for a daily method: read it with granularity='daily'"
        )
    lines = pd.DataFrame(
        {
            "account": bill["account"].astype(str),
            "region": None,
            "period": period.astype(str),
            "amount": [Decimal(0) if pd.isna(v) else Decimal(v) for v in bill["net"]],
            "currency": bill["currency"].astype(str),
        }
    )
    keys = ["account", "region", "period", "currency"]
    return lines.groupby(keys, dropna=False, sort=True)["amount"].agg(_decimal_sum).reset_index()


# --- the points ----------------------------------------------------------------------------------------


def _wide(usage: pd.DataFrame, account: str, region: Any, metric: str, overseas: bool) -> pd.DataFrame:
    """One account's points per domain (columns; the domain-less rest as ``unattributed``), one region or all."""
    rows = usage[(usage["account"].astype(str) == account) & (usage["metric"] == metric)]
    if isinstance(region, str):
        regions = rows["region"].astype(object)
        if overseas and region == _OVERSEAS:
            rows = rows[regions.notna() & (regions != _MAINLAND)]
        else:
            rows = rows[regions == region]
    domain = rows["domain"].astype(object).where(rows["domain"].notna(), UNATTRIBUTED)
    wide = rows.assign(domain=domain).pivot_table(
        index="start", columns="domain", values="value", aggfunc="sum", fill_value=0.0, observed=True
    )
    wide.columns = [str(c) for c in wide.columns]
    # pandas-stubs: a key may return any list-like to sort by
    return wide.sort_index(axis=1, key=lambda c: [(n == UNATTRIBUTED, n) for n in c])  # type: ignore[call-overload]


def _places(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def _decimal_sum(values: pd.Series) -> Decimal:
    """The sum of a column of decimals, as a Decimal (0 for none)."""
    return sum(values, Decimal(0))


def _split(amount: Decimal, currency: str, weights: Mapping[str, float], names: list[str]) -> list[Decimal]:
    values = [max(0.0, float(weights.get(n, 0.0))) for n in names]
    if not any(values):  # usage shows nothing at the point: the amount stays with no domain
        values = [1.0 if n == UNATTRIBUTED else 0.0 for n in names]
    return largest_remainder(amount, values, _places(currency))


def _allocate_account(
    usage: pd.DataFrame, amounts: pd.DataFrame, method: str, rule: str
) -> list[dict[str, Any]]:
    base, overseas = _base(method)
    metric = "traffic" if base == "hour_flow" else "bandwidth"
    rows: list[dict[str, Any]] = []
    for (account, region), group in amounts.groupby(["account", "region"], dropna=False, sort=True):
        wide = _wide(usage, str(account), region, metric, overseas)
        by_period = {s.period: s for s in period_shares(wide, base, rule)}
        names = list(wide.columns)
        if UNATTRIBUTED not in names:
            names.append(UNATTRIBUTED)
        where = f"{region}: " if isinstance(region, str) and overseas else ""
        row: Any  # a named tuple of the frame's columns
        for row in group.itertuples(index=False):
            shares = by_period.get(row.period)
            weights = shares.weights if shares is not None else {}
            at = where + (shares.at if shares is not None else "no usage in the period")
            parts = _split(row.amount, row.currency, weights, names)
            for name, part in zip(names, parts, strict=True):
                if name == UNATTRIBUTED and part == 0 and not weights.get(UNATTRIBUTED):
                    continue  # no rest of account: no line for it
                rows.append({"account": account, "method": method, "period": row.period, "domain": name,
                             "amount": part, "currency": row.currency, "rule": method_rule(base, rule), "at": at})  # fmt: skip
    return rows


# --- the frame -----------------------------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]], column: str) -> pd.DataFrame:
    from usagekit.prices import money_array

    frame = pd.DataFrame(
        rows, columns=["account", "method", "period", column, "amount", "currency", "rule", "at"]
    )
    keys = ["account", "method", "period", column]
    if len(frame):
        frame = (
            frame.groupby(keys, sort=False)
            .agg(
                amount=("amount", lambda v: sum(v, Decimal(0))),
                currency=("currency", "first"),
                rule=("rule", "first"),
                at=("at", lambda v: "; ".join(dict.fromkeys(v))),
            )
            .reset_index()
        )
    totals = frame.groupby(["account", "method", "period"], sort=False)["amount"].transform(
        lambda v: sum(v, Decimal(0))
    )
    share = [float(a / t) if t != 0 else 0.0 for a, t in zip(frame["amount"], totals, strict=True)]
    frame.insert(4, "share", np.asarray(share, dtype=np.float64))
    frame["amount"] = money_array(frame["amount"].tolist())
    for name in ("account", "method", column, "currency", "rule"):
        frame[name] = frame[name].astype(object).astype("category")
    for name in ("period", "at"):
        frame[name] = frame[name].astype(pd.StringDtype())
    order = frame[column].astype(str).map(lambda n: (n in (UNATTRIBUTED, UNMAPPED), n))
    frame = frame.assign(_order=order).sort_values(["account", "period", "_order"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def _methods(usage: pd.DataFrame, accounts: list[str], method: str | None, given: Any) -> dict[str, str]:
    """The method of each account: ``method`` when given, else the one in force (``bill_types``)."""
    if method is not None:
        _base(method)
        return dict.fromkeys(accounts, method)
    from usagekit.billtypes import bill_types
    from usagekit.resolve import resolve_accounts

    chosen = [a for a in resolve_accounts(given) if a.name in accounts]
    starts = usage["start"]
    types = bill_types(chosen, starts.min(), starts.max() + pd.Timedelta(minutes=5))
    found = {}
    for account, rows in types.groupby("account", observed=True):
        found[str(account)] = str(rows.sort_values("start")["bill_type"].iloc[-1])
    missing = sorted(set(accounts) - set(found))
    if missing:
        raise ArgumentError(
            f"no billing method known for {missing}: pass method= or accounts= that can be asked"
        )
    return found


def _kept(names: list[str], accounts: object) -> list[str]:
    """The usage's account ``names`` that ``accounts`` (an Account, a name, or a non-empty list of them) keeps."""
    wanted = [accounts] if isinstance(accounts, Account | str) else accounts
    if not isinstance(wanted, Sequence) or isinstance(wanted, bytes | bytearray) or not wanted:
        raise ArgumentError(
            "accounts must be an Account, an account name or a non-empty list of them (None: every account), "
            f"not {accounts!r}"
        )
    if not all(isinstance(a, Account) or (isinstance(a, str) and a) for a in wanted):
        raise ArgumentError(f"accounts must hold Accounts or account names, not {wanted!r}")
    keep = {a.name if isinstance(a, Account) else a for a in wanted}
    if names and not keep & set(names):
        raise ArgumentError(
            f"accounts names {sorted(keep)}, none of which the usage holds ({', '.join(names)})"
        )
    return [n for n in names if n in keep]


def _check_allocation(has_bill: bool, has_prices: bool, rule: str, by: str, has_mapping: bool) -> None:
    """Refuse a bad combination of :func:`allocate_cost`'s options, before anything is read or asked."""
    if has_bill == has_prices:
        raise ArgumentError(
            "allocate_cost needs exactly one source of amounts: bill= (bill lines) or prices= (a price table)"
        )
    if rule not in PERCENTILE_RULES:
        raise ArgumentError(f"rule {rule!r} is not one of {', '.join(PERCENTILE_RULES)}")
    if by not in ("domain", "team"):
        raise ArgumentError(f'by must be "domain" or "team", not {by!r}')
    if by == "team" and not has_mapping:
        raise ArgumentError('by="team" needs mapping= (a frame or CSV of domain, team)')


def allocate_cost(
    usage: pd.DataFrame,
    *,
    method: str | None = None,
    bill: pd.DataFrame | None = None,
    prices: pd.DataFrame | str | os.PathLike[str] | None = None,
    by: str = "domain",
    mapping: Mapping[str, str] | pd.DataFrame | str | os.PathLike[str] | None = None,
    rule: str = "at_billed_point",
    accounts: Account | str | Sequence[Account | str] | None = None,
) -> pd.DataFrame:
    """Each account's billed amount per Beijing period, split among its domains (or teams) by the bill's rule.

    The amounts come from ``bill`` (bill lines, :func:`usagekit.bill_lines`: ``net`` summed per Beijing
    day, or per month for monthly methods; every line given is split) or from ``prices`` (a price table:
    :func:`usagekit.price_periods` of :func:`usagekit.billing_quantities`, per billing region; ``hour_flow``'s
    hours summed per day). The method is ``method=``, else the one in force (:func:`usagekit.bill_types`,
    asked of ``accounts``). ``usage`` is a reconciled tidy frame (:func:`usagekit.usage`) of exports that
    list the domains; rows without a domain are ``unattributed``. ``rule`` (``at_billed_point`` or
    ``top_band``) applies to ``month_95`` and ``month_95_night_half``; the module docs give every rule.
    ``mapping`` (a ``{domain: team}`` dict, or a frame or CSV of ``domain, team``) adds a ``team`` column (``unmapped`` for domains it
    does not name; ``unattributed`` stays itself); ``by="team"`` gives one row per team instead.
    ``accounts`` (names or Accounts) keeps only those accounts.

    ========  ==================  ===========================================================
    column    dtype               meaning
    ========  ==================  ===========================================================
    account   category            the account
    method    category            the ``BillType`` the split follows
    period    string              Beijing ``YYYY-MM-DD`` (daily methods) or ``YYYY-MM``
    domain    category            the domain, or ``unattributed`` (``team`` with ``by="team"``)
    share     float64             the part of the period's amount
    amount    decimal128 (money)  the part in money, to the smallest unit; a period's sum is exact
    currency  category            as billed or priced
    rule      category            ``traffic_share``, ``at_daily_peak``, ``at_billed_point``, ...
    at        string              the point(s) the shares were taken at (UTC; ``REGION:`` prefixed
                                  for ``_overseas`` methods, one per region)
    ========  ==================  ===========================================================
    """
    _check_allocation(bill is not None, prices is not None, rule, by, mapping is not None)
    teams = read_mapping(mapping) if mapping is not None else None
    checked_tidy(usage, "allocate_cost")
    if method is not None:
        _base(method)
    names = sorted(set(usage["account"].astype(str)))
    if accounts is not None:
        names = _kept(names, accounts)
    methods = _methods(usage, names, method, accounts)
    rows: list[dict[str, Any]] = []
    unpriced: list[dict[str, str]] = []
    for account in names:
        mine = usage[usage["account"].astype(str) == account]
        account_method = methods[account]
        monthly = account_method.startswith("month_")
        if bill is not None:
            amounts = _billed(bill[bill["account"].astype(str) == account], monthly)
        else:
            amounts = _priced(mine, account_method, prices, unpriced)
        rows += _allocate_account(mine, amounts, account_method, rule)
    if unpriced:
        named = sorted({f"{u['account']} {u['method']} {u['region']}" for u in unpriced})
        warnings.warn(
            f"prices has no tiers for {', '.join(named)}: those periods ({len(unpriced)}) are left out of the "
            "split (listed in attrs['unpriced']); add their rows to the price table",
            UnpricedWarning,
            stacklevel=2,
        )
    frame = _result(rows, teams, by)
    frame.attrs["unpriced"] = unpriced
    return frame


def _result(rows: list[dict[str, Any]], teams: dict[str, str] | None, by: str) -> pd.DataFrame:
    """The frame of ``rows``: by domain (with a ``team`` column when mapped) or by team."""
    if teams is not None:
        for row in rows:
            row["team"] = (
                row["domain"] if row["domain"] == UNATTRIBUTED else teams.get(row["domain"], UNMAPPED)
            )
    if by == "team":
        for row in rows:
            row["domain"] = row.pop("team")
        return _frame(rows, "domain").rename(columns={"domain": "team"})
    frame = _frame(rows, "domain")
    if teams is not None:
        team = [d if d == UNATTRIBUTED else teams.get(d, UNMAPPED) for d in frame["domain"].astype(str)]
        frame.insert(4, "team", pd.Categorical(team))  # type: ignore[arg-type]  # pandas-stubs: any array
    return frame
