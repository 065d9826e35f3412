"""The detail export workbook read into a tidy usage frame: columns found by name, values in base units.

The real workbook's layout is not published (see the architecture page), so nothing here depends on
positions: in each sheet the header is the first of its first 30 rows that names a time column and at
least one usage column, in Chinese or English, whatever the case, spacing or full-width parentheses,
with the unit in the header (``流量(Byte)``, ``Traffic(GB)``, ``带宽(Mbps)``, ``请求数(次)``). Title
rows above it, other columns, other column orders, total rows (``合计``, ``总计``, ``Total``...) and
blank rows are all survived; several sheets are read and joined.

Units. Traffic is converted to bytes with 1 KB = 1024 bytes by default: Alibaba Cloud's CDN pricing
page states "The conversion rate between a smaller data storage unit and a larger unit is 1024. For
example, 1 GB equals 1024 MB" (https://www.alibabacloud.com/product/content-delivery-network/pricing).
Pass ``kb=1000`` for decimal units; ``KiB``/``MiB``/``GiB``/``TiB`` are always binary. Bandwidth is a bit
rate and uses the decimal network units of the same documents (1 Kbps = 1000 bit/s, 1 Mbps = 10^6 bit/s).

Times. Text (``YYYY-MM-DD HH:MM[:SS]``, ``/`` also accepted, a range keeps its start) or Excel dates are
Beijing local time (UTC+8) unless the time header names another offset (``Time(UTC)``, ``时间(UTC+9)``),
and become UTC. Each row is one 5-minute billing point: ``end`` is ``start`` plus 5 minutes, the export's
defined granularity, whatever the spacing of the rows.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from usagekit.errors import ArgumentError, FileFormatError, ReadError, UnrecognizedLayoutError
from usagekit.frames import METRICS, UNITS, UTC_NS
from usagekit.optional import require
from usagekit.readers import cells
from usagekit.readers.cache import cache_dir as parsed_dir
from usagekit.readers.cache import content_digest, memory_cache
from usagekit.readers.cells import TOTAL_WORDS as _TOTAL_WORDS
from usagekit.readers.cells import is_blank as _is_blank
from usagekit.readers.cells import normalise
from usagekit.readers.detect import Source, check_zip, detect_format, opened, snippet, source_name
from usagekit.readers.engine import load_columns, open_reader, string_rows
from usagekit.readers.guard import SheetScan, column_letters, scan_workbook
from usagekit.readers.header import (
    HEADER_SCAN_ROWS,
    REGION_SHEET_PATTERN,
    REGION_SHEETS,
    ROLES,
    Column,
    ColumnMapping,
    Options,
    Where,
    find_header,
    has_data,
    real_offset,
    seen_headers,
    time_offset,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["HEADER_SCAN_ROWS", "READER_VERSION", "ROLES", "read_usage"]

#: bump when parsing changes: cached frames of older versions are then not used
READER_VERSION = 2
INTERVAL = pd.Timedelta(minutes=5)


# --- one sheet -------------------------------------------------------------------------------------------


@dataclass
class _Part:
    """What one sheet contributed: per measurement row, label codes into its own label lists."""

    domain: np.ndarray
    domains: list[str | None]
    region: np.ndarray
    regions: list[str | None]
    metric: np.ndarray
    start: np.ndarray
    value: np.ndarray
    sheet: str = ""
    has_region: bool = False
    blanks: dict[str, int] = field(default_factory=dict)


def _compute() -> Any:
    return require("pyarrow.compute", extra="files", purpose="reading workbooks")


def _labels(column: pa.Array) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """Codes into distinct labels (stripped text, ``None`` for blank) and which distinct ones are totals."""
    encoded = _compute().dictionary_encode(column)
    dictionary = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
    labels: list[str | None] = []
    totals = np.zeros(len(dictionary) + 1, dtype=bool)
    for i, value in enumerate(dictionary):
        if _is_blank(value):
            labels.append(None)
            continue
        text = str(value).strip()
        labels.append(text)
        totals[i] = normalise(text) in _TOTAL_WORDS
    labels.append(None)  # the code of blank cells
    return codes, labels, totals


def _numbers(column: pa.Array, texts: dict[int, str]) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Floats (NaN for blank cells) and the cells that are not finite, non-negative numbers."""
    values = np.array(column.to_numpy(zero_copy_only=False), dtype="float64")
    blank = column.is_null().to_numpy(zero_copy_only=False)
    bad: list[tuple[int, str, str]] = []
    for i, text in texts.items():
        if _is_blank(text) or cells.is_dash(text):
            continue
        number = cells.parse_number_text(text)
        if number is None:
            bad.append((i, text, "is not a number:"))
        else:
            values[i] = number
            blank[i] = False
    odd = ~blank & ~(np.isfinite(values) & (values >= 0))
    for i in np.flatnonzero(odd).tolist():
        value = values[i]
        if np.isnan(value):
            bad.append((i, texts.get(i, "NaN"), "is not a number:"))
        elif not np.isfinite(value):
            bad.append((i, texts.get(i, repr(float(value))), "is not a finite number:"))
        else:
            bad.append((i, texts.get(i, f"{value:g}"), "is negative: usage cannot be"))
    return values, bad


#: a problem found in a sheet: (row from the first data row, column, the value, what is wrong with it)
_Problem = tuple[int, Column, Any, str]


def _refuse_headerless(
    reader: Any, head: list[list[Any]], where: Where, scan: SheetScan | None, kind: str
) -> None:
    """Pass over a sheet without a header and without data; refuse one that holds data, naming what it shows."""
    rows = head if scan is None or scan.head is None else None
    if rows is None or len(rows) >= HEADER_SCAN_ROWS:  # the first rows alone cannot tell
        rows = string_rows(reader, where.sheet, where.path, kind)
    if not has_data(rows):
        return
    headers = seen_headers(rows)
    example_time = headers[0] if headers else "Zeit"
    raise where.layout(
        f"no header row naming a time column and a usage column (traffic, bandwidth or "
        f"requests) in its first {HEADER_SCAN_ROWS} rows; it shows {' | '.join(headers) or 'no text'}. "
        f"Name the columns with mapping=, e.g. read_usage(path, mapping={{{example_time!r}: 'time', "
        f"'Flow (GiB)': ('traffic', 'GiB')}})",
        headers,
    )


@dataclass
class _Times:
    """A sheet's time column: each row's start in UTC nanoseconds (or a :mod:`cells` problem code) and its text."""

    start: np.ndarray
    texts: list[Any]
    codes: np.ndarray

    def text(self, i: int) -> Any:
        return self.texts[self.codes[i]]


def _read_times(column: pa.Array, factor: float) -> _Times:
    """Parse each distinct time text once (``factor``: the header's offset from UTC, in hours)."""
    encoded = _compute().dictionary_encode(column)
    texts = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(len(texts)).to_numpy(zero_copy_only=False)
    stamps = np.append(cells.parse_times(texts, factor), cells.BLANK)
    texts.append(None)
    return _Times(stamps[codes], texts, codes)


def _read_labels(
    loaded: Any, columns: Mapping[str, Column], n: int
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, list[str | None]]]]:
    """The domain and region codes and labels (one blank label when a column is absent), and the total rows."""
    total = np.zeros(n, dtype=bool)
    label_parts: dict[str, tuple[np.ndarray, list[str | None]]] = {}
    for role in ("domain", "region"):
        if role in columns:
            codes, labels, totals = _labels(loaded.columns[columns[role].index])
            total |= totals[codes]
            label_parts[role] = (codes, labels)
        else:
            label_parts[role] = (np.zeros(n, dtype=np.int64), [None])
    return total, label_parts


def _read_metrics(
    loaded: Any, columns: Mapping[str, Column], metrics: list[str], total: np.ndarray
) -> tuple[dict[str, np.ndarray], list[_Problem]]:
    """Each metric's values in base units (NaN for blank), and the cells that are no usage, total rows aside."""
    values_of: dict[str, np.ndarray] = {}
    problems: list[_Problem] = []
    for metric in metrics:
        column = columns[metric]
        values, bad = _numbers(loaded.columns[column.index], loaded.texts.get(column.index, {}))
        problems += [(i, column, text, what) for i, text, what in bad if not total[i]]
        values_of[metric] = values * column.factor if column.factor != 1.0 else values
    return values_of, problems


def _flagged_problems(
    scan: SheetScan | None, columns: Mapping[str, Column], header_at: int, n: int, total: np.ndarray
) -> list[_Problem]:
    """Booleans, error cells, formulas without a value in the columns read: the engine would misread them."""
    if scan is None:
        return []
    by_index = {c.index: c for c in columns.values()}
    problems: list[_Problem] = []
    for (row, index), what in scan.flagged.items():
        i = row - header_at - 1
        if index in by_index and 0 <= i < n and not total[i]:
            problems.append((i, by_index[index], f"{column_letters(index)}{row + 1}", f"holds {what}:"))
    return problems


def _time_problems(
    times: _Times, time_col: Column, has_value: np.ndarray, total: np.ndarray
) -> list[_Problem]:
    """The first row with usage but no readable time, the first off the 5-minute grid, and dates without times."""
    start = times.start
    problems: list[_Problem] = []
    keep = (start >= 0) & ~total
    for i in np.flatnonzero(has_value & ~total & (start < 0))[:1].tolist():
        code = int(start[i])
        what = "has usage values but no time" if code == cells.BLANK else "has usage values and"
        if code != cells.BLANK:
            what += f" {cells.TIME_PROBLEMS.get(code, 'an unreadable time')}"
        problems.append((i, time_col, times.text(i), f"{what}:"))
    off_grid = keep & has_value & (start % cells.FIVE_MINUTES_NS != 0)
    for i in np.flatnonzero(off_grid)[:1].tolist():
        problems.append(
            (i, time_col, times.text(i), "is not a 5-minute point (:00, :05, ... :55, whole minutes):")
        )
    measured = keep & has_value
    if measured.any():
        shift = round(time_col.factor * 3600 * 10**9)
        local_days, remainder = np.divmod(start[measured] + shift, 86_400 * 10**9)
        if not remainder.any() and len(np.unique(local_days)) > 1:  # every row at midnight: dates only
            i = int(np.flatnonzero(measured)[0])
            problems.append((i, time_col, times.text(i), "holds dates without a time of day, e.g."))
    return problems


def _sheet_part(
    where: Where,
    columns: Mapping[str, Column],
    start: np.ndarray,
    keep: np.ndarray,
    label_parts: dict[str, tuple[np.ndarray, list[str | None]]],
    values_of: dict[str, np.ndarray],
) -> _Part:
    """The kept rows' measurements, one per metric value present, and each metric column's count of blanks."""
    domain_codes, domains = label_parts["domain"]
    region_codes, regions = label_parts["region"]
    chunks = []
    blanks: dict[str, int] = {}
    for metric, values in values_of.items():
        present = ~np.isnan(values)
        blanks[columns[metric].header] = int((keep & ~present).sum())
        index = np.flatnonzero(keep & present)
        chunks.append((index, np.full(len(index), METRICS.index(metric), dtype=np.int8), values[index]))
    index = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, dtype=np.int64)
    return _Part(
        domain=domain_codes[index],
        domains=domains,
        region=region_codes[index],
        regions=regions,
        metric=np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0, dtype=np.int8),
        start=start[index],
        value=np.concatenate([c[2] for c in chunks]) if chunks else np.zeros(0),
        sheet=where.sheet,
        has_region="region" in columns,
        blanks=blanks,
    )


def _read_sheet(
    reader: Any, head: list[list[Any]], options: Options, where: Where, scan: SheetScan | None, kind: str
) -> _Part | None:
    """The measurements of one sheet, ``None`` for a sheet with neither a header nor data."""
    found = find_header(head, options, where)
    if found is None:
        _refuse_headerless(reader, head, where, scan, kind)
        return None
    header_at, columns = found
    metrics = [m for m in METRICS if m in columns]
    loaded = load_columns(
        reader,
        where.sheet,
        header_at + 1,
        [c.index for r, c in columns.items() if r not in METRICS],
        [columns[m].index for m in metrics],
        where.path,
        kind,
    )
    n = loaded.rows
    time_col = columns["time"]
    times = _read_times(loaded.columns[time_col.index], time_col.factor)
    total, label_parts = _read_labels(loaded, columns, n)
    total |= times.start == cells.TOTAL
    values_of, problems = _read_metrics(loaded, columns, metrics, total)
    problems += _flagged_problems(scan, columns, header_at, n, total)
    has_value = np.zeros(n, dtype=bool)
    for values in values_of.values():
        has_value |= ~np.isnan(values)
    problems += _time_problems(times, time_col, has_value, total)
    if problems:
        i, column, value, what = min(problems, key=lambda p: p[0])
        raise where.cell(header_at + 2 + i, column, value, what)  # header_at + 2: the first data row, 1-based
    keep = (times.start >= 0) & ~total
    return _sheet_part(where, columns, times.start, keep, label_parts, values_of)


# --- the workbook ----------------------------------------------------------------------------------------


def _merge_labels(parts: list[_Part], attr: str) -> tuple[np.ndarray, list[str]]:
    """Codes into one sorted list of the labels in use (``-1`` for missing), across the sheets' own lists."""
    every = sorted({label for part in parts for label in getattr(part, attr + "s") if label is not None})
    position = {label: i for i, label in enumerate(every)}
    merged = []
    for part in parts:
        lookup = [-1 if label is None else position[label] for label in getattr(part, attr + "s")]
        merged.append(np.append(np.asarray(lookup, dtype=np.int64), -1)[getattr(part, attr)])
    codes = np.concatenate(merged) if merged else np.zeros(0, dtype=np.int64)
    seen = np.zeros(len(every) + 1, dtype=bool)
    seen[codes] = True  # -1 marks the last place, past the labels
    used = np.flatnonzero(seen[:-1])  # labels only seen on total or blank rows are no category
    if len(used) < len(every):
        renumber = np.full(len(every) + 1, -1, dtype=np.int64)
        renumber[used] = np.arange(len(used))
        codes = renumber[codes]  # -1 picks the trailing -1
        every = [every[i] for i in used.tolist()]
    return codes, every


def _order(
    domain: np.ndarray, region: np.ndarray, metric: np.ndarray, start: np.ndarray, domains: int, regions: int
) -> np.ndarray | None:
    """The order that sorts rows by domain, region, metric and start (stable), ``None`` if they are sorted.

    Rows come in the file's order, times rising: a stable sort by the three labels alone (a radix sort
    of one small integer key) usually leaves each series' times rising already, which is checked;
    otherwise the four keys are sorted in full.
    """
    if len(start) < 2:
        return None
    groups = (domains + 1) * (regions + 1) * len(METRICS)
    if groups < 2**15:
        key = (((domain + 1) * (regions + 1) + region + 1) * len(METRICS) + metric).astype(np.int16)
        rising = (start[1:] >= start[:-1]) | (key[1:] != key[:-1])  # times rise within each series
        if (key[1:] >= key[:-1]).all() and rising.all():
            return None
        order = np.argsort(key, kind="stable")
        key, times = key[order], start[order]
        if ((times[1:] >= times[:-1]) | (key[1:] != key[:-1])).all():
            return order
    return np.lexsort((start, metric, region, domain))


def _assemble(parts: list[_Part], name: str) -> pd.DataFrame:
    domain, domains = _merge_labels(parts, "domain")
    region, regions = _merge_labels(parts, "region")
    metric = (
        np.concatenate([p.metric for p in parts]).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
    )
    start = np.concatenate([p.start for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    value = np.concatenate([p.value for p in parts]) if parts else np.zeros(0)

    order = _order(domain, region, metric, start, len(domains), len(regions))
    if order is not None:
        domain, region, metric, start, value = (a[order] for a in (domain, region, metric, start, value))
    same = (
        (domain[1:] == domain[:-1])
        & (region[1:] == region[:-1])
        & (metric[1:] == metric[:-1])
        & (start[1:] == start[:-1])
    )
    if same.any():
        clash = np.flatnonzero(same & (value[1:] != value[:-1]))
        if len(clash):
            i = int(clash[0])
            when = pd.Timestamp(int(start[i]), tz="UTC")
            who = domains[domain[i]] if domain[i] >= 0 else "the account"
            raise ReadError(
                f"the file holds two different {METRICS[metric[i]]} values for {who} at {when:%Y-%m-%d %H:%M}Z "
                f"({value[i]:g} and {value[i + 1]:g}); it cannot be read as one export",
                path=name,
            )
        keep = np.concatenate(([True], ~same))
        domain, region, metric = domain[keep], region[keep], metric[keep]
        start, value = start[keep], value[keep]

    starts = (
        pd.DatetimeIndex(start.astype("datetime64[ns]"), tz="UTC")
        if len(start)
        else pd.DatetimeIndex([], dtype=UTC_NS)
    )
    return pd.DataFrame(
        {
            # pandas-stubs wants from_codes' categories as an Index; a list is what pandas documents
            "domain": pd.Categorical.from_codes(domain, categories=domains),  # type: ignore[call-overload]
            "region": pd.Categorical.from_codes(region, categories=regions),  # type: ignore[call-overload]
            "metric": pd.Categorical.from_codes(metric, dtype=pd.CategoricalDtype(list(METRICS))),
            "start": starts,
            "end": starts + INTERVAL,
            "value": value.astype("float64", copy=False),
            "unit": pd.Categorical.from_codes(metric, dtype=pd.CategoricalDtype(list(UNITS))),
        }
    )


def _is_region_name(sheet: str) -> bool:
    key = normalise(sheet)
    return key in REGION_SHEETS or bool(REGION_SHEET_PATTERN.match(key))


def _regions_from_sheet_names(parts: list[_Part]) -> None:
    """Sheets without a region column, each named like a billing region: the name is the region."""
    with_rows = [part for part in parts if len(part.start)]
    if len(with_rows) < 2 or any(part.has_region for part in parts):
        return
    if not all(_is_region_name(part.sheet) for part in with_rows):
        return
    for part in with_rows:
        part.regions = [part.sheet]
        part.region = np.zeros(len(part.start), dtype=np.int64)


def _workbook_bytes(source: Source) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    with opened(source) as handle:
        return handle.read()


def parse_workbook(source: Source, options: Options) -> pd.DataFrame:
    """Parse a workbook (no cache): every sheet with a header, joined, sorted, de-duplicated.

    An xlsx is checked before the engine sees it: its zip directory (``check_zip``) and the cell
    references its sheets hold (:mod:`usagekit.readers.guard`).
    """
    name = source_name(source)
    kind = detect_format(source)
    if kind not in ("xlsx", "xls"):
        raise _wrong_format(source, name, kind)
    data = _workbook_bytes(source)  # one read: the guard and the engine see the same bytes
    scans: dict[str, SheetScan] = {}
    if kind == "xlsx":
        check_zip(data, name=name)
        scans = {scan.name: scan for scan in scan_workbook(data, name)}
    reader = open_reader(data, name, kind)
    parts: list[_Part] = []
    seen: tuple[str, tuple[str, ...]] | None = None  # the first sheet with text: named in the error
    for sheet_name in reader.sheet_names:
        scan = scans.get(sheet_name)
        head = scan.head if scan is not None and scan.head is not None else None
        if head is None:
            head = string_rows(reader, sheet_name, name, kind, limit=HEADER_SCAN_ROWS)
        part = _read_sheet(reader, head, options, Where(name, sheet_name), scan, kind)
        if part is not None:
            parts.append(part)
        elif seen is None and (texts := seen_headers(head)):
            seen = (sheet_name, texts)
    if not parts:
        sheet, texts = seen or (None, ())
        shown = f"; sheet {sheet!r} shows {' | '.join(texts)}" if sheet is not None else ""
        raise UnrecognizedLayoutError(
            f"no sheet has a header naming a time column and a usage column (sheets: "
            f"{', '.join(map(repr, reader.sheet_names)) or 'none'}){shown}; if it is a usage export, name its "
            "columns, e.g. read_usage(path, mapping={'Zeit': 'time', 'Flow (GiB)': ('traffic', 'GiB')})",
            path=name,
            sheet=sheet,
            headers=texts,
        )
    _regions_from_sheet_names(parts)
    frame = _assemble(parts, name)
    blanks: dict[str, int] = {}
    for part in parts:
        for header, count in part.blanks.items():
            blanks[header] = blanks.get(header, 0) + count
    frame.attrs["blank_cells"] = blanks
    return frame


_DESCRIBED = {
    "html": "an HTML page",
    "xml": "an XML document",
    "json": "a JSON document",
    "text": "plain text",
}


def _wrong_format(source: Source, name: str, kind: str) -> FileFormatError:
    if kind == "pdf":
        what = "a PDF, which is how summary exports come: read it with read_summary(path)"
    elif kind == "empty":
        what = "empty: the download did not complete; fetch it again"
    elif kind in _DESCRIBED:
        what = (
            f"{_DESCRIBED[kind]}, not a workbook (an error page or reply saved in its place?); "
            f"it starts {snippet(source)!r}"
        )
    else:
        what = "not a workbook: its first bytes are neither xlsx (PK) nor xls (D0 CF 11 E0)"
    return FileFormatError(f"the file is {what}", path=name, detected=kind)


def _options(mapping: ColumnMapping | None, kb: int) -> Options:
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ArgumentError(
            f"mapping must be a dict of header -> role (or (role, unit)), not {type(mapping).__name__}"
        )
    if isinstance(kb, bool) or kb not in (1000, 1024):
        raise ArgumentError(f"kb must be 1000 or 1024, not {kb!r}")
    options = Options({}, kb)
    for header, target in (mapping or {}).items():
        role, unit = (target, None) if target is None or isinstance(target, str) else tuple(target)
        if role is not None and role not in ROLES:
            raise ArgumentError(
                f"mapping[{header!r}]: unknown role {role!r}; use one of {', '.join(ROLES)} or None"
            )
        factor = None
        if unit is not None and role is not None:
            if role == "time":
                factor = time_offset(normalise(unit))
                if factor is not None and not real_offset(factor):
                    factor = None
            else:
                units = options.units(role)
                factor = units.get(normalise(unit)) if units is not None else 1.0
            if factor is None:
                raise ArgumentError(f"mapping[{header!r}]: unknown unit {unit!r} for {role}")
        options.mapping[normalise(header)] = (role, factor)
    return options


def read_usage(
    path: Source,
    *,
    mapping: ColumnMapping | None = None,
    kb: int = 1024,
    cache: bool | str = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Read a detail export workbook (xlsx, or xls) into a tidy usage frame.

    ``path`` is a file path or the file's bytes; its type is told by its first bytes, never its name.
    ``mapping`` names columns the reader does not recognise, merged over its own recognition:
    ``{header text: role}`` or ``{header text: (role, unit)}`` with roles ``time``, ``domain``, ``region``,
    ``traffic``, ``bandwidth``, ``requests`` (``None`` ignores a column), e.g.
    ``{"Flow (GiB)": ("traffic", "GiB")}``. ``kb`` is the size of a KB (1024, Alibaba Cloud's billing
    convention, or 1000). ``cache=True`` keeps parsed frames in memory and on disk (keyed by the file's
    SHA-256), ``"memory"`` in memory only, ``False`` parses every time. ``cache_dir`` is the cache's
    root folder (parsed frames go to ``<cache_dir>/parsed``; default ``$USAGEKIT_CACHE_DIR``, else the
    user cache folder), the same root as :func:`usagekit.fetch`'s ``cache_dir``.

    Columns (sorted by domain, region, metric, start; missing labels first):

    ======  =====================  ===============================================
    domain  category               NA for an export by account (no domain column)
    region  category               as the file writes it; NA when it has none
    metric  category               ``traffic``, ``bandwidth``, ``requests``
    start   datetime64[ns, UTC]    the 5-minute point's start
    end     datetime64[ns, UTC]    ``start`` + 5 minutes
    value   float64                bytes, bit/s or requests
    unit    category               ``byte``, ``bit/s``, ``request``
    ======  =====================  ===============================================

    Raises :class:`~usagekit.errors.FileFormatError` (HTML page, PDF, corrupted file),
    :class:`~usagekit.errors.UnrecognizedLayoutError` (pass ``mapping``) and
    :class:`~usagekit.errors.UnsafeFileError` (zip bomb).

    >>> from usagekit.sandbox.files import write_detail_workbook
    >>> usage = pd.DataFrame({"domain": ["cdn.example.com"], "region": ["Chinese Mainland"],
    ...                       "metric": ["traffic"], "start": [pd.Timestamp("2024-03-01T16:00Z")],
    ...                       "value": [2048.0]})
    >>> data = write_detail_workbook(usage, type="flow", language="zh-cn", by_account=False, title="x")
    >>> read_usage(data, cache=False)[["domain", "metric", "start", "value", "unit"]]
                domain   metric                     start   value  unit
    0  cdn.example.com  traffic 2024-03-01 16:00:00+00:00  2048.0  byte
    """
    if not isinstance(path, str | bytes | os.PathLike) and not hasattr(path, "read"):
        raise ArgumentError(
            f"path must be a file path, the file's bytes or an open binary file, not {type(path).__name__}"
        )
    options = _options(mapping, kb)
    if cache not in (True, False, "memory") or (isinstance(cache, int) and not isinstance(cache, bool)):
        raise ArgumentError(f"cache must be True, 'memory' or False, not {cache!r}")
    try:
        if not cache:
            return parse_workbook(path, options)
        disk = cache is True
        store = memory_cache()
        directory = parsed_dir(cache_dir)
        digest = content_digest(path)
        key = _cache_key(digest, options)
        frame = store.get(key, disk=disk, conform=_conform, directory=directory)
        if frame is None:
            frame = parse_workbook(path, options)
            # a file replaced between hashing and parsing: its parse belongs to other bytes, keep none
            if isinstance(path, bytes | bytearray) or content_digest(path) == digest:
                store.put(key, frame, disk=disk, directory=directory)
        return frame
    except OSError as error:
        raise ReadError(f"cannot be read: {error.strerror or error}", path=source_name(path)) from None


def _conform(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame read back from Parquet with the contract's dtypes (an all-NA label column returns as object)."""
    if list(frame.columns) != ["domain", "region", "metric", "start", "end", "value", "unit"]:
        raise ValueError("not a parsed usage frame")
    for name in ("domain", "region"):
        if not isinstance(frame[name].dtype, pd.CategoricalDtype):
            if frame[name].notna().any():
                raise ValueError(f"cached {name} column is not categorical")
            frame[name] = pd.Categorical.from_codes(np.full(len(frame), -1), categories=[])  # type: ignore[call-overload]  # pandas-stubs: a list
    for name in ("start", "end"):
        if frame[name].dtype != UTC_NS:
            frame[name] = frame[name].astype(UTC_NS)
    return frame


def _cache_key(digest: str, options: Options) -> str:
    mapping = sorted((k, v[0] or "", repr(v[1])) for k, v in options.mapping.items())
    text = f"usage:{READER_VERSION}:{digest}:{options.kb}:{mapping!r}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
