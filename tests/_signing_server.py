"""A tiny HTTP server for the client tests: it verifies signatures on its own and plays scripted replies.

The verification here deliberately does not use ``usagekit.signing``: it rebuilds the V2 string to sign from
the form body and the V3 canonical request from the ``SignedHeaders`` list it receives, with its own code, so
a mistake in the client's signing cannot hide behind the same mistake in the checker.

Scripted replies are a queue: each request takes the next one (``Reply``, or the strings ``"drop"`` to close
the connection without answering, ``"hang"`` to answer only when the server stops). With the queue empty the
server answers 200 with a JSON echo of what it verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit


def _enc(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")  # RFC 3986: only unreserved characters stay


@dataclass
class Reply:
    """A scripted answer: status, JSON-able or raw body, extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body if self.body is not None else {}).encode()


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    version: str  # "v2", "v3" or "none"
    verified: bool
    problem: str
    access_key_id: str | None
    token: str | None
    params: dict[str, str]


def _verify_v2(form: dict[str, str], keys: dict[str, tuple[str, str | None]]) -> tuple[bool, str]:
    key_id = form.get("AccessKeyId", "")
    if key_id not in keys:
        return False, "unknown key"
    secret, token = keys[key_id]
    if token is not None and form.get("SecurityToken") != token:
        return False, "token mismatch"
    for name in ("Action", "Version", "SignatureNonce", "Timestamp", "Signature"):
        if not form.get(name):
            return False, f"missing {name}"
    if form.get("SignatureMethod") != "HMAC-SHA1" or form.get("SignatureVersion") != "1.0":
        return False, "bad signature method"
    pairs = sorted((k, v) for k, v in form.items() if k != "Signature")
    canonical = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs)
    to_sign = "POST&%2F&" + _enc(canonical)
    expected = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest())
    if not hmac.compare_digest(expected.decode(), form["Signature"]):
        return False, "SignatureDoesNotMatch"
    return True, ""


def _verify_v3(
    method: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    keys: dict[str, tuple[str, str | None]],
) -> tuple[bool, str, str | None]:
    auth = headers.get("authorization", "")
    algorithm, _, rest = auth.partition(" ")
    if algorithm != "ACS3-HMAC-SHA256":
        return False, "bad algorithm", None
    fields = dict(part.split("=", 1) for part in rest.split(","))
    key_id = fields.get("Credential", "")
    if key_id not in keys:
        return False, "unknown key", key_id
    secret, token = keys[key_id]
    signed = fields.get("SignedHeaders", "").split(";")
    required = {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}
    required.add("x-acs-content-sha256")
    required |= {name for name in headers if name.startswith("x-acs-")}
    if token is not None:
        required.add("x-acs-security-token")
        if headers.get("x-acs-security-token") != token:
            return False, "token mismatch", key_id
    if not required <= set(signed):
        return False, f"unsigned headers {sorted(required - set(signed))}", key_id
    if signed != sorted(signed):
        return False, "SignedHeaders not sorted", key_id
    if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
        return False, "body hash mismatch", key_id
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        [method, "/", canonical_query, canonical_headers, ";".join(signed), headers["x-acs-content-sha256"]]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return False, "SignatureDoesNotMatch", key_id
    return True, "", key_id


class SigningServer:
    """A verifying, scriptable API server on 127.0.0.1; use as a context manager.

    ``keys`` maps an access key id to ``(secret, token or None)``.
    """

    def __init__(self, keys: dict[str, tuple[str, str | None]]) -> None:
        self.keys = keys
        self.replies: deque[Reply | str] = deque()
        self.seen: list[Seen] = []
        self._release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                server._handle(self)

            def do_GET(self) -> None:
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply | str) -> None:
        self.replies.extend(replies)

    def __enter__(self) -> SigningServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        split = urlsplit(handler.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        form: dict[str, str] = {}
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        token: str | None
        if "authorization" in headers:
            version = "v3"
            ok, problem, key_id = _verify_v3(handler.command, query, headers, body, self.keys)
            token = headers.get("x-acs-security-token")
            params = dict(query)
            params["Action"] = headers.get("x-acs-action", "")
        elif form:
            version = "v2"
            ok, problem = _verify_v2(form, self.keys)
            key_id, token = form.get("AccessKeyId"), form.get("SecurityToken")
            params = dict(form)
            if query:
                ok, problem = False, "V2 request carries a URL query"
        else:
            version, ok, problem, key_id, token, params = "none", False, "unsigned", None, None, {}
        with self._lock:
            seen = Seen(
                handler.command, split.path, query, headers, form, version, ok, problem, key_id, token, params
            )
            self.seen.append(seen)
            reply = self.replies.popleft() if self.replies else None
        if reply == "drop":
            handler.close_connection = True
            handler.connection.close()
            return
        if reply == "hang":
            self._release.wait(5)
            handler.close_connection = True
            return
        if reply is None:
            if ok:
                reply = Reply(
                    200, {"RequestId": uuid.uuid4().hex.upper(), "Verified": True, "Params": params}
                )
            else:
                reply = Reply(
                    400,
                    {"RequestId": "BAD-SIG", "Code": "SignatureDoesNotMatch", "Message": problem},
                )
        assert isinstance(reply, Reply)
        data = reply.encoded()
        handler.send_response(reply.status)
        handler.send_header("content-length", str(len(data)))
        if "content-type" not in {k.lower() for k in reply.headers}:
            handler.send_header("content-type", "application/json;charset=utf-8")
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
