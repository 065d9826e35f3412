"""The sandbox's API over real sockets: every refusal, paging rules, create / delete and the lifecycle."""

from __future__ import annotations

import http.client
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from usagekit.sandbox import Faults, Sandbox

LIST_SUMMARY = "DescribeUserUsageDataExportTask"
LIST_DETAIL = "DescribeUserUsageDetailDataExportTask"
CREATE_DETAIL = "CreateUsageDetailDataExportTask"
CREATE_SUMMARY = "CreateUserUsageDataExportTask"
DELETE_DETAIL = "DeleteUsageDetailDataExportTask"
DELETE_SUMMARY = "DeleteUserUsageDataExportTask"
YESTERDAY = {"StartTime": "2026-11-18T16:00:00Z", "EndTime": "2026-11-19T15:59:59Z"}


def _stamp(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- authentication: each refusal over a real socket, in both signature styles --------------------------


@pytest.mark.parametrize("style", ["v2", "v3"])
@pytest.mark.parametrize(
    ("options", "status", "code"),
    [
        ({"secret": "not-the-secret"}, 400, "SignatureDoesNotMatch"),
        ({"key_id": "LTAIdoesnotexist000000"}, 404, "InvalidAccessKeyId.NotFound"),
        ({"timestamp": "stale"}, 400, "InvalidTimeStamp.Expired"),
        ({"timestamp": "future"}, 400, "InvalidTimeStamp.Expired"),
        ({"version": "2014-11-11"}, 400, "InvalidVersion"),
        ({"action": "DescribeCdnService"}, 404, "InvalidAction.NotFound"),
        ({"token": None}, 400, "InvalidSecurityToken.Malformed"),
        ({"token": "not-a-token"}, 400, "InvalidSecurityToken.Malformed"),
        ({"token": "CAIS" + "x" * 100}, 400, "InvalidSecurityToken.MismatchWithAccessKey"),
    ],
)
def test_refusals(sandbox: Sandbox, wire: Any, style: str, options: dict, status: int, code: str) -> None:
    account = sandbox.accounts[1]  # STS: every check applies
    options = dict(options)
    if options.get("timestamp") == "stale":
        options["timestamp"] = _stamp(-16)
    elif options.get("timestamp") == "future":
        options["timestamp"] = _stamp(16)
    action = options.pop("action", LIST_SUMMARY)
    reply = getattr(wire, style)(account, action, {"PageSize": 1}, **options)
    assert (reply.status, reply.code) == (status, code), reply
    body = reply.json
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert account.access_key_secret not in reply.body.decode()
    assert account.security_token not in reply.body.decode()


@pytest.mark.parametrize("style", ["v2", "v3"])
def test_a_timestamp_14_minutes_off_is_still_accepted(sandbox: Sandbox, wire: Any, style: str) -> None:
    reply = getattr(wire, style)(sandbox.accounts[0], LIST_SUMMARY, timestamp=_stamp(-14))
    assert reply.status == 200, reply


def test_a_token_sent_for_a_key_without_sts_is_refused(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v3(sandbox.accounts[0], LIST_SUMMARY, token="CAIS" + "y" * 100)
    assert reply.code == "InvalidSecurityToken.MismatchWithAccessKey"


@pytest.mark.parametrize("style", ["v2", "v3"])
def test_a_reused_nonce_is_refused(sandbox: Sandbox, wire: Any, style: str) -> None:
    nonce = uuid.uuid4().hex
    send = getattr(wire, style)
    assert send(sandbox.accounts[0], LIST_SUMMARY, nonce=nonce).status == 200
    again = send(sandbox.accounts[0], LIST_SUMMARY, nonce=nonce)
    assert (again.status, again.code) == (400, "SignatureNonceUsed")
    # the same nonce under another key is another request
    assert send(sandbox.accounts[2], LIST_SUMMARY, nonce=nonce).status == 200


@pytest.mark.parametrize(
    "missing", ["SignatureNonce", "Timestamp", "AccessKeyId", "Version", "SignatureMethod"]
)
def test_v2_missing_common_parameter(sandbox: Sandbox, wire: Any, missing: str) -> None:
    reply = wire.v2(sandbox.accounts[0], LIST_SUMMARY, drop=(missing,))
    assert (reply.status, reply.code) == (400, "MissingParameter"), reply
    assert missing in reply.json["Message"]


def test_v2_missing_signature(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v2(sandbox.accounts[0], LIST_SUMMARY, drop=("Signature",))
    assert (reply.status, reply.code) == (400, "IncompleteSignature")


@pytest.mark.parametrize("missing", ["x-acs-signature-nonce", "x-acs-date", "x-acs-version"])
def test_v3_missing_header(sandbox: Sandbox, wire: Any, missing: str) -> None:
    reply = wire.v3(sandbox.accounts[0], LIST_SUMMARY, drop=(missing,))
    assert (reply.status, reply.code) == (400, "MissingParameter"), reply


def test_v2_format_other_than_json_is_refused(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v2(sandbox.accounts[0], LIST_SUMMARY, fmt="XML")
    assert (reply.status, reply.code) == (400, "InvalidParameter")


def test_v3_body_hash_must_match_the_body(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v3(sandbox.accounts[0], LIST_SUMMARY, body=b"PageSize=2", body_hash="0" * 64)
    assert (reply.status, reply.code) == (400, "SignatureDoesNotMatch")


def test_v3_form_body_parameters_count(sandbox: Sandbox, wire: Any) -> None:
    account = sandbox.accounts[0]
    reply = wire.v3(
        account,
        LIST_DETAIL,
        body=b"PageSize=2",
        extra_signed={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200, reply
    assert reply.json["UsageDataPerPage"]["PageSize"] == 2


def test_v3_header_values_are_trimmed_and_extra_signed_headers_honoured(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v3(sandbox.accounts[0], LIST_SUMMARY, extra_signed={"user-agent": "  tests/1.0  "})
    assert reply.status == 200, reply


def test_unknown_path_is_404_json(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.send(sandbox.endpoint + "/nothing-here")
    assert reply.status == 404 and reply.code == "NotFound"


# --- paging ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"PageSize": 51}, "InvalidParameter"),
        ({"PageSize": "ten"}, "InvalidParameter"),
        ({"PageSize": 0}, "InvalidParameter"),
        ({"PageNumber": "-1"}, "InvalidParameter"),
        ({"PageNumber": 100001}, "InvalidParameter"),
        ({"PageSize": "\u00b2"}, "InvalidParameter"),  # str.isdigit() says yes, int() says no: was a 500
        ({"PageNumber": "\uff12"}, "InvalidParameter"),  # a full-width digit is not an API number
    ],
)
def test_paging_refusals(sandbox: Sandbox, wire: Any, params: dict, code: str) -> None:
    reply = wire.v3(sandbox.accounts[0], LIST_DETAIL, params)
    assert (reply.status, reply.code) == (400, code)


def test_paging_defaults_and_past_the_end(sandbox: Sandbox, wire: Any) -> None:
    page = wire.v2(sandbox.accounts[0], LIST_DETAIL).json["UsageDataPerPage"]
    assert (page["PageNumber"], page["PageSize"], page["TotalCount"]) == (1, 20, 40)
    assert len(page["Data"]["DataItem"]) == 20
    past = wire.v2(sandbox.accounts[0], LIST_DETAIL, {"PageNumber": 9, "PageSize": 50}).json[
        "UsageDataPerPage"
    ]
    assert past["Data"]["DataItem"] == [] and past["TotalCount"] == 40
    item = page["Data"]["DataItem"][0]
    assert set(item) == {
        "TaskId",
        "TaskName",
        "Status",
        "CreateTime",
        "UpdateTime",
        "DownloadUrl",
        "TaskConfig",
    }
    assert isinstance(item["TaskId"], str) and item["TaskId"].isdigit()


def test_page_size_over_50_can_be_clamped(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(page_size_over_50="clamp", tasks=60)
    page = wire.v3(box.accounts[0], LIST_SUMMARY, {"PageSize": 80}).json["UsageDataPerPage"]
    assert page["PageSize"] == 50 and len(page["Data"]["DataItem"]) == 50 and page["TotalCount"] == 60


def test_only_the_last_three_months_are_listed(sandbox: Sandbox, wire: Any) -> None:
    items = wire.v3(sandbox.accounts[0], LIST_SUMMARY, {"PageSize": 50}).json["UsageDataPerPage"]["Data"][
        "DataItem"
    ]
    oldest = min(datetime.fromisoformat(i["CreateTime"].replace("Z", "+00:00")) for i in items)
    assert oldest >= datetime(2026, 8, 20, 8, tzinfo=UTC)
    # the world holds older tasks too; they are not shown, in the listing or in truth
    assert any(t.created < datetime(2026, 8, 20, tzinfo=UTC).timestamp() for t in sandbox.world.tasks)
    assert sandbox.truth.tasks("demo-shop", "summary")["created"].min() == oldest


# --- create, delete and the lifecycle --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Type": "flow", "EndTime": "2026-11-19T15:59:59Z"}, "MissingTimeParameter"),
        ({"Type": "flow", "StartTime": "2026-11-18T16:00:00Z"}, "MissingTimeParameter"),
        ({"Type": "flow", "StartTime": "2026-11-18 16:00", "EndTime": "2026-11-19T15:59:59Z"}, "InvalidStartTime.Malformed"),
        ({"Type": "flow", "StartTime": "2026-11-18T16:00:00Z", "EndTime": "yesterday"}, "InvalidEndTime.Malformed"),
        ({"Type": "flow", "StartTime": "2026-11-18T16:00:00Z", "EndTime": "2026-11-18T16:00:00Z"}, "InvalidTimeRange"),
        ({"Type": "flow", "StartTime": "2026-10-01T16:00:00Z", "EndTime": "2026-11-02T15:59:59Z"}, "InvalidTimeRange"),
        ({"Type": "flow", "StartTime": "2025-11-01T16:00:00Z", "EndTime": "2025-11-02T15:59:59Z"}, "InvalidStartTime.ValueNotSupported"),
        ({"StartTime": "2026-11-18T16:00:00Z", "EndTime": "2026-11-19T15:59:59Z"}, "InvalidParameter"),
        ({"Type": "traffic", **YESTERDAY}, "InvalidParameter"),
        ({"Type": "vas", "DomainNames": "nobody.example", **YESTERDAY}, "InvalidParameter"),
        ({"Type": "vas", "Language": "fr-fr", **YESTERDAY}, "InvalidParameter"),
    ],
)  # fmt: skip
def test_create_refusals(sandbox: Sandbox, wire: Any, params: dict, code: str) -> None:
    reply = wire.v3(sandbox.accounts[0], CREATE_DETAIL, params)
    assert (reply.status, reply.code) == (400, code), reply


def test_a_window_of_exactly_31_days_is_accepted(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox()
    reply = wire.v2(
        box.accounts[0],
        CREATE_SUMMARY,
        {"StartTime": "2026-09-30T16:00:00Z", "EndTime": "2026-10-31T15:59:59Z"},
    )
    assert reply.status == 200, reply


def test_create_list_finish_download_url_and_delete(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(task_delay=30, faults=Faults(failed_exports=0.0))  # pinned: the export succeeds
    account = box.accounts[2]
    domains = ",".join(box.account_spec(account.name).domain_names[:2])
    reply = wire.v3(
        account, CREATE_DETAIL, {"Type": "flow", "DomainNames": domains, "TaskName": "t1", **YESTERDAY}
    )
    assert reply.status == 200, reply
    created = reply.json
    assert set(created) == {"RequestId", "StartTime", "EndTime", "TaskId"}
    assert (created["StartTime"], created["EndTime"]) == (YESTERDAY["StartTime"], YESTERDAY["EndTime"])
    task_id = created["TaskId"]

    first = wire.v2(account, LIST_DETAIL, {"PageSize": 1}).json["UsageDataPerPage"]
    assert first["TotalCount"] == 41
    item = first["Data"]["DataItem"][0]
    assert (item["TaskId"], item["Status"], item["DownloadUrl"], item["TaskName"]) == (
        task_id,
        "created",
        "",
        "t1",
    )
    assert item["CreateTime"] == item["UpdateTime"] == "2026-11-20T08:00:00Z"
    assert item["TaskConfig"] == {"StartTime": YESTERDAY["StartTime"], "EndTime": YESTERDAY["EndTime"]}
    row = box.truth.tasks(account.name, "detail").iloc[0]
    assert (row["task_id"], row["status"], row["type"], row["domains"]) == (
        task_id,
        "created",
        "flow",
        "some",
    )

    box.advance(29)
    assert (
        wire.v2(account, LIST_DETAIL, {"PageSize": 1}).json["UsageDataPerPage"]["Data"]["DataItem"][0][
            "Status"
        ]
        == "created"
    )
    box.advance(1)
    item = wire.v2(account, LIST_DETAIL, {"PageSize": 1}).json["UsageDataPerPage"]["Data"]["DataItem"][0]
    assert item["Status"] == "success"
    assert item["UpdateTime"] == "2026-11-20T08:00:30Z"
    assert item["DownloadUrl"].startswith(box.endpoint)
    assert box.truth.tasks(account.name, "detail").iloc[0]["status"] == item["Status"]

    assert wire.v3(account, DELETE_SUMMARY, {"TaskId": task_id}).code == "InvalidParameter"  # wrong kind
    assert (
        wire.v3(box.accounts[0], DELETE_DETAIL, {"TaskId": task_id}).code == "InvalidParameter"
    )  # other account
    deleted = wire.v3(account, DELETE_DETAIL, {"TaskId": task_id})
    assert deleted.status == 200 and set(deleted.json) == {"RequestId"}
    assert wire.v2(account, LIST_DETAIL).json["UsageDataPerPage"]["TotalCount"] == 40
    assert task_id not in set(box.truth.tasks(account.name)["task_id"])
    again = wire.v3(account, DELETE_DETAIL, {"TaskId": task_id})
    assert (again.status, again.code) == (400, "InvalidParameter")
    assert wire.v3(account, DELETE_DETAIL).code == "MissingParameter"
    with pytest.raises(KeyError):
        box.truth.usage(task_id)


def test_created_tasks_end_failed_for_a_seeded_few(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(task_delay=0)
    account = box.accounts[0]
    ids = [
        wire.v3(account, CREATE_SUMMARY, {**YESTERDAY, "TaskName": str(n)}).json["TaskId"] for n in range(40)
    ]
    assert len(set(ids)) == 40
    box.advance(1)
    frame = box.truth.tasks(account.name, "summary").set_index("task_id").loc[ids]
    failed = int((frame["status"] == "failed").sum())
    assert 0 < failed < 12 and (frame["status"] != "created").all()


def test_group_exports_every_domain_per_domain(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(task_delay=0)
    account = box.accounts[0]
    task_id = wire.v3(account, CREATE_DETAIL, {"Type": "vas", "Group": "web", **YESTERDAY}).json["TaskId"]
    usage = box.truth.usage(task_id)
    assert set(usage["domain"]) == set(box.account_spec(account.name).domain_names)
    by_account = wire.v3(account, CREATE_DETAIL, {"Type": "vas", **YESTERDAY}).json["TaskId"]
    totals = box.truth.usage(by_account)
    assert totals["domain"].isna().all() and len(totals) == 288
    summed = usage.groupby("start")["value"].sum().to_numpy()
    assert (totals.sort_values("start")["value"].to_numpy() == summed).all()


def test_a_real_clock_cannot_be_advanced() -> None:
    box = Sandbox(seed=1, now="2026-11-20T08:00:00Z")
    with pytest.raises(RuntimeError, match="frozen"):
        box.advance(1)
    with pytest.raises(RuntimeError, match="not running"):
        _ = box.endpoint


def test_the_seeded_history_is_settled_for_an_hour(fresh_sandbox: Any) -> None:
    box = fresh_sandbox()
    before = {
        name: box.truth.tasks(name)[["task_id", "status", "updated"]] for name in ("demo-shop", "demo-games")
    }
    box.advance(3600)
    for name, frame in before.items():
        after = box.truth.tasks(name)[["task_id", "status", "updated"]]
        assert frame.equals(after)
    running = before["demo-shop"]["status"] == "created"
    assert running.sum() == 2  # the newest of each kind
    box.advance(4 * 3600)
    assert (box.truth.tasks("demo-shop")["status"] != "created").all()


def test_v3_x_acs_headers_must_all_be_signed(sandbox: Sandbox, wire: Any) -> None:
    account = sandbox.accounts[0]
    reply = wire.v3(account, LIST_SUMMARY, extra_signed={"x-acs-extra": "1"})
    assert reply.status == 200  # signed: fine
    # an x-acs-* header sent but left out of SignedHeaders is refused before any signature check
    connection = http.client.HTTPConnection("127.0.0.1", int(sandbox.endpoint.rsplit(":", 1)[1]), timeout=5)
    try:
        headers = {
            "host": sandbox.endpoint.removeprefix("http://"),
            "x-acs-action": LIST_SUMMARY,
            "x-acs-version": "2018-05-10",
            "x-acs-date": _stamp(0),
            "x-acs-signature-nonce": uuid.uuid4().hex,
            "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "x-acs-unsigned": "sneaky",
            "Authorization": f"ACS3-HMAC-SHA256 Credential={account.access_key_id},SignedHeaders=host;x-acs-action,Signature=00",
        }
        connection.request("POST", "/", headers=headers)
        response = connection.getresponse()
        assert response.status == 400 and b"IncompleteSignature" in response.read()
    finally:
        connection.close()


def test_v2_signature_method_must_be_hmac_sha1(sandbox: Sandbox, wire: Any) -> None:
    reply = wire.v2(sandbox.accounts[0], LIST_SUMMARY, {"SignatureMethod": "HMAC-SHA256"})
    assert (reply.status, reply.code) == (400, "InvalidParameter")


@pytest.mark.parametrize("signature", ["\u00e9t\u00e9", "\uff21" * 28])
def test_a_v2_signature_with_non_ascii_characters_is_signature_does_not_match(
    sandbox: Sandbox, wire: Any, signature: str
) -> None:
    # hmac.compare_digest refuses non-ASCII str with TypeError: the sandbox answered 500 InternalError
    # instead of the service's 400 SignatureDoesNotMatch, so a client could not tell its bug apart.
    account = sandbox.accounts[0]
    params = {
        "Action": LIST_SUMMARY,
        "Version": "2018-05-10",
        "AccessKeyId": account.access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": wire.now(),
        "Format": "JSON",
        "Signature": signature,
    }
    reply = wire.send(f"{account.endpoint}/?{urlencode(params)}")
    assert (reply.status, reply.code) == (400, "SignatureDoesNotMatch")
