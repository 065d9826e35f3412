"""Every HTTP attempt, retries included, takes a token from its account's one bucket (over real sockets).

The sandbox counts what reached it (``sandbox.requests``, throttled answers included); a counting bucket
put in place of each account's shared one counts the tokens taken. Under heavy throttling the two must
agree: a retry that skipped the bucket would be a request without a token.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator

import pytest

from usagekit import session as session_module
from usagekit.accounts import Account
from usagekit.billtypes import bill_types
from usagekit.client import CdnClient, RetryPolicy
from usagekit.lifecycle import create_export, delete_export, wait
from usagekit.listing import iter_tasks, list_tasks, refresh
from usagekit.paging import RateLimiter
from usagekit.sandbox import Faults, Sandbox
from usagekit.session import Session, default_session

#: retries that hardly wait (the sandbox's retry-after is bounded by the cap), so throttling costs no time
FAST = functools.partial(CdnClient, retry=RetryPolicy(max_attempts=30, base=0.001, cap=0.005, deadline=60))
#: four requests in five throttled: most pages need several attempts
HEAVY = Faults(throttle=0.8)


class CountingLimiter(RateLimiter):
    """A real bucket (fast enough not to slow the test) that counts the tokens taken."""

    def __init__(self) -> None:
        super().__init__(rate=10_000, burst=100)
        self.taken = 0
        self._count_lock = threading.Lock()

    def acquire(self) -> None:
        super().acquire()
        with self._count_lock:
            self.taken += 1


@pytest.fixture(autouse=True)
def new_default_session() -> Iterator[None]:
    default_session().close()  # the next call makes a new default: nothing pooled, listed or counted
    yield
    default_session().close()


@pytest.fixture
def buckets(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[Account]], dict[str, CountingLimiter]]:
    """Make a counting bucket each account's shared one in the default session (keyed as the pool keys them)."""

    def install(accounts: list[Account]) -> dict[str, CountingLimiter]:
        made = {account.name: CountingLimiter() for account in accounts}
        for account in accounts:
            bucket = default_session().limiters.get(account.cache_key, lambda a=account: made[a.name])
            assert bucket is made[account.name]
        return made

    return install


@pytest.fixture
def fast_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """The default session, its pooled clients retrying without waiting (and nothing else different)."""
    fast = Session(client_factory=FAST)
    monkeypatch.setattr(session_module, "_default", fast)
    yield fast
    fast.close()


def attempts(box: Sandbox, account: Account) -> list[dict[str, object]]:
    return [r for r in box.requests if r["account"] == account.name]


def assert_every_attempt_took_a_token(box: Sandbox, taken: dict[str, CountingLimiter]) -> None:
    throttled = [r for r in box.requests if r["fault"] == "throttle"]
    assert len(throttled) >= 8, "the test needs retries: too few requests were throttled"
    for account in box.accounts:
        assert taken[account.name].taken == len(attempts(box, account)), account.name


def test_listing_retries_take_tokens_from_the_shared_clients_bucket(
    fresh_sandbox: Callable[..., Sandbox], buckets: Callable, fast_pool: Session
) -> None:
    box = fresh_sandbox(accounts=2, tasks=120, faults=HEAVY)  # 3 pages of each kind per account
    taken = buckets(box.accounts)
    frame = list_tasks(box.accounts, progress=False)
    assert len(frame) == 2 * 2 * 120
    assert_every_attempt_took_a_token(box, taken)


def test_a_client_factorys_clients_take_tokens_too(
    fresh_sandbox: Callable[..., Sandbox], buckets: Callable
) -> None:
    box = fresh_sandbox(accounts=2, tasks=120, faults=HEAVY)
    taken = buckets(box.accounts)
    frame = list_tasks(box.accounts, progress=False, client_factory=FAST)
    assert len(frame) == 2 * 2 * 120
    assert_every_attempt_took_a_token(box, taken)


def test_iter_tasks_and_refresh_take_a_token_per_attempt(
    fresh_sandbox: Callable[..., Sandbox], buckets: Callable, fast_pool: Session
) -> None:
    box = fresh_sandbox(accounts=1, tasks=120, faults=HEAVY)
    account = box.accounts[0]
    taken = buckets([account])
    assert len(list(iter_tasks(account))) == 2 * 120
    done = box.truth.tasks(account.name, "detail")
    task_id = done[done["status"] == "success"]["task_id"].iloc[0]
    assert refresh(account, "detail", task_id).url
    assert_every_attempt_took_a_token(box, taken)


def test_create_wait_and_delete_take_a_token_per_attempt(
    fresh_sandbox: Callable[..., Sandbox], buckets: Callable, fast_pool: Session
) -> None:
    box = fresh_sandbox(accounts=1, tasks=60, task_delay=30, faults=HEAVY)
    account = box.accounts[0]
    taken = buckets([account])
    created = [
        create_export(account, "detail", f"2026-11-{day:02d}T16:00:00Z", f"2026-11-{day + 1:02d}T16:00:00Z")
        for day in range(1, 6)
    ]
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        box.advance(seconds)

    done = wait(created, sleep=sleep, clock=lambda: clock[0], progress=False)
    assert len(done) == len(created)
    for task in created:
        delete_export(account, task.kind, task.task_id)
    actions = {str(r["action"]) for r in attempts(box, account)}
    assert any(a.startswith("Create") for a in actions) and any(a.startswith("Delete") for a in actions)
    assert_every_attempt_took_a_token(box, taken)


def test_a_factorys_own_hook_is_kept(fresh_sandbox: Callable[..., Sandbox], buckets: Callable) -> None:
    box = fresh_sandbox(accounts=1, tasks=60)
    account = box.accounts[0]
    taken = buckets([account])
    mine: list[int] = []
    frame = list_tasks(
        account, progress=False, client_factory=functools.partial(FAST, before_attempt=lambda: mine.append(1))
    )
    assert len(frame) == 2 * 60
    assert len(mine) == len(attempts(box, account)) and taken[account.name].taken == 0


def test_one_bucket_per_account_shared_by_both_kinds(
    fresh_sandbox: Callable[..., Sandbox], buckets: Callable
) -> None:
    box = fresh_sandbox(
        accounts=2, tasks=260, faults=Faults(insert_task_after_page=1)
    )  # 6 pages, walked twice
    made = buckets(box.accounts)
    frame = list_tasks(box.accounts, progress=False)
    assert len(frame) == 2 * 2 * 261
    assert len(default_session().limiters) == 2  # one bucket per account, shared by both kinds' threads
    for account in box.accounts:
        calls = [r for r in attempts(box, account) if str(r["action"]).startswith("Describe")]
        assert made[account.name].taken == len(calls) == 2 * (6 + 6)


def test_bill_types_take_a_token_per_attempt(
    fresh_sandbox: Callable[..., Sandbox], buckets: Callable, fast_pool: Session
) -> None:
    box = fresh_sandbox(accounts=2, tasks=5, faults=HEAVY)
    taken = buckets(box.accounts)
    frame = bill_types(box.accounts, "2026-08-15T00:00:00+08:00", "2026-11-20T00:00:00+08:00")
    assert set(frame["account"]) == {account.name for account in box.accounts}
    assert_every_attempt_took_a_token(box, taken)
