"""How fast ``list_tasks`` lists many accounts, against the bare-client floor, a page loop and the critical path.

A sandbox runs in a SEPARATE PROCESS (``usagekit sandbox``) with 50 ms latency on every call, 20 accounts
and 150 tasks of each kind (120 calls at 50 tasks a page). Every contender is measured WARM: its clients
are made once and a first, untimed run opens their connections; only later runs are timed.

* ``list_tasks``: every account and kind at once, 50 tasks a page, pages after the first concurrently
  (its pooled clients outlive the call, as in a notebook);
* the bare-client floor: the very same 120 calls with bare ``CdnClient`` objects, page 1 of every listing
  at once and then every other page at once, replies decoded but nothing parsed: what any client of this
  server pays for those calls on this machine (the gap between it and ``list_tasks`` is what the listing
  itself costs: parsing, the frame, threads);
* the sequential loop a script writes: for each account and kind, page 1, 2, ... at the SAME page size of
  50 until the rows reach ``TotalCount``;
* the critical path: two 50 ms round trips (page 1, then the rest at once) = 0.1 s.

``list_tasks`` and the floor run in turn (``--repeat`` times each), so a load spike from other work on the
machine falls on both; the medians are reported. The per-call CPU of the client (this process) and of the
sandbox (its process, read from ``/proc``) is measured over the floor's runs: on a machine with few cores
those two, not the 50 ms, set the floor. ``--profile N`` adds a cProfile (CPU time) of N single calls made
one after another, grouped by where the time goes (signing, our client code, requests, urllib3,
http.client, JSON).

Targets: ``list_tasks`` within 1.1x of the floor; the loop at least 8x slower than ``list_tasks``.

    $ python benchmarks/bench_listing.py
    $ python benchmarks/bench_listing.py --repeat 7 --profile 400
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from usagekit.accounts import Account
from usagekit.client import CdnClient
from usagekit.listing import list_tasks
from usagekit.sandbox import demo_accounts
from usagekit.tasks import LIST_ACTIONS

SEED = 7
NOW = "2026-11-20T08:00:00Z"
PAGE_SIZE = 50


def start_sandbox(latency: float, accounts: int, tasks: int) -> tuple[subprocess.Popen[str], str]:
    """Start ``usagekit sandbox`` in its own process; return it and the endpoint its first line names."""
    command = [
        sys.executable,
        "-m",
        "usagekit",
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


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``), else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sequential(clients: list[CdnClient], page_size: int = PAGE_SIZE) -> int:
    """The loop a script writes: account by account, kind by kind, page by page."""
    rows = 0
    for client in clients:
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


def floor_run(clients: list[CdnClient], pages: int, pool: ThreadPoolExecutor) -> float:
    """The same calls as ``list_tasks`` makes, in the same two waves, with bare clients; nothing parsed."""
    firsts = [(c, action, 1) for c in clients for action in LIST_ACTIONS.values()]
    rest = [(c, a, n) for c in clients for a in LIST_ACTIONS.values() for n in range(2, pages + 1)]
    started = time.perf_counter()
    for batch in (firsts, rest):
        list(pool.map(lambda job: job[0].call(job[1], PageSize=PAGE_SIZE, PageNumber=job[2]), batch))
    return time.perf_counter() - started


#: where a profiled call's CPU time goes, by the file each function lives in (first match wins); time in
#: built-in functions (``isinstance``, ``str.join``, socket methods) counts for the group of their caller
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    (
        "signing, URL encoding (usagekit.signing, hmac, uuid, quote)",
        ("usagekit/signing", "hmac", "uuid", "parse.py"),
    ),
    ("the client's own code (client, transport, retry, pool)", ("usagekit/",)),
    ("requests", ("/requests/",)),
    ("urllib3 (connection pool, reply)", ("/urllib3/", "queue.py")),
    ("http.client, reply header parsing (email)", ("http/client.py", "/email/")),
    ("JSON decoding", ("/json/",)),
    ("sockets (send, receive, poll)", ("socket.py", "selectors.py")),
]


def _group(filename: str) -> str:
    return next((label for label, marks in GROUPS if any(m in filename for m in marks)), "other")


def profile_calls(clients: list[CdnClient], n: int) -> list[tuple[str, float]]:
    """Each group's share of ``n`` sequential calls of page 1 (cProfile on the CPU clock).

    The calls go round the accounts, so none meets the sandbox's rate limit (a retry would count twice).
    """
    action = LIST_ACTIONS["summary"]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for index in range(n):
        clients[index % len(clients)].call(action, PageSize=PAGE_SIZE, PageNumber=1)
    profiler.disable()
    totals: dict[str, float] = {}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, _), (_, _, tottime, _, callers) in stats.items():
        if filename != "~":
            totals[_group(filename)] = totals.get(_group(filename), 0.0) + tottime
            continue
        spent = sum(edge[2] for edge in callers.values()) or 1.0
        for (caller_file, _, _), edge in callers.items():
            group = _group(caller_file)
            totals[group] = totals.get(group, 0.0) + tottime * edge[2] / spent
    whole = sum(totals.values()) or 1.0
    return sorted(((g, t / whole) for g, t in totals.items()), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of list_tasks and of the floor")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N single calls")
    args = parser.parse_args()
    process, endpoint = start_sandbox(args.latency, args.accounts, args.tasks)
    pages = -(-args.tasks // PAGE_SIZE)
    calls = args.accounts * 2 * pages
    bare = [CdnClient(account) for account in demo_accounts(SEED, endpoint=endpoint, accounts=args.accounts)]
    accounts: list[Account] = [client.account for client in bare]
    pool = ThreadPoolExecutor(args.accounts * 2 * max(1, pages - 1))
    try:
        list_tasks(accounts, progress=False)  # warm: imports, the pooled clients' connections
        floor_run(bare, pages, pool)  # warm: the bare clients' connections, the thread pool
        fast_runs, floor_runs = [], []
        client_cpu = server_cpu = 0.0
        for _ in range(args.repeat):
            started = time.perf_counter()
            frame = list_tasks(accounts, progress=False)
            fast_runs.append(time.perf_counter() - started)
            server_before, client_before = cpu_seconds(process.pid), time.process_time()
            floor_runs.append(floor_run(bare, pages, pool))
            client_cpu += time.process_time() - client_before
            server_after = cpu_seconds(process.pid)
            if server_before is not None and server_after is not None:
                server_cpu += server_after - server_before
        for client in bare:  # warm the loop's connections too (one per client)
            client.call(LIST_ACTIONS["summary"], PageSize=1, PageNumber=1)
        started = time.perf_counter()
        rows = sequential(bare)
        slow = time.perf_counter() - started
        profile = profile_calls(bare, args.profile) if args.profile else []
    finally:
        pool.shutdown()
        for client in bare:
            client.close()
        process.terminate()
        process.wait(timeout=10)
    expected = args.accounts * 2 * args.tasks
    if len(frame) != rows or frame["task_id"].nunique() != len(frame) or len(frame) < expected:
        raise SystemExit(f"listings disagree: list_tasks {len(frame)} rows, loop {rows}, expected {expected}")
    fast, floor = statistics.median(fast_runs), statistics.median(floor_runs)
    critical = 2 * args.latency
    spread = f"runs {min(fast_runs):.3f}..{max(fast_runs):.3f}"
    print(
        f"sandbox: separate process, {args.latency * 1000:.0f} ms latency per call, {args.accounts} accounts,"
    )
    print(
        f"         {args.tasks} tasks of each kind ({len(frame)} tasks, {calls} calls at page size {PAGE_SIZE})"
    )
    print(f"all warm; list_tasks and the floor alternate, {args.repeat} timed runs each, medians:")
    print(f"list_tasks:                       {fast:7.3f} s   ({spread})")
    print(
        f"bare-client floor (same calls):   {floor:7.3f} s   (runs {min(floor_runs):.3f}..{max(floor_runs):.3f})"
    )
    print(f"list_tasks / floor:               {fast / floor:7.2f} x   (target <= 1.1)")
    print(f"sequential loop, page size {PAGE_SIZE}:   {slow:7.3f} s   (one run)")
    print(f"loop / list_tasks:                {slow / fast:7.1f} x   (target >= 8)")
    print(f"critical path (2 round trips):    {critical:7.3f} s")
    print(f"list_tasks / critical path:       {fast / critical:7.2f} x")
    print(f"floor CPU per call: client {client_cpu / (calls * args.repeat) * 1000:.2f} ms, ", end="")
    print(
        f"sandbox {server_cpu / (calls * args.repeat) * 1000:.2f} ms   (load average {os.getloadavg()[0]:.1f})"
    )
    if profile:
        print(f"where a call's client CPU goes (cProfile of {args.profile} calls one after another):")
        for group, share in profile:
            print(f"  {share:6.1%}  {group}")


if __name__ == "__main__":
    main()
