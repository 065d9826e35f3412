"""``usagekit sandbox``: run a sandbox server in the foreground until Ctrl-C or SIGTERM.

The first line printed is ``endpoint: http://127.0.0.1:<port>`` (scripts read it); then the shell lines
that point usagekit (and the aliyun CLI or SDKs) at it. The keys printed are the sandbox's own fake
demo keys: printing them is the point. Real credentials are never printed.

    $ usagekit sandbox --seed 7 --port 8780
    endpoint: http://127.0.0.1:8780
    ...
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from usagekit.cli.checks import iso_time, number, positive_int, seconds

__all__ = ["handler", "register"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 (any free one) to 65535, not {value}")
    return value


#: the faults a rate can be given for, and what each answers
_FAULT_HELP = {
    "throttle": "503 Throttling.User",
    "unavailable": "503 ServiceUnavailable",
    "error500": "500 InternalError",
    "drop": "a closed connection (no reply)",
    "truncate": "a reply cut short",
}


def _rate(text: str) -> float:
    value = number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is between 0 and 1, not {text}")
    return value


def _calls_per_second(text: str) -> float:
    try:
        value = number(text)
    except argparse.ArgumentTypeError:
        value = -1.0  # worded below
    if value < 0:
        raise argparse.ArgumentTypeError(f"a rate limit is a number of calls per second, 0 or more: {text}")
    return value


def _bill_type(text: str) -> tuple[str, str]:
    account, sep, method = (part.strip() for part in text.partition("="))
    if not (sep and account and method):
        raise argparse.ArgumentTypeError(
            f"--bill-type is ACCOUNT=BILLTYPE (e.g. demo-shop=month_95), not {text!r}"
        )
    return account, method


def _bill_drift(text: str) -> tuple[str | tuple[str, str], float]:
    key, sep, factor = (part.strip() for part in text.rpartition("="))
    account, colon, day = key.partition(":")
    if not (sep and account and (day or not colon)):
        raise argparse.ArgumentTypeError(
            f"--bill-drift is ACCOUNT=FACTOR or ACCOUNT:YYYY-MM-DD=FACTOR (e.g. demo-media=1.05), not {text!r}"
        )
    return ((account, day) if colon else account), number(factor)


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` subcommand."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local sandbox of the CDN usage-export API",
        description="Run a seeded sandbox server on 127.0.0.1 until Ctrl-C / SIGTERM, printing how to use it.",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="world seed (default: USAGEKIT_SANDBOX_SEED or 0)"
    )
    parser.add_argument(
        "--now", type=iso_time, default=None, help="sandbox time at start, ISO-8601 (default: real now)"
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="TCP port on 127.0.0.1 (default: any free port)"
    )
    parser.add_argument("--accounts", type=positive_int, default=3, help="demo accounts (default 3)")
    parser.add_argument(
        "--tasks", type=positive_int, default=40, help="seeded tasks per account and kind (default 40)"
    )
    parser.add_argument(
        "--file-ttl", type=seconds, default=900, help="download URL lifetime, seconds (default 900)"
    )
    parser.add_argument(
        "--task-delay", type=seconds, default=2.0, help="seconds until a new task finishes (default 2)"
    )
    for name, outcome in _FAULT_HELP.items():
        parser.add_argument(
            f"--{name}", type=_rate, default=0.0, metavar="RATE",
            help=f"share of requests, 0 to 1, answered with {outcome} (default 0)",
        )  # fmt: skip
    parser.add_argument(
        "--latency", type=seconds, default=0.0, metavar="SECONDS", help="added delay per request (default 0)"
    )
    parser.add_argument(
        "--jitter", type=seconds, default=0.0, metavar="SECONDS",
        help="extra random delay per request, up to this (default 0)",
    )  # fmt: skip
    parser.add_argument(
        "--rate-limit",
        type=_calls_per_second,
        default=100.0,
        help="calls per second per account (0 disables; default 100)",
    )
    parser.add_argument(
        "--page-size-over-50", choices=("reject", "clamp"), default="reject",
        help="what a listing with PageSize over 50 gets: reject (InvalidParameter) or clamp (to 50); "
        "default: reject",
    )  # fmt: skip
    parser.add_argument(
        "--bill-type", type=_bill_type, action="append", default=[], metavar="ACCOUNT=BILLTYPE",
        help="bill an account by this method (repeatable; default: seeded)",
    )  # fmt: skip
    parser.add_argument(
        "--bill-drift", type=_bill_drift, action="append", default=[], metavar="ACCOUNT[:YYYY-MM-DD]=FACTOR",
        help="scale what the bill sees of an account (or one Beijing day), not the exports (repeatable)",
    )  # fmt: skip
    parser.set_defaults(func=handler)


def _lines(box: Any) -> list[str]:
    """What the command prints: endpoint, the switch, one account's fake keys, an aliyun CLI profile."""
    endpoint = box.endpoint
    switch = (
        f"export USAGEKIT_SANDBOX=1 USAGEKIT_SANDBOX_ENDPOINT={endpoint} USAGEKIT_SANDBOX_SEED={box.seed}"
    )
    if len(box.accounts) != 3:
        switch += f" USAGEKIT_SANDBOX_ACCOUNTS={len(box.accounts)}"
    account = next(a for a in box.accounts if not a.uses_sts)
    profile = {
        "name": "usagekit-sandbox",
        "mode": "AK",
        "access_key_id": account.access_key_id,
        "access_key_secret": account.access_key_secret,
        "region_id": account.region,
    }
    return [
        f"endpoint: {endpoint}",
        f"seed: {box.seed}  now: {box.now:%Y-%m-%dT%H:%M:%SZ}  accounts: {', '.join(a.name for a in box.accounts)}",
        "",
        "# point usagekit at this sandbox:",
        switch,
        "",
        f"# the sandbox's fake demo keys of {account.name} (they work nowhere else):",
        f"export ALIBABA_CLOUD_ACCESS_KEY_ID={account.access_key_id}"
        f" ALIBABA_CLOUD_ACCESS_KEY_SECRET={account.access_key_secret}",
        "",
        "# an aliyun CLI profile (add it to ~/.aliyun/config.json; call with --endpoint " + endpoint + "):",
        json.dumps(profile, indent=2),
        "",
        "Serving until Ctrl-C.",
    ]


def handler(args: argparse.Namespace) -> int:
    """Run the sandbox until interrupted; returns the exit code."""
    from usagekit.sandbox import Faults, Sandbox

    try:
        faults = Faults(
            throttle=args.throttle,
            unavailable=args.unavailable,
            error500=args.error500,
            drop=args.drop,
            truncate=args.truncate,
            latency=args.latency,
            jitter=args.jitter,
            rate_limit=args.rate_limit if args.rate_limit > 0 else None,
        )
        box = Sandbox(
            seed=args.seed,
            now=args.now,
            port=args.port,
            accounts=args.accounts,
            tasks=args.tasks,
            file_ttl=args.file_ttl,
            task_delay=args.task_delay,
            faults=faults,
            page_size_over_50=args.page_size_over_50,
            bill_types=dict(args.bill_type),
            bill_drift=dict(args.bill_drift),
        )
    except (TypeError, ValueError) as error:
        print(f"usagekit sandbox: error: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        box.start()
    except OSError as error:
        print(
            f"usagekit sandbox: error: cannot listen on 127.0.0.1:{args.port}: {error}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set()) if _main_thread() else None
    try:
        print("\n".join(_lines(box)), flush=True)
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("sandbox stopped", flush=True)
    return 0


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
