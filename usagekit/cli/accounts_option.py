"""The ``--sandbox`` / ``--profile`` options that commands working on accounts share.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_account_options(parser)
>>> parser.parse_args(["--profile", "prod", "staging"]).profile
['prod', 'staging']
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from usagekit.accounts import Account
from usagekit.cli.checks import CommandLineError
from usagekit.errors import ConfigurationError

__all__ = ["add_account_options", "chosen_accounts"]


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive ``--sandbox`` and ``--profile NAME ...`` options."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sandbox", action="store_true", help="use the demo accounts of a local sandbox")
    source.add_argument(
        "--profile",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="one or more account names after one flag, e.g. --profile prod staging "
        "(default: every discovered account)",
    )


@contextlib.contextmanager
def chosen_accounts(args: argparse.Namespace) -> Iterator[list[Account]]:
    """The accounts the options name; with ``--sandbox`` one runs for as long as the block does.

    Without ``--profile`` every discovered account is used; a name that matches nothing is an error
    listing the names found. ``--sandbox`` uses the running sandbox ``USAGEKIT_SANDBOX_ENDPOINT`` names,
    else starts one in this process, its seed, time and world size (``USAGEKIT_SANDBOX_SEED``,
    ``USAGEKIT_SANDBOX_NOW``, ``USAGEKIT_SANDBOX_ACCOUNTS``, ``USAGEKIT_SANDBOX_TASKS``) from the
    environment.
    """
    if args.sandbox:
        from usagekit.discovery import discover_accounts, sandbox_world
        from usagekit.sandbox import Sandbox

        if os.environ.get("USAGEKIT_SANDBOX_ENDPOINT", "").strip():
            yield discover_accounts(environ={**os.environ, "USAGEKIT_SANDBOX": "1"})
            return
        with Sandbox(clock="real", **sandbox_world(os.environ)) as box:
            yield box.accounts
        return
    from usagekit.discovery import discover_accounts

    found = discover_accounts()
    if not found:
        raise ConfigurationError(
            "no accounts found: set ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, configure the aliyun CLI, "
            "or try --sandbox"
        )
    if not args.profile:
        yield found
        return
    names = {account.name for account in found}
    missing = [name for name in args.profile if name not in names]
    if missing:
        known = ", ".join(repr(account.name) for account in found)
        raise CommandLineError(  # a wrong name on the command line: exit 2, as any wrong flag
            f"--profile: no profile named {', '.join(map(repr, missing))} (found: {known})"
        )
    yield [account for account in found if account.name in args.profile]
