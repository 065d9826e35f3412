"""What an xlsx sheet really holds, read from its XML before the cell library sees it.

The cell library (calamine, under fastexcel) allocates a dense grid from ``A1`` to the furthest cell
reference the sheet holds, whatever ``<dimension>`` or ``n_rows=`` say: a 5 KB file with one cell at
``XFD1048576`` asks for 512 GB and aborts the process. ``scan_workbook`` therefore streams each
worksheet's XML out of the zip (bounded memory, a few MiB at a time) and refuses, with
:class:`~usagekit.errors.UnsafeFileError`, any cell reference past row :data:`MAX_ROW` or column
:data:`MAX_COLUMNS`. The scan is one regular expression over each chunk for the usual spelling
(``<c r="B7"``), which every known writer uses; a sheet spelled otherwise (attributes in another
order, cells without ``r``, prefixes, entities) is walked tag by tag, exactly as the library would.

The same pass notes the cells the library would read wrong without a word (booleans, which read as
1/0; error cells and formulas without a cached value, which read as blank) and keeps the sheet's
first rows, so the header is found without parsing the sheet twice.

>>> column_letters(0), column_letters(63), column_index("XFD")
('A', 'BL', 16383)
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree

from usagekit.errors import FileFormatError, UnsafeFileError

__all__ = ["MAX_COLUMNS", "MAX_ROW", "SheetScan", "column_index", "column_letters", "scan_workbook"]

#: Excel's last row
MAX_ROW = 1_048_576
#: a usage sheet has fewer than ten columns; a reference past column BL is refused
MAX_COLUMNS = 64
#: how many rows from the top of each sheet are kept for finding the header
HEAD_ROWS = 30
#: at most this many suspicious cells are kept per sheet (the first is enough to name)
_MAX_FLAGGED = 1000
_CHUNK = 4 << 20

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# Any cell tag other than the usual `<c r="B7"` (a reference in columns A to BL, rows up to 999,999) is a
# match, looked at in Python: a reference to check exactly, or an unusual spelling to walk tag by tag.
_FAST = re.compile(rb'<c(?! r="(?:[A-Z]|A[A-Z]|B[A-L])\d{1,6}")[\s/>]')
_CANONICAL = re.compile(rb'<c r="([A-Z]{1,3}\d{1,10})"')
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_REF = re.compile(r"^([A-Z]{1,3})([1-9]\d{0,9})$")
_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL = re.compile(rb"<c(\s[^>]*?)?(?:/>|>(.*?)</c>)", re.S)
_VALUE = re.compile(rb"<v(?:\s[^>]*)?>(.*?)</v>", re.S)
_TEXT = re.compile(rb"<t(?:\s[^>]*)?>(.*?)</t>", re.S)
_PHONETIC = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_FORMULA = re.compile(rb"<f[\s>/]")
_ROW_END = re.compile(rb"</(?:[\w.-]+:)?row>")


def column_letters(index: int) -> str:
    """Excel's letters for a 0-based column index."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """The 0-based column index of Excel's letters."""
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


@dataclass
class SheetScan:
    """One worksheet as its XML shows it: the first rows' values and the cells read wrong otherwise.

    ``head`` holds the first :data:`HEAD_ROWS` rows as lists (absolute columns, ``None`` for blank),
    ``None`` when the sheet is spelled so that its rows are left to the engine. ``flagged`` maps
    ``(row, column)`` (0-based) to what is wrong there.
    """

    name: str
    path: str
    head: list[list[Any]] | None = None
    flagged: dict[tuple[int, int], str] = field(default_factory=dict)


def scan_workbook(source: IO[bytes], name: str) -> list[SheetScan]:
    """Check every worksheet of an xlsx (already through ``check_zip``) and describe it.

    Raises :class:`~usagekit.errors.UnsafeFileError` for a reference past the limits.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            sheets = _sheets(archive, name)
            shared = _SharedStrings(archive, _shared_strings_path(archive))
            for sheet in sheets:
                _scan(archive, sheet, shared, name)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise FileFormatError(
            f"a corrupted or truncated xlsx workbook ({type(error).__name__}: {str(error)[:120]}); "
            "download it again",
            path=name,
            detected="xlsx",
        ) from None
    return sheets


def _unsafe(name: str, sheet: SheetScan, what: str) -> UnsafeFileError:
    return UnsafeFileError(
        f"refused: sheet {sheet.name!r} holds {what}; a usage export has fewer than {MAX_COLUMNS} columns "
        f"and at most {MAX_ROW:,} rows, and reading it would allocate a grid of that size",
        path=name,
    )


def _check_ref(ref: str, sheet: SheetScan, name: str) -> tuple[int, int]:
    match = _REF.match(ref)
    if match is None:
        raise _unsafe(name, sheet, f"a cell reference the guard cannot read ({ref[:20]!r})")
    column, row = column_index(match.group(1)), int(match.group(2))
    if column >= MAX_COLUMNS or row > MAX_ROW:
        raise _unsafe(name, sheet, f"a cell at {ref}")
    return row - 1, column


def _chunks(member: IO[bytes]) -> Iterator[bytes]:
    """The member's bytes in pieces that each end after a whole tag (and a whole cell where one ends)."""
    carry = b""
    while True:
        block = member.read(_CHUNK)
        if not block:
            if carry:
                yield carry
            return
        data = carry + block
        cut = data.rfind(b"</c>")
        cut = cut + 4 if cut != -1 else data.rfind(b">") + 1
        if cut <= 0 or len(data) - cut > 4 * _CHUNK:  # no tag end for a long way: scan it as it is
            cut = len(data)
        carry = data[cut:]
        yield data[:cut]


class _Unusual(Exception):
    """The sheet is spelled otherwise than ``<c r="B7"``: walk it tag by tag instead."""


def _scan(archive: zipfile.ZipFile, sheet: SheetScan, shared: _SharedStrings, name: str) -> None:
    head = b""
    try:
        with archive.open(sheet.path) as member:
            for chunk in _chunks(member):
                if _PREFIXED.search(chunk):
                    raise _Unusual
                for match in _FAST.finditer(chunk):
                    usual = _CANONICAL.match(chunk, match.start())
                    if usual is None:
                        raise _Unusual
                    _check_ref(usual.group(1).decode("ascii"), sheet, name)
                _look_closer(chunk, sheet, name)
                if not head:
                    head = chunk
    except _Unusual:
        sheet.flagged.clear()
        walker = _Walker(sheet, name)
        with archive.open(sheet.path) as member:
            for chunk in _chunks(member):
                walker.feed(chunk)
                _look_closer(chunk, sheet, name)
        return  # no head: the engine reads the first rows of such a sheet itself
    sheet.head = _head(head, shared)


def _look_closer(chunk: bytes, sheet: SheetScan, name: str) -> None:
    if len(sheet.flagged) < _MAX_FLAGGED and (b"<f" in chunk or b't="b"' in chunk or b't="e"' in chunk):
        _flag(chunk, sheet, name)


class _Walker:
    """Every row and cell tag in order, placed as the library places them (``r`` or the next position)."""

    def __init__(self, sheet: SheetScan, name: str) -> None:
        self.sheet, self.name = sheet, name
        self.row, self.column = 0, -1

    def feed(self, chunk: bytes) -> None:
        for match in _TAG.finditer(chunk):
            closing, tag, rest = match.groups()
            if closing:
                continue
            attrs = _attributes(rest)
            ref = attrs.get(b"r")
            text = html.unescape(ref.decode("utf-8", "replace")).strip() if ref is not None else None
            if tag == b"row":
                self.row = int(text) if text and text.isdigit() else self.row + 1
                self.column = -1
                if self.row > MAX_ROW:
                    raise _unsafe(self.name, self.sheet, f"a row numbered {self.row:,}")
            elif text:
                _, self.column = _check_ref(text.upper(), self.sheet, self.name)
            else:
                self.column += 1
                if self.column >= MAX_COLUMNS:
                    raise _unsafe(self.name, self.sheet, f"more than {MAX_COLUMNS} cells in row {self.row}")


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    """A tag's attributes, in either quote."""
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTR.finditer(raw)}


def _flag(chunk: bytes, sheet: SheetScan, name: str) -> None:
    """Note booleans, error cells and formulas without a cached value (by their reference)."""
    for match in _CELL.finditer(chunk):
        attrs = _attributes(match.group(1) or b"")
        body = match.group(2) or b""
        kind = attrs.get(b"t", b"n")
        if kind == b"b":
            what = "a TRUE/FALSE value, not a number"
        elif kind == b"e":
            what = "an error value (like #N/A or #DIV/0!)"
        elif _FORMULA.search(body) and b"<is>" not in body and not _saved_value(body):
            what = "a formula without a saved value (saved by a program that does not calculate formulas)"
        else:
            continue
        ref = attrs.get(b"r")
        if ref is None:
            continue  # unplaced cells are walked by the exact path; their kind is left to the engine
        sheet.flagged[_check_ref(ref.decode("ascii", "replace"), sheet, name)] = what
        if len(sheet.flagged) >= _MAX_FLAGGED:
            return


def _saved_value(body: bytes) -> bool:
    found = _VALUE.search(body)
    return found is not None and bool(found.group(1).strip())


def _head(data: bytes, shared: _SharedStrings) -> list[list[Any]]:
    """The first rows' values: text (shared strings resolved), numbers as floats, blank as ``None``."""
    rows: list[list[Any]] = []
    for match in _CELL.finditer(data):
        attrs = _attributes(match.group(1) or b"")
        ref = attrs.get(b"r", b"").decode("ascii", "replace")
        parsed = _REF.match(ref)
        if parsed is None:
            continue
        row, column = int(parsed.group(2)) - 1, column_index(parsed.group(1))
        if row >= HEAD_ROWS:
            break
        value = _cell_value(attrs.get(b"t", b"n"), match.group(2) or b"", shared)
        while len(rows) <= row:
            rows.append([])
        cells = rows[row]
        while len(cells) <= column:
            cells.append(None)
        cells[column] = value
    return rows


def _cell_value(kind: bytes, body: bytes, shared: _SharedStrings) -> Any:
    if kind == b"inlineStr":
        return _text(body)
    found = _VALUE.search(body)
    if found is None:
        return None
    raw = html.unescape(found.group(1).decode("utf-8", "replace"))
    if kind == b"s":
        return shared.get(int(raw)) if raw.strip().isdigit() else None
    if kind in (b"str", b"e", b"b"):
        return raw
    try:
        return float(raw)
    except ValueError:
        return raw


def _text(body: bytes) -> str:
    body = _PHONETIC.sub(b"", body)
    return html.unescape("".join(t.decode("utf-8", "replace") for t in _TEXT.findall(body)))


class _SharedStrings:
    """The workbook's shared strings, parsed only as far as the indexes asked for."""

    def __init__(self, archive: zipfile.ZipFile, path: str | None) -> None:
        self._archive, self._path = archive, path
        self._items: list[str] = []
        self._events: Iterator[tuple[str, ElementTree.Element]] | None = None
        self._done = path is None

    def get(self, index: int) -> str | None:
        while index >= len(self._items) and not self._done:
            self._next()
        return self._items[index] if index < len(self._items) else None

    def _next(self) -> None:
        if self._events is None:
            assert self._path is not None
            self._events = ElementTree.iterparse(self._archive.open(self._path), events=("end",))  # noqa: S314
        try:
            for _, element in self._events:
                if element.tag == f"{_NS_MAIN}si":
                    phonetic = {id(t) for ph in element.iter(f"{_NS_MAIN}rPh") for t in ph.iter()}
                    parts = [t.text or "" for t in element.iter(f"{_NS_MAIN}t") if id(t) not in phonetic]
                    self._items.append("".join(parts))
                    element.clear()
                    return
        except ElementTree.ParseError:
            pass
        self._done = True


def _sheets(archive: zipfile.ZipFile, name: str) -> list[SheetScan]:
    """The worksheets in the workbook's order, each with its XML's path in the zip."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314 (small, no DTDs)
        targets = _relationships(archive, "xl/_rels/workbook.xml.rels")
    except (KeyError, ElementTree.ParseError) as error:
        raise FileFormatError(
            f"a corrupted xlsx workbook (its sheet list cannot be read: {error}); download it again",
            path=name,
            detected="xlsx",
        ) from None
    names = set(archive.namelist())
    sheets = []
    for element in book.iter(f"{_NS_MAIN}sheet"):
        path = targets.get(element.get(f"{_NS_REL}id", ""), "")
        if path in names:
            sheets.append(SheetScan(element.get("name", ""), path))
    listed = {sheet.path for sheet in sheets}
    for extra in sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")):
        if extra not in listed:  # not in the sheet list: the library may still open it, so it is checked
            sheets.append(SheetScan("", extra))
    return sheets


def _relationships(archive: zipfile.ZipFile, path: str) -> dict[str, str]:
    root = ElementTree.fromstring(archive.read(path))  # noqa: S314
    base = PurePosixPath(path).parent.parent
    out = {}
    for rel in root.iter(f"{_NS_PKG}Relationship"):
        target = rel.get("Target", "")
        resolved = target.lstrip("/") if target.startswith("/") else str(base / target)
        out[rel.get("Id", "")] = _normal(resolved)
    return out


def _normal(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _shared_strings_path(archive: zipfile.ZipFile) -> str | None:
    try:
        root = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    except (KeyError, ElementTree.ParseError):
        return None
    for rel in root.iter(f"{_NS_PKG}Relationship"):
        if rel.get("Type", "").endswith("/sharedStrings"):
            target = rel.get("Target", "")
            path = _normal(target.lstrip("/") if target.startswith("/") else "xl/" + target)
            return path if path in set(archive.namelist()) else None
    return None
