"""How fast ``list_tasks`` lists many accounts, against the loop people write today and the critical path.

A sandbox runs in a SEPARATE PROCESS (``usagekit sandbox``) with 50 ms latency on every call, 20 accounts
and 150 tasks of each kind. Measured in one run:

* ``list_tasks``: every account and kind at once, 50 tasks a page, pages after the first concurrently;
* the sequential loop a user of the official SDK writes: for each account and kind, one client, page 1,
  2, ... at the default page size of 20 until the rows reach ``TotalCount``;
* the transport floor: the very same 120 calls made concurrently with bare clients, nothing parsed
  (what any client of this server pays; the gap to it is what ``list_tasks`` itself costs);
* the critical path: two 50 ms round trips (page 1, then the rest at once) = 0.1 s.

Targets: ``list_tasks`` at least 8x faster than the loop, within 3x of the critical path.

``--backlog N`` is a diagnostic: it runs the same sandbox command with its listening socket's accept
backlog raised to N (socketserver's default is 5: dozens of simultaneous connects overflow it and wait
for a 1 s SYN retransmit), to show what that one-line server change is worth.

    $ python benchmarks/bench_listing.py
    $ python benchmarks/bench_listing.py --backlog 128
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.listing import list_tasks
from usagekit.sandbox import demo_accounts
from usagekit.tasks import LIST_ACTIONS

SEED = 7
NOW = "2026-11-20T08:00:00Z"


def start_sandbox(
    latency: float, accounts: int, tasks: int, backlog: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start ``usagekit sandbox`` in its own process; return it and the endpoint its first line names."""
    launcher = ["-m", "usagekit"]
    if backlog is not None:
        launcher = [
            "-c",
            "import sys, usagekit.sandbox.server as server; "
            f"server.LoopbackServer.request_queue_size = {int(backlog)}; "
            "from usagekit.cli import main; sys.exit(main(sys.argv[1:]))",
        ]
    command = [
        sys.executable,
        *launcher,
        "sandbox",
        "--seed",
        str(SEED),
        "--now",
        NOW,
        "--latency",
        str(latency),
        "--accounts",
        str(accounts),
        "--tasks",
        str(tasks),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    if not first.startswith("endpoint: "):
        process.terminate()
        raise SystemExit(f"the sandbox did not start: {first!r}")
    return process, first.removeprefix("endpoint: ")


def sequential(accounts: list[Account], page_size: int = 20) -> int:
    """The loop people write today: account by account, kind by kind, page by page."""
    rows = 0
    for account in accounts:
        with CdnClient(account) as client:
            for action in LIST_ACTIONS.values():
                seen, number = 0, 1
                while True:
                    reply = client.call(action, PageSize=page_size, PageNumber=number)
                    page = reply["UsageDataPerPage"]
                    items = page["Data"].get("DataItem", [])
                    seen += len(items)
                    if not items or seen >= int(page["TotalCount"]):
                        break
                    number += 1
                rows += seen
    return rows


def transport_floor(accounts: list[Account], pages: int) -> float:
    """The same calls as ``list_tasks`` makes, all at once with bare clients, replies not parsed."""
    clients = [CdnClient(account) for account in accounts]
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(clients) * 2 * max(1, pages - 1)) as pool:
            firsts = [(c, action, 1) for c in clients for action in LIST_ACTIONS.values()]
            rest = [(c, a, n) for c in clients for a in LIST_ACTIONS.values() for n in range(2, pages + 1)]
            for batch in (firsts, rest):
                list(pool.map(lambda job: job[0].call(job[1], PageSize=50, PageNumber=job[2]), batch))
        return time.perf_counter() - started
    finally:
        for client in clients:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5, help="list_tasks runs (the median is reported)")
    parser.add_argument("--backlog", type=int, default=None, help="diagnostic: raise the accept backlog")
    args = parser.parse_args()
    process, endpoint = start_sandbox(args.latency, args.accounts, args.tasks, args.backlog)
    try:
        accounts = demo_accounts(SEED, endpoint=endpoint, accounts=args.accounts)
        list_tasks(accounts[:1], "summary", progress=False)  # warm up: imports, first connection
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            frame = list_tasks(accounts, progress=False)
            runs.append(time.perf_counter() - started)
        fast = statistics.median(runs)
        pages = -(-args.tasks // 50)
        floor = statistics.median(transport_floor(accounts, pages) for _ in range(args.repeat))
        started = time.perf_counter()
        rows = sequential(accounts)
        slow = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=10)
    expected = args.accounts * 2 * args.tasks
    if len(frame) != rows or frame["task_id"].nunique() != len(frame) or len(frame) < expected:
        raise SystemExit(f"listings disagree: list_tasks {len(frame)} rows, loop {rows}, expected {expected}")
    critical = 2 * args.latency
    backlog = f"accept backlog raised to {args.backlog}" if args.backlog else "usagekit sandbox as it is"
    runs_text = ", ".join(f"{r:.3f}" for r in runs)
    print(f"sandbox: separate process ({backlog}), {args.latency * 1000:.0f} ms latency per call,")
    print(f"         {args.accounts} accounts, {args.tasks} tasks of each kind ({len(frame)} tasks in all)")
    print(f"list_tasks (median of {args.repeat}):   {fast:7.3f} s   (runs: {runs_text})")
    print(f"transport floor (same calls):   {floor:7.3f} s   (list_tasks / floor: {fast / floor:.2f} x)")
    print(f"sequential loop, page size 20:  {slow:7.3f} s")
    print(f"speed-up over the loop:         {slow / fast:7.1f} x   (target >= 8)")
    print(f"critical path (2 round trips):  {critical:7.3f} s")
    print(f"list_tasks / critical path:     {fast / critical:7.2f} x   (target <= 3)")


if __name__ == "__main__":
    main()
