"""The cache of parsed files: a frame per file content, in memory (LRU) and on disk (Parquet).

Entries are keyed by the SHA-256 of the file's bytes together with the reader's version and options
(the column mapping, the size of a kilobyte), never by the file's name or date, so a changed file is
never served stale and a renamed one is still found. The memory cache keeps a few frames and hands out
copies, so a caller changing its frame cannot change the cache. The disk cache lives in
``$USAGEKIT_CACHE_DIR/parsed`` (default: the platform's user cache dir for ``usagekit``), a private folder
(:mod:`usagekit.cachedir`: created 0700, a folder open to others tightened, one owned by another user
refused); files are written atomically (temporary file, then rename) and readable by their owner only
(0600), and a file that is not a private file of ours is never read. It needs pyarrow (the ``parquet``
extra); without it only the memory cache works.

Each ``<key>.parquet`` is verified like the downloaded files: its SHA-256 and size are recorded in
``<key>.json`` when it is written and checked on every read, against the very bytes then parsed. A file
that no longer matches (values changed on disk, bytes flipped) is never served: a
:class:`~usagekit.errors.CacheWarning` says so, the file is deleted, and the export file (itself
verified) is parsed again. A file without a record (an older usagekit, or a writer killed in between) is
a quiet miss. Temporary files whose writer is gone (killed) are swept (:func:`sweep`); any other error
surfaces as itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from usagekit.cachedir import CACHE_ENV, cache_root, existing_private_folder, owned_file, private_folder
from usagekit.errors import CacheWarning
from usagekit.readers.detect import Source, opened

__all__ = ["CACHE_ENV", "ParsedCache", "cache_dir", "content_digest", "memory_cache", "sweep"]

logger = logging.getLogger("usagekit.readers")

#: the version of the record (``<key>.json``) kept beside each parsed file
RECORD_VERSION = 1
#: how temporary files in the cache folder end (``.<name>.<random>.tmp``)
TEMP_SUFFIX = ".tmp"
#: seconds a new temporary file is left alone before its writer's lock is asked for
TEMP_GRACE = 60.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Where parsed frames are kept on disk: ``<root>/parsed``, ``root`` defaulting to
    ``$USAGEKIT_CACHE_DIR``, else the user cache dir (the same root as the download cache's).

    >>> cache_dir().name
    'parsed'
    >>> cache_dir("/tmp/chosen").as_posix()
    '/tmp/chosen/parsed'
    """
    return cache_root(root) / "parsed"


def content_digest(source: Source) -> str:
    """The hex SHA-256 of the file's bytes (``hashlib.file_digest``: a GiB a second or more).

    >>> content_digest(b"")[:12]
    'e3b0c44298fc'
    """
    if isinstance(source, bytes | bytearray):
        return hashlib.sha256(source).hexdigest()
    with opened(source) as handle:
        # opened() gives a BytesIO or a file opened "rb": both have the readinto IO[bytes] does not promise
        return hashlib.file_digest(handle, "sha256").hexdigest()  # type: ignore[arg-type]


class ParsedCache:
    """Parsed frames by key: a small in-memory LRU over an optional Parquet directory.

    >>> cache = ParsedCache(capacity=2, directory=None)
    >>> cache.put("k", pd.DataFrame({"value": [1.0]}))
    >>> frame = cache.get("k")
    >>> frame.loc[0, "value"] = 99.0   # a copy: the cache keeps its own
    >>> float(cache.get("k").loc[0, "value"])
    1.0
    """

    def __init__(self, capacity: int = 4, directory: Path | None = None) -> None:
        self.capacity = capacity
        self.directory = directory
        self._frames: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ParsedCache(capacity={self.capacity}, entries={len(self._frames)}, directory={self.directory})"
        )

    def get(
        self,
        key: str,
        *,
        disk: bool = True,
        conform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
        directory: Path | None = None,
    ) -> pd.DataFrame | None:
        """A copy of the frame cached under ``key`` (memory first, then disk), or ``None``.

        ``conform`` restores what Parquet does not keep (e.g. an all-missing categorical comes back as
        ``object``) on frames read from disk. ``directory`` overrides the cache's own for this call.
        """
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                return frame.copy()
        directory = directory or self.directory
        if not disk or directory is None:
            return None
        if not existing_private_folder(directory):
            return None
        frame = self._load(key, directory, conform)
        if frame is None:
            return None
        self._remember(key, frame)
        return frame.copy()

    def _load(
        self, key: str, directory: Path, conform: Callable[[pd.DataFrame], pd.DataFrame] | None
    ) -> pd.DataFrame | None:
        """The frame of ``<key>.parquet`` when its bytes match the SHA-256 and size recorded beside it."""
        path = directory / f"{key}.parquet"
        data = _owned_bytes(path)
        if data is None:
            return None
        record = _owned_bytes(directory / f"{key}.json")
        try:
            expected = json.loads(record) if record is not None else None
        except ValueError:
            expected = None
        if not isinstance(expected, dict) or "sha256" not in expected:
            # written by an older usagekit, or by a writer that died before its record: never served,
            # parsed again and replaced (not deleted here: a writer may be about to record it)
            return None
        if expected.get("size") != len(data) or expected["sha256"] != hashlib.sha256(data).hexdigest():
            warnings.warn(
                f"the parsed cache file {path.name} in {directory} does not match the SHA-256 recorded "
                "when it was written (changed on disk since); it was not used, and the export file is "
                "parsed again",
                CacheWarning,
                stacklevel=4,  # read_usage's caller
            )
            path.unlink(missing_ok=True)
            return None
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq  # the parquet extra; without it the disk cache is off
        except ImportError:
            return None
        try:
            frame: pd.DataFrame = pq.read_table(pa.BufferReader(data)).to_pandas()  # the bytes just checked
            if conform is not None:
                frame = conform(frame)
        except (OSError, ValueError, pa.ArrowException) as error:  # recorded, yet not ours to read
            logger.warning("parsed cache file %s could not be used (%s); parsing again", path.name, error)
            path.unlink(missing_ok=True)
            return None
        return frame

    def put(self, key: str, frame: pd.DataFrame, *, disk: bool = True, directory: Path | None = None) -> None:
        """Keep a copy of ``frame`` under ``key`` in memory, and on disk when ``disk`` and a directory is set
        (``directory``, else the cache's own)."""
        self._remember(key, frame.copy())
        directory = directory or self.directory
        if disk and directory is not None:
            self._write(key, frame, directory)

    def clear(self) -> None:
        """Forget every frame held in memory (files on disk stay)."""
        with self._lock:
            self._frames.clear()

    def _remember(self, key: str, frame: pd.DataFrame) -> None:
        with self._lock:
            self._frames[key] = frame
            self._frames.move_to_end(key)
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)

    def _write(self, key: str, frame: pd.DataFrame, directory: Path) -> None:
        try:
            private_folder(directory.parent, directory.name)
            buffer = io.BytesIO()
            # uncompressed: reads twice as fast, and dictionary encoding already keeps it small
            frame.to_parquet(buffer, index=False, compression=None)
            data = buffer.getvalue()
            record = {
                "version": RECORD_VERSION,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
            _store(directory, f"{key}.parquet", data)
            _store(directory, f"{key}.json", json.dumps(record).encode())  # the file first: never a
            # record without its file; a file without its record is a miss
        except ImportError:  # no pyarrow (the parquet extra): keep the memory cache only
            return
        except OSError as error:
            warnings.warn(
                f"usagekit could not keep the parsed file in {directory} ({error.strerror or error}); "
                f"it will be parsed again next time (set {CACHE_ENV} to a writable directory)",
                CacheWarning,
                stacklevel=4,
            )
            return
        sweep(directory)


def _owned_bytes(path: Path) -> bytes | None:
    """The bytes of ``path`` when it is a private regular file of ours (a link is never followed)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not owned_file(info):
        logger.warning("parsed cache file %s is not a private file of ours; parsing again", path.name)
        path.unlink(missing_ok=True)
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError:  # gone, or swapped for a link since the lstat: a miss
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not owned_file(os.fstat(handle.fileno())):
            return None
        return handle.read()


def _hold(descriptor: int) -> None:
    """Lock a temporary file while it is written, so that :func:`sweep` sees its writer alive."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: sweep goes by age alone
        return
    fcntl.flock(descriptor, fcntl.LOCK_EX)


def _store(directory: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``directory/name`` atomically: a private, locked temporary file, then a rename."""
    descriptor, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name[:24]}.", suffix=TEMP_SUFFIX)  # 0600
    try:
        _hold(descriptor)  # held until the rename is done: the OS lets go of it if this process dies
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.replace(tmp, directory / name)
        tmp = ""
    finally:
        os.close(descriptor)
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def _writer_alive(path: Path, info: os.stat_result) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock to ask; a day is more than any write takes
        return time.time() - info.st_mtime < 86400
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return True  # gone already, or not ours to open: left alone
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # also lets go of the lock just taken
    return False


def sweep(directory: str | os.PathLike[str], *, grace: float = TEMP_GRACE) -> list[str]:
    """Delete the temporary files in ``directory`` whose writer is gone; returns their names.

    A writer holds a lock on its temporary file until the file is renamed into place, and the OS
    releases it when the writer dies (killed, crashed): a file nobody holds, older than ``grace``
    seconds (time for a new writer to take its lock), is a leftover. A live writer's file is never
    touched. Called after each write to the disk cache.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".left-by-a-killed-writer.tmp").write_bytes(b"PAR1")
    >>> sweep(folder, grace=0)
    ['.left-by-a-killed-writer.tmp']
    """
    folder = Path(directory)
    swept = []
    now = time.time()
    with os.scandir(folder) as entries:
        candidates = [e.name for e in entries if e.name.startswith(".") and e.name.endswith(TEMP_SUFFIX)]
    for name in candidates:
        path = folder / name
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if not owned_file(info) or now - info.st_mtime < grace or _writer_alive(path, info):
            continue
        path.unlink(missing_ok=True)
        swept.append(name)
    if swept:
        logger.info("swept %d temporary file(s) of writers gone from %s", len(swept), folder)
    return swept


def memory_cache() -> ParsedCache:
    """The default session's in-memory cache ``read_usage`` uses (it names the disk folder at each call)."""
    from usagekit.session import default_session

    return default_session().frames
