"""What an export file is, told by its first bytes (never its name), and whether it is safe to open.

``detect_format`` sniffs the magic bytes: ``%PDF-`` is a PDF, ``PK\\x03\\x04`` a zip container (an xlsx
workbook), ``D0 CF 11 E0`` an old OLE2 ``.xls`` workbook; anything else is told apart as ``html``, ``xml``
(an object-storage error reply, typically), ``json``, ``text``, ``empty`` or ``unknown``, so that a
wrong download fails with an error saying what it really is. ``check_zip`` refuses zip bombs by the
sizes the archive's central directory declares, before anything is decompressed.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

from usagekit.errors import FileFormatError, UnsafeFileError
from usagekit.redact import redact

__all__ = [
    "MAX_RATIO",
    "MAX_UNPACKED",
    "RATIO_FLOOR",
    "Format",
    "Source",
    "check_zip",
    "detect_format",
    "opened",
    "snippet",
    "source_name",
]

Format = Literal["pdf", "xlsx", "xls", "html", "xml", "json", "text", "empty", "unknown"]
#: a path to the file or its bytes
Source = str | os.PathLike[str] | bytes

#: refuse a zip whose entries declare more than this many bytes once unpacked (1 GiB)
MAX_UNPACKED = 1 << 30
#: ... or whose unpacked size is more than this many times the file's size
MAX_RATIO = 200
#: ... when it also declares more than this many bytes (100 MiB): small files may compress well
RATIO_FLOOR = 100 << 20

_SNIFF = 512
_MAGIC: tuple[tuple[bytes, Format], ...] = (
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
)
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")


def source_name(source: Source) -> str:
    """How messages name ``source``: its path, or ``<bytes>`` for data in memory.

    >>> source_name(b"PK")
    '<bytes>'
    """
    return "<bytes>" if isinstance(source, bytes | bytearray) else os.fspath(source)


@contextmanager
def opened(source: Source) -> Iterator[IO[bytes]]:
    """A binary file object over ``source``, closed on exit (a missing file raises ``FileNotFoundError``)."""
    if isinstance(source, bytes | bytearray):
        yield io.BytesIO(source)
    else:
        with Path(source).open("rb") as handle:
            yield handle


def head(source: Source, size: int = _SNIFF) -> bytes:
    """The first ``size`` bytes of ``source``."""
    if isinstance(source, bytes | bytearray):
        return bytes(source[:size])
    with Path(source).open("rb") as handle:
        return handle.read(size)


def detect_format(source: Source) -> Format:
    """What the first bytes of ``source`` (a path or bytes) say the file is.

    ``xlsx`` means a zip container: whether it holds a workbook is known once it is opened.

    >>> detect_format(b"%PDF-1.7 ...")
    'pdf'
    >>> detect_format(b"PK\\x03\\x04\\x14\\x00")
    'xlsx'
    >>> detect_format(b"\\n<!DOCTYPE html><html><body>Access denied</body></html>")
    'html'
    >>> detect_format(b"")
    'empty'
    """
    start = head(source)
    for magic, name in _MAGIC:
        if start.startswith(magic):
            return name
    text = start.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not text:
        return "empty"
    if text.startswith(_HTML_START) or b"<html" in text:
        return "html"
    if text.startswith(b"<"):
        return "xml"
    if text.startswith((b"{", b"[")):
        return "json"
    try:
        decoded = start.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(start) - 3:  # not just a character cut at the sniff boundary
            return "unknown"
        decoded = start[: error.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in decoded)
    return "text" if printable >= 0.95 * len(decoded) else "unknown"


def snippet(source: Source, limit: int = 80) -> str:
    """The start of ``source`` as text (at most ``limit`` characters, whitespace collapsed), for messages.

    URLs lose their query strings and signing fields are masked (:func:`usagekit.redact.redact`), before
    the cut: an error page may quote a presigned URL, or its query alone, which is a credential.

    >>> snippet(b"<html>\\n  <body>see https://b.example.com/f.xlsx?Signature=abc </body>")
    '<html> <body>see https://b.example.com/f.xlsx </body>'
    >>> snippet(b"<Error>denied: Expires=1&OSSAccessKeyId=AK&Signature=abc </Error>")
    '<Error>denied: Expires=***&OSSAccessKeyId=***&Signature=*** </Error>'
    """
    text = head(source, limit * 4).decode("utf-8", errors="replace")
    text = redact(" ".join(text.split()))
    return text[:limit].rstrip()


def check_zip(source: Source, *, name: str | None = None) -> None:
    """Refuse a zip that is broken or a bomb, from its central directory alone (nothing is decompressed).

    A bomb declares more than :data:`MAX_UNPACKED` bytes, or more than :data:`MAX_RATIO` times the file's
    size while above :data:`RATIO_FLOOR`. Raises :class:`~usagekit.errors.UnsafeFileError` for a bomb and
    :class:`~usagekit.errors.FileFormatError` for a truncated or corrupted archive.

    >>> check_zip(b"PK\\x03\\x04 truncated")
    Traceback (most recent call last):
    ...
    usagekit.errors.FileFormatError: <bytes>: a corrupted or truncated zip (xlsx) file: File is not a zip file; download it again
    """
    name = name or source_name(source)
    size = len(source) if isinstance(source, bytes | bytearray) else Path(source).stat().st_size
    try:
        with opened(source) as handle, zipfile.ZipFile(handle) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as error:
        raise FileFormatError(
            f"a corrupted or truncated zip (xlsx) file: {error}; download it again",
            path=name,
            detected="xlsx",
        ) from None
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_UNPACKED or (unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(size, 1)):
        raise UnsafeFileError(
            f"refused: its {len(entries)} zip entries declare {unpacked:,} bytes unpacked from a "
            f"{size:,}-byte file (limits: {MAX_UNPACKED:,} bytes, or {MAX_RATIO}x the file above "
            f"{RATIO_FLOOR:,} bytes); a real usage export is never this large, so this looks like a zip bomb",
            path=name,
        )
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        listed = ", ".join(sorted(names)[:5]) or "nothing"
        raise FileFormatError(
            f"a zip archive but not an xlsx workbook (it holds {listed})", path=name, detected="xlsx"
        )
