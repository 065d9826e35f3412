"""``usagekit fetch`` run in-process against sandboxes: CSV and Parquet equal to the truth, clear errors."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from usagekit.cli import build_parser, main
from usagekit.cli.fetch_command import run
from usagekit.frames import sort_tidy, tidy_frame
from usagekit.sandbox import Sandbox
from usagekit.tidy import read_dataset

NOW = "2026-11-20T08:00:00Z"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache, and the sandbox seed and time that ``--sandbox`` starts with."""
    monkeypatch.setenv("USAGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", "3")
    monkeypatch.setenv("USAGEKIT_SANDBOX_NOW", NOW)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    return tmp_path


@pytest.fixture(scope="module")
def twin() -> Iterator[Sandbox]:
    """A sandbox equal to the one ``--sandbox`` starts (same seed and time: the same world)."""
    with Sandbox(seed=3, now=NOW, clock="frozen") as box:
        yield box


def _pick(box: Sandbox, count: int = 3) -> list[str]:
    tasks = pd.concat([box.truth.tasks(a.name, "detail") for a in box.accounts])
    done = tasks[tasks["status"] == "success"].sort_values("window_end")
    return done["task_id"].head(count).tolist()


def _fetch(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["fetch", *argv])
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overlaps are reported as a note, not a warning
        code = run(args, out, err)
    return code, out.getvalue(), err.getvalue()


def _truth(box: Sandbox, task_ids: list[str]) -> pd.DataFrame:
    frames = [box.truth.usage(t) for t in task_ids]
    return sort_tidy(tidy_frame(pd.concat(frames, ignore_index=True)).drop(columns="task_id"))


def test_fetch_to_csv_equals_the_truth(env: Path, twin: Sandbox) -> None:
    chosen = _pick(twin)
    argv = ["--sandbox", "--output", str(env / "usage.csv"), "--task-id", *chosen[:2], "--task-id", chosen[2]]
    code, out, err = _fetch(argv)
    assert code == 0 and out == ""
    assert f"from {len(chosen)} detail exports of 3 accounts" in err
    # the region code "NA" (North America) is text, not a missing value: read it as such
    written = pd.read_csv(env / "usage.csv", dtype=str, keep_default_na=False, na_values=[""])
    assert set(written["task_id"]) <= set(chosen)
    back = sort_tidy(tidy_frame(written).drop(columns="task_id"))
    expected = _truth(twin, chosen)
    pd.testing.assert_frame_equal(back, expected, check_categorical=False)  # the oldest ones do not overlap
    assert "Signature" not in (env / "usage.csv").read_text()


def test_fetch_to_parquet_and_to_stdout(env: Path, twin: Sandbox) -> None:
    chosen = _pick(twin, 1)
    code, _, err = _fetch(["--sandbox", "--task-id", chosen[0], "--output", str(env / "dataset")])
    assert code == 0 and "(parquet)" in err
    dataset = read_dataset(env / "dataset")
    pd.testing.assert_frame_equal(
        dataset.drop(columns="task_id"), _truth(twin, chosen), check_categorical=False
    )
    code, out, err = _fetch(["--sandbox", "--task-id", chosen[0], "--output", "-"])
    assert code == 0 and "written to stdout (csv)" in err
    assert len(pd.read_csv(io.StringIO(out))) == len(dataset)


def test_fetch_through_named_profiles(env: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", str(sandbox.seed))
    detail = sandbox.truth.tasks("demo-media", "detail")
    task_id = detail[detail["status"] == "success"]["task_id"].iloc[0]
    code, _, err = _fetch(["--profile", "demo-media", "--task-id", task_id, "--output", str(env / "m.csv")])
    assert code == 0 and "of 1 accounts" in err
    written = pd.read_csv(env / "m.csv", dtype=str)
    assert set(written["account"]) == {"demo-media"} and len(written) == len(sandbox.truth.usage(task_id))


def test_fetch_errors_are_one_clear_line(
    env: Path, twin: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "--sandbox", "--task-id", "nope", "--output", str(env / "x.csv")]) == 1
    assert "no detail export nope" in capsys.readouterr().err
    running = pd.concat([twin.truth.tasks(a.name, "detail") for a in twin.accounts])
    running_id = running[running["status"] == "created"]["task_id"].iloc[0]
    assert main(["fetch", "--sandbox", "--task-id", running_id, "--output", str(env / "x.csv")]) == 1
    assert f"{running_id} (created)" in capsys.readouterr().err
    assert not (env / "x.csv").exists()
