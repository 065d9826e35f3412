"""What an xlsx sheet really holds, read from its XML before the cell library sees it.

The cell library (calamine, under fastexcel) allocates a dense grid from ``A1`` to the furthest cell
it places, whatever ``<dimension>`` or ``n_rows=`` say: a 5 KB file with one cell at ``XFD1048576``
asks for 512 GB and aborts the process. ``scan_workbook`` therefore inflates each worksheet's XML
from the zip itself, a MiB at a time (its CRC and declared size checked: the library skips the CRC),
and refuses, with :class:`~usagekit.errors.UnsafeFileError`, any cell past row :data:`MAX_ROW` or
column :data:`MAX_COLUMNS`, and any sheet whose entry name is in the zip twice.

One search covers the whole sheet: :data:`_DEVIATION` matches wherever a cell tag is not spelled the
plain way every known writer uses (``<c r="B7" s="3" t="s">``: a reference in columns A to BL,
rows below 1,000,000, a style number, a common type) and wherever a formula or a prefixed tag starts.
The plain spelling has no quotes inside its values and nothing after them, so what the library reads
from such a tag is exactly what the search saw. Each match is looked at in Python: a cell tag read
as XML reads it (every reference checked, booleans and error cells noted), a formula's cell checked
for a saved value. Whatever that cannot settle (a prefix, cells placed by order, a tag cut by the
window) sends the sheet to the exact path, an XML parser (expat, no DOCTYPE) that places every
cell as the library does and refuses XML it cannot parse. The search runs on google-re2 and the
inflating on ISA-L when installed (together 0.18 s for a 94 MiB sheet), else on ``re`` (three
searches) and ``zlib`` (about 0.5 s), with the same verdicts.

The pass also keeps the sheet's first rows, so the header is found without parsing the sheet twice.

>>> column_letters(0), column_letters(63), column_index("XFD")
('A', 'BL', 16383)
"""

from __future__ import annotations

import functools
import html
import io
import re
import struct
import types
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree
from xml.parsers import expat

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
#: inflated bytes per window
_CHUNK = 1 << 20
#: the sheet's first bytes kept for its first rows
_HEAD_BYTES = 1 << 20
#: a window's tail kept for the next one (from its last cell start, when that is this close to the end)
_MAX_CARRY = 1 << 20
#: longer than any plain cell tag: a match starting this close to a window's end waits for the next window
_TAIL = 64

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# The plain cell tag: r="<column A..BL><row below 1,000,000>", then s="<number>", t="<common type>", > or />.
_COL = rb"(?:[A-Z]|A[A-Z]|B[A-L])"
_ROW = rb"[1-9][0-9]{0,5}"
_PLAIN_REF = rb'<c r="' + _COL + _ROW + rb'"'
_STYLE = rb' s="[0-9]{1,5}"'
_KIND = rb"(?:s|n|str|inlineStr|d)"
PLAIN_CELL = _PLAIN_REF + rb"(?:" + _STYLE + rb")?(?: t=\"" + _KIND + rb"\")?/?>"
_KIND_OFF = (
    rb'(?:[^sndi]|s[^"t]|st[^r]|str[^"]|[nd][^"]|i[^n]|in[^l]|inl[^i]|inli[^n]|inlin[^e]|inline[^S]'
    rb'|inlineS[^t]|inlineSt[^r]|inlineStr[^"])'
)
#: every place where a cell tag leaves :data:`PLAIN_CELL`, plus prefixed cells or formulas and formulas
_DEVIATION = b"|".join(
    [
        rb"<c[\t\n\v\f\r/>]",
        rb'<c (?:[^r]|r[^=]|r=[^"])',
        rb'<c r="(?:[^A-Z]|[A-Z][^A-Z1-9]|[C-Z][A-Z]|B[M-Z]|[A-Z][A-Z][^1-9])',
        rb'<c r="' + _COL + _ROW + rb'[^0-9"]',
        rb'<c r="' + _COL + rb"[1-9][0-9]{6}",
        _PLAIN_REF + rb"(?:[^ />]|/[^>]| [^st])",
        _PLAIN_REF + rb' s(?:[^=]|=[^"]|="[^0-9]|="[0-9]{1,5}[^0-9"]|="[0-9]{6})',
        _PLAIN_REF + _STYLE + rb"(?:[^ />]|/[^>]| [^t])",
        _PLAIN_REF + rb"(?:" + _STYLE + rb')? t(?:[^=]|=[^"]|="' + _KIND_OFF + rb")",
        _PLAIN_REF + rb"(?:" + _STYLE + rb')? t="' + _KIND + rb'"(?:[^/>]|/[^>])',
        rb"<[^\t\n\v\f\r <>/!?]{1,48}:[cf][\t\n\v\f\r />]",  # a prefix (only inside tags: 25% faster)
        rb"<[^\t\n\v\f\r <>/!?]{49}",  # a name too long for a window's tail: the exact path
        rb"<f[\t\n\v\f\r />]",
    ]
)
_NAME = rb"[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?"
# a cell start tag as XML spells it: attributes apart by white space, quoted values without "<"
_START_TAG = re.compile(
    rb"<c((?:[\t\n\r ]+" + _NAME + rb"""[\t\n\r ]*=[\t\n\r ]*(?:"[^"<]*"|'[^'<]*'))*)[\t\n\r ]*(/?)>"""
)
_REF = re.compile(r"^([A-Z]{1,3})([1-9]\d{0,9})$")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL = re.compile(rb"<c(\s[^>]*?)?(?:/>|>(.*?)</c>)", re.S)
_VALUE = re.compile(rb"<v(?:\s[^>]*)?>(.*?)</v>", re.S)
_TEXT = re.compile(rb"<t(?:\s[^>]*)?>(.*?)</t>", re.S)
_PHONETIC = re.compile(rb"<rPh\b.*?</rPh>", re.S)
_AFTER_NAME = (b"\t", b"\n", b"\v", b"\f", b"\r", b" ", b"/", b">")
_BOOLEAN = "a TRUE/FALSE value, not a number"
_ERROR = "an error value (like #N/A or #DIV/0!)"
_NO_VALUE = "a formula without a saved value (saved by a program that does not calculate formulas)"


@functools.cache
def _engines() -> tuple[Any, tuple[Any, ...]]:
    """The inflater and the searches: ISA-L and RE2 (one search) when installed, else ``zlib`` and
    ``re`` (three searches, each from a literal, which ``re`` runs far faster than one alternation)."""
    inflating: types.ModuleType
    try:
        from isal import isal_zlib as inflating
    except ImportError:
        inflating = zlib
    try:
        import re2
    except ImportError:
        return inflating, tuple(re.compile(pattern) for pattern in _FALLBACK)
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1  # bytes as bytes: [^>] must match any byte, UTF-8 or not
    options.never_capture = True
    return inflating, (re2.compile(_DEVIATION, options),)


#: what :data:`_DEVIATION` finds, for ``re``: a cell tag not followed by the plain rest, a formula, and
#: a prefixed cell or formula anywhere (which sends the sheet to the exact path, as RE2's match would)
_FALLBACK = (
    rb"<c(?!" + PLAIN_CELL[2:] + rb")[\t\n\v\f\r />]",
    rb"<f[\t\n\v\f\r />]",
    rb":[cf][\t\n\v\f\r />]",
)


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


def scan_workbook(source: bytes | IO[bytes], name: str) -> list[SheetScan]:
    """Check every worksheet of an xlsx (already through ``check_zip``) and describe it.

    Raises :class:`~usagekit.errors.UnsafeFileError` for a cell past the limits and
    :class:`~usagekit.errors.FileFormatError` for a corrupted entry (bad CRC, wrong size, broken stream).
    """
    data = source if isinstance(source, bytes | bytearray) else source.read()
    view = memoryview(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # shares bytes, copies a bytearray
            sheets = _sheets(archive, name)
            shared = _SharedStrings(archive, _shared_strings_path(archive))
            for sheet in sheets:
                _scan(archive, view, sheet, shared, name)
    except (
        zipfile.BadZipFile,
        zlib.error,
        _engines()[0].error,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as error:
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


# --- the sheet's bytes -----------------------------------------------------------------------------------


def _inflated(archive: zipfile.ZipFile, view: memoryview, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, at most :data:`_CHUNK` at a time, checked against its CRC and declared size.

    A deflated entry is inflated from the file's bytes directly (the library reads the same bytes
    from the same central directory); any other method goes through ``zipfile``'s own reader.
    """
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        with archive.open(info) as member:
            while block := member.read(_CHUNK):
                yield block
        return
    inflating, _ = _engines()
    header = bytes(view[info.header_offset : info.header_offset + 30])
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    if bytes(
        view[info.header_offset + 30 : info.header_offset + 30 + name_length]
    ) != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
        raise zipfile.BadZipFile(f"the local header's name differs from {info.filename!r}")
    packed = view[start : start + info.compress_size]
    if len(packed) < info.compress_size:
        raise EOFError(f"{info.filename!r} is cut short")
    inflater = inflating.decompressobj(-15)
    crc, size = 0, 0
    for at in range(0, len(packed), _CHUNK):
        pending: Any = packed[at : at + _CHUNK]
        while True:
            out = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            size += len(out)
            if size > info.file_size:
                raise zipfile.BadZipFile(
                    f"{info.filename!r} unpacks to more than the {info.file_size:,} bytes it declares"
                )
            crc = inflating.crc32(out, crc)
            if out:
                yield out
            if inflater.eof or (not pending and len(out) < _CHUNK):
                break
        if inflater.eof:
            break
    if not inflater.eof or size != info.file_size:
        raise EOFError(f"{info.filename!r} unpacks to {size:,} bytes, not the {info.file_size:,} it declares")
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 for {info.filename!r}")


def _windows(blocks: Iterator[bytes]) -> Iterator[tuple[bytes, int]]:
    """``(data, limit)``: matches starting before ``limit`` are settled in this window, the rest of
    ``data`` (from its last cell start, or its last :data:`_TAIL` bytes) comes again in the next."""
    carry = b""
    for block in blocks:
        data = carry + block if carry else block
        last = data.rfind(b"<c", max(0, len(data) - _MAX_CARRY))
        limit = min(last, len(data) - _TAIL) if last > 0 else len(data) - _TAIL
        limit = max(limit, 0)
        carry = data[limit:]
        yield data, limit
    if carry:
        yield carry, len(carry)


class _Unusual(Exception):
    """The sheet is spelled so that the search cannot settle it: the exact path reads it."""


def _scan(
    archive: zipfile.ZipFile, view: memoryview, sheet: SheetScan, shared: _SharedStrings, name: str
) -> None:
    info = archive.getinfo(sheet.path)
    if sum(1 for other in archive.infolist() if other.filename == info.filename) > 1:
        raise _unsafe(name, sheet, f"two entries named {info.filename!r} in the zip (which one is read?)")
    head: list[bytes] = []
    kept = 0
    try:
        _, searches = _engines()
        for data, limit in _windows(_inflated(archive, view, info)):
            for search in searches:
                at = 0
                while (found := search.search(data, at)) is not None and found.start() < limit:
                    _settle(data, found.start(), sheet, name)
                    at = found.start() + 1
            if kept < _HEAD_BYTES:  # the settled parts follow each other: together, the sheet's first bytes
                head.append(data[:limit])
                kept += limit
    except _Unusual:
        sheet.flagged.clear()
        _Exact(sheet, name).read(_inflated(archive, view, info))
        return  # no head: the engine reads the first rows of such a sheet itself
    sheet.head = _head(b"".join(head), shared)


def _settle(data: bytes, at: int, sheet: SheetScan, name: str) -> None:
    """One match of :data:`_DEVIATION`: a cell tag read as XML, or a formula's cell, or the exact path."""
    if (
        data[at] == 0x3A or data[at + 2 : at + 3] not in _AFTER_NAME
    ):  # a prefix (<x:c, <c:c, <f:c), a long name
        raise _Unusual
    if data[at + 1] == 0x66:  # "<f": is the cell's value saved?
        start = data.rfind(b"<c", 0, at)
        while start >= 0 and data[start + 2 : start + 3] not in _AFTER_NAME:  # <col>, <cfRule>...
            start = data.rfind(b"<c", 0, start)
        tag = _START_TAG.match(data, start) if start >= 0 else None
        end = data.find(b"</c>", at)
        if tag is None or end < 0 or data.find(b"<c ", at, end) >= 0:
            raise _Unusual
        body = data[tag.end() : end]
        if b"<is>" not in body and not _saved_value(body):
            _note(_pairs(tag.group(1)), sheet, name, _NO_VALUE)
        return
    tag = _START_TAG.match(data, at)
    if tag is None:
        raise _Unusual
    pairs = _pairs(tag.group(1))
    kind = dict(pairs).get(b"t", b"n")
    _note(pairs, sheet, name, _BOOLEAN if kind == b"b" else _ERROR if kind == b"e" else None)


def _note(pairs: list[tuple[bytes, bytes]], sheet: SheetScan, name: str, what: str | None) -> None:
    """Check the cell's reference (every attribute named ``r``, whatever its prefix) and note ``what``."""
    refs = [value for key, value in pairs if key.rpartition(b":")[2] == b"r"]
    if not refs:
        raise _Unusual  # placed by order: the exact path counts
    if len(refs) > 1:
        raise _unsafe(name, sheet, f"a cell with {len(refs)} references")
    place = _check_ref(html.unescape(refs[0].decode("utf-8", "replace")).strip().upper(), sheet, name)
    if what is not None and len(sheet.flagged) < _MAX_FLAGGED:
        sheet.flagged[place] = what


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """A tag's attributes in order, in either quote (a name given twice is there twice)."""
    return [(m.group(1), m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTR.finditer(raw)]


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    """A tag's attributes by name (the last of a name given twice, as the library reads it)."""
    return dict(_pairs(raw))


class _Exact:
    """The sheet read by an XML parser: every cell placed as the library places it (its ``r``, else the
    next position in its row), booleans, error cells and formulas without a saved value noted."""

    def __init__(self, sheet: SheetScan, name: str) -> None:
        self.sheet, self.name = sheet, name
        self.row, self.column = 0, -1
        self.cell: list[Any] | None = None  # [place, kind, has formula, has inline text, value text]
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.in_value = False

    def read(self, blocks: Iterator[bytes]) -> None:
        try:
            for block in blocks:
                self.parser.Parse(block, False)
            self.parser.Parse(b"", True)
        except expat.ExpatError as error:
            raise _unsafe(
                self.name,
                self.sheet,
                f"XML an XML parser refuses ({expat.errors.messages[error.code]}, line {error.lineno}), "
                "which the cell library would read in a way of its own",
            ) from None

    def doctype(self, *_: Any) -> None:
        raise _unsafe(self.name, self.sheet, "a DOCTYPE (entity declarations), which no usage export has")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        local = tag.rpartition(":")[2]
        if local == "row":
            number = attrs.get("r", "").strip()
            self.row = int(number) if number.isdigit() else self.row + 1
            self.column = -1
            if self.row > MAX_ROW:
                raise _unsafe(self.name, self.sheet, f"a row numbered {self.row:,}")
        elif local == "c":
            refs = [value for key, value in attrs.items() if key.rpartition(":")[2] == "r"]
            if len(refs) > 1:
                raise _unsafe(self.name, self.sheet, f"a cell with {len(refs)} references")
            if refs:
                place = _check_ref(refs[0].strip().upper(), self.sheet, self.name)
                self.column = place[1]
            else:
                self.column += 1
                if self.column >= MAX_COLUMNS:
                    raise _unsafe(self.name, self.sheet, f"more than {MAX_COLUMNS} cells in row {self.row}")
                place = (self.row - 1, self.column)
            self.cell = [place, attrs.get("t", "n"), False, False, ""]
        elif self.cell is not None:
            if local == "f":
                self.cell[2] = True
            elif local == "is":
                self.cell[3] = True
            elif local == "v":
                self.in_value = True

    def end(self, tag: str) -> None:
        local = tag.rpartition(":")[2]
        if local == "v":
            self.in_value = False
        elif local == "c" and self.cell is not None:
            place, kind, formula, inline, value = self.cell
            what = _BOOLEAN if kind == "b" else _ERROR if kind == "e" else None
            if what is None and formula and not inline and not value.strip():
                what = _NO_VALUE
            if what is not None and len(self.sheet.flagged) < _MAX_FLAGGED:
                self.sheet.flagged[place] = what
            self.cell = None

    def text(self, data: str) -> None:
        if self.in_value and self.cell is not None:
            self.cell[4] += data


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
