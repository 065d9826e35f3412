"""Accounts: one set of credentials and where it came from, and their discovery.

An :class:`Account` is what every call needs. :func:`discover_accounts` finds the profiles a user
already has, in this order: the ``ALIBABA_CLOUD_*`` environment variables (named ``environment``),
every profile of the aliyun CLI's ``~/.aliyun/config.json``, every section of the credentials INI
file (``~/.alibabacloud/credentials`` or ``credentials.ini``; ``ALIBABA_CLOUD_CREDENTIALS_FILE``
overrides). Names are unique within one discovery: a later profile of a taken name is renamed with
its source, ``prod (credentials file)``.

>>> acct = Account("prod", "LTAI5tAbCdEfGhIjKlMn", "not-shown")
>>> acct
Account(name='prod', access_key_id='LTAI…KlMn', source='explicit')
>>> "not-shown" in repr(acct) + str(acct) + acct._repr_html_()
False

This module never imports the sandbox: ``usagekit.discover_accounts`` (the public one) is the switch
that returns the sandbox's demo accounts under ``USAGEKIT_SANDBOX=1``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["DEFAULT_REGION", "Account", "discover_accounts", "shorten_key_id"]

DEFAULT_REGION = "cn-hangzhou"


def shorten_key_id(access_key_id: str) -> str:
    """An access key id cut to its first and last four characters, for display.

    >>> shorten_key_id("LTAI5tAbCdEfGhIjKlMn")
    'LTAI…KlMn'
    >>> shorten_key_id("short")
    '…'
    """
    if len(access_key_id) < 12:
        return "…"
    return f"{access_key_id[:4]}…{access_key_id[-4:]}"


@dataclass(frozen=True, eq=True)
class Account:
    """One set of Alibaba Cloud credentials, named, with its origin.

    ``endpoint`` is a host name (HTTPS implied) or a full URL such as ``http://127.0.0.1:8080`` (a
    local sandbox); ``None`` means the public CDN endpoint. ``source`` says where the account came
    from (``environment``, ``aliyun CLI config``, ``credentials file``, ``sandbox``, ``explicit``).
    The secret and the STS token never appear in ``repr``, ``str`` or the HTML repr.
    """

    name: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    endpoint: str | None = None
    source: str = "explicit"

    def __post_init__(self) -> None:
        for attribute in ("name", "access_key_id", "access_key_secret"):
            value = getattr(self, attribute)
            if not isinstance(value, str) or not value:
                raise ValueError(f"Account.{attribute} must be a non-empty string")

    @property
    def uses_sts(self) -> bool:
        """True when the account carries an STS security token."""
        return self.security_token is not None

    @property
    def cache_key(self) -> str:
        """What on-disk caches are keyed by: the access key id and the endpoint, never the name alone."""
        return f"{self.access_key_id}@{self.endpoint or 'default'}"

    def _display_fields(self) -> list[tuple[str, str]]:
        shown = [("name", self.name), ("access_key_id", shorten_key_id(self.access_key_id))]
        if self.security_token is not None:
            shown.append(("sts", "yes"))
        if self.region != DEFAULT_REGION:
            shown.append(("region", self.region))
        if self.endpoint is not None:
            shown.append(("endpoint", self.endpoint))
        shown.append(("source", self.source))
        return shown

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={value!r}" for key, value in self._display_fields())
        return f"Account({inner})"

    def __str__(self) -> str:
        return f"{self.name} ({shorten_key_id(self.access_key_id)}, {self.source})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._display_fields()
        )
        return f"<table><caption>Account</caption>{rows}</table>"


def discover_accounts() -> list[Account]:  # pragma: no cover - replaced below by the discovery code
    raise NotImplementedError
