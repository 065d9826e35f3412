"""CdnClient over real sockets to a local server that verifies every signature independently."""

from __future__ import annotations

import http.server
import logging
import random
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from _signing_server import Reply, SigningServer

import usagekit
from usagekit.accounts import Account
from usagekit.client import API_VERSION, CdnClient, RetryPolicy, TransportCause
from usagekit.errors import (
    ApiError,
    ArgumentError,
    AuthenticationError,
    ConfigurationError,
    InvalidParameterError,
    MayHaveRunError,
    ResponseError,
    ServiceUnavailableError,
    ThrottledError,
    TransportError,
)

AK = Account("prod", "LTAI5tTestAkKeyId01", "ak-secret/Value+=")
STS = Account("temp", "STS.NUtestKeyId0001", "sts-secret-value", security_token="CAIS/token+with=chars")
KEYS = {
    AK.access_key_id: (AK.access_key_secret, None),
    STS.access_key_id: ("sts-secret-value", "CAIS/token+with=chars"),
}
DESCRIBE = "DescribeUserUsageDataExportTask"
CREATE = "CreateUsageDetailDataExportTask"

THROTTLED = Reply(503, {"RequestId": "T-1", "Code": "Throttling.User", "Message": "Request was denied."})
UNAVAILABLE = Reply(503, {"RequestId": "U-1", "Code": "ServiceUnavailable", "Message": "Try later."})
INTERNAL = Reply(500, {"RequestId": "I-1", "Code": "InternalError", "Message": "Oops."})
OK = Reply(200, {"RequestId": "OK-1", "TaskId": "42"})

# The seed document's example reply: not valid JSON (duplicate key is fine, the missing comma and the
# trailing comma are not).
SEED_EXAMPLE = """{
  "RequestId": "A91BE91F-0B34-4CBF-8E0F-A2977E15AA52",
  "UsageDataPerPage": {
    "PageSize": 10,
    "TotalCount": 1,
    "PageNumber": 1,
    "Data": {
      "DataItem": [
        {
          "TaskId": 11,
          "UpdateTime": "2018-10-09T06:35:01Z",
          "DownloadUrl": "example.com",
          "UpdateTime": "2018-10-09T06:35:46Z",
          "CreateTime": "2018-10-09T06:33:38Z",
          "Status": "success"
          "TaskConfig": {
            "StartTime": "2018-07-31T16:00:00Z",
            "EndTime": "2018-08-31T15:59:59Z"
          },
        }
      ]
    }
  }
}"""


class FakeTime:
    """An injected clock and sleep: sleeping records the wait and moves the clock, instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def server() -> Iterator[SigningServer]:
    with SigningServer(KEYS) as running:
        yield running


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def make(
    server: SigningServer,
    fake: FakeTime,
    account: Account = AK,
    *,
    retry: RetryPolicy | None = None,
    **kwargs: object,
) -> CdnClient:
    policy = retry or RetryPolicy(rng=random.Random(5))
    return CdnClient(account, endpoint=server.url, retry=policy, sleep=fake.sleep, clock=fake.clock, **kwargs)  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- signatures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["v2", "v3"])
@pytest.mark.parametrize("account", [AK, STS], ids=["ak", "sts"])
def test_requests_verify_independently(
    server: SigningServer, fake: FakeTime, signature: str, account: Account
) -> None:
    with make(server, fake, account, signature=signature) as client:
        reply = client.call(DESCRIBE, PageSize=20, PageNumber=1, Note="a b*~/é中")
    seen = server.seen[-1]
    assert (seen.version, seen.verified, seen.problem) == (signature, True, "")
    assert reply["Verified"] is True
    assert seen.params["Note"] == "a b*~/é中"
    assert seen.params["PageSize"] == "20"
    assert seen.method == "POST" and seen.path == "/"
    assert seen.token == account.security_token
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["user-agent"].startswith(f"usagekit/{usagekit.__version__} python-requests/")
    if signature == "v2":
        assert seen.query == {}  # nothing in the URL: no credential ever sits in a URL
        assert seen.form["Action"] == DESCRIBE and seen.form["Version"] == API_VERSION
        assert seen.form["Format"] == "JSON"
    else:
        assert set(seen.query) == {"PageSize", "PageNumber", "Note"}
        assert seen.headers["x-acs-action"] == DESCRIBE
        assert seen.headers["x-acs-version"] == API_VERSION
        assert len(seen.headers["x-acs-signature-nonce"]) == 32


@pytest.mark.parametrize("signature", ["v2", "v3"])
def test_wrong_secret_is_refused_and_not_retried(
    server: SigningServer, fake: FakeTime, signature: str
) -> None:
    wrong = Account("prod", AK.access_key_id, "not-the-secret")
    with (
        make(server, fake, wrong, signature=signature) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.call(DESCRIBE)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.request_id == "BAD-SIG"
    assert len(server.seen) == 1 and fake.waits == []


@pytest.mark.parametrize("signature", ["v2", "v3"])
def test_each_attempt_signed_afresh(server: SigningServer, fake: FakeTime, signature: str) -> None:
    server.script(THROTTLED, THROTTLED)
    with make(server, fake, signature=signature) as client:
        client.call(DESCRIBE, PageNumber=1)
    assert len(server.seen) == 3
    assert all(seen.verified for seen in server.seen)
    if signature == "v2":
        nonces = {seen.form["SignatureNonce"] for seen in server.seen}
    else:
        nonces = {seen.headers["x-acs-signature-nonce"] for seen in server.seen}
    assert len(nonces) == 3


# --- retries ---------------------------------------------------------------------------------------


def test_throttling_retried_with_full_jitter_backoff(server: SigningServer, fake: FakeTime) -> None:
    server.script(THROTTLED, THROTTLED, THROTTLED)
    with make(server, fake, retry=RetryPolicy(rng=random.Random(11))) as client:
        assert client.call(DESCRIBE)["Verified"] is True
    expected = random.Random(11)
    assert fake.waits == [expected.uniform(0, 0.2), expected.uniform(0, 0.4), expected.uniform(0, 0.8)]
    assert len(server.seen) == 4


def test_before_attempt_runs_before_every_attempt_after_the_backoff(
    server: SigningServer, fake: FakeTime
) -> None:
    events: list[str] = []
    server.script(THROTTLED, UNAVAILABLE, THROTTLED)
    client = CdnClient(
        AK,
        endpoint=server.url,
        retry=RetryPolicy(rng=random.Random(5)),
        sleep=lambda seconds: events.append("backoff"),
        clock=fake.clock,
        before_attempt=lambda: events.append(f"token, {len(server.seen)} seen"),
    )
    with client:
        assert client.call(DESCRIBE)["Verified"] is True
    assert events == [
        "token, 0 seen",
        "backoff",
        "token, 1 seen",
        "backoff",
        "token, 2 seen",
        "backoff",
        "token, 3 seen",
    ]
    assert len(server.seen) == 4


def test_before_attempt_must_be_callable(server: SigningServer, fake: FakeTime) -> None:
    with pytest.raises(ArgumentError, match="before_attempt must be callable"):
        make(server, fake, before_attempt=3)
    with make(server, fake) as client:
        assert client.before_attempt is None


def test_retry_after_header_is_milliseconds(server: SigningServer, fake: FakeTime) -> None:
    server.script(Reply(400, {"Code": "Throttling", "Message": "slow down"}, {"x-acs-retry-after": "1500"}))
    with make(server, fake) as client:
        client.call(DESCRIBE)
    assert fake.waits == [1.5]


def test_retry_after_bounded_by_cap_and_reported(server: SigningServer, fake: FakeTime) -> None:
    slow = Reply(400, {"Code": "SomethingOdd", "Message": "later"}, {"x-acs-retry-after": "60000"})
    server.script(slow, slow)
    client = make(server, fake, retry=RetryPolicy(max_attempts=2, cap=4.0))
    with client, pytest.raises(ThrottledError) as caught:  # any reply with x-acs-retry-after is throttling
        client.call(DESCRIBE)
    assert fake.waits == [4.0]
    assert caught.value.retry_after == 60.0
    assert "max_attempts" in " ".join(caught.value.__notes__)


def test_invalid_parameter_not_retried(server: SigningServer, fake: FakeTime) -> None:
    server.script(
        Reply(
            400,
            {
                "RequestId": "RID-7",
                "Code": "InvalidStartTime.Malformed",
                "Message": "Specified StartTime is malformed.",
                "Recommend": "https://api.aliyun.com/troubleshoot?q=InvalidStartTime.Malformed",
            },
        )
    )
    with make(server, fake) as client, pytest.raises(InvalidParameterError) as caught:
        client.call(CREATE, Type="flow", StartTime="yesterday", EndTime="today")
    error = caught.value
    assert (error.code, error.status, error.request_id) == ("InvalidStartTime.Malformed", 400, "RID-7")
    assert (error.action, error.account) == (CREATE, "prod")
    assert error.message == "Specified StartTime is malformed."
    assert error.recommend == "https://api.aliyun.com/troubleshoot?q=InvalidStartTime.Malformed"
    assert len(server.seen) == 1 and fake.waits == []


def test_request_id_from_header_when_body_has_none(server: SigningServer, fake: FakeTime) -> None:
    server.script(
        Reply(403, {"Code": "OperationDenied", "Message": "CDN not opened"}, {"x-acs-request-id": "H-9"})
    )
    with make(server, fake) as client, pytest.raises(ApiError) as caught:
        client.call(DESCRIBE)
    assert caught.value.request_id == "H-9"
    assert type(caught.value).__name__ == "PermissionDeniedError"


def test_unavailable_internal_and_5xx_retried(server: SigningServer, fake: FakeTime) -> None:
    server.script(
        UNAVAILABLE,
        INTERNAL,
        Reply(502, "<html><body>Bad Gateway</body></html>", {"content-type": "text/html"}),
        Reply(504, b"", {}),
    )
    with make(server, fake) as client:
        assert client.call(DESCRIBE)["Verified"] is True
    assert len(server.seen) == 5 and len(fake.waits) == 4


def test_deadline_respected_with_fake_clock(server: SigningServer, fake: FakeTime) -> None:
    slow = Reply(503, {"Code": "Throttling"}, {"x-acs-retry-after": "400"})
    server.script(*[slow] * 10)
    policy = RetryPolicy(base=0.001, deadline=1.0)
    with make(server, fake, retry=policy) as client, pytest.raises(ThrottledError) as caught:
        client.call(DESCRIBE)
    # waits at t=0 and t=0.4 fit; the one at t=0.8 would end at 1.2 > 1.0 and is not taken
    assert fake.waits == [0.4, 0.4]
    assert len(server.seen) == 3
    assert "deadline" in " ".join(caught.value.__notes__)


def test_max_attempts_bound(server: SigningServer, fake: FakeTime) -> None:
    server.script(*[THROTTLED] * 5)
    with make(server, fake, retry=RetryPolicy(max_attempts=3)) as client, pytest.raises(ThrottledError):
        client.call(DESCRIBE)
    assert len(server.seen) == 3 and len(fake.waits) == 2


def test_create_retried_after_throttling(server: SigningServer, fake: FakeTime) -> None:
    server.script(THROTTLED, UNAVAILABLE, OK)
    with make(server, fake) as client:
        assert client.call(CREATE, Type="flow", StartTime="a", EndTime="b") == {
            "RequestId": "OK-1",
            "TaskId": "42",
        }
    assert len(server.seen) == 3


def test_create_not_retried_after_timeout(server: SigningServer, fake: FakeTime) -> None:
    server.script("hang")
    with make(server, fake, timeout=(2.0, 0.2)) as client, pytest.raises(MayHaveRunError) as caught:
        client.call(CREATE, Type="flow", StartTime="a", EndTime="b")
    assert "may have run" in str(caught.value) and "list the tasks" in str(caught.value)
    assert caught.value.action == CREATE and caught.value.account == "prod"
    assert len(server.seen) == 1 and fake.waits == []


def test_describe_retried_after_timeout(server: SigningServer, fake: FakeTime) -> None:
    server.script("hang")
    with make(server, fake, timeout=(2.0, 0.2)) as client:
        assert client.call(DESCRIBE)["Verified"] is True
    assert len(server.seen) == 2 and len(fake.waits) == 1


@pytest.mark.parametrize("action", [CREATE, "DeleteUsageDetailDataExportTask"])
def test_state_change_not_retried_after_dropped_connection(
    server: SigningServer, fake: FakeTime, action: str
) -> None:
    server.script("drop")
    with make(server, fake) as client, pytest.raises(MayHaveRunError):
        client.call(action, TaskId="1")
    assert len(server.seen) == 1 and fake.waits == []


def test_describe_retried_after_dropped_connection(server: SigningServer, fake: FakeTime) -> None:
    server.script("drop", "drop")
    with make(server, fake) as client:
        assert client.call(DESCRIBE)["Verified"] is True
    assert len(server.seen) == 3


def test_create_internal_error_may_have_run(server: SigningServer, fake: FakeTime) -> None:
    server.script(INTERNAL)
    with make(server, fake) as client, pytest.raises(MayHaveRunError) as caught:
        client.call(CREATE, Type="vas", StartTime="a", EndTime="b")
    assert isinstance(caught.value.__cause__, ServiceUnavailableError)
    assert caught.value.__cause__.request_id == "I-1"
    assert len(server.seen) == 1


@pytest.mark.parametrize("action", [DESCRIBE, CREATE])
def test_connection_refused_retried_for_any_call(fake: FakeTime, action: str) -> None:
    account = Account(
        "prod", AK.access_key_id, AK.access_key_secret, endpoint=f"http://127.0.0.1:{closed_port()}"
    )
    client = CdnClient(account, retry=RetryPolicy(max_attempts=3), sleep=fake.sleep, clock=fake.clock)
    with client, pytest.raises(TransportError) as caught:
        client.call(action, Type="flow")
    assert type(caught.value) is TransportError  # never sent: not "may have run"
    assert "could not connect" in str(caught.value)
    assert len(fake.waits) == 2


def test_transport_error_keeps_a_sanitized_cause_chain(fake: FakeTime) -> None:
    """The requests/urllib3 chain is included, as sanitized stand-ins: types and reasons, no query."""
    account = Account(
        "prod", AK.access_key_id, AK.access_key_secret, endpoint=f"http://127.0.0.1:{closed_port()}"
    )
    client = CdnClient(
        account, retry=RetryPolicy(max_attempts=1), signature="v3", sleep=fake.sleep, clock=fake.clock
    )
    with client, pytest.raises(TransportError) as caught:
        client.call(DESCRIBE, PageSize="50", PageNumber="1")
    chain = []
    current: BaseException | None = caught.value.__cause__
    while current is not None:
        chain.append(current)
        current = current.__cause__
    assert chain and all(isinstance(item, TransportCause) for item in chain)
    texts = [str(item) for item in chain]
    assert texts[0].startswith("requests.exceptions.ConnectionError: ")
    assert any("ConnectionRefusedError" in text for text in texts)
    assert not [text for text in texts if "PageSize" in text or "?" in text]


def test_retries_logged_at_debug_without_params(
    server: SigningServer, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(THROTTLED)
    with caplog.at_level(logging.DEBUG, logger="usagekit.client"), make(server, fake) as client:
        client.call(DESCRIBE, DomainNames="private.example.org")
    records = [r for r in caplog.records if r.name == "usagekit.client"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert DESCRIBE in message and "'prod'" in message and "Throttling.User" in message
    assert "attempt 1" in message
    assert "private.example.org" not in message and "?" not in message


# --- replies that are not the API's JSON ------------------------------------------------------------


def test_html_body_raises_response_error_with_request_id(server: SigningServer, fake: FakeTime) -> None:
    page = "<html><head><title>403 Forbidden</title></head><body>blocked by proxy</body></html>"
    server.script(Reply(403, page, {"content-type": "text/html", "x-acs-request-id": "PROXY-1"}))
    with make(server, fake) as client, pytest.raises(ResponseError) as caught:
        client.call(DESCRIBE)
    assert caught.value.request_id == "PROXY-1"
    assert caught.value.status == 403
    assert caught.value.snippet.startswith("<html><head><title>403")
    assert len(server.seen) == 1


def test_seed_documents_broken_json_raises_response_error(server: SigningServer, fake: FakeTime) -> None:
    server.script(Reply(200, SEED_EXAMPLE))
    with make(server, fake) as client, pytest.raises(ResponseError) as caught:
        client.call(DESCRIBE)
    assert caught.value.request_id == "A91BE91F-0B34-4CBF-8E0F-A2977E15AA52"
    assert len(caught.value.snippet) <= 200
    assert "A91BE91F" in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Reply(200, b""), "empty reply"),
        (Reply(200, b"\xff\xfe not json at all"), "not the API's JSON"),
        (Reply(200, [1, 2]), "expected shape"),
        (Reply(400, {"Message": "no code here"}), "without an error code"),
    ],
)
def test_other_bad_replies_raise_response_error(
    server: SigningServer, fake: FakeTime, reply: Reply, needle: str
) -> None:
    server.script(reply)
    with make(server, fake) as client, pytest.raises(ResponseError) as caught:
        client.call(DESCRIBE)
    assert needle in str(caught.value)
    assert caught.value.request_id is None


def test_gateway_page_on_create_may_have_run(server: SigningServer, fake: FakeTime) -> None:
    server.script(Reply(504, "<html>Gateway Timeout</html>", {"content-type": "text/html"}))
    with make(server, fake) as client, pytest.raises(MayHaveRunError) as caught:
        client.call(CREATE, Type="flow", StartTime="a", EndTime="b")
    assert isinstance(caught.value.__cause__, ResponseError)
    assert len(server.seen) == 1


def test_success_without_json_on_create_may_have_run(server: SigningServer, fake: FakeTime) -> None:
    server.script(Reply(200, "<html>Welcome to the captive portal</html>", {"content-type": "text/html"}))
    with make(server, fake) as client, pytest.raises(MayHaveRunError) as caught:
        client.call(CREATE, Type="flow", StartTime="a", EndTime="b")
    assert isinstance(caught.value.__cause__, ResponseError)
    assert caught.value.__cause__.snippet.startswith("<html>Welcome")


def test_non_json_reply_with_retry_after_is_throttling(server: SigningServer, fake: FakeTime) -> None:
    server.script(Reply(429, "Too Many Requests", {"content-type": "text/plain", "x-acs-retry-after": "250"}))
    with make(server, fake) as client:
        assert client.call(CREATE, Type="flow", StartTime="a", EndTime="b")["Verified"] is True
    assert fake.waits == [0.25]


def test_unresolvable_host_not_retried(monkeypatch: pytest.MonkeyPatch, fake: FakeTime) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = CdnClient(AK, endpoint="cdn.example.invalid", sleep=fake.sleep, clock=fake.clock)
    with client, pytest.raises(TransportError, match="could not resolve") as caught:
        client.call(DESCRIBE)
    assert type(caught.value) is TransportError and fake.waits == []


# --- endpoints -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    ["http://example.com", "http://example.com:8080", "http://10.0.0.1", "HTTP://cdn.aliyuncs.com"],
)
def test_plain_http_to_remote_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    def no_send(*args: object, **kwargs: object) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(requests.Session, "send", no_send)
    with pytest.raises(ConfigurationError, match="plain http://"):
        CdnClient(AK, endpoint=endpoint)
    with pytest.raises(ConfigurationError, match="plain http://"):
        CdnClient(Account("x", AK.access_key_id, "s", endpoint=endpoint))
    allowed = CdnClient(AK, endpoint=endpoint, allow_insecure=True)
    assert allowed.endpoint_url.startswith("http://")


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.9.9.9", "http://127.9.9.9"),
        ("http://localhost:9/", "http://localhost:9"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("cdn.ap-southeast-1.aliyuncs.com", "https://cdn.ap-southeast-1.aliyuncs.com"),
        ("https://cdn.aliyuncs.com/", "https://cdn.aliyuncs.com"),
    ],
)
def test_endpoint_forms(endpoint: str, url: str) -> None:
    assert CdnClient(AK, endpoint=endpoint).endpoint_url == url


@pytest.mark.parametrize(
    "endpoint",
    ["https://cdn.aliyuncs.com/api", "https://h/?a=b", "ftp://h", "https://u:p@h", "https://h:port"],
)
def test_unusable_endpoints_refused(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CdnClient(AK, endpoint=endpoint)
    assert "u:p" not in str(caught.value) and "a=b" not in str(caught.value)


def test_endpoint_precedence() -> None:
    on_account = Account("x", AK.access_key_id, "s", endpoint="cdn.eu-central-1.aliyuncs.com")
    assert CdnClient(on_account, endpoint="http://127.0.0.1:1").endpoint_url == "http://127.0.0.1:1"
    assert CdnClient(on_account).endpoint_url == "https://cdn.eu-central-1.aliyuncs.com"
    assert CdnClient(AK).endpoint_url == "https://cdn.aliyuncs.com"


# --- parameters, session, repr, threads ------------------------------------------------------------


def test_parameter_values(server: SigningServer, fake: FakeTime) -> None:
    with make(server, fake) as client:
        client.call(DESCRIBE, PageSize=50, Flag=True, Skipped=None)
        assert server.seen[-1].params["PageSize"] == "50"
        assert server.seen[-1].params["Flag"] == "true"
        assert "Skipped" not in server.seen[-1].params
        with pytest.raises(ArgumentError, match="set by the client"):
            client.call(DESCRIBE, Signature="x")
        with pytest.raises(ArgumentError, match="join lists"):
            client.call(DESCRIBE, DomainNames=["a", "b"])
        with pytest.raises(ArgumentError, match="API action"):
            client.call("Describe/../x")


def test_session_reused_and_closed_only_when_owned(server: SigningServer, fake: FakeTime) -> None:
    session = requests.Session()
    calls: list[str] = []
    original = session.send

    def counting_send(request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        calls.append(request.method or "")
        return original(request, **kwargs)  # type: ignore[arg-type]

    session.send = counting_send  # type: ignore[method-assign]
    with make(server, fake, session=session) as client:
        client.call(DESCRIBE)
        client.call(DESCRIBE)
    assert calls == ["POST", "POST"]
    session.close = lambda: calls.append("closed")  # type: ignore[method-assign]
    client.close()
    assert "closed" not in calls  # a session passed in stays the caller's

    owned = make(server, fake)
    closed: list[bool] = []
    owned._transport.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with owned:
        pass
    assert closed == [True]


def test_repr_and_properties(server: SigningServer, fake: FakeTime) -> None:
    client = make(server, fake, STS, signature="v2")
    assert repr(client) == f"CdnClient(account='temp', endpoint_url='{server.url}', signature='v2')"
    assert client.account is STS
    assert client.endpoint_url == server.url
    assert usagekit.CdnClient is CdnClient and usagekit.RetryPolicy is RetryPolicy


def test_concurrent_calls_from_threads(server: SigningServer, fake: FakeTime) -> None:
    failures: list[BaseException] = []
    with make(server, fake) as client:

        def work(n: int) -> None:
            try:
                for page in range(4):
                    assert client.call(DESCRIBE, PageNumber=page + 1, Worker=n)["Verified"] is True
            except BaseException as error:  # collected and reported below
                failures.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert failures == []
    assert len(server.seen) == 24 and all(seen.verified for seen in server.seen)
    assert len({seen.headers["x-acs-signature-nonce"] for seen in server.seen}) == 24


# --- the policy on its own -------------------------------------------------------------------------


def test_retry_policy_values() -> None:
    policy = RetryPolicy(base=0.5, cap=3.0, rng=random.Random(3))
    for attempt in range(12):
        assert 0.0 <= policy.backoff(attempt) <= min(3.0, 0.5 * 2**attempt)
    assert policy.wait(0, retry_after=2.0) == 2.0
    assert policy.wait(0, retry_after=30.0) == 3.0
    assert RetryPolicy() == RetryPolicy(rng=random.Random(1))  # the random source is not part of the value
    assert (RetryPolicy().max_attempts, RetryPolicy().base, RetryPolicy().cap, RetryPolicy().deadline) == (
        10,
        0.2,
        20.0,
        180.0,
    )
    with pytest.raises(ArgumentError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ArgumentError):
        RetryPolicy(cap=-1)


# --- the client's own session: environment proxies, and none for a loopback endpoint ----------------------


class _RecordingProxy(http.server.ThreadingHTTPServer):
    """A plain-http 'proxy' on 127.0.0.1 that records each request line's target and answers OK."""

    targets: list[str]


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.targets.append(self.path)  # type: ignore[attr-defined]
        body = b'{"RequestId": "via-proxy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[_RecordingProxy]:
    running = _RecordingProxy(("127.0.0.1", 0), _ProxyHandler)
    running.targets = []
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def test_environment_proxy_carries_a_remote_endpoint_with_the_whole_url(
    proxy: _RecordingProxy, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = CdnClient(AK, endpoint="http://cdn.example.invalid", allow_insecure=True, sleep=fake.sleep)
    with client:
        assert client.call(DESCRIBE, PageSize=50)["RequestId"] == "via-proxy"
    assert proxy.targets == ["http://cdn.example.invalid/?PageSize=50"]  # absolute form, as to any proxy


def test_a_loopback_endpoint_ignores_environment_proxies(
    server: SigningServer, proxy: _RecordingProxy, monkeypatch: pytest.MonkeyPatch, fake: FakeTime
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    with make(server, fake) as client:
        assert client.call(DESCRIBE, PageSize=50)["Verified"] is True
    assert proxy.targets == [] and server.seen[-1].query == {"PageSize": "50"}
