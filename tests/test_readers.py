"""read_usage and read_summary: the sandbox's files read back to truth, variants survived, bad files refused."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _workbooks import STEP, T0, build, tidy
from fpdf import FPDF

import usagekit.readers.detail as detail
from usagekit.errors import CacheWarning, FileFormatError, ReadError, UnrecognizedLayoutError, UnsafeFileError
from usagekit.frames import sort_tidy, tidy_frame
from usagekit.readers import cache_dir, clear_cache, detect_format, read_summary, read_usage
from usagekit.sandbox.files import summarise, summary_frame, write_detail_workbook, write_summary_pdf

LIST = {"summary": "DescribeUserUsageDataExportTask", "detail": "DescribeUserUsageDetailDataExportTask"}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own disk cache directory and an empty memory cache."""
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()


def world_usage(type: str, by_account: bool) -> pd.DataFrame:
    """A small tidy frame with source columns, shaped like the sandbox's truth for one detail export."""
    rng = np.random.default_rng(5)
    rows = []
    domains = [None] if by_account else ["img.example.com", "api.example.com"]
    regions = ["CN", "AP1"] if type == "flow" else [None]
    metrics = ["traffic", "bandwidth"] if type == "flow" else ["requests"]
    for i in range(12):
        for domain in domains:
            for region in regions:
                for metric in metrics:
                    rows.append((domain, region, metric, T0 + i * STEP, float(rng.integers(0, 10**12))))
    frame = tidy(rows)
    frame.insert(0, "task_id", pd.array(["7"] * len(frame), dtype="string"))
    frame.insert(0, "account", pd.Categorical(["prod"] * len(frame)))
    return frame


def contract_dtypes() -> pd.Series:
    return tidy_frame({}, with_source=False).dtypes


def assert_contract(frame: pd.DataFrame) -> None:
    expected = contract_dtypes()
    assert list(frame.columns) == list(expected.index)
    for name, dtype in expected.items():
        if str(dtype) == "category" and name in {"domain", "region"}:
            assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
        else:
            assert frame[name].dtype == dtype, name


# --- the sandbox's own files ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-cn", "en-us"])
@pytest.mark.parametrize("type", ["flow", "vas"])
@pytest.mark.parametrize("by_account", [False, True])
def test_every_workbook_the_writer_makes_reads_back_to_its_usage(
    language: str, type: str, by_account: bool
) -> None:
    usage = world_usage(type, by_account)
    data = write_detail_workbook(usage, type=type, language=language, by_account=by_account, title="March")
    frame = read_usage(data)
    assert_contract(frame)
    pd.testing.assert_frame_equal(frame, sort_tidy(usage.drop(columns=["account", "task_id"])))


def test_reading_a_path_or_its_bytes_gives_the_same_frame(tmp_path: Path) -> None:
    data = write_detail_workbook(
        world_usage("flow", False), type="flow", language="zh-cn", by_account=False, title="t"
    )
    path = tmp_path / "export.bin"  # the name says nothing: the first bytes decide
    path.write_bytes(data)
    pd.testing.assert_frame_equal(read_usage(path, cache=False), read_usage(data, cache=False))
    pd.testing.assert_frame_equal(read_usage(str(path), cache=False), read_usage(data, cache=False))


def _walk(wire: Any, account: Any, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    number = 1
    while True:
        reply = wire.v3(account, LIST[kind], {"PageSize": 50, "PageNumber": number})
        assert reply.status == 200, reply
        page = reply.json["UsageDataPerPage"]
        items += page["Data"]["DataItem"]
        if not page["Data"]["DataItem"] or len(items) >= page["TotalCount"]:
            return items
        number += 1


def _labels_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Category columns as plain text, so frames whose category lists differ compare by their values."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype("string")
    return out


def test_detail_files_downloaded_from_the_sandbox_equal_its_truth(sandbox: Any, wire: Any) -> None:
    checked: set[tuple[str, str, str]] = set()
    languages = {task.task_id: task.language for task in sandbox.world.tasks}
    for account in sandbox.accounts:
        truth = sandbox.truth.tasks(account.name, "detail").set_index("task_id")
        for item in _walk(wire, account, "detail"):
            if item["Status"] != "success":
                continue
            task = truth.loc[item["TaskId"]]
            kind = (str(task["type"]), str(task["domains"]), languages[item["TaskId"]])
            if kind in checked:
                continue
            reply = wire.send(item["DownloadUrl"])
            assert reply.status == 200, reply
            frame = read_usage(reply.body, cache=False)
            assert_contract(frame)
            expected = sort_tidy(sandbox.truth.usage(item["TaskId"]).drop(columns=["account", "task_id"]))
            pd.testing.assert_frame_equal(_labels_as_text(frame), _labels_as_text(expected))
            checked.add(kind)
    # one workbook of every kind the world holds: flow/vas x all/some (by account or per domain) x zh/en
    assert {kind[2] for kind in checked} == {"zh-cn", "en-us"}, checked
    assert len(checked) >= 6, checked


def test_summary_files_downloaded_from_the_sandbox_equal_its_truth(sandbox: Any, wire: Any) -> None:
    account = sandbox.accounts[0]
    done = 0
    for item in _walk(wire, account, "summary"):
        if item["Status"] != "success" or done == 2:
            continue
        reply = wire.send(item["DownloadUrl"])
        assert reply.status == 200, reply
        pd.testing.assert_frame_equal(read_summary(reply.body), sandbox.truth.summary(item["TaskId"]))
        done += 1
    assert done == 2


# --- variants a real export may show ---------------------------------------------------------------------


def test_header_below_title_rows_with_columns_in_another_order(tmp_path: Path) -> None:
    path = build(
        tmp_path / "a.xlsx",
        {
            "Sheet1": [
                ["CDN 用量明细"],
                ["账号: prod", None, "导出时间: 2024-03-05"],
                [],
                ["带宽(bps)", "计费区域", "域名", "时间", "流量(Byte)", "备注"],
                [8, "CN", "a.example.com", "2024-03-02 00:00:00", 100, "x"],
                [16, "CN", "a.example.com", "2024-03-02 00:05", 200, None],
            ]
        },
    )
    expected = tidy(
        [
            ("a.example.com", "CN", "traffic", T0, 100),
            ("a.example.com", "CN", "traffic", T0 + STEP, 200),
            ("a.example.com", "CN", "bandwidth", T0, 8),
            ("a.example.com", "CN", "bandwidth", T0 + STEP, 16),
        ]
    )
    pd.testing.assert_frame_equal(read_usage(path), expected)


@pytest.mark.parametrize("word", ["合计", "总计", "Total", "SUM", " total: "])
@pytest.mark.parametrize("column", [0, 1])
def test_total_rows_are_never_data(tmp_path: Path, word: str, column: int) -> None:
    total = [None, None, 999]
    total[column] = word
    path = build(
        tmp_path / "t.xlsx",
        {"s": [["Time", "Domain", "Requests"], ["2024-03-02 00:00", "a.example.com", 3], total]},
    )
    pd.testing.assert_frame_equal(read_usage(path), tidy([("a.example.com", None, "requests", T0, 3)]))


def test_excel_dates_instead_of_text(tmp_path: Path) -> None:
    path = build(
        tmp_path / "d.xlsx",
        {
            "s": [
                ["Time", "Domain", "Requests"],
                [datetime(2024, 3, 2, 0, 0), "a.example.com", 3],
                [datetime(2024, 3, 2, 0, 5), "a.example.com", 4],
            ]
        },
    )
    expected = tidy(
        [("a.example.com", None, "requests", T0, 3), ("a.example.com", None, "requests", T0 + STEP, 4)]
    )
    pd.testing.assert_frame_equal(read_usage(path), expected)


def test_unformatted_excel_serial_dates_are_read(tmp_path: Path) -> None:
    serial = (datetime(2024, 3, 2, 0, 5) - datetime(1899, 12, 30)).total_seconds() / 86400
    path = build(tmp_path / "s.xlsx", {"s": [["Time", "Requests"], [serial, 4]]})
    pd.testing.assert_frame_equal(read_usage(path), tidy([(None, None, "requests", T0 + STEP, 4)]))


@pytest.mark.parametrize(
    ("traffic", "bandwidth", "kb", "bytes_", "bits"),
    [
        ("流量(KB)", "带宽(Kbps)", 1024, 1024 * 3, 3000),
        ("Traffic (MB)", "Bandwidth (Mbps)", 1024, 3 * 1024**2, 3e6),
        ("Traffic（GB）", "Bandwidth（Gbps）", 1024, 3 * 1024**3, 3e9),
        ("traffic(gb)", "BANDWIDTH(GBPS)", 1000, 3e9, 3e9),
        ("Traffic(GiB)", "Bandwidth(bit/s)", 1000, 3 * 1024**3, 3),
        ("流量(TB)", "带宽(Mbit/s)", 1024, 3 * 1024**4, 3e6),
        ("流量", "带宽", 1024, 3, 3),
    ],
)
def test_units_in_headers_become_base_units(
    tmp_path: Path, traffic: str, bandwidth: str, kb: int, bytes_: float, bits: float
) -> None:
    path = build(tmp_path / "u.xlsx", {"s": [["时间", traffic, bandwidth], ["2024-03-02 00:00:00", 3, 3]]})
    expected = tidy([(None, None, "traffic", T0, bytes_), (None, None, "bandwidth", T0, bits)])
    pd.testing.assert_frame_equal(read_usage(path, kb=kb), expected)


@pytest.mark.parametrize(
    ("header", "factor"), [("请求数(次)", 1), ("Request Count", 1), ("请求次数", 1), ("请求数(万次)", 10_000)]
)
def test_request_headers_in_both_languages(tmp_path: Path, header: str, factor: int) -> None:
    path = build(tmp_path / "r.xlsx", {"s": [["时间", header], ["2024-03-02 00:00:00", 2]]})
    pd.testing.assert_frame_equal(read_usage(path), tidy([(None, None, "requests", T0, 2 * factor)]))


def test_several_sheets_are_joined_and_a_notes_sheet_is_skipped(tmp_path: Path) -> None:
    path = build(
        tmp_path / "m.xlsx",
        {
            "说明": [["本文件为 CDN 用量明细"], ["数据仅供参考"]],
            "a": [["时间", "域名", "请求数"], ["2024-03-02 00:00:00", "a.example.com", 1]],
            "b": [["Report"], ["Time", "Domain", "Requests"], ["2024-03-02 00:00:00", "b.example.com", 2]],
        },
    )
    expected = tidy([("a.example.com", None, "requests", T0, 1), ("b.example.com", None, "requests", T0, 2)])
    pd.testing.assert_frame_equal(read_usage(path), expected)


@pytest.mark.parametrize("shuffle", [False, True])
def test_rows_in_any_order_come_out_sorted(tmp_path: Path, shuffle: bool) -> None:
    """Rows sorted by time (as exports are), or shuffled, over two sheets: sorted the same as sort_tidy."""
    rows = [
        [f"2024-03-02 {minute // 60:02d}:{minute % 60:02d}:00", domain, region, minute + len(domain), minute]
        for minute in range(0, 300, 5)
        for domain in ("b.example.com", "a.example.com", "c.example.com")
        for region in ("CN", "AP1")
    ]
    if shuffle:
        rows = [rows[i] for i in np.random.default_rng(7).permutation(len(rows))]
    header = ["Time", "Domain", "Region", "Traffic(Byte)", "Requests"]
    path = build(tmp_path / "o.xlsx", {"one": [header, *rows[:100]], "two": [header, *rows[100:]]})
    expected = tidy(
        [
            (d, r, "traffic", pd.Timestamp(t, tz="Asia/Shanghai").tz_convert("UTC"), v)
            for t, d, r, v, _ in rows
        ]
        + [
            (d, r, "requests", pd.Timestamp(t, tz="Asia/Shanghai").tz_convert("UTC"), q)
            for t, d, r, _, q in rows
        ]
    )
    pd.testing.assert_frame_equal(read_usage(path, cache=False), expected)


def test_no_domain_column_is_an_export_by_account(tmp_path: Path) -> None:
    path = build(
        tmp_path / "n.xlsx",
        {"s": [["Time", "Billing Region", "Traffic(Byte)"], ["2024-03-02 00:00:00", "CN", 5]]},
    )
    frame = read_usage(path)
    assert frame["domain"].isna().all()
    pd.testing.assert_frame_equal(frame, tidy([(None, "CN", "traffic", T0, 5)]))


def test_blank_rows_and_blank_cells_are_not_measurements(tmp_path: Path) -> None:
    path = build(
        tmp_path / "b.xlsx",
        {
            "s": [
                ["Time", "Domain", "Traffic(Byte)", "Bandwidth(bps)"],
                ["2024-03-02 00:00:00", "a.example.com", 5, None],
                [None, None, None, None],
                ["2024-03-02 00:05:00", "a.example.com", "", 7],
                ["2024-03-02 00:10:00", "a.example.com", "1,234", "-"],
            ]
        },
    )
    expected = tidy(
        [
            ("a.example.com", None, "traffic", T0, 5),
            ("a.example.com", None, "traffic", T0 + 2 * STEP, 1234),
            ("a.example.com", None, "bandwidth", T0 + STEP, 7),
        ]
    )
    pd.testing.assert_frame_equal(read_usage(path), expected)


@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        ("时间", "2024/03/02 00:05", T0 + STEP),
        ("时间段", "2024-03-02 00:05-00:10", T0 + STEP),
        ("Time (UTC)", "2024-03-01 16:05:00", T0 + STEP),
        ("Time(UTC+9)", "2024-03-02 01:05:00", T0 + STEP),
        ("Time", "2024-03-01T16:05:00Z", T0 + STEP),
        ("Date", "2024-03-02 08:05:00+08:00", T0 + STEP + pd.Timedelta(hours=8)),
        ("时间", "2024-3-2 0:05", T0 + STEP),
        ("时间", "2024.03.02 00:05:00.000", T0 + STEP),
    ],
)
def test_time_texts_and_offsets(tmp_path: Path, header: str, cell: str, expected: pd.Timestamp) -> None:
    path = build(tmp_path / "t.xlsx", {"s": [[header, "Requests"], [cell, 1]]})
    assert read_usage(path)["start"].tolist() == [expected]


def test_mapping_names_columns_the_reader_does_not_know(tmp_path: Path) -> None:
    path = build(
        tmp_path / "x.xlsx",
        {
            "s": [
                ["Zeitpunkt", "Host", "Flow (GiB)", "Zone"],
                ["2024-03-02 00:00:00", "a.example.com", 2, "EU"],
            ]
        },
    )
    with pytest.raises(UnrecognizedLayoutError):
        read_usage(path)
    mapping = {"Zeitpunkt": "time", "host": "domain", "FLOW (GIB)": ("traffic", "GiB"), "Zone": "region"}
    pd.testing.assert_frame_equal(
        read_usage(path, mapping=mapping), tidy([("a.example.com", "EU", "traffic", T0, 2 * 1024**3)])
    )


def test_mapping_none_ignores_a_column_and_units_override(tmp_path: Path) -> None:
    path = build(
        tmp_path / "x.xlsx", {"s": [["时间", "流量(Byte)", "流量(MB)"], ["2024-03-02 00:00:00", 1048576, 1]]}
    )
    with pytest.raises(UnrecognizedLayoutError, match="both read as traffic"):
        read_usage(path)
    frame = read_usage(path, mapping={"流量(MB)": None})
    pd.testing.assert_frame_equal(frame, tidy([(None, None, "traffic", T0, 1048576)]))
    frame = read_usage(path, mapping={"流量(Byte)": None, "流量(MB)": ("traffic", "kb")})
    pd.testing.assert_frame_equal(frame, tidy([(None, None, "traffic", T0, 1024)]))


def test_bad_mapping_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        read_usage(b"", mapping={"x": "volume"})
    with pytest.raises(ValueError, match="unknown unit"):
        read_usage(b"", mapping={"x": ("traffic", "furlongs")})
    with pytest.raises(ValueError, match="kb must be"):
        read_usage(b"", kb=1001)


# --- refusals ---------------------------------------------------------------------------------------------


def test_an_unrecognisable_layout_names_file_sheet_headers_and_how_to_map(tmp_path: Path) -> None:
    path = build(tmp_path / "odd.xlsx", {"Daten": [["Bericht"], ["Zeit", "Menge"], ["2024-03-02 00:00", 5]]})
    with pytest.raises(UnrecognizedLayoutError) as caught:
        read_usage(path)
    error = caught.value
    assert error.sheet == "Daten"
    assert error.headers[:3] == ("Bericht", "Zeit", "Menge")
    message = str(error)
    assert str(path) in message and "'Daten'" in message and "Menge" in message
    assert "read_usage(path, mapping={" in message


def test_a_sheet_with_data_but_no_header_raises_even_beside_a_good_sheet(tmp_path: Path) -> None:
    path = build(
        tmp_path / "two.xlsx",
        {"good": [["Time", "Requests"], ["2024-03-02 00:00", 1]], "bad": [["foo", "bar"], [1, 2]]},
    )
    with pytest.raises(UnrecognizedLayoutError, match="'bad'"):
        read_usage(path)


def test_a_sheet_whose_data_is_stored_as_text_is_never_skipped_silently(tmp_path: Path) -> None:
    # numbers and times written as text are still data: a sheet of them under an unknown header must
    # raise, not vanish from the result beside a good sheet (the frame would be silently short)
    path = build(
        tmp_path / "text.xlsx",
        {
            "good": [["Time", "Requests"], ["2024-03-02 00:00", 1]],
            "bad": [["Zeit", "Anfragen"], ["2024-03-02 00:05:00", "2"]],
        },
    )
    with pytest.raises(UnrecognizedLayoutError, match="'bad'"):
        read_usage(path)
    numbers_only = build(
        tmp_path / "n.xlsx", {"good": [["Time", "Requests"]], "b": [["x", "y"], ["1,234", "5"]]}
    )
    with pytest.raises(UnrecognizedLayoutError, match="'b'"):
        read_usage(numbers_only)


def test_a_workbook_without_any_header_raises(tmp_path: Path) -> None:
    path = build(tmp_path / "notes.xlsx", {"notes": [["nothing here"]]})
    with pytest.raises(UnrecognizedLayoutError, match="no sheet has a header"):
        read_usage(path)


def test_a_workbook_with_an_unknown_header_and_no_rows_names_what_it_saw(tmp_path: Path) -> None:
    path = build(tmp_path / "de.xlsx", {"Daten": [["Bericht"], ["Zeit", "Menge (GiB)"]]})
    with pytest.raises(UnrecognizedLayoutError) as caught:
        read_usage(path)
    assert caught.value.sheet == "Daten"
    assert caught.value.headers == ("Bericht", "Zeit", "Menge (GiB)")
    assert "Menge (GiB)" in str(caught.value) and "mapping=" in str(caught.value)


def test_an_unknown_unit_is_a_layout_error_not_a_silent_drop(tmp_path: Path) -> None:
    path = build(tmp_path / "u.xlsx", {"s": [["Time", "Traffic(Pages)"], ["2024-03-02 00:00", 1]]})
    with pytest.raises(UnrecognizedLayoutError, match=r"unit of column 'Traffic\(Pages\)'"):
        read_usage(path)


def test_a_cell_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    path = build(
        tmp_path / "n.xlsx",
        {"s": [["Time", "Requests"], ["2024-03-02 00:00", 1], ["2024-03-02 00:05", "many"]]},
    )
    with pytest.raises(ReadError, match=r"sheet 's', row 3, column 'Requests': is not a number: 'many'"):
        read_usage(path)


def test_a_note_in_the_time_column_without_values_is_not_data(tmp_path: Path) -> None:
    rows = [["Time", "Requests"], ["2024-03-02 00:00", 1], ["注: 数据仅供参考 (2)", None], [None, None]]
    pd.testing.assert_frame_equal(
        read_usage(build(tmp_path / "n.xlsx", {"s": rows})), tidy([(None, None, "requests", T0, 1)])
    )


def test_bandwidth_in_bytes_per_second_is_not_guessed(tmp_path: Path) -> None:
    path = build(tmp_path / "b.xlsx", {"s": [["Time", "Bandwidth(KB/s)"], ["2024-03-02 00:00", 1]]})
    with pytest.raises(UnrecognizedLayoutError, match="unit of column"):
        read_usage(path)


@pytest.mark.parametrize("cell", [None, "yesterday", 5, "March 2"])
def test_values_without_a_readable_time_raise(tmp_path: Path, cell: str | int | None) -> None:
    path = build(tmp_path / "n.xlsx", {"s": [["Time", "Requests"], ["2024-03-02 00:00", 1], [cell, 2]]})
    with pytest.raises(ReadError, match="row 3"):
        read_usage(path)


def test_repeated_rows_are_read_once_and_conflicting_rows_raise(tmp_path: Path) -> None:
    rows = [["Time", "Domain", "Requests"], ["2024-03-02 00:00", "a", 1], ["2024-03-02 00:00", "a", 1]]
    pd.testing.assert_frame_equal(
        read_usage(build(tmp_path / "same.xlsx", {"s": rows})), tidy([("a", None, "requests", T0, 1)])
    )
    rows[2][2] = 2
    with pytest.raises(ReadError, match="two different requests values for a at 2024-03-01 16:00Z"):
        read_usage(build(tmp_path / "clash.xlsx", {"s": rows}))


def test_a_workbook_without_data_rows_is_an_empty_typed_frame(tmp_path: Path) -> None:
    path = build(
        tmp_path / "e.xlsx",
        {
            "s": [
                ["Title"],
                [],
                ["时间", "域名", "计费区域", "流量(Byte)", "带宽(bps)"],
                ["合计", None, None, 0, 0],
            ]
        },
    )
    frame = read_usage(path)
    assert frame.empty
    assert_contract(frame)


def _html(tmp_path: Path) -> Path:
    path = tmp_path / "export.xlsx"
    page = "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>" + "x" * 200
    page += "see https://oss.example.com/a.xlsx?OSSAccessKeyId=LTAI&Signature=s3cr3t</body></html>"
    path.write_text(page)
    return path


def test_an_html_page_saved_as_xlsx_is_named_as_html(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError) as caught:
        read_usage(_html(tmp_path))
    assert caught.value.detected == "html"
    message = str(caught.value)
    assert "HTML page" in message and "<!DOCTYPE html> <html><head><title>403 Forbidden" in message
    quoted = message.split("it starts ")[1]
    assert len(quoted) <= 82  # at most 80 characters and their quotes


def test_a_quoted_error_reply_never_shows_a_url_query(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    path.write_text("<?xml version='1.0'?><Error>https://b.example.com/x?Signature=s3cr3t</Error>")
    with pytest.raises(FileFormatError, match="XML document") as caught:
        read_usage(path)
    assert "s3cr3t" not in str(caught.value)


def test_a_pdf_given_to_read_usage_points_to_read_summary() -> None:
    data = write_summary_pdf(summary_frame([]), title="t")
    with pytest.raises(FileFormatError, match=r"read_summary\(path\)"):
        read_usage(data)


@pytest.mark.parametrize(
    ("data", "detected", "match"),
    [
        (b"", "empty", "empty"),
        (b"TaskId,Traffic\n1,2\n", "text", "plain text"),
        (b'{"Code": "AccessDenied"}', "json", "JSON document"),
        (bytes(range(256)), "unknown", "neither xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "xls", "corrupted or unreadable xls"),
    ],
)
def test_files_that_are_not_workbooks_are_named(data: bytes, detected: str, match: str) -> None:
    with pytest.raises(FileFormatError, match=match) as caught:
        read_usage(data)
    assert caught.value.detected == detected


def test_a_truncated_workbook_is_a_format_error() -> None:
    data = write_detail_workbook(
        world_usage("vas", False), type="vas", language="en-us", by_account=False, title="t"
    )
    with pytest.raises(FileFormatError, match="corrupted or truncated zip"):
        read_usage(data[: len(data) // 2])


def test_a_corrupted_workbook_is_a_format_error() -> None:
    data = bytearray(
        write_detail_workbook(
            world_usage("flow", False), type="flow", language="en-us", by_account=False, title="t"
        )
    )
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 64] = bytes(64)  # the deflated sheet's first bytes wiped
    with pytest.raises(FileFormatError, match="corrupted"):
        read_usage(bytes(data))


def test_a_zip_that_is_not_a_workbook_is_named() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.csv", "a,b\n")
    with pytest.raises(FileFormatError, match=r"not an xlsx workbook \(it holds report.csv\)"):
        read_usage(buffer.getvalue())


def _forged_bomb() -> bytes:
    """A real workbook whose central directory claims its sheet unpacks to 2 GiB."""
    data = bytearray(
        write_detail_workbook(
            world_usage("vas", True), type="vas", language="en-us", by_account=True, title="t"
        )
    )
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, at + 24, 2**31)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def _deflated_bomb(path: Path) -> Path:
    """101 MiB of zeros deflated into a ~100 KB 'workbook', written in a streaming way."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            block = bytes(1 << 20)
            for _ in range(101):
                member.write(block)
    return path


def test_zip_bombs_are_refused_before_any_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import python_calamine

    class NoParsing:
        @staticmethod
        def from_path(*args: Any) -> None:
            raise AssertionError("a bomb reached the workbook parser")

        from_filelike = from_path

    monkeypatch.setattr(python_calamine, "CalamineWorkbook", NoParsing)
    with pytest.raises(UnsafeFileError, match="zip bomb"):
        read_usage(_forged_bomb())
    bomb = _deflated_bomb(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 1 << 20
    declared = 101 * 2**20 + len("<Types/>")
    with pytest.raises(UnsafeFileError, match=f"declare {declared:,} bytes unpacked"):
        read_usage(bomb)


def test_a_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="No such file"):
        read_usage(tmp_path / "missing.xlsx")
    with pytest.raises(ReadError, match="No such file"):
        read_usage(tmp_path / "missing.xlsx", cache=False)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7", "pdf"),
        (b"PK\x03\x04rest", "xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
        (b"\xef\xbb\xbf  <html lang=en>", "html"),
        (b"<?xml version='1.0'?><Error/>", "xml"),
        (b"  \n", "empty"),
        ("时间,流量\n".encode(), "text"),
    ],
)
def test_detect_format_reads_first_bytes(tmp_path: Path, data: bytes, expected: str) -> None:
    assert detect_format(data) == expected
    path = tmp_path / "file.pdf"
    path.write_bytes(data)
    assert detect_format(path) == expected


# --- the cache ---------------------------------------------------------------------------------------------


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real parses behind read_usage."""
    calls: list[int] = []
    real = detail.parse_workbook

    def counting(*args: Any, **kwargs: Any) -> pd.DataFrame:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(detail, "parse_workbook", counting)
    return calls


def _workbook(tmp_path: Path, value: int = 1) -> Path:
    return build(tmp_path / "c.xlsx", {"s": [["Time", "Requests"], ["2024-03-02 00:00", value]]})


def test_a_second_read_comes_from_memory_and_is_a_copy(tmp_path: Path, parses: list[int]) -> None:
    path = _workbook(tmp_path)
    first = read_usage(path)
    first.loc[0, "value"] = -1.0
    second = read_usage(path)
    assert len(parses) == 1
    assert second.loc[0, "value"] == 1.0


def test_a_changed_file_is_never_served_stale(tmp_path: Path, parses: list[int]) -> None:
    path = _workbook(tmp_path, 1)
    assert read_usage(path)["value"].tolist() == [1.0]
    stat_before = path.stat()
    _workbook(tmp_path, 2)
    os.utime(path, ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))  # same name, same date
    assert read_usage(path)["value"].tolist() == [2.0]
    assert len(parses) == 2


def test_options_are_part_of_the_key(tmp_path: Path, parses: list[int]) -> None:
    path = build(tmp_path / "k.xlsx", {"s": [["Time", "Traffic(KB)"], ["2024-03-02 00:00", 1]]})
    assert read_usage(path)["value"].tolist() == [1024.0]
    assert read_usage(path, kb=1000)["value"].tolist() == [1000.0]
    assert read_usage(path, mapping={"Traffic(KB)": ("traffic", "MB")})["value"].tolist() == [1024.0**2]
    assert len(parses) == 3


def test_the_disk_cache_survives_the_process_and_is_private(tmp_path: Path, parses: list[int]) -> None:
    path = _workbook(tmp_path)
    expected = read_usage(path)
    files = list(cache_dir().glob("*.parquet"))
    assert len(files) == 1 and cache_dir() == tmp_path / "cache" / "parsed"
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    clear_cache()  # as a new process would start
    frame = read_usage(path)
    assert len(parses) == 1
    pd.testing.assert_frame_equal(frame, expected)
    assert_contract(frame)


def test_a_damaged_cache_file_is_a_miss(tmp_path: Path, parses: list[int]) -> None:
    path = _workbook(tmp_path)
    read_usage(path)
    (cached,) = cache_dir().glob("*.parquet")
    cached.write_bytes(b"not parquet")
    clear_cache()
    with pytest.warns(CacheWarning, match="does not match the SHA-256"):
        assert read_usage(path)["value"].tolist() == [1.0]
    assert len(parses) == 2


def test_the_disk_cache_follows_the_cache_dir_asked_for(tmp_path: Path, parses: list[int]) -> None:
    # usage(cache_dir=...) and `usagekit fetch --cache-dir` keep customer data where they were told,
    # never in $USAGEKIT_CACHE_DIR or the user's home cache
    path = _workbook(tmp_path)
    chosen = tmp_path / "chosen"
    expected = read_usage(path, cache_dir=chosen)
    assert len(list((chosen / "parsed").glob("*.parquet"))) == 1
    assert not cache_dir().exists()
    clear_cache()
    pd.testing.assert_frame_equal(read_usage(path, cache_dir=chosen), expected)
    assert len(parses) == 1  # from the chosen folder's disk cache


def test_a_file_changed_while_it_is_parsed_is_not_cached_under_its_old_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _workbook(tmp_path, 1)
    old = path.read_bytes()
    real = detail.parse_workbook

    def replaced_meanwhile(*args: Any, **kwargs: Any) -> pd.DataFrame:
        _workbook(tmp_path, 2)  # another writer replaces the file between hashing and parsing
        return real(*args, **kwargs)

    monkeypatch.setattr(detail, "parse_workbook", replaced_meanwhile)
    read_usage(path)
    monkeypatch.setattr(detail, "parse_workbook", real)
    clear_cache()
    path.write_bytes(old)  # the old content again: its parse must say 1, not the other file's 2
    assert read_usage(path)["value"].tolist() == [1.0]


def test_cache_false_parses_every_time_and_memory_never_writes(tmp_path: Path, parses: list[int]) -> None:
    path = _workbook(tmp_path)
    read_usage(path, cache=False)
    read_usage(path, cache=False)
    read_usage(path, cache="memory")
    read_usage(path, cache="memory")
    assert len(parses) == 3
    assert not cache_dir().exists()


# --- the summary PDF ---------------------------------------------------------------------------------------


def test_the_summary_pdf_reads_back_to_its_table() -> None:
    usage = pd.concat([world_usage("flow", False), world_usage("vas", False)])
    summary = summarise(usage, period="2024-03-02 to 2024-03-31")
    pd.testing.assert_frame_equal(read_summary(write_summary_pdf(summary, title="Summary")), summary)


def test_a_summary_over_several_pages_reads_whole() -> None:
    rows = [
        {
            "item": "Traffic",
            "region": f"Region {i:03d}",
            "period": "2024-03",
            "value": float(i * 10**9),
            "unit": "byte",
        }
        for i in range(80)
    ]
    summary = summary_frame(rows)
    data = write_summary_pdf(summary, title="Long")
    import pypdf

    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) > 1
    pd.testing.assert_frame_equal(read_summary(data), summary)


def test_long_cells_wrapped_onto_several_lines_are_read_whole() -> None:
    region = "Middle East and Africa, including every country the billing region covers"
    summary = summary_frame(
        [
            {"item": "Traffic", "region": region, "period": "2024-03", "value": 5.0, "unit": "byte"},
            {"item": "Requests", "region": None, "period": "2024-03", "value": 7.0, "unit": "request"},
        ]
    )
    pd.testing.assert_frame_equal(read_summary(write_summary_pdf(summary, title="Wrapped")), summary)


def test_read_summary_refuses_what_is_not_a_summary(tmp_path: Path) -> None:
    workbook = write_detail_workbook(
        world_usage("vas", True), type="vas", language="en-us", by_account=True, title="t"
    )
    with pytest.raises(FileFormatError, match=r"read_usage\(path\)"):
        read_summary(workbook)
    with pytest.raises(FileFormatError, match=r"HTML|html"):
        read_summary(_html(tmp_path))
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Invoice 2024-03")
    with pytest.raises(ReadError, match=r"no summary table found.*Invoice 2024-03"):
        read_summary(bytes(pdf.output()))
    data = write_summary_pdf(summary_frame([]), title="t")
    with pytest.raises(FileFormatError, match="corrupted or truncated PDF"):
        read_summary(data[: len(data) // 3])
