"""The export files behind successful tasks: generated on first request from truth, then cached.

Detail exports are workbooks and summary exports PDFs, written by :mod:`usagekit.sandbox.files`. The
bytes are cached in memory, shared by every sandbox of the process and keyed by a hash of the world
(seed and size; ``now`` is no part, as the world is fixed on the calendar) and the task's whole
definition, so sandboxes of one seed, started at any moments, generate a file once; a file is
generated once even when several downloads of it arrive together.
``USAGEKIT_SANDBOX_FILE_CACHE`` adds a disk cache: a directory, or ``1`` for the platform cache dir
(``platformdirs.user_cache_dir("usagekit")/sandbox-files``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from usagekit.sandbox.truth import Truth
from usagekit.sandbox.world import Task

__all__ = ["ExportFile", "ExportFiles", "file_cache_dir"]

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
MEMORY_LIMIT = 512 * 1024 * 1024  # bytes of generated files kept in memory per process


@dataclass(frozen=True)
class ExportFile:
    """The bytes of one export file, its content type and its ETag (quoted MD5, as object storage)."""

    data: bytes
    content_type: str
    etag: str


def file_cache_dir(environ: dict[str, str] | None = None) -> Path | None:
    """The disk cache directory ``USAGEKIT_SANDBOX_FILE_CACHE`` asks for, or ``None`` (memory only).

    >>> file_cache_dir({}) is None
    True
    >>> file_cache_dir({"USAGEKIT_SANDBOX_FILE_CACHE": "/tmp/uk-files"})
    PosixPath('/tmp/uk-files')
    """
    value = (os.environ if environ is None else environ).get("USAGEKIT_SANDBOX_FILE_CACHE", "").strip()
    if not value or value.lower() in ("0", "false"):
        return None
    if value.lower() in ("1", "true"):
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("usagekit")) / "sandbox-files"
    return Path(value)


class _Memory:
    """The process-wide LRU of generated files (bytes), bounded by ``MEMORY_LIMIT``."""

    def __init__(self) -> None:
        self.files: OrderedDict[str, ExportFile] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()
        self.building: dict[str, threading.Lock] = {}

    def get(self, key: str) -> ExportFile | None:
        with self.lock:
            found = self.files.get(key)
            if found is not None:
                self.files.move_to_end(key)
            return found

    def put(self, key: str, file: ExportFile) -> None:
        with self.lock:
            if key not in self.files:
                self.files[key] = file
                self.size += len(file.data)
            while self.size > MEMORY_LIMIT and len(self.files) > 1:
                _, old = self.files.popitem(last=False)
                self.size -= len(old.data)


_MEMORY = _Memory()


class ExportFiles:
    """Generates and caches the files of ``truth``'s tasks; ``world_key`` names the world."""

    def __init__(self, truth: Truth, *, world_key: str, disk: Path | None = None) -> None:
        self._truth = truth
        self._world_key = world_key
        self._disk = disk if disk is not None else file_cache_dir()

    def _key(self, task: Task, title: str) -> str:
        from usagekit.sandbox import files  # the writers' stack loads only when a file is asked for

        # The writer's version is part of the key: a disk cache never serves files of an older writer.
        text = f"{files.WRITER_VERSION}|{self._world_key}|{task!r}|{title}"
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def get(self, task: Task, title: str) -> ExportFile:
        """The file of ``task`` (generated on first use, in this process or, with a disk cache, ever)."""
        key = self._key(task, title)
        found = _MEMORY.get(key)
        if found is not None:
            return found
        with _MEMORY.lock:
            building = _MEMORY.building.setdefault(key, threading.Lock())
        with building:
            found = _MEMORY.get(key)
            if found is None:
                data = self._load(key, task) or self._generate(task, title)
                self._store(key, task, data)
                etag = (
                    hashlib.md5(data, usedforsecurity=False).hexdigest().upper()
                )  # an ETag, as object storage
                found = ExportFile(data, CONTENT_TYPES[task.file_extension], f'"{etag}"')
                _MEMORY.put(key, found)
        with _MEMORY.lock:
            _MEMORY.building.pop(key, None)
        return found

    def _path(self, key: str, task: Task) -> Path | None:
        return None if self._disk is None else self._disk / f"{key}.{task.file_extension}"

    def _load(self, key: str, task: Task) -> bytes | None:
        path = self._path(key, task)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _store(self, key: str, task: Task, data: bytes) -> None:
        path = self._path(key, task)
        if path is None or path.exists():
            return
        with contextlib.suppress(OSError):  # a disk cache is a convenience: never fail a download for it
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)

    def _generate(self, task: Task, title: str) -> bytes:
        from usagekit.sandbox import files

        if task.kind == "detail":
            usage = self._truth.usage(task.task_id)
            return files.write_detail_workbook(
                usage,
                type=task.type or "flow",
                language=task.language,
                by_account=task.domains != "some",
                title=title,
            )
        return files.write_summary_pdf(self._truth.summary(task.task_id), title=title)
