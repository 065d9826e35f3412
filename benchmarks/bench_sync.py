"""How long ``sync`` takes and how much memory it holds, for 30 and 90 accounts x 6 months.

The sandbox runs in a process of its own (a ``multiprocessing`` spawn child; its generated files are
kept in a disk cache under the work folder, so a second run does not pay for generating them again),
and each sync runs in a fresh subprocess of its own, so the peak memory reported is the sync process's
own ``VmHWM`` (from ``/proc/self/status``), nothing of the sandbox's or of this script's. Each run
starts from an empty dataset and an empty download cache: the first sync of a new dataset, the
heaviest one. Reported per run: wall time of the ``sync`` call (imports not counted), peak memory,
rows written, the requests the sandbox answered during the sync, and whether the report was complete.

Memory should not grow with the accounts: the 30-account peak is compared with the 90-account one.

Run: ``python benchmarks/bench_sync.py`` (``--accounts 30 90``, ``--work DIR`` to keep the sandbox's
file cache between invocations, ``--verify-cost`` to also time a second, no-op sync of the 90-account
dataset, which verifies every partition it keeps). To measure another checkout of usagekit, put it
first on ``PYTHONPATH``: both children inherit the environment.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SEED = 7
NOW = "2026-11-04T08:00:00Z"
FIRST_MONTH, LAST_MONTH = "2026-05", "2026-10"  # six whole Beijing months before NOW

CHILD = r"""
import json, sys, time
from usagekit.sandbox import demo_accounts
from usagekit.syncing import sync

endpoint, dataset, cache, accounts, first, last, now = sys.argv[1:8]
chosen = demo_accounts(int(sys.argv[8]), endpoint=endpoint, accounts=int(accounts))
began = time.perf_counter()
report = sync(chosen, first, last, dataset, now=now, cache_dir=cache, progress=False, poll=0.5)
wall = time.perf_counter() - began
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"wall": wall, "peak_kib": hwm, "complete": report.complete,
                  "rows": int(report.counts["written"].sum()),
                  "fetched": int(report.counts["fetched"].sum()),
                  "created": int(report.counts["created"].sum())}))
"""


def _serve(accounts: int, files: str, connection: Any) -> None:
    """The sandbox's process: start, send the endpoint, answer "requests" with the count, stop on "stop"."""
    os.environ["USAGEKIT_SANDBOX_FILE_CACHE"] = files
    from usagekit.sandbox import Faults, Sandbox

    box = Sandbox(
        seed=SEED, now=NOW, clock="real", accounts=accounts, tasks=2, task_delay=0.0,
        faults=Faults(failed_exports=0.0),
    )  # fmt: skip
    with box:
        connection.send(box.endpoint)
        while True:
            message = connection.recv()
            if message == "stop":
                return
            connection.send(len(box.requests))


def run_sync(endpoint: str, dataset: Path, cache: Path, accounts: int) -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, endpoint, str(dataset), str(cache), str(accounts)]
    command += [FIRST_MONTH, LAST_MONTH, NOW, str(SEED)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:
        raise SystemExit(f"the sync child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(accounts: int, work: Path, verify_cost: bool) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(accounts, str(work / "sandbox-files"), theirs))
    server.start()
    rows = []
    try:
        endpoint = mine.recv()
        with tempfile.TemporaryDirectory(dir=work) as folder:
            dataset, cache = Path(folder) / "usage", Path(folder) / "cache"
            runs = ["first sync", "no-op sync"] if verify_cost else ["first sync"]
            for what in runs:
                mine.send("requests")
                before = mine.recv()
                result = run_sync(endpoint, dataset, cache, accounts)
                mine.send("requests")
                result["requests"] = mine.recv() - before
                rows.append({"accounts": accounts, "run": what, **result})
    finally:
        mine.send("stop")
        server.join(60)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[30, 90])
    parser.add_argument(
        "--work", type=Path, default=None, help="work folder (kept: the sandbox's file cache)"
    )
    parser.add_argument("--verify-cost", action="store_true", help="also time a no-op sync of each dataset")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-sync-"))
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    results = [row for n in args.accounts for row in measure(n, work, args.verify_cost)]
    print(f"load average before {load:.2f}, after {os.getloadavg()[0]:.2f}; {FIRST_MONTH}..{LAST_MONTH}")
    print(f"{'accounts':>8} {'run':<11} {'wall s':>8} {'peak MiB':>9} {'rows':>11} {'requests':>9} complete")
    for row in results:
        print(
            f"{row['accounts']:>8} {row['run']:<11} {row['wall']:>8.1f} {row['peak_kib'] / 1024:>9.0f} "
            f"{row['rows']:>11,} {row['requests']:>9,} {row['complete']}"
        )
    first = {r["accounts"]: r["peak_kib"] for r in results if r["run"] == "first sync"}
    if len(first) >= 2:
        small, large = first[min(first)], first[max(first)]
        print(f"peak {min(first)} accounts / {max(first)} accounts: {small / large:.2f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s in all)")
