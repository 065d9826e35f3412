"""The command line, tried as a careless user would: every wrong input is exit 2 before any work, no traceback.

Each test here is one of the cases issue 13 lists. The commands run against a tiny sandbox named by
``USAGEKIT_SANDBOX_ENDPOINT``, so the test sees every request the command made (``sandbox.requests``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from usagekit.cli import main
from usagekit.sandbox import Sandbox

SEED, NOW = 3, "2026-11-20T08:00:00Z"


@pytest.fixture(scope="module")
def tiny() -> Iterator[Sandbox]:
    with Sandbox(seed=SEED, now=NOW, clock="frozen", accounts=1, tasks=3) as box:
        yield box


@pytest.fixture
def env(tiny: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The tiny sandbox for --sandbox and for discovery; the current folder a fresh one."""
    monkeypatch.setenv("USAGEKIT_SANDBOX", "1")
    monkeypatch.setenv("USAGEKIT_SANDBOX_ENDPOINT", tiny.endpoint)
    monkeypatch.setenv("USAGEKIT_SANDBOX_SEED", str(SEED))
    monkeypatch.setenv("USAGEKIT_SANDBOX_ACCOUNTS", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(tiny: Sandbox, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, int]:
    """Exit code, stderr and how many requests the sandbox answered during the command."""
    before = len(tiny.requests)
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err, len(tiny.requests) - before


@pytest.mark.parametrize(
    "argv",
    [
        ["tasks", "--sandbox", "--since", "yesterday"],
        ["tasks", "--sandbox", "--since", "2026-13-01"],
        ["tasks", "--sandbox", "--until", "soon"],
        ["fetch", "--sandbox", "--since", "last week", "--output", "x.csv"],
        ["demo", "--now", "2026-02-30"],
        ["tasks", "--sandbox", "--since", "01-10-2026"],  # was read as 2026-01-10
        ["tasks", "--sandbox", "--since", "Nov 2026"],
        ["tasks", "--sandbox", "--until", "2026/09"],
    ],
)
def test_a_time_that_is_not_one_names_the_flag_the_value_and_an_example(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, err, requests = run(tiny, capsys, *argv)
    assert code == 2 and requests == 0
    flag = next(arg for arg in argv if arg in ("--now", "--since", "--until"))
    assert flag in err and repr(argv[argv.index(flag) + 1]) in err
    assert "2026-10-01T00:00:00+08:00" in err and "2026-09-30T16:00:00Z" in err  # the accepted forms
    assert not list(env.iterdir())  # nothing written


def test_a_time_without_zone_is_refused_showing_both_readings(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, requests = run(tiny, capsys, "tasks", "--sandbox", "--since", "2026-11-01T08:00")
    assert code == 2 and requests == 0
    assert "2026-11-01T08:00:00Z for UTC" in err and "2026-11-01T08:00:00+08:00 for Beijing" in err


def test_tasks_output_paths_are_checked_before_listing(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / "folder").mkdir()
    for output, said in [
        ("/nonexistent/dir/x.csv", "does not exist"),
        (str(env / "folder"), "is a folder"),
        ("", "is empty"),
    ]:
        code, err, requests = run(tiny, capsys, "tasks", "--sandbox", "--output", output)
        assert (code, requests) == (2, 0), output
        assert said in err


def test_fetch_checks_its_output_before_fetching_anything(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = env / "hostname"
    a_file.write_text("not a folder\n")
    cases = [
        (["--output", "/nonexistent/dir/x.csv"], "does not exist"),
        (["--format", "parquet", "--output", str(a_file)], "is a file"),
        (["--format", "parquet", "--output", "-"], "not stdout"),
        (["--output", ""], "is empty"),
    ]
    for extra, said in cases:
        code, err, requests = run(tiny, capsys, "fetch", "--sandbox", *extra)
        assert (code, requests) == (2, 0), extra
        assert said in err
    assert sorted(p.name for p in env.iterdir()) == ["hostname"]  # '' did not write into the current folder
    assert a_file.read_text() == "not a folder\n"


def test_a_dataset_folder_holding_partitions_needs_overwrite(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    held = env / "usage" / "account=demo-shop" / "month=2026-10"
    held.mkdir(parents=True)
    (held / "part-0.parquet").write_bytes(b"PAR1 kept")
    code, err, requests = run(tiny, capsys, "fetch", "--sandbox", "--output", str(env / "usage"))
    assert (code, requests) == (2, 0)
    assert "--overwrite" in err and "account=demo-shop" in err
    assert (held / "part-0.parquet").read_bytes() == b"PAR1 kept"
    code, err, requests = run(
        tiny, capsys, "fetch", "--sandbox", "--output", str(env / "usage"), "--overwrite"
    )
    assert code == 0 and requests > 0


@pytest.mark.parametrize("command", ["fetch", "demo"])
def test_a_cache_dir_that_is_a_file_is_refused_before_any_work(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    a_file = env / "hostname"
    a_file.write_text("x")
    extra = ["--sandbox", "--output", "x.csv"] if command == "fetch" else ["--output", "out"]
    code, err, requests = run(tiny, capsys, command, *extra, "--cache-dir", str(a_file))
    assert (code, requests) == (2, 0)
    assert "--cache-dir" in err and "is a file" in err
    assert "more of the" not in err  # not one failure per job
    assert sorted(p.name for p in env.iterdir()) == ["hostname"]


def test_statuses_and_task_ids_are_checked(
    env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, requests = run(tiny, capsys, "tasks", "--sandbox", "--status", "bogus")
    assert (code, requests) == (2, 0)
    assert "'bogus'" in err and "success" in err and "failed" in err
    code, err, requests = run(tiny, capsys, "fetch", "--sandbox", "--task-id", "", "--output", "x.csv")
    assert (code, requests) == (2, 0)
    assert "--task-id" in err and "empty" in err


def test_a_bug_is_one_line_and_debug_shows_the_traceback(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from usagekit.cli import tasks_command

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug of ours, https://b.example/x.xlsx?Signature=TOPSECRETSIG&Expires=1")

    monkeypatch.setattr(tasks_command, "_write", broken)
    assert main(["tasks", "--sandbox", "--format", "csv"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err and "--debug" in err
    assert "Traceback" not in err and "TOPSECRETSIG" not in err
    assert main(["tasks", "--sandbox", "--format", "csv", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_2_and_help_exits_0(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--kind", "nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert main(["sandbox", "--accounts", "0"]) == 2
    assert main(["sandbox", "--throttle", "nan"]) == 2
    assert main(["sandbox", "--now", "soon"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert os.environ["USAGEKIT_SANDBOX_ACCOUNTS"] == "1"


def test_since_must_come_before_until(env: Path, tiny: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["tasks"], ["fetch", "--output", "x.csv"]):
        argv = [*command, "--sandbox", "--since", "2026-11-05", "--until", "2026-11-01"]
        code, err, requests = run(tiny, capsys, *argv)
        assert (code, requests) == (2, 0) and "must come before --until" in err
