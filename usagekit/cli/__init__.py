"""The ``usagekit`` command: one module per subcommand in this package.

Each subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func=handler`` (``handler(args) -> int``, the exit code). Modules that are not there yet are skipped,
so the command works while it grows.

Exit codes: **2** when the command line itself is wrong (a flag, a value, a path: all checked before any
network call or file write, see :mod:`usagekit.cli.checks`); **1** when something fails after work has
started (a broken profile, a refused call, a failed account or task; what could be done is still
written); **3** when a checking command (``bill``, ``anomalies``, ``showback``) reports findings; **0** otherwise. Nothing escapes as a traceback unless ``--debug`` is given.

    $ usagekit --help
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from usagekit.cli.checks import CommandLineError
from usagekit.errors import UsagekitError
from usagekit.version import package_version

__all__ = ["main"]

#: subcommand modules, in the order ``--help`` lists them
SUBCOMMANDS = ("demo", "tasks", "fetch", "sync", "bill", "anomalies", "showback", "prices", "sandbox")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="usagekit", description="Alibaba Cloud CDN usage exports as tidy data."
    )
    parser.add_argument("--version", action="version", version=f"usagekit {package_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"usagekit.cli.{name}_command")
        except ModuleNotFoundError as error:
            if error.name != f"usagekit.cli.{name}_command":
                raise
            continue
        module.register(subparsers)
    for name, sub in subparsers.choices.items():
        sub.set_defaults(command=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code: 0 done, 1 failed after work started, 2 bad usage."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]  # accepted anywhere on the line
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse printed the problem (or --help / --version)
        return int(stop.code or 0) if isinstance(stop.code, int) else 2
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CommandLineError as error:
        return _fail(f"{parser.prog} {args.command}: error: {error}", 2, debug)
    except UsagekitError as error:
        return _fail(f"usagekit: error: {error}", 1, debug)
    except OSError as error:  # a file that could not be written after work started, a full disk
        return _fail(
            f"usagekit: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), 1, debug
        )
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug of ours: one line, and how to see more
        return _fail(
            f"usagekit: internal error: {type(error).__name__}: {error} (run again with --debug for the "
            "traceback, and please report it)",
            1,
            debug,
        )


def _fail(message: str, code: int, debug: bool) -> int:
    from usagekit.redact import redact

    if debug:
        traceback.print_exc(file=sys.stderr)
    print(redact(message), file=sys.stderr)  # presigned query values masked, whatever raised
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
