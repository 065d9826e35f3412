"""How fast and lean ``read_usage`` is on a month-long detail export, against pandas' own readers.

Builds a 31-day, 40-domain, 1-region flow workbook (31 * 288 * 40 = 357,120 rows) with the sandbox's
writer from a deterministic numpy generator, reads the file once so the OS cache holds it for every
reader, then runs each reader in its own fresh subprocess (so that its VmHWM is that reader's peak
memory), each timed best of ``--repeat`` on the same file, imports not timed, and prints one table:

* ``fastexcel`` alone (the floor: the engine's own read of the same header row, typed columns);
* the guard alone (``check_zip`` and ``scan_workbook``: what ``read_usage`` does before the engine);
* ``read_usage`` (no cache; the zip check and the streamed cell-reference guard included) vs a bare
  ``pandas.read_excel(engine="calamine", header=2)``, which parses the same header row the reader finds:
  targets <= 0.5x time (goal 0.4x) and <= 0.7x peak memory;
* ``pandas.read_excel(engine="openpyxl")`` (slow: run once; ``--skip-openpyxl`` leaves it out);
* a cached re-read (memory LRU, and the Parquet disk cache in a fresh process) vs a fresh parse:
  target >= 50x faster.

``--usage-workers`` instead times ``usage()`` over the demo's detail exports (sandbox seed 0,
now 2026-11-20T08:00:00Z, files downloaded first, parsed-frame cache emptied) with 1 and 2 worker
threads, each in a fresh process, and prints the ratio.

Run: ``python benchmarks/bench_parse.py`` (``--days``/``--domains`` to change the size, ``--repeat`` for
best-of-N timings of the fast readers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CASES = (
    "build",
    "baseline",
    "fastexcel",
    "guard",
    "calamine",
    "read_usage",
    "openpyxl",
    "cached_memory",
    "cached_disk",
    "usage_1",
    "usage_2",
)
#: the row of the header in the benchmark workbook (0-based: title, blank, header), as read_usage finds it
HEADER_ROW = 2
USAGE_NOW = "2026-11-20T08:00:00Z"


def build_usage(days: int, domains: int, seed: int = 0) -> pd.DataFrame:
    """A tidy flow frame: traffic and bandwidth per 5-minute point per domain, whole numbers."""
    from usagekit.frames import tidy_frame

    rng = np.random.default_rng(seed)
    starts = pd.date_range("2024-02-29T16:00Z", periods=days * 288, freq="5min")
    names = [f"d{i:02d}.bench.example.com" for i in range(domains)]
    n = len(starts) * domains
    start = np.repeat(starts.to_numpy(), domains)
    domain = np.tile(np.arange(domains), len(starts))
    daily = 1 + 0.8 * np.sin(np.arange(n) // domains * 2 * np.pi / 288)  # a daily wave
    traffic = np.floor(rng.gamma(2.0, 5e7, n) * daily)
    bandwidth = np.floor(traffic * 8 / 300)
    frame = pd.DataFrame(
        {
            "domain": pd.Categorical.from_codes(np.concatenate([domain, domain]), categories=names),
            "region": "CN",
            "metric": np.repeat(["traffic", "bandwidth"], n),
            "start": np.concatenate([start, start]),
            "value": np.concatenate([traffic, bandwidth]),
        }
    )
    frame["end"] = frame["start"] + pd.Timedelta(minutes=5)
    frame["unit"] = frame["metric"].map({"traffic": "byte", "bandwidth": "bit/s"})
    return tidy_frame(frame, with_source=False)


def build(path: str, days: int, domains: int) -> dict[str, Any]:
    """Write the benchmark's workbook to ``path`` (in a child: the parent's peak RSS stays small, and
    Linux carries a parent's ``ru_maxrss`` into the children it starts)."""
    from usagekit.sandbox.files import write_detail_workbook

    usage = build_usage(days, domains)
    t = time.perf_counter()
    data = write_detail_workbook(usage, type="flow", language="zh-cn", by_account=False, title="bench")
    seconds = time.perf_counter() - t
    Path(path).write_bytes(data)
    return {"case": "build", "seconds": seconds, "rows": len(usage) // 2, "bytes": len(data)}


def _own_peak_kib() -> float:
    """This process image's own peak RSS (VmHWM); ``ru_maxrss`` would start at the parent's peak, which
    Linux carries across fork and exec."""
    try:
        with open("/proc/self/status") as status:
            return float(next(line for line in status if line.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):  # not Linux: ru_maxrss, KiB on Linux, bytes on macOS
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(case: str, path: str, repeat: int) -> dict[str, Any]:
    """Run one case in this (fresh) process: best time and this process's peak RSS."""
    import fastexcel
    import pyarrow  # imports are not timed
    import python_calamine  # noqa: F401

    from usagekit.readers import clear_cache, read_usage

    timings: list[float] = []
    extra: dict[str, Any] = {}
    if case == "baseline":
        timings.append(0.0)
    elif case in ("usage_1", "usage_2"):
        timings, extra = usage_case(path, int(case[-1]), repeat)
    elif case == "fastexcel":
        for _ in range(repeat):
            t = time.perf_counter()
            batch = fastexcel.read_excel(path).load_sheet(0, header_row=HEADER_ROW).to_arrow()
            timings.append(time.perf_counter() - t)
            extra["rows"] = batch.num_rows
            del batch
    elif case == "guard":  # the part of read_usage that reads the sheet's XML before the engine does
        from usagekit.readers.detect import check_zip
        from usagekit.readers.guard import scan_workbook

        for _ in range(repeat):
            t = time.perf_counter()
            data = Path(path).read_bytes()
            check_zip(data, name=path)
            scan_workbook(data, path)
            timings.append(time.perf_counter() - t)
    elif case == "calamine":
        for _ in range(repeat):
            t = time.perf_counter()
            frame = pd.read_excel(path, engine="calamine", header=HEADER_ROW)
            timings.append(time.perf_counter() - t)
            extra["rows"] = len(frame)
            del frame
    elif case == "read_usage":
        for _ in range(repeat):
            t = time.perf_counter()
            frame = read_usage(path, cache=False)
            timings.append(time.perf_counter() - t)
            extra["rows"] = len(frame)
            del frame
    elif case == "openpyxl":
        t = time.perf_counter()
        frame = pd.read_excel(path, engine="openpyxl", header=HEADER_ROW)
        timings.append(time.perf_counter() - t)
        extra["rows"] = len(frame)
    elif case == "cached_memory":
        t = time.perf_counter()
        read_usage(path, cache="memory")
        extra["first"] = time.perf_counter() - t
        for _ in range(max(repeat, 3)):
            t = time.perf_counter()
            read_usage(path, cache="memory")
            timings.append(time.perf_counter() - t)
    elif case == "cached_disk":  # the Parquet file was written by a previous process (see main)
        import pyarrow.parquet  # noqa: F401  (imports are not timed, as calamine's are not above)

        for _ in range(repeat):
            clear_cache()  # each read goes to the Parquet file, as in a new process
            t = time.perf_counter()
            frame = read_usage(path)
            timings.append(time.perf_counter() - t)
            extra["rows"] = len(frame)
            del frame
    peak_kib = _own_peak_kib()
    return {"case": case, "seconds": min(timings), "peak_mib": peak_kib / 1024, **extra}


def prepare_usage(folder: str) -> None:
    """Download the demo's detail exports into ``folder`` (the download cache), as the demo would."""
    import warnings

    from usagekit import list_tasks
    from usagekit.sandbox import Sandbox
    from usagekit.tidy import usage

    with Sandbox(seed=0, now=USAGE_NOW, clock="frozen") as box:
        tasks = list_tasks(box.accounts)
        details = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            usage(details, accounts=box.accounts, cache_dir=folder, progress=False)


def usage_case(folder: str, workers: int, repeat: int) -> tuple[list[float], dict[str, Any]]:
    """usage() over the demo's detail exports on ``workers`` threads, files from the download cache."""
    import shutil
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from usagekit import list_tasks
    from usagekit.readers import clear_cache
    from usagekit.sandbox import Sandbox
    from usagekit.tidy import usage

    timings = []
    with Sandbox(seed=0, now=USAGE_NOW, clock="frozen") as box:
        tasks = list_tasks(box.accounts)
        details = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")]
        for _ in range(repeat):
            shutil.rmtree(Path(folder) / "parsed", ignore_errors=True)  # parse every file again
            clear_cache()
            with ThreadPoolExecutor(workers) as pool, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                frame = usage(details, accounts=box.accounts, executor=pool, cache_dir=folder, progress=False)
                timings.append(time.perf_counter() - t)
    return timings, {"rows": len(frame), "files": len(details)}


def run_child(case: str, path: Path, repeat: int, env: dict[str, str], *extra: str) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        case,
        "--path",
        str(path),
        "--repeat",
        str(repeat),
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--domains", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-openpyxl", action="store_true")
    parser.add_argument("--usage-workers", action="store_true", help="time usage() on 1 and 2 threads")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        print(json.dumps(build(args.path, args.days, args.domains)))
        return
    if args.child:
        print(json.dumps(child(args.child, args.path, args.repeat)))
        return
    if args.usage_workers:
        with tempfile.TemporaryDirectory(prefix="usagekit-bench-") as folder:
            env = {**os.environ, "TQDM_DISABLE": "1"}
            prepare_usage(folder)
            one = run_child("usage_1", Path(folder), args.repeat, env)
            two = run_child("usage_2", Path(folder), args.repeat, env)
        print(
            f"usage() over {one['files']} detail exports ({one['rows']:,} rows), best of {args.repeat}: "
            f"1 worker {one['seconds']:.3f} s, 2 workers {two['seconds']:.3f} s: "
            f"{one['seconds'] / two['seconds']:.2f}x"
        )
        return

    with tempfile.TemporaryDirectory(prefix="usagekit-bench-") as tmp:
        path = Path(tmp) / "detail.xlsx"
        env = {**os.environ, "USAGEKIT_CACHE_DIR": str(Path(tmp) / "cache"), "TQDM_DISABLE": "1"}
        made = run_child("build", path, 1, env, "--days", str(args.days), "--domains", str(args.domains))
        print(
            f"workbook: {args.days} days x {args.domains} domains = {made['rows']:,} rows, "
            f"{made['bytes'] / 2**20:.1f} MiB; write_detail_workbook: {made['seconds']:.2f} s\n"
        )
        path.read_bytes()  # the OS cache holds the file for every reader below
        results = {}
        load_before = os.getloadavg()
        for case in ("baseline", "fastexcel", "guard", "calamine", "read_usage", "cached_memory"):
            results[case] = run_child(case, path, args.repeat, env)
        subprocess.run(  # fill the disk cache in one process, read it in the next
            [sys.executable, "-c", f"from usagekit.readers import read_usage; read_usage({str(path)!r})"],
            check=True,
            env=env,
        )
        results["cached_disk"] = run_child("cached_disk", path, args.repeat, env)
        if not args.skip_openpyxl:
            results["openpyxl"] = run_child("openpyxl", path, 1, env)
        load_after = os.getloadavg()

    fresh = results["read_usage"]["seconds"]
    bare = results["calamine"]
    print(
        f"best of {args.repeat}, each reader in a fresh process, the file in the OS cache for all; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after on {os.cpu_count()} cores\n"
    )
    print(f"{'reader':<44} {'seconds':>9} {'peak MiB':>9}   ratio")
    print(f"{'(interpreter + imports only)':<44} {'':>9} {results['baseline']['peak_mib']:>9.0f}")
    floor = results["fastexcel"]
    lines = [
        ("pandas.read_excel(engine='calamine')", "calamine", "1.00x (the bare read)"),
        (
            "fastexcel alone (the floor)",
            "fastexcel",
            f"{floor['seconds'] / bare['seconds']:.2f}x time, {floor['peak_mib'] / bare['peak_mib']:.2f}x memory",
        ),
        (
            "the guard alone (zip check, XML scan)",
            "guard",
            f"{results['guard']['seconds'] / bare['seconds']:.2f}x time",
        ),
        (
            "read_usage(cache=False), guard included",
            "read_usage",
            f"{fresh / bare['seconds']:.2f}x time, {results['read_usage']['peak_mib'] / bare['peak_mib']:.2f}x "
            "memory vs bare (targets <= 0.5x, <= 0.7x)",
        ),
    ]
    if "openpyxl" in results:
        lines.append(
            (
                "pandas.read_excel(engine='openpyxl')",
                "openpyxl",
                f"read_usage is {results['openpyxl']['seconds'] / fresh:.1f}x faster",
            )
        )
    lines += [
        (
            "read_usage re-read, memory cache",
            "cached_memory",
            f"{fresh / results['cached_memory']['seconds']:.0f}x faster than a fresh parse (target >= 50x)",
        ),
        (
            "read_usage re-read, disk cache (new process)",
            "cached_disk",
            f"{fresh / results['cached_disk']['seconds']:.0f}x faster than a fresh parse (target >= 50x)",
        ),
    ]
    for label, case, ratio in lines:
        result = results[case]
        print(f"{label:<44} {result['seconds']:>9.3f} {result['peak_mib']:>9.0f}   {ratio}")


if __name__ == "__main__":
    main()
