"""Account discovery over real files in a temporary home, with explicit environments."""

from __future__ import annotations

import ast
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from usagekit.accounts import DEFAULT_REGION, Account, discover_accounts
from usagekit.errors import ConfigurationError

KEY_ID = "LTAIexample-0000KlMn"
SECRET = "Sup3rSecretValue0xDEADBEEF"
TOKEN = "CAIStsTokenValueNeverShown42"

posix_only = pytest.mark.skipif(os.name == "nt", reason="file modes are not checked on Windows")


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write ``text`` to ``path`` with ``mode`` (private by default, so no permission warning)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def profile(name: str, mode: str = "AK", **fields: Any) -> dict[str, Any]:
    """An aliyun CLI profile as the CLI writes it (all keys present, unused ones empty)."""
    base = {
        "name": name,
        "mode": mode,
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "sts_token": "",
        "ram_role_arn": "",
        "region_id": "",
        "output_format": "json",
        "language": "en",
        "retry_count": 0,
    }
    return base | fields


def cli_config(home: Path, *profiles: dict[str, Any], mode: int = 0o600) -> Path:
    document = {"current": profiles[0]["name"] if profiles else "", "profiles": list(profiles)}
    return write(home / ".aliyun" / "config.json", json.dumps(document, indent=2), mode)


def discover(home: Path, environ: dict[str, str] | None = None) -> list[Account]:
    """Discovery that must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return discover_accounts(environ=environ or {}, home=home)


def discover_warned(home: Path, environ: dict[str, str] | None = None) -> tuple[list[Account], list[str]]:
    """Discovery and the text of every warning it gave (all must be UserWarnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        accounts = discover_accounts(environ=environ or {}, home=home)
    assert all(issubclass(w.category, UserWarning) for w in caught)
    return accounts, [str(w.message) for w in caught]


def names(accounts: list[Account]) -> list[str]:
    return [account.name for account in accounts]


# --- nothing, environment --------------------------------------------------------------------------------


def test_nothing_found_is_an_empty_list_without_warning(tmp_path: Path) -> None:
    (tmp_path / ".aliyun").mkdir()  # an empty folder is not a config
    assert discover(tmp_path) == []


def test_environment_account_carries_token_and_region(tmp_path: Path) -> None:
    environ = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
        "ALIBABA_CLOUD_REGION_ID": "ap-southeast-1",
    }
    [account] = discover(tmp_path, environ)
    assert account == Account(
        "environment", KEY_ID, SECRET, TOKEN, region="ap-southeast-1", source="environment"
    )
    assert account.uses_sts


def test_environment_without_token_or_region_uses_defaults(tmp_path: Path) -> None:
    environ = {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}
    [account] = discover(tmp_path, environ)
    assert account.security_token is None
    assert account.region == DEFAULT_REGION


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID}, "ALIBABA_CLOUD_ACCESS_KEY_SECRET is empty or unset"),
        ({"ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}, "ALIBABA_CLOUD_ACCESS_KEY_ID is empty or unset"),
        (
            {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "  "},
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET is empty or unset",
        ),
        ({"ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN}, "ALIBABA_CLOUD_SECURITY_TOKEN is set without"),
    ],
)
def test_incomplete_environment_is_left_out_and_named(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    accounts, messages = discover_warned(tmp_path, environ)
    assert accounts == []
    [message] = messages
    assert "environment" in message
    assert named in message
    assert SECRET not in message and TOKEN not in message


def test_only_the_official_variable_names_are_read(tmp_path: Path) -> None:
    environ = {"ALIBABA_CLOUD_ACCESS_KEY_Id": KEY_ID, "ALIBABACLOUD_ACCESS_KEY_SECRET": SECRET}
    assert discover(tmp_path, environ) == []


# --- aliyun CLI config -----------------------------------------------------------------------------------


def test_cli_config_reads_ak_and_sts_profiles(tmp_path: Path) -> None:
    cli_config(
        tmp_path,
        profile("default", region_id="cn-shanghai", sts_token="stale-token-ignored-in-AK-mode"),
        profile("temp", "StsToken", sts_token=TOKEN),
    )
    default, temp = discover(tmp_path)
    assert default == Account("default", KEY_ID, SECRET, region="cn-shanghai", source="aliyun CLI config")
    assert temp == Account("temp", KEY_ID, SECRET, TOKEN, region=DEFAULT_REGION, source="aliyun CLI config")


def test_cli_config_without_profiles_is_empty(tmp_path: Path) -> None:
    write(tmp_path / ".aliyun" / "config.json", '{"current": ""}')
    assert discover(tmp_path) == []


UNUSABLE_CLI_PROFILES = [
    (
        profile("role", "RamRoleArn", ram_role_arn="acs:ram::1:role/x"),
        "mode RamRoleArn needs role assumption",
    ),
    (profile("chain", "ChainableRamRoleArn"), "mode ChainableRamRoleArn needs chained role assumption"),
    (profile("ecs", "EcsRamRole"), "mode EcsRamRole needs the ECS instance metadata service"),
    (profile("rsa", "RsaKeyPair"), "mode RsaKeyPair needs an RSA key pair session"),
    (profile("oidc", "OIDC"), "mode OIDC needs role assumption with an OIDC token"),
    (profile("ext", "External"), "mode External needs running an external credentials program"),
    (profile("uri", "CredentialsURI"), "mode CredentialsURI needs fetching credentials from a URI"),
    (profile("weird", "Telepathy"), "mode 'Telepathy' is not one usagekit knows"),
    (profile("blank", ""), "has no mode"),
    (profile("nosecret", access_key_secret=""), "mode AK but access_key_secret is empty"),
    (profile("noid", access_key_id=None), "mode AK but access_key_id is empty"),
    (profile("notoken", "StsToken"), "mode StsToken but sts_token is empty"),
    (profile(""), "has no name"),
]


def test_unusable_cli_profiles_are_all_named_in_one_warning(tmp_path: Path) -> None:
    cli_config(tmp_path, profile("good"), *(p for p, _ in UNUSABLE_CLI_PROFILES))
    accounts, messages = discover_warned(tmp_path)
    assert names(accounts) == ["good"]
    [message] = messages
    assert message.startswith(f"{len(UNUSABLE_CLI_PROFILES)} profiles cannot be used")
    lines = message.splitlines()[1:]
    assert len(lines) == len(UNUSABLE_CLI_PROFILES)
    for line, (unusable, reason) in zip(lines, UNUSABLE_CLI_PROFILES, strict=True):
        label = repr(unusable["name"]) if unusable["name"] else "#14"
        assert f"aliyun CLI config profile {label}" in line
        assert reason in line
    assert "which usagekit does not do yet; create an AK or StsToken profile" in lines[0]
    assert SECRET not in message and KEY_ID not in message


# --- credentials INI file --------------------------------------------------------------------------------

INI = f"""\
[default]
type = access_key
access_key_id = {KEY_ID}
access_key_secret = {SECRET}

[sg]
type = access_key
access_key_id = {KEY_ID}
access_key_secret = %{SECRET}%
region_id = ap-southeast-1
enable = true

[DEFAULT]
type = access_key
access_key_id = {KEY_ID}
access_key_secret = {SECRET}
"""


def test_credentials_file_reads_access_key_sections(tmp_path: Path) -> None:
    write(tmp_path / ".alibabacloud" / "credentials", INI)
    default, sg, upper = discover(tmp_path)
    assert default == Account("default", KEY_ID, SECRET, source="credentials file")
    assert sg == Account("sg", KEY_ID, f"%{SECRET}%", region="ap-southeast-1", source="credentials file")
    assert upper.name == "DEFAULT"  # an ordinary section, not configparser's defaults


def test_both_credentials_files_are_read(tmp_path: Path) -> None:
    folder = tmp_path / ".alibabacloud"
    write(
        folder / "credentials", f"[a]\ntype = access_key\naccess_key_id = {KEY_ID}\naccess_key_secret = x\n"
    )
    write(
        folder / "credentials.ini",
        f"[b]\ntype = access_key\naccess_key_id = {KEY_ID}\naccess_key_secret = y\n",
    )
    assert names(discover(tmp_path)) == ["a", "b"]


UNUSABLE_SECTIONS = [
    ("role", "type = ram_role_arn\nrole_arn = acs:ram::1:role/x", "type ram_role_arn needs role assumption"),
    ("oidc", "type = oidc_role_arn", "type oidc_role_arn needs role assumption with an OIDC token"),
    (
        "ecs",
        "type = ecs_ram_role\nrole_name = r",
        "type ecs_ram_role needs the ECS instance metadata service",
    ),
    ("rsa", "type = rsa_key_pair", "type rsa_key_pair needs an RSA key pair session"),
    ("sts", f"type = sts\nsecurity_token = {TOKEN}", "type sts is not read from credentials files"),
    ("odd", "type = carrier_pigeon", "type 'carrier_pigeon' is not one usagekit knows"),
    ("untyped", "", "has no 'type'; add 'type = access_key'"),
    ("off", "type = access_key\nenable = false", "disabled (enable = false)"),
    ("maybe", "type = access_key\nenable = perhaps", "enable = 'perhaps' is neither true nor false"),
    ("empty", "type = access_key\naccess_key_secret =", "type access_key but access_key_secret is empty"),
]


def test_unusable_sections_are_all_named_in_one_warning(tmp_path: Path) -> None:
    sections = [f"[ok]\ntype = access_key\naccess_key_id = {KEY_ID}\naccess_key_secret = {SECRET}\n"]
    for name, body, _ in UNUSABLE_SECTIONS:
        credentials = "" if "access_key_secret" in body else f"access_key_secret = {SECRET}\n"
        sections.append(f"[{name}]\naccess_key_id = {KEY_ID}\n{credentials}{body}\n")
    path = write(tmp_path / ".alibabacloud" / "credentials.ini", "\n".join(sections))
    accounts, messages = discover_warned(tmp_path)
    assert names(accounts) == ["ok"]
    [message] = messages
    lines = message.splitlines()[1:]
    for line, (name, _, reason) in zip(lines, UNUSABLE_SECTIONS, strict=True):
        assert line.startswith(f"  - credentials file [{name}] ({path}): {reason}")
    assert SECRET not in message and TOKEN not in message


def test_credentials_file_variable_overrides_the_default_files(tmp_path: Path) -> None:
    write(tmp_path / ".alibabacloud" / "credentials", INI)
    chosen = write(
        tmp_path / "elsewhere" / "creds",
        f"[only]\ntype = access_key\naccess_key_id = {KEY_ID}\naccess_key_secret = s\n",
    )
    assert names(discover(tmp_path, {"ALIBABA_CLOUD_CREDENTIALS_FILE": str(chosen)})) == ["only"]
    assert names(discover(tmp_path, {"ALIBABA_CLOUD_CREDENTIALS_FILE": "~/elsewhere/creds"})) == ["only"]


def test_credentials_file_variable_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.ini"
    with pytest.raises(ConfigurationError, match="ALIBABA_CLOUD_CREDENTIALS_FILE names this file") as caught:
        discover(tmp_path, {"ALIBABA_CLOUD_CREDENTIALS_FILE": str(missing)})
    assert caught.value.path == str(missing)


# --- names, order, ALIBABA_CLOUD_PROFILE -----------------------------------------------------------------


def duplicated_world(home: Path) -> dict[str, str]:
    cli_config(home, profile("prod"), profile("environment"), profile("prod (credentials file)"))
    section = f"[prod]\ntype = access_key\naccess_key_id = {KEY_ID}\naccess_key_secret = {SECRET}\n"
    write(home / ".alibabacloud" / "credentials", section)
    write(home / ".alibabacloud" / "credentials.ini", section)
    return {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}


def test_duplicate_names_across_sources_are_renamed_with_their_source(tmp_path: Path) -> None:
    environ = duplicated_world(tmp_path)
    accounts = discover(tmp_path, environ)
    assert names(accounts) == [
        "environment",
        "prod",
        "environment (aliyun CLI config)",
        "prod (credentials file)",  # the CLI profile that was literally named so
        "prod (credentials file) 2",
        "prod (credentials file) 3",
    ]
    assert [a.source for a in accounts] == ["environment"] + ["aliyun CLI config"] * 3 + [
        "credentials file"
    ] * 2


def test_named_profile_comes_first_and_everything_else_stays(tmp_path: Path) -> None:
    environ = duplicated_world(tmp_path) | {"ALIBABA_CLOUD_PROFILE": "prod (credentials file) 2"}
    accounts = discover(tmp_path, environ)
    assert names(accounts) == [
        "prod (credentials file) 2",
        "environment",
        "prod",
        "environment (aliyun CLI config)",
        "prod (credentials file)",
        "prod (credentials file) 3",
    ]


def test_unknown_profile_name_is_an_error_naming_the_available_ones(tmp_path: Path) -> None:
    environ = duplicated_world(tmp_path) | {"ALIBABA_CLOUD_PROFILE": "staging"}
    with pytest.raises(ConfigurationError) as caught:
        discover(tmp_path, environ)
    message = str(caught.value)
    assert "ALIBABA_CLOUD_PROFILE is 'staging', but no profile has that name" in message
    assert "'environment', 'prod', 'environment (aliyun CLI config)'" in message


def test_profile_name_with_nothing_found_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no usable profile was found"):
        discover(tmp_path, {"ALIBABA_CLOUD_PROFILE": "prod"})


def test_profile_name_of_an_unusable_profile_says_why(tmp_path: Path) -> None:
    cli_config(tmp_path, profile("ok"), profile("ops", "RamRoleArn"))
    with (
        warnings.catch_warnings(),
        pytest.raises(ConfigurationError, match="mode RamRoleArn needs") as caught,
    ):
        warnings.simplefilter("ignore")
        discover_accounts(environ={"ALIBABA_CLOUD_PROFILE": "ops"}, home=tmp_path)
    assert "'ops'" in str(caught.value)


# --- file permissions ------------------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("where", [".aliyun/config.json", ".alibabacloud/credentials"])
def test_credentials_readable_by_others_warn_once_per_file(tmp_path: Path, where: str) -> None:
    if where.endswith(".json"):
        path = cli_config(tmp_path, profile("p"), mode=0o644)
    else:
        path = write(tmp_path / where, INI, mode=0o644)
    accounts, messages = discover_warned(tmp_path)
    assert accounts
    [message] = messages
    assert str(path) in message and "mode 0644" in message
    assert f"chmod 600 {path}" in message
    path.chmod(0o600)
    assert discover(tmp_path) == accounts


@posix_only
def test_each_exposed_file_gets_its_own_warning(tmp_path: Path) -> None:
    cli_config(tmp_path, profile("p"), mode=0o640)
    write(tmp_path / ".alibabacloud" / "credentials", INI, mode=0o604)
    _, messages = discover_warned(tmp_path)
    assert len(messages) == 2
    assert "mode 0640" in messages[0] and "mode 0604" in messages[1]


# --- malformed files -------------------------------------------------------------------------------------


def test_malformed_json_names_file_and_line_without_the_secret(tmp_path: Path) -> None:
    text = f'{{\n  "profiles": [\n    {{"name": "p",\n     "access_key_secret": "{SECRET}" "mode": "AK"}}\n  ]\n}}\n'
    path = write(tmp_path / ".aliyun" / "config.json", text)
    with pytest.raises(ConfigurationError) as caught:
        discover(tmp_path)
    error = caught.value
    assert (error.path, error.line) == (str(path), 4)
    assert str(error).startswith(f"{path}:4: not valid JSON")
    assert SECRET not in str(error)
    assert error.__cause__ is None and error.__context__ is None  # the decoder's error holds the whole text


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (f"[p]\ntype = access_key\n{SECRET}\n", 3, "expected 'key = value' or '[section]'"),
        (f"access_key_secret = {SECRET}\n[p]\n", 1, "expected a '[section]' header"),
        (
            f"[p]\naccess_key_secret = a\naccess_key_secret = {SECRET}\n",
            3,
            "'access_key_secret' appears twice",
        ),
        (f"[p]\naccess_key_secret = {SECRET}\n[p]\n", 3, "section [p] appears twice"),
    ],
)
def test_malformed_ini_names_file_and_line_without_the_secret(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = write(tmp_path / ".alibabacloud" / "credentials", text)
    with pytest.raises(ConfigurationError) as caught:
        discover(tmp_path)
    error = caught.value
    assert (error.path, error.line) == (str(path), line)
    assert says in str(error)
    assert SECRET not in str(error)
    assert error.__cause__ is None and error.__context__ is None


def test_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / ".alibabacloud" / "credentials"
    write(path, "")
    path.write_bytes(b"[p]\ntype = access_key\naccess_key_secret = \xff\xfe" + SECRET.encode() + b"\n")
    with pytest.raises(ConfigurationError, match="not UTF-8") as caught:
        discover(tmp_path)
    assert caught.value.line == 3
    assert SECRET not in str(caught.value) and caught.value.__context__ is None


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ([], "expected a JSON object, found a list"),
        ({"profiles": {"name": "p"}}, "'profiles' is an object, expected a list"),
        ({"profiles": None}, "'profiles' is null, expected a list"),
        ({"profiles": [profile("a"), "b"]}, "profile #2 is text, expected an object"),
        (
            {"profiles": [profile("a", access_key_secret=12345)]},
            "profile #1: 'access_key_secret' is a number",
        ),
    ],
)
def test_wrongly_typed_cli_config_names_the_file(tmp_path: Path, document: Any, says: str) -> None:
    path = write(tmp_path / ".aliyun" / "config.json", json.dumps(document))
    with pytest.raises(ConfigurationError, match=says) as caught:
        discover(tmp_path)
    assert caught.value.path == str(path)
    assert "12345" not in str(caught.value)


def test_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".aliyun" / "config.json").mkdir(parents=True)  # exists, cannot be read as a file
    with pytest.raises(ConfigurationError, match="cannot be read") as caught:
        discover(tmp_path)
    assert caught.value.path == str(tmp_path / ".aliyun" / "config.json")


# --- secrets never shown ---------------------------------------------------------------------------------

secrets = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=6, max_size=40
)


@given(secret=secrets, token=st.one_of(st.none(), secrets))
def test_account_displays_never_show_secret_or_token(secret: str, token: str | None) -> None:
    account = Account("prod", KEY_ID, secret, token, region="cn-beijing", source="aliyun CLI config")
    placeholder = Account(
        "prod", KEY_ID, "*", None if token is None else "*", region="cn-beijing", source="aliyun CLI config"
    )
    shown = repr(placeholder) + str(placeholder) + placeholder._repr_html_()
    assume(secret not in shown and (token is None or token not in shown))
    displayed = repr(account) + str(account) + account._repr_html_()
    assert secret not in displayed
    assert token is None or token not in displayed


@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=", min_size=16)
)
def test_discovered_accounts_and_warnings_never_show_the_secret(tmp_path_factory: Any, secret: str) -> None:
    home = tmp_path_factory.mktemp("home")
    cli_config(
        home, profile("ok", access_key_secret=secret), profile("role", "RamRoleArn", access_key_secret=secret)
    )
    accounts, messages = discover_warned(home)
    [account] = accounts
    assert account.access_key_secret == secret
    assert secret not in repr(accounts) + str(account) + account._repr_html_() + "".join(messages)


def test_accounts_module_never_imports_the_sandbox() -> None:
    import usagekit.accounts

    tree = ast.parse(Path(usagekit.accounts.__file__).read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imported and not any("sandbox" in name for name in imported)
