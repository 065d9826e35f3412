"""usagekit.Session: two sessions in one process share no client, rate limiter or memory (over real sockets)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from usagekit.accounts import Account
from usagekit.bss import bss_limiter
from usagekit.client import CdnClient
from usagekit.errors import ArgumentError
from usagekit.listing import list_tasks
from usagekit.memory import remembered
from usagekit.paging import RateLimiter
from usagekit.pool import limiter
from usagekit.sandbox import Sandbox
from usagekit.session import Session, default_session


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


class Recorder:
    """A client factory recording every client it makes and every close of one."""

    def __init__(self) -> None:
        self.made: list[CdnClient] = []
        self.closed: list[CdnClient] = []

    def __call__(self, account: Account) -> CdnClient:
        client = CdnClient(account)
        original = client.close

        def close() -> None:
            self.closed.append(client)
            original()

        client.close = close  # type: ignore[method-assign]
        self.made.append(client)
        return client


def _success_id(box: Sandbox, account: Account) -> str:
    done = box.truth.tasks(account.name, "detail")
    return str(done[done["status"] == "success"]["task_id"].iloc[0])


def test_two_sessions_share_no_client_limiter_or_memory(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=1, tasks=3)
    account = box.accounts[0]
    task_id = _success_id(box, account)
    default_session().urls.clear()
    first_clients, second_clients = Recorder(), Recorder()
    with Session(client_factory=first_clients) as first, Session(client_factory=second_clients) as second:
        first_bucket = first.limiters.get(account.cache_key, CountingLimiter)
        second_bucket = second.limiters.get(account.cache_key, CountingLimiter)
        list_tasks(account, "detail", progress=False, session=first)
        # only the first session's client, bucket and memory were used
        assert len(first_clients.made) == 1 and second_clients.made == []
        assert first_bucket.taken == len(box.requests) and second_bucket.taken == 0  # type: ignore[attr-defined]
        assert remembered(account.name, "detail", task_id, session=first) is not None
        assert remembered(account.name, "detail", task_id, session=second) is None
        assert remembered(account.name, "detail", task_id) is None  # nor the default session's
        list_tasks(account, "detail", progress=False, session=second)
        assert len(second_clients.made) == 1 and second_clients.made[0] is not first_clients.made[0]
        assert (
            limiter(account, session=first) is first_bucket
            and limiter(account, session=second) is second_bucket
        )
        assert limiter(account) is not first_bucket and limiter(account) is not second_bucket
        assert bss_limiter(account, session=first) is not bss_limiter(account, session=second)
        assert first.pool("bss", CdnClient) is not second.pool("bss", CdnClient)
        assert first.frames is not second.frames and first.frames is not default_session().frames
        first.close()  # ends the first alone
        assert first_clients.closed == first_clients.made and second_clients.closed == []
        assert remembered(account.name, "detail", task_id, session=second) is not None
        with pytest.raises(ArgumentError, match="closed"):
            list_tasks(account, "detail", progress=False, session=first)
    assert second_clients.closed == second_clients.made  # the with block closed the second


def test_a_session_argument_is_checked_before_any_request(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=1, tasks=3)
    with pytest.raises(ArgumentError, match=r"session must be a usagekit\.Session or None, not str"):
        list_tasks(box.accounts[0], progress=False, session="mine")  # type: ignore[arg-type]
    assert box.requests == []
