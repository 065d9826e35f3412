"""Cells into values, strictly: the time column into UTC instants, usage columns into finite numbers.

Everything works on Arrow columns and their distinct values, so a month of 5-minute rows costs one Python
step per distinct time (a few thousand), not per cell. What cannot be read right is reported with a
reason (:data:`TIME_PROBLEMS`), never turned into a blank or a zero.

>>> normalise(" 流量（ＭＢ） ")
'流量(mb)'
>>> parse_number_text(" 1,234 ")
1234.0
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BLANK",
    "FIVE_MINUTES_NS",
    "TIME_PROBLEMS",
    "TOTAL",
    "TOTAL_WORDS",
    "is_blank",
    "normalise",
    "parse_number_text",
    "parse_times",
]

TOTAL_WORDS = {"合计", "总计", "小计", "总和", "汇总", "total", "sum", "grandtotal", "subtotal", "totals"}
#: codes ``parse_times`` gives instead of an instant
BLANK, TOTAL, UNREADABLE, DATE_ONLY, OUT_OF_RANGE, NO_DATE = -1, -2, -3, -4, -5, -6
TIME_PROBLEMS = {
    UNREADABLE: "an unreadable time",
    DATE_ONLY: "a date without a time of day",
    OUT_OF_RANGE: "a time outside the years pandas can hold (1678 to 2261)",
    NO_DATE: "a time of day without a date",
}
FIVE_MINUTES_NS = 300 * 10**9
_RANGE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ t]\d{1,2}:\d{2}(?::\d{2})?)\s*(?:-|~|至|–|—|to)\s*\S")
_ZONED = re.compile(r"(?:z|[+-]\d{2}:?\d{2})$", re.I)
_DATE_SEPARATORS = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_TIME_TEXT = re.compile(
    r"^(\d{4})-\d{1,2}-\d{1,2}(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:z|[+-]\d{2}:?\d{2})?$", re.I
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_SERIAL = re.compile(r"^\d+(?:\.\d+)?$")
#: Excel serial days read as dates in a time column: 2000-01-01 to 2100-01-01 (other numbers are not times)
SERIAL_RANGE = (36_526, 73_051)
_EXCEL_EPOCH = pd.Timestamp(datetime(1899, 12, 30))
_DASHES = {"-", "--", "—"}


def normalise(text: Any) -> str:
    """A header or label as compared: NFKC (full-width to ASCII), lower case, no whitespace.

    >>> normalise("Billing Region")
    'billingregion'
    """
    folded = unicodedata.normalize("NFKC", str(text)).lower().replace("[", "(").replace("]", ")")
    return "".join(folded.split()).rstrip(":")


def is_blank(value: Any) -> bool:
    """``None``, empty or whitespace text, or a float NaN from a blank cell."""
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def parse_number_text(text: str) -> float | None:
    """A number written as text (``"1,234"``, full-width digits), ``None`` when it is not one.

    Only plain decimal forms: ``NaN``, ``inf``, ``TRUE`` and the like are not numbers here.

    >>> parse_number_text("NaN") is None, parse_number_text("１２") == 12.0
    (True, True)
    """
    cleaned = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("_", "").replace(" ", "")
    if not re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", cleaned, re.I):
        return None
    return float(cleaned)


def is_dash(text: str) -> bool:
    """A dash written for "no value" (``-``, ``--``, ``—``)."""
    return text.strip() in _DASHES


def parse_times(uniques: Sequence[Any], offset_hours: float) -> np.ndarray:
    """UTC nanoseconds for each distinct time cell, or a code (:data:`BLANK`, :data:`TOTAL`, a problem).

    Cells come as text (the engine writes Excel dates as ``YYYY-MM-DD HH:MM:SS`` and numbers as digits);
    text without a zone is local time ``offset_hours`` east of UTC.
    """
    out = np.full(len(uniques), UNREADABLE, dtype=np.int64)
    done = _parse_plain(uniques, offset_hours, out)
    naive_text: dict[int, str] = {}
    zoned_text: dict[int, str] = {}
    naive: dict[int, int] = {}
    for i, value in enumerate(uniques):
        if done[i]:
            continue
        if is_blank(value):
            out[i] = BLANK
            continue
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if normalise(text) in TOTAL_WORDS:
            out[i] = TOTAL
            continue
        if _SERIAL.match(text):
            serial = float(text)
            if SERIAL_RANGE[0] <= serial < SERIAL_RANGE[1]:  # an Excel serial date, stored unformatted
                naive[i] = (_EXCEL_EPOCH + pd.Timedelta(days=serial)).round("s").as_unit("ns").value
            continue
        ranged = _RANGE.match(text.lower())
        text = _DATE_SEPARATORS.sub(r"\1-\2-\3", ranged.group(1) if ranged else text)
        matched = _TIME_TEXT.match(text)
        if matched is None:  # anything else (a note, a word) stays unreadable
            continue
        year = int(matched.group(1))
        if _DATE_ONLY.match(text):
            out[i] = DATE_ONLY
        elif year < 1678 or year > 2261:
            out[i] = OUT_OF_RANGE
        elif year < 1900:  # Excel's day zero: a time-of-day cell
            out[i] = NO_DATE
        else:
            (zoned_text if _ZONED.search(text) else naive_text)[i] = text
    for i, ns in _parse_texts(naive_text, utc=False).items():
        naive[i] = ns
    for i, ns in _parse_texts(zoned_text, utc=True).items():
        out[i] = ns
    shift = round(offset_hours * 3600 * 10**9)
    for i, ns in naive.items():
        out[i] = ns - shift
    return out


_PLAIN = r"^(?:19\d\d|2[01]\d\d|22[0-5]\d)-\d\d-\d\d \d\d:\d\d:\d\d$"


def _parse_plain(uniques: Sequence[Any], offset_hours: float, out: np.ndarray) -> np.ndarray:
    """The distinct cells written as the engine writes Excel times (``2024-03-02 00:05:00``, years
    1900-2259), parsed in one vectorised step into ``out``; which ones were (the rest, such as a total
    row's word, are left to the general path, which decides cell by cell)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    done: np.ndarray = np.zeros(len(uniques), dtype=bool)
    if not len(uniques):
        return done
    try:
        texts = pa.array(uniques, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: the general path
        return done
    plain = pc.fill_null(pc.match_substring_regex(texts, _PLAIN), False)
    # a plain-looking time that is not one (month 13) parses as null and stays with the general path
    stamps = pc.strptime(
        pc.if_else(plain, texts, None), format="%Y-%m-%d %H:%M:%S", unit="ns", error_is_null=True
    )
    done = stamps.is_valid().to_numpy(zero_copy_only=False)
    shift = round(offset_hours * 3600 * 10**9)
    values = stamps.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    out[done] = values[done] - shift
    return done


def _parse_texts(texts: dict[int, str], *, utc: bool) -> dict[int, int]:
    """Nanoseconds for the readable texts: the fast ISO 8601 parser first, the lenient one for the rest."""
    if not texts:
        return {}
    keys = list(texts)
    values = pd.Series([texts[k] for k in keys], dtype=object)
    parsed = pd.Series(pd.to_datetime(values, format="ISO8601", utc=utc, errors="coerce"))
    retry = parsed.isna()
    if retry.any():  # e.g. single-digit months or hours
        parsed[retry] = pd.to_datetime(values[retry], format="mixed", utc=utc, errors="coerce")
    return {k: stamp.as_unit("ns").value for k, stamp in zip(keys, parsed, strict=True) if pd.notna(stamp)}
