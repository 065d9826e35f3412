"""The sandbox's HTTP side: routing of API calls and downloads, faults, and a threaded loopback server.

:class:`Service` turns one HTTP request (method, path, query, headers, body) into a :class:`Reply`:
it verifies the signature, applies the rate limiter and the faults, runs the action or serves the
file, and records the request (never a secret). An exception of the sandbox's own code is answered
as a 500 ``InternalError`` and recorded (:func:`internal_errors`), so a test can fail on it instead of
letting a client's retries hide it. :class:`LoopbackServer` is a ``ThreadingHTTPServer`` on
127.0.0.1 speaking HTTP/1.1 with keep-alive; it stops at once (its loop is woken, not polled) and
leaves no thread behind: open client connections are shut down and their threads joined.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import re
import selectors
import socket
import sys
import threading
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from usagekit.redact import strip_queries
from usagekit.sandbox.api import LISTINGS, Api
from usagekit.sandbox.clock import SandboxClock
from usagekit.sandbox.exports import ExportFiles
from usagekit.sandbox.faults import Decision, Faults, RateLimiter, decide
from usagekit.sandbox.presign import Presigner
from usagekit.sandbox.store import TaskStore
from usagekit.sandbox.verify import Rejection, Verifier, parse_request_params

__all__ = ["LoopbackServer", "Reply", "Service", "internal_error_count", "internal_errors"]

_SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "AccessKeyId"})
_VOLATILE_PARAMS = frozenset(
    {
        "Signature",
        "SignatureNonce",
        "Timestamp",
        "SecurityToken",
        "AccessKeyId",
        "x-acs-date",
        "x-acs-signature-nonce",
    }
)
_FILE_PATH = re.compile(r"^/files/(?P<task_id>[0-9]+)\.(?P<ext>xlsx|pdf)$")
_RANGE = re.compile(r"^bytes=(?P<first>\d*)-(?P<last>\d*)$")

#: the internal errors of every sandbox in this process, the latest 1,000, each numbered ``n`` from 0
_INTERNAL_ERRORS: deque[dict[str, Any]] = deque(maxlen=1000)
_INTERNAL_LOCK = threading.Lock()
_internal_total = 0


def internal_error_count() -> int:
    """How many internal errors the sandboxes of this process have answered (the next record's ``n``)."""
    return _internal_total


def internal_errors(since: int = 0) -> list[dict[str, Any]]:
    """Internal errors of every sandbox in this process numbered ``since`` or later, oldest first.

    Each is a plain dict: ``n``, ``time`` (sandbox time), ``method``, ``path`` (never a query string),
    ``error`` (the exception's type), ``message`` and ``traceback`` (text, URL queries removed).

    >>> internal_errors(since=internal_error_count())
    []
    """
    with _INTERNAL_LOCK:
        return [dict(record) for record in _INTERNAL_ERRORS if record["n"] >= since]


@dataclass
class Reply:
    """An HTTP reply; ``fault`` ``drop`` closes without replying, ``truncate`` sends part of the body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    fault: str | None = None
    delay: float = 0.0


def _json_reply(status: int, payload: Mapping[str, Any], request_id: str, **headers: str) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(
        status,
        {"Content-Type": "application/json;charset=utf-8", "x-acs-request-id": request_id, **headers},
        body,
    )


def _xml_error(status: int, code: str, message: str, request_id: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{escape(code)}</Code>\n  <Message>{escape(message)}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>127.0.0.1</HostId>\n</Error>\n"
    ).encode()
    return Reply(status, {"Content-Type": "application/xml", "x-oss-request-id": request_id}, body)


class Service:
    """Answers API calls and downloads for one sandbox (no sockets here: see :class:`LoopbackServer`)."""

    def __init__(
        self,
        *,
        seed: int,
        clock: SandboxClock,
        verifier: Verifier,
        api: Api,
        store: TaskStore,
        presigner: Presigner,
        exports: ExportFiles,
        faults: Faults,
        record_limit: int = 100_000,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.verifier = verifier
        self.api = api
        self.store = store
        self.presigner = presigner
        self.exports = exports
        self.faults = faults
        self.limiter = RateLimiter(faults.rate_limit) if faults.rate_limit is not None else None
        self._seen: Counter[Any] = Counter()
        self._seen_lock = threading.Lock()
        self._records: deque[dict[str, Any]] = deque(maxlen=record_limit)
        self._internal_errors: deque[dict[str, Any]] = deque(maxlen=1000)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every request answered so far (oldest first), as plain dicts without secrets."""
        return list(self._records)

    def _record(self, **fields: Any) -> None:
        self._records.append({"time": self.clock.now(), **fields})

    @property
    def internal_errors(self) -> list[dict[str, Any]]:
        """This sandbox's internal errors (exceptions of its own code answered as 500), oldest first."""
        return [dict(record) for record in self._internal_errors]

    def record_internal_error(self, method: str, target: str, error: BaseException) -> dict[str, Any]:
        """Record an exception answered as a 500, here and process-wide (see :func:`internal_errors`)."""
        global _internal_total
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        record = {
            "time": self.clock.now(),
            "method": method,
            "path": target.partition("?")[0].partition("#")[0],
            "error": type(error).__name__,
            "message": strip_queries(str(error))[:500],
            "traceback": strip_queries(text)[-4000:],
        }
        with _INTERNAL_LOCK:
            record = {"n": _internal_total, **record}
            _internal_total += 1
            _INTERNAL_ERRORS.append(record)
        self._internal_errors.append(record)
        self._record(
            account=None,
            action=None,
            params={"path": record["path"]},
            status=500,
            code="InternalError",
            fault=None,
        )
        return record

    def _decision(self, identity: tuple[Any, ...]) -> Decision:
        with self._seen_lock:
            count = self._seen[identity]
            self._seen[identity] = count + 1
        return decide(self.faults, self.seed, identity, count)

    # --- API calls -----------------------------------------------------------------------------------

    def api_call(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one API request (POST or GET ``/``)."""
        request_id = str(uuid.uuid4()).upper()
        pairs = parse_request_params(query, body, headers.get("content-type"))
        shown = {k: v for k, v in pairs if k not in _SECRET_PARAMS}
        action = dict(pairs).get("Action") or headers.get("x-acs-action")
        try:
            verified = self.verifier.verify(
                method, path, pairs, body, headers, query=parse_qsl(query, keep_blank_values=True)
            )
        except Rejection as rejection:
            self._record(
                account=rejection.account,
                action=action,
                params=shown,
                status=rejection.status,
                code=rejection.code,
                fault=None,
            )
            return self._error(rejection, request_id, headers)
        account, action = verified.account, verified.action
        params = verified.params
        shown = {k: v for k, v in params.items() if k not in _SECRET_PARAMS}
        record = {"account": account, "action": action, "params": shown, "style": verified.style}
        limited = self._rate_limited(record, request_id, headers)
        if limited is not None:
            return limited
        identity = (
            account,
            action,
            tuple(sorted((k, v) for k, v in params.items() if k not in _VOLATILE_PARAMS)),
        )
        decision = self._decision(identity)
        refused = self._injected_refusal(record, params, decision, request_id, headers)
        if refused is not None:
            return refused
        try:
            payload = self.api.handle(account, action, params)
        except Rejection as rejection:
            self._record(**record, status=rejection.status, code=rejection.code, fault=None)
            reply = self._error(rejection, request_id, headers)
        else:
            self._record(**record, status=200, code=None, fault=decision.fault)
            reply = _json_reply(200, {"RequestId": request_id, **payload}, request_id)
        reply.fault = decision.fault if decision.fault in ("drop", "truncate") else None
        reply.delay = decision.delay
        return reply

    def _rate_limited(
        self, record: dict[str, Any], request_id: str, headers: Mapping[str, str]
    ) -> Reply | None:
        """The throttling reply when the account's bucket is empty, else None (a token taken)."""
        if self.limiter is None:
            return None
        wait_ms = self.limiter.take(record["account"])
        if not wait_ms:
            return None
        self._record(**record, status=503, code="Throttling.User", fault="rate_limit")
        reply = self._error(
            Rejection("Throttling.User", 503, "Request was denied due to user flow control."),
            request_id,
            headers,
        )
        reply.headers["x-acs-retry-after"] = str(wait_ms)
        return reply

    def _injected_refusal(
        self,
        record: dict[str, Any],
        params: Mapping[str, str],
        decision: Decision,
        request_id: str,
        headers: Mapping[str, str],
    ) -> Reply | None:
        """The reply of a fault the settings inject here (a failing page, throttling, 503, 500), else None."""
        account, action = record["account"], record["action"]
        if action in LISTINGS and self._failing_page(account, params):
            self._record(**record, status=503, code="ServiceUnavailable", fault="fail_pages")
            reply = self._error(
                Rejection(
                    "ServiceUnavailable",
                    503,
                    "The request has failed due to a temporary failure of the server.",
                ),
                request_id,
                headers,
            )
            reply.delay = decision.delay
            return reply
        refused = {
            "throttle": Rejection("Throttling.User", 503, "Request was denied due to user flow control."),
            "unavailable": Rejection(
                "ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server."
            ),
            "error500": Rejection(
                "InternalError", 500, "The request processing has failed due to some unknown error."
            ),
        }.get(decision.fault or "")
        if refused is not None:
            self._record(**record, status=refused.status, code=refused.code, fault=decision.fault)
            reply = self._error(refused, request_id, headers)
            if decision.fault == "throttle":
                reply.headers["x-acs-retry-after"] = str(decision.retry_after_ms)
            reply.delay = decision.delay
            return reply
        return None

    def _failing_page(self, account: str, params: Mapping[str, str]) -> bool:
        if not self.faults.fail_pages:
            return False
        if self.faults.fail_account is not None and self.faults.fail_account != account:
            return False
        number = params.get("PageNumber") or "1"
        number = number.strip()
        return number.isascii() and number.isdigit() and int(number) in self.faults.fail_pages

    def _error(self, rejection: Rejection, request_id: str, headers: Mapping[str, str]) -> Reply:
        recommend = (
            rejection.recommend or f"https://api.aliyun.com/troubleshoot?q={rejection.code}&product=Cdn"
        )
        payload = {
            "RequestId": request_id,
            "HostId": headers.get("host", "127.0.0.1"),
            "Code": rejection.code,
            "Message": rejection.message,
            "Recommend": recommend,
        }
        return _json_reply(rejection.status, payload, request_id)

    # --- downloads -----------------------------------------------------------------------------------

    def download(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        """Serve ``GET``/``HEAD /files/<task_id>.<ext>`` behind a presigned URL, with ``Range``."""
        request_id = uuid.uuid4().hex.upper()[:24]
        params = dict(parse_qsl(query, keep_blank_values=True))
        record: dict[str, Any] = {"account": None, "action": "download", "params": {"path": path}}
        if "range" in headers:
            record["params"]["range"] = headers["range"]
        now = self.clock.timestamp()
        problem = self.presigner.check(path, params, now=now)
        if problem is not None:
            self._record(**record, status=403, code=problem[0], fault=None)
            return _xml_error(403, *problem, request_id)
        match = _FILE_PATH.match(path)
        try:
            task = self.store.get(match["task_id"]) if match else None
        except KeyError:
            task = None
        if (
            task is None
            or match is None
            or task.file_extension != match["ext"]
            or task.status(now) != "success"
        ):
            self._record(**record, status=404, code="NoSuchKey", fault=None)
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.", request_id)
        record["account"] = task.account
        decision = self._decision((task.account, "download", path))
        if decision.fault in ("throttle", "unavailable", "error500"):
            status, code = (503, "SlowDown") if decision.fault == "throttle" else (503, "ServiceUnavailable")
            if decision.fault == "error500":
                status, code = 500, "InternalError"
            self._record(**record, status=status, code=code, fault=decision.fault)
            reply = _xml_error(status, code, "Please reduce your request rate or retry.", request_id)
            reply.delay = decision.delay
            return reply
        if task.kind == "detail":
            title = task.name or f"CDN usage detail {self.api.period(task)}"
        else:  # our summary PDF is in English (core fonts): the task's own name may not be
            title = f"CDN usage summary {self.api.period(task)}"
        file = self.exports.get(task, title=title)
        reply = self._ranged(file.data, headers.get("range"), request_id)
        reply.headers.update({"Content-Type": file.content_type, "ETag": file.etag, "Accept-Ranges": "bytes"})
        if method == "HEAD":
            reply.headers["Content-Length"] = str(len(reply.body))
            reply.body = b""
        self._record(**record, status=reply.status, code=None, fault=decision.fault)
        reply.fault = decision.fault if decision.fault in ("drop", "truncate") else None
        reply.delay = decision.delay
        return reply

    @staticmethod
    def _ranged(data: bytes, header: str | None, request_id: str) -> Reply:
        size = len(data)
        headers = {"x-oss-request-id": request_id}
        match = _RANGE.match(header.strip()) if header else None
        if match is None or (not match["first"] and not match["last"]):
            return Reply(
                200, headers, data
            )  # no Range, or one we do not support (several ranges): whole file
        if match["first"] and match["last"] and int(match["last"]) < int(match["first"]):
            # Syntactically invalid (RFC 9110 14.1.1): ignored, the whole file, as object storage does.
            return Reply(200, headers, data)
        if match["first"]:
            first = int(match["first"])
            last = min(int(match["last"]), size - 1) if match["last"] else size - 1
        else:  # a suffix: the last N bytes
            first, last = max(0, size - int(match["last"])), size - 1
        if first >= size or last < first:
            return Reply(416, {**headers, "Content-Range": f"bytes */{size}"}, b"")
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Reply(206, headers, data[first : last + 1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "usagekit-sandbox"
    sys_version = ""
    timeout = 60  # seconds an idle keep-alive connection stays open
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: request lines carry presigned queries
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Every reply's ``Date`` header: the sandbox's own time (frozen or not), as the service sends its own."""
        now = self.server.service.clock.timestamp() if timestamp is None else timestamp
        return email.utils.formatdate(now, usegmt=True)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        service = self.server.service
        try:
            parts = urlsplit(self.path)
            declared = (self.headers.get("Content-Length") or "0").strip()
            if not (declared.isascii() and declared.isdigit()):
                self.close_connection = True  # the body's end is unknown: the connection cannot be reused
                self._write(
                    _json_reply(
                        400,
                        {
                            "RequestId": uuid.uuid4().hex.upper(),
                            "HostId": "127.0.0.1",
                            "Code": "InvalidParameter",
                            "Message": "The Content-Length header is not a number.",
                        },
                        "-",
                    )
                )
                return
            length = int(declared)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            if parts.path.startswith("/files/") and self.command in ("GET", "HEAD"):
                reply = service.download(self.command, parts.path, parts.query, headers)
            elif parts.path == "/" and self.command in ("GET", "POST"):
                reply = service.api_call(self.command, parts.path, parts.query, headers, body)
            else:
                reply = _json_reply(
                    404,
                    {
                        "RequestId": uuid.uuid4().hex.upper(),
                        "Code": "NotFound",
                        "Message": "No such path on the sandbox.",
                    },
                    "-",
                )
        except Exception as error:  # a bug of ours: answered as a 500, recorded so that tests fail on it
            service.record_internal_error(self.command, self.path, error)
            reply = _json_reply(
                500,
                {
                    "RequestId": uuid.uuid4().hex.upper(),
                    "HostId": "127.0.0.1",
                    "Code": "InternalError",
                    "Message": f"The sandbox failed while answering: {type(error).__name__}.",
                },
                "-",
            )
        if reply.delay > 0 and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        if reply.fault == "drop":
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(reply.body)))
        if reply.fault == "truncate":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        body = (
            reply.body[: max(1, len(reply.body) // 2)]
            if reply.fault == "truncate" and reply.body
            else reply.body
        )
        if self.command != "HEAD":
            self.wfile.write(body)


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 that stops at once and leaves no thread behind."""

    daemon_threads = True
    # stop() closes the open connections from the server's side, which leaves the port in TIME_WAIT for
    # a minute: SO_REUSEADDR lets a stopped sandbox start again on it at once (on POSIX it never lets
    # two live servers share a port; on Windows it would, so it stays off there)
    allow_reuse_address = os.name != "nt"
    # socketserver's default backlog of 5 makes a burst of concurrent clients (a listing fetching many
    # pages at once) wait a second for TCP to retry the refused connections.
    request_queue_size = 128
    # handle_request() only takes a connection the loop's selector saw waiting: never wait in it
    timeout = 0

    def __init__(self, service: Service, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.service = service
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._threads_alive: set[threading.Thread] = set()
        self._connections_lock = threading.Lock()
        self._wake_read, self._wake_write = socket.socketpair()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._loop, name=f"usagekit-sandbox:{self.port}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        # Waits on the listening socket and on stop()'s wake-up socket at once, so stop() returns at
        # once (``serve_forever`` would poll); a ready connection is taken with the public
        # ``handle_request``, which with ``timeout = 0`` never blocks if it is gone again.
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self.stopping.is_set():
                        self.handle_request()

    def process_request(self, request: Any, client_address: Any) -> None:
        """One daemon thread per connection, tracked so that :meth:`stop` can join it."""
        with self._connections_lock:
            if self.stopping.is_set():
                self.shutdown_request(request)
                return
            self._connections.add(request)
            thread = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name="usagekit-sandbox-conn",
                daemon=True,
            )
            self._threads_alive.add(thread)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._threads_alive.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet for a connection the client or :meth:`stop` cut (no traceback on stderr); else the default."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError) or (isinstance(error, OSError) and self.stopping.is_set()):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop accepting, close every open connection, and join every thread."""
        self.stopping.set()
        self._wake_write.send(b"x")
        if self._thread is not None:
            self._thread.join()
        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        with self._connections_lock:
            threads = list(self._threads_alive)
        for thread in threads:
            thread.join()
        self._wake_read.close()
        self._wake_write.close()
