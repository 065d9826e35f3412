"""The sandbox's file writers, checked with independent readers (openpyxl for xlsx, pypdf for PDF)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pypdf
import pytest

from usagekit.frames import tidy_frame
from usagekit.sandbox.files import (
    SUMMARY_HEADER,
    detail_headers,
    summarise,
    summary_frame,
    write_detail_workbook,
    write_summary_pdf,
)

T0 = pd.Timestamp("2024-03-01T16:00:00Z")  # 2024-03-02 00:00 in Beijing
STEP = pd.Timedelta(minutes=5)
UNITS = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}


def usage_frame(rows: list[tuple[str | None, str | None, str, pd.Timestamp, float]]) -> pd.DataFrame:
    """A tidy frame (with source columns) from (domain, region, metric, start, value) rows."""
    return tidy_frame(
        {
            "account": ["prod"] * len(rows),
            "task_id": ["42"] * len(rows),
            "domain": [r[0] for r in rows],
            "region": [r[1] for r in rows],
            "metric": [r[2] for r in rows],
            "start": [r[3] for r in rows],
            "end": [r[3] + STEP for r in rows],
            "value": [r[4] for r in rows],
            "unit": [UNITS[r[2]] for r in rows],
        }
    )


def cells(data: bytes) -> tuple[str, list[list[object]]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sheet = book.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    name = sheet.title
    book.close()
    return name, rows


FLOW = usage_frame(
    [
        ("b.example.com", "CN", "traffic", T0, 1000.0),
        ("b.example.com", "CN", "bandwidth", T0, 26.0),
        ("a.example.com", "NA", "traffic", T0, 5.0),
        ("a.example.com", "NA", "bandwidth", T0, 1.0),
        ("a.example.com", "CN", "traffic", T0 + STEP, 123_456_789_012.0),
        ("a.example.com", "CN", "bandwidth", T0 + STEP, 3_291_514_907.0),
        ("a.example.com", "CN", "traffic", T0, 7.0),
        ("a.example.com", "CN", "bandwidth", T0, 2.0),
    ]
)


def test_flow_workbook_in_chinese_has_the_inferred_layout() -> None:
    name, rows = cells(
        write_detail_workbook(FLOW, type="flow", language="zh-cn", by_account=False, title="三月明细")
    )
    assert name == "明细"
    assert rows[0][0] == "三月明细"
    assert all(v is None for v in rows[1])
    assert rows[2] == ["时间", "域名", "计费区域", "流量(Byte)", "带宽(bps)"]
    assert rows[3:] == [
        ["2024-03-02 00:00:00", "a.example.com", "CN", 7, 2],
        ["2024-03-02 00:00:00", "a.example.com", "NA", 5, 1],
        ["2024-03-02 00:00:00", "b.example.com", "CN", 1000, 26],
        ["2024-03-02 00:05:00", "a.example.com", "CN", 123_456_789_012, 3_291_514_907],
        ["合计", None, None, 123_456_790_024, 3_291_514_936],
    ]


def test_vas_workbook_in_english_by_account_has_no_domain_or_region_column() -> None:
    usage = usage_frame([(None, None, "requests", T0 + STEP, 9.0), (None, None, "requests", T0, 11.0)])
    name, rows = cells(write_detail_workbook(usage, type="vas", language="en-us", by_account=True, title="t"))
    assert name == "Detail"
    assert rows[2] == ["Time", "Requests"]
    assert rows[3:] == [["2024-03-02 00:00:00", 11], ["2024-03-02 00:05:00", 9], ["Total", 20]]


@pytest.mark.parametrize("language", ["zh-cn", "en-us", "EN-US"])
@pytest.mark.parametrize("type", ["flow", "vas"])
@pytest.mark.parametrize("by_account", [False, True])
def test_headers_follow_type_language_and_scope(language: str, type: str, by_account: bool) -> None:
    headers = detail_headers(type, language, by_account=by_account)
    assert headers[0] in {"时间", "Time"}
    assert len(headers) == (5 if type == "flow" else 3) - by_account
    assert any(h in headers for h in ("域名", "Domain")) is not by_account


def test_a_missing_metric_is_a_blank_cell_not_a_zero() -> None:
    usage = usage_frame([("a.example.com", "CN", "traffic", T0, 5.0)])
    _, rows = cells(write_detail_workbook(usage, type="flow", language="en-us", by_account=False, title="t"))
    assert rows[3] == ["2024-03-02 00:00:00", "a.example.com", "CN", 5, None]


def test_text_is_escaped_for_xml() -> None:
    usage = usage_frame([("a.example.com", "R&D <lab>", "traffic", T0, 5.0)])
    title = 'Q1 "report" & <notes>'
    _, rows = cells(
        write_detail_workbook(usage, type="flow", language="en-us", by_account=False, title=title)
    )
    assert rows[0][0] == title
    assert rows[3][2] == "R&D <lab>"


def test_the_same_usage_gives_the_same_bytes() -> None:
    first = write_detail_workbook(FLOW, type="flow", language="zh-cn", by_account=False, title="t")
    again = write_detail_workbook(
        FLOW.sample(frac=1, random_state=3), type="flow", language="zh-cn", by_account=False, title="t"
    )
    assert first == again
    assert zipfile.ZipFile(io.BytesIO(first)).testzip() is None


def test_an_empty_export_still_has_title_header_and_total() -> None:
    _, rows = cells(
        write_detail_workbook(FLOW.iloc[:0], type="flow", language="en-us", by_account=False, title="t")
    )
    assert rows[2][0] == "Time"
    assert rows[3] == ["Total", None, None, 0, 0]


@pytest.mark.parametrize(
    ("usage", "type", "by_account", "match"),
    [
        (FLOW, "vas", False, "requests, not bandwidth, traffic"),
        (FLOW, "flow", True, "by account has no domain column"),
        (usage_frame([("a", "CN", "requests", T0, 1.0)]), "vas", False, "no region column"),
        (pd.concat([FLOW, FLOW.iloc[:1]]), "flow", False, "more than one value"),
        (usage_frame([("a", "CN", "traffic", T0, 1.5)]), "flow", False, "whole numbers"),
    ],
)
def test_usage_the_layout_cannot_hold_is_refused(
    usage: pd.DataFrame, type: str, by_account: bool, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        write_detail_workbook(usage, type=type, language="en-us", by_account=by_account, title="t")


def test_unknown_type_or_language_is_refused() -> None:
    with pytest.raises(ValueError, match="'flow' or 'vas'"):
        write_detail_workbook(FLOW, type="edge", language="en-us", by_account=False, title="t")
    with pytest.raises(ValueError, match="'zh-cn' or 'en-us'"):
        write_detail_workbook(FLOW, type="flow", language="fr-fr", by_account=False, title="t")


def test_a_day_of_forty_domains_is_written_quickly_and_completely() -> None:
    starts = pd.date_range(T0, periods=288, freq="5min")
    domains = [f"d{i:02d}.example.com" for i in range(40)]
    grid = pd.MultiIndex.from_product([starts, domains], names=["start", "domain"]).to_frame(index=False)
    values = np.arange(len(grid), dtype="float64")
    usage = usage_frame(
        [(d, None, "requests", s, v) for (s, d), v in zip(grid.itertuples(index=False), values, strict=True)]
    )
    _, rows = cells(write_detail_workbook(usage, type="vas", language="en-us", by_account=False, title="t"))
    assert len(rows) == 3 + 288 * 40 + 1
    assert rows[-1] == ["Total", None, values.sum()]


# --- the summary ---------------------------------------------------------------------------------------


def test_summarise_sums_traffic_and_requests_and_peaks_bandwidth_across_domains() -> None:
    usage = pd.concat(
        [
            FLOW,
            usage_frame(
                [
                    ("a.example.com", None, "requests", T0, 4.0),
                    ("b.example.com", None, "requests", T0 + STEP, 6.0),
                ]
            ),
        ]
    )
    summary = summarise(usage, period="2024-03-02")
    expected = summary_frame(
        [
            {
                "item": "Traffic",
                "region": "CN",
                "period": "2024-03-02",
                "value": 123_456_790_019.0,
                "unit": "byte",
            },
            {"item": "Traffic", "region": "NA", "period": "2024-03-02", "value": 5.0, "unit": "byte"},
            # CN at T0: 2 + 26 = 28 summed across domains; at T0+5min: 3_291_514_907; the peak is the latter
            {
                "item": "Peak bandwidth",
                "region": "CN",
                "period": "2024-03-02",
                "value": 3_291_514_907.0,
                "unit": "bit/s",
            },
            {"item": "Peak bandwidth", "region": "NA", "period": "2024-03-02", "value": 1.0, "unit": "bit/s"},
            {"item": "Requests", "region": None, "period": "2024-03-02", "value": 10.0, "unit": "request"},
        ]
    )
    pd.testing.assert_frame_equal(summary, expected)


def test_peak_bandwidth_is_the_peak_of_the_sum_not_the_sum_of_peaks() -> None:
    usage = usage_frame(
        [
            ("a", "CN", "bandwidth", T0, 10.0),
            ("b", "CN", "bandwidth", T0, 1.0),
            ("a", "CN", "bandwidth", T0 + STEP, 1.0),
            ("b", "CN", "bandwidth", T0 + STEP, 10.0),
        ]
    )
    assert summarise(usage, period="p")["value"].tolist() == [11.0]


def test_summary_of_no_usage_is_an_empty_typed_frame() -> None:
    summary = summarise(FLOW.iloc[:0], period="p")
    assert summary.empty
    assert summary.dtypes.astype(str).tolist() == ["string", "string", "string", "float64", "string"]


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_summary_pdf_is_a_real_pdf_with_title_and_table() -> None:
    summary = summarise(FLOW, period="2024-03-02 to 2024-03-02")
    data = write_summary_pdf(summary, title="CDN usage summary: prod")
    assert data.startswith(b"%PDF-")
    text = _pdf_text(data)
    assert "CDN usage summary: prod" in text
    assert " ".join(SUMMARY_HEADER) in text
    assert "Peak bandwidth CN 2024-03-02 to 2024-03-02 3291514907 bit/s" in text
    assert "," not in text.split(" ".join(SUMMARY_HEADER))[1]  # no thousands separators


def test_summary_pdf_is_deterministic() -> None:
    summary = summarise(FLOW, period="p")
    assert write_summary_pdf(summary, title="t") == write_summary_pdf(summary, title="t")
    assert write_summary_pdf(summary, title="t") != write_summary_pdf(summary, title="u")


def test_summary_pdf_refuses_text_helvetica_cannot_draw() -> None:
    summary = summary_frame(
        [{"item": "Traffic", "region": "中国内地", "period": "p", "value": 1.0, "unit": "byte"}]
    )
    with pytest.raises(ValueError, match="Latin-1"):
        write_summary_pdf(summary, title="t")
