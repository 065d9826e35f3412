"""Fault injection: rates met, decisions deterministic whatever the arrival order, every fault kind real."""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from _waiting import sandbox_handler_in, wait_until

from usagekit.sandbox import Faults, Sandbox
from usagekit.sandbox.faults import FAULT_KINDS, decide

LIST_SUMMARY = "DescribeUserUsageDataExportTask"
LIST_DETAIL = "DescribeUserUsageDetailDataExportTask"
RATES = {"throttle": 0.1, "unavailable": 0.15, "error500": 0.05, "drop": 0.05, "truncate": 0.05}


def _outcome(call: Any) -> str:
    """``ok``, an error code, ``drop`` or ``truncate`` for one request made by ``call()``."""
    try:
        reply = call()
    except http.client.IncompleteRead:
        return "truncate"
    except (http.client.RemoteDisconnected, ConnectionError):
        return "drop"
    return "ok" if reply.status in (200, 206) else reply.code or f"HTTP {reply.status}"


def _within(observed: int, n: int, rate: float, sigmas: float = 4.0) -> bool:
    spread = sigmas * (n * rate * (1 - rate)) ** 0.5
    return abs(observed - n * rate) <= spread + 1


def test_the_decision_function_meets_its_rates() -> None:
    faults = Faults(**RATES, latency=0.1, jitter=0.2)
    n = 4000
    decisions = [
        decide(faults, 11, ("demo-shop", LIST_DETAIL, (("PageNumber", str(i)),)), 0) for i in range(n)
    ]
    counts = Counter(d.fault for d in decisions)
    for kind in FAULT_KINDS:
        assert _within(counts[kind], n, RATES[kind]), (kind, counts)
    assert _within(counts[None], n, 1 - sum(RATES.values()))
    delays = [d.delay for d in decisions]
    assert 0.1 <= min(delays) < 0.11 and 0.29 < max(delays) <= 0.3
    assert all(100 <= d.retry_after_ms <= 1000 for d in decisions if d.fault == "throttle")


def test_decisions_depend_on_seed_identity_and_count_only() -> None:
    faults = Faults(unavailable=0.5)
    identity = ("demo-shop", LIST_SUMMARY, (("PageNumber", "1"),))
    first = [decide(faults, 3, identity, count) for count in range(64)]
    assert first == [decide(faults, 3, identity, count) for count in range(64)]
    assert len({d.fault for d in first}) == 2  # the count matters: a retry is a new draw
    assert first != [decide(faults, 4, identity, count) for count in range(64)]
    assert decide(Faults(), 3, identity, 0).fault is None


@pytest.mark.parametrize(
    "options",
    [
        {"throttle": 1.5},
        {"drop": -0.1},
        {"throttle": 0.6, "unavailable": 0.6},
        {"latency": -1},
        {"rate_limit": 0},
        {"odd_shapes": {"upside_down"}},
        {"insert_task_after_page": 0},
    ],
)
def test_bad_faults_are_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        Faults(**options)


def test_faults_repr_shows_what_differs() -> None:
    assert repr(Faults()) == "Faults()"
    assert (
        repr(Faults(drop=0.1, odd_shapes={"empty_data"}))
        == "Faults(drop=0.1, odd_shapes=frozenset({'empty_data'}))"
    )


def test_real_requests_meet_the_rates(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(seed=5, faults=Faults(**RATES, rate_limit=None))
    account = box.accounts[0]
    n = 400
    outcomes = Counter(
        _outcome(
            lambda i=i: wire.v3(account, LIST_DETAIL, {"PageNumber": i % 50 + 1, "PageSize": i // 50 + 1})
        )
        for i in range(n)
    )
    assert _within(outcomes["Throttling.User"], n, RATES["throttle"]), outcomes
    assert _within(outcomes["ServiceUnavailable"], n, RATES["unavailable"]), outcomes
    assert _within(outcomes["InternalError"], n, RATES["error500"]), outcomes
    assert _within(outcomes["drop"], n, RATES["drop"]), outcomes
    assert _within(outcomes["truncate"], n, RATES["truncate"]), outcomes
    recorded = Counter(r["fault"] for r in box.requests)
    assert recorded["throttle"] == outcomes["Throttling.User"] and recorded["drop"] == outcomes["drop"]


def test_throttling_carries_retry_after_in_milliseconds(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(faults=Faults(throttle=1.0, rate_limit=None))
    reply = wire.v2(box.accounts[0], LIST_SUMMARY)
    assert (reply.status, reply.code) == (503, "Throttling.User")
    assert 100 <= int(reply.headers["x-acs-retry-after"]) <= 1000


def _run_in_threads(box: Sandbox, wire: Any, order_seed: int) -> dict[tuple, list[str | None]]:
    """Send each of 40 distinct listings three times (one thread per listing), in a shuffled order."""
    account = box.accounts[1]
    jobs = [(kind, number) for kind in (LIST_SUMMARY, LIST_DETAIL) for number in range(1, 21)]
    random.Random(order_seed).shuffle(jobs)

    def run(job: tuple[str, int]) -> None:
        for _ in range(3):
            _outcome(lambda: wire.v3(account, job[0], {"PageNumber": job[1], "PageSize": 2}))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(run, jobs))
    seen: dict[tuple, list[str | None]] = defaultdict(list)
    for record in box.requests:
        seen[(record["action"], record["params"]["PageNumber"])].append(record["fault"])
    return dict(seen)


def test_the_same_seed_meets_the_same_faults_whatever_the_arrival_order(
    fresh_sandbox: Any, wire: Any
) -> None:
    faults = Faults(throttle=0.2, unavailable=0.2, drop=0.1, truncate=0.1, rate_limit=None)
    one = _run_in_threads(fresh_sandbox(seed=9, faults=faults), wire, order_seed=1)
    two = _run_in_threads(fresh_sandbox(seed=9, faults=faults), wire, order_seed=2)
    assert one == two
    assert len({f for faults_seen in one.values() for f in faults_seen}) >= 4
    other = _run_in_threads(fresh_sandbox(seed=10, faults=faults), wire, order_seed=1)
    assert other != one


def test_the_rate_limiter_answers_throttling(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(faults=Faults(rate_limit=5))
    replies = [wire.v3(box.accounts[0], LIST_SUMMARY, {"PageSize": 1}) for _ in range(10)]
    throttled = [r for r in replies if r.status == 503]
    assert 1 <= len(throttled) <= 6 and all(r.code == "Throttling.User" for r in throttled)
    assert all(1 <= int(r.headers["x-acs-retry-after"]) <= 200 for r in throttled)
    assert wire.v3(box.accounts[1], LIST_SUMMARY).status == 200  # per account
    assert any(r["fault"] == "rate_limit" for r in box.requests)


def test_failing_pages_for_one_account(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(faults=Faults(fail_pages=(2,), fail_account="demo-shop"))
    shop, media = box.accounts[0], box.accounts[1]
    for action in (LIST_SUMMARY, LIST_DETAIL):
        for _ in range(3):
            reply = wire.v3(shop, action, {"PageNumber": 2, "PageSize": 10})
            assert (reply.status, reply.code) == (503, "ServiceUnavailable")
        assert wire.v3(shop, action, {"PageNumber": 3, "PageSize": 10}).status == 200
        assert wire.v3(media, action, {"PageNumber": 2, "PageSize": 10}).status == 200
    # a page number str.isdigit() accepts but int() refuses was a 500 before paging could refuse it
    reply = wire.v3(shop, LIST_SUMMARY, {"PageNumber": "\u00b2", "PageSize": 10})
    assert (reply.status, reply.code) == (400, "InvalidParameter")


def test_a_task_inserted_after_a_page_shifts_the_later_pages(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(faults=Faults(insert_task_after_page=1))
    account = box.accounts[0]
    first = wire.v3(account, LIST_DETAIL, {"PageNumber": 1, "PageSize": 5}).json["UsageDataPerPage"]
    second = wire.v3(account, LIST_DETAIL, {"PageNumber": 2, "PageSize": 5}).json["UsageDataPerPage"]
    assert (first["TotalCount"], second["TotalCount"]) == (40, 41)
    assert second["Data"]["DataItem"][0]["TaskId"] == first["Data"]["DataItem"][-1]["TaskId"]
    again = wire.v3(account, LIST_DETAIL, {"PageNumber": 1, "PageSize": 5}).json["UsageDataPerPage"]
    assert again["TotalCount"] == 41  # only the first time
    assert len(box.truth.tasks(account.name, "detail")) == 41
    summary = wire.v3(account, LIST_SUMMARY, {"PageNumber": 1}).json["UsageDataPerPage"]
    assert summary["TotalCount"] == 40  # each kind has its own first time
    assert len(box.truth.tasks(account.name, "summary")) == 41


def test_odd_shapes(fresh_sandbox: Any, wire: Any) -> None:
    shapes = {
        "single_item",
        "numeric_task_id",
        "string_total_count",
        "missing_task_config",
        "missing_download_url",
        "empty_data",
    }
    box = fresh_sandbox(faults=Faults(odd_shapes=shapes))
    account = box.accounts[0]
    page = wire.v3(account, LIST_DETAIL, {"PageSize": 1, "PageNumber": 3}).json["UsageDataPerPage"]
    assert (page["PageNumber"], page["PageSize"], page["TotalCount"]) == ("3", "1", "40")
    item = page["Data"]["DataItem"]
    assert isinstance(item, dict) and isinstance(item["TaskId"], int)
    assert "TaskConfig" not in item and "DownloadUrl" not in item
    empty = wire.v3(account, LIST_DETAIL, {"PageSize": 50, "PageNumber": 2}).json["UsageDataPerPage"]
    assert empty["Data"] == {}
    many = wire.v3(account, LIST_DETAIL, {"PageSize": 2}).json["UsageDataPerPage"]["Data"]["DataItem"]
    assert isinstance(many, list) and len(many) == 2


def test_latency_delays_replies_and_stop_does_not_wait_for_it(wire: Any) -> None:
    """Seen without a stopwatch: the handler holds the reply back (waits) while the caller has none yet,
    and stop() ends that wait: with 60 s of latency, only a stop that waited it out would still run after 30."""
    assert decide(Faults(latency=0.2), 1, "any request", 0).delay == 0.2
    box = Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", faults=Faults(latency=0.2)).start()
    assert wire.v3(box.accounts[0], LIST_SUMMARY).status == 200  # a delayed reply still comes whole
    box.stop()
    slow = Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", faults=Faults(latency=60)).start()
    before = set(threading.enumerate())
    outcomes: list[str] = []
    caller = threading.Thread(
        target=lambda: outcomes.append(_outcome(lambda: wire.v3(slow.accounts[0], LIST_SUMMARY)))
    )
    caller.start()
    wait_until(lambda: sandbox_handler_in("_serve", "wait"))  # the reply is held back for its latency
    assert caller.is_alive() and outcomes == []
    stopping = threading.Thread(target=slow.stop)
    stopping.start()
    stopping.join(timeout=30)  # half the latency
    caller.join(timeout=30)
    assert not stopping.is_alive() and not caller.is_alive()
    assert outcomes == ["drop"]  # the held reply was never sent: the connection was closed
    assert set(threading.enumerate()) - before == set()


def test_downloads_meet_faults_too(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(faults=Faults(truncate=0.5, rate_limit=None))
    account = box.accounts[0]
    for _ in range(20):  # the listing itself may be truncated: each retry is a new draw
        try:
            items = wire.v3(account, LIST_SUMMARY, {"PageSize": 5}).json["UsageDataPerPage"]["Data"][
                "DataItem"
            ]
            break
        except http.client.IncompleteRead:
            continue
    url = next(i["DownloadUrl"] for i in items if i["DownloadUrl"])
    outcomes = Counter(_outcome(lambda: wire.send(url)) for _ in range(40))
    assert set(outcomes) == {"ok", "truncate"} and 8 <= outcomes["truncate"] <= 32
    assert {r["fault"] for r in box.requests if r["action"] == "download"} == {None, "truncate"}
