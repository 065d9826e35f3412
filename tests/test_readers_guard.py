"""The sheet guard's one search, its windows and its zip reading, checked against outside oracles.

The plain cell spelling is a regular expression written here from the guard's own definition
(``PLAIN_CELL``); the search must match exactly where a cell tag leaves it. Where the guard lets a
sheet through, the cell library itself (fastexcel) must place no cell past the guard's limits, for
sheets spelled every way the library reads.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from typing import Any

import fastexcel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usagekit.errors import FileFormatError, UnsafeFileError
from usagekit.readers import guard
from usagekit.readers.guard import MAX_COLUMNS, PLAIN_CELL, scan_workbook

_TYPES = (
    "[Content_Types].xml",
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/></Types>',
)
_RELS = (
    "_rels/.rels",
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>',
)
_BOOK = (
    "xl/workbook.xml",
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="usage" sheetId="1" r:id="rId1"/></sheets></workbook>',
)
_BOOK_RELS = (
    "xl/_rels/workbook.xml.rels",
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
)


def workbook(rows_xml: str, prologue: str = "") -> bytes:
    """An xlsx whose one sheet holds ``rows_xml`` inside ``<sheetData>`` (``prologue`` before its root)."""
    sheet = (
        f'<?xml version="1.0"?>{prologue}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows_xml}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (_TYPES, _RELS, _BOOK, _BOOK_RELS, ("xl/worksheets/sheet1.xml", sheet)):
            archive.writestr(name, text)
    return out.getvalue()


# --- the search: exactly the places where a cell tag is not plain ---------------------------------------

_PLAIN = re.compile(PLAIN_CELL)
_PIECES = [' r="', ' s="', ' t="', '"', " ", "\t", "/", ">", "/>", "r", "s", "t", "=", "'", "A", "B", "L"]
_PIECES += ["M", "Z", "X", "0", "1", "9", "999999", "1234567", "n", "d", "b", "e", "str", "inlineStr", "i"]


def _both_engines() -> list[Any]:
    import re2

    used = guard._engines()[1][0]
    assert isinstance(used, re2._Regexp)  # the test extra installs google-re2: its search is checked too
    return [re.compile(guard._DEVIATION), used, re.compile(guard._FALLBACK[0])]  # and re's cell search


_SEARCHES = _both_engines()
_STANDARD = (zlib, tuple(re.compile(pattern) for pattern in guard._FALLBACK))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.lists(st.sampled_from(_PIECES), max_size=14).map("".join),
        st.builds(  # a plain tag with one character changed, dropped or added
            lambda col, row, style, kind, end, at, change: _mutate(
                f'<c r="{col}{row}"{style}{kind}{end}', at, change
            ),
            st.sampled_from(["A", "Z", "AA", "BL", "BM", "ZZ", "XFD", "a"]),
            st.sampled_from(["1", "9", "999999", "1000000", "0", "01"]),
            st.sampled_from(["", ' s="1"', ' s="12345"', ' s="123456"']),
            st.sampled_from(
                ["", ' t="s"', ' t="n"', ' t="str"', ' t="inlineStr"', ' t="d"', ' t="b"', ' t="e"']
            ),
            st.sampled_from([">", "/>"]),
            st.integers(0, 60),
            st.sampled_from(["", "x", "'", '"', " ", ">", "9", "A"]),
        ),
    )
)
def test_the_search_matches_where_a_cell_tag_is_not_plain(tail: str) -> None:
    text = (tail if tail.startswith("<c") else "<c" + tail) + "<"  # the next tag's "<" ends it
    data = text.encode()
    if data[2:3] not in guard._AFTER_NAME:
        return  # "<cols", "<cx": not a cell tag
    plain = _PLAIN.match(data) is not None
    for engine in _SEARCHES:
        found = engine.match(data)
        assert (found is None) == plain, (text, engine)


def _mutate(text: str, at: int, change: str) -> str:
    at = 2 + at % max(1, len(text) - 2)
    return text[:at] + change + text[at + 1 :] if change != "x" else text[:at] + text[at + 1 :]


def test_every_one_byte_turn_off_a_plain_tag_is_matched() -> None:
    """Exhaustive: each prefix of plain tags of every shape, followed by each of the 256 bytes."""
    tags = [
        f'<c r="{ref}"{style}{kind}{end}'
        for ref in ("A1", "Z999999", "AB12", "BL7")
        for style in ("", ' s="12345"')
        for kind in ("", ' t="s"', ' t="n"', ' t="str"', ' t="inlineStr"', ' t="d"')
        for end in (">", "/>")
    ]
    prefixes = {tag[:n].encode() for tag in tags for n in range(3, len(tag))}
    for engine in _SEARCHES:
        for prefix in prefixes:
            for byte in range(256):
                data = prefix + bytes([byte]) + b"<"
                assert (engine.match(data) is None) == (_PLAIN.match(data) is not None), (data, engine)


@pytest.mark.parametrize("ref", ["BM1", "CA1", "ZZ9", "XFD1048576", "A1000000", "AAA1", "a1", "A0", "A01"])
def test_references_past_the_plain_ones_are_matched(ref: str) -> None:
    for engine in _SEARCHES:
        assert engine.match(f'<c r="{ref}"><v>1</v></c>'.encode()) is not None


def test_plain_cells_of_known_writers_are_not_matched() -> None:
    cells = [
        b'<c r="A1" s="1" t="s"><v>0</v></c>',  # Excel, xlsxwriter, LibreOffice
        b'<c r="BL999999" t="inlineStr"><is><t>x</t></is></c>',  # openpyxl, the sandbox
        b'<c r="B7"><v>1</v></c>',
        b'<c r="C3" s="2"/>',
    ]
    for engine in _SEARCHES:
        for cell in cells:
            assert engine.search(cell) is None, cell


# --- the library as the oracle: what the guard lets through, the library places within the limits -------

_SPELLINGS = [
    '<c r="{ref}"><v>1</v></c>',
    "<c r='{ref}'><v>1</v></c>",
    '<c t="n" r="{ref}"><v>1</v></c>',
    '<c a=">" r="{ref}"><v>1</v></c>',
    "<c a='/>' r='{ref}'><v>1</v></c>",
    '<c r = "{ref}" ><v>1</v></c>',
    '<c\nr="{ref}"><v>1</v></c>',
    '<c r="B3" r="{ref}"><v>1</v></c>',
    '<x:c xmlns:x="urn:x" r="{ref}"><v>1</v></x:c>',
    '<f:c xmlns:f="urn:x" r="{ref}"><v>1</v></f:c>',
    '<c:c xmlns:c="urn:x" r="{ref}"><v>1</v></c:c>',
    '<a:b:c r="{ref}"><v>1</v></a:b:c>',
    '<c r="{ref}" t="inlineStr"><is><t>x</t></is></c>',
    '<c r="{ref}"><f>1+1</f><v>2</v></c>',
    "<c><v>1</v></c>",
    '<c r="{ref}"/>',
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_SPELLINGS),
            st.sampled_from(["A", "B", "Z", "BL", "BM", "CV"]),
            st.sampled_from([3, 4, 40, 999]),
            st.integers(0, 300),
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([64, 128, 1 << 20]),
)
def test_what_the_guard_lets_through_the_library_places_within_the_limits(
    cells: list[tuple[str, str, int, int]], chunk: int
) -> None:
    rows = []
    for row, (spelling, column, number, padding) in enumerate(sorted(cells, key=lambda c: c[2]), start=3):
        cell = spelling.format(ref=f"{column}{number}")
        rows.append(f'<row r="{max(row, number)}">' + " " * padding + cell + "</row>")
    data = workbook('<row r="1"><c r="A1" t="inlineStr"><is><t>Time</t></is></c></row>' + "".join(rows))
    verdicts = []
    for engines in (guard._engines(), _STANDARD):  # RE2 and ISA-L, then re and zlib: the same verdict
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(guard, "_CHUNK", chunk)
            patch.setattr(guard, "_engines", lambda engines=engines: engines)
            try:
                scan = scan_workbook(data, "x.xlsx")[0]
                verdicts.append((scan.head, scan.flagged))
            except UnsafeFileError:
                verdicts.append(None)
    assert verdicts[0] == verdicts[1], rows
    if verdicts[0] is None:
        return
    try:
        sheet = fastexcel.read_excel(data).load_sheet(0, header_row=None)
    except fastexcel.FastExcelError:
        return
    assert sheet.width <= MAX_COLUMNS, (sheet.width, rows)


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="XFD2"><v>1</v></c>',
        '<c s="1" r="XFD2"><v>1</v></c>',
        f'<{"p" * 40}:c r="XFD2"><v>1</v></{"p" * 40}:c>',
        f'<{"p" * 70}:c r="XFD2"><v>1</v></{"p" * 70}:c>',
    ],
)
def test_a_far_cell_is_found_across_every_window_boundary(cell: str) -> None:
    for padding in range(0, 200, 3):
        data = workbook(
            '<row r="1"><c r="A1"><v>1</v></c></row><row r="2">'
            + '<c r="A2"><v>1</v></c>' * 5
            + " " * padding
            + cell
            + "</row>"
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(guard, "_CHUNK", 128)
            with pytest.raises(UnsafeFileError, match="a cell at XFD2"):
                scan_workbook(data, "x.xlsx")


def test_small_windows_keep_the_head_whole() -> None:
    cells = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="b"><v>1</v></c></row>' for r in range(1, 41)
    )
    data = workbook(cells)
    whole = scan_workbook(data, "x.xlsx")[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guard, "_CHUNK", 100)
        small = scan_workbook(data, "x.xlsx")[0]
    assert whole.head == small.head and len(small.head or []) == 30
    assert [row[0] for row in small.head or []] == [float(r) for r in range(1, 31)]
    assert small.flagged == whole.flagged == {(r - 1, 1): guard._BOOLEAN for r in range(1, 41)}


def test_the_standard_engines_give_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    sheets = [
        '<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1"><f>1</f></c><c r="C1" t="e"><v>#N/A</v></c></row>',
        '<row r="1"><c r="A1" s="3" t="s"><v>0</v></c></row><row r="2"><c r="BM2"><v>1</v></c></row>',
        '<row r="1"><x:c xmlns:x="urn:x" r="B1" t="b"><v>1</v></x:c></row>',
    ]
    outcomes = []
    for engines in (guard._engines(), _STANDARD):
        monkeypatch.setattr(guard, "_engines", lambda engines=engines: engines)
        seen = []
        for sheet in sheets:
            try:
                scan = scan_workbook(workbook(sheet), "x.xlsx")[0]
                seen.append((scan.head, scan.flagged))
            except UnsafeFileError as error:
                seen.append(str(error))
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert "a cell at BM2" in outcomes[0][1]


# --- the zip entry: the guard checks what the library does not ------------------------------------------


def _sheet_info(data: bytes) -> zipfile.ZipInfo:
    return zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml")


def _set_crc(data: bytes, crc: int) -> bytes:
    """The sheet entry's CRC-32 replaced in its local header and in the central directory."""
    out = bytearray(data)
    info = _sheet_info(data)
    out[info.header_offset + 14 : info.header_offset + 18] = struct.pack("<I", crc)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack("<H", out[at + 28 : at + 30])[0]
        if out[at + 46 : at + 46 + length] == b"xl/worksheets/sheet1.xml":
            out[at + 16 : at + 20] = struct.pack("<I", crc)
        at = out.find(b"PK\x01\x02", at + 1)
    return bytes(out)


def test_a_wrong_crc_is_a_corrupted_file_though_the_library_reads_on() -> None:
    data = workbook('<row r="1"><c r="A1"><v>1</v></c></row>')
    broken = _set_crc(data, _sheet_info(data).CRC ^ 1)
    assert fastexcel.read_excel(broken).load_sheet(0, header_row=None).height == 1  # it does not notice
    with pytest.raises(FileFormatError, match="CRC"):
        scan_workbook(broken, "x.xlsx")


def test_a_sheet_longer_than_it_declares_is_a_corrupted_file() -> None:
    data = bytearray(workbook('<row r="1"><c r="A1"><v>1</v></c></row>' + " " * 5000))
    info = _sheet_info(bytes(data))
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack("<H", data[at + 28 : at + 30])[0]
        if data[at + 46 : at + 46 + length] == b"xl/worksheets/sheet1.xml":
            data[at + 24 : at + 28] = struct.pack("<I", 100)  # declared: 100 bytes
        at = data.find(b"PK\x01\x02", at + 1)
    assert info.file_size > 5000
    with pytest.raises(FileFormatError, match="more than the 100 bytes it declares"):
        scan_workbook(bytes(data), "x.xlsx")


def test_a_doctype_is_refused() -> None:
    doctype = "<!DOCTYPE w [<!ENTITY e 'XFD1'>]>"
    with pytest.raises(UnsafeFileError, match="a cell reference the guard cannot read"):
        scan_workbook(workbook('<row r="1"><c r="&e;"><v>1</v></c></row>', doctype), "x.xlsx")
    with pytest.raises(UnsafeFileError, match="a DOCTYPE"):  # cells placed by order: the XML parser
        scan_workbook(workbook('<row r="1"><c><v>1</v></c></row>', doctype), "x.xlsx")
