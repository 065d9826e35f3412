"""Downloads, the cache and the client against a hostile server and a shared machine.

A small server written here, on 127.0.0.1 (and 127.0.0.2, standing in for "another host"), answers each
case the way an attacker would: redirects elsewhere, metadata and private addresses, huge and gzip
bodies, a server that drips, replies quoting presigned URLs and tokens. Cache folders are poisoned by the
test itself. Every case asserts the typed error, a time bound, and that no secret, token or presigned
query appears in ``str(e)``, ``repr(e)``, the whole cause/context chain, or the DEBUG logs. The root
conftest refuses (and fails the test on) any connection beyond loopback, so the metadata and private
address cases prove they were refused before any connect.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import socket
import stat
import threading
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _signing_server import Reply, SigningServer

from usagekit import downloads
from usagekit.accounts import Account
from usagekit.client import CdnClient, RetryPolicy
from usagekit.downloads import DownloadPolicy, fetch_file
from usagekit.errors import ConfigurationError, DownloadError, ResponseError, UrlExpiredError
from usagekit.readers import clear_cache, read_usage

OSS_KEY = "LTAIhostileOssKey0042"
SIGNATURE = "aG9zdGlsZS1zaWduYXR1cmU"
EXPIRES = "1893456789"
SECRET_QUERY = f"Expires={EXPIRES}&OSSAccessKeyId={OSS_KEY}&Signature={SIGNATURE}%3D"
FORBIDDEN = (OSS_KEY, SIGNATURE, EXPIRES, "?Expires", "OSSAccessKeyId=L", "Signature=a")
#: the API endpoint of the account: 127.0.0.1, so the local server is the endpoint's own host
ACCOUNT = Account("shop", "LTAIhostileKeyId0001", "secret-never-shown", endpoint="http://127.0.0.1:9")
#: an account whose endpoint is a public host: a loopback download URL is then not its own
REMOTE = Account("far", "LTAIhostileKeyId0002", "secret-never-shown", endpoint="https://cdn.aliyuncs.com")
QUICK = DownloadPolicy(chunk_size=64 * 1024, attempts=2, timeout=(2.0, 2.0), sleep=lambda seconds: None)


def _workbook(size: int = 200_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", os.urandom(size))
    return buffer.getvalue()


WORKBOOK = _workbook()


class Hostile(ThreadingHTTPServer):
    """``/<case>/<name>``: the case decides the answer; ``hits`` counts requests per case."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.hits: Counter[str] = Counter()
        self.ranges: list[str | None] = []
        self.other_port = 0  # the port of the twin on 127.0.0.2

    def url(self, case: str, name: str = "f.xlsx", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}/{case}/{name}?{SECRET_QUERY}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Hostile

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        case = urlsplit(self.path).path.strip("/").split("/")[0]
        self.server.hits[case] += 1
        self.server.ranges.append(self.headers.get("Range"))
        getattr(self, f"case_{case.replace('-', '_')}", self.case_good)()

    def case_good(self) -> None:
        start = 0
        wanted = self.headers.get("Range")
        if wanted:
            start = int(wanted.split("=")[1].split("-")[0])
        headers = {"ETag": '"v1"', "Content-Type": "application/octet-stream"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(WORKBOOK) - 1}/{len(WORKBOOK)}"
        self._send(206 if start else 200, WORKBOOK[start:], headers)

    def case_redirect_elsewhere(self) -> None:
        target = f"http://127.0.0.2:{self.server.server_address[1]}/good/f.xlsx?{SECRET_QUERY}"
        self._send(302, b"", {"Location": target})

    def case_redirect_same(self) -> None:
        self._send(302, b"", {"Location": f"/good/f.xlsx?{SECRET_QUERY}"})

    def case_huge_announced(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(400 << 20))
        self.end_headers()
        self.wfile.write(WORKBOOK[:65536])  # then hang up: the client must not wait for 400 MiB

    def case_huge_unannounced(self) -> None:
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with _quiet():
            for _ in range(64):  # 4 MiB in all, no length said
                self.wfile.write(WORKBOOK[:65536])

    def case_gzip(self) -> None:
        body = gzip.compress(b"PK\x03\x04" + b"\0" * (4 << 20))  # 4 MiB in a few KiB
        self._send(200, body, {"Content-Encoding": "gzip"})

    def case_drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(WORKBOOK)))
        self.end_headers()
        with _quiet():
            for index in range(200):
                self.wfile.write(WORKBOOK[index : index + 1])
                self.wfile.flush()
                time.sleep(0.1)

    def case_expired_quoting(self) -> None:
        quoted = f"http://{self.headers.get('Host')}{self.path}"
        body = (
            "<Error><Code>AccessDenied</Code><Message>Request has expired. url: "
            f"{quoted} (Signature={SIGNATURE}%3D&amp;OSSAccessKeyId={OSS_KEY})</Message></Error>"
        )
        self._send(403, body.encode(), {"Content-Type": "application/xml"})

    def case_denied_bare(self) -> None:
        body = (
            "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
            f"does not match: Signature={SIGNATURE}%3D&OSSAccessKeyId={OSS_KEY}&Expires={EXPIRES}"
            f"</Message><SignatureProvided>{SIGNATURE}</SignatureProvided></Error>"
        )
        self._send(403, body.encode(), {"Content-Type": "application/xml"})


class _quiet:
    """Swallow the client hanging up on a server that is still writing."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, OSError)


def _serve(server: Hostile) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    twin = Hostile("127.0.0.2", server.server_address[1])  # "another host" on the same port
    threads = [_serve(server), _serve(twin)]
    server.other_port = twin.server_address[1]
    server.twin = twin  # type: ignore[attr-defined]
    yield server
    for each in (server, twin):
        each.shutdown()
        each.server_close()
    for thread in threads:
        thread.join(2)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    return caplog


@pytest.fixture(autouse=True)
def _no_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(account: Account, kind: str, task_id: str) -> str:
        raise AssertionError("the task should not have been listed again")

    monkeypatch.setattr(downloads, "_refresh", refuse)


def _chain_texts(error: BaseException) -> list[str]:
    """str, repr, args and attributes of the error and of everything in its cause and context chain."""
    texts, pending, seen = [], [error], []
    while pending:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        texts += [str(current), repr(current), *getattr(current, "__notes__", [])]
        texts += [repr(value) for value in (*current.args, *vars(current).values())]
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]
    return texts


def _assert_no_secret(error: BaseException, logs: pytest.LogCaptureFixture, *extra: str) -> None:
    shown = "\n".join(_chain_texts(error)) + "\n" + "\n".join(r.getMessage() for r in logs.records)
    for secret in (*FORBIDDEN, *extra):
        assert secret not in shown, f"{secret!r} leaked"


def _data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _as_other_user(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``path`` belong to someone else: chown as root, else pretend to be another uid."""
    if os.geteuid() == 0:
        os.chown(path, 4242, 4242)
    else:  # pragma: no cover - depends on who runs the tests
        real = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: real + 4242)


# --- downloads within bounds -----------------------------------------------------------------------------


def test_redirect_to_another_host_is_refused(
    hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DownloadError, match="redirected the download to another host") as caught:
        fetch_file(
            ACCOUNT, "detail", "1", hostile.url("redirect-elsewhere"), cache_dir=tmp_path, policy=QUICK
        )
    assert hostile.twin.hits["good"] == 0  # type: ignore[attr-defined]
    assert caught.value.task_id == "1"
    assert _data_files(tmp_path) == []
    _assert_no_secret(caught.value, logs)


def test_redirect_within_the_same_host_is_followed(hostile: Hostile, tmp_path: Path) -> None:
    path = fetch_file(ACCOUNT, "detail", "2", hostile.url("redirect-same"), cache_dir=tmp_path, policy=QUICK)
    assert path.read_bytes() == WORKBOOK


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "10.1.2.3", "192.168.7.7", "100.100.100.200", "[fd00::1]"]
)
def test_metadata_and_private_addresses_are_refused_before_any_connect(
    host: str, tmp_path: Path, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://{host}/latest/meta-data/f.xlsx?{SECRET_QUERY}"
    connects: list[Any] = []
    guarded = socket.socket.connect  # the root conftest's loopback-only guard, kept underneath

    def connect(self: socket.socket, address: Any) -> None:
        connects.append(address)
        guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    with pytest.raises(DownloadError, match="loopback, link-local or private") as caught:
        fetch_file(ACCOUNT, "detail", "3", url, cache_dir=tmp_path, policy=QUICK)
    assert connects == []  # refused before any socket was connected anywhere
    assert _data_files(tmp_path) == []
    _assert_no_secret(caught.value, logs)


def test_a_name_resolving_to_the_metadata_address_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "files.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(DownloadError, match=r"169\.254\.169\.254"):
        fetch_file(
            ACCOUNT, "detail", "4", f"http://files.rebind.test/f.xlsx?{SECRET_QUERY}", cache_dir=tmp_path
        )


def test_the_address_connected_to_is_the_one_checked(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers an allowed address first and the metadata address after: only the first is used."""
    real, answers = socket.getaddrinfo, []

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "files.rebind.test":
            address = "127.0.0.1" if not answers else "169.254.169.254"
            answers.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = f"http://files.rebind.test:{hostile.server_address[1]}/good/f.xlsx?{SECRET_QUERY}"
    policy = DownloadPolicy(attempts=2, timeout=(2.0, 2.0), allow_hosts=("127.0.0.0/8",))
    path = fetch_file(REMOTE, "detail", "5", url, cache_dir=tmp_path, policy=policy)
    assert path.read_bytes() == WORKBOOK
    assert answers == ["127.0.0.1"]  # resolved once, connected to what was checked


def test_loopback_is_refused_unless_it_is_the_endpoints_host_or_allowed(
    hostile: Hostile, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="allow_hosts"):
        fetch_file(REMOTE, "detail", "6", hostile.url("good"), cache_dir=tmp_path, policy=QUICK)
    assert hostile.hits["good"] == 0
    allowed = DownloadPolicy(timeout=(2.0, 2.0), allow_hosts=("127.0.0.1",))
    path = fetch_file(REMOTE, "detail", "6", hostile.url("good"), cache_dir=tmp_path, policy=allowed)
    assert path.read_bytes() == WORKBOOK


@pytest.mark.parametrize("case", ["huge-announced", "huge-unannounced"])
def test_a_file_larger_than_the_maximum_is_refused(
    case: str, hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    policy = DownloadPolicy(chunk_size=65536, attempts=2, timeout=(2.0, 2.0), max_size=1 << 20)
    taken: list[int] = []
    with pytest.raises(DownloadError, match="max_size") as caught:
        fetch_file(
            ACCOUNT,
            "detail",
            "7",
            hostile.url(case),
            cache_dir=tmp_path,
            policy=policy,
            progress=lambda written, _total: taken.append(written),
        )
    assert sum(taken) <= 1 << 20  # stopped at the maximum, never read the whole reply first
    assert hostile.hits[case] == 1  # final: not retried
    assert list(tmp_path.rglob("*.part")) == [] and _data_files(tmp_path) == []
    _assert_no_secret(caught.value, logs)


def test_a_compressed_reply_is_refused_not_decoded(
    hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DownloadError, match="Content-Encoding gzip") as caught:
        fetch_file(ACCOUNT, "detail", "8", hostile.url("gzip"), cache_dir=tmp_path, policy=QUICK)
    assert _data_files(tmp_path) == []
    _assert_no_secret(caught.value, logs)


def test_a_dripping_server_is_cut_off_at_the_deadline(
    hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    ticks = iter(range(1_000_000))  # the policy's clock: one second more each time it is read
    policy = DownloadPolicy(
        attempts=3, timeout=(2.0, 2.0), deadline=3.0, sleep=lambda seconds: None, clock=lambda: next(ticks)
    )
    with pytest.raises(DownloadError, match=r"DownloadPolicy\.deadline") as caught:
        fetch_file(ACCOUNT, "detail", "9", hostile.url("drip"), cache_dir=tmp_path, policy=policy)
    arrived = int(re.search(r"(\d+) bytes had arrived", str(caught.value)).group(1))  # type: ignore[union-attr]
    assert 0 < arrived < 10 < len(WORKBOOK)  # cut off while bytes were still arriving, after a few reads
    assert hostile.hits["drip"] == 1  # the deadline is final: no new attempt
    assert _data_files(tmp_path) == []
    _assert_no_secret(caught.value, logs)


# --- no credential text anywhere -------------------------------------------------------------------------


def test_an_expired_reply_quoting_the_url_leaks_nothing(
    hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "_refresh", lambda *args: hostile.url("expired-quoting"))
    with pytest.raises(UrlExpiredError) as caught:
        fetch_file(ACCOUNT, "detail", "10", hostile.url("expired-quoting"), cache_dir=tmp_path, policy=QUICK)
    assert hostile.hits["expired-quoting"] == 2  # listed again once
    assert "expired" in str(caught.value)
    _assert_no_secret(caught.value, logs)


def test_signing_fields_without_a_url_in_front_are_masked(
    hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DownloadError, match="SignatureDoesNotMatch") as caught:
        fetch_file(ACCOUNT, "detail", "11", hostile.url("denied-bare"), cache_dir=tmp_path, policy=QUICK)
    _assert_no_secret(caught.value, logs)


def test_no_presigned_url_hides_in_the_context_chain(tmp_path: Path, logs: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:99999/f.xlsx?{SECRET_QUERY}"  # a port requests refuses to parse
    with pytest.raises(DownloadError) as caught:
        fetch_file(ACCOUNT, "detail", "12", url, cache_dir=tmp_path, policy=QUICK)
    _assert_no_secret(caught.value, logs)


TOKEN = "CAIShostileStsToken" + "x9Q" * 300  # an STS token is long: a cut must not keep its first part


@pytest.fixture
def api() -> Iterator[SigningServer]:
    keys = {"STS.hostile000000001": ("api-secret-value", TOKEN)}
    with SigningServer(keys) as running:
        yield running


def _sts(api: SigningServer) -> Account:
    return Account("sts", "STS.hostile000000001", "api-secret-value", security_token=TOKEN, endpoint=api.url)


def test_a_reply_quoting_the_token_is_masked_before_it_is_cut(
    api: SigningServer, logs: pytest.LogCaptureFixture
) -> None:
    api.script(Reply(502, f"<html>bad gateway for token {TOKEN}</html>", {"content-type": "text/html"}))
    with (
        CdnClient(_sts(api), retry=RetryPolicy(max_attempts=1)) as client,
        pytest.raises(ResponseError) as caught,
    ):
        client.call("DescribeUserUsageDataExportTask", PageSize=50, PageNumber=1)
    _assert_no_secret(caught.value, logs, TOKEN[:24], "api-secret-value")
    assert "***" in caught.value.snippet


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no-length"])
def test_an_oversized_api_reply_is_refused_unread(
    api: SigningServer, announced: bool, logs: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"RequestId": "R", "Pad": "x" * (12 << 20)}).encode()
    headers = {"content-type": "application/json"}
    if not announced:
        headers["Transfer-Encoding"] = "chunked"
        size = f"{len(body):x}".encode()
        body = size + b"\r\n" + body + b"\r\n0\r\n\r\n"
    api.script(Reply(200, body, headers))
    with (
        CdnClient(_sts(api), retry=RetryPolicy(max_attempts=1)) as client,
        pytest.raises(ResponseError, match="larger than"),
    ):
        client.call("DescribeUserUsageDataExportTask", PageSize=50, PageNumber=1)


# --- the cache: private or refused -----------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_reading_before_fetching_creates_a_private_cache(tmp_path: Path, open_umask: None) -> None:
    import pandas as pd

    from usagekit.sandbox.files import write_detail_workbook

    usage = pd.DataFrame(
        {
            "domain": ["a.example.com"],
            "region": ["Chinese Mainland"],
            "metric": ["traffic"],
            "start": [pd.Timestamp("2026-03-01T16:00Z")],
            "value": [1.0],
        }
    )
    data = write_detail_workbook(usage, type="flow", language="en-us", by_account=False, title="t")
    root = tmp_path / "new" / "cache"
    clear_cache()  # from disk, not from the memory of an earlier read
    read_usage(data, cache_dir=root)
    for folder in (tmp_path / "new", root, root / "parsed"):
        assert _mode(folder) == 0o700, folder
    assert {_mode(p) for p in (root / "parsed").iterdir()} == {0o600}


def test_fetching_under_an_open_umask_keeps_everything_private(
    hostile: Hostile, tmp_path: Path, open_umask: None
) -> None:
    path = fetch_file(ACCOUNT, "detail", "20", hostile.url("good"), cache_dir=tmp_path / "c", policy=QUICK)
    folders = [p for p in (tmp_path / "c").rglob("*") if p.is_dir()] + [tmp_path / "c"]
    assert {_mode(p) for p in folders} == {0o700}
    assert {_mode(p) for p in path.parent.iterdir()} == {0o600}


def test_a_wide_cache_folder_of_ours_is_tightened_with_one_warning(hostile: Hostile, tmp_path: Path) -> None:
    root = tmp_path / "wide"
    root.mkdir()
    root.chmod(0o777)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fetch_file(ACCOUNT, "detail", "21", hostile.url("good"), cache_dir=root, policy=QUICK)
        fetch_file(ACCOUNT, "detail", "21", hostile.url("good"), cache_dir=root, policy=QUICK)
    tightened = [w for w in caught if "tightened" in str(w.message)]
    assert len(tightened) == 1 and "0777" in str(tightened[0].message), [str(w.message) for w in caught]
    assert _mode(root) == 0o700


def test_a_cache_folder_of_another_user_is_refused_before_any_request(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    _as_other_user(root, monkeypatch)
    with pytest.raises(ConfigurationError, match="belongs to another user"):
        fetch_file(ACCOUNT, "detail", "22", hostile.url("good"), cache_dir=root, policy=QUICK)
    assert hostile.hits["good"] == 0


def test_a_cache_inside_a_folder_anyone_may_write_is_refused(hostile: Hostile, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigurationError, match="anyone may write"):
        fetch_file(ACCOUNT, "detail", "23", hostile.url("good"), cache_dir=shared / "c", policy=QUICK)
    assert hostile.hits["good"] == 0
    shared.chmod(0o1777)  # with the sticky bit (as /tmp) nobody can replace our folder
    fetch_file(ACCOUNT, "detail", "23", hostile.url("good"), cache_dir=shared / "c", policy=QUICK)


def _private(folder: Path) -> Path:
    for missing in reversed([folder, *folder.parents]):
        if not missing.exists():
            missing.mkdir(mode=0o700)
    return folder


def test_a_cache_inside_a_folder_of_another_user_is_refused(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "theirs"
    parent.mkdir(mode=0o755)
    _as_other_user(parent, monkeypatch)
    with pytest.raises(ConfigurationError, match="which belongs to another user"):
        fetch_file(ACCOUNT, "detail", "24", hostile.url("good"), cache_dir=parent / "c", policy=QUICK)
    assert hostile.hits["good"] == 0 and not (parent / "c").exists()


def _plant(folder: Path, task_id: str, data: bytes, *, sha: str | None = None) -> Path:
    _private(folder)
    path = folder / f"{task_id}.xlsx"
    path.write_bytes(data)
    path.chmod(0o600)
    record = {"task_id": task_id, "file_type": "xlsx", "size": len(data), "sha256": sha or "0" * 64}
    (folder / f"{task_id}.json").write_text(json.dumps(record))
    (folder / f"{task_id}.json").chmod(0o600)
    return path


def _folder(root: Path, account: Account = ACCOUNT) -> Path:
    return root / "files" / downloads.account_folder_name(account) / "detail"


def test_a_planted_file_matching_only_the_size_is_a_miss(
    hostile: Hostile, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    fake = _workbook(len(WORKBOOK) - 200)[: len(WORKBOOK)].ljust(len(WORKBOOK), b"\0")
    _plant(_folder(tmp_path), "30", fake)
    path = fetch_file(ACCOUNT, "detail", "30", hostile.url("good"), cache_dir=tmp_path, policy=QUICK)
    assert path.read_bytes() == WORKBOOK
    assert hostile.hits["good"] == 1
    assert any("SHA-256" in record.getMessage() for record in logs.records)


def test_a_planted_file_of_another_user_is_a_miss_even_with_a_matching_hash(
    hostile: Hostile, tmp_path: Path
) -> None:
    if os.geteuid() != 0:  # pragma: no cover - needs root to give a file away
        pytest.skip("giving a file to another user needs root")
    fake = _workbook(1000)
    planted = _plant(_folder(tmp_path), "31", fake, sha=hashlib.sha256(fake).hexdigest())
    os.chown(planted, 4242, 4242)
    path = fetch_file(ACCOUNT, "detail", "31", hostile.url("good"), cache_dir=tmp_path, policy=QUICK)
    assert path.read_bytes() == WORKBOOK


def test_a_planted_link_at_the_lock_creates_nothing_outside_the_cache(
    hostile: Hostile, tmp_path: Path
) -> None:
    folder = _private(_folder(tmp_path / "c"))
    outside = tmp_path / "outside-target"
    (folder / ".32.lock").symlink_to(outside)
    with pytest.raises(ConfigurationError, match="symbolic link"):
        fetch_file(ACCOUNT, "detail", "32", hostile.url("good"), cache_dir=tmp_path / "c", policy=QUICK)
    assert not outside.exists()


def test_leftovers_are_cleaned_and_a_fresh_part_is_resumed(hostile: Hostile, tmp_path: Path) -> None:
    folder = _private(_folder(tmp_path))
    stale = folder / ".99.1-2-deadbeef.part"
    stale.write_bytes(b"old")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))
    half = len(WORKBOOK) // 2
    part = folder / ".40.7-8-0badf00d.part"
    part.write_bytes(WORKBOOK[:half])
    part.chmod(0o600)
    record = folder / ".40.resume"
    record.write_text(json.dumps({"part": part.name, "etag": '"v1"', "total": len(WORKBOOK)}))
    record.chmod(0o600)
    path = fetch_file(ACCOUNT, "detail", "40", hostile.url("good"), cache_dir=tmp_path, policy=QUICK)
    assert path.read_bytes() == WORKBOOK
    assert hostile.ranges == [f"bytes={half}-"]
    assert sorted(p.name for p in folder.iterdir()) == ["40.json", "40.xlsx"]  # no part, lock or record left
    meta = json.loads((folder / "40.json").read_text())
    assert meta["sha256"] == hashlib.sha256(WORKBOOK).hexdigest()


# --- reprs of public objects -----------------------------------------------------------------------------


def test_reprs_of_a_parsed_page_and_its_tasks_show_no_query() -> None:
    from usagekit.tasks import ExportTask, parse_page

    url = f"https://bucket.oss-cn-hangzhou.aliyuncs.com/export/7.xlsx?{SECRET_QUERY}"
    reply = {
        "UsageDataPerPage": {
            "PageNumber": 1,
            "PageSize": 50,
            "TotalCount": 1,
            "Data": {"DataItem": [{"TaskId": "7", "Status": "success", "DownloadUrl": url}]},
        }
    }
    page = parse_page(reply, account="prod", kind="detail")
    assert page.items[0].url == url  # kept whole, in memory, for fetch
    task = ExportTask("prod", "detail", "7", download_url=url)
    for shown in (repr(page), str(page), repr(page.items[0]), repr(page.items), repr(task)):
        assert "oss-cn-hangzhou.aliyuncs.com/export/7.xlsx" in shown
        for secret in FORBIDDEN:
            assert secret not in shown, (secret, shown)


# --- HTTPS through the guarded connection ----------------------------------------------------------------


@pytest.fixture
def tls_hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    """The hostile server behind TLS, its self-signed certificate (for 127.0.0.1) trusted by requests."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Hostile()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = _serve(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(2)


def test_https_goes_through_the_guarded_connection_with_the_certificate_checked(
    tls_hostile: Hostile, tmp_path: Path
) -> None:
    url = tls_hostile.url("good").replace("http://", "https://")
    path = fetch_file(ACCOUNT, "detail", "50", url, cache_dir=tmp_path, policy=QUICK)
    assert path.read_bytes() == WORKBOOK
    redirect = tls_hostile.url("redirect-elsewhere").replace("http://", "https://")
    with pytest.raises(DownloadError, match="another host or scheme"):
        fetch_file(ACCOUNT, "detail", "51", redirect, cache_dir=tmp_path, policy=QUICK)
