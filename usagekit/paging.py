"""The page walk: turning a paged listing into one complete, consistent set of items.

The service pages its task listings (``PageSize`` at most 50, ``PageNumber`` from 1) and reports a
``TotalCount`` on every page. The order of tasks across pages is not documented, and ``TotalCount``
can change while we walk (a task created or expiring meanwhile shifts every later page by one: one
task shows up twice, another not at all). :func:`walk` knows nothing of tasks or HTTP: it calls a
``fetch(page_number, page_size) -> Page`` function and decides what is complete.

How one walk goes:

1. Page 1 says how many items there are (``TotalCount``) and, through the reply's ``PageSize`` (or
   fewer items than asked for on a page that is not the last), how many the service puts on a page.
2. Pages 2..N (``N = ceil(TotalCount / page size)``) are fetched concurrently. N is fixed by page 1,
   which is the loop guard: a service that repeats pages cannot keep us walking.
3. The walk is **consistent** when every page reported the same ``TotalCount`` and the distinct item
   keys gathered number exactly that. Then it is the answer.

Otherwise the listing is walked again from page 1, at most ``attempts`` times in all. When no single
walk was consistent, the union of all walks (later walks' versions win) is accepted only when its
size equals the ``TotalCount`` reported last; that covers a service that is busy creating tasks while
we walk (each walk misses a newcomer, the union does not) and refuses a union inflated by tasks that
expired meanwhile. Anything else raises :class:`~usagekit.errors.IncompleteListingError`: a listing
is never returned short and never doubled. One case no count can see: a task created and another
removed between two page fetches of the same walk keep ``TotalCount`` and the distinct count equal;
such a walk still holds only tasks that existed when their page was fetched.

A page that fails (its fetch raised, after the client's own retries) ends the walk: transient
failures (throttling, service unavailable, transport, unreadable replies) become
``IncompleteListingError`` naming the pages; a refusal of the request itself (bad key, permission,
invalid parameter) is raised as it is, since repeating the listing cannot help.

>>> items = [f"t{i}" for i in range(7)]
>>> def fetch(number: int, size: int) -> Page:
...     return Page(number, size, len(items), tuple(items[(number - 1) * size : number * size]))
>>> listing = collect(walk(fetch, key=str, policy=PagingPolicy(page_size=3)))
>>> sorted(listing.items), listing.pages, listing.consistent
(['t0', 't1', 't2', 't3', 't4', 't5', 't6'], 3, True)
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from usagekit.errors import (
    ArgumentError,
    IncompleteListingError,
    ResponseError,
    ServiceUnavailableError,
    ThrottledError,
    TransportError,
)
from usagekit.redact import strip_queries

__all__ = ["Listing", "Page", "PagingPolicy", "RateLimiter", "collect", "walk"]

T = TypeVar("T")

#: failures worth walking again for; anything else is the request itself being refused
TRANSIENT = (ThrottledError, ServiceUnavailableError, TransportError, ResponseError)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing as the service sent it.

    ``size`` is the page size the service says it used (its reply's ``PageSize``, or what was asked
    for when it says nothing), ``total`` the ``TotalCount`` this page reported.
    """

    number: int
    size: int
    total: int
    items: tuple[T, ...] = ()

    def __repr__(self) -> str:  # items may carry presigned URLs: never show a query
        shown = f"Page(number={self.number}, size={self.size}, total={self.total}, items={self.items!r})"
        return strip_queries(shown)


@dataclass(frozen=True)
class PagingPolicy:
    """How a listing is walked: page size asked for, walks allowed, concurrent page fetches.

    ``max_pages`` refuses an absurd ``TotalCount`` before fetching (the API's ``PageNumber`` stops
    at 100000).

    >>> PagingPolicy().page_size, PagingPolicy().attempts
    (50, 3)
    """

    page_size: int = 50
    attempts: int = 3
    workers: int = 8
    max_pages: int = 100_000

    def __post_init__(self) -> None:
        if self.page_size < 1 or self.attempts < 1 or self.workers < 1 or self.max_pages < 1:
            raise ArgumentError("PagingPolicy values must all be at least 1")


@dataclass
class Listing(Generic[T]):
    """The answer of a walk: ``items`` by key, the ``total`` they match, how it was reached.

    ``consistent`` is False when the answer is the union of several walks (see the module docs);
    ``requests`` counts page fetches over all walks.
    """

    items: dict[Hashable, T]
    total: int
    pages: int
    attempts: int
    consistent: bool
    requests: int = 0
    totals_seen: tuple[int, ...] = field(default=())


class RateLimiter:
    """A token bucket shared by the threads calling one account: at most ``burst + rate`` calls in any second.

    The service allows 100 calls per second per account; the defaults (90 per second, bursts of 10)
    stay within that in every one-second window. ``clock`` and ``sleep`` are injectable.

    >>> now = [0.0]
    >>> limiter = RateLimiter(rate=2, burst=1, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> for _ in range(3):
    ...     limiter.acquire()
    >>> now[0]
    1.0
    """

    def __init__(
        self,
        rate: float = 90.0,
        burst: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ArgumentError("RateLimiter needs rate > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def acquire(self) -> None:
        """Take one call's token, waiting outside the lock until it is there."""
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1 - 1e-9:  # a float a hair short of 1 would sleep forever
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                wait_for = (1 - self._tokens) / self.rate
            self._sleep(wait_for)

    def full(self) -> bool:
        """Whether the bucket is full again: untouched long enough to be the same as a new one."""
        with self._lock:
            return self._tokens + (self._clock() - self._stamp) * self.rate >= self.burst

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g}, burst={self.burst})"


def _outcomes(
    own: Sequence[int], running: dict[Future[Page[T]], int], fetch_one: Callable[[int], Page[T]]
) -> Iterator[tuple[int, Callable[[], Page[T]]]]:
    """Each page number with how to get its page: fetched here for ``own``, else as its future completes."""
    for number in own:
        yield number, functools.partial(fetch_one, number)
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            yield running.pop(future), future.result


def _page_span(first: Page[Any], asked: int) -> int:
    """How many items the service puts on a page, judged from page 1."""
    span = first.size if first.size > 0 else asked
    got = len(first.items)
    if 0 < got < span and got < first.total:  # capped without saying so: page 1 is full by definition
        span = got
    return span


def collect(pages: Generator[Page[T], None, Listing[T]]) -> Listing[T]:
    """Drain a :func:`walk` and return its :class:`Listing`."""
    while True:
        try:
            next(pages)
        except StopIteration as stop:
            listing: Listing[T] = stop.value
            return listing


def walk(
    fetch: Callable[[int, int], Page[T]],
    *,
    key: Callable[[T], Hashable],
    policy: PagingPolicy | None = None,
    label: str = "listing",
    account: str | None = None,
    kind: str | None = None,
    partial: Callable[[list[T]], Any] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> Generator[Page[T], None, Listing[T]]:
    """Walk a paged listing; yield every page as it arrives and return the complete :class:`Listing`.

    ``fetch(page_number, page_size)`` returns a :class:`Page` or raises. ``key`` gives an item's
    identity. ``label``, ``account`` and ``kind`` name the listing in errors, whose ``frame`` is
    ``partial(items gathered)`` when given. ``on_plan(n)`` is told of the ``n`` further pages each walk
    will fetch after page 1 (for progress bars). Pages may be yielded twice over (a walk repeated):
    consumers dedupe by key. See the module docs for the completeness rules.
    """
    policy = policy or PagingPolicy()
    union: dict[Hashable, T] = {}
    requests = 0
    latest_total = 0
    totals_seen: list[int] = []

    def fail(message: str, pages: Iterable[int], cause: BaseException | None) -> IncompleteListingError:
        error = IncompleteListingError(
            f"{label}: {message}",
            account=account,
            kind=kind,
            pages=tuple(sorted(pages)),
            frame=partial(list(union.values())) if partial is not None else None,
        )
        error.__cause__ = cause
        return error

    for attempt in range(1, policy.attempts + 1):
        requests += 1
        try:
            first = fetch(1, policy.page_size)
        except TRANSIENT as error:
            raise fail(f"page 1 failed ({type(error).__name__}); try again later", [1], error) from error
        yield first
        count = _page_count(first, policy, fail)
        if on_plan is not None:  # a walk done again fetches its page 1 again too
            on_plan(count - 1 if attempt == 1 else count)
        pages: dict[int, Page[T]] = {1: first}
        order = [first.total]  # totals in the order the pages arrived
        failures: dict[int, BaseException] = {}
        requests += count - 1
        yield from _fetch_rest(fetch, count, policy, pages, order, failures)
        walked = _merge(pages, key)
        union.update(walked)
        latest_total = order[-1]
        totals_seen.extend(order)
        if failures:
            _raise_failures(failures, count, fail)
        if len(set(order)) == 1 and len(walked) == first.total:
            return Listing(walked, first.total, count, attempt, True, requests, tuple(totals_seen))
    if len(union) == latest_total:
        return Listing(union, latest_total, 0, policy.attempts, False, requests, tuple(totals_seen))
    raise fail(
        f"no consistent listing in {policy.attempts} walks (TotalCount seen: "
        f"{', '.join(map(str, dict.fromkeys(totals_seen)))}; {len(union)} distinct items gathered); "
        "the service's listing kept changing: try again",
        [],
        None,
    )


#: makes the error of an incomplete listing: its message, the pages that failed, the cause
_Fail = Callable[[str, Iterable[int], BaseException | None], IncompleteListingError]


def _page_count(first: Page[Any], policy: PagingPolicy, fail: _Fail) -> int:
    """How many pages the listing has, judged from page 1; refused past ``policy.max_pages``."""
    span = _page_span(first, policy.page_size)
    count = max(1, math.ceil(first.total / span))
    if count > policy.max_pages:
        raise fail(
            f"the service reports {first.total} items, more than {policy.max_pages} pages of {span}",
            [],
            None,
        )
    return count


def _fetch_rest(
    fetch: Callable[[int, int], Page[T]],
    count: int,
    policy: PagingPolicy,
    pages: dict[int, Page[T]],
    order: list[int],
    failures: dict[int, BaseException],
) -> Generator[Page[T], None, None]:
    """Fetch pages 2 to ``count`` side by side and yield each as it arrives.

    Each page goes into ``pages`` and its total onto ``order``; a page that fails goes into ``failures``.
    """
    numbers = list(range(2, count + 1))
    # the walking thread fetches the last page itself: one thread fewer per walk (none for a walk of
    # two pages), with as many pages in flight as before (at most ``policy.workers``)
    helpers = min(policy.workers, len(numbers)) - 1
    own, pooled = (numbers[-1:], numbers[:-1]) if helpers > 0 else (numbers, [])
    executor = ThreadPoolExecutor(helpers, thread_name_prefix="usagekit-page") if pooled else None
    try:
        running: dict[Future[Page[T]], int] = {}
        if executor is not None:
            running = {executor.submit(fetch, number, policy.page_size): number for number in pooled}
        for number, get in _outcomes(own, running, lambda n: fetch(n, policy.page_size)):
            try:
                page = get()
            except Exception as error:
                failures[number] = error
                continue
            pages[number] = page
            order.append(page.total)
            yield page
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _raise_failures(failures: Mapping[int, BaseException], count: int, fail: _Fail) -> None:
    """Raise a page's refusal as it came, or the listing's incompleteness when pages failed in transit."""
    refused = [e for e in failures.values() if not isinstance(e, TRANSIENT)]
    if refused:
        raise refused[0]
    cause = failures[min(failures)]
    raise fail(
        f"page(s) {', '.join(map(str, sorted(failures)))} of {count} failed "
        f"({type(cause).__name__}) after the client's retries; try again later",
        failures,
        cause,
    )


def _merge(pages: Mapping[int, Page[T]], key: Callable[[T], Hashable]) -> dict[Hashable, T]:
    """Items of one walk by key, in page order (a later page's version of a duplicate wins)."""
    merged: dict[Hashable, T] = {}
    for number in sorted(pages):
        for item in pages[number].items:
            merged[key(item)] = item
    return merged
