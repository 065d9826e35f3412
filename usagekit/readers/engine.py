"""The cell engine: fastexcel (calamine in Rust) reading sheets straight into Arrow columns.

Only this module touches fastexcel. Columns keep the sheet's absolute positions (column ``C`` is 2 even
when the sheet starts there) and rows count from the sheet's first row, so errors can name cells. A
usage column is read as floats, exactly as stored; a cell there that is text comes back as a missing
value plus its text (:class:`Loaded.texts`), so ``"1,234"`` can still be read and ``"many"`` refused.
fastexcel releases the GIL while it parses, so threads read several workbooks at once.

>>> _rust_text('Expected float but got \\'String("1,2\\\\"34")\\'')
'1,2"34'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from usagekit.errors import FileFormatError
from usagekit.optional import require

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Loaded", "load_columns", "open_reader", "string_rows"]

_STRING = re.compile(r"String\(\"(.*)\"\)'?\s*$", re.S)
_ESCAPES = re.compile(r"\\(u\{[0-9a-fA-F]+\}|.)")


def _fastexcel() -> Any:
    return require("fastexcel", extra="files", purpose="reading workbooks")


def open_reader(data: bytes, name: str, kind: str) -> Any:
    """A fastexcel reader over the workbook's bytes (raises :class:`FileFormatError` when unreadable)."""
    fastexcel = _fastexcel()
    try:
        return fastexcel.read_excel(data)
    except (fastexcel.FastExcelError, ValueError, OSError) as error:
        raise FileFormatError(
            f"a corrupted or unreadable {kind} workbook ({type(error).__name__}: {str(error)[:120]}); "
            "download it again",
            path=name,
            detected=kind,
        ) from None


def _unreadable(sheet: str, name: str, kind: str, error: Exception) -> FileFormatError:
    return FileFormatError(
        f"sheet {sheet!r} cannot be read ({type(error).__name__}: {str(error)[:120]}); the file may be "
        "truncated or corrupted: download it again",
        path=name,
        detected=kind,
    )


def string_rows(reader: Any, sheet: str, name: str, kind: str, limit: int | None = None) -> list[list[Any]]:
    """The sheet's first ``limit`` rows (all when ``None``) as text, ``None`` for blank, absolute columns."""
    fastexcel = _fastexcel()
    try:
        loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, n_rows=limit, dtypes="string")
        batch = loaded.to_arrow()
    except (fastexcel.FastExcelError, ValueError) as error:
        raise _unreadable(sheet, name, kind, error) from None
    infos = loaded.available_columns()
    if not infos or batch.num_rows == 0:
        return []
    width = max(info.absolute_index for info in infos) + 1
    rows: list[list[Any]] = [[None] * width for _ in range(batch.num_rows)]
    for position, info in enumerate(infos):
        for number, value in enumerate(batch.column(position).to_pylist()):
            rows[number][info.absolute_index] = value
    return rows


@dataclass
class Loaded:
    """The data rows below a header: one Arrow array per absolute column index.

    ``texts`` maps a usage column's index to ``{row: text}`` for its cells that held text instead of
    a number (their value in ``columns`` is missing); row numbers count from the first data row.
    """

    columns: dict[int, pa.Array]
    rows: int
    texts: dict[int, dict[int, str]] = field(default_factory=dict)


def load_columns(
    reader: Any, sheet: str, first_row: int, text: list[int], numbers: list[int], name: str, kind: str
) -> Loaded:
    """Rows from ``first_row`` (0-based) on, columns ``text`` as strings and ``numbers`` as floats."""
    fastexcel = _fastexcel()
    pa = require("pyarrow", extra="files", purpose="reading workbooks")
    wanted = sorted(set(text) | set(numbers))
    dtypes = {index: "float" if index in numbers else "string" for index in wanted}
    try:
        loaded = reader.load_sheet(
            sheet, header_row=None, skip_rows=first_row, use_columns=wanted, dtypes=dtypes
        )
        batch, errors = loaded.to_arrow_with_errors()
    except fastexcel.InvalidParametersError as error:
        if "rows skipped" in str(error):  # nothing below the header
            return Loaded({i: pa.nulls(0, pa.string() if i in text else pa.float64()) for i in wanted}, 0)
        raise _unreadable(sheet, name, kind, error) from None
    except (fastexcel.FastExcelError, ValueError) as error:
        raise _unreadable(sheet, name, kind, error) from None
    infos = loaded.selected_columns
    columns = {info.absolute_index: batch.column(k) for k, info in enumerate(infos)}
    out = Loaded(columns, batch.num_rows)
    for cell_error in errors.errors if errors is not None else ():
        row, column = cell_error.position
        column = infos[column].absolute_index if column < len(infos) and column not in columns else column
        found = _rust_text(cell_error.detail)
        out.texts.setdefault(column, {})[row - first_row] = found if found is not None else cell_error.detail
    return out


def _rust_text(detail: str) -> str | None:
    """The text of a cell from the engine's message about it (``String("1,234")``, Rust-escaped)."""
    match = _STRING.search(detail)
    if match is None:
        return None

    def unescape(found: re.Match[str]) -> str:
        code = found.group(1)
        if code.startswith("u{"):
            return chr(int(code[2:-1], 16))
        return {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(code, code)

    return _ESCAPES.sub(unescape, match.group(1))
