"""usage() over many exports, some of which fail: the others' work is kept (fetched, read, cached).

Through the sandbox over real sockets: the exports are listed, then some are deleted through the API
(as a colleague deleting them in the console would), and their presigned URLs are made to expire (the
sandbox clock moves past them), so every file needs a fresh URL and the deleted ones cannot get one.
``errors="raise"`` raises one ``ExportsFailedError`` naming each failed export, after every other one
is cached; ``errors="collect"`` returns what succeeded, the failures as plain text in ``attrs``. The
expected usage comes from the sandbox's truth for the exports that succeed (tests/_usage_truth.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from _usage_truth import answer, check_usage

from usagekit.errors import ArgumentError, ExportsFailedError, UsagekitWarning
from usagekit.filecache import cached_file
from usagekit.lifecycle import delete_export
from usagekit.listing import list_tasks
from usagekit.sandbox import Sandbox
from usagekit.tidy import usage


@pytest.fixture
def box(fresh_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return fresh_sandbox(accounts=2, tasks=4)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def exports_with_two_gone(box: Sandbox) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The successful detail exports, two of them (one per account) deleted after they were listed."""
    tasks = list_tasks(box.accounts, kind="detail", status="success", progress=False)
    accounts = {a.name: a for a in box.accounts}
    gone = [tasks[tasks["account"] == name].iloc[0] for name in accounts]
    for row in gone:
        delete_export(accounts[row["account"]], "detail", row["task_id"])
    box.advance(24 * 3600)  # past every URL's expiry: each file needs the task listed again
    gone_ids = [str(row["task_id"]) for row in gone]
    kept = [str(t) for t in tasks["task_id"] if str(t) not in gone_ids]
    assert len(kept) >= 2
    return tasks, gone_ids, kept


def downloads(box: Sandbox, since: int) -> list[str]:
    return [r["params"]["path"] for r in box.requests[since:] if r["action"] == "download"]


def test_raise_names_every_failed_export_once_the_others_are_cached(box: Sandbox, cache: Path) -> None:
    tasks, gone, kept = exports_with_two_gone(box)
    with pytest.raises(ExportsFailedError) as caught:
        usage(tasks, accounts=box.accounts, progress=False)
    error = caught.value
    assert sorted(f["task_id"] for f in error.failures) == sorted(gone)
    for task_id in gone:
        assert task_id in str(error)
    assert f"the other {len(kept)} are fetched and cached" in str(error)
    accounts = {a.name: a for a in box.accounts}
    for row in tasks.itertuples():
        held = cached_file(accounts[row.account], "detail", row.task_id, cache_dir=cache)
        assert (held is not None) == (row.task_id in kept), row.task_id
    assert len(list((cache / "parsed").glob("*.parquet"))) == len(kept)  # read, too

    before = len(box.requests)
    with pytest.warns(UsagekitWarning, match="2 of .* could not be fetched or read"):
        frame = usage(tasks, accounts=box.accounts, progress=False, errors="collect")
    assert downloads(box, before) == []  # the others' work was kept: nothing fetched again
    check_usage(frame, answer(box, kept))


def test_collect_returns_what_succeeded_with_the_failures_as_plain_text(box: Sandbox, cache: Path) -> None:
    tasks, gone, kept = exports_with_two_gone(box)
    with pytest.warns(UsagekitWarning, match=r"see frame.attrs\['errors'\]"):
        frame = usage(tasks, accounts=box.accounts, progress=False, errors="collect")
    check_usage(frame, answer(box, kept))
    assert set(frame["task_id"].unique()) <= set(kept)
    failures = frame.attrs["errors"]
    assert sorted(f["task_id"] for f in failures) == sorted(gone)
    assert json.loads(json.dumps(failures)) == failures  # plain JSON-able text, no error objects
    for failure in failures:
        assert set(failure) == {"account", "task_id", "error", "message"}
        assert all(isinstance(v, str) for v in failure.values())
        assert failure["error"] == "TaskStateError" and "not listed any more" in failure["message"]
        assert "http" not in failure["message"] and "Signature" not in failure["message"]


def test_collect_without_failures_has_an_empty_list_and_no_warning(box: Sandbox, cache: Path) -> None:
    tasks = list_tasks(box.accounts, kind="detail", status="success", progress=False)
    frame = usage(tasks.head(2), accounts=box.accounts, progress=False, errors="collect")
    assert frame.attrs["errors"] == []
    check_usage(frame, answer(box, [str(t) for t in tasks["task_id"].head(2)]))


@pytest.mark.parametrize("errors", ["ignore", "Raise", None, 1])
def test_a_bad_errors_value_is_an_argument_error_before_any_request(
    box: Sandbox, cache: Path, errors: object
) -> None:
    tasks = list_tasks(box.accounts, kind="detail", status="success", progress=False)
    box.advance(24 * 3600)  # expired URLs: any fetch would have to ask the service first
    before = len(box.requests)
    with pytest.raises(ArgumentError, match="errors must be 'raise' or 'collect'"):
        usage(tasks, accounts=box.accounts, progress=False, errors=errors)  # type: ignore[arg-type]
    assert box.requests[before:] == []
    assert not cache.exists()
