"""Fault injection: which request meets which fault, decided from the seed and the request's identity.

A decision is a pure function of (seed, identity, how many times that identity was seen before): the
identity is the account, the action and the API parameters (never the signature, nonce or timestamp),
or for a download the file's path (never the URL's expiry or signature). A client run twice with the
same seed therefore meets the same faults however its threads interleave. The per-account rate limiter
depends on timing by nature and is the one exception.

Outcomes: ``throttle`` (503 ``Throttling.User`` with ``x-acs-retry-after`` in milliseconds),
``unavailable`` (503 ``ServiceUnavailable``), ``error500`` (500 ``InternalError``): the action does not
run. ``drop`` (the connection closes without a reply) and ``truncate`` (full ``Content-Length``, part of
the body, then close): the action ran and its reply was lost, so a ``Create*`` may have run.

>>> faults = Faults(throttle=0.2, drop=0.1)
>>> decisions = [decide(faults, 7, ("demo-shop", "Describe", (("PageNumber", str(n)),)), 0) for n in range(1000)]
>>> sum(d.fault == "throttle" for d in decisions), sum(d.fault == "drop" for d in decisions)
(189, 104)
>>> decide(faults, 7, ("a", "b", ()), 3) == decide(faults, 7, ("a", "b", ()), 3)
True
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

__all__ = ["FAILED_EXPORTS", "FAULT_KINDS", "Decision", "Faults", "RateLimiter", "decide", "export_fails"]

#: the default share of exports created in the sandbox that end ``failed``, as the service's sometimes do
FAILED_EXPORTS = 0.1
#: the fault outcomes, in the order their rates are stacked
FAULT_KINDS = ("throttle", "unavailable", "error500", "drop", "truncate")
ODD_SHAPES = frozenset(
    {
        "single_item",
        "numeric_task_id",
        "string_total_count",
        "missing_task_config",
        "missing_download_url",
        "empty_data",
    }
)


@dataclass(frozen=True)
class Faults:
    """What can go wrong, and how often (rates are per request, in [0, 1], summing to at most 1).

    ``latency`` + uniform(0, ``jitter``) seconds delay every request (decided like the faults).
    ``rate_limit`` is calls per second per account (token bucket, ``None`` disables). ``fail_pages``
    are page numbers the Describe actions always answer with 503 ``ServiceUnavailable`` (for
    ``fail_account`` only, or every account when it is ``None``). ``insert_task_after_page=N``: the first
    time page N of a listing is served for an account and kind, a task is created there (later pages
    shift by one). ``odd_shapes`` bends the listing JSON: ``single_item``, ``numeric_task_id``,
    ``string_total_count``, ``missing_task_config``, ``missing_download_url``, ``empty_data``.
    ``failed_exports`` is the share of exports created in the sandbox that end ``failed`` instead of
    ``success`` (decided from the seed and the task id, see :func:`export_fails`; 0 turns it off).

    >>> Faults(throttle=0.05, fail_pages=(2,))
    Faults(throttle=0.05, fail_pages=(2,))
    >>> Faults(failed_exports=0.0)
    Faults(failed_exports=0.0)
    """

    throttle: float = 0.0
    unavailable: float = 0.0
    error500: float = 0.0
    drop: float = 0.0
    truncate: float = 0.0
    latency: float = 0.0
    jitter: float = 0.0
    rate_limit: float | None = 100.0
    fail_pages: tuple[int, ...] = ()
    fail_account: str | None = None
    insert_task_after_page: int | None = None
    odd_shapes: frozenset[str] = field(default_factory=frozenset)
    failed_exports: float = FAILED_EXPORTS

    def __post_init__(self) -> None:
        for name in (*FAULT_KINDS, "failed_exports"):
            rate = getattr(self, name)
            if not (isinstance(rate, int | float) and 0.0 <= rate <= 1.0):
                raise ValueError(f"Faults.{name} is a rate in [0, 1], not {rate!r}")
        if sum(getattr(self, name) for name in FAULT_KINDS) > 1.0 + 1e-9:
            raise ValueError(
                "the fault rates (throttle+unavailable+error500+drop+truncate) add up to more than 1"
            )
        for name in ("latency", "jitter"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 60.0 and math.isfinite(value)):
                raise ValueError(f"Faults.{name} is seconds in [0, 60], not {value!r}")
        if self.rate_limit is not None and not (
            isinstance(self.rate_limit, int | float) and self.rate_limit > 0
        ):
            raise ValueError(f"Faults.rate_limit is calls per second (> 0) or None, not {self.rate_limit!r}")
        object.__setattr__(self, "fail_pages", tuple(int(p) for p in self.fail_pages))
        object.__setattr__(self, "odd_shapes", frozenset(self.odd_shapes))
        unknown = self.odd_shapes - ODD_SHAPES
        if unknown:
            raise ValueError(f"unknown odd_shapes {sorted(unknown)}; choose from {sorted(ODD_SHAPES)}")
        if self.insert_task_after_page is not None and self.insert_task_after_page < 1:
            raise ValueError("Faults.insert_task_after_page is a page number (>= 1) or None")

    def __repr__(self) -> str:
        fields = self.__dataclass_fields__
        shown = [
            f"{name}={getattr(self, name)!r}"
            for name in fields
            if (getattr(self, name) if name == "odd_shapes" else getattr(self, name) != fields[name].default)
        ]
        return f"Faults({', '.join(shown)})"

    @property
    def any_random(self) -> bool:
        """True when some request may meet a random fault or delay."""
        return any(getattr(self, n) for n in FAULT_KINDS) or self.latency > 0 or self.jitter > 0


@dataclass(frozen=True)
class Decision:
    """The fate of one request: a fault kind (or ``None``), a delay in seconds, a retry-after in ms."""

    fault: str | None = None
    delay: float = 0.0
    retry_after_ms: int = 0


def _uniforms(seed: int, identity: Hashable, count: int) -> tuple[float, float, float]:
    digest = hashlib.blake2b(f"{seed}|{identity!r}|{count}".encode(), digest_size=24).digest()
    return tuple(int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in (0, 8, 16))  # type: ignore[return-value]


def decide(faults: Faults, seed: int, identity: Hashable, count: int) -> Decision:
    """The decision for the ``count``-th sighting (from 0) of ``identity``: pure, no arrival order."""
    if not faults.any_random:
        return Decision()
    pick, wait, after = _uniforms(seed, identity, count)
    fault = None
    edge = 0.0
    for name in FAULT_KINDS:
        edge += getattr(faults, name)
        if pick < edge:
            fault = name
            break
    delay = faults.latency + faults.jitter * wait
    return Decision(fault, delay, int(100 + 900 * after) if fault == "throttle" else 0)


def export_fails(faults: Faults, seed: int, task_id: str) -> bool:
    """Whether the export ``task_id`` created in a sandbox of ``seed`` ends ``failed``: pure, per task.

    >>> ids = [str(20_000_000 + n) for n in range(1000)]
    >>> sum(export_fails(Faults(failed_exports=0.25), 7, i) for i in ids), any(
    ...     export_fails(Faults(failed_exports=0.0), 7, i) for i in ids)
    (232, False)
    """
    digest = hashlib.blake2b(f"{seed}|{task_id}|outcome".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < faults.failed_exports


class RateLimiter:
    """A token bucket per account: ``rate`` calls per second, bursts up to ``rate`` calls.

    ``take(account)`` returns 0 when the call may go, else the milliseconds until a token is free.

    >>> ticks = iter([0.0, 0.0, 0.0, 0.5])
    >>> limiter = RateLimiter(2, clock=lambda: next(ticks))
    >>> [limiter.take("a"), limiter.take("a"), limiter.take("a")]
    [0, 0, 500]
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, account: str) -> int:
        """Take a token for ``account``: 0 when granted, else the wait in milliseconds (at least 1)."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(account, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[account] = (tokens - 1.0, now)
                return 0
            self._buckets[account] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate * 1000))
