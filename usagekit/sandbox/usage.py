"""The sandbox's usage numbers: whole 5-minute billing points, a pure function of who, where and when.

The value of one point is a pure function of (seed, account, domain, region, point time), generated
vectorised with numpy, so overlapping exports agree exactly and a month of forty domains takes a few
milliseconds. Traffic is a multiple of 75 bytes, so bandwidth (traffic * 8 / 300 bit/s) is whole too;
requests are whole. The shape has a daily cycle (Beijing time, peaking in the evening), a weekly one,
growth over the year, noise and the odd spike; idle domains are all zeros.

>>> import numpy as np
>>> from usagekit.sandbox.world import DomainSpec
>>> starts = np.arange(1_790_000_100, 1_790_000_100 + 3 * 300, 300) // 300 * 300
>>> traffic = point_values(7, "demo-shop", DomainSpec("img.shop-demo.example"), "CN", "traffic", starts)
>>> bool((traffic % 75 == 0).all()), traffic.dtype.name
(True, 'int64')
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from usagekit.frames import METRIC_UNITS, METRICS, UNITS, tidy_frame
from usagekit.sandbox.spikes import spike_factors
from usagekit.sandbox.world import BEIJING_OFFSET, DAY, AccountSpec, DomainSpec, Task, stable_rng

__all__ = [
    "POINT",
    "account_totals",
    "blocks_frame",
    "detail_usage",
    "flow_blocks",
    "point_starts",
    "point_values",
    "vas_blocks",
]

POINT = 300  # seconds in a billing point
_TRAFFIC_QUANTUM = 75  # bytes: 75 * 8 / 300 = 2 bit/s, so bandwidth stays whole
_YEAR = 365 * DAY
_GROWTH_ORIGIN = 1_767_225_600  # 2026-01-01T00:00:00Z


def point_starts(start: int, end_exclusive: int) -> np.ndarray:
    """Epoch seconds of the 5-minute points from ``start`` (floored to a point) up to ``end_exclusive``.

    >>> point_starts(600, 1500).tolist()
    [600, 900, 1200]
    """
    first = start // POINT * POINT
    return np.arange(first, max(first, end_exclusive), POINT, dtype=np.int64)


@lru_cache(maxsize=4096)
def _profile(seed: int, account: str, domain: str) -> tuple[float, float, float, float, float]:
    rng = stable_rng(seed, account, domain, "profile")
    traffic_units = math.exp(rng.uniform(math.log(3e4), math.log(2e7)))  # in units of 75 bytes per point
    requests = math.exp(rng.uniform(math.log(30), math.log(3e4)))
    growth = rng.uniform(-0.1, 0.8)  # per year
    weekend = rng.uniform(0.75, 1.35)
    peak = rng.uniform(19.0, 23.0) / 24  # Beijing hour of the daily peak, as a day fraction
    return traffic_units, requests, growth, weekend, peak


@lru_cache(maxsize=4096)
def _region_share(seed: int, account: str, domain: str, regions: tuple[str, ...], region: str) -> float:
    if len(regions) == 1:
        return 1.0
    rng = stable_rng(seed, account, domain, "regions")
    weights = [rng.uniform(0.2, 1.0) * (3.0 if r == "CN" else 1.0) for r in regions]
    return weights[regions.index(region)] / sum(weights)


def _key(*parts: object) -> np.uint64:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def _uniform(key: np.uint64, points: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of (key, point index, salt) mapped to [0, 1): pure, vectorised."""
    with np.errstate(over="ignore"):
        x = (
            points.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            + key
            + np.uint64((salt * 0x632BE59BD9B4E019) % 2**64)
        )
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def point_values(
    seed: int,
    account: str,
    domain: DomainSpec,
    region: str | None,
    metric: str,
    starts: np.ndarray,
    *,
    regions: tuple[str, ...] = ("CN",),
) -> np.ndarray:
    """Whole values of ``metric`` (``traffic`` in bytes or ``requests``) at the points ``starts``.

    ``region`` is the billing region for traffic (its share of the domain's traffic) and ``None`` for
    requests. Bandwidth is ``traffic * 8 // 300``. Returns int64.
    """
    if domain.idle or len(starts) == 0:
        return np.zeros(len(starts), dtype=np.int64)
    traffic_units, requests, growth, weekend, peak = _profile(seed, account, domain.name)
    points = starts // POINT
    local = starts + BEIJING_OFFSET
    day_fraction = (local % DAY) / DAY
    daily = 0.2 + 0.8 * (0.5 + 0.5 * np.cos(2 * np.pi * (day_fraction - peak)))
    weekday = (local // DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    weekly = np.where(weekday >= 5, weekend, 1.0)
    trend = np.exp(growth * (starts - _GROWTH_ORIGIN) / _YEAR)
    key = _key(seed, account, domain.name, region, metric)
    noise = 0.85 + 0.3 * _uniform(key, points, 1)
    spike = np.where(_uniform(key, points, 2) < 0.004, 2.0 + 4.0 * _uniform(key, points, 3), 1.0)
    shape = daily * weekly * trend * noise * spike
    planted = spike_factors(domain, starts)  # Sandbox(spikes=...): real traffic, so before flooring
    if planted is not None:
        shape = shape * planted
    if metric == "traffic":
        share = _region_share(seed, account, domain.name, regions, region or regions[0])
        return np.floor(traffic_units * share * shape).astype(np.int64) * _TRAFFIC_QUANTUM
    if metric == "requests":
        return np.floor(requests * shape).astype(np.int64)
    raise ValueError(f"metric must be 'traffic' or 'requests', not {metric!r}")


def blocks_frame(
    account: str,
    task_id: str,
    blocks: list[tuple[str | None, str | None, str, np.ndarray]],
    starts: np.ndarray,
) -> pd.DataFrame:
    """A tidy frame from (domain, region, metric, values) blocks over the same ``starts``."""
    n, total = len(starts), len(starts) * len(blocks)
    domains = sorted({b[0] for b in blocks if b[0] is not None})
    regions = sorted({b[1] for b in blocks if b[1] is not None})

    def categorical(labels: Sequence[str | None], categories: list[str]) -> pd.Categorical[Any]:
        codes = np.repeat([categories.index(x) if x is not None else -1 for x in labels], n).astype(np.int32)
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))

    metrics = [b[2] for b in blocks]
    start_ns = np.tile(starts * 1_000_000_000, len(blocks)).astype(np.int64)
    start = pd.DatetimeIndex(start_ns.view("datetime64[ns]")).tz_localize("UTC")
    return tidy_frame(
        pd.DataFrame(
            {
                "account": categorical([account] * len(blocks), [account]),
                "task_id": pd.array([task_id], dtype=pd.StringDtype()).take(np.zeros(total, dtype=np.intp)),
                "domain": categorical([b[0] for b in blocks], domains),
                "region": categorical([b[1] for b in blocks], regions),
                "metric": categorical(metrics, list(METRICS)),
                "start": start,
                "end": start + pd.Timedelta(seconds=POINT),
                "value": np.concatenate([b[3] for b in blocks]).astype(np.float64) if blocks else np.zeros(0),
                "unit": categorical([METRIC_UNITS[m] for m in metrics], list(UNITS)),
            }
        )
    )


def flow_blocks(
    seed: int, spec: AccountSpec, domains: list[DomainSpec], starts: np.ndarray, by_account: bool
) -> list[tuple[str | None, str | None, str, np.ndarray]]:
    """Traffic and bandwidth blocks per region and domain (one per region with ``by_account``)."""
    blocks: list[tuple[str | None, str | None, str, np.ndarray]] = []
    for region in sorted(spec.regions):
        per_domain = [
            (d, point_values(seed, spec.name, d, region, "traffic", starts, regions=spec.regions))
            for d in domains
        ]
        if by_account:
            total = (
                np.sum([v for _, v in per_domain], axis=0) if per_domain else np.zeros(len(starts), np.int64)
            )
            per_domain = [(None, total)]  # type: ignore[list-item]
        for domain, traffic in per_domain:
            name = domain.name if domain is not None else None
            blocks.append((name, region, "traffic", traffic))
            blocks.append((name, region, "bandwidth", traffic * 8 // POINT))
    return blocks


def vas_blocks(
    seed: int, spec: AccountSpec, domains: list[DomainSpec], starts: np.ndarray, by_account: bool
) -> list[tuple[str | None, str | None, str, np.ndarray]]:
    """Request-count blocks per domain (one for the account with ``by_account``)."""
    values = [(d.name, point_values(seed, spec.name, d, None, "requests", starts)) for d in domains]
    if by_account:
        total = np.sum([v for _, v in values], axis=0) if values else np.zeros(len(starts), np.int64)
        return [(None, None, "requests", total)]
    return [(name, None, "requests", v) for name, v in values]


def detail_usage(seed: int, spec: AccountSpec, task: Task) -> pd.DataFrame:
    """The tidy frame behind detail export ``task``: what its workbook holds, row for row.

    Columns (``usagekit.frames.tidy_frame``): ``account``, ``task_id``, ``domain`` (NA for an export by
    account: then the rows are the account's totals), ``region`` (billing region for flow, NA for
    vas), ``metric`` (``traffic`` and ``bandwidth`` for flow, ``requests`` for vas), ``start``, ``end``
    (the 5-minute point, UTC, end exclusive), ``value`` (float64 of a whole number), ``unit``.
    Points start at the window start (floored to 5 minutes) and stop before the exclusive window end
    and before the task's creation (no data from the future).
    """
    end = task.window_end + 1 if task.window_end % 60 == 59 else task.window_end
    starts = point_starts(task.window_start, min(end, task.created // POINT * POINT))
    by_account = task.domains != "some"
    chosen = [d for d in spec.domains if by_account or d.name in task.domain_names]
    make = flow_blocks if task.type == "flow" else vas_blocks
    blocks = sorted(make(seed, spec, chosen, starts, by_account), key=lambda b: (b[0] or "", b[1] or ""))
    return blocks_frame(spec.name, task.task_id, blocks, starts)


def account_totals(
    seed: int, spec: AccountSpec, start: int, end_exclusive: int, task_id: str
) -> pd.DataFrame:
    """The account's totals (domain NA) of every metric over a window, as one tidy frame.

    What a summary export summarises: traffic and bandwidth per billing region, and requests.
    """
    starts = point_starts(start, end_exclusive)
    blocks = flow_blocks(seed, spec, list(spec.domains), starts, True)
    blocks += vas_blocks(seed, spec, list(spec.domains), starts, True)
    return blocks_frame(spec.name, task_id, blocks, starts)
