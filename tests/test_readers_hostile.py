"""Files a hostile or careless sender could make: each refused with a UsagekitError naming what is wrong.

Every case is built here and read in a fresh subprocess, which must see a ``UsagekitError`` and peak
under 300 MB (its own ``VmHWM``). The child runs under a 3 GiB address-space limit, so a failing guard
fails the test instead of taking the machine's memory. How long each refusal takes (a second at most)
is measured by ``benchmarks/bench_hostile.py``, not asserted here: a busy machine must not fail a test.
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import textwrap
import zipfile
import zlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from usagekit.sandbox.files import summary_frame, write_summary_pdf

PEAK_MB = 300

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import pandas, pyarrow, fastexcel, pypdf  # imports are not part of the second
    from usagekit import UsagekitError
    from usagekit.readers import read_summary, read_usage
    reader = read_usage if sys.argv[2] == "usage" else read_summary
    kwargs = {"cache": False} if sys.argv[2] == "usage" else {}
    start = time.perf_counter()
    try:
        reader(sys.argv[1], **kwargs)
        outcome = {"error": None}
    except UsagekitError as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    outcome["seconds"] = time.perf_counter() - start
    # VmHWM is this process image's own peak; ru_maxrss would include the forking parent's (Linux
    # carries it across exec), so a big pytest process would look like a big read
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    outcome["peak_mb"] = int(hwm.split()[1]) / 1024
    print(json.dumps(outcome))
    """
)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def read_in_child(path: Path, reader: str = "usage") -> dict[str, Any]:
    """Read ``path`` in a fresh interpreter: the error it saw, how long the read took, its peak RSS."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), reader],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 0, f"the child died ({result.returncode}): {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def refused(path: Path, error: str, match: str, reader: str = "usage") -> str:
    outcome = read_in_child(path, reader)
    assert outcome["error"] == error, outcome
    assert match in outcome["message"], outcome["message"]
    assert outcome["peak_mb"] < PEAK_MB, outcome  # how long it took: benchmarks/bench_hostile.py
    return outcome["message"]


# --- workbooks written by hand, XML and all --------------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="usage" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_HEADER = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Time</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>Requests</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>2024-03-02 00:00</t></is></c><c r="B2"><v>1</v></c></row>'
)


def handmade(path: Path, rows_xml: str, dimension: str | None = None) -> Path:
    """An xlsx whose one sheet holds ``rows_xml`` after a Time | Requests header and one good row."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{_HEADER}{rows_xml}</sheetData></worksheet>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def test_a_single_cell_at_xfd1048576_is_refused_before_the_engine(tmp_path: Path) -> None:
    path = handmade(tmp_path / "x.xlsx", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    assert path.stat().st_size < 5000
    refused(path, "UnsafeFileError", "a cell at XFD1048576")


def test_a_cell_at_zz100000_is_refused_whatever_dimension_says(tmp_path: Path) -> None:
    path = handmade(tmp_path / "z.xlsx", '<row r="100000"><c r="ZZ100000"><v>1</v></c></row>', "A1:B3")
    refused(path, "UnsafeFileError", "a cell at ZZ100000")


@pytest.mark.parametrize(
    "cell",
    [
        "<c r='XFD1'><v>1</v></c>",  # another quote
        '<c t="n" r="XFD1"><v>1</v></c>',  # another attribute order
        '<c\nr="XFD1"><v>1</v></c>',  # a line break in the tag
        '<c r="&#88;FD1"><v>1</v></c>',  # an entity in the reference
        "<c><v>1</v></c>" * 70,  # cells placed by their order alone
        '<x:c xmlns:x="urn:any" r="XFD1"><v>1</v></x:c>',  # a prefix: the library reads any prefix
        '<c a=">" r="XFD1"><v>1</v></c>',  # a quoted > before the reference
        "<c a='/>' r='XFD1'><v>1</v></c>",  # the same, in the other quote
        '<c a="</c>" r="XFD1"><v>1</v></c>',  # a cell end inside a value (not XML, read all the same)
        '<c r="B1" r="XFD1"><v>1</v></c>',  # a second reference (the library takes the last)
    ],
)
def test_unusual_spellings_of_a_far_cell_are_refused_too(tmp_path: Path, cell: str) -> None:
    path = handmade(tmp_path / "u.xlsx", f'<row r="3">{cell}</row>')
    refused(path, "UnsafeFileError", "refused: sheet 'usage' holds")


def test_a_value_in_the_other_quote_is_still_seen_as_a_boolean(tmp_path: Path) -> None:
    path = handmade(
        tmp_path / "q.xlsx",
        '<row r="3"><c r="A3" t="inlineStr"><is><t>2024-03-02 00:05</t></is></c><c r="B3" t=\'b\'><v>1</v></c></row>',
    )
    refused(path, "ReadError", "TRUE/FALSE")


def test_a_second_entry_of_the_same_name_is_refused(tmp_path: Path) -> None:
    """zipfile reads the last of two same-named entries; another library may read the first."""
    path = handmade(tmp_path / "d.xlsx", "")
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    refused(path, "UnsafeFileError", "two entries named 'xl/worksheets/sheet1.xml'")


def test_a_row_past_excels_last_is_refused(tmp_path: Path) -> None:
    path = handmade(tmp_path / "r.xlsx", '<row r="9000000"><c r="A9000000"><v>1</v></c></row>')
    refused(path, "UnsafeFileError", "a cell at A9000000")


def test_a_value_of_1e400_is_refused_and_named(tmp_path: Path) -> None:
    path = handmade(
        tmp_path / "big.xlsx",
        '<row r="3"><c r="A3" t="inlineStr"><is><t>2024-03-02 00:05</t></is></c><c r="B3"><v>1e400</v></c></row>',
    )
    refused(path, "ReadError", "(cell B3)")


def test_a_formula_without_a_cached_value_is_an_error_not_zero_rows(tmp_path: Path) -> None:
    path = handmade(
        tmp_path / "f.xlsx",
        '<row r="3"><c r="A3" t="inlineStr"><is><t>2024-03-02 00:05</t></is></c><c r="B3"><f>1+1</f></c></row>',
    )
    message = refused(path, "ReadError", "formula without a saved value")
    assert "B3" in message


# --- workbooks written by openpyxl -----------------------------------------------------------------------


def book(path: Path, rows: list[list[Any]], title: str = "s") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_formulas_saved_by_a_script_are_named(tmp_path: Path) -> None:
    rows = [["Time", "Requests"], ["2024-03-02 00:00", "=2+3"], ["2024-03-02 00:05", "=4+5"]]
    message = refused(book(tmp_path / "f.xlsx", rows), "ReadError", "formula without a saved value")
    assert "sheet 's'" in message and "(cell B2)" in message


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (-5, "is negative"),
        ("inf", "is not a finite number"),
        ("NaN", "is not a number"),
        ("TRUE", "is not a number"),
        (True, "TRUE/FALSE"),
        (False, "TRUE/FALSE"),
    ],
)
def test_bad_values_are_named_by_sheet_and_cell(tmp_path: Path, value: Any, what: str) -> None:
    rows = [["Time", "Domain", "Requests"], ["2024-03-02 00:00", "a", 1], ["2024-03-02 00:05", "a", value]]
    message = refused(book(tmp_path / "v.xlsx", rows), "ReadError", what)
    assert "sheet 's', row 3, column 'Requests'" in message and "(cell C3)" in message


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        ("2024-03-02", "a date without a time of day"),
        ("2024-03-02 00:03", "not a 5-minute point"),
        ("2024-03-02 00:07:31", "not a 5-minute point"),
        ("2300-01-01 00:00", "outside the years pandas can hold"),
        ("0001-01-01 00:00", "outside the years pandas can hold"),
    ],
)
def test_bad_times_are_named(tmp_path: Path, cell: str, what: str) -> None:
    rows = [["Time", "Requests"], ["2024-03-02 00:00", 1], [cell, 2]]
    message = refused(book(tmp_path / "t.xlsx", rows), "ReadError", what)
    assert "row 3, column 'Time'" in message and "(cell A3)" in message


def test_excel_dates_without_a_time_of_day_are_refused(tmp_path: Path) -> None:
    rows = [["Time", "Requests"], [date(2024, 3, 2), 1], [date(2024, 3, 3), 2]]
    refused(book(tmp_path / "d.xlsx", rows), "ReadError", "dates without a time of day")


def test_an_excel_time_off_the_grid_is_refused(tmp_path: Path) -> None:
    rows = [["Time", "Requests"], [datetime(2024, 3, 2, 0, 3), 1]]
    refused(book(tmp_path / "g.xlsx", rows), "ReadError", "not a 5-minute point")


def test_a_header_offset_that_no_place_uses_is_refused(tmp_path: Path) -> None:
    rows = [["Time(UTC+99)", "Requests"], ["2024-03-02 00:00", 1]]
    message = refused(book(tmp_path / "o.xlsx", rows), "UnrecognizedLayoutError", "not a real UTC offset")
    assert "cell A1" in message


# --- summary PDFs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), -5.0, float("inf")])
def test_summary_quantities_must_be_finite_and_non_negative(tmp_path: Path, value: float) -> None:
    rows = [{"item": "Traffic", "region": "CN", "period": "2024-03", "value": value, "unit": "byte"}]
    path = tmp_path / "s.pdf"
    path.write_bytes(write_summary_pdf(summary_frame(rows), title="t"))
    refused(path, "ReadError", "finite, non-negative", reader="summary")


def _pdf_bomb(path: Path, unpacked: int = 200 << 20) -> Path:
    """A one-page PDF whose content stream inflates to ``unpacked`` bytes of spaces."""
    packer = zlib.compressobj(9)
    block = b" " * (1 << 20)
    stream = b"".join(packer.compress(block) for _ in range(unpacked >> 20)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def test_a_pdf_decompression_bomb_is_unsafe_not_corrupted(tmp_path: Path) -> None:
    path = _pdf_bomb(tmp_path / "bomb.pdf")
    assert path.stat().st_size < 1 << 20
    refused(path, "UnsafeFileError", "decompression bomb", reader="summary")


def test_the_harness_sees_a_good_workbook_read(tmp_path: Path) -> None:
    """The harness itself: the same child reads a good workbook without an error, in little memory."""
    path = book(
        tmp_path / "good.xlsx",
        [["Time", "Requests"], ["2024-03-02 00:00", 1], [datetime(2024, 3, 2, 0, 5), 2]],
    )
    outcome = read_in_child(path)
    assert outcome["error"] is None, outcome
    assert outcome["peak_mb"] < PEAK_MB, outcome
