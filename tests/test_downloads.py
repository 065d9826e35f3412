"""The download core against a tiny local HTTP server that misbehaves on purpose (that server is the edge).

The server serves one real zip (an xlsx stand-in) and a PDF, honours ``Range``, and for chosen paths
truncates bodies, drops connections, ignores ``Range``, answers HTML with 200, answers 5xx, or says the
URL has expired, a set number of times. Every test checks either a complete verified file in the cache,
or a typed error and nothing in it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import os
import stat
import threading
import traceback
import zipfile
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests

from usagekit import downloads
from usagekit.accounts import Account
from usagekit.downloads import DownloadPolicy, cached_file, fetch_file, task_refs
from usagekit.errors import ArgumentError, DownloadError, TaskStateError, UrlExpiredError
from usagekit.progress import progress_enabled

SECRET_QUERY = (
    "Expires=9999999999&OSSAccessKeyId=LTAIkeyidkeyidkeyid00&Signature=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
)
ACCOUNT = Account("shop", "LTAIkeyidkeyidkeyid00", "secret-never-shown", endpoint="http://127.0.0.1:1")
FAST = DownloadPolicy(chunk_size=64 * 1024, attempts=4, timeout=(2.0, 2.0), sleep=lambda seconds: None)


def _workbook_bytes(size: int = 300_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", os.urandom(size))
    return buffer.getvalue()


WORKBOOK = _workbook_bytes()
PDF = b"%PDF-1.4\n" + b"0" * 5000 + b"\n%%EOF\n"


class Misbehaving(ThreadingHTTPServer):
    """``/files/<name>?<query>``: behaviour per name, ``faults[name]`` times, then good answers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: dict[str, bytes] = {}
        self.faults: dict[str, tuple[str, int]] = {}
        self.hits: Counter[str] = Counter()
        self.ranges: list[str | None] = []
        self.lock = threading.Lock()

    def url(self, name: str, query: str = SECRET_QUERY) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/files/{name}?{query}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Misbehaving

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        name = parts.path.rsplit("/", 1)[-1]
        srv = self.server
        with srv.lock:
            srv.hits[name] += 1
            count = srv.hits[name]
            srv.ranges.append(self.headers.get("Range"))
        fault, times = srv.faults.get(name, ("", 0))
        active = count <= times
        body = srv.bodies.get(name, WORKBOOK)
        if "expired" in parse_qs(parts.query).get("Expires", [""])[0]:
            return self._reply(
                403, b"<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>"
            )
        if active and fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if active and fault == "html":
            return self._reply(200, b"<!DOCTYPE html><html><body>Please log in</body></html>", "text/html")
        if active and fault == "503":
            return self._reply(503, b"busy")
        if fault == "404":
            return self._reply(404, b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>")
        if fault == "bad-signature":
            return self._reply(
                403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error>"
            )
        start = 0
        wanted = self.headers.get("Range")
        honour = fault != "ignore-range"
        if wanted and honour:
            start = int(wanted.split("=")[1].split("-")[0])
        part = body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        if fault == "no-length":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if fault == "stall":  # the promised length, then nothing at all
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if (active and fault in ("truncate", "ignore-range")) or (fault == "truncate-always"):
            self.wfile.write(part[: max(1, len(part) // 3)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if active and fault == "no-length":
            self.wfile.write(part[: len(part) // 2])
            return None
        self.wfile.write(part)
        return None

    def _reply(self, status: int, body: bytes, content_type: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[Misbehaving]:
    srv = Misbehaving()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(2)


def _cache_files(root: Path) -> list[Path]:
    """Files left in the cache, lock files aside (they hold no data)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def _no_refresh(account: Account, kind: str, task_id: str) -> str:
    raise AssertionError("the task should not have been listed again")


@pytest.fixture(autouse=True)
def _guard_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "_refresh", _no_refresh)


def test_file_streamed_verified_and_cached_privately(server: Misbehaving, tmp_path: Path) -> None:
    path = fetch_file(ACCOUNT, "detail", "1001", server.url("1001.xlsx"), cache_dir=tmp_path, policy=FAST)
    assert path.read_bytes() == WORKBOOK
    assert path.name == "1001.xlsx"
    account_dir = hashlib.sha256(ACCOUNT.cache_key.encode()).hexdigest()[:16]
    assert path.parent == tmp_path / "files" / account_dir / "detail"
    meta = json.loads((path.parent / "1001.json").read_text())
    assert meta["size"] == len(WORKBOOK)
    assert meta["sha256"] == hashlib.sha256(WORKBOOK).hexdigest()
    assert (meta["account"], meta["kind"], meta["task_id"], meta["file_type"]) == (
        "shop",
        "detail",
        "1001",
        "xlsx",
    )
    pd.Timestamp(meta["fetched_at"])  # parses
    everything = "".join(p.read_text(errors="replace") for p in _cache_files(tmp_path)) + str(
        list(tmp_path.rglob("*"))
    )
    assert ACCOUNT.access_key_id not in everything
    assert "Signature" not in everything and "127.0.0.1" not in json.dumps(meta)
    for item in (tmp_path / "files").rglob("*"):
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o700 if item.is_dir() else 0o600), (item, oct(mode))
    assert [p.name for p in _cache_files(tmp_path)] == ["1001.json", "1001.xlsx"]


def test_cached_file_is_served_without_network(server: Misbehaving, tmp_path: Path) -> None:
    first = fetch_file(ACCOUNT, "detail", "1002", server.url("1002.xlsx"), cache_dir=tmp_path, policy=FAST)

    class NoNetwork(requests.Session):
        def send(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a cached file must not touch the network")

    again = fetch_file(ACCOUNT, "detail", "1002", None, cache_dir=tmp_path, session=NoNetwork(), policy=FAST)
    assert again == first == cached_file(ACCOUNT, "detail", "1002", cache_dir=tmp_path)
    assert server.hits["1002.xlsx"] == 1


def test_same_task_of_another_key_is_not_shared(server: Misbehaving, tmp_path: Path) -> None:
    fetch_file(ACCOUNT, "detail", "1003", server.url("1003.xlsx"), cache_dir=tmp_path, policy=FAST)
    twin = Account("shop", "LTAIotherotherother00", "s", endpoint=ACCOUNT.endpoint)
    assert cached_file(twin, "detail", "1003", cache_dir=tmp_path) is None


@pytest.mark.parametrize("fault", ["truncate", "drop", "ignore-range", "503", "no-length"])
def test_faults_end_with_the_whole_file(server: Misbehaving, tmp_path: Path, fault: str) -> None:
    server.faults["f.xlsx"] = (fault, 2)
    path = fetch_file(ACCOUNT, "detail", "f", server.url("f.xlsx"), cache_dir=tmp_path, policy=FAST)
    assert path.read_bytes() == WORKBOOK
    assert server.hits["f.xlsx"] == 3
    assert [p.name for p in _cache_files(tmp_path)] == ["f.json", "f.xlsx"]


def test_truncated_body_resumes_with_range(server: Misbehaving, tmp_path: Path) -> None:
    server.faults["r.xlsx"] = ("truncate", 2)
    fetch_file(ACCOUNT, "detail", "r", server.url("r.xlsx"), cache_dir=tmp_path, policy=FAST)
    first_cut = len(WORKBOOK) // 3
    assert server.ranges[0] is None
    assert server.ranges[1] == f"bytes={first_cut}-"  # resumed where the first reply stopped
    assert server.ranges[2] is not None


def test_a_server_that_sends_nothing_is_given_up_on_after_bounded_attempts(
    server: Misbehaving, tmp_path: Path
) -> None:
    server.faults["t.xlsx"] = ("stall", 0)
    pauses: list[float] = []
    policy = DownloadPolicy(chunk_size=4096, attempts=3, timeout=(2, 2), backoff=0.25, sleep=pauses.append)
    with pytest.raises(DownloadError) as caught:
        fetch_file(ACCOUNT, "detail", "t", server.url("t.xlsx"), cache_dir=tmp_path, policy=policy)
    assert caught.value.task_id == "t" and caught.value.account == "shop"
    assert "gave up after 3 attempts" in str(caught.value)
    assert server.hits["t.xlsx"] == 3
    assert pauses == [0.25, 0.5]  # exponential backoff, injected sleep
    assert _cache_files(tmp_path) == []


def test_a_server_that_drips_is_given_up_on_at_the_hard_cap(server: Misbehaving, tmp_path: Path) -> None:
    server.faults["d.xlsx"] = ("truncate-always", 0)  # every reply brings a third of what is missing
    policy = DownloadPolicy(chunk_size=4096, attempts=2, timeout=(2, 2), sleep=lambda s: None)
    with pytest.raises(DownloadError, match="gave up after 20 attempts"):
        fetch_file(ACCOUNT, "detail", "d", server.url("d.xlsx"), cache_dir=tmp_path, policy=policy)
    assert server.hits["d.xlsx"] == 20
    assert _cache_files(tmp_path) == []


def test_html_page_with_200_is_refused_and_nothing_cached(server: Misbehaving, tmp_path: Path) -> None:
    server.faults["h.xlsx"] = ("html", 99)
    with pytest.raises(DownloadError, match="HTML page") as caught:
        fetch_file(ACCOUNT, "detail", "h", server.url("h.xlsx"), cache_dir=tmp_path, policy=FAST)
    assert "Please log in" not in str(caught.value)
    assert server.hits["h.xlsx"] == 1  # not retried: the reply is not a file
    assert _cache_files(tmp_path) == []


def test_expired_url_is_listed_again_once(
    server: Misbehaving, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def refresh(account: Account, kind: str, task_id: str) -> str:
        calls.append((kind, task_id))
        return server.url("e.xlsx")

    monkeypatch.setattr(downloads, "_refresh", refresh)
    stale = server.url("e.xlsx", "Expires=expired&Signature=old")
    path = fetch_file(ACCOUNT, "detail", "e", stale, cache_dir=tmp_path, policy=FAST)
    assert path.read_bytes() == WORKBOOK
    assert calls == [("detail", "e")]


def test_url_that_expires_again_raises_url_expired(
    server: Misbehaving, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = server.url("x.xlsx", "Expires=expired&Signature=old-signature-secret")
    calls = []

    def refresh(account: Account, kind: str, task_id: str) -> str:
        calls.append(task_id)
        return stale

    monkeypatch.setattr(downloads, "_refresh", refresh)
    with pytest.raises(UrlExpiredError) as caught:
        fetch_file(ACCOUNT, "detail", "x", stale, cache_dir=tmp_path, policy=FAST)
    assert calls == ["x"]
    assert "old-signature-secret" not in "".join(traceback.format_exception(caught.value))
    assert _cache_files(tmp_path) == []


@pytest.mark.parametrize(
    ("fault", "words"), [("404", "NoSuchKey"), ("bad-signature", "SignatureDoesNotMatch")]
)
def test_refusals_are_final_and_name_the_task_not_the_query(
    server: Misbehaving, tmp_path: Path, fault: str, words: str
) -> None:
    server.faults["n.xlsx"] = (fault, 0)
    with pytest.raises(DownloadError) as caught:
        fetch_file(ACCOUNT, "detail", "n", server.url("n.xlsx"), cache_dir=tmp_path, policy=FAST)
    text = "".join(traceback.format_exception(caught.value))
    assert words in str(caught.value) and "task n" in str(caught.value)
    assert "/files/n.xlsx" in str(caught.value)
    assert "Signature=" not in text and "OSSAccessKeyId" not in text
    assert server.hits["n.xlsx"] == 1
    assert _cache_files(tmp_path) == []


def test_connection_refused_names_no_query(tmp_path: Path) -> None:
    with socket_port() as port:
        url = f"http://127.0.0.1:{port}/files/z.xlsx?{SECRET_QUERY}"
    with pytest.raises(DownloadError) as caught:
        fetch_file(ACCOUNT, "detail", "z", url, cache_dir=tmp_path, policy=FAST)
    text = "".join(traceback.format_exception(caught.value))
    assert "Signature" not in text and "OSSAccessKeyId" not in text and ACCOUNT.access_key_id not in text
    assert "connection failed" in str(caught.value)
    assert _cache_files(tmp_path) == []


class socket_port:
    """A port that nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_debug_logs_never_show_the_url_query(
    server: Misbehaving, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    server.faults["l.xlsx"] = ("truncate", 1)
    fetch_file(ACCOUNT, "detail", "l", server.url("l.xlsx"), cache_dir=tmp_path, policy=FAST)
    lines = [record.getMessage() for record in caplog.records]
    assert any("/files/l.xlsx" in line for line in lines)  # urllib3 really logged its request lines
    assert not any("Signature" in line or "OSSAccessKeyId" in line for line in lines)


def test_pdf_kept_as_pdf(server: Misbehaving, tmp_path: Path) -> None:
    server.bodies["s.pdf"] = PDF
    path = fetch_file(ACCOUNT, "summary", "s", server.url("s.pdf"), cache_dir=tmp_path, policy=FAST)
    assert path.name == "s.pdf" and path.read_bytes() == PDF


def test_a_file_cut_before_its_end_marker_is_fetched_again(server: Misbehaving, tmp_path: Path) -> None:
    server.bodies["c.pdf"] = PDF
    server.faults["c.pdf"] = ("no-length", 1)  # close-delimited body cut in half: no length to check
    path = fetch_file(ACCOUNT, "summary", "c", server.url("c.pdf"), cache_dir=tmp_path, policy=FAST)
    assert path.read_bytes() == PDF
    assert server.hits["c.pdf"] == 2


def test_odd_task_ids_never_make_paths(server: Misbehaving, tmp_path: Path) -> None:
    path = fetch_file(ACCOUNT, "detail", "../../etc/x", server.url("o.xlsx"), cache_dir=tmp_path, policy=FAST)
    assert path.parent.parent.parent == tmp_path / "files"
    assert path.name.startswith("id-")
    assert cached_file(ACCOUNT, "detail", "../../etc/x", cache_dir=tmp_path) == path
    with pytest.raises(ValueError, match="kind"):
        fetch_file(ACCOUNT, "../detail", "o", server.url("o.xlsx"), cache_dir=tmp_path, policy=FAST)


def test_threads_fetching_one_task_download_it_once(server: Misbehaving, tmp_path: Path) -> None:
    barrier = threading.Barrier(4)
    results: list[Path] = []

    def worker() -> None:
        barrier.wait()
        results.append(
            fetch_file(ACCOUNT, "detail", "p", server.url("p.xlsx"), cache_dir=tmp_path, policy=FAST)
        )

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(results)) == 1 and len(results) == 4
    assert results[0].read_bytes() == WORKBOOK
    assert server.hits["p.xlsx"] == 1
    assert [p.name for p in _cache_files(tmp_path)] == ["p.json", "p.xlsx"]


def _fetch_in_process(url: str, cache_dir: str, barrier: Any, queue: Any) -> None:
    barrier.wait()
    try:
        path = fetch_file(ACCOUNT, "detail", "mp", url, cache_dir=cache_dir, policy=FAST)
        queue.put(("ok", str(path)))
    except Exception as error:  # reported to the parent
        queue.put(("error", repr(error)))


def test_two_processes_fetching_one_task_leave_one_good_file(server: Misbehaving, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    barrier = context.Barrier(2)
    queue = context.Queue()
    url = server.url("mp.xlsx")
    procs = [
        context.Process(target=_fetch_in_process, args=(url, str(tmp_path), barrier, queue)) for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    outcomes = [queue.get(timeout=20) for _ in procs]
    for proc in procs:
        proc.join(10)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    assert len({path for _, path in outcomes}) == 1
    assert Path(outcomes[0][1]).read_bytes() == WORKBOOK
    assert [p.name for p in _cache_files(tmp_path)] == ["mp.json", "mp.xlsx"]


def test_task_refs_take_frames_rows_and_objects() -> None:
    frame = pd.DataFrame(
        {
            "account": ["a", "b"],
            "kind": ["detail", "summary"],
            "task_id": ["1", "2"],
            "status": ["success", "failed"],
            "updated": pd.to_datetime(["2026-01-01", None], utc=True),
        }
    )
    refs = task_refs(frame)
    assert [r.task_id for r in refs] == ["1", "2"]
    assert refs[1].updated is None and refs[0].updated == pd.Timestamp("2026-01-01", tz="UTC")
    assert task_refs(frame.iloc[0]) == refs[:1]

    class Row:
        account, kind, task_id, status, updated = "c", "detail", 7, "success", None

    assert task_refs([Row()])[0].task_id == "7"
    with pytest.raises(ArgumentError, match="account, a kind and a task_id"):
        task_refs([{"account": "a"}])


def test_fetch_refuses_tasks_not_success_naming_them(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "account": ["a", "a", "a"],
            "kind": ["detail"] * 3,
            "task_id": ["1", "2", "3"],
            "status": ["success", "created", "failed"],
        }
    )
    with pytest.raises(TaskStateError) as caught:
        downloads.fetch(frame, cache_dir=tmp_path)
    assert "task 2" in str(caught.value) and "created" in str(caught.value)
    assert "task 3" in str(caught.value) and "task 1 " not in str(caught.value)


def test_fetch_many_in_order_from_remembered_urls(
    server: Misbehaving, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.bodies["b.pdf"] = PDF

    def resolve(ref: downloads.TaskRef, accounts: Any) -> tuple[Account, str]:
        return ACCOUNT, server.url({"a": "a.xlsx", "b": "b.pdf"}[ref.task_id])

    monkeypatch.setattr(downloads, "resolve", resolve)
    rows = [
        {"account": "shop", "kind": "detail", "task_id": "a", "status": "success"},
        {"account": "shop", "kind": "summary", "task_id": "b", "status": "success"},
        {"account": "shop", "kind": "detail", "task_id": "a", "status": "success"},
    ]
    paths = downloads.fetch(rows, cache_dir=tmp_path, progress=False, policy=FAST)
    assert [p.name for p in paths] == ["a.xlsx", "b.pdf", "a.xlsx"]
    assert server.hits["a.xlsx"] == 1 and server.hits["b.pdf"] == 1


def test_byte_progress_bar_drawn_when_asked_and_silenced_by_tqdm_disable(
    server: Misbehaving, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        downloads, "resolve", lambda ref, accounts: (ACCOUNT, server.url(ref.task_id + ".xlsx"))
    )
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    row = {"account": "shop", "kind": "detail", "task_id": "bar1", "status": "success"}
    downloads.fetch([row], cache_dir=tmp_path, progress=True, policy=FAST)
    drawn = capsys.readouterr().err
    assert "fetch" in drawn and f"{len(WORKBOOK) / 1024:.0f}k" in drawn  # bytes, scaled by 1024
    monkeypatch.setenv("TQDM_DISABLE", "1")
    downloads.fetch([{**row, "task_id": "bar2"}], cache_dir=tmp_path, progress=True, policy=FAST)
    assert capsys.readouterr().err == ""


def test_progress_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert progress_enabled(True) is True
    assert progress_enabled(False) is False
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress_enabled(True) is False


def test_cache_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "env"))
    assert downloads.cache_root() == tmp_path / "env"
    assert downloads.cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("USAGEKIT_CACHE_DIR")
    assert "usagekit" in str(downloads.cache_root())


def test_policy_repr_shows_only_what_differs_and_refuses_bounds_that_cannot_work() -> None:
    assert repr(DownloadPolicy(max_size=1 << 20, allow_hosts=["files.internal"])) == (
        "DownloadPolicy(max_size=1048576, allow_hosts=('files.internal',))"
    )
    with pytest.raises(ValueError, match="stale_after"):
        DownloadPolicy(deadline=100.0, stale_after=50.0)  # a live download would be swept
    with pytest.raises(ValueError, match="deadline"):
        DownloadPolicy(deadline=0)


def test_no_lock_or_temporary_file_is_left_after_a_fetch(server: Misbehaving, tmp_path: Path) -> None:
    server.faults["1060"] = ("truncate", 1)
    path = fetch_file(ACCOUNT, "detail", "1060", server.url("1060"), cache_dir=tmp_path, policy=FAST)
    assert sorted(p.name for p in path.parent.iterdir()) == ["1060.json", "1060.xlsx"]
