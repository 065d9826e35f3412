"""Tidy frames kept as a hive-partitioned Parquet dataset (read back by us and by DuckDB), and FOCUS."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from usagekit.dataset import UnverifiedPartitionWarning
from usagekit.errors import ReadError
from usagekit.frames import BEIJING, sort_tidy, tidy_frame
from usagekit.tidy import FOCUS_UNITS, read_dataset, to_dataset, to_focus

ACCOUNTS = ["demo-shop", "prod (credentials file)", "a/b=c"]


def sample(months: tuple[str, ...] = ("2026-09-30T15:00:00Z", "2026-10-31T16:00:00Z")) -> pd.DataFrame:
    """Rows around Beijing month boundaries, with missing domains and regions, three odd account names."""
    records = []
    rng = np.random.default_rng(3)
    for account in ACCOUNTS:
        for first in months:
            for i in range(24):
                start = pd.Timestamp(first) + pd.Timedelta(minutes=5 * i)
                for domain, region, metric in [
                    ("img.shop.example", "CN", "traffic"),
                    ("img.shop.example", "EU", "bandwidth"),
                    (None, None, "requests"),
                ]:
                    unit = {"traffic": "byte", "bandwidth": "bit/s", "requests": "request"}[metric]
                    records.append(
                        {
                            "account": account,
                            "task_id": f"{account[:4]}-{first[:7]}",
                            "domain": domain,
                            "region": region,
                            "metric": metric,
                            "start": start,
                            "end": start + pd.Timedelta(minutes=5),
                            "value": float(rng.integers(0, 10**9)) * 75,
                            "unit": unit,
                        }
                    )
    return tidy_frame(pd.DataFrame(records))


def test_round_trip_keeps_rows_and_contract_dtypes(tmp_path: Path) -> None:
    frame = sample()
    files = to_dataset(frame, tmp_path / "usage")
    back = read_dataset(tmp_path / "usage")
    pd.testing.assert_frame_equal(back, sort_tidy(tidy_frame(frame)))
    assert {f.parent.name for f in files} == {"month=2026-09", "month=2026-10", "month=2026-11"}
    assert all(f.parent.parent.name.startswith("account=") for f in files)


def test_months_are_beijing_months(tmp_path: Path) -> None:
    frame = sample()
    to_dataset(frame, tmp_path)
    november = read_dataset(tmp_path, filters=[("month", "=", "2026-11")])
    assert len(november) > 0
    assert (november["start"].dt.tz_convert(BEIJING).dt.month == 11).all()
    assert november["start"].min() == pd.Timestamp("2026-10-31T16:00:00Z")  # 00:00 in Beijing


def test_duckdb_reads_the_dataset_as_it_is(tmp_path: Path) -> None:
    frame = sample()
    to_dataset(frame, tmp_path)
    pattern = str(tmp_path / "**" / "*.parquet")
    connection = duckdb.connect()
    got = connection.execute(
        "SELECT account, month, metric, sum(value) AS total, count(*) AS n "
        "FROM read_parquet(?, hive_partitioning=true) GROUP BY ALL",
        [pattern],
    ).df()
    expected = (
        frame.assign(
            account=frame["account"].astype(str),
            month=frame["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m"),
            metric=frame["metric"].astype(str),
        )
        .groupby(["account", "month", "metric"])["value"]
        .agg(total="sum", n="count")
        .reset_index()
        .sort_values(["account", "month", "metric"])
        .reset_index(drop=True)
    )
    # DuckDB decodes pyarrow's URI-encoded partition values back to the account names
    assert sorted(got["account"].unique()) == sorted(ACCOUNTS)
    got = got.sort_values(["account", "month", "metric"]).reset_index(drop=True)
    assert got["total"].tolist() == expected["total"].tolist()
    assert got["n"].tolist() == expected["n"].tolist()
    described = connection.execute(
        "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning=true)", [pattern]
    ).df()
    types = dict(zip(described["column_name"], described["column_type"], strict=True))
    assert types["start"] == "TIMESTAMP WITH TIME ZONE" and types["value"] == "DOUBLE"


def test_timestamps_are_stored_in_microseconds_for_spark(tmp_path: Path) -> None:
    files = to_dataset(sample(), tmp_path)
    schema = pq.read_schema(files[0])
    assert str(schema.field("start").type) == "timestamp[us, tz=UTC]"
    assert "month" not in schema.names and "account" not in schema.names  # hive columns live in paths


def test_writing_a_partition_again_replaces_it_and_leaves_the_others(tmp_path: Path) -> None:
    frame = sample()
    to_dataset(frame, tmp_path)
    october = frame["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m") == "2026-10"
    shop = frame["account"] == "demo-shop"
    changed = frame[october & shop].assign(value=1.0)
    to_dataset(changed, tmp_path)
    back = read_dataset(tmp_path)
    again_oct = back["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m") == "2026-10"
    assert (back[again_oct & (back["account"] == "demo-shop")]["value"] == 1.0).all()
    assert len(back) == len(frame)  # replaced, not appended
    untouched = back[~(again_oct & (back["account"] == "demo-shop"))]
    assert untouched["value"].sum() == frame[~(october & shop)]["value"].sum()


def test_filters_and_empty_results(tmp_path: Path) -> None:
    frame = sample()
    to_dataset(frame, tmp_path)
    one = read_dataset(tmp_path, filters=[("account", "=", "a/b=c"), ("month", ">=", "2026-10")])
    month = frame["start"].dt.tz_convert(BEIJING).dt.strftime("%Y-%m")
    expected = frame[(frame["account"] == "a/b=c") & (month >= "2026-10")]
    assert set(one["account"].astype(str)) == {"a/b=c"}
    assert len(one) == len(expected) == 36 * 3  # 12 points of 30 September (Beijing) left out
    none = read_dataset(tmp_path, filters=[("account", "=", "nobody")])
    assert none.empty and list(none.columns) == list(tidy_frame({}).columns)


def test_an_empty_frame_round_trips_to_an_empty_tidy_frame(tmp_path: Path) -> None:
    assert to_dataset(tidy_frame({}), tmp_path / "empty") == []
    back = read_dataset(tmp_path / "empty")
    pd.testing.assert_frame_equal(back, tidy_frame({}))


def test_a_partition_is_one_file_replaced_whole_and_hidden_leftovers_are_not_data(tmp_path: Path) -> None:
    frame = sample()
    first = to_dataset(frame, tmp_path)
    assert all(f.name == "part-0.parquet" for f in first)
    folder = first[0].parent
    # what a process killed mid-write leaves: a hidden half file, and the manifest beside the data
    (folder / ".part-0.parquet.999-dead.tmp").write_bytes(b"PAR1 half a file")
    (tmp_path / "_manifest.json").write_text("{}")
    with pytest.warns(UnverifiedPartitionWarning, match="no SHA-256"):
        back = read_dataset(tmp_path)
    pd.testing.assert_frame_equal(back, sort_tidy(tidy_frame(frame)))
    pattern = str(tmp_path / "**" / "*.parquet")
    rows = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?, hive_partitioning=true)", [pattern])
    assert rows.fetchone() == (len(frame),)
    second = to_dataset(frame.assign(value=2.0), tmp_path)
    assert second == first and sorted(p.name for p in folder.iterdir() if p.suffix == ".parquet") == [
        "part-0.parquet"
    ]


def test_provenance_travels_with_the_data_and_the_manifest_indexes_it(tmp_path: Path) -> None:
    from usagekit.dataset import read_manifest, read_partition, write_partition

    frame = sample()
    shop = frame[(frame["account"] == "demo-shop") & (frame["start"] >= "2026-10-31T16:00:00Z")]
    write_partition(shop, tmp_path, "demo-shop", "2026-11", provenance={"pieces": [{"task_id": "7"}]})
    to_dataset(frame[frame["account"] == "a/b=c"], tmp_path)  # no provenance
    manifest = read_manifest(tmp_path)
    entries = manifest["partitions"]
    assert entries["demo-shop/2026-11"]["provenance"] == {"pieces": [{"task_id": "7"}]}
    assert entries["demo-shop/2026-11"]["rows"] == len(shop)
    assert entries["a/b=c/2026-10"]["provenance"] is None
    assert json.loads((tmp_path / "_manifest.json").read_text()) == manifest
    expected = sort_tidy(tidy_frame(shop.astype({"account": "string"})))  # categories: this account only
    pd.testing.assert_frame_equal(read_partition(tmp_path, "demo-shop", "2026-11"), expected)
    assert {e["sha256"] for e in entries.values()} == {
        hashlib.sha256((tmp_path / e["file"]).read_bytes()).hexdigest() for e in entries.values()
    }
    assert all(e["size"] == (tmp_path / e["file"]).stat().st_size for e in entries.values())
    # a lost index is rebuilt from the footers (provenance, rows), but no hash is taken from a file
    (tmp_path / "_manifest.json").write_text('{"version": 1, "partitions": {}}')
    rebuilt = read_manifest(tmp_path)["partitions"]
    assert {k: {**e, "sha256": None, "size": None} for k, e in entries.items()} == rebuilt


def test_reading_nothing_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no Parquet dataset"):
        read_dataset(tmp_path / "missing")


def test_to_focus_columns_units_and_constants() -> None:
    frame = sample()
    focus = to_focus(frame)
    assert list(focus.columns) == [
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ConsumedQuantity",
        "ConsumedUnit",
        "ResourceId",
        "ResourceName",
        "RegionId",
        "RegionName",
        "SubAccountName",
        "ServiceName",
        "ServiceCategory",
        "ProviderName",
        "PublisherName",
        "ChargeCategory",
        "x_Metric",
        "x_TaskId",
    ]
    assert len(focus) == len(frame)
    assert focus["ConsumedQuantity"].equals(frame["value"])
    assert focus["ChargePeriodStart"].equals(frame["start"])
    units = dict(zip(frame["unit"].astype(str), focus["ConsumedUnit"].astype(str), strict=True))
    assert units == FOCUS_UNITS
    assert set(focus["ServiceName"]) == {"CDN"} and set(focus["ProviderName"]) == {"Alibaba Cloud"}
    assert focus["ResourceId"].isna().sum() == frame["domain"].isna().sum() > 0
    assert focus["SubAccountName"].astype(str).tolist() == frame["account"].astype(str).tolist()
    assert str(focus["ChargePeriodEnd"].dtype) == "datetime64[ns, UTC]"
