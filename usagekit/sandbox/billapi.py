"""The replies of ``DescribeCdnUserBillHistory`` and ``DescribeCdnUserBillPrediction``, in the reference's shapes.

:class:`~usagekit.sandbox.api.Api` checks the common parameters (times and their error codes, the
31-day range, the year back) and hands over here; the quantities come from
:class:`~usagekit.sandbox.billed.Bills`. The sandbox's choices where the service publishes none:

* History: one ``BillHistoryDataItem`` per closed period whose start (``BillTime``) lies in
  ``[StartTime, EndTime)`` (an ``EndTime`` at second 59 counts as the second after), oldest first; per
  billing region one ``BillingDataItem`` with ``Flow`` (bytes), ``Bandwidth`` (bit/s) and ``Count``
  (requests): the method's own figure, the other two 0.0. ``CdnRegion`` is the region code, ``OverSeas``
  for the combined region of an ``*_overseas`` method, and left out for ``hour_count`` (no region).
* Prediction: ``StartTime`` and ``EndTime`` are optional and, when given, only checked (well formed,
  in order); the window is always the current Beijing month from the 1st at 00:00 to two hours before
  now. ``Dimension`` ``flow`` (default) or ``vas``; ``Area`` a comma-separated list of ``CN``,
  ``OverSeas``, ``AP1``, ``AP2``, ``AP3``, ``NA``, ``SA``, ``EU``, ``MEAA`` (any case; default: every
  area the account is billed in). ``TimeStp`` (``yyyy-MM-ddTHH:mm:ssZ``) only where the method has a
  chosen point (95th point, 4th peak). A method that is not monthly gives no items.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from usagekit.sandbox.billed import Bills
from usagekit.sandbox.billrules import OVERSEAS, dimension_of
from usagekit.sandbox.clock import format_time
from usagekit.sandbox.verify import Rejection

__all__ = ["AREAS", "history_reply", "prediction_reply"]

#: the ``Area`` values the service documents (``OverSeas``: every region outside the mainland together)
AREAS = ("CN", "OverSeas", "AP1", "AP2", "AP3", "NA", "SA", "EU", "MEAA")
_FIELD = {"bit/s": "Bandwidth", "byte": "Flow", "request": "Count"}


def wire_region(region: Any) -> str | None:
    """The ``CdnRegion`` / ``Area`` of a frame's region label (None for no region).

    >>> wire_region("OVERSEAS"), wire_region("AP1"), wire_region(pd.NA)
    ('OverSeas', 'AP1', None)
    """
    if region is None or region is pd.NA:
        return None
    return "OverSeas" if region == OVERSEAS else str(region)


def history_reply(bills: Bills, account: str, start: int, end: int) -> dict[str, Any]:
    """The body of ``DescribeCdnUserBillHistory`` (without ``RequestId``) for periods starting in ``[start, end)``."""
    frame = bills.history(account, start, end)
    seconds = frame["period_start"].to_numpy(dtype="datetime64[s]").astype("int64").tolist()
    columns = (frame[name].tolist() for name in ("method", "region", "charge_type", "quantity", "unit"))
    items: dict[int, dict[str, Any]] = {}
    for moment, method, region, charge_type, quantity, unit in zip(seconds, *columns, strict=True):
        item = items.get(moment)
        if item is None:
            item = items[moment] = {
                "BillTime": format_time(moment),
                "BillType": method,
                "Dimension": dimension_of(method),
                "BillingData": {"BillingDataItem": []},
            }
        entry: dict[str, Any] = {}
        code = wire_region(region)
        if code is not None:
            entry["CdnRegion"] = code
        entry.update(ChargeType=charge_type, Flow=0.0, Bandwidth=0.0, Count=0.0)
        entry[_FIELD[unit]] = float(quantity)
        item["BillingData"]["BillingDataItem"].append(entry)
    return {"BillHistoryData": {"BillHistoryDataItem": [items[k] for k in sorted(items)]}}


def _areas(params: dict[str, str]) -> set[str] | None:
    text = params.get("Area")
    if text is None or not text.strip():
        return None
    known = {a.lower(): a for a in AREAS}
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part.lower() not in known]
    if unknown:
        raise Rejection(
            "InvalidParameter", 400, f"Area {unknown} is not a billing area; use {', '.join(AREAS)}."
        )
    return {known[part.lower()] for part in chosen} or None  # "," alone: every area, as none given


def prediction_reply(bills: Bills, account: str, params: dict[str, str]) -> dict[str, Any]:
    """The body of ``DescribeCdnUserBillPrediction`` (without ``RequestId``)."""
    dimension = (params.get("Dimension") or "flow").strip()
    if dimension not in ("flow", "vas"):
        raise Rejection("InvalidParameter", 400, f"Dimension must be flow or vas, not {dimension!r}.")
    areas = _areas(params)
    method = bills.method(account)
    start, end = bills.prediction_window()
    frame = bills.prediction(account)
    items = []
    if dimension == dimension_of(method):
        for row in frame.itertuples(index=False):
            area = wire_region(row.region)
            if areas is not None and area not in areas:
                continue
            quantity: Any = row.quantity
            at: Any = row.at
            item: dict[str, Any] = {"Area": area, "Value": float(quantity)}
            if not pd.isna(at):
                item["TimeStp"] = format_time(int(at.timestamp()))
            items.append(item)
    return {
        "BillType": method,
        "StartTime": format_time(start),
        "EndTime": format_time(end),
        "BillPredictionData": {"BillPredictionDataItem": items},
    }
