"""Accounts: one set of credentials and where it came from, and their discovery.

An :class:`Account` is what every call needs. :func:`discover_accounts` finds the profiles a user
already has, in this order: the ``ALIBABA_CLOUD_*`` environment variables (named ``environment``),
every profile of the aliyun CLI's ``~/.aliyun/config.json``, every section of the credentials INI
file (``~/.alibabacloud/credentials`` and ``credentials.ini``; ``ALIBABA_CLOUD_CREDENTIALS_FILE``
overrides). Names are unique within one discovery: a later profile of a taken name is renamed with
its source, ``prod (credentials file)``.

>>> acct = Account("prod", "LTAIexample-0000KlMn", "not-shown")
>>> acct
Account(name='prod', access_key_id='LTAI…KlMn', source='explicit')
>>> "not-shown" in repr(acct) + str(acct) + acct._repr_html_()
False

This module never imports the sandbox: ``usagekit.discover_accounts`` (the public one) is the switch
that returns the sandbox's demo accounts under ``USAGEKIT_SANDBOX=1``.
"""

from __future__ import annotations

import configparser
import html
import json
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from usagekit.errors import ArgumentError, ConfigurationError, ConfigurationWarning

__all__ = ["DEFAULT_REGION", "SITES", "Account", "discover_accounts", "shorten_key_id"]

DEFAULT_REGION = "cn-hangzhou"
#: the Alibaba Cloud sites an account can belong to; the site decides the BssOpenApi (billing) endpoint
SITES = ("china", "international")


def shorten_key_id(access_key_id: str) -> str:
    """An access key id cut to its first and last four characters, for display.

    >>> shorten_key_id("LTAIexample-0000KlMn")
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
    ``site`` is ``china`` (alibabacloud.com's China site, the default) or ``international``; it decides the
    billing API's endpoint (``business.aliyuncs.com`` or ``business.ap-southeast-1.aliyuncs.com``), which
    ``bss_endpoint`` overrides as ``endpoint`` does the CDN one. The secret and the STS token never appear in ``repr``, ``str`` or the HTML repr.
    """

    name: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    endpoint: str | None = None
    source: str = "explicit"
    site: str = "china"
    bss_endpoint: str | None = None

    def __post_init__(self) -> None:
        for attribute in ("name", "access_key_id", "access_key_secret"):
            value = getattr(self, attribute)
            if not isinstance(value, str) or not value:
                raise ArgumentError(f"Account.{attribute} must be a non-empty string")
        for attribute in ("security_token", "endpoint", "bss_endpoint"):
            value = getattr(self, attribute)
            if value is not None and not isinstance(value, str):
                raise ArgumentError(
                    f"Account.{attribute} must be a string or None, not {type(value).__name__}"
                )
        for attribute in ("region", "source"):
            if not isinstance(getattr(self, attribute), str) or not getattr(self, attribute):
                raise ArgumentError(f"Account.{attribute} must be a non-empty string")
        if self.site not in SITES:
            raise ArgumentError(f"Account.site must be one of {', '.join(SITES)}, not {self.site!r}")

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
        if self.site != "china":
            shown.append(("site", self.site))
        if self.bss_endpoint is not None:
            shown.append(("bss_endpoint", self.bss_endpoint))
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


# --- discovery -----------------------------------------------------------------------------------------

ENVIRONMENT = "environment"
CLI_CONFIG = "aliyun CLI config"
CREDENTIALS_FILE = "credentials file"

_ID_VAR = "ALIBABA_CLOUD_ACCESS_KEY_ID"
_SECRET_VAR = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - the variable's name, not a secret
_TOKEN_VAR = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - the variable's name, not a token
_REGION_VAR = "ALIBABA_CLOUD_REGION_ID"
_PROFILE_VAR = "ALIBABA_CLOUD_PROFILE"
_FILE_VAR = "ALIBABA_CLOUD_CREDENTIALS_FILE"

_NOT_YET = "which usagekit does not do yet"
_CLI_HINT = "create an AK or StsToken profile, or export ALIBABA_CLOUD_* variables"
_INI_HINT = "add a section with 'type = access_key', or export ALIBABA_CLOUD_* variables"

#: what each unusable aliyun CLI mode would need; AK and StsToken are read
_CLI_MODE_NEEDS = {
    "RamRoleArn": "role assumption",
    "ChainableRamRoleArn": "chained role assumption",
    "EcsRamRole": "the ECS instance metadata service",
    "RsaKeyPair": "an RSA key pair session",
    "OIDC": "role assumption with an OIDC token",
    "External": "running an external credentials program",
    "CredentialsURI": "fetching credentials from a URI",
    "CloudSSO": "a CloudSSO sign-in",
}
#: what each unusable credentials-file type would need; access_key is read
_INI_TYPE_NEEDS = {
    "ram_role_arn": "role assumption",
    "oidc_role_arn": "role assumption with an OIDC token",
    "ecs_ram_role": "the ECS instance metadata service",
    "rsa_key_pair": "an RSA key pair session",
    "credentials_uri": "fetching credentials from a URI",
    "bearer": "a bearer token",
}
_NO_DEFAULT_SECTION = "\0usagekit: no DEFAULT section"  # so a section named [DEFAULT] is an ordinary profile


@dataclass(frozen=True)
class _Skipped:
    """A profile found but left out: what it is (for the warning), its name (if any) and why."""

    label: str
    name: str | None
    reason: str


def discover_accounts(*, environ: Mapping[str, str] | None = None, home: Path | None = None) -> list[Account]:
    """Every usable profile the user already has, environment first; ``[]`` when there is none.

    Sources, in this order (each account's ``source`` names it):

    1. ``environment``: ``ALIBABA_CLOUD_ACCESS_KEY_ID`` and ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, with
       ``ALIBABA_CLOUD_SECURITY_TOKEN`` and ``ALIBABA_CLOUD_REGION_ID`` when set; named ``environment``.
    2. ``aliyun CLI config``: every profile of ``~/.aliyun/config.json`` of mode ``AK`` or ``StsToken``
       (its ``current`` key does not change the order).
    3. ``credentials file``: every ``type = access_key`` section of the file ``ALIBABA_CLOUD_CREDENTIALS_FILE``
       names (that file only; it must exist), else of ``~/.alibabacloud/credentials`` and
       ``~/.alibabacloud/credentials.ini``. Sections with ``enable = false`` are skipped.

    Names are unique: a later profile whose name is taken becomes ``name (source)``, then
    ``name (source) 2``. When ``ALIBABA_CLOUD_PROFILE`` is set, the result still holds every account
    but the one of that name comes first; no such account raises :class:`ConfigurationError` naming
    the available ones. Profiles that need role assumption, instance metadata or another exchange
    (``RamRoleArn``, ``EcsRamRole``, ``ram_role_arn``, ...) and incomplete ones are left out and named,
    with the reason, in one ``ConfigurationWarning`` (a ``UsagekitWarning``). A file readable or writable by
    group or others gets a ``ConfigurationWarning`` of its own suggesting ``chmod 600`` (not checked on Windows).
    Nothing here touches the network or assumes a role (the official ``alibabacloud-credentials``
    package could do that later). Malformed files raise :class:`ConfigurationError` with ``path`` and
    ``line``, never quoting a secret.

    ``environ`` and ``home`` default to ``os.environ`` and ``Path.home()``.

    >>> import tempfile
    >>> env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIexample-0000KlMn", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cret"}
    >>> with tempfile.TemporaryDirectory() as empty_home:
    ...     discover_accounts(environ=env, home=Path(empty_home))
    [Account(name='environment', access_key_id='LTAI…KlMn', source='environment')]
    """
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else Path(home)
    found, skipped = _from_environment(environ)
    files = [(home / ".aliyun" / "config.json", False, _read_cli_config)]
    files += [
        (path, required, _read_credentials_file) for path, required in _credentials_files(environ, home)
    ]
    for path, required, read in files:
        if _present(path, required=required):  # also warns when the file is open to group or others
            accounts, skips = read(path)
            found += accounts
            skipped += skips

    found = _unique_names(found)
    if skipped:
        lines = [f"  - {skip.label}: {skip.reason}" for skip in skipped]
        count = f"{len(skipped)} profile{'s' if len(skipped) > 1 else ''}"
        warnings.warn(
            f"{count} cannot be used and {'were' if len(skipped) > 1 else 'was'} left out:\n"
            + "\n".join(lines),
            ConfigurationWarning,
            stacklevel=2,
        )
    wanted = environ.get(_PROFILE_VAR, "").strip()
    if wanted:
        found = _put_first(found, skipped, wanted)
    return found


def _from_environment(environ: Mapping[str, str]) -> tuple[list[Account], list[_Skipped]]:
    key_id = environ.get(_ID_VAR, "").strip()
    secret = environ.get(_SECRET_VAR, "").strip()
    token = environ.get(_TOKEN_VAR, "").strip() or None
    region = environ.get(_REGION_VAR, "").strip() or DEFAULT_REGION
    label = f"{ENVIRONMENT} (ALIBABA_CLOUD_* variables)"
    if key_id and secret:
        account = Account(ENVIRONMENT, key_id, secret, token, region=region, source=ENVIRONMENT)
        return [account], []
    if key_id or secret:
        have, lack = (_ID_VAR, _SECRET_VAR) if key_id else (_SECRET_VAR, _ID_VAR)
        reason = f"{have} is set but {lack} is empty or unset; export both"
        return [], [_Skipped(label, ENVIRONMENT, reason)]
    if token:
        reason = f"{_TOKEN_VAR} is set without {_ID_VAR} and {_SECRET_VAR}; export all three"
        return [], [_Skipped(label, ENVIRONMENT, reason)]
    return [], []


def _credentials_files(environ: Mapping[str, str], home: Path) -> list[tuple[Path, bool]]:
    """The INI files to read, each with whether it must exist (only the one the variable names)."""
    override = environ.get(_FILE_VAR, "").strip()
    if override:
        if override == "~" or override.startswith(("~/", "~\\")):
            return [(home / override[2:], True)]
        return [(Path(override), True)]
    folder = home / ".alibabacloud"
    return [(folder / "credentials", False), (folder / "credentials.ini", False)]


def _present(path: Path, *, required: bool) -> bool:
    """Whether ``path`` exists; warns when group or others may read or write it (not on Windows)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        if required:
            raise ConfigurationError(
                f"{_FILE_VAR} names this file, which does not exist; fix or unset the variable",
                path=str(path),
            ) from None
        return False
    except OSError as error:
        raise ConfigurationError(f"cannot be examined ({error.strerror})", path=str(path)) from None
    if os.name != "nt" and stat.S_ISREG(mode) and mode & 0o077:
        warnings.warn(
            f"{path} holds credentials and is readable or writable by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}",
            ConfigurationWarning,
            stacklevel=3,
        )
    return True


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot be read ({error.strerror})", path=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:  # it holds the whole file: raise outside, so it is not chained
        line = data.count(b"\n", 0, error.start) + 1
    raise ConfigurationError("not UTF-8 text; save it as UTF-8", path=str(path), line=line)


def _json_kind(value: object) -> str:
    kinds = {
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _read_cli_config(path: Path) -> tuple[list[Account], list[_Skipped]]:
    """The AK and StsToken profiles of an aliyun CLI ``config.json``, and the others as skipped."""
    text = _read_text(path)
    problem: str | None
    line: int | None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:  # its msg never quotes the document
        problem, line = f"not valid JSON: {error.msg} (column {error.colno})", error.lineno
    else:
        problem, line = None, None
    if problem is not None:  # raised outside the handler, so no exception holding the text is chained
        raise ConfigurationError(problem, path=str(path), line=line)
    if not isinstance(data, dict):
        raise ConfigurationError(f"expected a JSON object, found {_json_kind(data)}", path=str(path))
    profiles = data.get("profiles", [])
    if not isinstance(profiles, list):
        raise ConfigurationError(f"'profiles' is {_json_kind(profiles)}, expected a list", path=str(path))
    accounts: list[Account] = []
    skipped: list[_Skipped] = []
    for number, profile in enumerate(profiles, start=1):
        if not isinstance(profile, dict):
            message = f"profile #{number} is {_json_kind(profile)}, expected an object"
            raise ConfigurationError(message, path=str(path))
        fields = {
            key: _text_field(profile, key, path, number)
            for key in (
                "name",
                "mode",
                "access_key_id",
                "access_key_secret",
                "sts_token",
                "region_id",
                "site",
            )
        }
        name, mode = fields["name"], fields["mode"]
        label = (
            f"{CLI_CONFIG} profile {name!r} ({path})" if name else f"{CLI_CONFIG} profile #{number} ({path})"
        )
        reason = _cli_problem(fields) or _site_problem(fields["site"])
        if reason is not None:
            skipped.append(_Skipped(label, name or None, reason))
            continue
        accounts.append(
            Account(
                name,
                fields["access_key_id"],
                fields["access_key_secret"],
                fields["sts_token"] if mode == "StsToken" else None,
                region=fields["region_id"] or DEFAULT_REGION,
                source=CLI_CONFIG,
                site=fields["site"].lower() or "china",
            )
        )
    return accounts, skipped


def _text_field(profile: dict[str, Any], key: str, path: Path, number: int) -> str:
    value = profile.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        message = f"profile #{number}: {key!r} is {_json_kind(value)}, expected text"
        raise ConfigurationError(message, path=str(path))
    return value.strip()


def _site_problem(site: str) -> str | None:
    """Why a profile's ``site`` field cannot be used (empty means ``china``), or None when it can."""
    if site and site.lower() not in SITES:
        return f"site = {site!r} is not one of {', '.join(SITES)}"
    return None


def _cli_problem(fields: dict[str, str]) -> str | None:
    """Why an aliyun CLI profile cannot be used, or None when it can."""
    mode = fields["mode"]
    if not fields["name"]:
        return "has no name; give it one with: aliyun configure --profile NAME"
    if not mode:
        return f"has no mode; run: aliyun configure --profile {fields['name']}"
    if mode in _CLI_MODE_NEEDS:
        return f"mode {mode} needs {_CLI_MODE_NEEDS[mode]}, {_NOT_YET}; {_CLI_HINT}"
    if mode not in ("AK", "StsToken"):
        return f"mode {mode!r} is not one usagekit knows; {_CLI_HINT}"
    missing = [key for key in ("access_key_id", "access_key_secret") if not fields[key]]
    if mode == "StsToken" and not fields["sts_token"]:
        missing.append("sts_token")
    if missing:
        return f"mode {mode} but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty"
    return None


def _read_credentials_file(path: Path) -> tuple[list[Account], list[_Skipped]]:
    """The ``type = access_key`` sections of a credentials INI file, and the others as skipped."""
    parser = configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION)
    problem = _ini_problem(parser, _read_text(path), str(path))
    if problem is not None:  # raised outside the handler: configparser's errors quote the line
        raise ConfigurationError(problem[0], path=str(path), line=problem[1])
    accounts: list[Account] = []
    skipped: list[_Skipped] = []
    for section in parser.sections():
        values = {key: value.strip() for key, value in parser.items(section)}
        name = section.strip()
        label = f"{CREDENTIALS_FILE} [{section}] ({path})"
        reason = _credentials_problem(name, values, parser) or _site_problem(values.get("site", ""))
        if reason is not None:
            skipped.append(_Skipped(label, name or None, reason))
            continue
        region = values.get("region_id") or DEFAULT_REGION
        accounts.append(
            Account(
                name,
                values["access_key_id"],
                values["access_key_secret"],
                region=region,
                source=CREDENTIALS_FILE,
                site=values.get("site", "").lower() or "china",
            )
        )
    return accounts, skipped


def _ini_problem(parser: configparser.ConfigParser, text: str, source: str) -> tuple[str, int | None] | None:
    """Parse ``text`` into ``parser``; a message (never quoting a line) and a line number on failure."""
    try:
        parser.read_string(text, source=source)
    except configparser.MissingSectionHeaderError as error:
        return "expected a '[section]' header before the first 'key = value'", error.lineno
    except configparser.ParsingError as error:
        line = error.errors[0][0] if error.errors else None
        return "expected 'key = value' or '[section]'", line
    except configparser.DuplicateSectionError as error:
        return f"section [{error.section}] appears twice; merge or rename one", error.lineno
    except configparser.DuplicateOptionError as error:
        return f"{error.option!r} appears twice in section [{error.section}]", error.lineno
    except configparser.Error as error:  # pragma: no cover - the parser raises the ones above
        return f"cannot be parsed ({type(error).__name__})", None
    return None


def _credentials_problem(name: str, values: dict[str, str], parser: configparser.ConfigParser) -> str | None:
    """Why a credentials-file section cannot be used, or None when it can."""
    if not name:
        return "has no name"
    enable = values.get("enable", "").lower()
    if enable and enable not in parser.BOOLEAN_STATES:
        return f"enable = {enable!r} is neither true nor false"
    if enable and not parser.BOOLEAN_STATES[enable]:
        return "disabled (enable = false)"
    kind = values.get("type", "")
    if not kind:
        return "has no 'type'; add 'type = access_key'"
    if kind in _INI_TYPE_NEEDS:
        return f"type {kind} needs {_INI_TYPE_NEEDS[kind]}, {_NOT_YET}; {_INI_HINT}"
    if kind == "sts":
        return f"type sts is not read from credentials files; export {_TOKEN_VAR} with the key pair instead"
    if kind != "access_key":
        return f"type {kind!r} is not one usagekit knows; {_INI_HINT}"
    missing = [key for key in ("access_key_id", "access_key_secret") if not values.get(key)]
    if missing:
        return f"type access_key but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty"
    return None


def _unique_names(accounts: list[Account]) -> list[Account]:
    """Rename later accounts whose name is taken: ``prod (credentials file)``, then ``... 2``, ``... 3``."""
    taken: set[str] = set()
    unique: list[Account] = []
    for account in accounts:
        name = account.name
        if name in taken:
            name = base = f"{account.name} ({account.source})"
            counter = 2
            while name in taken:
                name, counter = f"{base} {counter}", counter + 1
            account = replace(account, name=name)
        taken.add(name)
        unique.append(account)
    return unique


def _put_first(accounts: list[Account], skipped: list[_Skipped], wanted: str) -> list[Account]:
    """The accounts with the one named ``wanted`` (``ALIBABA_CLOUD_PROFILE``) first; raises if none is."""
    for index, account in enumerate(accounts):
        if account.name == wanted:
            return [account, *accounts[:index], *accounts[index + 1 :]]
    for skip in skipped:
        if skip.name == wanted:
            message = (
                f"{_PROFILE_VAR} is {wanted!r}, but that profile cannot be used: {skip.label}: {skip.reason}"
            )
            raise ConfigurationError(message)
    if accounts:
        available = ", ".join(repr(account.name) for account in accounts)
        message = f"{_PROFILE_VAR} is {wanted!r}, but no profile has that name; available: {available}"
    else:
        message = f"{_PROFILE_VAR} is {wanted!r}, but no usable profile was found at all"
    raise ConfigurationError(message + f"; set {_PROFILE_VAR} to one of them or unset it")
