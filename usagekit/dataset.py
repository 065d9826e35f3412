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
skip it).

Nothing stored is used unchecked. The manifest is the authority for each partition file's SHA-256 and
size, recorded as the file is written; files are written with Parquet page checksums. Readers
(:func:`read_dataset`, :func:`read_partition`) check both by default and raise
:class:`~usagekit.errors.CorruptDataError` naming a file that fails. A manifest that was lost is rebuilt
from the footers, but without hashes: such partitions are not trusted until ``usagekit sync`` has
compared them with fresh exports.

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

import hashlib
import json
import os
import secrets
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pandas as pd

from usagekit.errors import ArgumentError, CorruptDataError, ReadError, UsagekitWarning
from usagekit.frames import BEIJING, TIDY_COLUMNS, sort_tidy, tidy_frame
from usagekit.optional import require

__all__ = [
    "MANIFEST_NAME",
    "PART_NAME",
    "UnverifiedPartitionWarning",
    "check_partition",
    "file_digest",
    "partition_dir",
    "read_dataset",
    "read_manifest",
    "read_partition",
    "to_dataset",
    "write_manifest",
    "write_partition",
]

PARTITIONS = ("account", "month")


class UnverifiedPartitionWarning(UsagekitWarning):
    """A partition file read without a recorded SHA-256 to check it against (the manifest lost it)."""


#: the one data file of each partition
PART_NAME = "part-0.parquet"
#: the dataset's provenance index (its ``_`` prefix makes Parquet readers skip it)
MANIFEST_NAME = "_manifest.json"
#: the footer key that holds a partition's provenance (JSON)
PROVENANCE_KEY = b"usagekit.provenance"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_MANIFEST_VERSION = 2  # 2: each entry records its file's sha256 and size
_MANIFEST_LOCK = threading.Lock()  # one read-modify-write of _manifest.json at a time in a process


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

    The rows are written (with page checksums) to a hidden file in the partition's folder, flushed to
    disk, then moved over ``part-0.parquet`` with one ``os.replace``. ``provenance`` (plain JSON-able
    values) is stored in the file's footer, so it changes together with the data. The file's SHA-256
    and size are recorded in ``_manifest.json`` (the authority every reader checks the file against):
    the new entry goes in beside the one it replaces before the move and alone after it, so a process
    killed at any point leaves a file that matches one recorded entry. The caller makes sure every row
    belongs to this account and Beijing month.
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
    sink = pa.BufferOutputStream()
    pa.parquet.write_table(table, sink, row_group_size=1 << 20, write_page_checksum=True)
    data = sink.getvalue()
    final = folder / PART_NAME
    entry = {
        "account": NULL_PARTITION if account is None else account,
        "month": month,
        "file": final.relative_to(Path(root)).as_posix(),
        "rows": table.num_rows,
        "provenance": None if provenance is None else json.loads(metadata[PROVENANCE_KEY]),  # type: ignore[index]
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": data.size,
    }
    temporary = folder / f".{PART_NAME}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(memoryview(data))
            handle.flush()
            os.fsync(handle.fileno())
        _record(root, entry, replacing=True)
        os.replace(temporary, final)
        _record(root, entry, replacing=False)
    finally:
        temporary.unlink(missing_ok=True)
    _remove_leftovers(folder)
    return final


def _record(root: str | os.PathLike[str], entry: dict[str, Any], *, replacing: bool) -> None:
    """Put ``entry`` into the manifest; while ``replacing``, the entry it replaces stays as ``previous``."""
    key = f"{entry['account']}/{entry['month']}"
    with _MANIFEST_LOCK:
        manifest = _load_manifest(Path(root))
        old = manifest["partitions"].get(key)
        new = dict(entry)
        if replacing and old and old.get("sha256"):
            new["previous"] = {k: v for k, v in old.items() if k != "previous"}
        manifest["partitions"][key] = new
        manifest["version"] = _MANIFEST_VERSION
        write_manifest(root, manifest)


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


def _folder(path: object) -> None:
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise ArgumentError(f"path must be a folder path, not {path!r:.40}")


def to_dataset(frame: pd.DataFrame, path: str | os.PathLike[str]) -> list[Path]:
    """Write a tidy frame as a hive-partitioned Parquet dataset under ``path``; returns the files written.

    Partitions are ``account=<name>/month=<YYYY-MM>`` (Beijing month of ``start``). A partition this
    call writes is replaced whole and atomically (see :func:`write_partition`, which also records its
    file's SHA-256 and size in the manifest): write whole months, or the whole frame again, to update
    one. Partitions it does not write are left alone. Rows without an ``account`` go to the null
    partition (``account=__HIVE_DEFAULT_PARTITION__``). An empty frame writes no partition but makes
    the folder, so :func:`read_dataset` reads it back as an empty frame.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     to_dataset(tidy_frame({}), folder), len(read_dataset(folder))
    ([], 0)
    """
    missing = (
        {"metric", "start", "end", "value", "unit"} - set(frame.columns)
        if isinstance(frame, pd.DataFrame)
        else None
    )
    if missing is None or missing:
        raise ArgumentError(
            f"frame must be a tidy usage frame (usagekit.usage()), not {type(frame).__name__}"
            + (f" lacking {sorted(missing)}" if missing else "")
        )
    _folder(path)
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


# --- verification --------------------------------------------------------------------------------


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The SHA-256 (hex) and size in bytes of the file at ``path``."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


def check_partition(root: str | os.PathLike[str], entry: Mapping[str, Any] | None) -> str | None:
    """Why the partition file of manifest ``entry`` cannot be trusted, or ``None`` when it can.

    The file must exist and have the size and SHA-256 the manifest recorded when it was written. A
    partition the manifest holds no hash for (the manifest was lost, or written by an older usagekit)
    is not trusted: its reason says so.

    >>> check_partition(".", None)
    'the manifest records no SHA-256 for it'
    """
    if not entry or not entry.get("sha256"):
        return "the manifest records no SHA-256 for it"
    file = Path(root) / entry["file"]
    try:
        digest, size = file_digest(file)
    except FileNotFoundError:
        return "its file is missing"
    except OSError as error:
        return f"its file cannot be read ({error.strerror or error})"
    if size != entry.get("size"):
        return f"its file has {size:,} bytes, not the {entry.get('size'):,} recorded"
    if digest != entry["sha256"]:
        return f"its file's SHA-256 {digest[:12]}… is not the recorded {entry['sha256'][:12]}…"
    return None


def _corrupt(file: Path, reason: str) -> CorruptDataError:
    return CorruptDataError(
        f"{reason}: this partition cannot be trusted; usagekit sync rewrites it from fresh exports "
        "(or write the data again with to_dataset); verify=False reads it unchecked",
        path=str(file),
    )


def _read_file(pa: Any, file: Path, **options: Any) -> Any:
    try:
        return pa.parquet.read_table(file, page_checksum_verification=True, **options)
    except (pa.ArrowInvalid, OSError) as error:
        raise _corrupt(file, f"not a readable Parquet file ({error})") from error


def read_dataset(
    path: str | os.PathLike[str], filters: Sequence[Any] | Any | None = None, *, verify: bool = True
) -> pd.DataFrame:
    """Read a dataset written by :func:`to_dataset` back into a tidy frame with the contract's dtypes.

    ``filters`` are pyarrow's (``[("account", "=", "shop"), ("month", ">=", "2026-10")]``, or a
    ``pyarrow.compute`` expression); ``month`` may be filtered on though it is not returned. Columns:
    ``account`` (category), ``task_id`` (string), ``domain``, ``region`` (category), ``metric``
    (category), ``start``, ``end`` (datetime64[ns, UTC]), ``value`` (float64), ``unit`` (category), in
    :func:`usagekit.frames.sort_tidy` order.

    With ``verify`` (the default) each file read is first checked against the SHA-256 and size the
    manifest recorded when it was written, and its pages against their checksums: a file that fails
    raises :class:`~usagekit.errors.CorruptDataError` naming it (``usagekit sync`` repairs it). A file
    the manifest holds no hash for is read with a warning. ``verify=False`` skips the checks (faster,
    and reads a damaged file as it is, or fails on it with a plain ``ReadError``).
    """
    _folder(path)
    if not isinstance(verify, bool):
        raise ArgumentError(f"verify must be True or False, not {verify!r}")
    pa = _pyarrow()
    root = Path(path)
    if not root.is_dir():
        raise ReadError(
            "no Parquet dataset here: write one with usagekit.to_dataset(frame, path)", path=str(root)
        )
    scan = pa.dataset.ParquetFragmentScanOptions(page_checksum_verification=verify)
    try:
        expression = filters
        if isinstance(filters, list | tuple):
            expression = pa.parquet.filters_to_expression(filters) if filters else None
        dataset = pa.dataset.dataset(
            root,
            format=pa.dataset.ParquetFileFormat(default_fragment_scan_options=scan),
            partitioning=_partitioning(pa),
        )
        if verify:
            _verify_files(root, [Path(f.path) for f in dataset.get_fragments(filter=expression)])
        table = dataset.to_table(filter=expression)
    except (pa.ArrowInvalid, OSError) as error:
        if verify:
            raise CorruptDataError(
                f"not a readable Parquet dataset ({error}): a file in it is damaged; usagekit sync "
                "rewrites damaged partitions from fresh exports",
                path=str(root),
            ) from error
        raise ReadError(f"not a readable Parquet dataset: {error}", path=str(root)) from error
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    if frame.empty:
        return tidy_frame({})
    columns = {name: frame[name] for name in TIDY_COLUMNS if name in frame}
    return sort_tidy(tidy_frame(pd.DataFrame(columns)))


def _verify_files(root: Path, files: list[Path]) -> None:
    """Check each file against its manifest entry: raise on the first bad one, warn for unhashed ones."""
    entries = {e["file"]: e for e in _recorded(root).values()}
    unhashed = []
    for file in sorted(files):
        relative = file.resolve().relative_to(root.resolve()).as_posix()
        entry = entries.get(relative)
        if entry is None or not entry.get("sha256"):
            unhashed.append(relative)
            continue
        problem = check_partition(root, entry)
        if problem is not None:
            raise _corrupt(file, problem)
    if unhashed:
        shown = ", ".join(unhashed[:3]) + (f" and {len(unhashed) - 3} more" if len(unhashed) > 3 else "")
        warnings.warn(
            f"{len(unhashed)} partition file(s) of {str(root)!r} have no SHA-256 in the manifest, so only "
            f"their page checksums could be checked ({shown}); usagekit sync compares them with fresh "
            "exports and records their hashes",
            UnverifiedPartitionWarning,
            stacklevel=3,
        )


def read_partition(
    root: str | os.PathLike[str], account: str, month: str, *, verify: bool = True
) -> pd.DataFrame:
    """The rows of one partition as a tidy frame (empty when the partition is not there).

    With ``verify`` the file must match the SHA-256 and size the manifest recorded and its page
    checksums, else :class:`~usagekit.errors.CorruptDataError` (naming the file) is raised.
    """
    pa = _pyarrow()
    file = partition_dir(root, account, month) / PART_NAME
    if not file.is_file():
        return tidy_frame({})
    if verify:
        entry = _recorded(root).get(f"{account}/{month}")
        problem = check_partition(root, entry)
        if problem is not None:
            raise _corrupt(file, problem)
        table = _read_file(pa, file)
    else:
        try:
            table = pa.parquet.read_table(file)
        except (pa.ArrowInvalid, OSError) as error:
            raise ReadError(f"not a readable Parquet file: {error}", path=str(file)) from error
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    if frame.empty:
        return tidy_frame({})
    frame.insert(0, "account", account)
    return sort_tidy(tidy_frame(frame[[c for c in TIDY_COLUMNS if c in frame]]))


# --- the manifest --------------------------------------------------------------------------------


def _footer(pa: Any, file: Path) -> tuple[int | None, dict[str, Any] | None]:
    """The row count and provenance a file's footer holds (``None`` for what cannot be read)."""
    try:
        metadata = pa.parquet.read_metadata(file)
    except (pa.ArrowInvalid, OSError):
        return None, None
    text = (metadata.metadata or {}).get(PROVENANCE_KEY)
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    return metadata.num_rows, value if isinstance(value, dict) else None


def _load_manifest(base: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((base / MANIFEST_NAME).read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and isinstance(loaded.get("partitions"), dict):
            return loaded
    except (OSError, ValueError):
        pass
    return {"version": _MANIFEST_VERSION, "partitions": {}}


def _settled(base: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """An entry left mid-replacement (``previous``) settled to the recorded one its file matches."""
    previous = entry.get("previous")
    if not previous:
        return entry
    settled = {k: v for k, v in entry.items() if k != "previous"}
    try:
        digest, size = file_digest(base / entry["file"])
    except OSError:
        return settled
    if (digest, size) == (previous.get("sha256"), previous.get("size")):
        return dict(previous)  # killed before the move: the old file is still in place
    return settled  # moved, or neither: then the new entry is what it is checked against


def _recorded(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest's entries as stored, each settled to the file it records: read only, never written."""
    base = Path(root)
    stored = read_manifest(base, refresh=False)["partitions"]
    return {k: _settled(base, e) for k, e in stored.items() if isinstance(e, dict) and e.get("file")}


def read_manifest(root: str | os.PathLike[str], *, refresh: bool = True) -> dict[str, Any]:
    """The dataset's index: ``{"version": 2, "partitions": {"<account>/<month>": {...}}}``.

    Each partition entry holds ``account``, ``month``, ``file`` (relative path), ``rows``, the
    provenance stored with its data (``None`` for a partition written without one, e.g. by
    :func:`to_dataset`), and the ``sha256`` and ``size`` of its file as written: the authority
    every reader checks the file against. With ``refresh`` the folder is scanned and ``_manifest.json``
    rewritten when it disagrees: entries of files that are gone are dropped; a file the manifest does
    not know (it was lost) gets an entry from its footer with ``sha256`` ``None`` (not trusted until
    compared with fresh exports); a recorded hash is never replaced by one computed from the file.
    Without ``refresh`` the index file is read as it is (``{"partitions": {}}`` when there is none).
    """
    base = Path(root)
    with _MANIFEST_LOCK:
        stored = _load_manifest(base)
        if not refresh:
            return stored
        pa = _pyarrow()
        known = stored["partitions"]
        partitions: dict[str, Any] = {}
        for file in sorted(base.glob(f"account=*/month=*/{PART_NAME}")):
            account = unquote(file.parent.parent.name.split("=", 1)[1])
            month = unquote(file.parent.name.split("=", 1)[1])
            key, relative = f"{account}/{month}", file.relative_to(base).as_posix()
            entry = known.get(key)
            if isinstance(entry, dict) and entry.get("sha256") and entry.get("file") == relative:
                partitions[key] = _settled(base, entry)
                continue
            rows, provenance = _footer(pa, file)
            partitions[key] = {
                "account": account,
                "month": month,
                "file": relative,
                "rows": rows,
                "provenance": provenance,
                "sha256": None,
                "size": None,
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
        temporary.write_text(json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n", "utf-8")
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return final
