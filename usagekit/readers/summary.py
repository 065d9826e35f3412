"""The summary export PDF read into a small frame: one row per billing item and region.

The table is found by its header, ``Billing item | Region | Period | Quantity | Unit`` (also in Chinese:
``计费项 | 计费区域 | 周期 | 用量 | 单位``), in the text pypdf extracts with positions: each text piece is
placed in the header column whose left edge is nearest at or before it, so names with spaces
(``Peak bandwidth``, ``Chinese Mainland``) stay whole. A row is a line with a readable quantity; lines
without one directly below a row continue its cells (wrapped text); a header repeated on a later page
is skipped. A region written ``-`` is missing (NA).
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pandas as pd

from usagekit.errors import ArgumentError, FileFormatError, ReadError, UnsafeFileError
from usagekit.optional import require
from usagekit.readers.detect import Source, detect_format, opened, snippet, source_name

__all__ = ["SUMMARY_COLUMNS", "read_summary"]

SUMMARY_COLUMNS = ("item", "region", "period", "value", "unit")
_HEADER_NAMES = {
    "item": {"billingitem", "item", "计费项", "计费项目", "billableitem"},
    "region": {"region", "billingregion", "计费区域", "区域"},
    "period": {"period", "billingperiod", "周期", "账期", "时间段"},
    "value": {"quantity", "usage", "value", "amount", "用量", "使用量", "数量"},
    "unit": {"unit", "单位"},
}
_ROLE_OF = {name: role for role, names in _HEADER_NAMES.items() for name in names}
_NO_REGION = {"-", "--", "—", "n/a", ""}
_LINE_TOLERANCE = 2.0  # points: pieces whose baselines differ by less are on one line


@dataclass(frozen=True)
class _Piece:
    page: int
    x: float
    y: float
    text: str


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _pieces(source: Source, name: str) -> list[_Piece]:
    pypdf = require("pypdf", extra="files", purpose="reading summary PDFs")
    pieces: list[_Piece] = []
    try:
        with opened(source) as handle:
            reader = pypdf.PdfReader(handle, strict=False)
            for number, page in enumerate(reader.pages):

                def visit(text: str, cm: Any, tm: Any, font: Any, size: Any, number: int = number) -> None:
                    if text.strip():
                        x = tm[4] * cm[0] + cm[4]
                        y = tm[5] * cm[3] + cm[5]
                        pieces.append(_Piece(number, float(x), float(y), text.strip()))

                page.get_contents()  # raises past pypdf's decompression limit (extract_text would say nothing)
                page.extract_text(visitor_text=visit)
    except pypdf.errors.LimitReachedError as error:  # a decompression bomb, not a damaged download
        raise UnsafeFileError(
            f"refused: a stream in the PDF unpacks past pypdf's safety limit ({str(error)[:120]}); "
            "a summary export is a few pages of text, so this looks like a decompression bomb",
            path=name,
        ) from None
    except Exception as error:  # pypdf raises PdfReadError, ValueError, KeyError... on damaged files
        raise FileFormatError(
            f"a corrupted or truncated PDF ({type(error).__name__}: {str(error)[:120]}); download it again",
            path=name,
            detected="pdf",
        ) from None
    return pieces


def _lines(pieces: list[_Piece]) -> list[list[_Piece]]:
    ordered = sorted(pieces, key=lambda p: (p.page, -p.y, p.x))
    lines: list[list[_Piece]] = []
    for piece in ordered:
        last = lines[-1] if lines else None
        if last and last[0].page == piece.page and abs(last[0].y - piece.y) < _LINE_TOLERANCE:
            last.append(piece)
        else:
            lines.append([piece])
    return lines


def _header(line: list[_Piece]) -> dict[str, float] | None:
    found = {}
    for piece in line:
        role = _ROLE_OF.get(_key(piece.text))
        if role is not None:
            found[role] = piece.x
    return found if len(found) == len(_HEADER_NAMES) else None


def _cells(line: list[_Piece], columns: dict[str, float]) -> dict[str, str]:
    """The line's text per column: each piece goes to the last column starting at or before it."""
    order = sorted(columns, key=columns.__getitem__)
    cells: dict[str, list[str]] = {role: [] for role in order}
    for piece in line:
        at = [role for role in order if columns[role] <= piece.x + _LINE_TOLERANCE]
        cells[at[-1] if at else order[0]].append(piece.text)
    return {role: " ".join(parts) for role, parts in cells.items()}


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.I)


def _quantity(text: str, name: str, item: str) -> float | None:
    """The quantity written in ``text``, ``None`` when the line holds none (a wrapped line).

    A number that is not finite or is negative is an error, never a quantity.
    """
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace(" ", "")
    if not _NUMBER.fullmatch(cleaned):
        return None
    value = float(cleaned)
    if not math.isfinite(value) or value < 0:
        raise ReadError(
            f"the quantity of {item.strip() or 'a row'!r} is {text.strip()!r}: a summary quantity is a finite, "
            "non-negative number",
            path=name,
        )
    return value


def read_summary(path: Source) -> pd.DataFrame:
    """Read a summary export PDF into a frame, one row per billing item and region.

    Columns: ``item`` (string: ``Traffic``, ``Peak bandwidth``, ``Requests``...), ``region`` (string,
    NA when the PDF writes ``-``), ``period`` (string, as written), ``value`` (float64, the quantity)
    and ``unit`` (string, as written: ``byte``, ``bit/s``, ``request``). Raises
    :class:`~usagekit.errors.FileFormatError` for a file that is not a readable PDF and
    :class:`~usagekit.errors.ReadError` when no table header can be found.

    >>> from usagekit.sandbox.files import summary_frame, write_summary_pdf
    >>> summary = summary_frame([{"item": "Peak bandwidth", "region": "Chinese Mainland",
    ...                           "period": "2024-03-01 to 2024-03-31", "value": 1.5e9, "unit": "bit/s"}])
    >>> frame = read_summary(write_summary_pdf(summary, title="March"))
    >>> frame[["item", "region", "period", "unit"]].iloc[0].tolist(), float(frame.loc[0, "value"])
    (['Peak bandwidth', 'Chinese Mainland', '2024-03-01 to 2024-03-31', 'bit/s'], 1500000000.0)
    """
    if not isinstance(path, str | bytes | os.PathLike) and not hasattr(path, "read"):
        raise ArgumentError(
            f"path must be a file path, the file's bytes or an open binary file, not {type(path).__name__}"
        )
    name = source_name(path)
    try:
        kind = detect_format(path)
    except OSError as error:
        raise ReadError(f"cannot be read: {error.strerror or error}", path=name) from None
    if kind != "pdf":
        hint = (
            "read detail workbooks with read_usage(path)"
            if kind in {"xlsx", "xls"}
            else f"it starts {snippet(path)!r}"
        )
        raise FileFormatError(f"not a PDF (its first bytes say {kind}); {hint}", path=name, detected=kind)

    lines = _lines(_pieces(path, name))
    columns: dict[str, float] | None = None
    rows: list[dict[str, Any]] = []
    in_row = False  # the line above was a row (or its continuation): wrapped text may follow
    for line in lines:
        header = _header(line)
        if header is not None:
            columns = columns or header  # a header repeated on a later page is skipped
            in_row = False
            continue
        if columns is None:
            continue
        texts = _cells(line, columns)
        value = _quantity(texts["value"], name, texts["item"])
        if value is not None:
            region = texts["region"]
            rows.append(
                {
                    "item": texts["item"],
                    "region": None if region.strip().lower() in _NO_REGION else region,
                    "period": texts["period"],
                    "value": value,
                    "unit": texts["unit"],
                }
            )
            in_row = True
        elif in_row and not texts["value"]:  # the rest of cells wrapped onto the next line
            for role, text in texts.items():
                if text:
                    rows[-1][role] = f"{rows[-1][role] or ''} {text}".strip()
        else:
            in_row = False
    if columns is None:
        seen = " | ".join(piece.text for line in lines[:4] for piece in line)[:160]
        raise ReadError(
            "no summary table found: no line holds the header 'Billing item | Region | Period | Quantity | Unit'"
            f"; the PDF begins {seen!r}"
            if seen
            else "no summary table found: the PDF has no extractable text",
            path=name,
        )
    return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    string = pd.StringDtype()
    return frame.astype(
        {"item": string, "region": string, "period": string, "value": "float64", "unit": string}
    )
