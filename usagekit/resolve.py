"""The one reading of ``accounts=`` (README Conventions), and the deprecation of renamed keywords.

``accounts`` is an :class:`~usagekit.accounts.Account`, a profile name, a sequence of either, or ``None`` for
every discovered account (:func:`usagekit.discover_accounts`); an empty sequence, another type or a name no
account has is an :class:`~usagekit.errors.ArgumentError`, raised before any request.

>>> shop = Account("shop", "LTAIexample-0000KlMn", "example-secret")
>>> [a.name for a in resolve_accounts(shop)]
['shop']
>>> resolve_accounts([])
Traceback (most recent call last):
...
usagekit.errors.ArgumentError: accounts is an empty sequence: give an Account, a profile name, a sequence of them, or None for every discovered account
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from usagekit.accounts import Account
from usagekit.errors import ArgumentError

__all__ = ["ACCOUNT_FORMS", "one_account", "renamed", "resolve_accounts"]

ACCOUNT_FORMS = "an Account, a profile name, a sequence of them, or None for every discovered account"


def resolve_accounts(
    accounts: Account | str | Sequence[Account | str] | None, *, name: str = "accounts"
) -> list[Account]:
    """``accounts`` as a list of :class:`Account`, by the one rule; ``name`` names the argument in errors.

    Profile names are looked up among the discovered accounts (only when a name is given). Two accounts of
    one name are refused: frames tell accounts apart by name.
    """
    if accounts is None:
        from usagekit.discovery import discover_accounts

        return list(discover_accounts())
    if isinstance(accounts, Account | str):
        items: list[Any] = [accounts]
    elif isinstance(accounts, Sequence | set | frozenset | tuple) and not isinstance(accounts, bytes):
        items = list(accounts)
    else:
        raise ArgumentError(f"{name} must be {ACCOUNT_FORMS}, not {type(accounts).__name__}")
    if not items:
        raise ArgumentError(f"{name} is an empty sequence: give {ACCOUNT_FORMS}")
    for item in items:
        if not isinstance(item, Account | str) or (isinstance(item, str) and not item.strip()):
            raise ArgumentError(f"{name} holds {item!r:.40}: give {ACCOUNT_FORMS}")
    if any(isinstance(item, str) for item in items):
        items = _named(items, name)
    names = [account.name for account in items]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ArgumentError(
            f"several {name} are named {', '.join(map(repr, doubled))}: names must be unique "
            "(frames tell accounts apart by name)"
        )
    return items


def one_account(account: Account | str, *, name: str = "account") -> Account:
    """One account: an :class:`Account`, or a profile name among the discovered accounts.

    >>> one_account(Account("shop", "LTAIexample-0000KlMn", "example-secret")).name
    'shop'
    """
    if not isinstance(account, Account | str):
        raise ArgumentError(f"{name} must be an Account or a profile name, not {type(account).__name__}")
    return account if isinstance(account, Account) else resolve_accounts(account, name=name)[0]


def _named(items: list[Account | str], name: str) -> list[Account]:
    from usagekit.discovery import discover_accounts

    known: dict[str, Account] = {}
    for account in discover_accounts():
        known.setdefault(account.name, account)
    unknown = [item for item in items if isinstance(item, str) and item.strip() not in known]
    if unknown:
        shown = ", ".join(map(repr, sorted(known))) or "none"
        raise ArgumentError(f"{name}: no account named {unknown[0]!r} among the discovered ones ({shown})")
    return [item if isinstance(item, Account) else known[item.strip()] for item in items]


def renamed(old: str, new: str, value: Any, given: Any, *, default: Any = None, stacklevel: int = 3) -> Any:
    """The value of keyword ``new`` when a caller still used its old name ``old`` (a DeprecationWarning
    naming the new one, for one release); both given is an :class:`ArgumentError`.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     renamed("max_workers", "executor", 4, None)
    4
    >>> str(seen[0].message)
    'max_workers= is deprecated and will be removed in the next release: use executor='
    """
    if value is default:
        return given
    if given is not default:
        raise ArgumentError(f"{old}= is the old name of {new}=: give only {new}=")
    warnings.warn(
        f"{old}= is deprecated and will be removed in the next release: use {new}=",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return value
