"""No secret, STS token or signature in any log record, repr, message or exception chain.

Every scenario runs with DEBUG logging on (root and urllib3), for V2 and V3, for an access-key and an STS
account: successful calls, API errors whose text echoes the credentials (the real gateway's
SignatureDoesNotMatch message quotes its string to sign, token included), a proxy page echoing the request,
a refused connection, a timeout and a dropped connection on a create.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator

import pytest
from _signing_server import Reply, SigningServer

from usagekit.accounts import Account
from usagekit.client import CdnClient, RetryPolicy
from usagekit.errors import (
    AuthenticationError,
    MayHaveRunError,
    ResponseError,
    TransportError,
    UsagekitError,
)
from usagekit.signing import percent_encode

SECRET = "Sup3r/Secret+Key=="
TOKEN = "CAIS+sts/Token=Value%With&Odd*Chars"
AK = Account("prod", "LTAI5tSecretsTest01", SECRET)
STS = Account("temp", "STS.SecretsTestKey1", SECRET, security_token=TOKEN)
KEYS = {AK.access_key_id: (SECRET, None), STS.access_key_id: (SECRET, TOKEN)}
QUERY = re.compile(r"\?[A-Za-z]+=")


def forbidden_forms(account: Account = STS) -> set[str]:
    """The secret and token of ``account`` as they could appear: raw, percent-encoded once and twice."""
    forms = set()
    for value in (account.access_key_secret, account.security_token):
        if not value:
            continue
        once = percent_encode(value)
        forms |= {value, once, percent_encode(once)}
    return forms


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def texts_of_chain(error: BaseException) -> list[str]:
    """Every text an exception chain can show: str, repr, args, notes, attributes, causes, contexts."""
    texts: list[str] = []
    pending: list[BaseException] = [error]
    seen: list[BaseException] = []
    while pending:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        texts += [str(current), repr(current), *getattr(current, "__notes__", [])]
        for arg in current.args:
            texts += [str(arg), repr(arg)]
            if isinstance(arg, BaseException):
                pending.append(arg)
        for value in vars(current).values():
            texts.append(repr(value))
            if isinstance(value, BaseException):
                pending.append(value)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return texts


@pytest.fixture
def server() -> Iterator[SigningServer]:
    with SigningServer(KEYS) as running:
        yield running


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="usagekit.client")
    return caplog


def echoing_replies(server: SigningServer, account: Account) -> None:
    """Script replies that quote the account's credentials back, as a real gateway or a proxy might."""
    token = account.security_token or ""
    string_to_sign = (
        f"POST&%2F&AccessKeyId%3D{account.access_key_id}%26SecurityToken%3D"
        + percent_encode(percent_encode(token))
        + "%26SignatureMethod%3DHMAC-SHA1"
    )
    server.script(
        Reply(
            400,
            {
                "RequestId": "E-1",
                "Code": "SignatureDoesNotMatch",
                "Message": f"Specified signature is not matched with our calculation. server string to sign is:"
                f"{string_to_sign} token {token} {percent_encode(token)} secret {SECRET}",
                "Recommend": f"https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch&token={token}",
            },
        ),
        Reply(
            403,
            f"<html>denied: POST /?SecurityToken={percent_encode(token)}&x={SECRET}</html>",
            {"content-type": "text/html"},
        ),
    )


@pytest.mark.parametrize("signature", ["v2", "v3"])
@pytest.mark.parametrize("account", [AK, STS], ids=["ak", "sts"])
def test_no_secret_anywhere(
    server: SigningServer,
    debug_logs: pytest.LogCaptureFixture,
    signature: str,
    account: Account,
) -> None:
    waits: list[float] = []
    errors: list[UsagekitError] = []
    on_server = Account(
        account.name, account.access_key_id, SECRET, account.security_token, endpoint=server.url
    )
    client = CdnClient(on_server, signature=signature, timeout=(2.0, 0.1), sleep=waits.append)  # type: ignore[arg-type]

    # successful calls
    assert client.call("DescribeUserUsageDataExportTask", PageSize=20, PageNumber=1)["Verified"] is True
    # API error and proxy page quoting the credentials back
    echoing_replies(server, account)
    with pytest.raises(AuthenticationError) as api_error:
        client.call("DescribeUserUsageDataExportTask", PageSize=20)
    errors.append(api_error.value)
    with pytest.raises(ResponseError) as page_error:
        client.call("DescribeUserUsageDataExportTask", PageSize=20)
    errors.append(page_error.value)
    # a timeout on a read (retried once, then given up) and a timeout on a create (may have run)
    server.script("hang", "hang")
    retrying = CdnClient(
        on_server,
        signature=signature,
        timeout=(2.0, 0.1),
        retry=RetryPolicy(max_attempts=2),
        sleep=waits.append,  # type: ignore[arg-type]
    )
    with pytest.raises(TransportError) as timeout_error:
        retrying.call("DescribeUserUsageDataExportTask", PageSize=20)
    errors.append(timeout_error.value)
    server.script("hang")
    with pytest.raises(MayHaveRunError) as create_timeout:
        client.call("CreateUserUsageDataExportTask", StartTime="a", EndTime="b")
    errors.append(create_timeout.value)
    # a dropped connection on a create
    server.script("drop")
    with pytest.raises(MayHaveRunError) as dropped:
        client.call("DeleteUserUsageDataExportTask", TaskId="7")
    errors.append(dropped.value)
    # a refused connection, retried then given up
    refused = Account(account.name, account.access_key_id, SECRET, account.security_token)
    closed = CdnClient(
        refused,
        endpoint=f"http://127.0.0.1:{closed_port()}",
        signature=signature,
        retry=RetryPolicy(max_attempts=2),
        sleep=waits.append,  # type: ignore[arg-type]
    )
    with pytest.raises(TransportError) as connection_error:
        closed.call("DescribeUserUsageDataExportTask", PageSize=20)
    errors.append(connection_error.value)

    # the credentials really were used: the server saw the token and a signature in every signed request
    assert server.seen and all(seen.token == account.security_token for seen in server.seen)
    signatures = {seen.form.get("Signature") or seen.headers.get("authorization", "") for seen in server.seen}
    signatures = {value.rsplit("=", 1)[-1] if value.startswith("ACS3") else value for value in signatures}
    assert all(signatures)
    forbidden = forbidden_forms(account) | signatures

    texts: list[str] = []
    for error in errors:
        texts += texts_of_chain(error)
        # no URL query in transport errors: the V3 parameters stay out of every message and cause
        if isinstance(error, TransportError):
            chain = texts_of_chain(error)
            assert not [text for text in chain if QUERY.search(text) or "PageSize" in text], chain
    for thing in (client, retrying, closed, on_server, account, client.retry):
        texts += [repr(thing), str(thing)]
    texts.append(on_server._repr_html_())
    records = debug_logs.records
    assert any(record.name.startswith("urllib3") for record in records)  # DEBUG logging really was on
    assert any(record.name == "usagekit.client" for record in records)  # and retries were logged
    for record in records:
        texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    texts.append(debug_logs.text)

    leaks = sorted({value for value in forbidden for text in texts if value in text})
    assert leaks == [], f"leaked {len(leaks)} secret form(s)"
    # and the errors still say what a user needs
    assert api_error.value.request_id == "E-1"
    assert "SignatureDoesNotMatch" in str(api_error.value)
    assert "list the tasks" in str(create_timeout.value)


def test_scrub_masks_every_form() -> None:
    client = CdnClient(STS)
    masked = client._scrub(
        f"{SECRET} {TOKEN} {percent_encode(TOKEN)} {percent_encode(percent_encode(TOKEN))}"
    )
    assert not any(form in masked for form in forbidden_forms())
    assert client._scrub("GET https://h/p?SecurityToken=abc&x=1 failed, url: /?Action=X") == (
        "GET https://h/p failed, url: /"
    )


def test_redact_masks_before_it_cuts() -> None:
    from usagekit.redact import redact

    text = "x" * 190 + " " + TOKEN + " Signature=abc&OSSAccessKeyId=LTAIoss Expires=17"
    shown = redact(text, [TOKEN], limit=200)
    assert len(shown) <= 200 and TOKEN[:5] not in shown
    bare = redact("denied: Signature=abc%2B&OSSAccessKeyId=LTAIoss&Expires=17 and x-oss-signature=zz")
    assert all(value not in bare for value in ("abc%2B", "LTAIoss", "17", "zz"))
