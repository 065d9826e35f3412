"""Tidy usage kept on disk: a hive-partitioned Parquet dataset, ``account=…/month=YYYY-MM``.

The layout is the plain hive convention, so DuckDB (``read_parquet('path/**/*.parquet',
hive_partitioning=true)``), Spark, Dask or Trino read it as it is. ``month`` is the Beijing (UTC+8) month
of ``start``, the month the service bills in. Times are stored as microseconds in UTC (Spark does not
read nanosecond Parquet timestamps; 5-minute points lose nothing). Partition values are URI-encoded as
pyarrow does (an account named ``prod (credentials file)`` becomes
``account=prod%20%28credentials%20file%29``).

Each partition is one file, ``part-0.parquet``, replaced atomically: the new file is written beside it
under a hidden name, then moved over it with one ``os.replace``, so a reader (or a process killed
mid-write) sees the partition either as it was or wholly new. A partition may carry its provenance
(which exports its rows came from) in the file's own footer, so data and provenance change together;
``_manifest.json`` at the dataset's root indexes them (its ``_`` prefix makes pyarrow, DuckDB and Spark
skip it) and is rebuilt from the footers whenever they disagree.

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

import json
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pandas as pd

from usagekit.errors import ReadError
from usagekit.frames import BEIJING, TIDY_COLUMNS, sort_tidy, tidy_frame
from usagekit.optional import require

__all__ = [
    "MANIFEST_NAME",
    "PART_NAME",
    "partition_dir",
    "read_dataset",
    "read_manifest",
    "read_partition",
    "to_dataset",
    "write_partition",
]

PARTITIONS = ("account", "month")
#: the one data file of each partition
PART_NAME = "part-0.parquet"
#: the dataset's provenance index (its ``_`` prefix makes Parquet readers skip it)
MANIFEST_NAME = "_manifest.json"
#: the footer key that holds a partition's provenance (JSON)
PROVENANCE_KEY = b"usagekit.provenance"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_MANIFEST_VERSION = 1


def _pyarrow() -> Any:
    for module in ("pyarrow", "pyarrow.dataset", "pyarrow.parquet"):
        require(module, extra="parquet", purpose="Parquet datasets")
    import pyarrow

    return pyarrow


def _partitioning(pa: Any) -> Any:
    schema = pa.schema([(name, pa.string()) for name in PARTITIONS])
    return pa.dataset.partitioning(schema, flavor="hive")


def _schema(pa: Any) -> Any:
    return pa.schema(
        [
            ("task_id", pa.string()),
            ("domain", pa.dictionary(pa.int32(), pa.string())),
            ("region", pa.dictionary(pa.int32(), pa.string())),
            ("metric", pa.dictionary(pa.int32(), pa.string())),
            ("start", pa.timestamp("us", tz="UTC")),
            ("end", pa.timestamp("us", tz="UTC")),
            ("value", pa.float64()),
            ("unit", pa.dictionary(pa.int32(), pa.string())),
        ]
    )


def partition_dir(root: str | os.PathLike[str], account: str | None, month: str) -> Path:
    """The folder of partition ``account``/``month`` under ``root``, names URI-encoded as pyarrow does.

    >>> partition_dir("usage", "prod (credentials file)", "2026-11").as_posix()
    'usage/account=prod%20%28credentials%20file%29/month=2026-11'
    """
    name = NULL_PARTITION if account is None else quote(account, safe="")
    return Path(root) / f"account={name}" / f"month={quote(month, safe='')}"


def write_partition(
    frame: pd.DataFrame,
    root: str | os.PathLike[str],
    account: str | None,
    month: str,
    *,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Replace partition ``account``/``month`` with the rows of ``frame``, atomically; returns its file.

    The rows are written to a hidden file in the partition's folder, flushed to disk, then moved over
    ``part-0.parquet`` with one ``os.replace``. ``provenance`` (plain JSON-able values) is stored in
    the file's footer, so it changes together with the data. The caller makes sure every row belongs
    to this account and Beijing month.
    """
    pa = _pyarrow()
    frame = tidy_frame(frame)
    folder = partition_dir(root, account, month)
    folder.mkdir(parents=True, exist_ok=True)
    schema = _schema(pa)
    table = pa.Table.from_pandas(frame[[f.name for f in schema]], schema=schema, preserve_index=False)
    metadata = None
    if provenance is not None:
        metadata = {PROVENANCE_KEY: json.dumps(provenance, sort_keys=True).encode("utf-8")}
    table = table.replace_schema_metadata(metadata)  # the contract's dtypes come back from tidy_frame
    final = folder / PART_NAME
    temporary = folder / f".{PART_NAME}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        pa.parquet.write_table(table, temporary, row_group_size=1 << 20)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    _remove_leftovers(folder)
    return final


def _remove_leftovers(folder: Path) -> None:
    """Data files of an older layout, and hidden files of writers killed more than an hour ago."""
    stale = time.time() - 3600
    for other in folder.iterdir():
        if other.name == PART_NAME:
            continue
        older_layout = other.suffix == ".parquet" and not other.name.startswith((".", "_"))
        abandoned = other.name.startswith(f".{PART_NAME}.") and other.stat().st_mtime < stale
        if older_layout or abandoned:
            other.unlink(missing_ok=True)


def to_dataset(frame: pd.DataFrame, path: str | os.PathLike[str]) -> list[Path]:
    """Write a tidy frame as a hive-partitioned Parquet dataset under ``path``; returns the files written.

    Partitions are ``account=<name>/month=<YYYY-MM>`` (Beijing month of ``start``). A partition this
    call writes is replaced whole and atomically (see :func:`write_partition`): write whole months, or
    the whole frame again, to update one. Partitions it does not write are left alone. Rows without an
    ``account`` go to the null partition (``account=__HIVE_DEFAULT_PARTITION__``). An empty frame
    writes no partition but makes the folder, so :func:`read_dataset` reads it back as an empty frame.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     to_dataset(tidy_frame({}), folder), len(read_dataset(folder))
    ([], 0)
    """
    _pyarrow()
    frame = tidy_frame(frame)
    Path(path).mkdir(parents=True, exist_ok=True)
    if frame.empty:
        return []
    months = frame["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m")
    accounts = frame["account"].astype("object")
    keys = pd.DataFrame({"account": accounts.where(accounts.notna(), NULL_PARTITION), "month": months})
    written = []
    for (account, month), rows in frame.groupby([keys["account"], keys["month"]], sort=True):
        name = None if account == NULL_PARTITION else str(account)
        written.append(write_partition(rows, path, name, str(month)))
    return sorted(written)


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


def read_partition(root: str | os.PathLike[str], account: str, month: str) -> pd.DataFrame:
    """The rows of one partition as a tidy frame (empty when the partition is not there)."""
    pa = _pyarrow()
    file = partition_dir(root, account, month) / PART_NAME
    if not file.is_file():
        return tidy_frame({})
    try:
        table = pa.parquet.read_table(file)
    except (pa.ArrowInvalid, OSError) as error:
        raise ReadError(f"not a readable Parquet file: {error}", path=str(file)) from error
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    if frame.empty:
        return tidy_frame({})
    frame.insert(0, "account", account)
    return sort_tidy(tidy_frame(frame[[c for c in TIDY_COLUMNS if c in frame]]))


def _footer_provenance(pa: Any, file: Path) -> dict[str, Any] | None:
    try:
        metadata = pa.parquet.read_schema(file).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    text = metadata.get(PROVENANCE_KEY)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_manifest(root: str | os.PathLike[str], *, refresh: bool = True) -> dict[str, Any]:
    """The dataset's provenance: ``{"version": 1, "partitions": {"<account>/<month>": {...}}}``.

    Each partition entry holds ``account``, ``month``, ``file`` (relative path), ``rows`` and the
    provenance stored with its data (``None`` for a partition written without one, e.g. by
    :func:`to_dataset`). With ``refresh`` the footers are read (they are the authority) and
    ``_manifest.json`` is rewritten when it disagrees with them; without, the index file is read as
    it is (``{"partitions": {}}`` when there is none).
    """
    base = Path(root)
    index = base / MANIFEST_NAME
    stored: dict[str, Any] = {"version": _MANIFEST_VERSION, "partitions": {}}
    try:
        loaded = json.loads(index.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and isinstance(loaded.get("partitions"), dict):
            stored = loaded
    except (OSError, ValueError):
        pass
    if not refresh:
        return stored
    pa = _pyarrow()
    partitions: dict[str, Any] = {}
    for file in sorted(base.glob(f"account=*/month=*/{PART_NAME}")):
        account = unquote(file.parent.parent.name.split("=", 1)[1])
        month = unquote(file.parent.name.split("=", 1)[1])
        try:
            rows = pa.parquet.read_metadata(file).num_rows
        except (pa.ArrowInvalid, OSError):
            continue
        partitions[f"{account}/{month}"] = {
            "account": account,
            "month": month,
            "file": file.relative_to(base).as_posix(),
            "rows": rows,
            "provenance": _footer_provenance(pa, file),
        }
    current = {"version": _MANIFEST_VERSION, "partitions": partitions}
    if current != stored and base.is_dir():
        write_manifest(base, current)
    return current


def write_manifest(root: str | os.PathLike[str], manifest: Mapping[str, Any]) -> Path:
    """Write ``_manifest.json`` under ``root`` atomically (a hidden file, then ``os.replace``)."""
    final = Path(root) / MANIFEST_NAME
    temporary = final.with_name(f".{MANIFEST_NAME}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return final
