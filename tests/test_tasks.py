"""tasks.py without a server: reply parsing, the URL memory, create/wait/delete logic, list_tasks options.

The edge faked here is the client (``client_factory``): a small in-memory service answering ``call``.
Everything over real sockets is in ``test_tasks_sandbox.py``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

import usagekit
from usagekit import listing
from usagekit import tasks as tasks_module
from usagekit import windows as windows_module
from usagekit.accounts import Account
from usagekit.errors import (
    ApiError,
    ArgumentError,
    AuthenticationError,
    ConfigurationError,
    MayHaveRunError,
    PermissionDeniedError,
    ResponseError,
    TaskStateError,
    WaitTimeoutError,
)
from usagekit.frames import parse_task_tag, task_frame
from usagekit.lifecycle import create_export, delete_export, wait
from usagekit.listing import list_tasks, refresh
from usagekit.memory import Remembered, UrlMemory, remembered, resolve_account
from usagekit.session import default_session
from usagekit.tasks import ExportTask, parse_page

SECRET_QUERY = "Expires=1&OSSAccessKeyId=AK&Signature=TOPSECRET"


@pytest.fixture(autouse=True)
def empty_memory() -> Iterator[None]:
    default_session().urls.clear()
    yield
    default_session().urls.clear()


def item(task_id: str, status: str = "success", **extra: Any) -> dict[str, Any]:
    base = {
        "TaskId": task_id,
        "TaskName": f"uk:flow:all:t{task_id}",
        "Status": status,
        "CreateTime": f"2026-11-{1 + int(task_id) % 20:02d}T08:00:00Z",
        "UpdateTime": "2026-11-20T08:00:00Z",
        "DownloadUrl": f"https://bucket.example/x/{task_id}.xlsx?{SECRET_QUERY}"
        if status == "success"
        else "",
        "TaskConfig": {"StartTime": "2026-10-01T16:00:00Z", "EndTime": "2026-10-02T15:59:59Z"},
    }
    base.update(extra)
    return base


def reply(items: Any, total: Any, number: Any = 1, size: Any = 50) -> dict[str, Any]:
    return {
        "RequestId": "r",
        "UsageDataPerPage": {
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": total,
            "Data": {"DataItem": items},
        },
    }


@pytest.mark.parametrize(
    "odd",
    [
        {},  # the shape the service sends: read in one go
        {"CreateTime": "2026-11-17T16:00:00+08:00"},  # the same instant, another offset: the general way
        {"TaskId": 129456},
        {"TaskConfig": json.dumps({"StartTime": "2026-10-01T16:00:00Z", "EndTime": "2026-10-02T15:59:59Z"})},
        {"CreateTime": " 2026-11-17T08:00:00Z "},
    ],
)
def test_every_shape_of_a_task_reads_to_the_same_task(odd: dict[str, Any]) -> None:
    listed = parse_page(reply([item("129456", **odd)], 1), account="prod", kind="detail").items[0]
    assert listed.task == ExportTask(
        "prod",
        "detail",
        "129456",
        task_name="uk:flow:all:t129456",
        status="success",
        created=datetime(2026, 11, 17, 8, tzinfo=UTC),
        updated=datetime(2026, 11, 20, 8, tzinfo=UTC),
        window_start=datetime(2026, 10, 1, 16, tzinfo=UTC),
        window_end=datetime(2026, 10, 2, 16, tzinfo=UTC),
        type="flow",
        domains="all",
        download_url="https://bucket.example/x/129456.xlsx",
    )
    assert listed.url == f"https://bucket.example/x/129456.xlsx?{SECRET_QUERY}"
    assert listed.task.created.utcoffset() == timedelta(0)


class FakeService:
    """Tasks per (account name, kind), paged like the API; scripted failures per account or action."""

    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail: dict[tuple[str, str], Exception] = {}  # (account, action) -> raise every time
        self.fail_once: dict[tuple[str, str], Exception] = {}
        self.on_create: Any = None
        self.next_id = 9000

    def factory(self, account: Account) -> FakeClient:
        return FakeClient(self, account)

    def handle(self, account: Account, action: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((account.name, action, dict(params)))
        key = (account.name, action)
        if key in self.fail:
            raise self.fail[key]
        if key in self.fail_once:
            error = self.fail_once.pop(key)
            if action.startswith("Create"):
                self._create(account, action, params)  # it ran, but the reply was lost
            raise error
        if action.startswith("Describe"):
            kind = "detail" if "Detail" in action else "summary"
            listing = self.tasks.get((account.name, kind), [])
            number, size = int(params["PageNumber"]), int(params["PageSize"])
            return reply(listing[(number - 1) * size : number * size], len(listing), number, size)
        if action.startswith("Create"):
            return self._create(account, action, params)
        if action.startswith("Delete"):
            kind = "detail" if "Detail" in action else "summary"
            self.tasks[(account.name, kind)] = [
                t for t in self.tasks.get((account.name, kind), []) if t["TaskId"] != params["TaskId"]
            ]
            return {"RequestId": "r"}
        raise AssertionError(action)

    def _create(self, account: Account, action: str, params: dict[str, Any]) -> dict[str, Any]:
        kind = "detail" if "Detail" in action else "summary"
        self.next_id += 1
        task_id = str(self.next_id)
        new = item(task_id, "created", TaskName=params.get("TaskName"), DownloadUrl="")
        new["TaskConfig"] = {"StartTime": params["StartTime"], "EndTime": params["EndTime"]}
        self.tasks.setdefault((account.name, kind), []).insert(0, new)
        return {"RequestId": "r", "TaskId": task_id, **new["TaskConfig"]}


class FakeClient:
    def __init__(self, service: FakeService, account: Account) -> None:
        self.service = service
        self.account = account
        self.closed = False

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        return self.service.handle(self.account, action, {k: v for k, v in params.items() if v is not None})

    def close(self) -> None:
        self.closed = True


def account(name: str = "prod") -> Account:
    return Account(name, "LTAIexample-0000KlMn", "secret-" + name, endpoint="http://127.0.0.1:9")


# --- parsing ------------------------------------------------------------------------------------------


def test_parse_reads_the_reference_shape() -> None:
    page = parse_page(reply([item("129456")], 1), account="prod", kind="detail")
    task = page.items[0].task
    assert (page.number, page.size, page.total) == (1, 50, 1)
    assert task.task_id == "129456" and task.status == "success"
    assert task.window_start == datetime(2026, 10, 1, 16, tzinfo=UTC)
    assert task.window_end == datetime(2026, 10, 2, 16, tzinfo=UTC)  # inclusive 15:59:59 made exclusive
    assert (task.type, task.domains) == ("flow", "all")
    assert task.download_url == "https://bucket.example/x/129456.xlsx"
    assert page.items[0].url.endswith(SECRET_QUERY)


def test_parse_quirks() -> None:
    odd = item("7", TaskId=7, Status="paused")
    del odd["TaskConfig"]
    del odd["DownloadUrl"]
    page = parse_page(reply(odd, "1", "1", "50"), account="prod", kind="detail")  # one object, not a list
    task = page.items[0].task
    assert (page.total, page.size, page.number) == (1, 50, 1)
    assert task.task_id == "7" and task.status == "paused"
    assert task.window_start is None and task.window_end is None and task.download_url is None
    assert page.items[0].url is None


def test_parse_numeric_ids_never_become_floats() -> None:
    page = parse_page(reply([item("1", TaskId=129456.0)], 1), account="prod", kind="summary")
    assert page.items[0].task.task_id == "129456"


@pytest.mark.parametrize(
    "body",
    [
        {"UsageDataPerPage": {"PageNumber": 3, "PageSize": 50, "TotalCount": 100, "Data": {}}},
        {"UsageDataPerPage": {"PageNumber": 3, "PageSize": 50, "TotalCount": 100}},
        {"UsageDataPerPage": {"PageNumber": 3, "PageSize": 50, "TotalCount": 100, "Data": {"DataItem": []}}},
        {"PageNumber": 3, "PageSize": 50, "TotalCount": 100},  # the stale document's top-level fields
    ],
)
def test_parse_empty_pages(body: dict[str, Any]) -> None:
    page = parse_page(body, account="prod", kind="summary")
    assert page.items == () and page.total == 100


def test_parse_task_config_as_json_text_and_whole_minute_end() -> None:
    config = json.dumps({"StartTime": "2026-10-01T20:00:00Z", "EndTime": "2026-10-01T21:00:00Z"})
    page = parse_page(reply([item("1", TaskConfig=config)], 1), account="prod", kind="detail")
    assert page.items[0].task.window_end == datetime(2026, 10, 1, 21, tzinfo=UTC)


def test_type_and_domains_only_from_detail_tags() -> None:
    summary = parse_page(reply([item("1")], 1), account="prod", kind="summary").items[0].task
    console = parse_page(reply([item("2", TaskName="march")], 1), account="prod", kind="detail").items[0].task
    assert (summary.type, summary.domains) == (None, None)
    assert (console.type, console.domains) == (None, None)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"RequestId": "r"}, "no TotalCount"),
        (reply([{"Status": "success"}], 1), "without TaskId"),
        (reply([item("1", CreateTime="yesterday")], 1), "not an ISO 8601 time"),
        (reply("nonsense", 1), "not a list"),
    ],
)
def test_parse_refuses_what_it_cannot_read_without_leaking_urls(body: dict[str, Any], what: str) -> None:
    with pytest.raises(ResponseError, match=what) as caught:
        parse_page(body, account="prod", kind="detail")
    assert "TOPSECRET" not in str(caught.value) and "prod" in str(caught.value)


# --- ExportTask and the memory ------------------------------------------------------------------------


def test_export_task_round_trips_through_a_frame_and_never_holds_a_query() -> None:
    task = ExportTask(
        "prod",
        "detail",
        "1",
        task_name="uk:vas:some:abcd1234 mine",
        status="success",
        created=datetime(2026, 11, 1, tzinfo=UTC),
        download_url=f"https://b.example/1.xlsx?{SECRET_QUERY}",
    )
    assert task.download_url == "https://b.example/1.xlsx" and "TOPSECRET" not in repr(task)
    assert (task.type, task.domains) == ("vas", "some")
    frame = task_frame([task.to_row()])
    again = ExportTask.from_row(frame.iloc[0])
    assert again == task
    assert tasks_module.tasks_of(frame) == [task]


def test_remembered_never_shows_the_url() -> None:
    entry = Remembered(account(), f"https://b/x.xlsx?{SECRET_QUERY}", datetime.now(UTC))
    assert "TOPSECRET" not in repr(entry) and "TOPSECRET" not in str(entry)


def test_listing_remembers_full_urls_and_the_very_account_object() -> None:
    service = FakeService()
    service.tasks[("prod", "detail")] = [item(str(i)) for i in range(3)] + [item("9", "created")]
    prod = account()
    frame = list_tasks(prod, "detail", client_factory=service.factory, progress=False)
    assert not frame["download_url"].str.contains("Signature").any()
    entry = remembered("prod", "detail", "1")
    assert entry is not None and entry.url.endswith(SECRET_QUERY) and entry.account is prod
    assert remembered("prod", "detail", "9") is None  # not success: no URL
    assert remembered("prod", "summary", "1") is None
    assert resolve_account("prod") is prod
    # A complete listing replaces what was known: a task gone from it is forgotten.
    service.tasks[("prod", "detail")].pop(1)
    list_tasks(prod, "detail", client_factory=service.factory, progress=False)
    assert remembered("prod", "detail", "1") is None and remembered("prod", "detail", "2") is not None


def test_memory_is_bounded() -> None:
    memory = UrlMemory(max_listings=2)
    listed = tasks_module.ListedTask(ExportTask("a", "summary", "1"), "https://u?q", datetime.now(UTC))
    for name in ("a", "b", "c"):
        memory.store(account(name), "summary", [listed], complete=True)
    assert memory.get("a", "summary", "1") is None and memory.get("c", "summary", "1") is not None


def test_refresh_lists_again_and_checks_the_state() -> None:
    service = FakeService()
    service.tasks[("prod", "summary")] = [item("1"), item("2", "failed")]
    prod = account()
    entry = refresh(prod, "summary", "1", client_factory=service.factory)
    assert entry.url.endswith(SECRET_QUERY) and remembered("prod", "summary", "1") == entry
    with pytest.raises(TaskStateError, match="'failed', not 'success'"):
        refresh(prod, "summary", "2", client_factory=service.factory)
    with pytest.raises(TaskStateError, match="not listed any more"):
        refresh(prod, "summary", "3", client_factory=service.factory)


def test_resolve_account_matches_by_name_and_refuses_to_guess() -> None:
    a, b = account("a"), account("b")
    assert resolve_account("b", [a, b]) is b
    with pytest.raises(ConfigurationError, match="refusing to guess"):
        resolve_account("a", [a, Account("a", "LTAI5tZZZZZZZZZZZZZZ", "other")])
    with pytest.raises(ConfigurationError, match="no account named 'c'"):
        resolve_account("c", [a, b])


def test_resolve_account_discovers_when_nothing_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    import usagekit.discovery

    found = account("found")
    monkeypatch.setattr(usagekit.discovery, "discover_accounts", lambda: [found])
    assert resolve_account("found") is found


# --- list_tasks over many accounts ----------------------------------------------------------------------


def test_accounts_and_kinds_in_order_filters_applied() -> None:
    service = FakeService()
    service.tasks[("a", "summary")] = [item("1"), item("2", "failed")]
    service.tasks[("b", "detail")] = [item("3"), item("4", "created")]
    frame = list_tasks([account("a"), account("b")], client_factory=service.factory, progress=False)
    assert frame["task_id"].tolist() == ["2", "1", "4", "3"]  # a before b, summary first, newest first
    success = list_tasks(
        [account("a"), account("b")], status="success", client_factory=service.factory, progress=False
    )
    assert success["task_id"].tolist() == ["1", "3"]
    recent = list_tasks(
        [account("a"), account("b")],
        status=["created", "failed"],
        since=datetime(2026, 11, 4, tzinfo=UTC),
        client_factory=service.factory,
        progress=False,
    )
    assert recent["task_id"].tolist() == ["4"]
    assert str(recent["created"].dtype) == "datetime64[ns, UTC]"


def test_one_failing_account_raises_naming_it() -> None:
    service = FakeService()
    denied = AuthenticationError("InvalidAccessKeyId.NotFound", "no key", status=404, account="b")
    service.fail[("b", "DescribeUserUsageDataExportTask")] = denied
    with pytest.raises(AuthenticationError, match="account 'b'"):
        list_tasks([account("a"), account("b")], client_factory=service.factory, progress=False)


def test_collect_keeps_the_others_and_reports_json_records_once() -> None:
    service = FakeService()
    service.tasks[("a", "summary")] = [item("1")]
    denied = AuthenticationError("InvalidAccessKeyId.NotFound", "no key", status=404, account="b")
    service.fail[("b", "DescribeUserUsageDataExportTask")] = denied
    closed = PermissionDeniedError("OperationDenied", "CDN not opened", status=403, account="b")
    service.fail[("b", "DescribeUserUsageDetailDataExportTask")] = closed  # collected; a bug would surface
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = list_tasks(
            [account("a"), account("b")], errors="collect", client_factory=service.factory, progress=False
        )
    assert frame["task_id"].tolist() == ["1"]
    assert frame.attrs["errors"] == [
        {"account": "b", "kind": "summary", "code": "InvalidAccessKeyId.NotFound", "message": str(denied)},
        {"account": "b", "kind": "detail", "code": "OperationDenied", "message": str(closed)},
    ]
    json.dumps(frame.attrs)
    assert len(caught) == 1 and "b (summary): InvalidAccessKeyId.NotFound" in str(caught[0].message)


def test_clients_are_closed_and_names_must_be_unique() -> None:
    service = FakeService()
    made: list[FakeClient] = []

    def factory(acct: Account) -> FakeClient:
        made.append(FakeClient(service, acct))
        return made[-1]

    list_tasks([account("a"), account("b")], client_factory=factory, progress=False)
    assert len(made) == 2 and all(client.closed for client in made)
    with pytest.raises(ArgumentError, match="'a'"):
        list_tasks([account("a"), account("a")], client_factory=factory, progress=False)
    with pytest.raises(ValueError, match="kind"):
        list_tasks(account("a"), kind="both", client_factory=factory)


@pytest.mark.parametrize(
    ("progress", "env", "drawn"), [(True, None, True), (True, "1", False), (False, None, False)]
)
def test_progress_bars(
    progress: bool,
    env: str | None,
    drawn: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if env is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", env)
    service = FakeService()
    service.tasks[("a", "summary")] = [item(str(i)) for i in range(120)]
    list_tasks([account("a"), account("b")], client_factory=service.factory, progress=progress)
    err = capsys.readouterr().err
    assert ("pages" in err and "accounts" in err) is drawn


def test_progress_defaults_to_off_when_not_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    from usagekit.progress import progress_enabled

    assert progress_enabled(None) is False  # pytest captures stderr: not a terminal


# --- create ---------------------------------------------------------------------------------------------

NOW = pd.Timestamp.now(tz="UTC").floor("D")


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"start": NOW, "end": NOW}, "must come before end"),
        ({"start": NOW - timedelta(days=32), "end": NOW}, "at most 31 days"),
        ({"start": NOW - timedelta(days=400), "end": NOW - timedelta(days=399)}, "last year only"),
        ({"start": NOW + timedelta(seconds=30), "end": NOW + timedelta(days=1)}, "whole minutes"),
        ({"type": "bandwidth"}, "type must be"),
        ({"language": "fr"}, "language must be"),
    ],
)
def test_create_validates_locally(kwargs: dict[str, Any], what: str) -> None:
    service = FakeService()
    arguments = {"start": NOW - timedelta(days=2), "end": NOW - timedelta(days=1), **kwargs}
    with pytest.raises(ArgumentError, match=what) as caught:
        create_export(account(), "detail", client_factory=service.factory, **arguments)
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, ApiError)  # nothing was sent
    assert caught.value.account == "prod" and service.calls == []


def test_create_refuses_domains_for_summary() -> None:
    with pytest.raises(ArgumentError, match="domains are for detail"):
        create_export(account(), "summary", NOW - timedelta(days=1), NOW, domains=["a.example"])


def test_create_detail_sends_the_tag_and_an_inclusive_end() -> None:
    service = FakeService()
    task = create_export(
        account(),
        "detail",
        "2026-11-01T16:00:00Z",
        "2026-11-02T16:00:00Z",
        domains=["a.example", "b.example"],
        type="vas",
        name="march",
        client_factory=service.factory,
    )
    (_, action, params) = service.calls[0]
    assert action == "CreateUsageDetailDataExportTask"
    assert params["StartTime"] == "2026-11-01T16:00:00Z" and params["EndTime"] == "2026-11-02T15:59:59Z"
    assert params["DomainNames"] == "a.example,b.example" and params["Type"] == "vas"
    tag = parse_task_tag(params["TaskName"])
    assert tag is not None and (tag.type, tag.domains, tag.name) == ("vas", "some", "march")
    assert len(tag.token) == 8
    assert task.status == "created" and (task.type, task.domains) == ("vas", "some")
    assert task.window_end == datetime(2026, 11, 2, 16, tzinfo=UTC)


def test_create_summary_uses_the_plain_name_and_aware_times() -> None:
    service = FakeService()
    beijing = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(hours=-8)
    create_export(
        account(), "summary", beijing - timedelta(days=1), beijing, name="oct", client_factory=service.factory
    )
    params = next(call[2] for call in service.calls if call[1] == "CreateUserUsageDataExportTask")
    assert params["TaskName"] == "oct" and "Type" not in params and "DomainNames" not in params
    assert params["EndTime"] == "2026-11-01T15:59:59Z"


def test_create_that_may_have_run_is_found_not_repeated() -> None:
    service = FakeService()
    lost = MayHaveRunError("CreateUsageDetailDataExportTask may have run", account="prod")
    service.fail_once[("prod", "CreateUsageDetailDataExportTask")] = lost
    task = create_export(
        account(), "detail", "2026-11-01T16:00:00Z", "2026-11-02T16:00:00Z", client_factory=service.factory
    )
    actions = [call[1] for call in service.calls]
    assert actions.count("CreateUsageDetailDataExportTask") == 1
    assert len(service.tasks[("prod", "detail")]) == 1 and task.task_id == "9001"


def test_create_that_did_not_run_is_created_again_once() -> None:
    service = FakeService()
    service.fail[("prod", "CreateUserUsageDataExportTask")] = MayHaveRunError("lost", account="prod")
    with pytest.raises(MayHaveRunError):
        create_export(
            account(),
            "summary",
            "2026-11-01T16:00:00Z",
            "2026-11-02T16:00:00Z",
            client_factory=service.factory,
        )
    actions = [call[1] for call in service.calls]
    assert actions == [
        "DescribeUserUsageDataExportTask",  # what exists before: nothing was listed in this process
        "CreateUserUsageDataExportTask",
        "DescribeUserUsageDataExportTask",
        "CreateUserUsageDataExportTask",
    ]


def test_summary_create_that_may_have_run_is_found_by_window_and_name() -> None:
    service = FakeService()
    service.tasks[("prod", "summary")] = [item("5", TaskName="oct")]  # same name, other window
    service.fail_once[("prod", "CreateUserUsageDataExportTask")] = MayHaveRunError("lost", account="prod")
    task = create_export(
        account(),
        "summary",
        "2026-11-01T16:00:00Z",
        "2026-11-02T16:00:00Z",
        name="oct",
        client_factory=service.factory,
    )
    assert task.task_id == "9001" and len(service.tasks[("prod", "summary")]) == 2


# --- wait and delete ------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_wait_polls_with_backoff_until_final() -> None:
    service = FakeService()
    service.tasks[("prod", "detail")] = [item("1", "created"), item("2", "success")]
    fake = FakeTime()
    polls = [0]
    original = service.handle

    def handle(acct: Account, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action.startswith("Describe"):
            polls[0] += 1
            if polls[0] == 4:
                service.tasks[("prod", "detail")][0] = item("1", "failed")
        return original(acct, action, params)

    service.handle = handle  # type: ignore[method-assign]
    prod = account()
    pending = [ExportTask("prod", "detail", "2"), ExportTask("prod", "detail", "1")]
    done = wait(pending, accounts=[prod], sleep=fake.sleep, clock=fake.clock, client_factory=service.factory)
    assert done["task_id"].tolist() == ["2", "1"] and done["status"].tolist() == ["success", "failed"]
    assert fake.sleeps == [2.0, 3.0, 4.5]


def test_wait_times_out_naming_the_running_tasks() -> None:
    service = FakeService()
    service.tasks[("prod", "summary")] = [item("1", "created")]
    fake = FakeTime()
    with pytest.raises(WaitTimeoutError, match="1 \\(summary, prod: created\\)") as caught:
        wait(
            ExportTask("prod", "summary", "1"),
            accounts=[account()],
            timeout=10,
            sleep=fake.sleep,
            clock=fake.clock,
            client_factory=service.factory,
        )
    assert isinstance(caught.value, TimeoutError) and caught.value.task_ids == ("1",)
    assert fake.sleeps == [2.0, 3.0, 4.5, 0.5]  # the last pause stops at the timeout


def test_wait_for_a_task_that_vanished() -> None:
    service = FakeService()
    with pytest.raises(TaskStateError, match="no longer listed"):
        wait(ExportTask("prod", "summary", "1"), accounts=[account()], client_factory=service.factory)


def test_delete_forgets_the_url_and_checks_before_repeating() -> None:
    service = FakeService()
    service.tasks[("prod", "detail")] = [item("1"), item("2")]
    prod = account()
    list_tasks(prod, "detail", client_factory=service.factory, progress=False)
    delete_export(prod, "detail", "1", client_factory=service.factory)
    assert remembered("prod", "detail", "1") is None and remembered("prod", "detail", "2") is not None
    original = service.handle

    def lose_reply(acct: Account, action: str, params: dict[str, Any]) -> dict[str, Any]:
        result = original(acct, action, params)
        if action.startswith("Delete"):
            raise MayHaveRunError("lost", account="prod")
        return result

    service.handle = lose_reply  # type: ignore[method-assign]
    delete_export(prod, "detail", "2", client_factory=service.factory)  # ran: listing proves it, no repeat
    assert [c[1] for c in service.calls[-2:]] == [
        "DeleteUsageDetailDataExportTask",
        "DescribeUserUsageDetailDataExportTask",
    ]


# --- iter_tasks across a repeated walk ------------------------------------------------------------------


def test_iter_tasks_yields_each_task_once_across_a_repeated_walk() -> None:
    service = FakeService()
    service.tasks[("prod", "summary")] = [item(str(i)) for i in range(120)]
    original = service.handle
    inserted = []

    def insert_after_first_page(acct: Account, action: str, params: dict[str, Any]) -> dict[str, Any]:
        result = original(acct, action, params)
        if params.get("PageNumber") == 1 and not inserted:
            inserted.append(True)
            service.tasks[("prod", "summary")].insert(0, item("500"))
        return result

    service.handle = insert_after_first_page  # type: ignore[method-assign]
    seen = [task.task_id for task in listing.iter_tasks(account(), "summary", client_factory=service.factory)]
    assert len(seen) == len(set(seen)) == 121 and "500" in seen
    assert sum(1 for call in service.calls if call[2].get("PageNumber") == 1) == 2


def test_list_tasks_discovers_accounts_when_none_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import usagekit.discovery

    service = FakeService()
    service.tasks[("found", "detail")] = [item("1")]
    monkeypatch.setattr(usagekit.discovery, "discover_accounts", lambda: [account("found")])
    frame = list_tasks(kind="detail", client_factory=service.factory, progress=False)
    assert frame["account"].tolist() == ["found"]


# --- coverage ---------------------------------------------------------------------------------------------


def test_coverage_groups_by_type_and_reports_unknown_types_apart() -> None:
    rows = [
        {
            "account": "a",
            "kind": "detail",
            "task_id": "1",
            "status": "success",
            "type": "flow",
            "window_start": "2026-11-01T00:00Z",
            "window_end": "2026-11-03T00:00Z",
        },
        {
            "account": "a",
            "kind": "detail",
            "task_id": "2",
            "status": "success",
            "type": "vas",
            "window_start": "2026-11-02T00:00Z",
            "window_end": "2026-11-04T00:00Z",
        },
        {
            "account": "a",
            "kind": "detail",
            "task_id": "3",
            "status": "success",
            "type": None,
            "window_start": "2026-11-01T00:00Z",
            "window_end": "2026-11-05T00:00Z",
        },
        {
            "account": "a",
            "kind": "detail",
            "task_id": "4",
            "status": "failed",
            "type": "flow",
            "window_start": "2026-11-03T00:00Z",
            "window_end": "2026-11-05T00:00Z",
        },
        {
            "account": "a",
            "kind": "summary",
            "task_id": "5",
            "status": "success",
            "window_start": "2026-10-01T00:00Z",
            "window_end": "2026-11-02T00:00Z",
        },
        {
            "account": "b",
            "kind": "summary",
            "task_id": "6",
            "status": "created",
            "window_start": "2026-11-01T00:00Z",
            "window_end": "2026-11-05T00:00Z",
        },
        {"account": "b", "kind": "summary", "task_id": "7", "status": "success"},  # window unknown
    ]
    table = windows_module.coverage(
        task_frame(rows), datetime(2026, 11, 1, tzinfo=UTC), "2026-11-05T00:00:00Z"
    )
    day = pd.Timestamp("2026-11-01T00:00Z")

    def parts(account_name: str, kind: str, kind_type: str | None) -> list[tuple[str, int, int, Any]]:
        chosen = table[(table["account"] == account_name) & (table["kind"] == kind)]
        chosen = chosen[chosen["type"].isna()] if kind_type is None else chosen[chosen["type"] == kind_type]
        return [
            (r.part, (r.start - day).days, (r.end - day).days, None if pd.isna(r.task_ids) else r.task_ids)
            for r in chosen.itertuples()
        ]

    assert parts("a", "detail", "flow") == [("covered", 0, 2, "1"), ("gap", 2, 4, None)]  # failed 4 ignored
    assert parts("a", "detail", "vas") == [("gap", 0, 1, None), ("covered", 1, 3, "2"), ("gap", 3, 4, None)]
    assert parts("a", "detail", "unknown") == [("covered", 0, 4, "3")]  # not taken for flow
    assert parts("a", "summary", None) == [("covered", 0, 1, "5"), ("gap", 1, 4, None)]  # clipped
    assert parts("b", "summary", None) == [("gap", 0, 4, None)]
    assert [str(table[c].dtype) for c in ("start", "end")] == ["datetime64[ns, UTC]"] * 2
    assert table["task_ids"].dtype == pd.StringDtype() and table["part"].dtype == "category"
    assert list(table["part"].cat.categories) == ["covered", "gap", "overlap"]


def test_coverage_merges_overlaps_and_takes_export_tasks() -> None:
    windows = [("1", 0, 3), ("2", 1, 2), ("3", 3, 5)]
    tasks = [
        ExportTask(
            "a",
            "detail",
            i,
            status="success",
            type="flow",
            window_start=datetime(2026, 11, 1 + s, tzinfo=UTC),
            window_end=datetime(2026, 11, 1 + e, tzinfo=UTC),
        )
        for i, s, e in windows
    ]
    table = windows_module.coverage(tasks, "2026-11-01", "2026-11-07")
    # no summary and no vas export at all: each a whole gap (tests/test_tidy_coverage.py)
    assert table[table["type"] != "flow"]["part"].tolist() == ["gap", "gap"]
    table = table[table["type"] == "flow"]
    assert table["part"].tolist() == ["covered", "overlap", "covered", "gap"]
    assert table["task_ids"].tolist()[:3] == ["1", "1,2", "1,3"]  # adjacent single covers merge
    assert table["end"].iloc[2] == pd.Timestamp("2026-11-06T00:00Z")
    assert windows_module.coverage([], "2026-11-01", "2026-11-02").empty
    with pytest.raises(ValueError, match="start < end"):
        windows_module.coverage(tasks, "2026-11-02", "2026-11-01")


def test_abandoning_iter_tasks_stops_its_page_threads() -> None:
    import threading

    service = FakeService()
    service.tasks[("prod", "detail")] = [item(str(i)) for i in range(1000)]
    tasks = listing.iter_tasks(account(), "detail", client_factory=service.factory)
    next(tasks)
    tasks.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("usagekit-page")]


def test_times_pandas_cannot_hold_are_nat_with_one_warning_not_a_failed_listing() -> None:
    """Year 9999 and year 1 are valid ISO 8601 the service can send: NaT and a warning, never a failure."""
    service = FakeService()
    far = item("7", TaskConfig={"StartTime": "2026-10-01T16:00:00Z", "EndTime": "9999-12-31T23:59:59Z"})
    early = item("8", CreateTime="0001-01-01T00:00:00+08:00")
    service.tasks[("prod", "detail")] = [far, early, item("9")]
    with pytest.warns(tasks_module.TimeRangeWarning) as seen:
        frame = list_tasks(account(), "detail", client_factory=service.factory, progress=False)
    assert sorted(frame["task_id"]) == ["7", "8", "9"]
    rows = frame.set_index("task_id")
    assert pd.isna(rows.loc["7", "window_end"]) and rows.loc["7", "window_start"] == pd.Timestamp(
        "2026-10-01T16:00Z"
    )
    assert pd.isna(rows.loc["8", "created"]) and not pd.isna(rows.loc["9", "window_end"])
    messages = sorted(str(w.message) for w in seen)
    assert any("task 7" in m and "9999-12-31T23:59:59Z" in m for m in messages)
    assert any("task 8" in m and "CreateTime" in m for m in messages)


def test_a_listing_keeps_the_moment_it_was_listed() -> None:
    """Plots draw running tasks up to this moment, never to the wall clock, so a notebook renders the same."""
    service = FakeService()
    service.tasks[("prod", "summary")] = [item("1", status="created")]
    before = datetime.now(UTC)
    frame = list_tasks(account(), "summary", client_factory=service.factory, progress=False)
    listed_at = datetime.fromisoformat(frame.attrs["listed_at"])
    assert before <= listed_at <= datetime.now(UTC)


def test_since_and_until_keep_tasks_created_in_between() -> None:
    """``since`` inclusive, ``until`` exclusive, by creation time: the listing filters' one convention."""
    service = FakeService()
    service.tasks[("prod", "detail")] = [item(str(i)) for i in range(1, 6)]  # created Nov 2 .. Nov 6, 08:00
    frame = list_tasks(
        account(), "detail", since="2026-11-03T08:00:00Z", until="2026-11-05T08:00:00Z",
        client_factory=service.factory, progress=False,
    )  # fmt: skip
    assert sorted(frame["task_id"]) == ["2", "3"]
    with pytest.raises(ValueError, match="before until"):
        list_tasks(
            account(), "detail", since="2026-11-05", until="2026-11-03", client_factory=service.factory
        )
    with pytest.raises(
        usagekit.UsagekitError, match=r"until 'tomorrow' is not a moment; accepted: .*2026-09-30T16:00:00Z"
    ):
        list_tasks(account(), "detail", until="tomorrow", client_factory=service.factory)
