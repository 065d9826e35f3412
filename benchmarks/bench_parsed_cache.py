"""What verifying the parsed-frame cache costs: a verified disk hit against reading the same Parquet file
unchecked, in the same run.

Builds a month-long 40-domain parsed frame (357,120 rows, the size ``bench_parse.py`` reads), keeps it
with ``ParsedCache.put`` (the Parquet file and its SHA-256 record), then times, median of ``--repeat``
each, alternating:

* unchecked: ``pyarrow.parquet.read_table(memory_map=True)`` of the file to pandas, and the copy a hit
  hands out (what a disk hit did before it was verified) - the baseline;
* verified: ``ParsedCache.get`` with the memory cleared, so from disk (the file's bytes read once, their
  size and SHA-256 checked against the record, the same bytes parsed, a copy handed out);
* hash only: reading the bytes and hashing them (the check's floor).

Run: ``python benchmarks/bench_parsed_cache.py`` (``--repeat 15``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from usagekit.readers.cache import ParsedCache

KEY = "b" * 64


def month_frame(rows: int = 31 * 288 * 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    index = np.arange(rows)
    starts = pd.Timestamp("2026-10-01T00:00Z") + pd.to_timedelta(index // 40 * 300, unit="s")
    return pd.DataFrame(
        {
            "domain": pd.Categorical([f"d{i}.example" for i in index % 40]),
            "region": pd.Categorical(["CN"] * rows),
            "metric": pd.Categorical(np.where(index % 2, "traffic", "bandwidth")),
            "start": starts,
            "end": starts + pd.Timedelta("5min"),
            "value": rng.random(rows) * 1e9,
            "unit": pd.Categorical(np.where(index % 2, "byte", "bit/s")),
        }
    )


def timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "parsed"
        cache = ParsedCache(directory=directory)
        cache.put(KEY, month_frame())
        path = directory / f"{KEY}.parquet"
        cases = {
            "unchecked mmap read (baseline)": lambda: pq.read_table(path, memory_map=True).to_pandas().copy(),
            "verified disk hit": lambda: (cache.clear(), cache.get(KEY)),
            "hash only (read + SHA-256)": lambda: hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, run in cases.items():
                times[name].append(timed(run))
        size = path.stat().st_size
    baseline = statistics.median(times["unchecked mmap read (baseline)"])
    print(f"parsed file {size / 2**20:.1f} MiB; load average {os.getloadavg()[0]:.1f}")
    width = max(map(len, cases))
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<{width}}  {median * 1000:8.1f} ms  {median / baseline:5.2f}x")


if __name__ == "__main__":
    main()
