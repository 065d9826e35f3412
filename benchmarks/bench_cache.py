"""What a verified cache hit costs, against downloading the same 1 MB file from a warm local server.

Prints one table, every figure measured in this run (median of ``--repeat`` runs each):

* download: ``fetch_file`` of a 1 MB export from a ``ThreadingHTTPServer`` on 127.0.0.1, through one
  keep-alive session (warm: connected once before timing), into a cache folder where the file is absent
  (its file and record are removed between runs) - the baseline;
* hit: ``fetch_file`` of the same file once it is cached: the folder checks, the record, the owner check
  and the SHA-256 of the whole file, no network;
* hit, hash only: ``hashlib.file_digest`` of the cached file alone (the floor of the check).

Issue 10's bound: a hit may cost at most a third of the download.

Run: ``python benchmarks/bench_cache.py`` (``--repeat 200``; ``--size`` bytes, 1 MB by default).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from usagekit.accounts import Account
from usagekit.downloads import DownloadPolicy, fetch_file
from usagekit.netguard import guarded_session


def _workbook(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", os.urandom(size - 200))
    return buffer.getvalue()


class _File(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("ETag", '"bench"')
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        return


def _median_ms(run: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()

    _File.body = _workbook(args.size)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _File)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_address[1]
    account = Account("bench", "LTAIexample-bench-01", "s", endpoint=f"http://127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/files/1.xlsx?Expires=1&Signature=x"
    policy = DownloadPolicy()
    session = guarded_session()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "cache"

        def fetch() -> Path:
            return fetch_file(account, "detail", "1", url, cache_dir=root, session=session, policy=policy)

        path = fetch()  # warm: connection made, folders created
        record = path.with_suffix(".json")

        def forget() -> None:
            path.unlink(missing_ok=True)
            record.unlink(missing_ok=True)

        download = _median_ms(fetch, args.repeat, before=forget)
        fetch()
        hit = _median_ms(fetch, args.repeat)

        def digest() -> str:
            with open(path, "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()

        hash_only = _median_ms(digest, args.repeat)
    session.close()
    server.shutdown()
    server.server_close()

    size_mb = len(_File.body) / 1e6
    print(f"file: {size_mb:.2f} MB, {args.repeat} runs each, median")
    print(f"{'case':<42}{'ms':>9}{'x download':>12}")
    for name, value in (
        ("download (warm local server) - baseline", download),
        ("cache hit (checks + SHA-256)", hit),
        ("SHA-256 of the file alone", hash_only),
    ):
        print(f"{name:<42}{value:>9.3f}{value / download:>12.3f}")
    verdict = "within" if hit <= download / 3 else "OVER"
    print(f"hit / download = {hit / download:.3f} ({verdict} the bound of 1/3)")


if __name__ == "__main__":
    main()
