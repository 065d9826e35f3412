"""The export files kept on disk: where each one lives, its record, its lock and its leftovers.

``<root>/files/<account>/<kind>/<task id>.<xlsx|pdf|xls>`` beside ``<task id>.json``, a record of the size,
SHA-256, time, account name, kind, task id and file type (never the URL, never the access key id).
``<account>`` is 16 hex digits of the SHA-256 of the account's access key id and endpoint, so two accounts
of the same name never share files and no key id sits in a path in clear. The folders are private
(:mod:`usagekit.cachedir`).

A cached file is served only when it is a regular file of ours (not a link, nobody else may write it) and its
bytes match the recorded SHA-256; anything else is a miss, logged, and the file is fetched again.
Lock files and temporary files are opened without following links, inside the cache folder only.
A temporary ``.part`` file left by a process that died is resumed by the next download of the same task
when it is younger than ``stale_after`` and its server's ETag is known (a ``.resume`` record beside it);
older leftovers are deleted. A lock file is deleted by its holder only, while holding it; a process that
waited on a lock checks, once it holds it, that the file it locked is still the one in place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usagekit.cachedir import cache_root, owned_file, private_folder
from usagekit.errors import ConfigurationError

if TYPE_CHECKING:
    from usagekit.accounts import Account

__all__ = [
    "EXPORT_TYPES",
    "Resume",
    "account_folder_name",
    "cached_file",
    "export_folder",
    "locked",
    "lookup",
    "new_part",
    "task_stem",
    "write_private",
]

logger = logging.getLogger("usagekit.downloads")

#: the export file types (as readers.detect names them), each kept under that extension
EXPORT_TYPES = ("pdf", "xlsx", "xls")
META_VERSION = 1
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def account_folder_name(account: Account) -> str:
    """The cache folder of an account: 16 hex digits of SHA-256 over its key id and endpoint."""
    return hashlib.sha256(account.cache_key.encode("utf-8")).hexdigest()[:16]


def task_stem(task_id: str) -> str:
    """A file name stem for a task id: the id itself when harmless, else a hash (no path tricks).

    >>> task_stem("129456"), task_stem("../etc/passwd")[:3]
    ('129456', 'id-')
    """
    if _SAFE_ID.match(task_id):
        return task_id
    return "id-" + hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:24]


def export_folder(root: Path, account: Account, kind: str, *, create: bool = True) -> Path:
    """``root/files/<account>/<kind>``, private (created or checked) unless ``create`` is False."""
    if create:
        return private_folder(root, "files", account_folder_name(account), kind)
    return root / "files" / account_folder_name(account) / kind


def _open_owned(path: Path, flags: int = os.O_RDONLY) -> int | None:
    """A descriptor of ``path`` when it is a regular file of ours (no link followed), else ``None``."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return None
    if not owned_file(os.fstat(fd)):
        os.close(fd)
        return None
    return fd


def _read_json(path: Path) -> dict[str, Any] | None:
    fd = _open_owned(path)
    if fd is None:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            meta = json.loads(handle.read(65536))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def lookup(folder: Path, task_id: str) -> Path | None:
    """The cached file of a task when its record, its owner, its size and its SHA-256 agree, else ``None``."""
    stem = task_stem(task_id)
    meta = _read_json(folder / f"{stem}.json")
    if meta is None or meta.get("task_id") != task_id or meta.get("file_type") not in EXPORT_TYPES:
        return None
    path = folder / f"{stem}.{meta['file_type']}"
    fd = _open_owned(path)
    if fd is None:
        if os.path.lexists(path):
            logger.warning("cached file %s is not a private file of ours; fetching it again", path.name)
        return None
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_size != meta.get("size"):
            return None
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if digest != meta.get("sha256"):
        logger.warning("cached file %s does not match its recorded SHA-256; fetching it again", path.name)
        return None
    return path


def cached_file(
    account: Account, kind: str, task_id: str, *, cache_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The cached export file of a task, or ``None`` when it has not been fetched (no network).

    >>> from usagekit.accounts import Account
    >>> cached_file(Account("a", "LTAIexample-00000000", "s"), "detail", "1", cache_dir="/nonexistent")
    """
    folder = export_folder(cache_root(cache_dir), account, kind, create=False)
    if not folder.is_dir():
        return None
    return lookup(export_folder(cache_root(cache_dir), account, kind), str(task_id))


@contextlib.contextmanager
def locked(folder: Path, stem: str) -> Iterator[None]:
    """Hold ``.<stem>.lock`` in ``folder`` (flock: released by the OS if the process dies).

    The file is opened without following a link. Its holder deletes it before letting go; whoever
    waited on it then finds the path gone (or another file there) and locks afresh, so two holders
    can never each hold a different file of the same name.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename alone keeps files whole
        yield
        return
    path = folder / f".{stem}.lock"
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR | _NOFOLLOW | _CLOEXEC, 0o600)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise ConfigurationError(
                    f"the cache holds a symbolic link where a lock file belongs ({path}); "
                    "usagekit does not follow it: remove it"
                ) from None
            raise
        if not owned_file(os.fstat(fd)):
            os.close(fd)
            raise ConfigurationError(f"the lock file {path} is not a private file of yours: remove it")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its holder deleted it while we waited: lock the one in place now
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)  # closing releases the lock


def write_private(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (private temporary file, then ``os.replace``), mode 0600.

    ``durable=False`` skips the ``fsync`` (for notes whose loss costs nothing but a fresh start).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW | _CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# --- temporary files and resuming --------------------------------------------------------------------


@dataclass(frozen=True)
class Resume:
    """A ``.part`` file left behind, with what a ranged request needs to continue it."""

    path: Path
    etag: str
    total: int | None


def new_part(folder: Path, stem: str) -> tuple[Path, int]:
    """A fresh private temporary file for ``stem`` (``O_EXCL``, no link followed): its path and descriptor."""
    name = f".{stem}.{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}.part"
    path = folder / name
    return path, os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | _NOFOLLOW | _CLOEXEC, 0o600)


def open_part(resume: Resume) -> int | None:
    """A descriptor of a left-behind ``.part`` file, for reading and appending (``None``: not usable)."""
    return _open_owned(resume.path, os.O_RDWR)


def remember_part(folder: Path, stem: str, part: Path, etag: str | None, total: int | None) -> None:
    """Note what a resume of ``part`` needs (only with an ETag: without one a change cannot be told)."""
    record = folder / f".{stem}.resume"
    if not etag:
        forget_part(folder, stem)
        return
    note = json.dumps({"part": part.name, "etag": etag, "total": total}).encode("utf-8")
    write_private(record, note, durable=False)  # lost in a crash: the part is swept, not resumed


def forget_part(folder: Path, stem: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(folder / f".{stem}.resume")


def sweep(folder: Path, stem: str, stale_after: float) -> Resume | None:
    """Under ``stem``'s lock: delete leftovers of dead downloads; the ``.part`` worth resuming, if any.

    Temporary files of other tasks are deleted only when older than ``stale_after`` (a live download
    writes more often than that); those of ``stem`` are all leftovers, since we hold its lock.
    """
    now = time.time()
    own = re.compile(
        rf"^\.{re.escape(stem)}\.(?:\d+-\d+-[0-9a-f]{{8}}\.part|resume|json\.\d+-\d+-[0-9a-f]{{8}}\.tmp)$"
    )
    record = _read_json(folder / f".{stem}.resume")
    keep: Path | None = None
    if record and isinstance(record.get("part"), str) and isinstance(record.get("etag"), str):
        candidate = folder / record["part"]
        with contextlib.suppress(OSError):
            info = candidate.lstat()
            fresh = now - info.st_mtime < stale_after
            if fresh and owned_file(info) and own.match(candidate.name):
                keep = candidate
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or not name.endswith((".part", ".resume", ".tmp")):
            continue
        ours = own.match(name) is not None
        if ours and entry.path == str(keep):
            continue
        if name == f".{stem}.resume" and keep is not None:
            continue
        with contextlib.suppress(OSError):
            if ours or now - entry.stat(follow_symlinks=False).st_mtime > stale_after:
                os.unlink(entry.path)
    if keep is None or record is None:
        return None
    total = record.get("total")
    return Resume(keep, record["etag"], total if isinstance(total, int) else None)
