"""Listings and the task lifecycle over real sockets, against the sandbox's truth."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
import requests

from usagekit import listing
from usagekit.accounts import Account
from usagekit.client import CdnClient, RetryPolicy
from usagekit.errors import (
    AuthenticationError,
    ConfigurationError,
    IncompleteListingError,
    InvalidParameterError,
)
from usagekit.frames import TASK_COLUMNS, parse_task_tag
from usagekit.lifecycle import create_export, delete_export, wait
from usagekit.listing import iter_tasks, list_tasks, refresh
from usagekit.memory import remembered, resolve_account
from usagekit.sandbox import Faults, Sandbox
from usagekit.session import Session, default_session
from usagekit.windows import coverage

FAST = functools.partial(CdnClient, retry=RetryPolicy(max_attempts=12, base=0.001, cap=0.01, deadline=30))
COMPARED = [
    "task_id",
    "task_name",
    "status",
    "created",
    "updated",
    "window_start",
    "window_end",
    "download_url",
]


@pytest.fixture(autouse=True)
def empty_memory() -> Iterator[None]:
    default_session().urls.clear()
    yield
    default_session().urls.clear()


def by_id(frame: pd.DataFrame, columns: list[str] = COMPARED) -> pd.DataFrame:
    return frame.sort_values("task_id")[columns].reset_index(drop=True)


def assert_equals_truth(frame: pd.DataFrame, box: Sandbox, columns: list[str] = COMPARED) -> None:
    """The listing holds the very rows the sandbox holds, account by account and kind by kind."""
    for account in box.accounts:
        for kind in ("summary", "detail"):
            truth = box.truth.tasks(account.name, kind)
            got = frame[(frame["account"] == account.name) & (frame["kind"] == kind)]
            assert got["task_id"].is_unique
            pd.testing.assert_frame_equal(by_id(got, columns), by_id(truth, columns))
            tagged = got[
                got["task_name"]
                .map(lambda n: parse_task_tag(n) is not None, na_action="ignore")
                .fillna(False)
            ]
            expected = truth.set_index("task_id").loc[tagged["task_id"], ["type", "domains"]]
            assert (
                tagged[["type", "domains"]].astype(str).values.tolist()
                == expected.astype(str).values.tolist()
            )
            untagged = got[~got["task_id"].isin(tagged["task_id"])]
            assert untagged["type"].isna().all() and untagged["domains"].isna().all()


def test_listing_equals_truth_for_every_demo_account_and_kind(sandbox: Sandbox) -> None:
    frame = list_tasks(sandbox.accounts, progress=False)
    assert_equals_truth(frame, sandbox)
    assert list(frame.columns) == list(TASK_COLUMNS)
    for name, dtype in TASK_COLUMNS.items():
        assert str(frame[name].dtype) == str(dtype) or (
            dtype == "category" and frame[name].dtype == "category"
        )
    assert list(frame["status"].cat.categories[:3]) == ["created", "success", "failed"]
    assert list(frame["account"].unique()) == [a.name for a in sandbox.accounts]


def test_iter_tasks_yields_each_task_once(sandbox: Sandbox) -> None:
    account = sandbox.accounts[1]
    seen = [task.key for task in iter_tasks(account)]
    assert len(seen) == len(set(seen))
    truth = sandbox.truth.tasks(account.name, "all")
    assert sorted(k[2] for k in seen) == sorted(truth["task_id"])


def test_listing_remembers_urls_that_download(sandbox: Sandbox) -> None:
    account = sandbox.accounts[0]
    frame = list_tasks(account, "detail", status="success", progress=False)
    task_id = frame["task_id"].iloc[0]
    entry = remembered(account.name, "detail", task_id)
    assert entry is not None and entry.account is account and resolve_account(account.name) is account
    assert entry.url.startswith(frame["download_url"].iloc[0] + "?")
    assert "?" not in "".join(frame["download_url"].dropna())
    response = requests.get(entry.url, timeout=10)
    assert response.status_code == 200 and response.content[:2] == b"PK"


@pytest.mark.parametrize(
    "shape",
    ["single_item", "numeric_task_id", "string_total_count", "missing_task_config", "missing_download_url"],
)
def test_each_odd_shape_over_a_socket(shape: str, fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(
        accounts=1, tasks=51, faults=Faults(odd_shapes=frozenset({shape}))
    )  # page 2: one item
    frame = list_tasks(box.accounts, progress=False)
    account = box.accounts[0].name
    if shape == "missing_task_config":
        assert frame["window_start"].isna().all() and frame["window_end"].isna().all()
        assert_equals_truth(frame, box, [c for c in COMPARED if not c.startswith("window")])
    elif shape == "missing_download_url":
        assert frame["download_url"].isna().all()
        assert all(
            remembered(account, k, t) is None for k, t in zip(frame["kind"], frame["task_id"], strict=True)
        )
        assert_equals_truth(frame, box, [c for c in COMPARED if c != "download_url"])
    else:
        assert_equals_truth(frame, box)


def test_empty_data_over_a_socket(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=1, tasks=0, faults=Faults(odd_shapes=frozenset({"empty_data"})))
    account = box.accounts[0]
    for row in list_tasks(account, progress=False).itertuples():
        delete_export(account, row.kind, row.task_id)
    frame = list_tasks(account, progress=False)
    assert len(frame) == 0 and list(frame.columns) == list(TASK_COLUMNS)
    empty_pages = [r for r in box.requests if r["action"].startswith("Describe") and r["status"] == 200]
    assert empty_pages


def test_task_created_between_two_page_fetches(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=1, tasks=120, faults=Faults(insert_task_after_page=1))
    frame = list_tasks(box.accounts, progress=False)
    for kind in ("summary", "detail"):
        assert len(box.truth.tasks(box.accounts[0].name, kind)) == 121  # the inserted one is there
    assert_equals_truth(frame, box)
    first_pages = [r for r in box.requests if r["params"].get("PageNumber") == "1"]
    assert len(first_pages) == 4  # each kind was walked again, once


def test_task_created_after_a_middle_page(fresh_sandbox: Callable[..., Sandbox]) -> None:
    # Pages 2..4 go concurrently: when page 2 is served last, the task is created after the walk
    # and rightly missing; otherwise the walk is repeated. Never doubled, never anything else missing.
    box = fresh_sandbox(accounts=1, tasks=160, faults=Faults(insert_task_after_page=2))
    frame = list_tasks(box.accounts, progress=False)
    for kind in ("summary", "detail"):
        truth = box.truth.tasks(box.accounts[0].name, kind)
        got = frame[frame["kind"] == kind]
        assert got["task_id"].is_unique
        late = set(truth.loc[truth["task_name"] == "inserted while listing", "task_id"])
        assert len(late) == 1
        assert set(got["task_id"]) in (set(truth["task_id"]), set(truth["task_id"]) - late)


def test_listing_under_faults_equals_truth_over_20_seeded_runs() -> None:
    faults = Faults(throttle=0.30, error500=0.05, drop=0.02)
    met: set[str] = set()
    for seed in range(20):
        with Sandbox(
            seed=seed, now="2026-11-20T08:00:00Z", clock="frozen", accounts=2, tasks=60, faults=faults
        ) as box:
            frame = list_tasks(box.accounts, progress=False, client_factory=FAST)
            assert_equals_truth(frame, box)
            met.update(r["fault"] for r in box.requests if r["fault"])
    assert {"throttle", "error500", "drop"} <= met


def test_a_page_that_never_succeeds_raises_never_a_short_frame(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=2, tasks=120, faults=Faults(fail_pages=(2,), fail_account="demo-media"))
    with pytest.raises(IncompleteListingError) as caught:
        list_tasks(box.accounts, "detail", progress=False, client_factory=FAST)
    error = caught.value
    assert (error.account, error.kind, error.pages) == ("demo-media", "detail", (2,))
    assert "demo-media" in str(error) and "page(s) 2 of 3" in str(error)
    truth = box.truth.tasks("demo-media", "detail")
    assert len(error.frame) == 120 - 50 and set(error.frame["task_id"]) < set(truth["task_id"])
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        frame = list_tasks(box.accounts, "detail", errors="collect", progress=False, client_factory=FAST)
    assert set(frame["account"].unique()) == {"demo-shop"} and len(frame) == 120
    assert frame.attrs["errors"][0]["code"] == "IncompleteListingError" and len(warned) == 1


def test_an_account_with_a_bad_key_is_named(sandbox: Sandbox) -> None:
    good = sandbox.accounts[0]
    bad = Account(
        "broken",
        good.access_key_id,
        "wrong-secret",
        security_token=good.security_token,
        endpoint=good.endpoint,
    )
    with pytest.raises(AuthenticationError, match="'broken'") as caught:
        list_tasks([good, bad], progress=False)
    assert caught.value.code == "SignatureDoesNotMatch" and "wrong-secret" not in str(caught.value)
    with pytest.warns(UserWarning, match="broken"):
        frame = list_tasks([good, bad], errors="collect", progress=False)
    assert set(frame["account"].unique()) == {good.name}
    assert {e["account"] for e in frame.attrs["errors"]} == {"broken"}


def test_an_account_whose_client_cannot_be_made_is_named_and_collected(sandbox: Sandbox) -> None:
    # Plain http:// to a remote host is refused when the client is made, before any connection:
    # that is this one account's failure, not the whole listing's.
    good = sandbox.accounts[0]
    remote = Account("remote", "LTAIexample-0000KlMn", "remote-secret", endpoint="http://example.com")
    with pytest.raises(ConfigurationError, match="'remote'"):
        list_tasks([good, remote], progress=False)
    with pytest.warns(UserWarning, match="remote"):
        frame = list_tasks([good, remote], errors="collect", progress=False)
    assert set(frame["account"].unique()) == {good.name} and len(frame) > 0
    records = frame.attrs["errors"]
    assert [(r["account"], r["kind"], r["code"]) for r in records] == [
        ("remote", "summary", "ConfigurationError"),
        ("remote", "detail", "ConfigurationError"),
    ]
    assert "http://" in records[0]["message"] and "remote-secret" not in str(records)


# --- the lifecycle over a socket -----------------------------------------------------------------------


def test_create_wait_fetch_url_coverage_delete(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=1, tasks=5, task_delay=30)
    account = box.accounts[0]
    domains = list(box.world.accounts[0].domain_names[:2])
    flow = create_export(account, "detail", "2026-11-10T16:00:00Z", "2026-11-12T16:00:00Z", name="two days")
    vas = create_export(
        account, "detail", "2026-11-11T16:00:00Z", "2026-11-13T16:00:00Z", type="vas", domains=domains
    )
    summary = create_export(
        account, "summary", "2026-11-10T16:00:00Z", "2026-11-11T16:00:00Z", name="one day"
    )
    assert flow.status == "created" and (flow.type, flow.domains) == ("flow", "all")
    truth = box.truth.tasks(account.name, "all").set_index("task_id")
    assert truth.loc[flow.task_id, "type"] == "flow" and truth.loc[vas.task_id, "type"] == "vas"
    assert truth.loc[flow.task_id, "window_end"] == pd.Timestamp("2026-11-12T16:00:00Z")
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        box.advance(seconds)

    done = wait([flow, vas, summary], sleep=sleep, clock=lambda: clock[0], progress=False)
    assert done["task_id"].tolist() == [flow.task_id, vas.task_id, summary.task_id]
    assert set(done["status"]) <= {"success", "failed"} and clock[0] >= 30
    assert_equals_truth(list_tasks(account, progress=False), box)
    succeeded = done[done["status"] == "success"]
    for row in succeeded.itertuples():
        entry = refresh(account, row.kind, row.task_id)
        assert (
            entry.url.startswith(row.download_url + "?")
            and remembered(account.name, row.kind, row.task_id) == entry
        )
    table = coverage(done, "2026-11-10T16:00:00Z", "2026-11-14T16:00:00Z")
    flow_rows = table[(table["kind"] == "detail") & (table["type"] == "flow")]
    if flow.task_id in set(succeeded["task_id"]):
        assert flow_rows["part"].tolist() == ["covered", "gap"]
    for task in (flow, vas, summary):
        delete_export(account, task.kind, task.task_id)
    left = box.truth.tasks(account.name, "all")
    assert not {flow.task_id, vas.task_id, summary.task_id} & set(left["task_id"])


class LosingSession(requests.Session):
    """Sends every request; the reply to the first Create is lost on the way back (the call ran)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        action = (kwargs.get("headers") or {}).get("x-acs-action", "")
        if action.startswith("Create") and not self.lost:
            self.lost += 1
            raise requests.ConnectionError("Connection aborted: RemoteDisconnected")
        return response


def test_create_whose_reply_was_lost_is_not_created_twice(fresh_sandbox: Callable[..., Sandbox]) -> None:
    box = fresh_sandbox(accounts=1, tasks=3)
    account = box.accounts[0]
    session = LosingSession()
    before = set(box.truth.tasks(account.name, "detail")["task_id"])
    task = create_export(
        account,
        "detail",
        "2026-11-10T16:00:00Z",
        "2026-11-11T16:00:00Z",
        client_factory=functools.partial(CdnClient, session=session),
    )
    after = box.truth.tasks(account.name, "detail")
    assert session.lost == 1
    assert set(after["task_id"]) - before == {task.task_id}
    creates = [r for r in box.requests if r["action"].startswith("Create")]
    assert len(creates) == 1


def test_the_one_year_rule_is_the_sandboxs_own(fresh_sandbox: Callable[..., Sandbox]) -> None:
    # Sandbox time 2025-06: a May 2025 window is recent for it, though over a year old for this machine.
    box = fresh_sandbox(accounts=1, tasks=3, now="2025-06-01T00:00:00Z")
    account = box.accounts[0]
    task = create_export(account, "detail", "2025-05-01T16:00:00Z", "2025-05-02T16:00:00Z")
    assert task.task_id in set(box.truth.tasks(account.name, "detail")["task_id"])
    with pytest.raises(InvalidParameterError) as caught:  # too old by the sandbox's clock: its refusal
        create_export(account, "detail", "2024-05-01T16:00:00Z", "2024-05-02T16:00:00Z")
    assert caught.value.code == "InvalidStartTime.ValueNotSupported"


def test_summary_create_whose_reply_was_lost_is_told_from_an_older_one(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    # A summary export carries no tag: after a lost reply it is told apart from an older export of the
    # same window by what was listed before the create, also when nothing was listed in this process yet.
    box = fresh_sandbox(accounts=1, tasks=3)
    account = box.accounts[0]
    older = create_export(account, "summary", "2026-11-10T16:00:00Z", "2026-11-11T16:00:00Z")
    default_session().urls.clear()  # a new process: nothing listed yet
    session = LosingSession()
    task = create_export(
        account,
        "summary",
        "2026-11-10T16:00:00Z",
        "2026-11-11T16:00:00Z",
        client_factory=functools.partial(CdnClient, session=session),
    )
    assert session.lost == 1 and task.task_id != older.task_id
    truth = box.truth.tasks(account.name, "summary")
    same_window = truth[truth["window_start"] == pd.Timestamp("2026-11-10T16:00:00Z")]
    assert set(same_window["task_id"]) == {older.task_id, task.task_id}
    assert len([r for r in box.requests if r["action"].startswith("Create")]) == 2


def test_concurrent_pages_reuse_connections_without_overflowing_the_pool(
    fresh_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    # Both kinds' pages of one account go through one client at once (16 requests in flight): a pool
    # smaller than that discards connections (a fresh TLS handshake each with the real service) and
    # urllib3 logs a warning for every one.
    box = fresh_sandbox(accounts=1, tasks=500, faults=Faults(latency=0.02))
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        frame = list_tasks(box.accounts, progress=False)
    assert len(frame) == 1000
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_listings_reuse_one_client_per_account(sandbox: Sandbox) -> None:
    """Without a client factory, repeated listings (and wait's polls) reuse each account's connections."""

    made: list[str] = []

    def counting(account: Account, **options: Any) -> CdnClient:
        made.append(account.name)
        return CdnClient(account, **options)

    with Session(client_factory=counting) as shared:
        first = listing.list_tasks(sandbox.accounts, progress=False, session=shared)
        second = listing.list_tasks(sandbox.accounts, progress=False, session=shared)
    assert sorted(made) == sorted(account.name for account in sandbox.accounts)
    assert first.equals(second)
