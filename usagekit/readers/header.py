"""Finding the header of a detail sheet: which columns hold times, domains, regions and usage, in which units.

The real workbook's layout is not published, so columns are found by name, in Chinese or English,
whatever the case, spacing or full-width parentheses, with the unit in the header (``流量(Byte)``,
``Traffic(GB)``, ``带宽(Mbps)``, ``请求数(次)``, ``时间(UTC+9)``). :func:`find_header` looks for the first of a
sheet's top rows that names a time column and at least one usage column; :class:`Where` names the file,
sheet and cell in errors. :mod:`usagekit.readers.detail` reads the rows below.

>>> rows = [["Report"], ["Time", "Domain", "Traffic(GB)"]]
>>> number, columns = find_header(rows, Options({}, kb=1024), Where("export.xlsx", "Sheet1"))
>>> number, [(c.role, c.factor) for c in columns.values()]
(1, [('time', 8.0), ('domain', 1.0), ('traffic', 1073741824.0)])
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from usagekit.errors import ReadError, UnrecognizedLayoutError
from usagekit.frames import METRICS
from usagekit.readers.cells import is_blank as _is_blank
from usagekit.readers.cells import normalise
from usagekit.readers.guard import column_letters

__all__ = [
    "HEADER_SCAN_ROWS",
    "REGION_SHEETS",
    "REGION_SHEET_PATTERN",
    "ROLES",
    "Column",
    "ColumnMapping",
    "Options",
    "Where",
    "find_header",
    "has_data",
    "real_offset",
    "seen_headers",
    "time_offset",
]

#: how many rows from the top of a sheet are searched for the header
HEADER_SCAN_ROWS = 30
ROLES = ("time", "domain", "region", "traffic", "bandwidth", "requests")
#: ``{header text: role}`` or ``{header text: (role, unit)}``; a role of ``None`` ignores the column
ColumnMapping = Mapping[str, "str | tuple[str, str] | None"]

_NAMES = {
    "time": {
        "时间",
        "时间段",
        "时间点",
        "日期",
        "日期时间",
        "统计时间",
        "time",
        "date",
        "datetime",
        "timestamp",
    },
    "domain": {"域名", "加速域名", "domain", "domainname"},
    "region": {"计费区域", "区域", "地区", "计费地区", "billingregion", "region", "billingarea", "area"},
    "traffic": {"流量", "下行流量", "计费流量", "traffic", "datatransfer", "flow"},
    "bandwidth": {"带宽", "峰值带宽", "计费带宽", "bandwidth", "peakbandwidth"},
    "requests": {
        "请求数",
        "请求次数",
        "请求量",
        "requests",
        "request",
        "requestcount",
        "requestcounts",
        "numberofrequests",
    },
}
_ROLE_OF = {name: role for role, names in _NAMES.items() for name in names}
# no "KB/s" forms: once case is folded, kilobits and kilobytes per second look alike (map them yourself)
_BANDWIDTH_UNITS = {"": 1.0, "bps": 1.0, "bit/s": 1.0, "bits/s": 1.0}
for _prefix, _power in (("k", 1), ("m", 2), ("g", 3), ("t", 4)):
    for _form in ("{}bps", "{}bit/s", "{}bits/s"):
        _BANDWIDTH_UNITS[_form.format(_prefix)] = 1000.0**_power
_REQUEST_UNITS = {
    "": 1.0,
    "次": 1.0,
    "个": 1.0,
    "count": 1.0,
    "times": 1.0,
    "requests": 1.0,
    "万次": 1e4,
    "万": 1e4,
}
_OFFSET = re.compile(r"^(?:utc|gmt)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$")
_BEIJING_WORDS = {"", "北京时间", "beijingtime", "beijing", "cst", "utc+8", "utc+08:00", "gmt+8", "utc+0800"}
_DATE_SEPARATORS = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_TIME_TEXT = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:z|[+-]\d{2}:?\d{2})?$", re.I
)
_SPLIT_HEADER = re.compile(r"^(.*?)\(([^()]*)\)$")
#: names of sheets that are billing regions, when each sheet holds one region (compared normalised)
REGION_SHEETS = {
    "cn",
    "中国内地",
    "中国大陆",
    "chinesemainland",
    "mainlandchina",
    "overseas",
    "海外",
    "全球",
    "global",
    "outsidechinesemainland",
    "非中国内地",
    "na",
    "sa",
    "eu",
    "meaa",
}
REGION_SHEET_PATTERN = re.compile(r"^(?:ap|na|sa|eu|me|af|as)\d{0,2}$")


def _traffic_units(kb: int) -> dict[str, float]:
    units = {"": 1.0, "b": 1.0, "byte": 1.0, "bytes": 1.0, "字节": 1.0}
    for power, prefix in enumerate("kmgtp", start=1):
        units[f"{prefix}b"] = units[f"{prefix}byte"] = units[f"{prefix}bytes"] = float(kb) ** power
        units[f"{prefix}ib"] = 1024.0**power
    return units


@dataclass(frozen=True)
class Column:
    """A recognised column: its position, role, factor to base units (or UTC offset, for time)."""

    index: int
    role: str
    factor: float
    header: str


@dataclass
class Options:
    mapping: dict[str, tuple[str | None, float | None]]
    kb: int
    traffic_units: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.traffic_units = _traffic_units(self.kb)

    def units(self, role: str) -> dict[str, float] | None:
        if role == "traffic":
            return self.traffic_units
        if role == "bandwidth":
            return _BANDWIDTH_UNITS
        if role == "requests":
            return _REQUEST_UNITS
        return None


def time_offset(unit: str) -> float | None:
    """Hours east of UTC named by a time header's parenthesis (``UTC+8``), ``None`` if it names none."""
    if unit in _BEIJING_WORDS:
        return 8.0
    match = _OFFSET.match(unit)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = int(hours or 0) + int(minutes or 0) / 60
    return -offset if sign == "-" else offset


def real_offset(hours: float) -> bool:
    """Whether ``hours`` east of UTC is an offset some place uses: -12 to +14, on :00, :30 or :45."""
    return -12 <= hours <= 14 and round(hours * 60) % 15 == 0 and hours * 4 == round(hours * 4)


def _classify(header: str, options: Options) -> tuple[str, float | None] | None:
    """``(role, factor)`` for a recognised header, ``(role, None)`` for a known name with an unknown unit."""
    key = normalise(header)
    if key in options.mapping:
        role, factor = options.mapping[key]
        if role is None:
            return None
        return role, (factor if factor is not None else _default_factor(role, "", options))
    match = _SPLIT_HEADER.match(key)
    name, unit = (match.group(1), match.group(2)) if match else (key, "")
    role = _ROLE_OF.get(name)
    if role is None:
        return None
    return role, _default_factor(role, unit, options)


def _default_factor(role: str, unit: str, options: Options) -> float | None:
    if role == "time":
        return time_offset(unit)
    units = options.units(role)
    if units is None:  # domain, region: a parenthesis is just part of the name
        return 1.0
    return units.get(unit)


def find_header(
    rows: Sequence[Sequence[Any]], options: Options, where: Where
) -> tuple[int, dict[str, Column]] | None:
    """The header row's index and its columns by role, or ``None`` when no top row is a header."""
    for number, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        columns: dict[str, Column] = {}
        unknown: list[str] = []
        for index, cell in enumerate(row):
            if not isinstance(cell, str) or not cell.strip():
                continue
            found = _classify(cell, options)
            if found is None:
                continue
            role, factor = found
            if factor is None:
                unknown.append(cell.strip())
                continue
            if role == "time" and not real_offset(factor):
                raise where.layout(
                    f"the time header {cell.strip()!r} (cell {column_letters(index)}{number + 1}) names "
                    f"UTC{factor:+g}, which is not a real UTC offset (UTC-12 to UTC+14, whole or half hours "
                    "or :45); name the column's offset with mapping=, e.g. {'Time': ('time', 'UTC+8')}",
                    row,
                )
            if role in columns:
                raise where.layout(
                    f"columns {columns[role].header!r} and {cell.strip()!r} both read as {role}; "
                    f"pass mapping={{{cell.strip()!r}: None}} to ignore one of them",
                    row,
                )
            columns[role] = Column(index, role, factor, cell.strip())
        if "time" in columns and (unknown or any(m in columns for m in METRICS)):
            if unknown:
                raise where.layout(
                    f"the unit of column {unknown[0]!r} is not one usagekit knows; pass its role and "
                    f"unit, e.g. read_usage(path, mapping={{{unknown[0]!r}: ('traffic', 'GB')}})",
                    row,
                )
            return number, columns
    return None


def seen_headers(rows: Sequence[Sequence[Any]], limit: int = 24) -> tuple[str, ...]:
    seen: list[str] = []
    for row in rows[:HEADER_SCAN_ROWS]:
        for cell in row:
            text = "" if _is_blank(cell) else str(cell).strip()
            if text and text not in seen:
                seen.append(text[:40])
            if len(seen) >= limit:
                return tuple(seen)
    return tuple(seen)


def has_data(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether a sheet holds data: numbers or dates, also when written as text (``"2024-03-02 00:05"``,
    ``"1,234"``), so a sheet of text-stored figures under an unknown header is never skipped silently."""
    return any(_is_datum(cell) for row in rows for cell in row)


def _is_datum(cell: Any) -> bool:
    if isinstance(cell, bool):
        return False
    if isinstance(cell, int | float | datetime | date | time | timedelta):
        return True
    if not isinstance(cell, str):
        return False
    text = unicodedata.normalize("NFKC", cell).strip()
    if _TIME_TEXT.match(_DATE_SEPARATORS.sub(r"\1-\2-\3", text)):
        return True
    try:
        float(text.replace(",", "").replace("_", "").replace(" ", ""))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Where:
    """The file and sheet being read, to name them in errors."""

    path: str
    sheet: str

    def layout(self, message: str, headers: Sequence[Any]) -> UnrecognizedLayoutError:
        seen = tuple(str(c).strip() for c in headers if not _is_blank(c))
        return UnrecognizedLayoutError(
            f"sheet {self.sheet!r}: {message}", path=self.path, sheet=self.sheet, headers=seen
        )

    def cell(self, excel_row: int, column: Column, value: Any, what: str) -> ReadError:
        ref = f"{column_letters(column.index)}{excel_row}"
        return ReadError(
            f"sheet {self.sheet!r}, row {excel_row}, column {column.header!r}: {what} {str(value)[:40]!r} "
            f"(cell {ref})",
            path=self.path,
        )
