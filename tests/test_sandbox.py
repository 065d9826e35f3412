"""The sandbox over real sockets: listings agree with truth, V2 and V3 both verify, the world is seeded."""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Any

import pandas as pd
import pytest
from _waiting import sandbox_handler_in, wait_until

from usagekit.frames import exclusive_end, strip_query, task_frame
from usagekit.sandbox import Sandbox, demo_accounts

LIST = {"summary": "DescribeUserUsageDataExportTask", "detail": "DescribeUserUsageDetailDataExportTask"}


def _walk(
    wire: Any, account: Any, kind: str, *, style: str = "v3", size: int = 7, **options: Any
) -> list[dict]:
    """Every DataItem of a listing, page by page, until TotalCount rows were seen."""
    items: list[dict] = []
    number = 1
    while True:
        send = wire.v3 if style == "v3" else wire.v2
        reply = send(account, LIST[kind], {"PageSize": size, "PageNumber": number}, **options)
        assert reply.status == 200, reply
        page = reply.json["UsageDataPerPage"]
        assert (page["PageNumber"], page["PageSize"]) == (number, size)
        items += page["Data"]["DataItem"]
        if not page["Data"]["DataItem"] or len(items) >= page["TotalCount"]:
            assert len(items) == page["TotalCount"]
            return items
        number += 1


def _as_frame(account: str, kind: str, items: list[dict]) -> pd.DataFrame:
    return task_frame(
        [
            {
                "account": account,
                "kind": kind,
                "task_id": item["TaskId"],
                "task_name": item["TaskName"],
                "status": item["Status"],
                "created": item["CreateTime"],
                "updated": item["UpdateTime"],
                "window_start": item["TaskConfig"]["StartTime"],
                "window_end": exclusive_end(item["TaskConfig"]["EndTime"]),
                "download_url": strip_query(item["DownloadUrl"]),
            }
            for item in items
        ]
    )


@pytest.mark.parametrize("style", ["v3", "v2"])
def test_every_listing_of_every_account_equals_truth(sandbox: Sandbox, wire: Any, style: str) -> None:
    for account in sandbox.accounts:
        for kind in ("summary", "detail"):
            listed = _as_frame(account.name, kind, _walk(wire, account, kind, style=style))
            truth = sandbox.truth.tasks(account.name, kind).drop(columns=["type", "domains"])
            pd.testing.assert_frame_equal(
                listed.drop(columns=["type", "domains"]), truth, check_categorical=False
            )


@pytest.mark.parametrize(
    ("where", "fmt"), [("query", "JSON"), ("body", "json"), ("body", None), ("query", None)]
)
def test_v2_parameters_in_query_or_form_body_and_any_format_spelling(
    sandbox: Sandbox, wire: Any, where: str, fmt: str | None
) -> None:
    account = sandbox.accounts[1]  # the STS account
    reply = wire.v2(account, LIST["detail"], {"PageSize": 3}, where=where, fmt=fmt)
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json["UsageDataPerPage"]["TotalCount"] == 40
    assert len(reply.json["UsageDataPerPage"]["Data"]["DataItem"]) == 3


def test_v2_get_is_verified_with_the_get_method(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v2(sandbox.accounts[0], LIST["summary"], {"PageSize": 1}, method="GET")
    assert reply.status == 200, reply


def test_truth_tasks_follow_the_contract(sandbox: Sandbox) -> None:
    frame = sandbox.truth.tasks("demo-games")
    assert list(frame["kind"].value_counts().sort_index()) == [40, 40]
    assert frame["created"].is_monotonic_decreasing
    assert frame["task_id"].is_unique
    detail = frame[frame["kind"] == "detail"]
    assert set(detail["type"].dropna()) == {"flow", "vas"} and detail["type"].notna().all()
    assert set(detail["domains"]) == {"all", "some"}
    summary = frame[frame["kind"] == "summary"]
    assert summary["type"].isna().all() and summary["domains"].isna().all()
    success = frame["status"] == "success"
    assert frame.loc[success, "download_url"].str.startswith(sandbox.endpoint + "/files/").all()
    assert frame.loc[~success, "download_url"].isna().all()
    assert {"created", "success", "failed"} <= set(frame["status"])
    assert (frame["window_end"] > frame["window_start"]).all()


def test_accounts_and_demo_accounts_agree(sandbox: Sandbox) -> None:
    names = [a.name for a in sandbox.accounts]
    assert names == ["demo-shop", "demo-media", "demo-games"]
    assert demo_accounts(7, endpoint=sandbox.endpoint) == sandbox.accounts
    assert all(a.source == "sandbox" and a.endpoint == sandbox.endpoint for a in sandbox.accounts)
    assert [a.uses_sts for a in sandbox.accounts] == [False, True, False]
    assert demo_accounts(8, endpoint=sandbox.endpoint)[0].access_key_id != sandbox.accounts[0].access_key_id
    assert sandbox.account_spec("demo-games").regions == ("CN", "AP1", "EU", "NA")
    text = repr(sandbox) + repr(sandbox.accounts) + repr(sandbox.truth)
    assert not any(a.access_key_secret in text for a in sandbox.accounts)


def test_no_thread_is_left_behind_after_stop(wire: Any) -> None:
    before = set(threading.enumerate())
    with Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen") as box:
        assert wire.v3(box.accounts[0], LIST["summary"]).status == 200
        assert len(set(threading.enumerate()) - before) >= 1
    assert set(threading.enumerate()) - before == set()


def test_keep_alive_serves_many_requests_on_one_connection_without_stalls(sandbox: Sandbox) -> None:
    """One connection serves them all; its server side sends without Nagle's algorithm, so a reply's
    separate header and body writes never wait 40 ms for a delayed ACK (the speed itself is measured by
    benchmarks/bench_sandbox.py, the keep-alive listing throughput)."""
    connection = http.client.HTTPConnection("127.0.0.1", int(sandbox.endpoint.rsplit(":", 1)[1]), timeout=5)
    try:
        sockets = set()
        for _ in range(20):
            connection.request("GET", "/nothing-here")  # a cheap 404 JSON reply, still keep-alive
            response = connection.getresponse()
            assert response.status == 404 and response.getheader("Connection") != "close"
            response.read()
            sockets.add(id(connection.sock))
        local = connection.sock.getsockname()
        served = [c for c in sandbox._server._connections if c.getpeername() == local]  # type: ignore[union-attr]
        assert len(served) == 1
        assert served[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        connection.close()
    assert len(sockets) == 1


@pytest.mark.expect_internal_errors  # on purpose: the bug is recorded (conftest fails other tests on one)
def test_a_failing_handler_answers_500_json_and_the_server_lives_on(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox()

    def broken(*args: Any) -> dict:
        raise RuntimeError("a bug")

    box._api.handle = broken  # the edge under test: an exception inside an action
    reply = wire.v3(box.accounts[0], LIST["summary"])
    assert (reply.status, reply.code) == (500, "InternalError")
    assert "a bug" not in reply.body.decode()
    del box._api.handle
    assert wire.v3(box.accounts[0], LIST["summary"]).status == 200
    assert [e["error"] for e in box.internal_errors] == ["RuntimeError"]


def test_stop_is_fast_with_an_idle_keep_alive_connection_open() -> None:
    before = set(threading.enumerate())
    box = Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen").start()
    connection = http.client.HTTPConnection("127.0.0.1", int(box.endpoint.rsplit(":", 1)[1]), timeout=5)
    connection.request("GET", "/")
    connection.getresponse().read()  # the connection stays open, its handler thread waits for more
    stopping = threading.Thread(target=box.stop)
    stopping.start()
    stopping.join(timeout=30)  # half the handler's 60 s idle timeout: only a stop that waited it out fails
    assert not stopping.is_alive(), "stop() waited for the idle keep-alive connection"
    assert connection.sock.recv(1) == b""  # stop() closed the connection itself
    connection.close()
    assert set(threading.enumerate()) - before == set()


def test_a_stopped_sandbox_starts_again_on_the_same_port_at_once(wire: Any) -> None:
    """stop() closes the open connections itself, so their port sits in TIME_WAIT: reusing it must work."""
    first = Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen").start()
    endpoint = first.endpoint
    port = int(endpoint.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/")
    connection.getresponse().read()  # a keep-alive connection that stop() (the server's side) closes
    first.stop()
    connection.close()
    again = Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", port=port).start()
    try:
        assert again.endpoint == endpoint
        assert wire.v3(again.accounts[0], LIST["summary"]).status == 200
        with pytest.raises(OSError):  # reusing the address never lets a second server share a live port
            Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen", port=port).start()
    finally:
        again.stop()


def test_stop_with_a_half_sent_request_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    # A connection cut by stop() (or by a client that gives up) made the handler write into a closed
    # socket; socketserver then printed a BrokenPipeError traceback on stderr, in the CLI and test logs.
    before = set(threading.enumerate())
    box = Sandbox(seed=1, now="2026-11-20T08:00:00Z", clock="frozen").start()
    client = socket.create_connection(("127.0.0.1", int(box.endpoint.rsplit(":", 1)[1])))
    try:
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        wait_until(
            lambda: sandbox_handler_in("_serve", "readinto")
        )  # the handler now waits for the rest of the body
        box.stop()
    finally:
        client.close()
    assert set(threading.enumerate()) - before == set()
    assert "Traceback" not in capfd.readouterr().err


def test_a_content_length_that_is_not_a_number_is_a_400_not_a_crash(sandbox: Any) -> None:
    port = int(sandbox.endpoint.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: twelve\r\n\r\n")
        chunks = []
        while chunk := raw.recv(65536):  # the server closes: the body's end was unknown
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.1 400") and "InvalidParameter" in reply
