"""One file over HTTP, within bounds: streamed, resumed, verified, and never larger or slower than allowed.

:func:`stream` fetches a presigned URL into a private temporary file (:class:`Transfer`):

- in chunks of ``DownloadPolicy.chunk_size``, checking the length it was promised (``Content-Length`` /
  ``Content-Range``), resuming with ``Range`` after a dropped connection or a short body, a bounded number
  of times;
- within ``max_size`` bytes (checked against the promised length and while streaming) and ``deadline``
  seconds for the whole file, besides the per-read ``timeout``;
- ``Accept-Encoding: identity`` asked and enforced: a compressed reply is refused, never decoded;
- redirects followed only to the same scheme and host (a redirect elsewhere is refused), and connections
  made only where :mod:`usagekit.netguard` permits;
- its type checked by its first bytes (an HTML page answered with ``200`` is an error, not a file) and its
  end by its trailer (a zip's central directory, a PDF's ``%%EOF``).

No message built here quotes a URL's query or a reply's signing fields (:func:`usagekit.redact.redact`).

>>> DownloadPolicy(attempts=3)
DownloadPolicy(attempts=3)
>>> sniff(b"%PDF-1.7 ..."), sniff(b"PK\\x03\\x04rest"), sniff(b"<!DOCTYPE html>")
('pdf', 'xlsx', None)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from usagekit import filecache
from usagekit.errors import ArgumentError, DownloadError
from usagekit.readers.detect import detect_format
from usagekit.redact import redact, strip_queries, strip_query

if TYPE_CHECKING:
    import requests


__all__ = ["DownloadPolicy", "Expired", "Transfer", "keep_urls_out_of_logs", "sniff", "stream"]

ProgressCallback = Callable[[int, int], None]  # (bytes written, bytes added to the expected total)
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_MESSAGE_LIMIT = 200


@dataclass(frozen=True, repr=False)
class DownloadPolicy:
    """How one file is downloaded: chunk size, attempts, timeouts, backoff, and the bounds it must keep.

    ``attempts`` bounds the requests made in a row without receiving a byte (a resume that brings
    bytes starts the count again; a hard cap of ``attempts * 10`` requests stops a server that drips).
    ``timeout`` is requests' ``(connect, read)`` per socket operation; ``deadline`` the seconds one file
    may take in all (attempts, waits and resumes included). ``max_size`` bounds a file's bytes.
    ``allow_hosts`` names hosts (or networks, ``"10.0.0.0/8"``) that may be reached although they are
    not public, besides the API endpoint's own host. A temporary file older than ``stale_after`` seconds
    is a leftover (deleted); a younger one is resumed. ``sleep`` and ``clock`` are injectable.

    >>> DownloadPolicy().chunk_size, DownloadPolicy().max_size
    (1048576, 4294967296)
    """

    chunk_size: int = 1 << 20
    attempts: int = 5
    timeout: tuple[float, float] = (10.0, 60.0)
    backoff: float = 0.25
    max_backoff: float = 4.0
    max_size: int = 4 << 30
    deadline: float = 3600.0
    allow_hosts: tuple[str, ...] = ()
    stale_after: float = 86400.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        for name in ("chunk_size", "attempts", "max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArgumentError(f"DownloadPolicy.{name} must be a whole number, not {value!r}")
        for name in ("backoff", "max_backoff", "deadline", "stale_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ArgumentError(f"DownloadPolicy.{name} must be a number of seconds >= 0, not {value!r}")
        parts = (
            self.timeout if isinstance(self.timeout, tuple) and len(self.timeout) == 2 else (self.timeout,)
        )
        if not all(not isinstance(p, bool) and isinstance(p, int | float) and p > 0 for p in parts):
            raise ArgumentError(
                f"DownloadPolicy.timeout must be seconds > 0 or a (connect, read) pair, not {self.timeout!r}"
            )
        for name in ("sleep", "clock"):
            if not callable(getattr(self, name)):
                raise ArgumentError(
                    f"DownloadPolicy.{name} must be callable, not {type(getattr(self, name)).__name__}"
                )
        if isinstance(self.allow_hosts, str):
            object.__setattr__(self, "allow_hosts", (self.allow_hosts,))
        else:
            object.__setattr__(self, "allow_hosts", tuple(self.allow_hosts))
        if self.chunk_size < 1 or self.attempts < 1 or self.max_size < 1:
            raise ArgumentError("DownloadPolicy: chunk_size, attempts and max_size must be at least 1")
        if not self.deadline > 0:
            raise ArgumentError(f"DownloadPolicy.deadline must be positive, not {self.deadline}")
        if not self.stale_after > self.deadline:
            raise ArgumentError(
                "DownloadPolicy.stale_after must exceed deadline: a download still running would be "
                "taken for a leftover"
            )

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.compare and getattr(self, f.name) != f.default
        ]
        return f"DownloadPolicy({', '.join(shown)})"

    def pause(self, failures: int) -> None:
        """Wait before the next attempt after ``failures`` failed ones in a row."""
        if failures > 0 and self.backoff > 0:
            self.sleep(min(self.max_backoff, self.backoff * 2 ** (failures - 1)))


def sniff(head: bytes) -> str | None:
    """The export file type from its first bytes: ``"pdf"``, ``"xlsx"`` (any zip), ``"xls"``, or ``None``.

    >>> sniff(b"\\xd0\\xcf\\x11\\xe0\\xa1\\xb1\\x1a\\xe1")
    'xls'
    """
    found = detect_format(head)
    return found if found in filecache.EXPORT_TYPES else None


_WHAT = {"html": "an HTML page", "xml": "an XML document", "json": "JSON", "empty": "an empty body"}


def _describe_head(head: bytes, content_type: str | None) -> str:
    """Say what a non-export reply looks like, without quoting it (a page may echo the URL)."""
    what = _WHAT.get(detect_format(head), "neither a workbook nor a PDF")
    return what + (f" (Content-Type {redact(content_type, limit=80)})" if content_type else "")


class _NoQueryInLogs(logging.Filter):
    """Drop query strings from urllib3's request lines (its DEBUG log would show presigned URLs whole)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


_LOG_FILTER = _NoQueryInLogs()


def keep_urls_out_of_logs() -> None:
    """Install :class:`_NoQueryInLogs` on urllib3's connection-pool logger (once; adding it twice is a no-op)."""
    logging.getLogger("urllib3.connectionpool").addFilter(_LOG_FILTER)


class Expired(Exception):
    """The presigned URL has expired: list the task again (its text is already redacted)."""


class _Retry(Exception):
    """A failure worth another attempt (connection, short body, HTTP 5xx); ``restart``: from byte 0."""

    def __init__(self, message: str, *, restart: bool = False) -> None:
        super().__init__(message)
        self.restart = restart


class Transfer:
    """The bytes of one file as they arrive: a private temporary file, its length and running hash.

    Given a :class:`~usagekit.filecache.Resume`, it continues a ``.part`` file a dead process left.
    """

    def __init__(
        self, folder: Path, stem: str, max_size: int, resume: filecache.Resume | None = None
    ) -> None:
        self.folder, self.stem, self.max_size = folder, stem, max_size
        self.size = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.file_type: str | None = None
        self.head = b""
        self.hasher = hashlib.sha256()
        fd = filecache.open_part(resume) if resume is not None else None
        if fd is not None and resume is not None:
            self.path = resume.path
            self.file = os.fdopen(fd, "r+b")
            self._adopt(resume)
        else:
            self.path, fd = filecache.new_part(folder, stem)
            self.file = os.fdopen(fd, "r+b")

    def _adopt(self, resume: filecache.Resume) -> None:
        """Take up the bytes already in a left-behind file (re-hashed: the hash covers the whole file)."""
        while chunk := self.file.read(1 << 20):
            self.hasher.update(chunk)
            self.size += len(chunk)
            if len(self.head) < 16:
                self.head += chunk[: 16 - len(self.head)]
        self.etag, self.total = resume.etag, resume.total
        self.file_type = sniff(self.head) if len(self.head) >= 8 else None
        if self.file_type is None or (self.total is not None and self.size > self.total):
            self.restart()

    def restart(self) -> None:
        """Throw away what arrived (the server ignored ``Range``, or the file changed)."""
        self.file.seek(0)
        self.file.truncate()
        self.size = 0
        self.total = None
        self.head = b""
        self.file_type = None
        self.hasher = hashlib.sha256()

    def write(self, chunk: bytes, content_type: str | None) -> None:
        if self.size + len(chunk) > self.max_size:
            raise DownloadError(
                f"the file is larger than {self.max_size} bytes (DownloadPolicy.max_size); nothing was cached"
            )
        if self.file_type is None:
            self.head += chunk[:16]
            if len(self.head) >= 8:
                self.check_type(content_type)
        self.file.write(chunk)
        self.hasher.update(chunk)
        self.size += len(chunk)

    def check_type(self, content_type: str | None) -> None:
        self.file_type = sniff(self.head)
        if self.file_type is None:
            raise DownloadError(
                f"the reply is {_describe_head(self.head, content_type)}, not an export file "
                "(a proxy or login page?); nothing was cached"
            )

    def learned(self) -> None:
        """Keep what a later process needs to resume this file, should this one die."""
        filecache.remember_part(self.folder, self.stem, self.path, self.etag, self.total)

    def commit(self, final: Path) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.path, final)
        filecache.forget_part(self.folder, self.stem)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        filecache.forget_part(self.folder, self.stem)

    def verify_trailer(self) -> None:
        """A structural end check: a zip ends with its central directory, a PDF with ``%%EOF``."""
        self.file.flush()
        tail_size = {"xlsx": 65_557, "pdf": 4096}.get(self.file_type or "")
        if not tail_size:
            return
        with open(self.path, "rb") as handle:
            handle.seek(max(0, self.size - tail_size))
            tail = handle.read()
        marker = b"PK\x05\x06" if self.file_type == "xlsx" else b"%%EOF"
        if marker not in tail:
            raise _Retry(f"the {self.file_type} file ended before its end marker (cut short)", restart=True)


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """``(first byte, total or None)`` from ``Content-Range: bytes a-b/total``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if match is None:
        return None
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), total


def _xml_field(body: str, name: str) -> str:
    match = re.search(rf"<{name}>(.*?)</{name}>", body, re.S)
    return match[1].strip() if match else ""


def _refuse(response: requests.Response) -> None:
    """Turn a refusal into the right outcome: expired URL, retry, or a final :class:`DownloadError`."""
    status = response.status_code
    if status in (200, 206):
        return
    if status in (429, 500, 502, 503, 504):
        raise _Retry(f"HTTP {status}")
    body = response.raw.read(65536, decode_content=False) or b""  # never decoded: a bomb stays small
    text = body.decode("utf-8", "replace")
    code = redact(_xml_field(text, "Code"), limit=80)
    message = redact(_xml_field(text, "Message"), limit=_MESSAGE_LIMIT)
    if status == 403 and code == "AccessDenied" and "expire" in message.lower():
        raise Expired(message)
    if status == 416:
        raise _Retry("HTTP 416 (range not satisfiable)", restart=True)
    detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    advice = "; list the tasks again" if status in (403, 404) else ""
    raise DownloadError(f"the file was refused ({detail}){advice}")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").rstrip(".").lower(), port


def _open(
    session: requests.Session, url: str, headers: dict[str, str], policy: DownloadPolicy, guarded: bool
) -> requests.Response:
    """GET ``url``, following redirects only within its scheme and host; refuse any other redirect."""
    from usagekit import netguard

    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        if not guarded:
            netguard.check_url(current, netguard.current())
        response = session.get(
            current, headers=headers, stream=True, timeout=policy.timeout, allow_redirects=False
        )
        location = response.headers.get("Location") if response.status_code in _REDIRECTS else None
        if not location:
            return response
        response.close()
        target = urljoin(current, location)
        if _origin(target) != _origin(current):
            host = _origin(target)[1] or "a URL without a host"
            raise DownloadError(
                f"the server redirected the download to another host or scheme ({host}, "
                f"{strip_query(target)}); usagekit follows redirects only within the same scheme and "
                "host, so it refused"
            )
        current = target
    raise DownloadError(f"the server redirected the download more than {_MAX_REDIRECTS} times; refused")


def _begin(
    response: requests.Response, transfer: Transfer, progress: ProgressCallback | None, policy: DownloadPolicy
) -> None:
    """Check a ``200`` / ``206`` reply against what is already there; learn the promised length."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise DownloadError(
            f"the server compressed the file (Content-Encoding {redact(encoding, limit=40)}) although "
            "usagekit asked for identity; refused rather than decoded without a limit"
        )
    length = response.headers.get("Content-Length")
    etag = response.headers.get("ETag")
    if response.status_code == 206:
        span = _content_range(response.headers.get("Content-Range"))
        changed = (
            span is None
            or span[0] != transfer.size
            or (transfer.total is not None and span[1] is not None and span[1] != transfer.total)
        )
        if changed or (transfer.etag and etag and etag != transfer.etag):
            raise _Retry("the server answered a different part or a changed file", restart=True)
        total = span[1] if span else None
    else:
        if transfer.size:
            _rewind(transfer, progress)  # the server ignored Range: start over
        total = int(length) if length and length.isdigit() else None
    if total is not None and total > policy.max_size:
        raise DownloadError(
            f"the server announced {total} bytes, more than {policy.max_size} (DownloadPolicy.max_size); "
            "refused"
        )
    if total is not None and transfer.total is None and progress is not None:
        progress(0, total)
    known = (transfer.etag, transfer.total)
    transfer.total = total
    transfer.etag = etag or transfer.etag
    if (transfer.etag, transfer.total) != known:
        transfer.learned()


def _rewind(transfer: Transfer, progress: ProgressCallback | None) -> None:
    if progress is not None and (transfer.size or transfer.total):
        progress(-transfer.size, -(transfer.total or 0))
    transfer.restart()


def _out_of_time(policy: DownloadPolicy, deadline_at: float, transfer: Transfer) -> None:
    if policy.clock() > deadline_at:
        raise DownloadError(
            f"the file took longer than {policy.deadline:g} s (DownloadPolicy.deadline); "
            f"{transfer.size} bytes had arrived; nothing was cached"
        )


def stream(
    session: requests.Session,
    url: str,
    transfer: Transfer,
    policy: DownloadPolicy,
    progress: ProgressCallback | None,
    deadline_at: float,
) -> None:
    """Fetch ``url`` into ``transfer`` whole: resume, retry and verify within ``policy``'s bounds.

    Runs under :func:`usagekit.netguard.allowing`; raises :class:`Expired` or :class:`DownloadError`.
    """
    import requests
    import urllib3

    from usagekit import netguard

    guarded = netguard.is_guarded(session, url)
    failures = requests_made = 0
    last = "no attempt"
    while True:
        _out_of_time(policy, deadline_at, transfer)
        requests_made += 1
        before = transfer.size
        headers = {"Accept-Encoding": "identity"}
        if transfer.size:
            headers["Range"] = f"bytes={transfer.size}-"
            if transfer.etag:
                headers["If-Range"] = transfer.etag
        try:
            with _open(session, url, headers, policy, guarded) as response:
                _refuse(response)
                _begin(response, transfer, progress, policy)
                content_type = response.headers.get("Content-Type")
                raw = response.raw
                while True:
                    _out_of_time(policy, deadline_at, transfer)
                    chunk = raw.read1(policy.chunk_size, decode_content=False)
                    if not chunk:
                        break
                    transfer.write(chunk, content_type)
                    if progress is not None:
                        progress(len(chunk), 0)
                if transfer.file_type is None:
                    transfer.check_type(content_type)
            if transfer.total is not None and transfer.size > transfer.total:
                raise DownloadError(f"received {transfer.size} bytes where {transfer.total} were promised")
            if transfer.total is None or transfer.size == transfer.total:
                transfer.verify_trailer()
                return
            last = f"short body ({transfer.size} of {transfer.total} bytes)"
        except _Retry as error:
            last = str(error)
            if error.restart:
                _rewind(transfer, progress)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as error:
            last = f"connection failed ({type(error).__name__})"
        except urllib3.exceptions.HTTPError as error:  # raw reads: broken or short body, read timeout
            last = f"connection broken ({type(error).__name__})"
        except requests.RequestException as error:  # its text would carry the URL: name the kind only
            last = f"the request could not be made ({type(error).__name__})"
            raise DownloadError(last) from None
        failures = 1 if transfer.size > before else failures + 1
        if failures >= policy.attempts or requests_made >= policy.attempts * 10:
            raise DownloadError(f"gave up after {requests_made} attempts: {last}")
        policy.pause(failures)


def safe_text(text: str, url: str | None) -> str:
    """``text`` with the URL's query string (the credential) and any signing field removed."""
    if url:
        query = urlsplit(url).query
        if query:
            text = text.replace(url, strip_query(url) or "").replace(query, "…")
    return redact(strip_queries(text))
