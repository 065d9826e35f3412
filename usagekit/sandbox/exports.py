"""The export files behind successful tasks: generated on first request from truth, then cached.

Detail exports are workbooks and summary exports PDFs, written by :mod:`usagekit.sandbox.files`. The
bytes are cached in memory per sandbox (its seed, ``now`` and world) and task, and generated once even
when several downloads of the same file arrive together.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from usagekit.sandbox.truth import Truth
from usagekit.sandbox.world import Task

__all__ = ["ExportFile", "ExportFiles"]

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class ExportFile:
    """The bytes of one export file, its content type and its ETag (quoted MD5, as object storage)."""

    data: bytes
    content_type: str
    etag: str


class ExportFiles:
    """Generates and caches the files of ``truth``'s tasks (at most ``limit`` bytes kept in memory)."""

    def __init__(self, truth: Truth, *, limit: int = 512 * 1024 * 1024) -> None:
        self._truth = truth
        self._limit = limit
        self._cache: OrderedDict[str, ExportFile] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, task: Task, title: str) -> ExportFile:
        """The file of ``task`` (generated on first use)."""
        with self._lock:
            cached = self._cache.get(task.task_id)
            if cached is not None:
                self._cache.move_to_end(task.task_id)
                return cached
            building = self._building.setdefault(task.task_id, threading.Lock())
        with building:
            with self._lock:
                cached = self._cache.get(task.task_id)
            if cached is not None:
                return cached
            data = self._generate(task, title)
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest().upper()  # an ETag, as object storage
            file = ExportFile(data, CONTENT_TYPES[task.file_extension], f'"{etag}"')
            with self._lock:
                self._cache[task.task_id] = file
                self._size += len(data)
                while self._size > self._limit and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._size -= len(old.data)
                self._building.pop(task.task_id, None)
            return file

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
