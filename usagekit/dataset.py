"""Tidy usage kept on disk: a hive-partitioned Parquet dataset, ``account=…/month=YYYY-MM``.

The layout is the plain hive convention, so DuckDB (``read_parquet('path/**/*.parquet',
hive_partitioning=true)``), Spark, Dask or Trino read it as it is. ``month`` is the Beijing (UTC+8) month
of ``start``, the month the service bills in. Times are stored as microseconds in UTC (Spark does not
read nanosecond Parquet timestamps; 5-minute points lose nothing). Partition values are URI-encoded by
pyarrow (an account named ``prod (credentials file)`` becomes ``account=prod%20%28credentials%20file%29``).

>>> import tempfile, pandas as pd
>>> from usagekit.frames import tidy_frame
>>> frame = tidy_frame({"account": ["shop"], "task_id": ["7"], "domain": ["img.shop.example"],
...                     "metric": ["traffic"], "start": ["2026-10-31T16:00:00Z"],
...                     "end": ["2026-10-31T16:05:00Z"], "value": [750.0], "unit": ["byte"]})
>>> with tempfile.TemporaryDirectory() as folder:
...     written = to_dataset(frame, folder)
...     back = read_dataset(folder)
>>> [p.parent.name for p in written]
['month=2026-11']
>>> back.equals(frame)
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from usagekit.errors import ReadError
from usagekit.frames import BEIJING, TIDY_COLUMNS, sort_tidy, tidy_frame
from usagekit.optional import require

__all__ = ["read_dataset", "to_dataset"]

PARTITIONS = ("account", "month")


def _pyarrow() -> Any:
    for module in ("pyarrow", "pyarrow.dataset", "pyarrow.parquet"):
        require(module, extra="parquet", purpose="Parquet datasets")
    import pyarrow

    return pyarrow


def _partitioning(pa: Any) -> Any:
    schema = pa.schema([(name, pa.string()) for name in PARTITIONS])
    return pa.dataset.partitioning(schema, flavor="hive")


def to_dataset(frame: pd.DataFrame, path: str | os.PathLike[str]) -> list[Path]:
    """Write a tidy frame as a hive-partitioned Parquet dataset under ``path``; returns the files written.

    Partitions are ``account=<name>/month=<YYYY-MM>`` (Beijing month of ``start``). A partition this
    call writes is replaced whole (``existing_data_behavior="delete_matching"``): write whole months, or
    the whole frame again, to update one. Partitions it does not write are left alone. Rows without an
    ``account`` go to pyarrow's null partition (``account=__HIVE_DEFAULT_PARTITION__``).

    >>> to_dataset(tidy_frame({}), "unused-when-empty")
    []
    """
    pa = _pyarrow()
    frame = tidy_frame(frame)
    if frame.empty:
        return []
    table_frame = frame.assign(
        account=frame["account"].astype("string"),
        month=frame["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m").astype("string"),
    )
    schema = pa.schema(
        [
            ("task_id", pa.string()),
            ("domain", pa.dictionary(pa.int32(), pa.string())),
            ("region", pa.dictionary(pa.int32(), pa.string())),
            ("metric", pa.dictionary(pa.int32(), pa.string())),
            ("start", pa.timestamp("us", tz="UTC")),
            ("end", pa.timestamp("us", tz="UTC")),
            ("value", pa.float64()),
            ("unit", pa.dictionary(pa.int32(), pa.string())),
            ("account", pa.string()),
            ("month", pa.string()),
        ]
    )
    columns = [field.name for field in schema]
    table = pa.Table.from_pandas(table_frame[columns], schema=schema, preserve_index=False)
    table = table.replace_schema_metadata(None)  # the contract's dtypes come back from tidy_frame, not here
    written: list[str] = []
    pa.dataset.write_dataset(
        table,
        os.fspath(path),
        format="parquet",
        partitioning=_partitioning(pa),
        existing_data_behavior="delete_matching",
        basename_template="part-{i}.parquet",
        file_visitor=lambda written_file: written.append(written_file.path),
        max_rows_per_group=1 << 20,
    )
    return sorted(Path(p) for p in written)


def read_dataset(path: str | os.PathLike[str], filters: Sequence[Any] | Any | None = None) -> pd.DataFrame:
    """Read a dataset written by :func:`to_dataset` back into a tidy frame with the contract's dtypes.

    ``filters`` are pyarrow's (``[("account", "=", "shop"), ("month", ">=", "2026-10")]``, or a
    ``pyarrow.compute`` expression); ``month`` may be filtered on though it is not returned. Columns:
    ``account`` (category), ``task_id`` (string), ``domain``, ``region`` (category), ``metric``
    (category), ``start``, ``end`` (datetime64[ns, UTC]), ``value`` (float64), ``unit`` (category), in
    :func:`usagekit.frames.sort_tidy` order.
    """
    pa = _pyarrow()
    root = Path(path)
    if not root.is_dir():
        raise ReadError(
            "no Parquet dataset here: write one with usagekit.to_dataset(frame, path)", path=str(root)
        )
    try:
        table = pa.parquet.read_table(root, partitioning=_partitioning(pa), filters=filters)
    except (pa.ArrowInvalid, OSError) as error:
        raise ReadError(f"not a readable Parquet dataset: {error}", path=str(root)) from error
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    if frame.empty:
        return tidy_frame({})
    columns = {name: frame[name] for name in TIDY_COLUMNS if name in frame}
    return sort_tidy(tidy_frame(pd.DataFrame(columns)))
