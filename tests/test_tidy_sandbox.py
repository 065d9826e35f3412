"""usage() through the sandbox over real sockets: equal to the truth per export, overlaps counted once, on\ndask worker processes too."""

from __future__ import annotations

import collections
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import distributed
import pandas as pd
import pytest
from _usage_truth import answer, check_usage

from usagekit.downloads import Job
from usagekit.listing import list_tasks
from usagekit.reconcile import OverlapWarning
from usagekit.sandbox import Sandbox
from usagekit.tidy import SkippedTasksWarning, read_export, usage


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


def test_usage_equals_the_truth_per_account_region_metric_and_interval(world: Sandbox, cache: Path) -> None:
    details = _successful_details(world)
    languages = collections.Counter(
        task.language for task in world.world.tasks if task.task_id in set(details["task_id"])
    )
    assert set(languages) == {"zh-cn", "en-us"}, languages  # Chinese and English workbooks both read
    scopes = world_scopes(world, details)
    # this world holds what the rule is about: exports by account and of some domains over the same time
    assert {"all", "some"} <= set(scopes.values())
    with pytest.warns(OverlapWarning) as caught:
        frame = usage(details, cache_dir=cache, progress=False)
    assert len(caught) == 1
    rules = {record["rule"] for record in frame.attrs["overlaps"]}
    assert {"newer export", "remainder"} <= rules  # both parts of the rule met in this world
    assert all(record.get("disagreeing") in (0, None) for record in frame.attrs["overlaps"])
    assert set(frame["account"].astype(str)) == {account.name for account in world.accounts}
    expected = answer(world, list(details["task_id"]))
    check_usage(frame, expected)
    remainder = frame[frame["domain"].isna()]
    assert {scopes[task_id] for task_id in remainder["task_id"]} == {"all"}


def world_scopes(box: Sandbox, details: pd.DataFrame) -> dict[str, str]:
    """task id -> "all" (an export by account) or "some" (of listed domains), from the sandbox's world."""
    wanted = set(details["task_id"])
    return {task.task_id: task.domains for task in box.world.tasks if task.task_id in wanted}


def test_usage_skips_summaries_and_names_the_unfinished_tasks_it_skips(world: Sandbox, cache: Path) -> None:
    tasks = list_tasks(world.accounts[:1], progress=False)
    statuses = tasks[tasks["kind"] == "detail"]["status"].astype(str).value_counts()
    assert statuses["created"] >= 1 and statuses["success"] >= 1  # what this seeded world holds
    one = tasks[(tasks["kind"] == "detail") & (tasks["status"] == "success")].head(1)
    waiting = tasks[(tasks["kind"] == "detail") & (tasks["status"] != "success")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summaries = usage(tasks[tasks["kind"] == "summary"].head(3), cache_dir=cache, progress=False)
    assert summaries.empty
    with pytest.warns(
        SkippedTasksWarning, match=f"{len(waiting)} detail export\\(s\\) not 'success'"
    ) as caught:
        frame = usage(pd.concat([one, waiting]), cache_dir=cache, progress=False)
    assert len(caught) == 1
    assert all(str(task_id) in str(caught[0].message) for task_id in waiting["task_id"].head(5))
    assert set(frame["task_id"]) == set(one["task_id"])
    with pytest.warns(SkippedTasksWarning, match="none of the .* is 'success', so the frame is empty"):
        nothing = usage(waiting, cache_dir=cache, progress=False)
    assert nothing.empty and list(nothing.columns) == list(frame.columns)


def test_the_per_file_job_pickles_without_its_url_in_view(world: Sandbox, cache: Path) -> None:
    account = world.accounts[0]
    job = Job(read_export, account, "1", "http://127.0.0.1:1/files/1.xlsx?Signature=abc", str(cache))
    again = pickle.loads(pickle.dumps(job))  # noqa: S301 - our own bytes
    assert again.function is read_export and again.args[0] == account
    assert "Signature" not in repr(job)


def test_usage_on_a_local_dask_cluster_of_worker_processes_equals_threads(
    world: Sandbox, cache: Path
) -> None:
    details = _successful_details(world)
    some = details[details["account"] == world.accounts[1].name].head(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        threads = usage(some, cache_dir=cache / "threads", progress=False)
        # real worker processes: every job (function, account, URL) crosses a pickle boundary
        with distributed.Client(
            processes=True, n_workers=1, threads_per_worker=2, dashboard_address=None
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
