"""Every CSV usagekit writes reads back with one call, ``usagekit.read_csv``: the region ``NA`` (North
America) stays ``NA``, the dtypes come back, no DtypeWarning; the example price table is marked as one and
``usagekit prices --example`` writes it."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit.cli import main
from usagekit.frames import sort_tidy
from usagekit.report import write_billing
from usagekit.sandbox import Sandbox


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Sandbox:
    """Discovery returns the session sandbox's demo accounts."""
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "7")
    monkeypatch.delenv("USAGEKIT_SANDBOX_ACCOUNTS", raising=False)
    return sandbox


def _flow_with_region_na(box: Sandbox) -> str:
    """A successful flow export of the four-region account (CN, AP1, EU, NA) by account."""
    detail = box.truth.tasks("demo-games", "detail")
    chosen = detail[
        (detail["type"] == "flow") & (detail["status"] == "success") & (detail["domains"] == "all")
    ]
    return str(chosen["task_id"].iloc[0])


def test_usage_csv_of_usagekit_fetch_reads_back_equal_to_the_truth(env: Sandbox, tmp_path: Path) -> None:
    task_id = _flow_with_region_na(env)
    target = tmp_path / "usage.csv"
    assert main(["fetch", "--task-id", task_id, "--format", "csv", "--output", str(target),
                 "--cache-dir", str(tmp_path / "cache")]) == 0  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DtypeWarning, nothing else
        frame = usagekit.read_csv(target)
    expected = sort_tidy(env.truth.usage(task_id))
    assert (frame["region"] == "NA").sum() > 0 and frame["region"].notna().all()
    pd.testing.assert_frame_equal(sort_tidy(frame), expected, check_categorical=False)
    assert frame.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()


def test_tasks_csv_reads_back_as_the_task_frame(env: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "tasks.csv"
    assert main(["tasks", "--format", "csv", "--output", str(target)]) == 0
    frame = usagekit.read_csv(target)
    truth = pd.concat([env.truth.tasks(a.name) for a in env.accounts], ignore_index=True)
    assert sorted(frame["task_id"]) == sorted(truth["task_id"])
    mine = frame.set_index("task_id").sort_index()
    theirs = truth.set_index("task_id").sort_index()
    for column in ("created", "updated", "window_start", "window_end"):
        pd.testing.assert_series_equal(mine[column], theirs[column])
    one = env.truth.tasks("demo-shop")  # a task frame of the contract (concat above unions categories)
    assert frame.dtypes.astype(str).tolist() == one.dtypes.astype(str).tolist()
    assert (
        set(frame["type"].dropna()) == {"flow", "vas"}
        and frame.loc[frame["kind"] == "summary", "type"].isna().all()
    )


def test_billing_csv_keeps_the_region_na_and_its_dtypes(sandbox: Sandbox, tmp_path: Path) -> None:
    usage = sandbox.truth.usage(_flow_with_region_na(sandbox))
    written = write_billing(usage, tmp_path / "billing.csv")
    assert (written["region"] == "NA").sum() > 0
    back = usagekit.read_csv(tmp_path / "billing.csv")
    pd.testing.assert_frame_equal(back, written, check_categorical=False)
    assert back.dtypes.astype(str).tolist() == written.dtypes.astype(str).tolist()
    plain = pd.read_csv(tmp_path / "billing.csv")  # what the issue met: NA taken for missing
    assert plain["region"].isna().sum() == (written["region"] == "NA").sum()


def test_example_prices_are_marked_as_an_example_and_dated() -> None:
    table = usagekit.example_prices()
    assert table.attrs["example"] is True and table.attrs["dated"] == "2026-11"
    assert "NOT Alibaba Cloud's prices" in table.attrs["note"]
    assert set(table["method"]) >= {"hour_flow", "day_bandwidth", "month_95"}


def test_usagekit_prices_example_writes_the_table_compare_billing_reads(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prices", "--example"]) == 0
    captured = capsys.readouterr()
    assert "EXAMPLE" in captured.err and "NOT Alibaba Cloud's prices" in captured.err
    (tmp_path / "prices.csv").write_text(captured.out, encoding="utf-8")
    table = usagekit.read_csv(tmp_path / "prices.csv")
    pd.testing.assert_frame_equal(table, usagekit.example_prices())
    month_95 = table.loc[table["method"] == "month_95", "unit_price"].astype(str).tolist()
    assert month_95 == ["24.00000000"]  # the number the shipped file holds, written here
    usage = sandbox.truth.usage(_flow_with_region_na(sandbox))
    priced = usagekit.compare_billing(usage, prices=str(tmp_path / "prices.csv"))
    assert priced["cost"].notna().any()
    assert main(["prices"]) == 2 and "--example" in capsys.readouterr().err


def test_any_other_csv_gets_dtypes_from_its_values() -> None:
    text = (
        "account,region,when,count,share,flag,gap\n"
        "shop,NA,2026-10-01T16:00:00Z,3,0.5,True,\n"
        "shop,CN,2026-10-02T16:00:00+00:00,4,1,False,7\n"
    )
    frame = usagekit.read_csv(io.StringIO(text))
    assert frame["region"].tolist() == ["NA", "CN"]
    assert frame.dtypes.astype(str).to_dict() == {
        "account": "string", "region": "string", "when": "datetime64[ns, UTC]", "count": "int64",
        "share": "float64", "flag": "boolean", "gap": "Int64",
    }  # fmt: skip


def test_a_missing_file_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(usagekit.ArgumentError, match="no such file"):
        usagekit.read_csv(tmp_path / "none.csv")
