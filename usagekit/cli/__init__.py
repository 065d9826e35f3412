"""The ``usagekit`` command: one module per subcommand in this package.

Each subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func=handler`` (``handler(args) -> int``, the exit code). Modules that are not there yet are skipped,
so the command works while it grows.

    $ usagekit --help
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from usagekit.errors import UsagekitError
from usagekit.version import __version__

__all__ = ["main"]

#: subcommand modules, in the order ``--help`` lists them
SUBCOMMANDS = ("demo", "tasks", "fetch", "sandbox")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="usagekit", description="Alibaba Cloud CDN usage exports as tidy data."
    )
    parser.add_argument("--version", action="version", version=f"usagekit {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"usagekit.cli.{name}_command")
        except ModuleNotFoundError as error:
            if error.name != f"usagekit.cli.{name}_command":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors print one clear line, exit 1)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsagekitError as error:
        print(f"usagekit: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
