"""What the service says it billed, and what it predicts for the current month, as typed frames.

``DescribeCdnUserBillHistory`` gives one item per billed period (its start in ``BillTime``, UTC), the
method in force (``BillType``) and, per billing region and charge type, the billed quantity: ``Flow``
(bytes) for traffic methods, ``Bandwidth`` for bandwidth methods (the reference's English page says
bit/s, the Chinese one "Bps": bit/s is our working assumption), ``Count`` for requests. One call covers at
most a month (31 days), so :func:`bill_history` asks one Beijing month at a time.
``DescribeCdnUserBillPrediction`` predicts the current Beijing month's billed quantity (monthly methods).

The reply readers are plain functions of a decoded reply, so they can be checked on replies written by hand:

>>> reply = {"BillHistoryData": {"BillHistoryDataItem": [{"BillTime": "2026-10-04T16:00:00Z",
...     "BillType": "day_bandwidth", "Dimension": "flow", "BillingData": {"BillingDataItem": [
...     {"CdnRegion": "CN", "ChargeType": "StaticHttp", "Bandwidth": 7000000.0, "Flow": 0, "Count": 0}]}}]}}
>>> row = history_frame(history_rows(reply, "shop")).iloc[0]
>>> row.period, row.region, float(row.quantity), row.unit
('2026-10-05', 'CN', 7000000.0, 'bit/s')
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from usagekit.accounts import Account
from usagekit.billing import METHODS
from usagekit.billtypes import month_windows
from usagekit.errors import ArgumentError, ResponseError, UsagekitWarning
from usagekit.pool import lease
from usagekit.resolve import resolve_accounts
from usagekit.times import moment

__all__ = [
    "HISTORY_ACTION",
    "HISTORY_COLUMNS",
    "PREDICTION_ACTION",
    "PREDICTION_COLUMNS",
    "UNITS",
    "UnknownBillTypeWarning",
    "bill_history",
    "bill_prediction",
    "cycle_of",
    "history_frame",
    "history_rows",
    "prediction_frame",
    "prediction_rows",
    "resolve_accounts",
    "service_now",
    "warn_unknown_methods",
]

HISTORY_ACTION = "DescribeCdnUserBillHistory"
PREDICTION_ACTION = "DescribeCdnUserBillPrediction"
HISTORY_COLUMNS = (
    "account",
    "method",
    "dimension",
    "period",
    "period_start",
    "period_end",
    "region",
    "charge_type",
    "quantity",
    "unit",
)
PREDICTION_COLUMNS = ("account", "method", "region", "quantity", "unit", "at", "start", "end")
#: the units of :func:`usagekit.billing_quantities`
UNITS = ("byte", "bit/s", "request")
OVERSEAS = "OVERSEAS"
_BEIJING = pd.Timedelta(hours=8)
_API_TIME = "%Y-%m-%dT%H:%M:%SZ"
#: request methods the service names besides those :mod:`usagekit.billing` computes
_REQUEST_METHODS = frozenset({"hour_count", "hour_vas", "quic_hour_count"})
KNOWN_METHODS = frozenset(METHODS) | _REQUEST_METHODS
_LABELS = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m"}


class UnknownBillTypeWarning(UsagekitWarning):
    """The service named a ``BillType`` usagekit does not know: its rows are kept, their period guessed."""


def service_now(accounts: Sequence[Account], now: datetime | str | None = None) -> pd.Timestamp:
    """``now`` as a moment; ``None`` is the service's time: the ``Date`` of the latest reply any of
    ``accounts``' shared clients has had (a sandbox sends its own time there, frozen or not), else the
    real clock. Call it after a request when ``now`` is ``None``.

    >>> service_now([], "2026-11-20T08:00:00+08:00")
    Timestamp('2026-11-20 00:00:00+0000', tz='UTC')
    """
    if now is not None:
        return moment(now, "now")
    seen = []
    for account in accounts:
        with lease(account) as client:
            stamp = getattr(client, "service_time", None)
        if stamp is not None:
            seen.append(pd.Timestamp(stamp).tz_convert("UTC"))
    return max(seen) if seen else pd.Timestamp.now(tz="UTC")


def cycle_of(method: str) -> str | None:
    """The billing period of ``method``: ``hour``, ``day``, ``month``, or ``None`` when unknown.

    >>> cycle_of("month_95_overseas"), cycle_of("hour_count"), cycle_of("day_bandwidth"), cycle_of("x")
    ('month', 'hour', 'day', None)
    """
    if method.startswith("month_"):
        return "month"
    if method.startswith("day_"):
        return "day"
    if method.startswith(("hour_", "quic_hour")):
        return "hour"
    return None


def _quantity(method: str, dimension: Any, entry: Mapping[str, Any]) -> tuple[float, str]:
    """The billed quantity of one ``BillingDataItem`` and its unit, as the method says to read it."""

    def number(key: str) -> float:
        value = entry.get(key)
        return float("nan") if value is None or value == "" else float(value)

    if method in _REQUEST_METHODS or (method not in KNOWN_METHODS and dimension == "vas"):
        return number("Count"), "request"
    if method.removesuffix("_overseas") == "hour_flow":
        return number("Flow"), "byte"
    if method in KNOWN_METHODS or np.nan_to_num(number("Bandwidth")) != 0:
        return number("Bandwidth"), "bit/s"
    flow = number("Flow")
    return (flow, "byte") if np.nan_to_num(flow) != 0 else (number("Count"), "request")


def _listed(data: Any, inner: str, what: str, refuse: Any) -> list[Any]:
    """The list under ``data[inner]``, where an empty container, one object or a list may come."""
    if data is None or data == {} or data == [] or data == "":
        return []
    if not isinstance(data, Mapping):
        raise refuse(f"{what} is {type(data).__name__}, not an object")
    items = data.get(inner) or []
    if isinstance(items, Mapping):  # one item may come as an object rather than a list of one
        items = [items]
    if not isinstance(items, list):
        raise refuse(f"{inner} is {type(items).__name__}, not a list")
    return items


def _utc(value: Any, what: str, refuse: Any) -> pd.Timestamp:
    try:
        moment = pd.Timestamp(value)
        if pd.isna(moment) or moment.tzinfo is None:
            raise ValueError(value)
    except (TypeError, ValueError):
        raise refuse(f"{what} is not an ISO 8601 UTC time: {value!r}") from None
    return moment.tz_convert("UTC")


def history_rows(reply: Mapping[str, Any], account: str) -> list[dict[str, Any]]:
    """One dict per billed period, region and charge type of a ``DescribeCdnUserBillHistory`` reply."""

    def refuse(what: str) -> ResponseError:
        return ResponseError(
            f"{HISTORY_ACTION} for account {account!r}: {what}", action=HISTORY_ACTION, account=account
        )

    rows = []
    for item in _listed(reply.get("BillHistoryData"), "BillHistoryDataItem", "BillHistoryData", refuse):
        if not isinstance(item, Mapping) or not item.get("BillType"):
            raise refuse(f"an item carries no BillType: {item!r}")
        method, dimension = str(item["BillType"]), item.get("Dimension")
        start = _utc(item.get("BillTime"), "an item's BillTime", refuse)
        cycle = cycle_of(method)
        local = (start + _BEIJING).tz_localize(None)
        end = {"hour": start + pd.Timedelta(hours=1), "day": start + pd.Timedelta(days=1)}.get(cycle or "")
        if cycle == "month":
            end = (local.to_period("M") + 1).start_time.tz_localize("UTC") - _BEIJING
        label = local.strftime(_LABELS.get(cycle or "", "%Y-%m-%dT%H:%M"))
        for entry in _listed(item.get("BillingData"), "BillingDataItem", "BillingData", refuse):
            if not isinstance(entry, Mapping):
                raise refuse(f"a BillingDataItem is {type(entry).__name__}, not an object")
            try:
                quantity, unit = _quantity(method, dimension, entry)
            except (TypeError, ValueError):
                raise refuse(
                    f"a BillingDataItem holds a quantity that is not a number: {dict(entry)!r}"
                ) from None
            region = entry.get("CdnRegion") or None
            if region is not None and str(region).lower() == "overseas":
                region = OVERSEAS
            rows.append(
                {
                    "account": account,
                    "method": method,
                    "dimension": dimension,
                    "period": label,
                    "period_start": start,
                    "period_end": end,
                    "region": region,
                    "charge_type": entry.get("ChargeType") or None,
                    "quantity": quantity,
                    "unit": unit,
                }
            )
    return rows


def warn_unknown_methods(methods: Any) -> None:
    unknown = sorted({str(m) for m in methods} - KNOWN_METHODS)
    if unknown:
        warnings.warn(
            f"the service billed under BillType {', '.join(unknown)}, which usagekit does not know: "
            "those rows are kept, their quantity read from the field that holds one and their period "
            "guessed from the name (period_end NaT where it cannot be)",
            UnknownBillTypeWarning,
            stacklevel=3,
        )


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """:data:`HISTORY_COLUMNS` with their dtypes, from :func:`history_rows`; one row per key, sorted."""
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    keys = ["account", "method", "period_start", "region", "charge_type"]
    frame = frame.drop_duplicates(keys, keep="last")  # months asked apart never repeat, but be sure
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    frame["period"] = frame["period"].astype(pd.StringDtype())
    frame["quantity"] = frame["quantity"].astype(np.float64)
    frame["unit"] = pd.Categorical(frame["unit"], categories=list(UNITS))
    for column in ("account", "method", "dimension", "region", "charge_type"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None).astype("category")
    return frame.sort_values(["account", "period_start", "region", "charge_type"], ignore_index=True)


def bill_history(
    accounts: Account | Sequence[Account] | None = None,
    *,
    start: datetime | str,
    end: datetime | str,
) -> pd.DataFrame:
    """What the service billed over ``[start, end)``, per account, period, region and charge type.

    ``accounts=None`` is every discovered account. ``start`` and ``end`` are moments (end exclusive);
    the range is asked one Beijing month at a time (one call covers at most 31 days) through each
    account's shared, rate-limited client. A ``BillType`` usagekit does not know is kept, with an
    :class:`UnknownBillTypeWarning` naming it.

    ============  ===================  ==========================================================
    column        dtype                meaning
    ============  ===================  ==========================================================
    account       category             the account's name
    method        category             the reply's ``BillType``
    dimension     category             the reply's ``Dimension`` (``flow``, ``vas``)
    period        string               Beijing label: ``2026-10``, ``2026-10-05``, ``2026-10-05T13``
    period_start  datetime64[ns, UTC]  the period's start (``BillTime``)
    period_end    datetime64[ns, UTC]  its end (exclusive; NaT for an unknown method's period)
    region        category             ``CdnRegion``; the combined overseas region is ``OVERSEAS``
    charge_type   category             ``ChargeType`` (``StaticHttp``, ...)
    quantity      float64              the billed quantity, in ``unit``
    unit          category             ``byte`` (Flow), ``bit/s`` (Bandwidth), ``request`` (Count)
    ============  ===================  ==========================================================

    >>> bill_history([], start="2026-10-01", end="2026-11-01")
    Traceback (most recent call last):
    ...
    usagekit.errors.ArgumentError: accounts is an empty sequence: give an Account, a profile name, a sequence of them, or None for every discovered account
    """
    lower, upper = moment(start, "start"), moment(end, "end")
    if lower >= upper:
        raise ArgumentError(f"bill_history needs start before end, got start {lower} and end {upper}")
    chosen = resolve_accounts(accounts)
    rows: list[dict[str, Any]] = []
    for account in chosen:
        with lease(account) as client:
            for first, last in month_windows(lower, upper):
                reply = client.call(
                    HISTORY_ACTION, StartTime=first.strftime(_API_TIME), EndTime=last.strftime(_API_TIME)
                )
                rows.extend(history_rows(reply, account.name))
    warn_unknown_methods(row["method"] for row in rows)
    return history_frame(rows)


def prediction_rows(reply: Mapping[str, Any], account: str) -> list[dict[str, Any]]:
    """One dict per area of a ``DescribeCdnUserBillPrediction`` reply."""

    def refuse(what: str) -> ResponseError:
        return ResponseError(
            f"{PREDICTION_ACTION} for account {account!r}: {what}", action=PREDICTION_ACTION, account=account
        )

    method = reply.get("BillType")
    if not method:
        raise refuse("the reply carries no BillType")
    start = _utc(reply.get("StartTime"), "StartTime", refuse)
    end = _utc(reply.get("EndTime"), "EndTime", refuse)
    data = reply.get("BillPredictionData")
    rows = []
    for item in _listed(data, "BillPredictionDataItem", "BillPredictionData", refuse):
        if not isinstance(item, Mapping):
            raise refuse(f"a BillPredictionDataItem is {type(item).__name__}, not an object")
        area = item.get("Area") or None
        if area is not None and str(area).lower() == "overseas":
            area = OVERSEAS
        stamp = item.get("TimeStp")
        try:
            value = float(item.get("Value"))  # type: ignore[arg-type]  # None: the TypeError below
        except (TypeError, ValueError):
            raise refuse(f"an item's Value is not a number: {dict(item)!r}") from None
        rows.append(
            {
                "account": account,
                "method": str(method),
                "region": area,
                "quantity": value,
                "unit": "bit/s",
                "at": _utc(stamp, "an item's TimeStp", refuse) if stamp else pd.NaT,
                "start": start,
                "end": end,
            }
        )
    return rows


def prediction_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """:data:`PREDICTION_COLUMNS` with their dtypes, from :func:`prediction_rows`."""
    frame = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
    for column in ("at", "start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    frame["quantity"] = frame["quantity"].astype(np.float64)
    frame["unit"] = pd.Categorical(frame["unit"], categories=list(UNITS))
    for column in ("account", "method", "region"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None).astype("category")
    return frame.sort_values(["account", "region"], ignore_index=True)


def bill_prediction(
    accounts: Account | Sequence[Account] | None = None, *, now: datetime | str | None = None
) -> pd.DataFrame:
    """The service's prediction of the current Beijing month's billed quantity, per account and area.

    The month-to-date billable value (monthly methods only), from the 1st at 00:00 Beijing to about
    two hours before ``now``, with the method in force on the 1st. ``now=None`` leaves the window to the
    service (its own current month and time); a moment asks for its Beijing month up to that moment.

    ========  ===================  ================================================================
    column    dtype                meaning
    ========  ===================  ================================================================
    account   category             the account's name
    method    category             the reply's ``BillType``
    region    category             the reply's ``Area`` (``CN``, ...; ``OverSeas`` as ``OVERSEAS``)
    quantity  float64              the predicted billed quantity (``Value``)
    unit      category             ``bit/s``
    at        datetime64[ns, UTC]  ``TimeStp``: when the chosen point occurred (NaT where none)
    start     datetime64[ns, UTC]  the reply's ``StartTime``
    end       datetime64[ns, UTC]  the reply's ``EndTime``
    ========  ===================  ================================================================

    >>> bill_prediction([], now="2026-11-20T08:00:00Z")
    Traceback (most recent call last):
    ...
    usagekit.errors.ArgumentError: accounts is an empty sequence: give an Account, a profile name, a sequence of them, or None for every discovered account
    """
    params: dict[str, str] = {"Dimension": "flow"}
    if now is not None:
        at = moment(now, "now")
        local = (at + _BEIJING).tz_localize(None)
        first = local.to_period("M").start_time.tz_localize("UTC") - _BEIJING
        params.update(StartTime=first.strftime(_API_TIME), EndTime=at.strftime(_API_TIME))
    chosen = resolve_accounts(accounts)
    rows: list[dict[str, Any]] = []
    for account in chosen:
        with lease(account) as client:
            rows.extend(prediction_rows(client.call(PREDICTION_ACTION, **params), account.name))
    warn_unknown_methods(row["method"] for row in rows)
    return prediction_frame(rows)
