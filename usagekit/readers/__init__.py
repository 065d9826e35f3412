"""Export files into frames: detail workbooks (``read_usage``) and summary PDFs (``read_summary``).

Readers know nothing of HTTP: they take a path (or the file's bytes) and return frames with the
contracts of :mod:`usagekit.frames`. ``detect_format`` tells a file's type from its first bytes.

>>> detect_format(b"%PDF-1.4")
'pdf'
"""

from __future__ import annotations

from usagekit.readers.cache import cache_dir
from usagekit.readers.detail import READER_VERSION, read_usage
from usagekit.readers.detect import detect_format
from usagekit.readers.header import ColumnMapping
from usagekit.readers.summary import read_summary

__all__ = [
    "READER_VERSION",
    "ColumnMapping",
    "cache_dir",
    "clear_cache",
    "detect_format",
    "read_summary",
    "read_usage",
]


def clear_cache() -> None:
    """Forget the parsed frames held in memory (the Parquet files on disk stay; delete ``cache_dir()`` for those)."""
    from usagekit.readers.cache import memory_cache

    memory_cache().clear()
