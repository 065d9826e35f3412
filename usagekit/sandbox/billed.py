"""What the sandbox billed: each billing method applied to its own usage, with code of its own.

The sandbox's bill is computed here from the usage the truth holds (:meth:`Truth.usage_over`), never
with ``usagekit.billing``: the two are written apart so each checks the other. The rules are the
service's, as the reference states them ("How the service bills what the exports hold"); where the
service publishes none, these are the sandbox's assumptions:

* ``percentile_rounding="floor"``: the top 5 % of ``n`` points discarded is ``n * 5 // 100`` points
  (8,928 points discard 446); the billed point is the highest left.
* Idle days are not counted: a Beijing day whose points are all zero leaves a month's points, daily
  peaks and daily 95th points, and ``day_bandwidth`` bills no row for it.
* A ``*_overseas`` method bills ``CN`` alone and every other region together, labelled ``OVERSEAS`` in
  frames and ``OverSeas`` on the wire (as the service's ``CdnRegion`` and ``Area`` name it).
* ``hour_count`` bills requests per Beijing hour; the sandbox's requests carry no region, so its rows
  have no region (``CdnRegion`` left out of the reply).
* One charge type per account, :data:`CHARGE_TYPE`; bandwidth in bit/s, traffic in bytes.
* ``bill_drift`` scales the points the billing side sees (an account's, or one Beijing day's), so the
  service bills something other than what the exports carry; the exports never change.
* A period is billed once it has ended in sandbox time: an hour at the next hour, a day at the next
  Beijing midnight, a month at 00:00 Beijing on the 1st of the next month.

The arithmetic of each method lives in :mod:`usagekit.sandbox.billrules`; here are the settings
(``bill_types``, ``bill_drift``) and :class:`Bills`, which reads the usage and keeps what is settled.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from usagekit.sandbox.billrules import (
    BILL_METHODS,
    MAINLAND,
    OVERSEAS,
    POINT,
    Points,
    beijing_month,
    billed_frame,
    check_method,
    cycle_of,
    daily_rows,
    hourly_rows,
    metric_of,
    month_figure,
    monthly_rows,
    period_span,
    unit_of,
)
from usagekit.sandbox.world import BEIJING_OFFSET, DAY, HOUR, World

__all__ = ["Bills", "Drift", "Usage", "apply_bill_types", "parse_drift"]

# --- settings: bill_types and bill_drift ------------------------------------------------------------


def apply_bill_types(world: World, bill_types: Mapping[str, str] | None) -> World:
    """``world`` with the accounts named in ``bill_types`` put on the method given (ValueError if bad).

    >>> from datetime import UTC, datetime
    >>> from usagekit.sandbox.world import WorldParams, build_world
    >>> world = build_world(WorldParams(seed=7, now=datetime(2026, 11, 20, 8, tzinfo=UTC), tasks=0))
    >>> apply_bill_types(world, {"demo-shop": "hour_flow"}).account("demo-shop").bill_type
    'hour_flow'
    """
    if not bill_types:
        return world
    if not isinstance(bill_types, Mapping):
        raise TypeError('bill_types maps account names to BillType codes, e.g. {"demo-shop": "month_95"}')
    names = {spec.name for spec in world.accounts}
    unknown = sorted(set(bill_types) - names)
    if unknown:
        raise ValueError(f"bill_types names accounts the sandbox has not: {unknown}; it has {sorted(names)}")
    for name, method in bill_types.items():
        if method not in BILL_METHODS:
            raise ValueError(
                f"bill_types[{name!r}]: unknown BillType {method!r}; choose from {', '.join(BILL_METHODS)}"
            )
    accounts = tuple(
        dataclasses.replace(spec, bill_type=bill_types[spec.name]) if spec.name in bill_types else spec
        for spec in world.accounts
    )
    return dataclasses.replace(world, accounts=accounts)


Drift = tuple[dict[str, float], dict[tuple[str, int], float]]


def parse_drift(world: World, drift: Mapping[Any, float] | None) -> Drift:
    """``bill_drift`` checked: per account factors and per (account, Beijing day start) factors.

    Keys are an account name or ``(account, "YYYY-MM-DD")``; factors finite numbers >= 0.

    >>> from datetime import UTC, datetime
    >>> from usagekit.sandbox.world import WorldParams, build_world
    >>> world = build_world(WorldParams(seed=7, now=datetime(2026, 11, 20, 8, tzinfo=UTC), tasks=0))
    >>> parse_drift(world, {"demo-media": 1.05, ("demo-shop", "2026-10-12"): 1.5})
    ({'demo-media': 1.05}, {('demo-shop', 1791734400): 1.5})
    """
    accounts: dict[str, float] = {}
    days: dict[tuple[str, int], float] = {}
    if not drift:
        return accounts, days
    if not isinstance(drift, Mapping):
        raise TypeError('bill_drift maps an account, or (account, "YYYY-MM-DD"), to a factor')
    names = {spec.name for spec in world.accounts}
    for key, factor in drift.items():
        name, day = (key, None) if isinstance(key, str) else (*tuple(key), None, None)[:2]
        if name not in names or (not isinstance(key, str) and (len(key) != 2 or not isinstance(day, str))):
            raise ValueError(
                f'bill_drift key {key!r} is not an account name or (account, "YYYY-MM-DD") of {sorted(names)}'
            )
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not math.isfinite(factor)
            or factor < 0
        ):
            raise ValueError(f"bill_drift[{key!r}] must be a finite number >= 0, not {factor!r}")
        if day is None:
            accounts[name] = float(factor)
            continue
        cycle, start, _ = period_span(day)
        if cycle != "day":
            raise ValueError(f'bill_drift key {key!r}: the day is "YYYY-MM-DD" (a Beijing day)')
        days[(name, start)] = float(factor)
    return accounts, days


Usage = Callable[[str, pd.Timestamp, pd.Timestamp, tuple[str, ...]], pd.DataFrame]


class Bills:
    """What the sandbox bills each account: the history of closed periods and the month's prediction.

    ``world`` gives each account's method (``AccountSpec.bill_type``); ``usage(account, start, end,
    types)`` the account's true usage over ``[start, end)`` (``Truth.usage_over``); ``now`` sandbox time
    (epoch seconds); ``drift`` what :func:`parse_drift` returns.
    """

    def __init__(
        self, world: World, usage: Usage, *, now: Callable[[], float], drift: Drift | None = None
    ) -> None:
        self._world = world
        self._usage = usage
        self._now = now
        self._drift: Drift = drift or ({}, {})
        self._cache: OrderedDict[tuple[str, str, int], pd.DataFrame] = OrderedDict()
        self._seen_cache: OrderedDict[
            tuple[str, str, int, int], tuple[np.ndarray, dict[str | None, np.ndarray]]
        ] = OrderedDict()
        self._lock = threading.Lock()

    def method(self, account: str) -> str:
        """The ``BillType`` ``account`` is billed by (KeyError for an unknown account)."""
        return self._world.account(account).bill_type

    # --- points -----------------------------------------------------------------------------------

    def points(self, account: str, method: str, start: int, end: int) -> Points:
        """The points ``method`` bills of ``account`` over ``[start, end)``, drift applied, regions grouped."""
        starts, regions = self._seen(account, metric_of(method), start, end)
        if method.endswith("_overseas"):
            abroad = [values for region, values in regions.items() if region not in (MAINLAND, None)]
            regions = {r: v for r, v in regions.items() if r in (MAINLAND, None)}
            if abroad:
                regions[OVERSEAS] = np.sum(abroad, axis=0)
        return Points(starts, regions)

    def _seen(
        self, account: str, metric: str, start: int, end: int
    ) -> tuple[np.ndarray, dict[str | None, np.ndarray]]:
        """The account's points of ``metric`` per billing region as the billing side sees them (drift applied).

        Kept for a span that has ended, so the methods of one month read the usage once.
        """
        key = (account, metric, start, end)
        with self._lock:
            if key in self._seen_cache:
                self._seen_cache.move_to_end(key)
                return self._seen_cache[key]
        types = ("vas",) if metric == "requests" else ("flow",)
        frame = self._usage(
            account, pd.Timestamp(start, unit="s", tz="UTC"), pd.Timestamp(end, unit="s", tz="UTC"), types
        )
        rows = frame[frame["metric"] == metric]
        seconds = rows["start"].to_numpy(dtype="datetime64[s]").astype(np.int64)
        starts = np.unique(seconds)
        factors = self._factors(account, starts)
        regions: dict[str | None, np.ndarray] = {}
        labels = rows["region"].astype(pd.StringDtype()).fillna("").to_numpy(dtype=object)
        given = rows["value"].to_numpy(np.float64)
        for label in sorted(set(labels.tolist())):
            mine = labels == label
            values = np.zeros(len(starts), np.float64)
            np.add.at(values, np.searchsorted(starts, seconds[mine]), given[mine])
            regions[label or None] = values * factors
        if end <= self._now():
            with self._lock:
                self._seen_cache[key] = (starts, regions)
                while len(self._seen_cache) > 16:
                    self._seen_cache.popitem(last=False)
        return starts, regions

    def _factors(self, account: str, starts: np.ndarray) -> np.ndarray:
        accounts, days = self._drift
        factors = np.full(len(starts), accounts.get(account, 1.0), np.float64)
        day_starts = (starts + BEIJING_OFFSET) // DAY * DAY - BEIJING_OFFSET
        for (name, day), factor in days.items():
            if name == account:
                factors[day_starts == day] *= factor
        return factors

    # --- what was billed ----------------------------------------------------------------------------

    def _month(self, account: str, method: str, month_start: int, now: float) -> pd.DataFrame:
        """Every period of one Beijing month under ``method`` (closed or not), cached once the month is closed."""
        month_end = beijing_month(month_start)[1]
        key = (account, method, month_start)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        points = self.points(account, method, month_start, month_end)
        cycle = cycle_of(method)
        if cycle == "hour":
            rows = hourly_rows(points)
        elif cycle == "day":
            rows = daily_rows(points)
        else:
            rows = monthly_rows(points, method, month_start)
        frame = billed_frame(account, method, rows)
        if month_end <= now:
            with self._lock:
                self._cache[key] = frame
                while len(self._cache) > 64:
                    self._cache.popitem(last=False)
        return frame

    def history(self, account: str, start: int, end: int, method: str | None = None) -> pd.DataFrame:
        """The periods billed (closed by sandbox now) whose start lies in ``[start, end)``, epoch seconds.

        ``method`` defaults to the account's own. Columns :data:`BILLED_COLUMNS` (see :meth:`billed`).
        """
        method = check_method(method or self.method(account))
        now = self._now()
        frames = []
        month = beijing_month(start)[0]
        while month < end and month < now:
            frame = self._month(account, method, month, now)
            starts = frame["period_start"].to_numpy(dtype="datetime64[s]").astype(np.int64)
            ends = frame["period_end"].to_numpy(dtype="datetime64[s]").astype(np.int64)
            frames.append(frame[(starts >= start) & (starts < end) & (ends <= now)])
            month = beijing_month(month)[1]
        if not frames:
            return billed_frame(account, method, [])
        return pd.concat(frames, ignore_index=True)

    def billed(self, account: str, method: str | None, period: str) -> pd.DataFrame:
        """What the sandbox billed ``account`` under ``method`` (None: its own) for the periods in ``period``.

        ``period`` is a Beijing label (``2026-10``, ``2026-10-05``, ``2026-10-05T13``) no finer than the
        method's cycle: ``hour_flow`` over ``2026-10`` gives every hour of October. Only closed periods are
        billed (an empty frame before then).

        ============  ===================  ===============================================================
        column        dtype                meaning
        ============  ===================  ===============================================================
        account       string               the account
        method        string               the ``BillType``
        dimension     string               ``flow`` or ``vas``
        period        string               Beijing label of the billed period
        period_start  datetime64[ns, UTC]  the period's start (``BillTime``)
        period_end    datetime64[ns, UTC]  its end (exclusive)
        region        string               billing region; ``OVERSEAS`` combined; NA for ``hour_count``
        charge_type   string               :data:`CHARGE_TYPE`
        quantity      float64              the billed quantity (drift included)
        unit          string               ``byte``, ``bit/s`` or ``request``
        at            datetime64[ns, UTC]  the billed point's start (95th point, 4th peak's point), else NaT
        ============  ===================  ===============================================================
        """
        method = check_method(method or self.method(account))
        cycle, start, end = period_span(period)
        order = ("hour", "day", "month")
        if order.index(cycle) < order.index(cycle_of(method)):
            raise ValueError(f"{method} bills {cycle_of(method)}s: pass a period no finer, not {period!r}")
        return self.history(account, start, end, method)

    def prediction(self, account: str) -> pd.DataFrame:
        """The current Beijing month's prediction: the month-to-date billed value per area.

        Covers the 1st at 00:00 Beijing to two hours before sandbox now (whole 5-minute points); the
        daily means leave out the current Beijing day. Only monthly methods are predicted (empty
        otherwise, as the service predicts monthly methods only). Columns :data:`PREDICTION_COLUMNS`:
        ``account``, ``method``, ``region`` (string), ``quantity`` (float64), ``unit``, ``at`` (the
        chosen point, NaT where the method has none), ``start`` and ``end`` (the window, UTC).
        """
        method = self.method(account)
        now = self._now()
        start = beijing_month(now)[0]
        end = max(start, int(now - 2 * HOUR) // POINT * POINT)
        rows = []
        if cycle_of(method) == "month":
            base = method.removesuffix("_overseas")
            today = int(now + BEIJING_OFFSET) // DAY * DAY - BEIJING_OFFSET
            points = self.points(account, method, start, end) if end > start else None
            for region, values in points.regions.items() if points else self._regions(account, method):
                quantity, at = (
                    month_figure(points, values, base, whole_days_before=today) if points else (0.0, None)
                )
                rows.append({"region": region, "quantity": quantity, "at": at})
        text = pd.StringDtype()
        frame = pd.DataFrame(rows, columns=["region", "quantity", "at"])
        n = len(frame)
        return pd.DataFrame(
            {
                "account": pd.array([account] * n, dtype=text),
                "method": pd.array([method] * n, dtype=text),
                "region": pd.array(frame["region"].tolist(), dtype=text),
                "quantity": frame["quantity"].to_numpy(np.float64),
                "unit": pd.array([unit_of(method)] * n, dtype=text),
                "at": pd.to_datetime(frame["at"].astype("float64"), unit="s", utc=True).astype(
                    "datetime64[ns, UTC]"
                ),
                "start": pd.Series(
                    [pd.Timestamp(start, unit="s", tz="UTC")] * n, dtype="datetime64[ns, UTC]"
                ),
                "end": pd.Series([pd.Timestamp(end, unit="s", tz="UTC")] * n, dtype="datetime64[ns, UTC]"),
            }
        )

    def prediction_window(self) -> tuple[int, int]:
        """The prediction's ``[start, end)`` as epoch seconds at sandbox now."""
        now = self._now()
        start = beijing_month(now)[0]
        return start, max(start, int(now - 2 * HOUR) // POINT * POINT)

    def _regions(self, account: str, method: str) -> list[tuple[str, np.ndarray]]:
        regions = self._world.account(account).regions
        if method.endswith("_overseas"):
            labels = [r for r in regions if r == MAINLAND] + ([OVERSEAS] if set(regions) - {MAINLAND} else [])
        else:
            labels = sorted(regions)
        return [(label, np.zeros(0)) for label in labels]
