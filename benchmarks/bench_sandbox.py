"""How fast the sandbox starts, stops and answers, against a bare ``ThreadingHTTPServer`` baseline.

Prints one table, every figure measured in this run:

* bind+close of the same server without serving (the floor);
* start+stop of a bare stdlib ``ThreadingHTTPServer`` (``serve_forever`` in a thread, then
  ``shutdown()``: its default 0.5 s poll is what our woken loop avoids) - the baseline;
* start+stop of ``Sandbox()`` (construction, world generation, bind, serve, stop, threads joined) for
  the default world and for ``accounts=20, tasks=150``: median of ``--repeat`` runs, ratio to baseline;
* listing throughput over keep-alive connections (signed V3 calls through ``CdnClient``), one thread
  and four threads, against the bare server answering a fixed JSON body on the same connections;
* first download of a 31-day flow workbook by domain (generated on demand) and a cached re-download;
* world generation (``build_world`` of 20 accounts x 150 tasks; 31 days of points for 40 domains) and
  ``stop()`` with an idle keep-alive connection open, each with the bound the tests used to time.

Run: ``python benchmarks/bench_sandbox.py`` (``--repeat 20`` by default; ``--calls 300`` per thread).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

NOW = "2026-11-20T08:00:00Z"


class _Fixed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b'{"RequestId":"x","UsageDataPerPage":{"PageNumber":1,"PageSize":20,"TotalCount":0,"Data":{"DataItem":[]}}}'

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        return


_Fixed.disable_nagle_algorithm = True


def bare_start_stop() -> float:
    began = time.perf_counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.shutdown()
    server.server_close()
    thread.join()
    return time.perf_counter() - began


def bare_bind_close() -> float:
    """The floor: bind and close a listening socket, no serving thread at all."""
    began = time.perf_counter()
    ThreadingHTTPServer(("127.0.0.1", 0), _Fixed).server_close()
    return time.perf_counter() - began


def sandbox_start_stop(**options: Any) -> float:
    from usagekit.sandbox import Sandbox

    began = time.perf_counter()
    box = Sandbox(seed=7, now=NOW, **options).start()
    box.stop()
    return time.perf_counter() - began


def world_build() -> float:
    from datetime import UTC, datetime

    from usagekit.sandbox.world import WorldParams, build_world

    now = datetime.fromisoformat(NOW).astimezone(UTC)
    began = time.perf_counter()
    build_world(WorldParams(seed=7, now=now, accounts=20, tasks=150))
    return time.perf_counter() - began


def forty_domains_points() -> float:
    from usagekit.sandbox.usage import point_starts, point_values
    from usagekit.sandbox.world import DomainSpec

    domains = [DomainSpec(f"d{i}.shop-demo.example") for i in range(40)]
    starts = point_starts(1_790_784_000, 1_790_784_000 + 31 * 86400)
    began = time.perf_counter()
    for domain in domains:
        point_values(7, "demo-shop", domain, "CN", "traffic", starts)
    return time.perf_counter() - began


def stop_with_idle_connection() -> float:
    """Sandbox.stop() while a keep-alive connection idles (its handler would wait 60 s for more)."""
    import http.client

    from usagekit.sandbox import Sandbox

    box = Sandbox(seed=1, now=NOW, clock="frozen").start()
    connection = http.client.HTTPConnection("127.0.0.1", int(box.endpoint.rsplit(":", 1)[1]), timeout=5)
    connection.request("GET", "/")
    connection.getresponse().read()
    began = time.perf_counter()
    box.stop()
    took = time.perf_counter() - began
    connection.close()
    return took


def median_of(repeat: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeat))


def throughput(call: Callable[[], Any], calls: int, threads: int) -> float:
    """Calls per second with ``threads`` threads, each making ``calls`` calls."""

    def work(_: int) -> None:
        for _ in range(calls):
            call()

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return calls * threads / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--calls", type=int, default=300, help="calls per thread for throughput")
    args = parser.parse_args()

    from usagekit.client import CdnClient
    from usagekit.sandbox import Faults, Sandbox

    sandbox_start_stop()  # warm imports
    rows: list[tuple[str, float, str, str]] = []
    baseline = median_of(args.repeat, bare_start_stop)
    rows.append(("start+stop: bare ThreadingHTTPServer (baseline)", baseline * 1000, "ms", "1.00x"))
    floor = median_of(args.repeat, bare_bind_close)
    rows.append(
        ("bind+close only, no serving thread (floor)", floor * 1000, "ms", f"{floor / baseline:.2f}x")
    )
    for label, options in (("default world", {}), ("accounts=20, tasks=150", {"accounts": 20, "tasks": 150})):
        took = median_of(args.repeat, lambda o=options: sandbox_start_stop(**o))
        rows.append((f"start+stop: Sandbox, {label}", took * 1000, "ms", f"{took / baseline:.2f}x"))

    world = median_of(args.repeat, world_build)
    rows.append(("build_world, accounts=20, tasks=150 (bound 1 s)", world * 1000, "ms", "-"))
    points = median_of(args.repeat, forty_domains_points)
    rows.append(("point_values, 40 domains x 31 days (bound 0.5 s)", points * 1000, "ms", "-"))
    idle = median_of(args.repeat, stop_with_idle_connection)
    rows.append(
        (
            "stop with an idle keep-alive connection open (bound 0.2 s)",
            idle * 1000,
            "ms",
            f"{idle / baseline:.2f}x",
        )
    )

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixed)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    local = threading.local()

    def bare_call() -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.post(f"http://127.0.0.1:{server.server_address[1]}/", data=b"x", timeout=5).json()

    with Sandbox(seed=7, now=NOW, clock="frozen", faults=Faults(rate_limit=None)) as box:
        account = box.accounts[0]
        clients: dict[int, CdnClient] = {}

        def sandbox_call() -> None:
            client = clients.setdefault(threading.get_ident(), CdnClient(account))
            client.call("DescribeUserUsageDetailDataExportTask", PageSize=20, PageNumber=1)

        for threads in (1, 4):
            base = throughput(bare_call, args.calls, threads)
            ours = throughput(sandbox_call, args.calls, threads)
            rows.append((f"listing calls/s, {threads} thread(s): bare fixed JSON", base, "/s", "1.00x"))
            rows.append(
                (
                    f"listing calls/s, {threads} thread(s): Sandbox, signed V3",
                    ours,
                    "/s",
                    f"{ours / base:.2f}x",
                )
            )

        spec = box.account_spec(account.name)
        client = CdnClient(account)
        url = ""
        for _ in range(10):  # a seeded few new tasks end failed: create until one succeeds
            created = client.call(
                "CreateUsageDetailDataExportTask",
                Type="flow",
                StartTime="2026-10-14T16:00:00Z",
                EndTime="2026-11-14T15:59:59Z",
                DomainNames=",".join(spec.domain_names),
            )["TaskId"]
            box.advance(5)
            page = client.call("DescribeUserUsageDetailDataExportTask", PageSize=1)["UsageDataPerPage"]
            item = page["Data"]["DataItem"][0]
            if item["TaskId"] == created and item["Status"] == "success":
                url = item["DownloadUrl"]
                break
        with requests.Session() as session:
            began = time.perf_counter()
            size = len(session.get(url, timeout=120).content)
            first = time.perf_counter() - began
            began = time.perf_counter()
            session.get(url, timeout=120).content  # noqa: B018 - timing the transfer
            again = time.perf_counter() - began
        label = f"download 31-day workbook, {len(spec.domains)} domains ({size / 1e6:.1f} MB)"
        rows.append((f"{label}: first (generated)", first * 1000, "ms", "1.00x"))
        rows.append((f"{label}: again (cached)", again * 1000, "ms", f"{again / first:.2f}x"))
        client.close()
    server.shutdown()
    server.server_close()

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  unit  ratio")
    for name, value, unit, ratio in rows:
        print(f"{name:<{width}}  {value:>10.2f}  {unit:<4}  {ratio}")


if __name__ == "__main__":
    main()
