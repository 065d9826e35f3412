"""usage() through the sandbox over real sockets: equal to the truth, overlaps counted once, on dask too."""

from __future__ import annotations

import collections
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from usagekit.downloads import Job
from usagekit.frames import BEIJING, concat_frames
from usagekit.listing import list_tasks
from usagekit.reconcile import OverlapWarning
from usagekit.sandbox import Sandbox
from usagekit.tidy import read_export, usage

KEY = ["account", "domain", "region", "metric", "start"]


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    """A small world whose detail exports cover both languages and both overlap rules (checked below)."""
    with Sandbox(seed=7, now="2026-11-20T08:00:00Z", clock="frozen", tasks=20, window_days=(1, 5)) as box:
        yield box


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path))  # the readers' parsed-file cache too
    return tmp_path


def _successful_details(box: Sandbox) -> pd.DataFrame:
    tasks = list_tasks(box.accounts, progress=False)
    return tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")].reset_index(drop=True)


def _expected(box: Sandbox, details: pd.DataFrame) -> pd.DataFrame:
    """The truth, reconciled independently: each key once, by-account rows only where no domain has rows."""
    truth = concat_frames([box.truth.usage(task_id) for task_id in details["task_id"]])
    plain = truth.astype({c: "object" for c in ["account", "domain", "region", "metric"]})
    plain = plain.fillna({"domain": "", "region": ""})
    spread = plain.groupby(KEY)["value"].nunique()
    assert (spread == 1).all()  # the sandbox's exports agree where they overlap
    once = plain.drop_duplicates(KEY)
    with_domain = once[once["domain"] != ""][["account", "metric", "start"]].drop_duplicates()
    marked = once.merge(with_domain.assign(shadowed=True), on=["account", "metric", "start"], how="left")
    return marked[~((marked["domain"] == "") & marked["shadowed"].eq(True))].drop(columns="shadowed")


def _daily(frame: pd.DataFrame) -> dict[tuple[str, str, str, object], float]:
    plain = frame.astype({c: "object" for c in ["account", "domain", "metric"]}).fillna({"domain": ""})
    day = plain["start"].dt.tz_convert(BEIJING).dt.date
    totals = plain.assign(day=day).groupby(["account", "domain", "metric", "day"])["value"].sum()
    return {key: float(value) for key, value in totals.items()}


def test_usage_equals_the_truth_per_domain_metric_and_beijing_day(world: Sandbox, cache: Path) -> None:
    details = _successful_details(world)
    languages = collections.Counter(
        task.language for task in world.world.tasks if task.task_id in set(details["task_id"])
    )
    assert set(languages) == {"zh-cn", "en-us"}, languages  # Chinese and English workbooks both read
    with pytest.warns(OverlapWarning) as caught:
        frame = usage(details, cache_dir=cache, progress=False)
    assert len(caught) == 1
    rules = {record["rule"] for record in frame.attrs["overlaps"]}
    assert rules == {"newer export", "per-domain rows"}  # both overlap rules met in this world
    assert all(record["disagreeing"] in (0, None) for record in frame.attrs["overlaps"])
    assert set(frame["account"].astype(str)) == {account.name for account in world.accounts}
    assert not frame.duplicated(KEY).any()
    expected = _expected(world, details)
    assert len(frame) == len(expected)
    assert _daily(frame) == _daily(expected)
    assert frame["value"].sum() == expected["value"].sum()


def test_usage_skips_summaries_and_unfinished_tasks(world: Sandbox, cache: Path) -> None:
    tasks = list_tasks(world.accounts[:1], progress=False)
    assert {"summary", "detail"} <= set(tasks["kind"]) and "created" in set(tasks["status"])
    one = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")].head(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mixed = usage(tasks[tasks["kind"] == "summary"].head(3), cache_dir=cache, progress=False)
        frame = usage(pd.concat([one, tasks[tasks["status"] != "success"]]), cache_dir=cache, progress=False)
    assert mixed.empty
    assert set(frame["task_id"]) == set(one["task_id"])


def test_the_per_file_job_pickles_without_its_url_in_view(world: Sandbox, cache: Path) -> None:
    account = world.accounts[0]
    job = Job(read_export, account, "1", "http://127.0.0.1:1/files/1.xlsx?Signature=abc", str(cache))
    again = pickle.loads(pickle.dumps(job))  # noqa: S301 - our own bytes
    assert again.function is read_export and again.args[0] == account
    assert "Signature" not in repr(job)


def test_usage_on_a_local_dask_cluster_equals_threads(world: Sandbox, cache: Path) -> None:
    distributed = pytest.importorskip("distributed")
    details = _successful_details(world)
    some = details[details["account"] == world.accounts[1].name].head(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        threads = usage(some, cache_dir=cache / "threads", progress=False)
        with distributed.Client(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as client:
            on_dask = usage(some, cache_dir=cache / "dask", executor=client.get_executor(), progress=False)
    pd.testing.assert_frame_equal(on_dask, threads)
    assert len(list((cache / "dask" / "files").rglob("*.xlsx"))) == len(some)


def test_usage_keeps_parsed_frames_in_the_cache_dir_it_was_given(
    world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # customer data stays where the caller said: never in $USAGEKIT_CACHE_DIR or the user's home cache
    from usagekit.readers import clear_cache

    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "elsewhere"))
    clear_cache()
    some = _successful_details(world).head(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        usage(some, cache_dir=tmp_path / "chosen", progress=False)
    assert len(list((tmp_path / "chosen" / "parsed").glob("*.parquet"))) == len(some)
    assert not (tmp_path / "elsewhere").exists()
