"""What listings leave in memory: full presigned URLs, the accounts used, the task ids listed.

A presigned download URL is a secret (whoever holds it can read the file), so it never lands in a frame,
a file or a log: the task frame shows it without its query, and the full URL stays here, in this
process, beside the listing that returned it, for :mod:`usagekit.downloads`. The same memory keeps the
very :class:`~usagekit.accounts.Account` a listing (or a create) used, so later calls for rows of that
frame (``fetch``, ``wait``) use it again, and the ids of each account's latest complete listing.

>>> remembered("nobody", "detail", "1") is None
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from usagekit.accounts import Account
from usagekit.errors import ConfigurationError

if TYPE_CHECKING:
    from usagekit.session import Session
    from usagekit.tasks import ListedTask

__all__ = ["Remembered", "UrlMemory", "remembered", "resolve_account"]


@dataclass(frozen=True)
class Remembered:
    """A task's full presigned download URL, the :class:`Account` that listed it, and when.

    The URL is a secret (whoever holds it can read the file): it is never shown in the repr.

    >>> from datetime import UTC
    >>> entry = Remembered(Account("prod", "LTAIexample-0000KlMn", "s"), "https://b/x.xlsx?Signature=abc",
    ...                    datetime(2026, 1, 1, tzinfo=UTC))
    >>> "Signature" in repr(entry)
    False
    """

    account: Account
    url: str = field(repr=False)
    listed_at: datetime


class UrlMemory:
    """A thread-safe, bounded store: the latest listing's URLs per account name and kind.

    Each :class:`~usagekit.session.Session` holds one (``session.urls``); module functions use the
    default session's.
    """

    def __init__(self, max_listings: int = 512) -> None:
        self._lock = threading.Lock()
        self._max = max_listings
        self._urls: OrderedDict[tuple[str, str], dict[str, Remembered]] = OrderedDict()
        self._ids: dict[tuple[str, str], frozenset[str]] = {}
        self._accounts: OrderedDict[str, Account] = OrderedDict()

    def store(self, account: Account, kind: str, listed: Iterable[ListedTask], *, complete: bool) -> None:
        """Keep a listing: a complete one replaces what was known for the account and kind."""
        entries = {
            item.task.task_id: Remembered(account, item.url, item.listed_at) for item in listed if item.url
        }
        key = (account.name, kind)
        with self._lock:
            if complete or key not in self._urls:
                self._urls[key] = entries
            else:
                self._urls[key].update(entries)
            self._urls.move_to_end(key)
            self._accounts[account.name] = account
            self._accounts.move_to_end(account.name)
            while len(self._urls) > self._max:
                dropped, _ = self._urls.popitem(last=False)
                self._ids.pop(dropped, None)
            while len(self._accounts) > self._max:
                self._accounts.popitem(last=False)

    def use_account(self, account: Account) -> None:
        """Note the account used for its name by a call other than a listing (a create)."""
        with self._lock:
            self._accounts[account.name] = account
            self._accounts.move_to_end(account.name)
            while len(self._accounts) > self._max:
                self._accounts.popitem(last=False)

    def store_ids(self, account: Account, kind: str, ids: Iterable[str]) -> None:
        with self._lock:
            self._ids[(account.name, kind)] = frozenset(ids)

    def ids(self, account_name: str, kind: str) -> frozenset[str] | None:
        """The task ids of the latest complete listing of ``account_name`` and ``kind``; None if none."""
        with self._lock:
            return self._ids.get((account_name, kind))

    def get(self, account_name: str, kind: str, task_id: str) -> Remembered | None:
        with self._lock:
            return self._urls.get((account_name, kind), {}).get(str(task_id))

    def account(self, name: str) -> Account | None:
        with self._lock:
            return self._accounts.get(name)

    def forget(self, account_name: str, kind: str, task_id: str) -> None:
        with self._lock:
            self._urls.get((account_name, kind), {}).pop(str(task_id), None)

    def clear(self) -> None:
        with self._lock:
            self._urls.clear()
            self._ids.clear()
            self._accounts.clear()


def _default_urls() -> UrlMemory:
    from usagekit.session import default_session

    return default_session().urls


def remembered(
    account_name: str, kind: str, task_id: str, *, session: Session | None = None
) -> Remembered | None:
    """The full download URL the latest listing of ``account_name`` and ``kind`` gave ``task_id``.

    ``None`` when no listing in ``session`` (``None``: the default one) returned one (not listed yet, or not
    ``success``).

    >>> remembered("nobody", "detail", "1") is None
    True
    """
    memory = _default_urls() if session is None else session.urls
    return memory.get(account_name, kind, str(task_id))


def resolve_account(
    name: str, accounts: Sequence[Account] | None = None, *, session: Session | None = None
) -> Account:
    """The :class:`Account` called ``name``: the very object the latest listing (or create) used.

    Given ``accounts=``, or discovering (``usagekit.discover_accounts``) when no listing used that name,
    the account is matched by name; two matches or none raise ``ConfigurationError``.

    >>> a = Account("prod", "LTAIexample-0000KlMn", "s")
    >>> resolve_account("prod", [a]) is a
    True
    """
    if accounts is None:
        known = (_default_urls() if session is None else session.urls).account(name)
        if known is not None:
            return known
        from usagekit.discovery import discover_accounts

        accounts = discover_accounts()
        where = "the discovered accounts"
    else:
        where = "the accounts given"
    matches = [account for account in accounts if account.name == name]
    if len(matches) > 1:
        raise ConfigurationError(
            f"{len(matches)} of {where} are named {name!r}; refusing to guess: pass the one you mean"
        )
    if not matches:
        names = ", ".join(repr(account.name) for account in accounts) or "none"
        raise ConfigurationError(f"no account named {name!r} among {where} ({names})")
    return matches[0]
