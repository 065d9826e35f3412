"""fetch() through the sandbox over real sockets: faults end in a whole verified file or a typed error.

Each fault (a truncated body, a connection dropped, an expired URL, a 200 reply that is an HTML page
from a captive proxy) ends either with files that read back equal to the sandbox's truth, or with a
typed error and nothing in the cache. Two processes fetching one task leave one good file.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from usagekit import downloads, listing, memory
from usagekit.accounts import Account
from usagekit.client import CdnClient, RetryPolicy
from usagekit.downloads import DownloadPolicy, fetch, fetch_file
from usagekit.errors import DownloadError, TaskStateError, UrlExpiredError
from usagekit.frames import sort_tidy
from usagekit.readers import read_summary, read_usage
from usagekit.sandbox import Faults, Sandbox

#: listings under faults retry at once (the client's backoff would only slow the tests down)
PATIENT = functools.partial(CdnClient, retry=RetryPolicy(max_attempts=30, base=0.0))
NO_WAIT = DownloadPolicy(attempts=6, timeout=(5.0, 5.0), sleep=lambda seconds: None)


def _data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def _details(box: Sandbox, count: int = 4) -> pd.DataFrame:
    listed = listing.list_tasks(
        box.accounts, kind="detail", status="success", progress=False, client_factory=PATIENT
    )
    return listed.head(count).reset_index(drop=True)


def _assert_equal_to_truth(box: Sandbox, frame: pd.DataFrame, paths: list[Path]) -> None:
    for task_id, path in zip(frame["task_id"], paths, strict=True):
        got = read_usage(path, cache=False)
        truth = box.truth.usage(task_id).drop(columns=["account", "task_id"])
        pd.testing.assert_frame_equal(sort_tidy(got), sort_tidy(truth), check_categorical=False)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_fetch_returns_files_equal_to_truth_and_a_second_fetch_stays_offline(
    sandbox: Sandbox, cache: Path
) -> None:
    listed = listing.list_tasks(sandbox.accounts[:1], status="success", progress=False)
    chosen = pd.concat(
        [listed[listed["kind"] == "detail"].head(2), listed[listed["kind"] == "summary"].head(1)]
    )
    paths = fetch(chosen, cache_dir=cache, progress=False)
    assert [p.suffix for p in paths] == [".xlsx", ".xlsx", ".pdf"]
    _assert_equal_to_truth(sandbox, chosen.head(2), paths[:2])
    summary = read_summary(paths[2])
    assert summary["value"].tolist() == sandbox.truth.summary(chosen["task_id"].iloc[2])["value"].tolist()

    class Offline(requests.Session):
        def send(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a cached file must not touch the network")

    before = len(sandbox.requests)
    assert fetch(chosen, cache_dir=cache, session=Offline(), progress=False) == paths
    assert len(sandbox.requests) == before


def test_a_task_not_successful_is_refused_by_name(sandbox: Sandbox, cache: Path) -> None:
    listed = listing.list_tasks(sandbox.accounts[:1], kind="detail", progress=False)
    running = listed[listed["status"] == "created"].head(1)
    with pytest.raises(TaskStateError, match=str(running["task_id"].iloc[0])):
        fetch(running, cache_dir=cache)
    assert _data_files(cache) == []


@pytest.mark.parametrize("fault", ["truncate", "drop"])
def test_truncated_and_dropped_downloads_end_whole(
    fresh_sandbox: Callable[..., Sandbox], cache: Path, fault: str
) -> None:
    box = fresh_sandbox(tasks=8, window_days=(1, 3), faults=Faults(**{fault: 0.5}))
    chosen = _details(box)
    paths = fetch(chosen, cache_dir=cache, progress=False, policy=NO_WAIT)
    _assert_equal_to_truth(box, chosen, paths)
    downloads_seen = [r for r in box.requests if r["action"] == "download"]
    assert any(r["fault"] == fault for r in downloads_seen)  # the fault really happened
    if fault == "truncate":
        assert any("range" in r["params"] for r in downloads_seen)  # and was resumed, not restarted
    assert len(_data_files(cache)) == 2 * len(chosen)


def test_downloads_out_of_attempts_are_typed_errors_and_leave_nothing(
    fresh_sandbox: Callable[..., Sandbox], cache: Path
) -> None:
    box = fresh_sandbox(tasks=8, window_days=(1, 2), faults=Faults(drop=0.5))
    chosen = _details(box, 8)
    one_try = DownloadPolicy(attempts=1, sleep=lambda seconds: None)
    with pytest.raises(DownloadError) as caught:
        fetch(chosen, cache_dir=cache, progress=False, policy=one_try)
    assert "Signature" not in "".join(traceback.format_exception(caught.value))
    fetched, failed = [], []
    for account, task_id in zip(chosen["account"], chosen["task_id"], strict=True):
        path = downloads.cached_file(memory.resolve_account(account), "detail", task_id, cache_dir=cache)
        (fetched if path is not None else failed).append((task_id, path))
    assert failed and fetched  # both outcomes met (the faults are seeded, so this is deterministic)
    assert caught.value.task_id in {task_id for task_id, _ in failed}
    _assert_equal_to_truth(
        box, chosen[chosen["task_id"].isin([t for t, _ in fetched])], [p for _, p in fetched]
    )
    assert len(_data_files(cache / "files")) == 2 * len(fetched)  # nothing of the failed ones


def test_an_expired_url_is_listed_again(fresh_sandbox: Callable[..., Sandbox], cache: Path) -> None:
    box = fresh_sandbox(tasks=4, window_days=(1, 2), file_ttl=60)
    chosen = _details(box, 1)
    box.advance(120)  # the remembered URL has expired meanwhile
    listings_before = sum(r["action"].startswith("Describe") for r in box.requests)
    paths = fetch(chosen, cache_dir=cache, progress=False)
    _assert_equal_to_truth(box, chosen, paths)
    refused = [r for r in box.requests if r["action"] == "download" and r["status"] == 403]
    assert [r["code"] for r in refused] == ["AccessDenied"]
    assert sum(r["action"].startswith("Describe") for r in box.requests) > listings_before


def test_a_url_that_expires_again_raises_url_expired(
    fresh_sandbox: Callable[..., Sandbox], cache: Path
) -> None:
    box = fresh_sandbox(tasks=4, window_days=(1, 2), file_ttl=60)
    chosen = _details(box, 1)

    class SlowWorld(requests.Session):
        """Every download arrives two minutes of sandbox time after its URL was signed."""

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            if "/files/" in (request.url or ""):
                box.advance(120)
            return super().send(request, **kwargs)

    with pytest.raises(UrlExpiredError) as caught:
        fetch(chosen, cache_dir=cache, session=SlowWorld(), progress=False)
    text = "".join(traceback.format_exception(caught.value))
    assert "Signature=" not in text and "OSSAccessKeyId" not in text
    assert caught.value.account == chosen["account"].iloc[0]
    assert _data_files(cache) == []


class CaptivePortal(ThreadingHTTPServer):
    """A proxy that answers every request with a login page and status 200."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Portal)
        self.seen = 0


class _Portal(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen += 1  # type: ignore[attr-defined]
        body = b"<!DOCTYPE html><html><head><title>Wi-Fi login</title></head><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def portal() -> Iterator[CaptivePortal]:
    server = CaptivePortal()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(2)


def test_an_html_page_answered_with_200_is_refused(
    sandbox: Sandbox, cache: Path, portal: CaptivePortal
) -> None:
    chosen = _details(sandbox, 1)
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"http": f"http://127.0.0.1:{portal.server_address[1]}"}
    with pytest.raises(DownloadError, match="HTML page") as caught:
        fetch(chosen, cache_dir=cache, session=session, progress=False)
    assert "Sign in" not in str(caught.value)
    assert portal.seen == 1
    assert _data_files(cache) == []


def _fetch_behind_barrier(
    account: Account, task_id: str, url: str, cache_dir: str, barrier: Any, queue: Any
) -> None:
    barrier.wait()
    try:
        path = fetch_file(account, "detail", task_id, url, cache_dir=cache_dir, policy=NO_WAIT)
        queue.put(("ok", str(path)))
    except Exception as error:
        queue.put(("error", repr(error)))


def test_two_processes_fetching_one_task_leave_one_good_file(
    fresh_sandbox: Callable[..., Sandbox], cache: Path
) -> None:
    box = fresh_sandbox(tasks=4, window_days=(3, 5), faults=Faults(truncate=0.3))
    chosen = _details(box, 1)
    task_id = chosen["task_id"].iloc[0]
    entry = memory.remembered(chosen["account"].iloc[0], "detail", task_id)
    assert entry is not None
    context = multiprocessing.get_context("fork" if os.name != "nt" else "spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_fetch_behind_barrier, args=(entry.account, task_id, entry.url, str(cache), barrier, queue)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    assert len({path for _, path in outcomes}) == 1
    _assert_equal_to_truth(box, chosen, [Path(outcomes[0][1])])
    assert [p.suffix for p in _data_files(cache / "files")] == [".json", ".xlsx"]
    assert downloads.cached_file(entry.account, "detail", task_id, cache_dir=cache) == Path(outcomes[0][1])
