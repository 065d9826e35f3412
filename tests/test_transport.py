"""The client's own wire (``Transport`` without a caller's session) against real loopback servers.

What ``requests`` did for it before it went straight to urllib3's public pool, it still does: the reply cap
(announced or streamed), no redirect followed, TLS verified, failures raised as ``requests`` raises them.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from usagekit.transport import MAX_REPLY_BYTES, Transport, never_sent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/redirect"):
            self._answer(302, b"", Location="/elsewhere")
        elif self.path.startswith("/big-announced"):
            self.send_response(200)
            self.send_header("Content-Length", str(MAX_REPLY_BYTES + 1))
            self.end_headers()  # nothing follows: a client that reads it would wait
        elif self.path.startswith("/big-streamed"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * (1 << 20)
            for _ in range(MAX_REPLY_BYTES // len(chunk) + 2):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/hang"):
            self.server.release.wait(30)  # type: ignore[attr-defined]
        else:
            self._answer(200, b'{"ok": true}', **{"Content-Type": "application/json"})

    def _answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    paths: list[str]
    release: threading.Event


def _serve(context: ssl.SSLContext | None = None) -> Iterator[_Server]:
    running = _Server(("127.0.0.1", 0), _Handler)
    running.paths, running.release = [], threading.Event()
    if context is not None:
        running.socket = context.wrap_socket(running.socket, server_side=True)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.release.set()
    running.shutdown()
    running.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    yield from _serve()


def _own(server: _Server, scheme: str = "http", timeout: float = 10.0) -> Transport:
    url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    return Transport(url, loopback=True, session=None, timeout=timeout)


def _url(server: _Server, path: str, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}{path}"


def test_a_reply_is_read_and_the_connection_kept(server: _Server) -> None:
    transport = _own(server)
    first = transport.post(_url(server, "/?Action=A"), {"x-test": "1"}, b"a=1")
    second = transport.post(_url(server, "/?Action=B"), {}, b"")
    transport.close()
    assert (first.status, first.body, first.headers["content-type"]) == (
        200,
        b'{"ok": true}',
        "application/json",
    )
    assert second.body == b'{"ok": true}' and server.paths == ["/?Action=A", "/?Action=B"]


def test_redirects_are_not_followed(server: _Server) -> None:
    reply = _own(server).post(_url(server, "/redirect"), {}, b"")
    assert (reply.status, reply.headers["Location"]) == (302, "/elsewhere")
    assert server.paths == ["/redirect"]  # /elsewhere never asked for


@pytest.mark.parametrize("path", ["/big-announced", "/big-streamed"])
def test_a_reply_past_the_cap_is_refused(server: _Server, path: str) -> None:
    reply = _own(server).post(_url(server, path), {}, b"")
    assert (reply.status, reply.body) == (200, None)


def test_a_refused_connection_raises_as_requests_does() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(f"http://127.0.0.1:{port}", loopback=True, session=None, timeout=5)
    with pytest.raises(requests.ConnectionError) as caught:
        transport.post(f"http://127.0.0.1:{port}/", {}, b"")
    assert never_sent(caught.value)


def test_a_reply_that_does_not_come_raises_read_timeout(server: _Server) -> None:
    with pytest.raises(requests.ReadTimeout) as caught:
        _own(server, timeout=0.2).post(_url(server, "/hang"), {}, b"")
    assert not never_sent(caught.value)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[_Server]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield from _serve(context)


def test_tls_is_verified(tls_server: _Server) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        _own(tls_server, "https").post(_url(tls_server, "/", "https"), {}, b"")
    assert tls_server.paths == []  # the self-signed certificate stopped it before any request
