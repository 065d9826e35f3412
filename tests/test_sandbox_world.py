"""The sandbox's seeded world and usage numbers: deterministic, whole, consistent, fast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from usagekit.frames import TIDY_COLUMNS, sort_tidy
from usagekit.sandbox import Sandbox
from usagekit.sandbox.usage import point_starts, point_values
from usagekit.sandbox.world import DomainSpec, WorldParams, build_world

NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_two_sandboxes_with_the_same_seed_and_now_hold_equal_truth(sandbox: Sandbox) -> None:
    with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen") as twin:
        for account in ("demo-shop", "demo-media", "demo-games"):
            mine = sandbox.truth.tasks(account).drop(columns="download_url")
            theirs = twin.truth.tasks(account).drop(columns="download_url")
            pd.testing.assert_frame_equal(mine, theirs)
        detail = sandbox.truth.tasks("demo-media", "detail")
        for task_id in detail.loc[detail["status"] == "success", "task_id"].iloc[:3]:
            mine, theirs = sandbox.truth.usage(task_id), twin.truth.usage(task_id)
            assert len(mine) > 0 and mine.equals(theirs)  # equals: dtypes and values (fast on categoricals)
        assert [a.access_key_id for a in twin.accounts] == [a.access_key_id for a in sandbox.accounts]


def test_another_seed_is_another_world() -> None:
    one = build_world(WorldParams(seed=1, now=NOW))
    two = build_world(WorldParams(seed=2, now=NOW))
    assert [a.access_key_id for a in one.accounts] != [a.access_key_id for a in two.accounts]
    assert [t.created for t in one.tasks] != [t.created for t in two.tasks]


def test_seed_and_now_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "7")
    monkeypatch.setenv("USAGEKIT_SANDBOX_NOW", "2026-11-20T08:00:00Z")
    box = Sandbox(clock="frozen")
    assert box.seed == 7 and box.now == NOW
    assert Sandbox(seed=3, now="2026-01-01T00:00:00Z").seed == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"clock": "slow"}, "clock"),
        ({"now": "2026-11-20T08:00:00"}, "time zone"),
        ({"now": datetime(2026, 11, 20)}, "time zone"),
        ({"domains": (5, 2)}, "domains"),
        ({"window_days": (1, 40)}, "window_days"),
        ({"page_size_over_50": "ignore"}, "page_size_over_50"),
        ({"accounts": 0}, "accounts"),
    ],
)
def test_bad_arguments_are_refused_clearly(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sandbox(**options)


def test_world_shape(sandbox: Sandbox) -> None:
    world = sandbox.world
    names = [d.name for a in world.accounts for d in a.domains]
    assert len(names) == len(set(names)) and all(n.endswith("-demo.example") for n in names)
    assert all(3 <= len(a.domains) <= 8 for a in world.accounts)
    assert any(d.idle for a in world.accounts for d in a.domains)
    assert all(not a.domains[0].idle for a in world.accounts)
    ids = [t.task_id for t in world.tasks]
    assert len(ids) == len(set(ids)) and all(i.isdigit() for i in ids)
    detail = [t for t in world.tasks if t.kind == "detail"]
    assert {t.language for t in detail} == {"zh-cn", "en-us"}
    hours = [t for t in detail if t.window_end - t.window_start == 3600]
    days = [t for t in detail if t.window_end % 86400 == 57599]  # ends 15:59:59Z
    assert hours and days and len(hours) + len(days) == len(detail)
    assert all(t.window_start % 86400 == 57600 for t in days)  # starts 16:00:00Z
    assert all(t.window_end - t.window_start < 31 * 86400 for t in world.tasks)
    tagged = [t for t in detail if t.name.startswith("uk:")]
    assert 0 < len(tagged) < len(detail)


def test_usage_is_whole_and_bandwidth_follows_traffic(sandbox: Sandbox) -> None:
    frame = sandbox.truth.tasks("demo-games", "detail")
    flow = frame[(frame["type"] == "flow") & (frame["domains"] == "some") & (frame["status"] == "success")]
    usage = sandbox.truth.usage(flow["task_id"].iloc[0])
    assert list(usage.columns) == list(TIDY_COLUMNS)
    assert usage.dtypes.astype(str).to_dict() == {
        "account": "category", "task_id": "string", "domain": "category", "region": "category",
        "metric": "category", "start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]",
        "value": "float64", "unit": "category",
    }  # fmt: skip
    wide = usage.pivot_table(
        index=["domain", "region", "start"], columns="metric", values="value", observed=True
    )
    assert (wide["traffic"] % 75 == 0).all()
    assert (wide["bandwidth"] == wide["traffic"] * 8 / 300).all()
    assert (usage["value"] == usage["value"].round()).all()
    assert ((usage["end"] - usage["start"]) == pd.Timedelta(minutes=5)).all()
    assert dict(zip(usage["metric"], usage["unit"], strict=False)) == {
        "traffic": "byte",
        "bandwidth": "bit/s",
    }


def test_overlapping_exports_agree_exactly() -> None:
    domain = DomainSpec("img.shop-demo.example")
    month = point_starts(1_790_784_000, 1_790_784_000 + 31 * 86400)
    whole = point_values(7, "demo-shop", domain, "CN", "traffic", month)
    part = point_values(7, "demo-shop", domain, "CN", "traffic", month[1000:1012])
    assert (whole[1000:1012] == part).all()
    assert (
        point_values(7, "demo-shop", DomainSpec("x.example", idle=True), "CN", "traffic", month) == 0
    ).all()
    other_region = point_values(7, "demo-shop", domain, "EU", "traffic", month, regions=("CN", "EU"))
    assert not (other_region == whole).all()


def test_usage_has_daily_and_weekly_cycles() -> None:
    domain = DomainSpec("img.shop-demo.example")
    starts = point_starts(1_790_784_000, 1_790_784_000 + 28 * 86400)
    values = point_values(3, "demo-shop", domain, None, "requests", starts)
    local_hour = ((starts + 8 * 3600) % 86400) // 3600
    by_hour = pd.Series(values).groupby(local_hour).mean()
    assert by_hour.max() > 2 * by_hour.min()


def test_a_month_of_forty_domains_generates() -> None:
    """How fast: benchmarks/bench_sandbox.py (points of 40 domains over 31 days)."""
    domains = [DomainSpec(f"d{i}.shop-demo.example") for i in range(40)]
    starts = point_starts(1_790_784_000, 1_790_784_000 + 31 * 86400)
    values = [point_values(7, "demo-shop", d, "CN", "traffic", starts) for d in domains]
    assert all(len(v) == 31 * 288 and (v >= 0).all() for v in values)
    assert sum(int(v.sum()) for v in values) > 0


def test_a_large_world_builds() -> None:
    """How fast: benchmarks/bench_sandbox.py (build_world, 20 accounts x 150 tasks)."""
    world = build_world(WorldParams(seed=7, now=NOW, accounts=20, tasks=150))
    assert len(world.tasks) == 20 * 2 * 152


def test_export_by_account_sums_the_domains(sandbox: Sandbox) -> None:
    detail = sandbox.truth.tasks("demo-games", "detail")
    task_id = detail.loc[(detail["type"] == "flow") & (detail["domains"] == "all"), "task_id"].iloc[0]
    usage = sandbox.truth.usage(task_id)
    assert usage["domain"].isna().all()
    assert set(usage["region"]) == {"CN", "AP1", "EU", "NA"}
    task = next(t for t in sandbox.world.tasks if t.task_id == task_id)
    spec = sandbox.account_spec("demo-games")
    end = task.window_end + 1 if task.window_end % 60 == 59 else task.window_end
    starts = point_starts(task.window_start, end)
    expected = sum(
        point_values(7, spec.name, d, "EU", "traffic", starts, regions=spec.regions) for d in spec.domains
    )
    got = sort_tidy(usage[(usage["metric"] == "traffic") & (usage["region"] == "EU")])["value"].to_numpy()
    assert np.array_equal(got, np.asarray(expected, dtype=float))


def test_truth_refuses_unknown_ids_and_the_wrong_kind(sandbox: Sandbox) -> None:
    with pytest.raises(KeyError):
        sandbox.truth.usage("1")
    summary_id = sandbox.truth.tasks("demo-shop", "summary")["task_id"].iloc[0]
    with pytest.raises(ValueError, match="summary"):
        sandbox.truth.usage(summary_id)
    with pytest.raises(KeyError):
        sandbox.truth.tasks("demo-nobody")
    with pytest.raises(ValueError, match="kind"):
        sandbox.truth.tasks("demo-shop", "both")


def test_requests_are_recorded_without_secrets(sandbox: Sandbox, wire: Any) -> None:
    account = sandbox.accounts[1]
    wire.v2(account, "DescribeUserUsageDataExportTask", {"PageSize": 2}, where="body")
    record = sandbox.requests[-1]
    assert record["account"] == "demo-media" and record["action"] == "DescribeUserUsageDataExportTask"
    assert record["params"] == {"PageSize": "2"} and record["status"] == 200 and record["style"] == "v2"
    text = repr(sandbox.requests)
    assert account.access_key_secret not in text and account.security_token not in text
    assert account.access_key_id not in text
