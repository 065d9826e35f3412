"""Export files fetched once: streamed, verified, resumed, and kept in a local cache, atomically.

:func:`fetch` takes tasks (a task frame, rows of one, or ``ExportTask`` objects) and returns the path of
each export file in the cache, downloading only what is not there yet. Every download

- streams in 1 MiB chunks into a private temporary file in the cache folder;
- checks the length it was promised (``Content-Length`` / ``Content-Range``) and resumes with ``Range``
  after a dropped connection or a short body, a bounded number of times;
- checks the file type by its first bytes (an HTML page answered with ``200`` is an error, not a file);
- moves the finished file into place with one ``os.replace``, beside a small JSON record (size,
  sha256, time, account name, kind, task id, file type: never the URL, never the access key id).

The cache lives under ``cache_dir``, else ``$USAGEKIT_CACHE_DIR``, else the platform's user cache folder,
in ``files/<account>/<kind>/<task_id>.<xlsx|pdf|xls>`` where ``<account>`` is the first 16 hex digits of
the SHA-256 of the account's access key id and endpoint (so two accounts of the same name never share
files, and no key id sits in a path in clear). Folders are created ``0700`` and files ``0600``: these are
customer data. Two threads or processes fetching the same task wait for each other on a lock file
(``fcntl.flock``, where the platform has it) and in any case never leave a partial file in place.

The full presigned URL comes from the memory of the listing that returned it (``usagekit.memory``); when it
is missing or has expired (HTTP 403 ``AccessDenied`` "Request has expired") the task is listed once more.
No error message, warning or record carries a URL's query string.

>>> policy = DownloadPolicy(attempts=3)
>>> policy
DownloadPolicy(chunk_size=1048576, attempts=3, timeout=(10.0, 60.0), backoff=0.25, max_backoff=4.0)
>>> sniff(b"%PDF-1.7 ..."), sniff(b"PK\\x03\\x04rest"), sniff(b"<!DOCTYPE html>")
('pdf', 'xlsx', None)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd

from usagekit.errors import DownloadError, TaskStateError, UrlExpiredError
from usagekit.frames import KINDS
from usagekit.progress import progress_enabled
from usagekit.readers.detect import detect_format
from usagekit.redact import strip_queries, strip_query

if TYPE_CHECKING:
    import requests

    from usagekit.accounts import Account

__all__ = [
    "DownloadPolicy",
    "Job",
    "TaskRef",
    "cache_root",
    "cached_file",
    "fetch",
    "fetch_file",
    "require_success",
    "resolve",
    "run_jobs",
    "sniff",
    "task_refs",
]

#: the export file types (as readers.detect names them), each kept under that extension
EXPORT_TYPES = ("pdf", "xlsx", "xls")
_META_VERSION = 1
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

ProgressCallback = Callable[[int, int], None]  # (bytes written, bytes added to the expected total)


@dataclass(frozen=True)
class DownloadPolicy:
    """How one file is downloaded: chunk size, attempts, timeouts, backoff between attempts.

    ``attempts`` bounds the requests made in a row without receiving a byte (a resume that brings
    bytes starts the count again; a hard cap of ``attempts * 10`` requests stops a server that drips).
    ``timeout`` is requests' ``(connect, read)``; ``sleep`` is injectable so tests never wait.

    >>> DownloadPolicy().chunk_size
    1048576
    """

    chunk_size: int = 1 << 20
    attempts: int = 5
    timeout: tuple[float, float] = (10.0, 60.0)
    backoff: float = 0.25
    max_backoff: float = 4.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

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
    return found if found in EXPORT_TYPES else None


_WHAT = {"html": "an HTML page", "xml": "an XML document", "json": "JSON", "empty": "an empty body"}


def _describe_head(head: bytes, content_type: str | None) -> str:
    """Say what a non-export reply looks like, without quoting it (a page may echo the URL)."""
    what = _WHAT.get(detect_format(head), "neither a workbook nor a PDF")
    return what + (f" (Content-Type {content_type})" if content_type else "")


class _NoQueryInLogs(logging.Filter):
    """Drop query strings from urllib3's request lines (its DEBUG log would show presigned URLs whole)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(strip_queries(a) if isinstance(a, str) else a for a in record.args)
        return True


_LOG_FILTER = _NoQueryInLogs()


def _keep_urls_out_of_logs() -> None:
    """Install :class:`_NoQueryInLogs` on urllib3's connection-pool logger (once; adding it twice is a no-op)."""
    logging.getLogger("urllib3.connectionpool").addFilter(_LOG_FILTER)


def _safe(text: str, url: str | None) -> str:
    """``text`` with the URL's query string (the credential) removed."""
    if url:
        query = urlsplit(url).query
        if query:
            text = text.replace(url, strip_query(url) or "").replace(query, "…")
    return strip_queries(text)


# --- the cache ---------------------------------------------------------------------------------------


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$USAGEKIT_CACHE_DIR``, else the platform's user cache.

    >>> cache_root("/tmp/somewhere")
    PosixPath('/tmp/somewhere')
    """
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("USAGEKIT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("usagekit"))


def account_folder_name(account: Account) -> str:
    """The cache folder of an account: 16 hex digits of SHA-256 over its key id and endpoint."""
    return hashlib.sha256(account.cache_key.encode("utf-8")).hexdigest()[:16]


def _task_stem(task_id: str) -> str:
    """A file name stem for a task id: the id itself when harmless, else a hash (no path tricks)."""
    if _SAFE_ID.match(task_id):
        return task_id
    return "id-" + hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:24]


def _private_dirs(root: Path, *parts: str) -> Path:
    """``root/parts...``, creating the folders that are missing with mode 0700."""
    if not root.exists():
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            root.chmod(0o700)
    path = root
    for part in parts:
        path = path / part
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        path.chmod(0o700)  # mkdir's mode is masked by the umask
    return path


def _folder(root: Path, account: Account, kind: str) -> Path:
    return root / "files" / account_folder_name(account) / kind


def _read_meta(meta_path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _lookup(folder: Path, task_id: str) -> Path | None:
    """The cached file of a task when its record and its file agree (size), else ``None``."""
    stem = _task_stem(task_id)
    meta = _read_meta(folder / f"{stem}.json")
    if meta is None or meta.get("task_id") != task_id or meta.get("file_type") not in EXPORT_TYPES:
        return None
    path = folder / f"{stem}.{meta['file_type']}"
    try:
        if path.stat().st_size == meta.get("size"):
            return path
    except OSError:
        return None
    return None


def cached_file(
    account: Account, kind: str, task_id: str, *, cache_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The cached export file of a task, or ``None`` when it has not been fetched (no network).

    >>> from usagekit.accounts import Account
    >>> cached_file(Account("a", "LTAIexample-00000000", "s"), "detail", "1", cache_dir="/nonexistent")
    """
    return _lookup(_folder(cache_root(cache_dir), account, kind), str(task_id))


@contextlib.contextmanager
def _locked(folder: Path, stem: str) -> Iterator[None]:
    """Hold ``.<stem>.lock`` in ``folder`` (flock: released by the OS if the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename alone keeps files whole
        yield
        return
    fd = os.open(folder / f".{stem}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (private temporary file, then ``os.replace``), mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}.part")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# --- one transfer ------------------------------------------------------------------------------------


class _Expired(Exception):
    """The presigned URL has expired: list the task again."""


class _Retry(Exception):
    """A failure worth another attempt (connection, short body, HTTP 5xx); ``restart``: from byte 0."""

    def __init__(self, message: str, *, restart: bool = False) -> None:
        super().__init__(message)
        self.restart = restart


class _Transfer:
    """The bytes of one file as they arrive: a private temporary file, its length and running hash."""

    def __init__(self, folder: Path, stem: str) -> None:
        name = f".{stem}.{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}.part"
        self.path = folder / name
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        self.file = os.fdopen(fd, "wb")
        self.size = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.file_type: str | None = None
        self.head = b""
        self.hasher = hashlib.sha256()

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

    def commit(self, final: Path) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.path, final)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

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
    body = response.raw.read(65536, decode_content=True) or b""
    text = body.decode("utf-8", "replace")
    code, message = _xml_field(text, "Code"), _xml_field(text, "Message")[:200]
    if status == 403 and code == "AccessDenied" and "expire" in message.lower():
        raise _Expired(message)
    if status == 416:
        raise _Retry("HTTP 416 (range not satisfiable)", restart=True)
    detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    advice = "; list the tasks again" if status in (403, 404) else ""
    raise DownloadError(f"the file was refused ({detail}){advice}")


def _stream(
    session: requests.Session,
    url: str,
    transfer: _Transfer,
    policy: DownloadPolicy,
    progress: ProgressCallback | None,
) -> None:
    """Fetch ``url`` into ``transfer`` whole: resume, retry and verify within ``policy``'s bounds."""
    import requests
    import urllib3

    failures = requests_made = 0
    last = "no attempt"
    while True:
        requests_made += 1
        before = transfer.size
        headers = {"Accept-Encoding": "identity"}
        if transfer.size:
            headers["Range"] = f"bytes={transfer.size}-"
            if transfer.etag:
                headers["If-Range"] = transfer.etag
        try:
            with session.get(url, headers=headers, stream=True, timeout=policy.timeout) as response:
                _refuse(response)
                _begin(response, transfer, progress)
                content_type = response.headers.get("Content-Type")
                encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
                chunks = (
                    response.iter_content(policy.chunk_size)
                    if encoded
                    else response.raw.stream(policy.chunk_size, decode_content=False)
                )
                for chunk in chunks:
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
        except urllib3.exceptions.HTTPError as error:  # raised by raw.stream: broken or short body
            last = f"connection broken ({type(error).__name__})"
        except requests.RequestException as error:  # its text would carry the URL: name the kind only
            raise DownloadError(f"the request could not be made ({type(error).__name__})") from None
        failures = 1 if transfer.size > before else failures + 1
        if failures >= policy.attempts or requests_made >= policy.attempts * 10:
            raise DownloadError(f"gave up after {requests_made} attempts: {last}")
        policy.pause(failures)


def _begin(response: requests.Response, transfer: _Transfer, progress: ProgressCallback | None) -> None:
    """Check a ``200`` / ``206`` reply against what is already there; learn the promised length."""
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
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        total = int(length) if length and length.isdigit() and not encoded else None
    if total is not None and transfer.total is None and progress is not None:
        progress(0, total)
    transfer.total = total
    transfer.etag = etag or transfer.etag


def _rewind(transfer: _Transfer, progress: ProgressCallback | None) -> None:
    if progress is not None and (transfer.size or transfer.total):
        progress(-transfer.size, -(transfer.total or 0))
    transfer.restart()


# --- one file ----------------------------------------------------------------------------------------


def _refresh(account: Account, kind: str, task_id: str) -> str:
    """List the task again and return its fresh presigned URL (kept in memory only)."""
    from usagekit.listing import refresh

    return refresh(account, kind, task_id).url


def fetch_file(
    account: Account,
    kind: str,
    task_id: str,
    url: str | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    session: requests.Session | None = None,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The cached export file of one task, downloaded first when it is not in the cache.

    A module-level function of plain values, so an executor can run it anywhere (a dask worker
    receives the ``Account`` and the URL: that is the caller's choice of executor). ``url`` is the full
    presigned URL; ``None`` (or an expired one) lists the task again, once. Raises
    :class:`~usagekit.errors.UrlExpiredError` when even the fresh URL has expired, and
    :class:`~usagekit.errors.DownloadError` when the file could not be fetched whole (nothing is
    cached then).

    >>> path = fetch_file(account, "detail", "129456", url)  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    '129456.xlsx'
    """
    task_id = str(task_id)
    if kind not in KINDS:
        raise ValueError(f"kind must be 'summary' or 'detail', not {kind!r}")
    policy = policy or DownloadPolicy()
    _keep_urls_out_of_logs()
    folder = _private_dirs(cache_root(cache_dir), "files", account_folder_name(account), kind)
    stem = _task_stem(task_id)
    hit = _lookup(folder, task_id)
    if hit is not None:
        return hit
    with _locked(folder, stem):
        hit = _lookup(folder, task_id)  # another thread or process may have finished it meanwhile
        if hit is not None:
            return hit
        own_session = session is None
        if own_session:
            import requests

            session = requests.Session()
        assert session is not None
        transfer = _Transfer(folder, stem)
        try:
            try:
                url = url or _refresh(account, kind, task_id)
                try:
                    _stream(session, url, transfer, policy, progress)
                except _Expired:
                    url = _refresh(account, kind, task_id)
                    try:
                        _stream(session, url, transfer, policy, progress)  # resumes what arrived
                    except _Expired as error:
                        raise UrlExpiredError(
                            f"the download URL of {kind} task {task_id} (account {account.name!r}) had "
                            f"expired again right after listing it ({error}); check the clock, then "
                            "list the tasks again",
                            task_id=task_id,
                            account=account.name,
                        ) from None
            except DownloadError as error:
                if error.task_id is None:
                    raise type(error)(
                        f"could not download {kind} task {task_id} of account {account.name!r} "
                        f"({strip_query(url)}): {_safe(str(error), url)}",
                        task_id=task_id,
                        account=account.name,
                    ) from None
                raise
            final = folder / f"{stem}.{transfer.file_type}"
            size, digest, file_type = transfer.size, transfer.hasher.hexdigest(), transfer.file_type
            transfer.commit(final)
            meta = {
                "version": _META_VERSION,
                "account": account.name,
                "kind": kind,
                "task_id": task_id,
                "file_type": file_type,
                "size": size,
                "sha256": digest,
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _write_private(folder / f"{stem}.json", json.dumps(meta, indent=1).encode("utf-8"))
            return final
        finally:
            transfer.discard()
            if own_session:
                session.close()


# --- many tasks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRef:
    """What fetching needs to know of one task row: account name, kind, id, status, last update."""

    account: str
    kind: str
    task_id: str
    status: str | None = None
    updated: pd.Timestamp | None = None


def _field(item: Any, name: str) -> Any:
    value = item.get(name) if isinstance(item, Mapping | pd.Series) else getattr(item, name, None)
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def task_refs(tasks: Any) -> list[TaskRef]:
    """Task references from a task frame, rows of one (``Series``/mappings) or ``ExportTask`` objects.

    >>> frame = pd.DataFrame({"account": ["shop"], "kind": ["detail"], "task_id": ["12"], "status": ["success"]})
    >>> task_refs(frame)
    [TaskRef(account='shop', kind='detail', task_id='12', status='success', updated=None)]
    """
    if isinstance(tasks, pd.DataFrame):
        items: Iterable[Any] = tasks.to_dict("records")
    elif isinstance(tasks, pd.Series | Mapping) or hasattr(tasks, "task_id"):
        items = [tasks]
    elif isinstance(tasks, Iterable) and not isinstance(tasks, str | bytes):
        items = list(tasks)
    else:
        raise TypeError(
            f"fetch takes a task frame, rows of one or ExportTask objects, not {type(tasks).__name__}"
        )
    refs = []
    for item in items:
        account, kind, task_id = (_field(item, name) for name in ("account", "kind", "task_id"))
        if account is None or kind is None or task_id is None:
            raise TypeError(
                "each task needs an account, a kind and a task_id (rows of list_tasks() have them)"
            )
        updated = _field(item, "updated")
        status = _field(item, "status")
        refs.append(
            TaskRef(
                str(account),
                str(kind),
                str(task_id),
                None if status is None else str(status),
                None if updated is None else pd.Timestamp(updated),
            )
        )
    return refs


def require_success(refs: Sequence[TaskRef]) -> None:
    """Raise :class:`TaskStateError` naming every task that is not ``success``."""
    bad = [ref for ref in refs if ref.status != "success"]
    if bad:
        named = ", ".join(
            f"{r.kind} task {r.task_id} of {r.account!r} is {r.status or 'of unknown status'}"
            for r in bad[:5]
        )
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise TaskStateError(
            f"only tasks in status 'success' have a file: {named}{more}; wait() for running ones, "
            "or filter with list_tasks(status='success')"
        )


def resolve(ref: TaskRef, accounts: Sequence[Account] | None) -> tuple[Account, str | None]:
    """The account a task was listed with and its remembered full URL (``None`` when not remembered)."""
    from usagekit.memory import remembered, resolve_account

    entry = remembered(ref.account, ref.kind, ref.task_id)
    if entry is not None:
        return entry.account, entry.url
    return resolve_account(ref.account, accounts), None


class _ByteBar:
    """A thread-safe byte progress bar (``tqdm.auto``) whose total grows as replies announce lengths."""

    def __init__(self, enabled: bool, description: str) -> None:
        self.bar = None
        self.lock = threading.Lock()
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=description)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        with self.lock:
            if total:
                self.bar.total = (self.bar.total or 0) + total
                self.bar.refresh()
            if done:
                self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_jobs(
    executor: Executor,
    jobs: Sequence[Callable[[], Any]],
    *,
    on_done: Callable[[Future[Any]], None] | None = None,
) -> list[Any]:
    """Run zero-argument jobs on ``executor``; results in order, the first failure raised after all ran.

    ``on_done`` is called with each future as it completes (from whichever thread completes it).

    >>> with ThreadPoolExecutor(2) as pool:
    ...     run_jobs(pool, [Job(pow, 2, 3), Job(pow, 3, 2)])
    [8, 9]
    """
    futures: list[Future[Any]] = []
    for job in jobs:
        future = executor.submit(job)
        if on_done is not None:
            future.add_done_callback(on_done)
        futures.append(future)
    results, errors = [], []
    for future in futures:
        try:
            results.append(future.result())
        except Exception as error:
            results.append(None)
            errors.append(error)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more of the {len(jobs)} jobs failed as well")
        raise first
    return results


class Job:
    """A picklable call of a module-level function with fixed arguments (executors may ship it away).

    Its repr names the function only, never the arguments (one of them may be a presigned URL).

    >>> Job(pow, 2, "https://example.com/f?Signature=x")
    Job(pow)
    """

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs

    def __call__(self) -> Any:
        return self.function(*self.args, **self.kwargs)

    def __repr__(self) -> str:  # never shows the URL among the arguments
        return f"Job({self.function.__name__})"


def fetch(
    tasks: Any,
    *,
    accounts: Sequence[Account] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    executor: Executor | None = None,
    session: requests.Session | None = None,
    policy: DownloadPolicy | None = None,
) -> list[Path]:
    """The export files of successful tasks, from the cache or downloaded once; paths in task order.

    ``tasks`` is a task frame (``list_tasks()``), rows of one, or ``ExportTask`` objects; every one must
    be ``success`` (else :class:`~usagekit.errors.TaskStateError` naming them). URLs come from the
    listing's memory, or the task is listed again with the account of the same name (``accounts=``,
    or the accounts usagekit knows). ``executor`` is any ``concurrent.futures.Executor`` (default:
    a few threads); ``progress`` draws a byte progress bar (``None``: when interactive;
    ``TQDM_DISABLE=1`` silences it). A second call for the same tasks touches no network.

    >>> fetch([])
    []
    """
    refs = task_refs(tasks)
    if not refs:
        return []
    require_success(refs)
    root = cache_root(cache_dir)
    unique = list(dict.fromkeys(refs))
    plans = [(ref, *resolve(ref, accounts)) for ref in unique]
    own_executor = executor is None
    in_threads = own_executor or isinstance(executor, ThreadPoolExecutor)
    own_session = session is None and in_threads
    if own_session:
        import requests

        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    bar = _ByteBar(progress_enabled(progress) and in_threads, "fetch")
    pool = executor or ThreadPoolExecutor(max_workers=min(4, len(plans)), thread_name_prefix="usagekit-fetch")
    try:
        jobs = [
            Job(
                fetch_file,
                account,
                ref.kind,
                ref.task_id,
                url,
                cache_dir=root,
                session=session,
                policy=policy,
                progress=bar if in_threads else None,
            )
            for ref, account, url in plans
        ]
        paths = dict(zip(unique, run_jobs(pool, jobs), strict=True))
    finally:
        bar.close()
        if own_executor:
            pool.shutdown(wait=True)
        if own_session and session is not None:
            session.close()
    return [paths[ref] for ref in refs]
