"""The cache of parsed files: a frame per file content, in memory (LRU) and on disk (Parquet).

Entries are keyed by the SHA-256 of the file's bytes together with the reader's version and options
(the column mapping, the size of a kilobyte), never by the file's name or date, so a changed file is
never served stale and a renamed one is still found. The memory cache keeps a few frames and hands out
copies, so a caller changing its frame cannot change the cache. The disk cache lives in
``$USAGEKIT_CACHE_DIR/parsed`` (default: the platform's user cache dir for ``usagekit``), a private folder
(:mod:`usagekit.cachedir`: created 0700, a folder open to others tightened, one owned by another user
refused); files are written atomically (temporary file, then rename) and readable by their owner only
(0600), and a file that is not a private file of ours is never read. It needs pyarrow (the ``parquet``
extra); without it only the memory cache works. A damaged file is a miss (parsed again); any other error
surfaces as itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from usagekit.cachedir import CACHE_ENV, cache_root, existing_private_folder, owned_file, private_folder
from usagekit.errors import CacheWarning
from usagekit.readers.detect import Source, opened

__all__ = ["CACHE_ENV", "ParsedCache", "cache_dir", "content_digest", "memory_cache"]

logger = logging.getLogger("usagekit.readers")


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
        return hashlib.file_digest(handle, "sha256").hexdigest()


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
        path = directory / f"{key}.parquet"
        try:
            info = path.lstat()
        except FileNotFoundError:
            return None
        if not owned_file(info):
            logger.warning("parsed cache file %s is not a private file of ours; parsing again", path.name)
            path.unlink(missing_ok=True)
            return None
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq  # the parquet extra; without it the disk cache is off
        except ImportError:
            return None
        try:
            frame = pq.read_table(path, memory_map=True).to_pandas()  # twice as fast as pd.read_parquet
            if conform is not None:
                frame = conform(frame)
        except (OSError, ValueError, pa.ArrowException) as error:  # damaged or foreign: a miss
            logger.warning("parsed cache file %s could not be used (%s); parsing again", path.name, error)
            path.unlink(missing_ok=True)
            return None
        self._remember(key, frame)
        return frame.copy()

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
        tmp = None
        try:
            private_folder(directory.parent, directory.name)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key[:16]}.", suffix=".tmp")  # mode 0600
            with os.fdopen(fd, "wb") as handle:
                # uncompressed: reads twice as fast, and dictionary encoding already keeps it small
                frame.to_parquet(handle, index=False, compression=None)
            os.replace(tmp, directory / f"{key}.parquet")
            tmp = None
        except ImportError:  # no pyarrow (the parquet extra): keep the memory cache only
            return
        except OSError as error:
            warnings.warn(
                f"usagekit could not keep the parsed file in {directory} ({error.strerror or error}); "
                f"it will be parsed again next time (set {CACHE_ENV} to a writable directory)",
                CacheWarning,
                stacklevel=4,
            )
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


_MEMORY = ParsedCache()


def memory_cache() -> ParsedCache:
    """The process-wide in-memory cache ``read_usage`` uses (it names the disk folder at each call)."""
    return _MEMORY
