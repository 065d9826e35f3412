"""Downloads from the sandbox over real sockets: presigned URLs, expiry, tampering, Range, real files."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from usagekit.sandbox import Sandbox

LIST = {"summary": "DescribeUserUsageDataExportTask", "detail": "DescribeUserUsageDetailDataExportTask"}
YESTERDAY = {"StartTime": "2026-11-18T16:00:00Z", "EndTime": "2026-11-19T15:59:59Z"}


def _urls(wire: Any, account: Any, kind: str) -> dict[str, str]:
    items = wire.v3(account, LIST[kind], {"PageSize": 50}).json["UsageDataPerPage"]["Data"]["DataItem"]
    return {i["TaskId"]: i["DownloadUrl"] for i in items if i["Status"] == "success"}


def _sheet_rows(data: bytes) -> list[list[Any]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def _column_total(rows: list[list[Any]], header: str) -> float:
    """The sum of a data column (under ``header``), the total row left out."""
    at = next(i for i, row in enumerate(rows) if header in row)
    column = rows[at].index(header)
    data = [r for r in rows[at + 1 :] if r and r[0] not in ("合计", "Total", "")]
    return float(sum(r[column] for r in data))


@pytest.fixture(scope="module")
def detail_task(sandbox: Sandbox, wire: Any) -> tuple[str, str]:
    """A successful flow export by domain of the multi-region account: (task id, presigned URL)."""
    account = sandbox.accounts[2]
    truth = sandbox.truth.tasks(account.name, "detail")
    wanted = truth[(truth["status"] == "success") & (truth["type"] == "flow") & (truth["domains"] == "some")]
    urls = _urls(wire, account, "detail")
    task_id = next(t for t in wanted["task_id"] if t in urls)
    return task_id, urls[task_id]


def test_a_detail_workbook_holds_truth(sandbox: Sandbox, wire: Any, detail_task: tuple[str, str]) -> None:
    task_id, url = detail_task
    reply = wire.send(url)
    assert reply.status == 200, reply
    assert reply.body[:4] == b"PK\x03\x04"
    assert (
        reply.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert reply.headers["etag"].startswith('"') and len(reply.headers["etag"]) == 34
    rows = _sheet_rows(reply.body)
    usage = sandbox.truth.usage(task_id)
    traffic = usage.loc[usage["metric"] == "traffic", "value"].sum()
    header = next(h for h in ("流量(Byte)", "Traffic(Byte)") if any(h in r for r in rows))
    assert _column_total(rows, header) == traffic
    assert len(set(usage["region"])) == 4  # the multi-region account writes every region
    # served twice, the same bytes (cached), and the same ETag
    assert wire.send(url).headers["etag"] == reply.headers["etag"]


def test_a_summary_pdf_is_served(sandbox: Sandbox, wire: Any) -> None:
    account = sandbox.accounts[0]
    task_id, url = next(iter(_urls(wire, account, "summary").items()))
    reply = wire.send(url)
    assert reply.status == 200 and reply.body.startswith(b"%PDF-")
    assert reply.headers["content-type"] == "application/pdf"
    summary = sandbox.truth.summary(task_id)
    assert list(summary.columns) == ["item", "region", "period", "value", "unit"]
    assert set(summary["item"]) == {"Traffic", "Peak bandwidth", "Requests"}


@pytest.mark.parametrize(
    ("header", "status", "expect"),
    [
        ("bytes=0-9", 206, (0, 10)),
        ("bytes=100-", 206, (100, None)),
        ("bytes=-16", 206, (-16, None)),
        ("bytes=5-5", 206, (5, 6)),
    ],
)
def test_range_requests(
    wire: Any, detail_task: tuple[str, str], header: str, status: int, expect: tuple
) -> None:
    whole = wire.send(detail_task[1]).body
    reply = wire.send(detail_task[1], headers={"Range": header})
    assert reply.status == status
    assert reply.body == whole[slice(*expect)]
    first = expect[0] % len(whole)
    assert reply.headers["content-range"] == f"bytes {first}-{first + len(reply.body) - 1}/{len(whole)}"
    assert int(reply.headers["content-length"]) == len(reply.body)


def test_an_invalid_range_is_ignored_and_the_whole_file_sent(wire: Any, detail_task: tuple[str, str]) -> None:
    whole = wire.send(detail_task[1]).body
    reply = wire.send(detail_task[1], headers={"Range": "bytes=5-3"})
    assert reply.status == 200 and reply.body == whole
    assert "content-range" not in reply.headers


def test_a_range_past_the_end_is_416(wire: Any, detail_task: tuple[str, str]) -> None:
    size = len(wire.send(detail_task[1]).body)
    reply = wire.send(detail_task[1], headers={"Range": f"bytes={size}-"})
    assert reply.status == 416 and reply.headers["content-range"] == f"bytes */{size}"


def test_head_gives_the_length_without_a_body(wire: Any, detail_task: tuple[str, str]) -> None:
    size = len(wire.send(detail_task[1]).body)
    reply = wire.send(detail_task[1], method="HEAD")
    assert reply.status == 200 and reply.body == b"" and int(reply.headers["content-length"]) == size


@pytest.mark.parametrize("part", ["Signature", "Expires", "path"])
def test_a_tampered_url_is_refused(wire: Any, detail_task: tuple[str, str], part: str) -> None:
    url = detail_task[1]
    if part == "Signature":
        url = url.replace("Signature=", "Signature=A")
    elif part == "Expires":
        url = url.replace("Expires=", "Expires=9")
    else:
        url = url.replace(f"/files/{detail_task[0]}", f"/files/{int(detail_task[0]) + 1}")
    reply = wire.send(url)
    assert reply.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in reply.body


@pytest.mark.parametrize(("name", "value"), [("Signature", "%C3%A9t%C3%A9"), ("Expires", "%C2%B2")])
def test_a_url_tampered_with_non_ascii_is_refused_with_403(
    wire: Any, detail_task: tuple[str, str], name: str, value: str
) -> None:
    # Was a 500 JSON InternalError (compare_digest on non-ASCII text): object storage answers 403 XML.
    url = re.sub(rf"{name}=[^&]*", f"{name}={value}", detail_task[1])
    reply = wire.send(url)
    assert reply.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in reply.body


def test_a_url_without_its_query_is_refused(wire: Any, detail_task: tuple[str, str]) -> None:
    reply = wire.send(detail_task[1].split("?")[0])
    assert reply.status == 403 and b"<Code>AccessDenied</Code>" in reply.body


def test_urls_expire_in_sandbox_time_and_a_new_listing_signs_afresh(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(file_ttl=60)
    account = box.accounts[0]
    task_id, url = next(iter(_urls(wire, account, "summary").items()))
    box.advance(60)
    assert wire.send(url, method="HEAD").status == 200  # expiry is inclusive
    box.advance(1)
    reply = wire.send(url)
    assert reply.status == 403
    assert b"<Code>AccessDenied</Code>" in reply.body and b"Request has expired." in reply.body
    fresh = _urls(wire, account, "summary")[task_id]
    assert fresh != url and wire.send(fresh, method="HEAD").status == 200


def test_a_deleted_task_s_file_is_gone(fresh_sandbox: Any, wire: Any) -> None:
    box = fresh_sandbox(task_delay=0)
    account = box.accounts[0]
    for _ in range(10):  # a seeded few end failed: take the first that succeeds
        task_id = wire.v2(account, "CreateUsageDetailDataExportTask", {"Type": "vas", **YESTERDAY}).json[
            "TaskId"
        ]
        box.advance(1)
        if box.truth.tasks(account.name).set_index("task_id").loc[task_id, "status"] == "success":
            break
    url = _urls(wire, account, "detail")[task_id]
    assert wire.send(url).status == 200
    assert wire.v2(account, "DeleteUsageDetailDataExportTask", {"TaskId": task_id}).status == 200
    reply = wire.send(url)
    assert reply.status == 404 and b"NoSuchKey" in reply.body


def test_downloads_are_recorded_without_the_url_query(
    sandbox: Sandbox, wire: Any, detail_task: tuple[str, str]
) -> None:
    wire.send(detail_task[1], headers={"Range": "bytes=0-0"})
    record = [r for r in sandbox.requests if r["action"] == "download"][-1]
    assert record["params"] == {"path": f"/files/{detail_task[0]}.xlsx", "range": "bytes=0-0"}
    assert record["account"] == "demo-games" and record["status"] == 206
    signature = detail_task[1].split("Signature=")[1]
    assert signature not in repr(sandbox.requests)
    assert not any({"Signature", "SecurityToken", "AccessKeyId"} & set(r["params"]) for r in sandbox.requests)


def test_generated_files_can_be_cached_on_disk(
    sandbox: Sandbox, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from usagekit.sandbox import exports

    monkeypatch.setattr(exports, "_MEMORY", exports._Memory())
    task = next(t for t in sandbox.world.tasks if t.kind == "summary" and t.outcome == "success")
    files = exports.ExportFiles(sandbox.truth, world_key=sandbox.world.params.key, disk=tmp_path)
    first = files.get(task, title="CDN usage summary")
    assert [p.suffix for p in tmp_path.iterdir()] == [".pdf"]
    monkeypatch.setattr(exports, "_MEMORY", exports._Memory())

    def no_generation(*args: Any) -> bytes:
        raise AssertionError("generated again instead of read from disk")

    monkeypatch.setattr(files, "_generate", no_generation)
    assert files.get(task, title="CDN usage summary") == first
    assert exports.file_cache_dir({"USAGEKIT_SANDBOX_FILE_CACHE": str(tmp_path)}) == tmp_path
