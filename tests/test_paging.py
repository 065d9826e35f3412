"""The page walk on its own: plain fetch functions stand in for the service (that is the edge)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pytest

from usagekit.errors import (
    AuthenticationError,
    IncompleteListingError,
    PermissionDeniedError,
    ServiceUnavailableError,
    TransportError,
)
from usagekit.paging import Page, PagingPolicy, RateLimiter, collect, walk


class Service:
    """A listing held in a list (newest first), paged like the API, with hooks to change it mid-walk."""

    def __init__(self, count: int, *, cap: int | None = None, say_size: bool = True) -> None:
        self.items = [f"t{i:03d}" for i in range(count)]
        self.cap = cap
        self.say_size = say_size
        self.calls: list[int] = []
        self.after: Callable[[int, int], None] | None = None  # (page number, call index) -> None
        self.lock = threading.Lock()

    def fetch(self, number: int, size: int) -> Page[str]:
        with self.lock:
            self.calls.append(number)
            call_index = len(self.calls)
            used = min(size, self.cap) if self.cap else size
            page = Page(
                number,
                used if self.say_size else size,
                len(self.items),
                tuple(self.items[(number - 1) * used : number * used]),
            )
            if self.after is not None:
                self.after(number, call_index)
            return page


def run(service: Service, **policy: int) -> object:
    return collect(walk(service.fetch, key=str, policy=PagingPolicy(**policy)))


def test_small_listing_is_one_consistent_walk() -> None:
    service = Service(7)
    listing = run(service, page_size=3)
    assert sorted(listing.items) == service.items
    assert (listing.total, listing.pages, listing.attempts, listing.consistent) == (7, 3, 1, True)
    assert sorted(service.calls) == [1, 2, 3]


def test_empty_listing_takes_one_request() -> None:
    service = Service(0)
    listing = run(service)
    assert listing.items == {} and listing.total == 0
    assert service.calls == [1]


def test_pages_after_the_first_are_fetched_concurrently() -> None:
    service = Service(50 * 5)
    barrier = threading.Barrier(4, timeout=5)  # pages 2..5 must all be in flight at once

    def fetch(number: int, size: int) -> Page[str]:
        if number > 1:
            barrier.wait()
        return service.fetch(number, size)

    listing = collect(walk(fetch, key=str, policy=PagingPolicy(workers=8)))
    assert len(listing.items) == 250


def test_page_count_follows_the_page_size_the_reply_states() -> None:
    service = Service(95, cap=20)  # asked 50, the service says PageSize 20
    listing = run(service)
    assert len(listing.items) == 95
    assert sorted(service.calls) == list(range(1, 6))


def test_page_count_follows_a_silent_cap_too() -> None:
    service = Service(95, cap=20, say_size=False)  # says 50 but sends 20 per page
    listing = run(service)
    assert len(listing.items) == 95 and listing.consistent
    assert sorted(service.calls) == list(range(1, 6))


def test_task_created_mid_walk_is_neither_lost_nor_doubled() -> None:
    service = Service(7)

    def insert_once(number: int, call_index: int) -> None:
        if number == 1 and call_index == 1:
            service.items.insert(0, "new")  # newest first: every later page shifts by one

    service.after = insert_once
    listing = run(service, page_size=3, workers=1)
    assert sorted(listing.items) == sorted(service.items)
    assert len(listing.items) == listing.total == 8
    assert listing.attempts == 2 and listing.consistent


def test_task_removed_mid_walk_is_not_kept() -> None:
    service = Service(9)

    def remove_once(number: int, call_index: int) -> None:
        if number == 1 and call_index == 1:
            service.items.remove("t001")

    service.after = remove_once
    listing = run(service, page_size=3, workers=1)
    assert sorted(listing.items) == service.items
    assert "t001" not in listing.items and listing.consistent


def test_busy_service_union_accepted_when_it_matches_the_latest_count() -> None:
    # Every walk sees a task appended at the old end after its page 1: no walk is consistent (page 1
    # always lags), but the union holds every task and matches the last TotalCount.
    service = Service(7)
    added = [0]

    def append(number: int, call_index: int) -> None:
        if number == 1:
            added[0] += 1
            service.items.append(f"old{added[0]}")

    service.after = append
    listing = run(service, page_size=5, workers=1)  # two pages reach the newcomer every time
    assert not listing.consistent
    assert sorted(listing.items) == sorted(service.items)
    assert listing.total == len(service.items) == 10


def test_union_inflated_by_a_removed_task_is_refused() -> None:
    service = Service(7)
    counter = [0]

    def churn(number: int, call_index: int) -> None:
        if number == 1:
            counter[0] += 1
            service.items.insert(0, f"new{counter[0]}")
            service.items.pop()  # the oldest expires meanwhile: the count never moves on page 1

    service.after = churn
    with pytest.raises(IncompleteListingError) as caught:
        collect(walk(service.fetch, key=str, policy=PagingPolicy(page_size=3, workers=1), partial=sorted))
    assert caught.value.frame is not None and len(caught.value.frame) > len(service.items)
    assert "no consistent listing in 3 walks" in str(caught.value)


def test_a_page_that_keeps_failing_raises_with_what_was_fetched() -> None:
    service = Service(10)

    def fetch(number: int, size: int) -> Page[str]:
        if number == 2:
            raise ServiceUnavailableError("ServiceUnavailable", "down", status=503, account="prod")
        return service.fetch(number, size)

    with pytest.raises(IncompleteListingError) as caught:
        collect(
            walk(
                fetch,
                key=str,
                policy=PagingPolicy(page_size=3),
                label="detail tasks of account 'prod'",
                account="prod",
                kind="detail",
                partial=sorted,
            )
        )
    error = caught.value
    assert error.pages == (2,) and error.account == "prod" and error.kind == "detail"
    assert "detail tasks of account 'prod'" in str(error) and "page(s) 2 of 4" in str(error)
    assert error.frame == sorted(service.items[:3] + service.items[6:])
    assert isinstance(error.__cause__, ServiceUnavailableError)


def test_page_one_transport_failure_is_an_incomplete_listing() -> None:
    def fetch(number: int, size: int) -> Page[str]:
        raise TransportError("dropped", account="prod")

    with pytest.raises(IncompleteListingError) as caught:
        collect(walk(fetch, key=str, account="prod", kind="summary"))
    assert caught.value.pages == (1,)


@pytest.mark.parametrize("failing_page", [1, 3])
def test_a_refused_request_is_raised_as_it_is(failing_page: int) -> None:
    service = Service(10)
    error_type = PermissionDeniedError if failing_page == 1 else AuthenticationError

    def fetch(number: int, size: int) -> Page[str]:
        if number == failing_page:
            raise error_type("OperationDenied", "CDN not opened", status=403, account="prod")
        return service.fetch(number, size)

    with pytest.raises(error_type):
        collect(walk(fetch, key=str, policy=PagingPolicy(page_size=3)))


def test_a_service_repeating_pages_is_stopped() -> None:
    service = Service(120)

    def fetch(number: int, size: int) -> Page[str]:
        return service.fetch(1, size)  # ignores PageNumber

    with pytest.raises(IncompleteListingError):
        collect(walk(fetch, key=str))
    assert len(service.calls) == 3 * math.ceil(120 / 50)


def test_an_absurd_total_is_refused_before_fetching() -> None:
    calls = []

    def fetch(number: int, size: int) -> Page[str]:
        calls.append(number)
        return Page(number, size, 10**9, ("a",))

    with pytest.raises(IncompleteListingError, match="more than 100000 pages"):
        collect(walk(fetch, key=str))
    assert calls == [1]


def test_pages_are_yielded_as_they_come_and_plans_announced() -> None:
    service = Service(7)
    plans: list[int] = []
    pages = list(walk(service.fetch, key=str, policy=PagingPolicy(page_size=3), on_plan=plans.append))
    assert sorted(p.number for p in pages) == [1, 2, 3]
    assert plans == [2]


def test_the_walking_thread_fetches_a_page_itself() -> None:
    service = Service(50 * 3)  # pages 2 and 3 after page 1
    names: dict[int, str] = {}

    def fetch(number: int, size: int) -> Page[str]:
        names[number] = threading.current_thread().name
        return service.fetch(number, size)

    listing = collect(walk(fetch, key=str, policy=PagingPolicy(workers=8)))
    assert len(listing.items) == 150
    page_threads = {name for name in names.values() if name.startswith("usagekit-page")}
    assert len(page_threads) == 1  # one started thread for two pages, not two
    assert names[1] == threading.current_thread().name
    service = Service(50 * 2)
    names.clear()
    collect(walk(fetch, key=str))
    assert set(names.values()) == {threading.current_thread().name}  # a walk of two pages starts none


def test_abandoning_a_walk_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    service = Service(500)
    pages = walk(service.fetch, key=str, policy=PagingPolicy(page_size=10, workers=4))
    next(pages)
    next(pages)
    pages.close()  # joins its threads before it returns: nothing to wait for afterwards
    assert not [t for t in threading.enumerate() if t not in before and t.name.startswith("usagekit-page")]


def test_rate_limiter_bursts_then_keeps_the_rate() -> None:
    now = [0.0]
    stamps = []
    limiter = RateLimiter(
        rate=90, burst=10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    for _ in range(300):
        limiter.acquire()
        stamps.append(now[0])
    assert stamps[9] == 0.0 and stamps[10] > 0.0
    # In any one-second window: at most burst + rate = 100 calls (the service's limit).
    assert max(sum(1 for s in stamps if t <= s < t + 1.0) for t in stamps) <= 100
    assert stamps[-1] == pytest.approx((300 - 10) / 90, rel=1e-6)


def test_rate_limiter_is_shared_safely_by_threads() -> None:
    """Five threads, one virtual clock: each sleep wakes its thread at the time it last read plus the pause
    (concurrent sleeps overlap, as real ones do), so the limiter's waits add up exactly, at any speed."""
    now, seen, stamps = [0.0], threading.local(), []
    lock = threading.Lock()

    def clock() -> float:
        with lock:
            seen.at = now[0]
            return now[0]

    def sleep(seconds: float) -> None:
        with lock:
            now[0] = max(now[0], seen.at + seconds)

    limiter = RateLimiter(rate=1000, burst=5, clock=clock, sleep=sleep)

    def take() -> None:
        for _ in range(20):
            limiter.acquire()
            with lock:
                stamps.append(now[0])

    threads = [threading.Thread(target=take) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 100
    assert now[0] >= (100 - 5) / 1000 * (1 - 1e-9)  # 95 calls beyond the burst, at 1000 a second
    for t in stamps:  # never more than the burst plus the rate's share by any moment
        assert sum(1 for s in stamps if s <= t) <= 5 + 1000 * t + 1


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        PagingPolicy(page_size=0)
    with pytest.raises(ValueError):
        RateLimiter(rate=0)
