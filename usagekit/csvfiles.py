"""Reading back the CSV files usagekit writes, in one call: the region ``NA`` kept, the dtypes restored.

``NA`` is a billing region (North America), and pandas reads the text ``NA`` as missing by default; usagekit
writes a missing value as an empty cell. :func:`read_csv` takes only empty cells as missing and recognises
what it reads by its columns: a task frame (``tasks.csv``, ``usagekit tasks --format csv``), a tidy usage
frame (``usagekit fetch --format csv``), a price table (``usagekit prices --example``), the billing
comparison (``billing.csv`` of ``usagekit demo``), each with its contract's dtypes; any other CSV (the
``bill``, ``anomalies`` and ``showback`` commands' tables) gets dtypes from its values: whole numbers
``int64`` (``Int64`` with gaps), other numbers ``float64`` (``Float64`` with gaps), ``True``/``False``
``boolean``, ISO 8601 times with an offset or ``Z`` tz-aware UTC, the rest ``string``.

>>> import io
>>> text = "account,region,month,cost,cheapest\\nshop,NA,2026-10,1.5,True\\nshop,CN,2026-10,,\\n"
>>> frame = read_csv(io.StringIO(text))
>>> frame["region"].tolist(), frame.dtypes.astype(str).tolist()
(['NA', 'CN'], ['string', 'string', 'string', 'Float64', 'boolean'])
"""

from __future__ import annotations

import os
import re
from typing import IO, Any

import pandas as pd

from usagekit.errors import ArgumentError, ReadError
from usagekit.frames import TASK_COLUMNS, TIDY_COLUMNS, task_frame, tidy_frame

__all__ = ["csv_kind", "read_csv"]

_SOURCE = ("account", "task_id")
_TIDY_WITHOUT_SOURCE = tuple(c for c in TIDY_COLUMNS if c not in _SOURCE)
_WHOLE = re.compile(r"-?\d+")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)")
_BOOLEANS = {"True": True, "False": False}


def _billing_columns() -> tuple[str, ...]:
    from usagekit.billing import COMPARE_COLUMNS

    return tuple(COMPARE_COLUMNS)


def csv_kind(columns: Any) -> str:
    """Which of usagekit's frames a CSV header names: ``tasks``, ``usage``, ``prices``, ``billing``, else ``other``.

    >>> csv_kind(["method", "region", "tier_from", "tier_to", "unit_price", "currency"])
    'prices'
    >>> csv_kind(["a", "b"])
    'other'
    """
    from usagekit.prices import PRICE_COLUMNS

    names = tuple(columns)
    if names == tuple(TASK_COLUMNS):
        return "tasks"
    if names in (tuple(TIDY_COLUMNS), _TIDY_WITHOUT_SOURCE):
        return "usage"
    if names == tuple(PRICE_COLUMNS):
        return "prices"
    if names == _billing_columns():
        return "billing"
    return "other"


def read_csv(path: str | os.PathLike[str] | IO[str]) -> pd.DataFrame:
    """Read a CSV file usagekit wrote back into the frame it was, with only empty cells as missing.

    A task frame and a tidy usage frame come back with their contracts' columns and dtypes
    (:func:`usagekit.frames.task_frame`, :func:`usagekit.frames.tidy_frame`); a price table as
    :func:`usagekit.prices.read_prices` reads it; ``billing.csv`` with the dtypes of
    :func:`usagekit.compare_billing` (``account``, ``region``, ``method``, ``unit`` category, ``month``
    and ``currency`` string, ``quantity`` float64, ``days``/``points``/``missing_points`` int64, ``cost``
    Float64, ``cheapest`` boolean). Any other CSV: dtypes from its values (see the module). The region
    ``NA`` stays the text ``NA``, never a missing value.

    >>> import io
    >>> text = "start,end,value\\n2026-10-01T16:00:00Z,2026-10-01T16:05:00Z,3\\n"
    >>> read_csv(io.StringIO(text)).dtypes.astype(str).tolist()
    ['datetime64[ns, UTC]', 'datetime64[ns, UTC]', 'int64']
    """
    if isinstance(path, str) and not path.strip():
        raise ArgumentError("path is empty: name the CSV file to read")
    if not isinstance(path, str | os.PathLike) and not callable(getattr(path, "read", None)):
        raise ArgumentError(
            f"path must be a file path (str or os.PathLike) or an open text file, not {type(path).__name__}"
        )
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError as error:
        raise ArgumentError(f"path {os.fspath(path)!r}: no such file") from error  # type: ignore[arg-type]
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ReadError(f"{path!r} is not a CSV file usagekit can read: {error}") from error
    raw = raw.astype(pd.StringDtype())
    kind = csv_kind(raw.columns)
    if kind == "tasks":
        return task_frame(raw)
    if kind == "usage":
        return tidy_frame(raw, with_source="account" in raw.columns)
    if kind == "prices":
        from usagekit.prices import read_prices

        return read_prices(raw)
    if kind == "billing":
        return _billing(raw)
    return pd.DataFrame({name: _typed(raw[name]) for name in raw.columns}, index=raw.index)


def _billing(raw: pd.DataFrame) -> pd.DataFrame:
    from usagekit.billing import METHODS

    frame = raw.astype(
        {
            "quantity": "float64",
            "days": "int64",
            "points": "int64",
            "missing_points": "int64",
            "cost": "Float64",
        }
    )
    for column in ("account", "region"):  # categories of plain text, as compare_billing makes them
        frame[column] = pd.Categorical(raw[column].astype(object).where(raw[column].notna(), None))
    frame["method"] = pd.Categorical(raw["method"].astype(object), categories=list(METHODS))
    units = ["Mbit/s", "Mbit/s-days", "GB", "10k requests"]
    frame["unit"] = pd.Categorical(raw["unit"].astype(object), categories=units)
    frame["cheapest"] = raw["cheapest"].map(_BOOLEANS, na_action="ignore").astype("boolean")
    return frame


def _typed(values: pd.Series) -> Any:
    """A column of text (``string``, NA for empty cells) with the dtype its values show."""
    present = values.dropna()
    if present.empty:
        return values
    gaps = len(present) < len(values)
    if present.isin(list(_BOOLEANS)).all():
        return values.map(_BOOLEANS, na_action="ignore").astype("boolean")
    if present.str.fullmatch(_WHOLE.pattern).all():
        return values.astype("Int64" if gaps else "int64")
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        return values.astype("Float64" if gaps else "float64")
    if present.str.fullmatch(_ISO_TIME.pattern).all():
        return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    return values
